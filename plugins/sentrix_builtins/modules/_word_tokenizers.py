"""Word-level tokenizers for the word-embedding modules (WordEmbeddings, BoW).

These are not registry components: they are the companions of ``word_embeddings`` (importable as
``sentrix.models.WhitespaceTokenizer`` and under the sentence-transformers ``models.tokenizer``
paths). Each maps a text to a list of vocabulary indices, and saves itself to (and loads itself
from) a JSON file in the sentence-transformers 6.2 layout, so a folder saved by either library
loads in the other.

=========================  ================================================================
WhitespaceTokenizer        split on whitespace; try each token as is, without surrounding
                           punctuation, then lower-cased; drop stop words and unknown words
PhraseTokenizer            like WhitespaceTokenizer, but splits with NLTK and merges n-grams
                           found in the vocabulary (``New_York``) into one token
TransformersTokenizerWrapper  a Hugging Face tokenizer used as a word tokenizer (its ids)
ENGLISH_STOP_WORDS         the default stop words (English function words and punctuation)
=========================  ================================================================
"""

from __future__ import annotations

import collections
import json
import os
import string
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from sentrix.plugin_api import InvalidInputError, InvalidParameterError

__all__ = [
    "ENGLISH_STOP_WORDS", "WordTokenizer", "WhitespaceTokenizer", "PhraseTokenizer", "TransformersTokenizerWrapper",
    "tokenizer_class_path", "resolve_tokenizer_class",
]

_ST_TOKENIZER_MODULE = "sentence_transformers.sentence_transformer.modules.tokenizer"

ENGLISH_STOP_WORDS: list[str] = """
    a about above across after afterwards again against ain all almost alone along already also although
    always am among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere
    are aren around as at back be became because become becomes becoming been before beforehand behind
    being below beside besides between beyond bill both bottom but by call can cannot cant co con could
    couldn couldnt cry d de describe detail did didn do does doesn doing don done down due during each
    eg eight either eleven else elsewhere empty enough etc even ever every everyone everything
    everywhere except few fifteen fifty fill find fire first five for former formerly forty found four
    from front full further get give go had hadn has hasn hasnt have haven having he hence her here
    hereafter hereby herein hereupon hers herself him himself his how however hundred i ie if in inc
    indeed interest into is isn it its itself just keep last latter latterly least less ll ltd m ma made
    many may me meanwhile might mightn mill mine more moreover most mostly move much must mustn my
    myself name namely needn neither never nevertheless next nine no nobody none noone nor not nothing
    now nowhere o of off often on once one only onto or other others otherwise our ours ourselves out
    over own part per perhaps please put rather re s same see seem seemed seeming seems serious several
    shan she should shouldn show side since sincere six sixty so some somehow someone something sometime
    sometimes somewhere still such system t take ten than that the their theirs them themselves then
    thence there thereafter thereby therefore therein thereupon these they thick thin third this those
    though three through throughout thru thus to together too top toward towards twelve twenty two un
    under until up upon us ve very via was wasn we well were weren what whatever when whence whenever
    where whereafter whereas whereby wherein whereupon wherever whether which while whither who whoever
    whole whom whose why will with within without won would wouldn y yet you your yours yourself
    yourselves
""".split() + list(string.punctuation) + ["''", "``"]


class WordTokenizer(ABC):
    """Base class of the word tokenizers: a vocabulary, ``tokenize(text) -> [index, ...]``, save and load.

    Subclasses set ``st_path``, the dotted class path sentence-transformers writes for them as
    ``tokenizer_class`` in ``wordembedding_config.json``.
    """

    st_path: str = ""

    @abstractmethod
    def set_vocab(self, vocab: Iterable[str]) -> None:
        """Replace the vocabulary (index ``i`` is the ``i``-th word)."""

    @abstractmethod
    def get_vocab(self, *args: Any) -> Any:
        """The vocabulary."""

    @abstractmethod
    def tokenize(self, text: str, **kwargs: Any) -> list[int]:
        """Vocabulary indices of the words of ``text``."""

    @abstractmethod
    def save(self, output_path: str) -> None:
        """Write the tokenizer into the existing folder ``output_path``."""

    @staticmethod
    @abstractmethod
    def load(input_path: str) -> WordTokenizer:
        """Read a tokenizer saved by :meth:`save` from ``input_path``."""


def _index_vocab(vocab: Iterable[str]) -> tuple[list[str], dict[str, int]]:
    words = list(vocab)
    # a repeated word keeps its last index, as a dict built in vocabulary order does
    return words, collections.OrderedDict((word, index) for index, word in enumerate(words))


def _lookup(token: str, word2idx: dict[str, int], stop_words: set[str], variants) -> int | None:
    """Index of the first form of ``token`` that is a known word; None when a form is a stop word
    first or none is known. ``variants`` yields ``(form, may_be_empty)``: the punctuation-stripped
    form is looked up only when something is left."""
    for variant, may_be_empty in variants(token):
        if variant in stop_words:
            return None
        if (variant or may_be_empty) and variant in word2idx:
            return word2idx[variant]
    return None


