"""StaticEmbedding: a bag of learned token vectors; the sentence vector is their mean.

No attention, no context: hundreds of times faster than a Transformer on CPU, at some cost in
quality. It is its own first module (it tokenizes) and directly writes the sentence embedding.

=====================  ==========================================================
reads                  ``input_ids`` (flat), ``offsets`` (one start per text)
writes                 ``sentence_embedding``
saved files            ``model.safetensors`` (``embedding.weight``), ``tokenizer.json``
=====================  ==========================================================

Example::

    from tokenizers import Tokenizer
    from sentrix import SentenceTransformer
    from sentrix.models import StaticEmbedding

    tokenizer = Tokenizer.from_pretrained("bert-base-uncased")
    model = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=256)])

Reference: sentence-transformers ``StaticEmbedding``; model2vec (Tulkens & van Dongen, 2024).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from sentrix.plugin_api import InputModule, load_weights_file, resolve_dir


class StaticEmbedding(InputModule):
    """Mean of per-token embeddings (``nn.EmbeddingBag``).

    Tokenises with a fast tokenizer and averages one learned vector per token: no attention, so it is
    much faster than a transformer, at lower quality. It is an input module (it
    tokenises) and saves its tokenizer and weights in the sentence-transformers layout.

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` or a fast ``transformers`` tokenizer.
        embedding_weights: initial vectors (vocab x dim), numpy or torch; default ``None``.
        embedding_dim: size of randomly initialised vectors, when no weights are given.

    Example:
        .. code-block:: python

            from tokenizers import Tokenizer
            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            tokenizer = Tokenizer.from_pretrained("bert-base-uncased")
            static = modules.create("static_embedding", tokenizer=tokenizer, embedding_dim=256)
            model = SentenceTransformer(modules=[static])
    """

    module_type = "sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding"

    def __init__(self, tokenizer: Any, embedding_weights: Any = None, embedding_dim: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        from tokenizers import Tokenizer

        if hasattr(tokenizer, "backend_tokenizer"):  # a private copy: its padding state is not shared
            tokenizer = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        if not isinstance(tokenizer, Tokenizer):
            raise ValueError("StaticEmbedding needs a fast tokenizer (tokenizers.Tokenizer or a *TokenizerFast).")
        if embedding_weights is not None:
            weights = torch.as_tensor(np.asarray(embedding_weights) if not torch.is_tensor(embedding_weights)
                                      else embedding_weights)
            self.embedding = nn.EmbeddingBag.from_pretrained(weights, freeze=False)
        elif embedding_dim is not None:
            self.embedding = nn.EmbeddingBag(tokenizer.get_vocab_size(), embedding_dim)
        else:
            raise ValueError("StaticEmbedding needs embedding_weights or embedding_dim.")
        self.num_embeddings = self.embedding.num_embeddings
        self.embedding_dim = self.embedding.embedding_dim
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.base_model = kwargs.get("base_model")

    def preprocess(self, inputs: list, prompt: str | None = None, **kwargs) -> dict[str, torch.Tensor]:
        if prompt:
            inputs = self._prepend_prompt(inputs, prompt)
        ids = [encoding.ids for encoding in self.tokenizer.encode_batch(list(inputs), add_special_tokens=False)]
        offsets = torch.from_numpy(np.cumsum([0] + [len(row) for row in ids[:-1]]))
        flat = torch.tensor([token for row in ids for token in row], dtype=torch.long)
        return {"input_ids": flat, "offsets": offsets}

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        features["sentence_embedding"] = self.embedding(features["input_ids"], features["offsets"])
        return features

    @property
    def max_seq_length(self) -> float:
        return math.inf

    def get_embedding_dimension(self) -> int:
        return self.embedding_dim

    def get_config_dict(self) -> dict[str, Any]:
        return {}

    @classmethod
    def contract_example(cls) -> StaticEmbedding:
        """A small instance (tiny WordPiece vocabulary, 8 dimensions) for the module contract tests."""
        from sentrix.plugin_api import testing
        tiny_tokenizer = testing.tiny_models.tiny_tokenizer

        return cls(tiny_tokenizer(), embedding_dim=8)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        if safe_serialization:
            from safetensors.torch import save_file

            save_file(self.state_dict(), os.path.join(output_path, "model.safetensors"))
        else:
            torch.save(self.state_dict(), os.path.join(output_path, "pytorch_model.bin"))
        self.tokenizer.save(os.path.join(output_path, "tokenizer.json"))

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> StaticEmbedding:
        from tokenizers import Tokenizer

        folder = resolve_dir(model_name_or_path, subfolder, token, cache_folder, revision, local_files_only)
        tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        allow_pickle = (kwargs.get("model_kwargs") or {}).get("use_safetensors") is False
        weights = load_weights_file(folder, allow_pickle=allow_pickle)
        if "embedding.weight" in weights:
            vectors = weights["embedding.weight"]
        else:  # a model2vec folder: vectors (optionally remapped and weighted per token)
            vectors = torch.as_tensor(weights["embeddings"])
            if "mapping" in weights:
                vectors = vectors[torch.as_tensor(weights["mapping"], dtype=torch.long)]
            if "weights" in weights:
                vectors = vectors.float() * torch.as_tensor(weights["weights"])[:, None]
        return cls(tokenizer, embedding_weights=vectors.contiguous())
