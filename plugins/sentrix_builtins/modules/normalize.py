"""Normalize: scales embeddings to unit length (L2), so dot product equals cosine similarity.

=====================  ==========================================================
reads / writes         ``module_input_name`` / ``module_output_name``
                       (default ``sentence_embedding``)
saved files            ``config.json`` (the folder may be absent: it has no weights)
=====================  ==========================================================

Example::

    from sentrix import SentenceTransformer
    from sentrix.models import Transformer, Pooling, Normalize
    word = Transformer("sentence-transformers/all-MiniLM-L6-v2")
    model = SentenceTransformer(modules=[word, Pooling(384), Normalize()])

Reference: sentence-transformers ``Normalize`` module.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from sentrix.plugin_api import Module


class Normalize(Module):
    """L2-normalises ``features[module_input_name]`` (default ``sentence_embedding``) to unit length.

    After it, dot product equals cosine similarity, so a model ending in ``Normalize`` can be served
    with the cheaper dot product. It has no weights.

    Args:
        module_input_name: features key to normalise (default ``"sentence_embedding"``).
        module_output_name: features key to write (default ``None``: the input key).

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            base = SentenceTransformer("all-MiniLM-L6-v2")
            model = SentenceTransformer(modules=[*base, modules.create("normalize")])
    """

    config_keys = ["module_input_name", "module_output_name"]
    module_type = "sentence_transformers.base.modules.normalize.Normalize"
    rows_independent = True

    def __init__(self, module_input_name: str = "sentence_embedding", module_output_name: str | None = None) -> None:
        super().__init__()
        self.module_input_name = module_input_name
        self.module_output_name = module_output_name or module_input_name

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        value = features.get(self.module_input_name)
        if value is not None:
            features[self.module_output_name] = F.normalize(value, p=2, dim=-1)
        return features

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str = "", subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> Normalize:
        if not model_name_or_path:
            return cls()
        config = cls.load_config(model_name_or_path, subfolder, None, token, cache_folder, revision, local_files_only)
        return cls(**{key: value for key, value in config.items() if key in cls.config_keys})