def _read_config(folder: str, filename: str) -> dict[str, Any]:
    path = os.path.join(folder, filename)
    if not os.path.isfile(path):
        raise InvalidInputError(
            f"No {filename!r} in {folder!r}: the word tokenizer of this model is missing. "
            "Fix: point at a complete model folder (saved with model.save())."
        )
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class WhitespaceTokenizer(WordTokenizer):
    """Splits a text on whitespace and maps each word to its vocabulary index.

    Each word is looked up as written, then with leading and trailing punctuation removed, then
    lower-cased; the first form found wins. A form that is a stop word drops the word, as does a
    word with no known form. ``do_lower_case=True`` lower-cases the whole text first.

    Args:
        vocab: the words; a word's index is its position (default: empty, set later with ``set_vocab``).
        stop_words: words to drop (default :data:`ENGLISH_STOP_WORDS`).
        do_lower_case: lower-case the text before splitting (default ``False``).
    """

    st_path = f"{_ST_TOKENIZER_MODULE}.whitespace.WhitespaceTokenizer"
    config_file_name = "whitespacetokenizer_config.json"

    def __init__(self, vocab: Iterable[str] = (), stop_words: Iterable[str] = ENGLISH_STOP_WORDS,
                 do_lower_case: bool = False) -> None:
        if isinstance(stop_words, str) or isinstance(vocab, str):
            raise InvalidParameterError(
                "WhitespaceTokenizer: vocab and stop_words must be lists of words, not one string. "
                "Fix: pass e.g. vocab=['hello', 'world']."
            )
        self.stop_words = set(stop_words)
        self.do_lower_case = do_lower_case
        self.set_vocab(vocab)

    def set_vocab(self, vocab: Iterable[str]) -> None:
        self.vocab, self.word2idx = _index_vocab(vocab)

    def get_vocab(self, *args: Any) -> list[str]:
        return self.vocab

    @staticmethod
    def _variants(token: str):
        yield token, True
        stripped = token.strip(string.punctuation)
        yield stripped, False
        yield stripped.lower(), True

    def tokenize(self, text: str, **kwargs: Any) -> list[int]:
        if self.do_lower_case:
            text = text.lower()
        found = (_lookup(token, self.word2idx, self.stop_words, self._variants) for token in text.split())
        return [index for index in found if index is not None]

    def _config(self) -> dict[str, Any]:
        return {"vocab": list(self.word2idx), "stop_words": sorted(self.stop_words), "do_lower_case": self.do_lower_case}

    def save(self, output_path: str) -> None:
        with open(os.path.join(output_path, self.config_file_name), "w", encoding="utf-8") as handle:
            json.dump(self._config(), handle)

    @staticmethod
    def load(input_path: str) -> WhitespaceTokenizer:
        return WhitespaceTokenizer(**_read_config(input_path, WhitespaceTokenizer.config_file_name))


class PhraseTokenizer(WordTokenizer):
    """Splits a text into words with NLTK and merges known phrases (n-grams) into one token.

    Vocabulary entries that join words with ``ngram_separator`` (``New_York`` in the Google News
    word2vec vocabulary) are phrases: where their words appear in a row in the text (as written or
    lower-cased) they become that one token, longest phrases first. Each token is then looked up
    as written, lower-cased, then without surrounding punctuation; stop words and unknown words are
    dropped. Needs the ``nltk`` package.

    Args:
        vocab: the words and phrases; an entry's index is its position (default: empty).
        stop_words: words to drop (default :data:`ENGLISH_STOP_WORDS`).
        do_lower_case: kept in the saved config for compatibility; lookups already try the
            lower-cased form (default ``False``).
        ngram_separator: the character joining the words of a phrase (default ``"_"``).
        max_ngram_length: longest phrase, in words, that is merged (default ``5``).
    """

    st_path = f"{_ST_TOKENIZER_MODULE}.phrase.PhraseTokenizer"
    config_file_name = "phrasetokenizer_config.json"

    def __init__(self, vocab: Iterable[str] = (), stop_words: Iterable[str] = ENGLISH_STOP_WORDS,
                 do_lower_case: bool = False, ngram_separator: str = "_", max_ngram_length: int = 5) -> None:
        try:
            import nltk  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "PhraseTokenizer needs the 'nltk' package to split texts into words. Fix: pip install nltk "
                "(and download its 'punkt' data), or use WhitespaceTokenizer."
            ) from exc
        self.stop_words = set(stop_words)
        self.do_lower_case = do_lower_case
        self.ngram_separator = ngram_separator
        self.max_ngram_length = max_ngram_length
        self.set_vocab(vocab)

    def set_vocab(self, vocab: Iterable[str]) -> None:
        self.vocab, self.word2idx = _index_vocab(vocab)
        self.ngram_lookup: set[str] = set()
        self.ngram_lengths: set[int] = set()
        sep = self.ngram_separator
        if sep is None:
            return
        for word in self.vocab:
            if sep in word and sep + sep not in word:
                length = word.count(sep) + 1
                if length <= self.max_ngram_length:
                    self.ngram_lookup.add(word)
                    self.ngram_lengths.add(length)

    def get_vocab(self, *args: Any) -> list[str]:
        return self.vocab

    @staticmethod
    def _variants(token: str):
        yield token, True
        lowered = token.lower()
        yield lowered, True
        yield lowered.strip(string.punctuation), False

    def _merge_phrases(self, tokens: list[str]) -> list[str]:
        for length in sorted(self.ngram_lengths, reverse=True):
            start = 0
            while start <= len(tokens) - length:
                phrase = self.ngram_separator.join(tokens[start:start + length])
                if phrase in self.ngram_lookup:
                    tokens[start:start + length] = [phrase]
                elif phrase.lower() in self.ngram_lookup:
                    tokens[start:start + length] = [phrase.lower()]
                start += 1
        return tokens

    def tokenize(self, text: str, **kwargs: Any) -> list[int]:
        from nltk import word_tokenize

        tokens = self._merge_phrases(word_tokenize(text, preserve_line=True))
        found = (_lookup(token, self.word2idx, self.stop_words, self._variants) for token in tokens)
        return [index for index in found if index is not None]

    def save(self, output_path: str) -> None:
        config = {"vocab": list(self.word2idx), "stop_words": sorted(self.stop_words),
                  "do_lower_case": self.do_lower_case, "ngram_separator": self.ngram_separator,
                  "max_ngram_length": self.max_ngram_length}
        with open(os.path.join(output_path, self.config_file_name), "w", encoding="utf-8") as handle:
            json.dump(config, handle)

    @staticmethod
    def load(input_path: str) -> PhraseTokenizer:
        return PhraseTokenizer(**_read_config(input_path, PhraseTokenizer.config_file_name))


