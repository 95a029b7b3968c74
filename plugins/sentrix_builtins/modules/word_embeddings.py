"""WordEmbeddings: a lookup table of word vectors (GloVe, word2vec, fastText) as a first module.

=====================  ==========================================================
reads                  texts (tokenised with a word tokenizer)
writes                 ``input_ids``, ``attention_mask``, ``sentence_lengths``,
                       ``token_embeddings``
saved files            ``wordembedding_config.json``, ``model.safetensors``
                       (``emb_layer.weight``), the tokenizer's JSON file
=====================  ==========================================================

Followed by ``Pooling`` (and optionally ``WordWeights``, ``CNN`` or ``LSTM``) it gives the classic
average-word-embedding models. The word tokenizers (``WhitespaceTokenizer``, ``PhraseTokenizer``,
``WordTokenizer``, ``ENGLISH_STOP_WORDS``) are importable from this module.

Example::

    from sentrix import SentenceTransformer
    from sentrix.models import Pooling, WordEmbeddings

    words = WordEmbeddings.from_text_file("glove.6B.300d.txt.gz")
    model = SentenceTransformer(modules=[words, Pooling(words.get_embedding_dimension())])

Reference: sentence-transformers ``WordEmbeddings``; GloVe (Pennington et al., 2014).
"""

from __future__ import annotations

import gzip
import logging
import os
from typing import Any

import numpy as np
import torch
from torch import nn

from sentrix.plugin_api import InputModule, InvalidInputError, InvalidParameterError, load_weights_file, resolve_dir
from sentrix_builtins.modules._word_tokenizers import (  # noqa: F401  (companions: sentrix.models.<name>)
    ENGLISH_STOP_WORDS,
    PhraseTokenizer,
    TransformersTokenizerWrapper,
    WhitespaceTokenizer,
    WordTokenizer,
    resolve_tokenizer_class,
    tokenizer_class_path,
)

logger = logging.getLogger(__name__)


def _as_weight_matrix(embedding_weights: Any) -> torch.Tensor:
    if isinstance(embedding_weights, list):
        embedding_weights = np.asarray(embedding_weights)
    if isinstance(embedding_weights, np.ndarray):
        embedding_weights = torch.from_numpy(embedding_weights)
    if not torch.is_tensor(embedding_weights) or embedding_weights.ndim != 2:
        shape = getattr(embedding_weights, "shape", None)
        raise InvalidParameterError(
            f"WordEmbeddings: embedding_weights must be a 2-D matrix (vocabulary size x dimension); got "
            f"{type(embedding_weights).__name__}{'' if shape is None else f' of shape {tuple(shape)}'}. "
            "Fix: pass a numpy array, tensor or list of equal-length vectors, one row per vocabulary word."
        )
    return embedding_weights


