"""WordWeights: scales each token embedding by a per-word weight (e.g. its IDF).

=====================  ==========================================================
reads                  ``input_ids``, ``attention_mask``, ``token_embeddings``
writes                 ``token_embeddings`` (weighted), ``token_weights_sum``
saved files            ``config.json``, ``model.safetensors`` (``emb_layer.weight``)
=====================  ==========================================================

Placed between ``WordEmbeddings`` and ``Pooling``: mean pooling then gives a weighted average of
word vectors (for the weighted mean proper, pool with ``mean_sqrt_len_tokens`` or divide by
``token_weights_sum``). Padding positions get weight 0.

Example::

    from sentrix.models import WordWeights
    weights = WordWeights(vocab=["PADDING_TOKEN", "cat", "the"], word_weights={"cat": 3.2, "the": 0.1})

Reference: sentence-transformers ``WordWeights``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
from torch import nn

from sentrix.plugin_api import InvalidInputError, InvalidParameterError, Module

logger = logging.getLogger(__name__)


def _weights_for(vocab: list[str], word_weights: dict[str, float], unknown_word_weight: float) -> tuple[list[float], int]:
    weights, unknown = [], 0
    for word in vocab:
        if word in word_weights:
            weights.append(word_weights[word])
        elif word.lower() in word_weights:
            weights.append(word_weights[word.lower()])
        else:
            weights.append(unknown_word_weight)
            unknown += 1
    return weights, unknown


class WordWeights(Module):
    """Multiplies each token embedding by a weight looked up for its word (IDF, SIF, ...).

    The weight of vocabulary word ``w`` is ``word_weights[w]``, else ``word_weights[w.lower()]``,
    else ``unknown_word_weight``; the weights form a one-column embedding table indexed by
    ``input_ids`` (the same indices as the ``WordEmbeddings`` before it), which trains with the
    model. Padding gets weight 0, and the per-text sum of weights is written as
    ``token_weights_sum``. Saved in the sentence-transformers ``WordWeights`` layout; trained weights
    are written back into ``word_weights`` so both libraries load them.

    Args:
        vocab: the vocabulary of the tokenizer, in index order.
        word_weights: word -> weight; it need not cover the vocabulary, and may hold other words.
        unknown_word_weight: weight of vocabulary words missing from ``word_weights`` (default ``1``).

    Example:
        .. code-block:: python

            import numpy as np
            from sentrix import SentenceTransformer
            from sentrix.models import Pooling, WhitespaceTokenizer, WordEmbeddings, WordWeights

            vocab = ["PADDING_TOKEN", "cat", "dog", "the"]
            words = WordEmbeddings(WhitespaceTokenizer(vocab, stop_words=[]), np.random.rand(4, 8))
            idf = WordWeights(vocab, {"cat": 2.0, "dog": 2.0, "the": 0.1})
            model = SentenceTransformer(modules=[words, idf, Pooling(8)])
    """

    config_keys = ["vocab", "word_weights", "unknown_word_weight"]
    module_type = "sentence_transformers.sentence_transformer.modules.word_weights.WordWeights"
    rows_independent = True

    def __init__(self, vocab: list[str], word_weights: dict[str, float], unknown_word_weight: float = 1) -> None:
        super().__init__()
        if isinstance(vocab, str) or not isinstance(word_weights, dict):
            raise InvalidParameterError(
                "WordWeights: vocab must be a list of words and word_weights a dict word -> weight; got "
                f"{type(vocab).__name__} and {type(word_weights).__name__}. Fix: e.g. "
                "WordWeights(vocab=['cat', 'the'], word_weights={'the': 0.1})."
            )
        self.vocab = list(vocab)
        self.word_weights = word_weights
        self.unknown_word_weight = unknown_word_weight
        weights, unknown = _weights_for(self.vocab, word_weights, unknown_word_weight)
        logger.info("%d of %d words have no weight; they get %s.", unknown, len(self.vocab), unknown_word_weight)
        self.emb_layer = nn.Embedding(len(self.vocab), 1)
        with torch.no_grad():
            self.emb_layer.weight.copy_(torch.tensor(weights, dtype=torch.float32).unsqueeze(1))

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        mask = features["attention_mask"]
        tokens = features["token_embeddings"]
        weights = self.emb_layer(features["input_ids"]).squeeze(-1) * mask.float()
        features["token_embeddings"] = tokens * weights.unsqueeze(-1)
        features["token_weights_sum"] = weights.sum(dim=1)
        return features

    def get_config_dict(self) -> dict[str, Any]:
        """The config; once the weights have been trained, ``word_weights`` holds every vocabulary
        word's current weight (so sentence-transformers, which builds the table from the config,
        loads the trained weights too)."""
        config = {"vocab": self.vocab, "word_weights": self.word_weights, "unknown_word_weight": self.unknown_word_weight}
        initial, _ = _weights_for(self.vocab, self.word_weights, self.unknown_word_weight)
        current = self.emb_layer.weight.detach().float().cpu().squeeze(1)
        if not torch.equal(current, torch.tensor(initial, dtype=torch.float32)):
            config["word_weights"] = {**self.word_weights, **dict(zip(self.vocab, current.tolist()))}
        return config

    @classmethod
    def contract_example(cls) -> WordWeights:
        """A small instance for the module contract tests."""
        return cls(["PADDING_TOKEN", "cat", "the", "Dog"], {"cat": 2.5, "the": 0.25, "dog": 1.5}, unknown_word_weight=0.5)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, **kwargs) -> WordWeights:
        """Build from the saved config alone, as sentence-transformers does (the weights file is
        written for compatibility; trained weights live in the config, see :meth:`get_config_dict`)."""
        config = cls.load_config(model_name_or_path, subfolder, None, token, cache_folder, revision, local_files_only)
        if "vocab" not in config or "word_weights" not in config:
            raise InvalidInputError(
                f"{os.path.join(model_name_or_path, subfolder, cls.config_file_name)!r} does not hold a WordWeights "
                "config (vocab, word_weights). Fix: point at a folder saved from a WordWeights module."
            )
        return cls(**config)