class TransformersTokenizerWrapper(WordTokenizer):
    """A Hugging Face tokenizer used as a word tokenizer: ``tokenize`` returns its ``input_ids``.

    Saved with ``save_pretrained`` and loaded with ``AutoTokenizer`` (fast tokenizer).

    Args:
        tokenizer: a ``transformers`` tokenizer.
    """

    st_path = f"{_ST_TOKENIZER_MODULE}.word.TransformersTokenizerWrapper"

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def tokenize(self, text: str, **kwargs: Any) -> list[int]:
        return self.tokenizer(text)["input_ids"]

    def set_vocab(self, vocab: Iterable[str]) -> None:
        """The vocabulary of a Hugging Face tokenizer is its own; this does nothing."""

    def get_vocab(self, *args: Any) -> dict[str, int]:
        return self.tokenizer.get_vocab()

    def save(self, output_path: str) -> None:
        self.tokenizer.save_pretrained(output_path)

    @staticmethod
    def load(input_path: str) -> TransformersTokenizerWrapper:
        from transformers import AutoTokenizer

        return TransformersTokenizerWrapper(AutoTokenizer.from_pretrained(input_path, use_fast=True))


_BY_NAME = {cls.__name__: cls for cls in (WhitespaceTokenizer, PhraseTokenizer, TransformersTokenizerWrapper)}


def tokenizer_class_path(tokenizer: WordTokenizer) -> str:
    """The ``tokenizer_class`` to save for ``tokenizer``: the sentence-transformers path for the
    tokenizers here (so sentence-transformers can load the folder), else its own dotted path."""
    path = getattr(type(tokenizer), "st_path", "")
    if path and _BY_NAME.get(type(tokenizer).__name__) is type(tokenizer):
        return path
    return f"{type(tokenizer).__module__}.{type(tokenizer).__qualname__}"


def resolve_tokenizer_class(path: str, trust_remote_code: bool = False, where: str = "") -> type:
    """The tokenizer class a saved ``tokenizer_class`` names.

    Every sentence-transformers path of the tokenizers here (``...modules.tokenizer.whitespace.
    WhitespaceTokenizer``, the older ``sentence_transformers.models.tokenizer.WhitespaceTokenizer.
    WhitespaceTokenizer``, ...) and sentrix's own paths give these classes. Any other dotted path is
    imported only with ``trust_remote_code=True``.
    """
    if not isinstance(path, str) or not path:
        raise InvalidInputError(
            f"tokenizer_class{where} is {path!r}: expected the dotted class path of a word tokenizer. "
            "Fix: repair wordembedding_config.json (e.g. "
            f"'{WhitespaceTokenizer.st_path}')."
        )
    name = path.rpartition(".")[2]
    if name in _BY_NAME and (path.startswith("sentence_transformers.") or path.startswith("sentrix")):
        return _BY_NAME[name]
    if not trust_remote_code:
        raise InvalidInputError(
            f"tokenizer_class {path!r}{where} is not a known word tokenizer (known: {', '.join(sorted(_BY_NAME))}). "
            "Fix: if you trust the code it names, pass trust_remote_code=True to import it by its dotted path."
        )
    import importlib

    module_name, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(
            f"tokenizer_class {path!r}{where} could not be imported ({exc}). Fix: install the package that provides it."
        ) from exc
