"""LSTM: a (bidirectional) LSTM over the token embeddings.

=====================  ==========================================================
reads                  ``token_embeddings``, ``sentence_lengths``
writes                 ``token_embeddings`` (size ``hidden_dim``, doubled if bidirectional)
saved files            ``lstm_config.json``, ``model.safetensors`` (``encoder.*``)
=====================  ==========================================================

Sits between ``WordEmbeddings`` and ``Pooling``. Sequences are packed by their real length, so
padding never enters the recurrence.

Example::

    from sentrix.models import LSTM
    lstm = LSTM(embedding_dimension=300, hidden_dim=256)

Reference: sentence-transformers ``LSTM``; Hochreiter & Schmidhuber, "Long Short-Term Memory" (1997).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from sentrix.plugin_api import InvalidInputError, InvalidParameterError, Module


class LSTM(Module):
    """Runs an LSTM over each text's token embeddings and writes its per-token outputs.

    Reads ``token_embeddings`` and ``sentence_lengths`` (written by ``WordEmbeddings``), packs the
    sequences by length (an empty text counts as length 1), and replaces ``token_embeddings`` with
    the LSTM outputs, zero beyond each text's length. Saved in the sentence-transformers ``LSTM``
    layout.

    Args:
        embedding_dimension: size of the incoming token embeddings (``word_embedding_dimension``
            also accepted).
        hidden_dim: LSTM hidden size per direction.
        num_layers: stacked LSTM layers (default ``1``).
        dropout: dropout between stacked layers (default ``0``).
        bidirectional: run both directions and concatenate them (default ``True``).

    Example:
        .. code-block:: python

            import numpy as np
            from sentrix import SentenceTransformer
            from sentrix.models import LSTM, Pooling, WhitespaceTokenizer, WordEmbeddings

            words = WordEmbeddings(WhitespaceTokenizer(["PADDING_TOKEN", "cat", "sat"]), np.random.rand(3, 8))
            lstm = LSTM(8, hidden_dim=4)
            model = SentenceTransformer(modules=[words, lstm, Pooling(lstm.get_embedding_dimension())])
    """

    config_file_name = "lstm_config.json"
    config_keys = ["embedding_dimension", "hidden_dim", "num_layers", "dropout", "bidirectional"]
    config_key_renames = {"word_embedding_dimension": "embedding_dimension"}
    module_type = "sentence_transformers.sentence_transformer.modules.lstm.LSTM"
    rows_independent = False  # not shown exact for merged, trimmed batches

    def __init__(self, embedding_dimension: int | None = None, hidden_dim: int | None = None, num_layers: int = 1,
                 dropout: float = 0, bidirectional: bool = True, **legacy: Any) -> None:
        super().__init__()
        if "word_embedding_dimension" in legacy:
            warnings.warn("LSTM: 'word_embedding_dimension' is renamed 'embedding_dimension'.",
                          DeprecationWarning, stacklevel=2)
            embedding_dimension = legacy.pop("word_embedding_dimension")
        if legacy:
            raise TypeError(f"LSTM got unexpected arguments: {sorted(legacy)}")
        for name, value in (("embedding_dimension", embedding_dimension), ("hidden_dim", hidden_dim)):
            if not isinstance(value, int) or value < 1:
                raise InvalidParameterError(
                    f"LSTM: {name}={value!r}; expected a positive integer. Fix: e.g. "
                    "LSTM(embedding_dimension=word_embeddings.get_embedding_dimension(), hidden_dim=256)."
                )
        self.embedding_dimension = embedding_dimension
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.embeddings_dimension = hidden_dim * (2 if bidirectional else 1)
        self.encoder = nn.LSTM(embedding_dimension, hidden_dim, num_layers=num_layers, dropout=dropout,
                               bidirectional=bidirectional, batch_first=True)

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        if "sentence_lengths" not in features:
            raise InvalidInputError(
                "LSTM needs features['sentence_lengths'] (the number of real tokens per text), which WordEmbeddings "
                "writes. Fix: put LSTM after a WordEmbeddings module."
            )
        lengths = torch.clamp(features["sentence_lengths"], min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(features["token_embeddings"], lengths, batch_first=True,
                                                   enforce_sorted=False)
        output, _ = self.encoder(packed)
        features["token_embeddings"] = nn.utils.rnn.pad_packed_sequence(output, batch_first=True)[0]
        return features

    def get_embedding_dimension(self) -> int:
        return self.embeddings_dimension

    get_word_embedding_dimension = get_embedding_dimension

    @classmethod
    def contract_example(cls) -> LSTM:
        """A small instance for the module contract tests."""
        return cls(4, hidden_dim=3)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
        device = next(self.parameters()).device
        self.cpu()  # safetensors needs the (flattened) LSTM weights on the CPU
        try:
            self.save_torch_weights(output_path, safe_serialization=safe_serialization)
        finally:
            self.to(device)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> LSTM:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        module = cls(**cls.load_config(model_name_or_path, **hub))
        allow_pickle = (kwargs.get("model_kwargs") or {}).get("use_safetensors") is False
        return cls.load_torch_weights(model_name_or_path, model=module, allow_pickle=allow_pickle, **hub)
