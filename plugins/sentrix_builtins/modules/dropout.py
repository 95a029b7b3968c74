"""Dropout: randomly zeroes parts of the sentence embedding while training (a regulariser).

=====================  ==========================================================
reads / writes         ``sentence_embedding``
saved files            ``config.json``
=====================  ==========================================================

Has no effect at inference time (``model.eval()``, as ``encode`` does).

Example::

    from sentrix.models import Dropout
    dropout = Dropout(dropout=0.1)

Reference: sentence-transformers ``Dropout``; Srivastava et al., 2014.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sentrix.plugin_api import Module


class Dropout(Module):
    """Applies ``nn.Dropout(dropout)`` to ``features["sentence_embedding"]`` while training.

    In evaluation mode (``model.eval()``, and so in ``encode``) it does nothing. It has no weights;
    its config holds the probability.

    Args:
        dropout: probability of zeroing each value (default 0.2).

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            base = SentenceTransformer("all-MiniLM-L6-v2")
            model = SentenceTransformer(modules=[*base, modules.create("dropout", dropout=0.1)])
    """

    config_keys = ["dropout"]
    module_type = "sentence_transformers.sentence_transformer.modules.dropout.Dropout"
    rows_independent = True

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.dropout = dropout
        self.dropout_layer = nn.Dropout(dropout)

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        features["sentence_embedding"] = self.dropout_layer(features["sentence_embedding"])
        return features

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
