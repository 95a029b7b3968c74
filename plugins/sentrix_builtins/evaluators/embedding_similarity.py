"""``embedding_similarity``: how well embedding similarity ranks sentence pairs like gold scores do.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import csv
import logging
import os
from typing import Any, Literal

import numpy as np
from scipy.stats import pearsonr, spearmanr

from sentrix.plugin_api import (
    EncodeRequest,
    InvalidInputError,
    SentenceEvaluator,
    SimilarityFunction,
    check_finite,
    check_texts,
    describe_when,
)

logger = logging.getLogger(__name__)

__all__ = ["EmbeddingSimilarityEvaluator"]

_FUNCTION_NAMES = ("cosine", "manhattan", "euclidean", "dot")
_PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")


def parse_similarity(owner: str, arg: str, value: Any) -> SimilarityFunction | None:
    """``value`` as a SimilarityFunction (``None`` stays ``None``), or a clear error."""
    if value is None or value == "":
        return None
    try:
        return SimilarityFunction(value)
    except ValueError:
        raise InvalidInputError(
            f"{owner}: {arg}={value!r} is not a similarity function. "
            f"Use one of {SimilarityFunction.possible_values()} or a SimilarityFunction member."
        ) from None


def check_function_names(owner: str, names: Any) -> list[str]:
    """Validate ``similarity_fn_names``: a list drawn from cosine / dot / euclidean / manhattan."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    names = [SimilarityFunction(n).value if isinstance(n, SimilarityFunction) else n for n in names]
    unknown = [n for n in names if n not in _FUNCTION_NAMES]
    if unknown:
        raise InvalidInputError(
            f"{owner}: similarity_fn_names contains {unknown}; each name must be one of "
            f"{list(_FUNCTION_NAMES)}."
        )
    return list(names)


def pair_problems(owner: str, sentences1: Any, sentences2: Any, values: Any, values_name: str) -> list[str]:
    """Problems of (sentences1, sentences2, values) pair data: texts, lengths, finite values."""
    problems = check_texts(owner, "sentences1", sentences1) + check_texts(owner, "sentences2", sentences2)
    if problems:
        return problems
    lengths = {"sentences1": len(sentences1), "sentences2": len(sentences2), values_name: len(values)}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
        return [
            f"{owner}: sentences1, sentences2 and {values_name} must have the same length, got {detail}. "
            "Each position i is one pair; pass aligned lists."
        ]
    problems = check_finite(owner, values_name, values)
    if problems:
        return problems
    if len(values) < 2:
        return [f"{owner}: got {len(values)} pair; a correlation needs at least 2 pairs with different {values_name}."]
    if len({float(v) for v in values}) == 1:
        return [
            f"{owner}: every one of the {len(values)} {values_name} is {float(values[0])!r}; a correlation with constant "
            f"gold {values_name} is undefined (NaN). Pass pairs with different {values_name}."
        ]
    return []


def pairwise_scores(fn_name: str, a: Any, b: Any) -> np.ndarray:
    """Score ``a[i]`` against ``b[i]`` with the named similarity function, as a numpy array."""
    fn = SimilarityFunction.to_similarity_pairwise_fn(fn_name)
    return fn(a, b).detach().cpu().numpy()


