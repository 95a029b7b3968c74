"""WeightedLayerPooling: token embeddings as a learned weighted mean of a transformer's layers.

=====================  ==========================================================
reads                  ``all_layer_embeddings`` (hidden states of every layer)
writes                 ``token_embeddings``
saved files            ``config.json``, ``model.safetensors`` (``layer_weights``)
=====================  ==========================================================

Sits between a ``Transformer`` loaded with ``output_hidden_states=True`` and ``Pooling``. Without
``all_layer_embeddings`` in the features it passes them through unchanged.

Example::

    from sentrix.models import Transformer, WeightedLayerPooling
    transformer = Transformer("bert-base-uncased", config_args={"output_hidden_states": True})
    layers = WeightedLayerPooling(768, num_hidden_layers=12, layer_start=4)

Reference: sentence-transformers ``WeightedLayerPooling``.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from sentrix.plugin_api import InvalidParameterError, Module


class WeightedLayerPooling(Module):
    """Replaces the token embeddings with a trainable weighted mean of the hidden layers.

    Of the ``num_hidden_layers + 1`` hidden states (embedding output first), those from index
    ``layer_start`` on are averaged with the weights ``layer_weights`` (one per layer, initialised
    to 1, trained with the model), normalised by their sum. Saved in the sentence-transformers
    ``WeightedLayerPooling`` layout.

    Args:
        embedding_dimension: size of the token embeddings (``word_embedding_dimension`` also accepted).
        num_hidden_layers: transformer layers, not counting the embedding output (default ``12``).
        layer_start: first hidden state included (default ``4``).
        layer_weights: initial weights, ``num_hidden_layers + 1 - layer_start`` of them (default
            ``None``: all 1).

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            transformer = modules.create("transformer", model_name_or_path="sentence-transformers/all-MiniLM-L6-v2",
                                         config_args={"output_hidden_states": True})
            layers = modules.create("weighted_layer_pooling", embedding_dimension=384, num_hidden_layers=6,
                                    layer_start=3)
            pooling = modules.create("pooling", embedding_dimension=384)
            model = SentenceTransformer(modules=[transformer, layers, pooling])
    """

    config_keys = ["embedding_dimension", "layer_start", "num_hidden_layers"]
    config_key_renames = {"word_embedding_dimension": "embedding_dimension"}
    module_type = "sentence_transformers.sentence_transformer.modules.weighted_layer_pooling.WeightedLayerPooling"
    rows_independent = True

    def __init__(self, embedding_dimension: int | None = None, num_hidden_layers: int = 12, layer_start: int = 4,
                 layer_weights: Any = None, **legacy: Any) -> None:
        super().__init__()
        if "word_embedding_dimension" in legacy:
            warnings.warn("WeightedLayerPooling: 'word_embedding_dimension' is renamed 'embedding_dimension'.",
                          DeprecationWarning, stacklevel=2)
            embedding_dimension = legacy.pop("word_embedding_dimension")
        if legacy:
            raise TypeError(f"WeightedLayerPooling got unexpected arguments: {sorted(legacy)}")
        if embedding_dimension is None:
            raise InvalidParameterError(
                "WeightedLayerPooling needs embedding_dimension (the size of the token embeddings). "
                "Fix: pass transformer.get_embedding_dimension()."
            )
        count = num_hidden_layers + 1 - layer_start
        if count < 1:
            raise InvalidParameterError(
                f"WeightedLayerPooling: layer_start={layer_start} leaves no layer of num_hidden_layers="
                f"{num_hidden_layers} (+1 embedding output). Fix: use 0 <= layer_start <= num_hidden_layers."
            )
        self.embedding_dimension = embedding_dimension
        self.layer_start = layer_start
        self.num_hidden_layers = num_hidden_layers
        if layer_weights is None:
            layer_weights = nn.Parameter(torch.ones(count, dtype=torch.float))
        elif not isinstance(layer_weights, nn.Parameter):
            layer_weights = nn.Parameter(torch.as_tensor(layer_weights, dtype=torch.float))
        self.layer_weights = layer_weights

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        layers = features.get("all_layer_embeddings")
        if layers is None:
            return features
        stacked = torch.stack(list(layers))[self.layer_start:]
        weights = self.layer_weights.view(-1, 1, 1, 1)
        features["token_embeddings"] = (weights * stacked).sum(dim=0) / self.layer_weights.sum()
        return features

    def get_embedding_dimension(self) -> int:
        return self.embedding_dimension

    get_word_embedding_dimension = get_embedding_dimension

    @classmethod
    def contract_example(cls) -> WeightedLayerPooling:
        """A small instance for the module contract tests."""
        return cls(4, num_hidden_layers=3, layer_start=1, layer_weights=[1.0, 2.0, 0.5])

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> WeightedLayerPooling:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        module = cls(**cls.load_config(model_name_or_path, **hub))
        allow_pickle = (kwargs.get("model_kwargs") or {}).get("use_safetensors") is False
        return cls.load_torch_weights(model_name_or_path, model=module, allow_pickle=allow_pickle, **hub)
