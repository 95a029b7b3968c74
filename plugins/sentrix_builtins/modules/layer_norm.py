"""LayerNorm: layer normalisation of the sentence embedding (learned scale and shift).

=====================  ==========================================================
reads / writes         ``sentence_embedding``
saved files            ``config.json``, ``model.safetensors``
=====================  ==========================================================

Example::

    from sentrix.models import LayerNorm
    norm = LayerNorm(dimension=384)

Reference: sentence-transformers ``LayerNorm``; Ba et al., 2016, https://arxiv.org/abs/1607.06450.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sentrix.plugin_api import Module


class LayerNorm(Module):
    """Applies a learned ``nn.LayerNorm(dimension)`` to ``features["sentence_embedding"]``.

    Normalises each sentence embedding to zero mean and unit variance, then scales and shifts it with
    learned weights, which are saved with the model.

    Args:
        dimension: size of the sentence embedding.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            base = SentenceTransformer("all-MiniLM-L6-v2")
            model = SentenceTransformer(modules=[*base, modules.create("layer_norm", dimension=384)])
    """

    config_keys = ["dimension"]
    module_type = "sentence_transformers.sentence_transformer.modules.layer_norm.LayerNorm"
    rows_independent = True

    def __init__(self, dimension: int) -> None:
        super().__init__()
        self.dimension = dimension
        self.norm = nn.LayerNorm(dimension)

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        features["sentence_embedding"] = self.norm(features["sentence_embedding"])
        return features

    def get_embedding_dimension(self) -> int:
        return self.dimension

    @classmethod
    def contract_example(cls) -> LayerNorm:
        """A small instance for the module contract tests."""
        return cls(8)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> LayerNorm:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        model = cls(**cls.load_config(model_name_or_path, **hub))
        allow_pickle = (kwargs.get("model_kwargs") or {}).get("use_safetensors") is False
        return cls.load_torch_weights(model_name_or_path, model=model, allow_pickle=allow_pickle, **hub)
