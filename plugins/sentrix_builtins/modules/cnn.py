"""CNN: 1-D convolutions over the token embeddings, one per kernel size, concatenated.

=====================  ==========================================================
reads                  ``token_embeddings``
writes                 ``token_embeddings`` (size ``out_channels * len(kernel_sizes)``)
saved files            ``cnn_config.json``, ``model.safetensors`` (``convs.<i>.*``)
=====================  ==========================================================

Sits between ``WordEmbeddings`` and ``Pooling``. Odd kernel sizes with stride 1 keep the
sequence length ("same" padding), so the attention mask still lines up for pooling.

Example::

    from sentrix.models import CNN
    cnn = CNN(in_embedding_dimension=300, out_channels=128, kernel_sizes=[1, 3, 5])

Reference: sentence-transformers ``CNN``; Kim, "Convolutional Neural Networks for Sentence
Classification" (2014).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from sentrix.plugin_api import InvalidParameterError, Module


class CNN(Module):
    """Convolutions with several kernel sizes over the token embeddings; outputs concatenated per token.

    Each kernel size ``k`` gets a ``Conv1d(in_embedding_dimension, out_channels, k)`` with
    ``(k - 1) // 2`` zero padding on each side; their outputs are concatenated along the feature
    axis, replacing ``token_embeddings``. Padding tokens take part in the convolution (as in
    sentence-transformers), so the vectors next to a text's end see index 0's embedding.
    Saved in the sentence-transformers ``CNN`` layout.

    Args:
        in_embedding_dimension: size of the incoming token embeddings (``in_word_embedding_dimension``
            also accepted).
        out_channels: output channels per kernel size (default ``256``).
        kernel_sizes: one convolution per size (default ``[1, 3, 5]``); odd sizes keep the length.
        stride_sizes: stride per kernel (default ``None``: 1 for every kernel).

    Example:
        .. code-block:: python

            import numpy as np
            from sentrix import SentenceTransformer
            from sentrix.models import CNN, Pooling, WhitespaceTokenizer, WordEmbeddings

            words = WordEmbeddings(WhitespaceTokenizer(["PADDING_TOKEN", "cat", "sat"]), np.random.rand(3, 8))
            cnn = CNN(8, out_channels=4, kernel_sizes=[1, 3])
            model = SentenceTransformer(modules=[words, cnn, Pooling(cnn.get_embedding_dimension())])
    """

    config_file_name = "cnn_config.json"
    config_keys = ["in_embedding_dimension", "out_channels", "kernel_sizes", "stride_sizes"]
    config_key_renames = {"in_word_embedding_dimension": "in_embedding_dimension"}
    module_type = "sentence_transformers.sentence_transformer.modules.cnn.CNN"
    rows_independent = False  # the convolution reads neighbouring positions, padding included

    def __init__(self, in_embedding_dimension: int | None = None, out_channels: int = 256,
                 kernel_sizes: list[int] | None = None, stride_sizes: list[int] | None = None, **legacy: Any) -> None:
        super().__init__()
        if "in_word_embedding_dimension" in legacy:
            warnings.warn("CNN: 'in_word_embedding_dimension' is renamed 'in_embedding_dimension'.",
                          DeprecationWarning, stacklevel=2)
            in_embedding_dimension = legacy.pop("in_word_embedding_dimension")
        if legacy:
            raise TypeError(f"CNN got unexpected arguments: {sorted(legacy)}")
        kernel_sizes = [1, 3, 5] if kernel_sizes is None else list(kernel_sizes)
        stride_sizes = [1] * len(kernel_sizes) if stride_sizes is None else list(stride_sizes)
        if not isinstance(in_embedding_dimension, int) or in_embedding_dimension < 1:
            raise InvalidParameterError(
                f"CNN: in_embedding_dimension={in_embedding_dimension!r}; expected a positive integer, the size of "
                "the token embeddings. Fix: pass word_embeddings.get_embedding_dimension()."
            )
        if not kernel_sizes or len(stride_sizes) != len(kernel_sizes):
            raise InvalidParameterError(
                f"CNN: kernel_sizes={kernel_sizes!r}, stride_sizes={stride_sizes!r}; expected at least one kernel and "
                "one stride per kernel. Fix: give equal-length lists, or leave stride_sizes=None."
            )
        self.in_embedding_dimension = in_embedding_dimension
        self.out_channels = out_channels
        self.kernel_sizes = kernel_sizes
        self.stride_sizes = stride_sizes
        self.embeddings_dimension = out_channels * len(kernel_sizes)
        self.convs = nn.ModuleList(
            nn.Conv1d(in_embedding_dimension, out_channels, kernel_size=kernel, stride=stride,
                      padding=int((kernel - 1) / 2))
            for kernel, stride in zip(kernel_sizes, stride_sizes)
        )

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        channels_first = features["token_embeddings"].transpose(1, -1)
        outputs = [conv(channels_first) for conv in self.convs]
        if len({output.shape[-1] for output in outputs}) > 1:
            raise InvalidParameterError(
                f"CNN: kernel_sizes={self.kernel_sizes} with stride_sizes={self.stride_sizes} give outputs of different "
                f"lengths ({[output.shape[-1] for output in outputs]}), which cannot be concatenated. Fix: use odd "
                "kernel sizes with stride 1 (they keep the sequence length)."
            )
        out = torch.cat(outputs, dim=1)
        features["token_embeddings"] = out.transpose(1, -1)
        return features

    def get_embedding_dimension(self) -> int:
        return self.embeddings_dimension

    get_word_embedding_dimension = get_embedding_dimension

    @classmethod
    def contract_example(cls) -> CNN:
        """A small instance for the module contract tests."""
        return cls(4, out_channels=3, kernel_sizes=[1, 3])

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> CNN:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        module = cls(**cls.load_config(model_name_or_path, **hub))
        allow_pickle = (kwargs.get("model_kwargs") or {}).get("use_safetensors") is False
        return cls.load_torch_weights(model_name_or_path, model=module, allow_pickle=allow_pickle, **hub)
