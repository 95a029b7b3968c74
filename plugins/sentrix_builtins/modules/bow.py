"""BoW: a bag-of-words sentence embedding (one dimension per vocabulary word).

=====================  ==========================================================
reads                  texts (whitespace-tokenised against ``vocab``)
writes                 ``sentence_embedding`` (size ``len(vocab)``)
saved files            ``config.json`` (no weights)
=====================  ==========================================================

With ``word_weights`` holding IDF values this is a tf-idf vector. It has no trainable
parameters and is its own whole model: the vector is built while tokenising.

Example::

    from sentrix import SentenceTransformer
    from sentrix.models import BoW

    model = SentenceTransformer(modules=[BoW(vocab=["cat", "dog", "sat"])])
    model.encode(["the cat sat"])   # [[1., 0., 1.]]

Reference: sentence-transformers ``BoW``.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from sentrix.plugin_api import InputModule, InvalidInputError, InvalidParameterError
from sentrix_builtins.modules._word_tokenizers import WhitespaceTokenizer

logger = logging.getLogger(__name__)


class BoW(InputModule):
    """Bag-of-words vectors: entry ``i`` counts (or flags) vocabulary word ``i`` in the text.

    Texts are split on whitespace and matched against ``vocab`` (as written, without surrounding
    punctuation, then lower-cased; no stop words). Each occurrence of word ``i`` adds its weight
    (``word_weights[word]``, else ``word_weights[word.lower()]``, else ``unknown_word_weight``) to
    entry ``i``; with ``cumulative_term_frequency=False`` the entry is set to the weight once.
    Repeated vocabulary words are kept once. Saved in the sentence-transformers ``BoW`` layout.

    Args:
        vocab: the words; one output dimension each.
        word_weights: word -> weight, e.g. IDF values (default ``{}``: every word weighs
            ``unknown_word_weight``).
        unknown_word_weight: weight of words missing from ``word_weights`` (default ``1``).
        cumulative_term_frequency: add the weight per occurrence (``True``, default) or set it once.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            bow = modules.create("bow", vocab=["cat", "dog", "sat"], word_weights={"cat": 2.0})
            model = SentenceTransformer(modules=[bow])
            model.encode(["the cat sat", "dog"])
    """

    save_in_root = False
    config_keys = ["vocab", "word_weights", "unknown_word_weight", "cumulative_term_frequency"]
    module_type = "sentence_transformers.sentence_transformer.modules.bow.BoW"
    rows_independent = True

    def __init__(self, vocab: list[str], word_weights: dict[str, float] | None = None, unknown_word_weight: float = 1,
                 cumulative_term_frequency: bool = True) -> None:
        super().__init__()
        word_weights = {} if word_weights is None else word_weights
        if isinstance(vocab, str) or not isinstance(word_weights, dict):
            raise InvalidParameterError(
                "BoW: vocab must be a list of words and word_weights a dict word -> weight; got "
                f"{type(vocab).__name__} and {type(word_weights).__name__}. Fix: e.g. "
                "BoW(vocab=['cat', 'dog'], word_weights={'cat': 2.0})."
            )
        self.vocab = list(dict.fromkeys(vocab))
        self.word_weights = word_weights
        self.unknown_word_weight = unknown_word_weight
        self.cumulative_term_frequency = cumulative_term_frequency
        self.weights: list[float] = []
        for word in self.vocab:
            if word in word_weights:
                self.weights.append(word_weights[word])
            elif word.lower() in word_weights:
                self.weights.append(word_weights[word.lower()])
            else:
                self.weights.append(unknown_word_weight)
        self.tokenizer = WhitespaceTokenizer(self.vocab, stop_words=set(), do_lower_case=False)
        self.sentence_embedding_dimension = len(self.vocab)

    def preprocess(self, inputs: list, prompt: str | None = None, **kwargs) -> dict[str, torch.Tensor]:
        if prompt:
            inputs = self._prepend_prompt(inputs, prompt)
        for index, text in enumerate(inputs):
            if not isinstance(text, str):
                raise InvalidInputError(
                    f"BoW reads texts; input {index} is {type(text).__name__} ({text!r:.60}). Fix: pass strings."
                )
        return self.get_sentence_features([self.tokenizer.tokenize(text, **kwargs) for text in inputs])

    def get_sentence_features(self, tokenized_texts: list[list[int]], pad_seq_length: int = 0) -> dict[str, torch.Tensor]:
        """The bag-of-words vectors of already tokenised texts (lists of vocabulary indices)."""
        vectors = torch.zeros(len(tokenized_texts), self.sentence_embedding_dimension, dtype=torch.float32)
        for row, tokens in enumerate(tokenized_texts):
            for token in tokens:
                if self.cumulative_term_frequency:
                    vectors[row, token] += self.weights[token]
                else:
                    vectors[row, token] = self.weights[token]
        return {"sentence_embedding": vectors}

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        return features

    def get_embedding_dimension(self) -> int:
        return self.sentence_embedding_dimension

    get_sentence_embedding_dimension = get_embedding_dimension

    @classmethod
    def contract_example(cls) -> BoW:
        """A small instance for the module contract tests."""
        return cls(["cat", "dog", "sat", "cat"], {"cat": 2.0}, unknown_word_weight=0.5)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)

    def save_tokenizer(self, output_path: str, **kwargs) -> None:
        """The tokenizer is rebuilt from ``vocab``; nothing to save."""
