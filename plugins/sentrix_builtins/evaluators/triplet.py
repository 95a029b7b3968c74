"""``triplet``: how often the anchor is closer to its positive than to its negative.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import csv
import logging
import math
import os
from typing import Any, Literal, Sequence

from sentrix.plugin_api import (
    EncodeRequest,
    InvalidInputError,
    SentenceEvaluator,
    SimilarityFunction,
    check_texts,
    describe_when,
    encode_fn,
)

logger = logging.getLogger(__name__)

__all__ = ["TripletEvaluator"]

_FUNCTION_NAMES = ("cosine", "dot", "manhattan", "euclidean")


class TripletEvaluator(SentenceEvaluator):
    """``triplet``: how often the anchor is closer to its positive than to its negative.

    What it does
        Embeds anchors with ``model.encode_query`` and positives / negatives with
        ``model.encode_document`` (so a model's ``query`` / ``document`` prompts apply; for a model
        without them all three are encoded alike), and counts a triplet as correct when
        ``similarity(anchor, positive) > similarity(anchor, negative) + margin``.

    Data it needs
        =============================  ===============================================
        input                          requirement
        =============================  ===============================================
        anchors, positives, negatives  same-length lists of texts
        margin                         optional float, or ``{fn_name: float}``
        =============================  ===============================================

    Files
        With ``output_path`` and ``write_csv=True`` a row is appended to
        ``triplet_evaluation[_<name>]_results.csv`` (columns ``epoch, steps, accuracy_<fn>, ...``).

    Args:
        anchors: the anchor (query) texts.
        positives: one positive per anchor.
        negatives: one negative per anchor.
        main_similarity_function: the function whose accuracy is the primary metric.
        margin: required gap between positive and negative similarity; a float for all functions
            or ``{"cosine": 0.1, ...}``. Default 0.
        name: metric-key and file-name prefix.
        batch_size: encoding batch size.
        show_progress_bar: show an encoding progress bar (``None``: when logging at INFO).
        write_csv: append results to a CSV file when ``output_path`` is given.
        truncate_dim: keep only the first ``truncate_dim`` embedding dimensions.
        similarity_fn_names: functions to evaluate; default: the model's ``similarity_fn_name``.
        main_distance_function: old name of ``main_similarity_function``.

    Metrics:
        (keys prefixed with ``name + "_"``)
        ``<fn>_accuracy`` for each similarity function (default: the model's
        ``similarity_fn_name``); with more than one, also ``max_accuracy``. ``primary_metric`` is
        ``<main_similarity_function>_accuracy`` when that is set, else ``<fn>_accuracy`` or
        ``max_accuracy``. Higher is better. E.g. ``all-nli-dev_cosine_accuracy``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import TripletEvaluator

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            evaluator = TripletEvaluator(
                anchors=["A person on a horse jumps over a plane."],
                positives=["A person is outdoors, on a horse."],
                negatives=["A person is at a diner, ordering an omelette."],
                name="all-nli-dev",
            )
            evaluator(model)       # {"all-nli-dev_cosine_accuracy": 1.0}

    References:
        Registered as ``triplet`` with the alias ``TripletEvaluator``. Reference: sentence-transformers
        6.2 ``TripletEvaluator`` (same arguments, keys and CSV).
    """

    def __init__(
        self,
        anchors: Sequence[Any],
        positives: Sequence[Any],
        negatives: Sequence[Any],
        main_similarity_function: str | SimilarityFunction | None = None,
        margin: float | dict[str, float] | None = None,
        name: str = "",
        batch_size: int = 16,
        show_progress_bar: bool | None = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        similarity_fn_names: list[Literal["cosine", "dot", "euclidean", "manhattan"]] | None = None,
        main_distance_function: str | SimilarityFunction | None = "deprecated",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.anchors = anchors
        self.positives = positives
        self.negatives = negatives
        self.name = name
        self.batch_size = batch_size
        self.truncate_dim = truncate_dim
        self.write_csv = write_csv
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO
        self.show_progress_bar = show_progress_bar

        if main_distance_function != "deprecated" and main_similarity_function is None:
            logger.warning("TripletEvaluator: 'main_distance_function' is deprecated; use 'main_similarity_function'.")
            main_similarity_function = main_distance_function
        from sentrix_builtins.evaluators.embedding_similarity import check_function_names, parse_similarity

        self.main_similarity_function = parse_similarity(owner, "main_similarity_function", main_similarity_function)
        self.similarity_fn_names = check_function_names(owner, similarity_fn_names)
        if not self.similarity_fn_names and self.main_similarity_function is not None:
            self.similarity_fn_names = [self.main_similarity_function.value]

        self.margin = self._parse_margin(owner, margin)
        self.csv_file = "triplet_evaluation" + (f"_{name}" if name else "") + "_results.csv"
        self.csv_headers = ["epoch", "steps"]
        self._add_csv_headers(self.similarity_fn_names)
        self.raise_on_bad_inputs()

    def check_inputs(self) -> list[str]:
        """Aligned, non-empty texts and finite margins."""
        owner = type(self).__name__
        columns = {"anchors": self.anchors, "positives": self.positives, "negatives": self.negatives}
        problems = [p for column, texts in columns.items() for p in check_texts(owner, column, texts)]
        if problems:
            return problems
        lengths = {column: len(texts) for column, texts in columns.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
            return [
                f"{owner}: anchors, positives and negatives must have the same length, got {detail}. "
                "Each position i is one triplet; pass aligned lists."
            ]
        bad = {fn: m for fn, m in self.margin.items() if isinstance(m, bool) or not isinstance(m, (int, float)) or not math.isfinite(m)}
        if bad:
            return [f"{owner}: margin {bad} is not a finite number; pass finite margins such as 0 or 0.1."]
        return []

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        options = {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim}
        return [
            EncodeRequest(self.anchors, "query", options),
            EncodeRequest([*self.positives, *self.negatives], "document", options),
        ]

    @staticmethod
    def _parse_margin(owner: str, margin: Any) -> dict[str, float]:
        zero = {name: 0 for name in _FUNCTION_NAMES}
        if margin is None:
            return zero
        if isinstance(margin, (int, float)) and not isinstance(margin, bool):
            return {name: margin for name in _FUNCTION_NAMES}
        if isinstance(margin, dict):
            unknown = sorted(set(margin) - set(_FUNCTION_NAMES))
            if unknown:
                raise InvalidInputError(
                    f"{owner}: margin has keys {unknown}; the keys must be among {list(_FUNCTION_NAMES)}."
                )
            return {**zero, **margin}
        raise InvalidInputError(
            f"{owner}: margin={margin!r}; pass a number (same margin for every function) or a dict "
            f"with keys among {list(_FUNCTION_NAMES)}."
        )

    def _add_csv_headers(self, fn_names: list[str]) -> None:
        self.csv_headers += [f"accuracy_{fn}" for fn in fn_names]

    @classmethod
    def from_input_examples(cls, examples: list[Any], **kwargs: Any) -> "TripletEvaluator":
        """Build from objects with ``.texts`` = (anchor, positive, negative)."""
        return cls(
            [ex.texts[0] for ex in examples], [ex.texts[1] for ex in examples], [ex.texts[2] for ex in examples], **kwargs
        )

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim else "")
        logger.info("TripletEvaluator: Evaluating the model on the %s dataset%s:", self.name, suffix)

        anchors = self.embed_inputs(model, self.anchors, encode_fn_name="query")
        positives = self.embed_inputs(model, self.positives, encode_fn_name="document")
        negatives = self.embed_inputs(model, self.negatives, encode_fn_name="document")

        if not self.similarity_fn_names:
            self.similarity_fn_names = [model.similarity_fn_name]
            self._add_csv_headers(self.similarity_fn_names)

        metrics: dict[str, float] = {}
        for fn_name in self.similarity_fn_names:
            pairwise = SimilarityFunction.to_similarity_pairwise_fn(fn_name)
            positive_scores = pairwise(anchors, positives)
            negative_scores = pairwise(anchors, negatives)
            accuracy = (positive_scores > negative_scores + self.margin[fn_name]).float().mean().item()
            metrics[f"{fn_name}_accuracy"] = accuracy
            logger.info("Accuracy %s Similarity:\t%.2f%%", fn_name.capitalize(), accuracy * 100)

        if output_path is not None and self.write_csv:
            os.makedirs(output_path, exist_ok=True)
            path = os.path.join(output_path, self.csv_file)
            new_file = not os.path.isfile(path)
            with open(path, mode="w" if new_file else "a", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                if new_file:
                    writer.writerow(self.csv_headers)
                writer.writerow([epoch, steps, *metrics.values()])

        if len(self.similarity_fn_names) > 1:
            metrics["max_accuracy"] = max(metrics.values())

        if self.main_similarity_function is not None:
            self.primary_metric = f"{self.main_similarity_function.value}_accuracy"
        elif len(self.similarity_fn_names) > 1:
            self.primary_metric = "max_accuracy"
        else:
            self.primary_metric = f"{self.similarity_fn_names[0]}_accuracy"

        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def embed_inputs(self, model: Any, sentences: Any, encode_fn_name: str | None = None, **kwargs: Any) -> Any:
        encode = encode_fn(model, encode_fn_name)
        return encode(
            sentences,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            truncate_dim=self.truncate_dim,
            **kwargs,
        )

    def get_config_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if any(value != 0 for value in self.margin.values()):
            config["margin"] = self.margin
        if self.truncate_dim is not None:
            config["truncate_dim"] = self.truncate_dim
        return config

    @classmethod
    def contract_example(cls) -> "TripletEvaluator":
        """Four (anchor, positive, negative) triplets, named ``triplet-example``."""
        return cls(
            anchors=["a man is playing a guitar", "a dog runs on the beach", "children play football", "the sun is hot"],
            positives=["a man plays music", "a dog is running", "kids play a game of soccer", "it is a sunny day"],
            negatives=["a woman is eating food", "the car is red", "the stock market fell", "snow falls at night"],
            name="triplet-example",
        )