class WordEmbeddings(InputModule):
    """Maps each word of a text to a fixed vector: the token embeddings of a word-vector model.

    Tokenises texts with a word tokenizer (vocabulary index per word, unknown words and stop words
    dropped), right-pads them with index 0 and looks the indices up in an embedding table. The
    table is frozen unless ``update_embeddings=True``. Build one from a GloVe/word2vec text file
    with :meth:`from_text_file`. Saves in the sentence-transformers ``WordEmbeddings`` layout.

    Args:
        tokenizer: a word tokenizer (``WhitespaceTokenizer``, ``PhraseTokenizer``) whose vocabulary
            indexes the rows of ``embedding_weights``, or a Hugging Face tokenizer.
        embedding_weights: the vectors, one row per vocabulary entry (numpy array, tensor or list).
        update_embeddings: train the vectors (default ``False``: frozen).
        max_seq_length: keep at most this many words per text (default ``1000000``).

    Example:
        .. code-block:: python

            import numpy as np
            from sentrix import SentenceTransformer
            from sentrix.models import Pooling, WhitespaceTokenizer, WordEmbeddings

            vocab = ["PADDING_TOKEN", "cat", "dog", "sat"]
            words = WordEmbeddings(WhitespaceTokenizer(vocab), np.random.rand(4, 8), update_embeddings=True)
            model = SentenceTransformer(modules=[words, Pooling(8)])
            model.encode(["the cat sat", "a dog"])
    """

    config_file_name = "wordembedding_config.json"
    config_keys = ["tokenizer_class", "update_embeddings", "max_seq_length"]
    module_type = "sentence_transformers.sentence_transformer.modules.word_embeddings.WordEmbeddings"
    rows_independent = True

    def __init__(self, tokenizer: WordTokenizer | Any, embedding_weights: Any, update_embeddings: bool = False,
                 max_seq_length: int = 1000000) -> None:
        super().__init__()
        if not isinstance(tokenizer, WordTokenizer):
            if callable(tokenizer) and hasattr(tokenizer, "save_pretrained"):  # a Hugging Face tokenizer
                tokenizer = TransformersTokenizerWrapper(tokenizer)
            else:
                raise InvalidParameterError(
                    f"WordEmbeddings: tokenizer must be a word tokenizer (WhitespaceTokenizer, PhraseTokenizer) or "
                    f"a Hugging Face tokenizer; got {type(tokenizer).__name__}. "
                    "Fix: pass e.g. WhitespaceTokenizer(vocab) with one vocabulary word per embedding row."
                )
        weights = _as_weight_matrix(embedding_weights)
        num_embeddings, dimension = weights.shape
        self.embeddings_dimension = int(dimension)
        self.emb_layer = nn.Embedding(num_embeddings, dimension)
        with torch.no_grad():
            self.emb_layer.weight.copy_(weights)
        self.emb_layer.weight.requires_grad = update_embeddings
        self.tokenizer = tokenizer
        self.update_embeddings = update_embeddings
        self.max_seq_length = max_seq_length

    def preprocess(self, inputs: list, prompt: str | None = None, **kwargs) -> dict[str, torch.Tensor]:
        if prompt:
            inputs = self._prepend_prompt(inputs, prompt)
        for index, text in enumerate(inputs):
            if not isinstance(text, str):
                raise InvalidInputError(
                    f"WordEmbeddings reads texts; input {index} is {type(text).__name__} ({text!r:.60}). "
                    "Fix: pass strings (word-embedding models take no text pairs)."
                )
        ids = [self.tokenizer.tokenize(text, **kwargs)[: self.max_seq_length] for text in inputs]
        lengths = [len(row) for row in ids]
        width = max(1, max(lengths, default=0))
        input_ids = torch.zeros(len(ids), width, dtype=torch.long)
        attention_mask = torch.zeros(len(ids), width, dtype=torch.long)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            attention_mask[row, : len(tokens)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask,
                "sentence_lengths": torch.tensor(lengths, dtype=torch.long)}

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        features["token_embeddings"] = self.emb_layer(features["input_ids"])
        return features

    def get_embedding_dimension(self) -> int:
        return self.embeddings_dimension

    get_word_embedding_dimension = get_embedding_dimension

    def get_config_dict(self) -> dict[str, Any]:
        return {"tokenizer_class": tokenizer_class_path(self.tokenizer), "update_embeddings": self.update_embeddings,
                "max_seq_length": self.max_seq_length}

    @classmethod
    def contract_example(cls) -> WordEmbeddings:
        """A small instance (five words, four dimensions) for the module contract tests."""
        generator = torch.Generator().manual_seed(0)
        vocab = ["PADDING_TOKEN", "cat", "dog", "sat", "mat"]
        return cls(WhitespaceTokenizer(vocab), torch.randn(5, 4, generator=generator), update_embeddings=True)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)
        self.tokenizer.save(output_path)

    def save_tokenizer(self, output_path: str, **kwargs) -> None:
        self.tokenizer.save(output_path)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, trust_remote_code: bool = False, **kwargs) -> WordEmbeddings:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        config = cls.load_config(model_name_or_path, **hub)
        folder = resolve_dir(model_name_or_path, subfolder, token, cache_folder, revision, local_files_only)
        tokenizer_class = resolve_tokenizer_class(config.pop("tokenizer_class", None), trust_remote_code,
                                                  where=f" in {os.path.join(folder, cls.config_file_name)!r}")
        tokenizer = tokenizer_class.load(folder)
        allow_pickle = (kwargs.get("model_kwargs") or {}).get("use_safetensors") is False
        weights = load_weights_file(folder, allow_pickle=allow_pickle)
        if "emb_layer.weight" not in weights:
            raise InvalidInputError(
                f"The weights in {folder!r} hold no 'emb_layer.weight' (found {sorted(weights)}). "
                "Fix: point at a folder saved from a WordEmbeddings module."
            )
        known = {key: config[key] for key in ("update_embeddings", "max_seq_length") if key in config}
        return cls(tokenizer=tokenizer, embedding_weights=weights["emb_layer.weight"], **known)

    @classmethod
    def from_text_file(cls, embeddings_file_path: str, update_embeddings: bool = False, item_separator: str = " ",
                       tokenizer: WordTokenizer | None = None, max_vocab_size: int | None = None) -> WordEmbeddings:
        """Build the module from a word-vector text file (GloVe or word2vec text format, ``.gz`` too).

        Each line is a word followed by its vector, separated by ``item_separator``; a word2vec
        header line (two fields) is skipped. Index 0 is a zero vector for ``PADDING_TOKEN``; lines
        whose vector length differs from the first line's are skipped. ``max_vocab_size`` stops
        reading once the vocabulary (padding included) holds more than that many entries. The
        tokenizer (default ``WhitespaceTokenizer()``) gets the file's vocabulary.
        """
        if not os.path.isfile(embeddings_file_path):
            raise InvalidInputError(
                f"Embeddings file {embeddings_file_path!r} does not exist. sentrix does not download word-vector "
                "files. Fix: download it (e.g. glove.6B.300d.txt.gz) and pass its local path."
            )
        if tokenizer is None:
            tokenizer = WhitespaceTokenizer()
        opener = gzip.open if embeddings_file_path.endswith(".gz") else open
        vocab: list[str] = []
        vectors: list[np.ndarray] = []
        dimension = None
        skipped = 0
        with opener(embeddings_file_path, "rt", encoding="utf8") as handle:
            for line in handle:
                fields = line.rstrip().split(item_separator)
                if not vocab and len(fields) == 2:  # word2vec header: "<count> <dimension>"
                    continue
                if dimension is None:
                    dimension = len(fields) - 1
                    vocab.append("PADDING_TOKEN")
                    vectors.append(np.zeros(dimension))
                if len(fields) - 1 != dimension:
                    skipped += 1
                    continue
                try:
                    vectors.append(np.array([float(value) for value in fields[1:]]))
                except ValueError as exc:
                    raise InvalidInputError(
                        f"{embeddings_file_path!r}: the line for {fields[0]!r} is not a word followed by numbers "
                        f"({exc}). Fix: check item_separator={item_separator!r} matches the file."
                    ) from exc
                vocab.append(fields[0])
                if max_vocab_size is not None and max_vocab_size > 0 and len(vocab) > max_vocab_size:
                    break
        if skipped:
            logger.error("%d lines of %s had a vector length other than %s; they were skipped.", skipped,
                         embeddings_file_path, dimension)
        if dimension is None or dimension < 1:
            raise InvalidInputError(
                f"{embeddings_file_path!r} holds no word vectors. Fix: pass a GloVe/word2vec text file "
                "(one 'word v1 v2 ...' line per word)."
            )
        tokenizer.set_vocab(vocab)
        return cls(tokenizer=tokenizer, embedding_weights=np.asarray(vectors), update_embeddings=update_embeddings)