class EmbeddingSimilarityEvaluator(SentenceEvaluator):
    """``embedding_similarity``: how well embedding similarity ranks sentence pairs like gold scores do.

    What it does
        Embeds both sentences of every pair, scores each pair with the model's similarity function
        (or the ones named in ``similarity_fn_names``: ``cosine``, ``dot``, ``euclidean``,
        ``manhattan``) and reports the Pearson and Spearman correlation of those scores with the
        gold ``scores``. The STS-benchmark measure.

    Data it needs
        =============================  ===============================================
        input                          requirement
        =============================  ===============================================
        sentences1, sentences2         same-length lists of texts (at least 2 pairs)
        scores                         one number per pair, any scale (e.g. 0-5)
        =============================  ===============================================

    Files
        With ``output_path`` and ``write_csv=True`` a row is appended to
        ``similarity_evaluation[_<name>][_<precision>]_results.csv`` (columns ``epoch, steps,
        <fn>_pearson, <fn>_spearman, ...``).

    Args:
        sentences1: first sentence of each pair.
        sentences2: second sentence of each pair.
        scores: gold similarity of each pair.
        batch_size: encoding batch size.
        main_similarity: the similarity function whose Spearman is the primary metric.
        similarity_fn_names: functions to evaluate; default: the model's ``similarity_fn_name``.
        name: metric-key and file-name prefix, e.g. ``"sts-dev"``.
        show_progress_bar: show an encoding progress bar (``None``: when logging at INFO).
        write_csv: append results to a CSV file when ``output_path`` is given.
        precision: quantise embeddings first: ``float32``, ``int8``, ``uint8``, ``binary``, ``ubinary``.
        truncate_dim: keep only the first ``truncate_dim`` embedding dimensions.

    Metrics:
        (keys prefixed with ``name + "_"``)
        ``pearson_<fn>``, ``spearman_<fn>`` for each similarity function; with more than one
        function also ``pearson_max`` and ``spearman_max``. ``primary_metric`` is
        ``spearman_<main_similarity>`` when ``main_similarity`` is set, else ``spearman_<fn>`` (one
        function) or ``spearman_max``. Higher is better. E.g. ``sts-dev_spearman_cosine``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import EmbeddingSimilarityEvaluator

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            evaluator = EmbeddingSimilarityEvaluator(
                sentences1=["A man is playing a guitar.", "A dog runs.", "The sun is hot."],
                sentences2=["A man plays the guitar.", "A cat sleeps.", "It is cold outside."],
                scores=[5.0, 1.2, 0.4],
                name="sts-dev",
            )
            metrics = evaluator(model)          # {"sts-dev_pearson_cosine": ..., "sts-dev_spearman_cosine": ...}

    References:
        Registered as ``embedding_similarity`` with the alias ``EmbeddingSimilarityEvaluator``.
        Reference: sentence-transformers 6.2 ``EmbeddingSimilarityEvaluator`` (same arguments, keys and
        CSV); Cer et al., "SemEval-2017 Task 1: Semantic Textual Similarity", 2017.
    """

    def __init__(
        self,
        sentences1: list[str],
        sentences2: list[str],
        scores: list[float],
        batch_size: int = 16,
        main_similarity: str | SimilarityFunction | None = None,
        similarity_fn_names: list[Literal["cosine", "euclidean", "manhattan", "dot"]] | None = None,
        name: str = "",
        show_progress_bar: bool | None = False,
        write_csv: bool = True,
        precision: Literal["float32", "int8", "uint8", "binary", "ubinary"] | None = None,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if precision is not None and precision not in _PRECISIONS:
            raise InvalidInputError(f"{owner}: precision={precision!r}; use one of {list(_PRECISIONS)} or None.")
        self.sentences1 = sentences1
        self.sentences2 = sentences2
        self.scores = scores
        self.batch_size = batch_size
        self.name = name
        self.write_csv = write_csv
        self.precision = precision
        self.truncate_dim = truncate_dim
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO
        self.show_progress_bar = show_progress_bar

        self.main_similarity = parse_similarity(owner, "main_similarity", main_similarity)
        self.similarity_fn_names = check_function_names(owner, similarity_fn_names)
        if not self.similarity_fn_names and self.main_similarity is not None:
            self.similarity_fn_names = [self.main_similarity.value]

        self.csv_file = (
            "similarity_evaluation" + (f"_{name}" if name else "") + (f"_{precision}" if precision else "") + "_results.csv"
        )
        self.csv_headers = ["epoch", "steps"]
        self._add_csv_headers(self.similarity_fn_names)
        self.raise_on_bad_inputs()

    def _add_csv_headers(self, fn_names: list[str]) -> None:
        self.csv_headers += [f"{fn}_{metric}" for fn in fn_names for metric in ("pearson", "spearman")]

    def check_inputs(self) -> list[str]:
        """Aligned, non-empty texts; finite scores that are not all equal (else no correlation exists)."""
        return pair_problems(type(self).__name__, self.sentences1, self.sentences2, self.scores, "scores")

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        options = {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim}
        if self.precision:
            options["normalize_embeddings"] = True
        return [EncodeRequest([*self.sentences1, *self.sentences2], None, options)]

    @classmethod
    def from_input_examples(cls, examples: list[Any], **kwargs: Any) -> "EmbeddingSimilarityEvaluator":
        """Build from objects with ``.texts`` (two texts) and ``.label`` (the score)."""
        return cls(
            [ex.texts[0] for ex in examples], [ex.texts[1] for ex in examples], [ex.label for ex in examples], **kwargs
        )

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim else "")
        logger.info("EmbeddingSimilarityEvaluator: Evaluating the model on the %s dataset%s:", self.name, suffix)

        if self.precision in ("int8", "uint8"):
            # One calibration for both sides, so equal sentences get equal quantised embeddings.
            both = self.embed_inputs(model, [*self.sentences1, *self.sentences2])
            emb1, emb2 = both[: len(self.sentences1)], both[len(self.sentences1) :]
        else:
            emb1 = self.embed_inputs(model, self.sentences1)
            emb2 = self.embed_inputs(model, self.sentences2)
        emb1, emb2 = _unpack(emb1, self.precision), _unpack(emb2, self.precision)

        if not self.similarity_fn_names:
            self.similarity_fn_names = [model.similarity_fn_name]
            self._add_csv_headers(self.similarity_fn_names)

        gold = self.scores
        metrics: dict[str, float] = {}
        for fn_name in self.similarity_fn_names:
            predicted = pairwise_scores(fn_name, emb1, emb2)
            pearson = pearsonr(gold, predicted)[0]
            spearman = spearmanr(gold, predicted)[0]
            metrics[f"pearson_{fn_name}"] = pearson
            metrics[f"spearman_{fn_name}"] = spearman
            logger.info("%s-Similarity:\tPearson: %.4f\tSpearman: %.4f", fn_name.capitalize(), pearson, spearman)

        if output_path is not None and self.write_csv:
            os.makedirs(output_path, exist_ok=True)
            path = os.path.join(output_path, self.csv_file)
            new_file = not os.path.isfile(path)
            with open(path, mode="w" if new_file else "a", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                if new_file:
                    writer.writerow(self.csv_headers)
                row = [metrics[f"{m}_{fn}"] for fn in self.similarity_fn_names for m in ("pearson", "spearman")]
                writer.writerow([epoch, steps, *row])

        if len(self.similarity_fn_names) > 1:
            metrics["pearson_max"] = max(metrics[f"pearson_{fn}"] for fn in self.similarity_fn_names)
            metrics["spearman_max"] = max(metrics[f"spearman_{fn}"] for fn in self.similarity_fn_names)

        if self.main_similarity is not None:
            self.primary_metric = f"spearman_{self.main_similarity.value}"
        elif len(self.similarity_fn_names) > 1:
            self.primary_metric = "spearman_max"
        else:
            self.primary_metric = f"spearman_{self.similarity_fn_names[0]}"

        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def embed_inputs(self, model: Any, sentences: Any, **kwargs: Any) -> np.ndarray:
        options: dict[str, Any] = {"convert_to_numpy": True}
        if self.precision:
            options.update(precision=self.precision, normalize_embeddings=True)
        options.update(kwargs)
        return super().embed_inputs(model, sentences, **options)

    @property
    def description(self) -> str:
        return "Semantic Similarity"

    def get_config_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ("truncate_dim", "precision") if getattr(self, key) is not None}

    @classmethod
    def contract_example(cls) -> "EmbeddingSimilarityEvaluator":
        """Six scored pairs, named ``sts-example``."""
        return cls(
            sentences1=[
                "a man is playing a guitar",
                "a woman is eating food",
                "the cat sits on the mat",
                "children play football in the park",
                "the sun is hot today",
                "a dog runs on the beach",
            ],
            sentences2=[
                "a man plays the guitar",
                "a woman eats",
                "a dog runs in the street",
                "the president talks to the news",
                "it is cold and snow falls",
                "a dog is running on the beach",
            ],
            scores=[4.8, 4.0, 1.0, 0.2, 1.5, 4.6],
            name="sts-example",
        )


def _unpack(embeddings: Any, precision: str | None) -> Any:
    """Turn quantised embeddings back into float arrays the similarity functions can use."""
    if precision not in ("int8", "uint8", "binary", "ubinary"):
        return embeddings
    embeddings = np.asarray(embeddings)
    if precision == "binary":
        embeddings = embeddings.astype(np.int16) + 128
    if precision in ("binary", "ubinary"):
        embeddings = np.unpackbits(embeddings.astype(np.uint8), axis=1)
    return embeddings.astype(np.float32)
