"""``binary_classification``: tell similar from dissimilar sentence pairs by embedding similarity.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
from sklearn.metrics import average_precision_score, matthews_corrcoef

from sentrix.plugin_api import (
    EncodeRequest,
    SentenceEvaluator,
    check_same_length,
    describe_when,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
)
from sentrix_builtins.evaluators._checks import check_finite, check_texts, problems_of
from sentrix_builtins.evaluators.embedding_similarity import check_function_names

logger = logging.getLogger(__name__)

__all__ = ["BinaryClassificationEvaluator"]

# name -> (score of a pair, readable name, whether a higher score means "more similar")
_SCORERS: dict[str, tuple[Any, str, bool]] = {
    "cosine": (lambda a, b: pairwise_cos_sim(a, b), "Cosine-Similarity", True),
    "dot": (lambda a, b: pairwise_dot_score(a, b), "Dot-Product", True),
    # distances, not similarities: smaller means more similar
    "manhattan": (lambda a, b: -pairwise_manhattan_sim(a, b), "Manhattan-Distance", False),
    "euclidean": (lambda a, b: -pairwise_euclidean_sim(a, b), "Euclidean-Distance", False),
}
_CSV_METRICS = ("accuracy", "accuracy_threshold", "f1", "precision", "recall", "f1_threshold", "ap", "mcc")


class BinaryClassificationEvaluator(SentenceEvaluator):
    """Tell similar from dissimilar sentence pairs by embedding similarity (accuracy, F1, AP).

    Embeds every distinct sentence once, scores each pair with each similarity function
    (cosine and dot product, where higher means similar; Manhattan and Euclidean distance, where
    lower means similar) and searches the threshold that best separates the pairs labelled ``1``
    (similar, duplicate) from those labelled ``0``: the one with the best accuracy and the one with
    the best F1. Also reports the average precision of the scores (threshold-free; the primary
    metric) and the Matthews correlation at the F1 threshold. Thresholds lie half-way between two
    neighbouring distinct scores. Results for one model equal sentence-transformers 6.2's
    ``BinaryClassificationEvaluator``, CSV file included.

    With ``output_path`` and ``write_csv=True`` a row is appended to
    ``binary_classification_evaluation[_<name>]_results.csv`` (columns ``epoch, steps`` then
    ``<fn>_accuracy, <fn>_accuracy_threshold, <fn>_f1, <fn>_precision, <fn>_recall,
    <fn>_f1_threshold, <fn>_ap, <fn>_mcc`` per function).

    Args:
        sentences1: first sentence of each pair (no ``None`` or empty texts).
        sentences2: second sentence of each pair, same length as ``sentences1``.
        labels: ``1`` for a similar pair, ``0`` for a dissimilar one, one per pair.
        name: metric-key and file-name prefix, e.g. ``"quora-dev"``; default ``""``.
        batch_size: encoding batch size; default 32.
        show_progress_bar: show an encoding progress bar; ``None`` shows it when logging at INFO;
            default ``False``.
        write_csv: append results to a CSV file when ``output_path`` is given; default ``True``.
        truncate_dim: keep only the first ``truncate_dim`` embedding dimensions; default ``None``
            (the model's own setting).
        similarity_fn_names: functions to evaluate, among ``cosine``, ``dot``, ``euclidean``,
            ``manhattan``; default ``None``: the model's ``similarity_fn_name`` at the first call.

    Metrics:
        Keys prefixed with ``name + "_"``, per function ``<fn>``: ``<fn>_accuracy``,
        ``<fn>_accuracy_threshold``, ``<fn>_f1``, ``<fn>_f1_threshold``, ``<fn>_precision``,
        ``<fn>_recall``, ``<fn>_ap``, ``<fn>_mcc``. With more than one function also ``max_<metric>``
        for each of these. ``primary_metric`` is ``<fn>_ap`` (one function) or ``max_ap``; higher
        is better. E.g. ``quora-dev_cosine_ap``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.evaluation import BinaryClassificationEvaluator

            model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
            evaluator = BinaryClassificationEvaluator(
                sentences1=["How do I learn Python?", "What is the capital of France?", "Is it raining?"],
                sentences2=["How can I learn Python quickly?", "How tall is Mount Everest?", "Will it rain today?"],
                labels=[1, 0, 1],
                name="quora-dev",
            )
            metrics = evaluator(model)
            print(evaluator.primary_metric, metrics[evaluator.primary_metric])   # quora-dev_cosine_ap ...

    References:
        sentence-transformers 6.2 ``BinaryClassificationEvaluator`` (same arguments, keys and CSV).
        Average precision: scikit-learn ``average_precision_score``; Matthews correlation:
        Matthews, "Comparison of the predicted and observed secondary structure of T4 phage
        lysozyme", 1975.
    """

    def __init__(
        self,
        sentences1: list[str],
        sentences2: list[str],
        labels: list[int],
        name: str = "",
        batch_size: int = 32,
        show_progress_bar: bool | None = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        similarity_fn_names: list[Literal["cosine", "dot", "euclidean", "manhattan"]] | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        sentences1, sentences2, labels = self._validate(owner, sentences1, sentences2, labels)
        self.sentences1 = sentences1
        self.sentences2 = sentences2
        self.labels = labels
        self.name = name
        self.batch_size = batch_size
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO
        self.show_progress_bar = show_progress_bar
        self.similarity_fn_names = check_function_names(owner, similarity_fn_names)

        self.csv_file = "binary_classification_evaluation" + (f"_{name}" if name else "") + "_results.csv"
        self.csv_headers = ["epoch", "steps"]
        self._append_csv_headers(self.similarity_fn_names)

    @staticmethod
    def _validate(owner: str, sentences1: Any, sentences2: Any, labels: Any) -> tuple[list, list, list]:
        sentences1 = check_texts(owner, "sentences1", sentences1)
        sentences2 = check_texts(owner, "sentences2", sentences2)
        labels = check_finite(owner, "labels", labels, allowed=(0, 1))
        check_same_length(owner, sentences1=sentences1, sentences2=sentences2, labels=labels)
        return sentences1, sentences2, labels

    def check_inputs(self) -> list[str]:
        """Aligned non-empty texts and 0/1 labels (run again by the trainer before training)."""
        return problems_of(self._validate, type(self).__name__, self.sentences1, self.sentences2, self.labels)

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        try:
            distinct = list(dict.fromkeys([*self.sentences1, *self.sentences2]))
        except TypeError:
            return []
        return [EncodeRequest(distinct, None, {"batch_size": self.batch_size, "truncate_dim": self.truncate_dim})]

    def _append_csv_headers(self, fn_names: list[str]) -> None:
        self.csv_headers += [f"{fn}_{metric}" for fn in fn_names for metric in _CSV_METRICS]

    @classmethod
    def from_input_examples(cls, examples: list[Any], **kwargs: Any) -> "BinaryClassificationEvaluator":
        """Build from objects with ``.texts`` (two texts) and ``.label`` (0 or 1)."""
        return cls(
            [ex.texts[0] for ex in examples], [ex.texts[1] for ex in examples], [ex.label for ex in examples], **kwargs
        )

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        suffix = describe_when(epoch, steps) + (f" (truncated to {self.truncate_dim})" if self.truncate_dim is not None else "")
        logger.info("Binary Accuracy Evaluation of the model on the %s dataset%s:", self.name, suffix)

        if not self.similarity_fn_names:
            self.similarity_fn_names = [model.similarity_fn_name]
            self._append_csv_headers(self.similarity_fn_names)
        scores = self.compute_metrics(model)

        row: list[Any] = [epoch, steps]
        for header in self.csv_headers[2:]:
            fn, metric = header.split("_", 1)
            if fn in scores:
                row.append(scores[fn][metric])
        self.write_csv_row(output_path, row)

        metrics = {f"{fn}_{metric}": value for fn, values in scores.items() for metric, value in values.items()}
        if len(self.similarity_fn_names) > 1:
            first = next(iter(scores.values()))
            metrics.update({f"max_{metric}": max(values[metric] for values in scores.values()) for metric in first})
            self.primary_metric = "max_ap"
        else:
            self.primary_metric = f"{self.similarity_fn_names[0]}_ap"

        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def compute_metrics(self, model: Any) -> dict[str, dict[str, float]]:
        """``{fn: {"accuracy": ..., "accuracy_threshold": ..., ..., "mcc": ...}}`` for ``model``."""
        try:
            distinct = list(dict.fromkeys([*self.sentences1, *self.sentences2]))
        except TypeError:  # unhashable inputs (e.g. images as arrays): embed both sides as they are
            embeddings1 = self.embed_inputs(model, self.sentences1)
            embeddings2 = self.embed_inputs(model, self.sentences2)
        else:
            embedded = dict(zip(distinct, self.embed_inputs(model, distinct)))
            embeddings1 = np.stack([embedded[s] for s in self.sentences1])
            embeddings2 = np.stack([embedded[s] for s in self.sentences2])

        labels = np.asarray(self.labels)
        results: dict[str, dict[str, float]] = {}
        for fn in self.similarity_fn_names:
            score_fn, readable, higher_is_similar = _SCORERS[fn]
            scores = score_fn(embeddings1, embeddings2).detach().cpu().numpy()
            accuracy, accuracy_threshold = self.find_best_acc_and_threshold(scores, labels, higher_is_similar)
            f1, precision, recall, f1_threshold = self.find_best_f1_and_threshold(scores, labels, higher_is_similar)
            ap = average_precision_score(labels, scores if higher_is_similar else -scores)
            predicted = scores >= f1_threshold if higher_is_similar else scores <= f1_threshold
            mcc = matthews_corrcoef(labels, predicted)

            logger.info("Accuracy with %s:             %.2f\t(Threshold: %.4f)", readable, accuracy * 100, accuracy_threshold)
            logger.info("F1 with %s:                   %.2f\t(Threshold: %.4f)", readable, f1 * 100, f1_threshold)
            logger.info("Precision with %s:            %.2f", readable, precision * 100)
            logger.info("Recall with %s:               %.2f", readable, recall * 100)
            logger.info("Average Precision with %s:    %.2f", readable, ap * 100)
            logger.info("Matthews Correlation with %s: %.2f\n", readable, mcc * 100)
            results[fn] = {
                "accuracy": accuracy,
                "accuracy_threshold": accuracy_threshold,
                "f1": f1,
                "f1_threshold": f1_threshold,
                "precision": precision,
                "recall": recall,
                "ap": ap,
                "mcc": mcc,
            }
        return results

    # Old spelling kept for scripts that call it.
    compute_metrices = compute_metrics

    def embed_inputs(self, model: Any, sentences: Any, **kwargs: Any) -> np.ndarray:
        kwargs.setdefault("convert_to_numpy", True)
        return super().embed_inputs(model, sentences, **kwargs)

    @staticmethod
    def _groups(scores: Any, labels: Any, high_score_more_similar: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores sorted from most to least similar, the label of each, and the index of the last
        row of every run of equal scores."""
        scores = np.asarray(scores)
        labels = np.asarray(labels)
        order = np.argsort(-scores if high_score_more_similar else scores, kind="stable")
        ordered, ordered_labels = scores[order], labels[order]
        run_ends = np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))
        return ordered, ordered_labels, run_ends

    @staticmethod
    def _between(ordered: np.ndarray, end: int) -> Any:
        """The threshold after the run ending at ``end``: half-way to the next score (the score
        itself if it is the last, or if rounding would land on the next score)."""
        if end == len(ordered) - 1:
            return ordered[end]
        middle = (ordered[end] + ordered[end + 1]) / 2
        return ordered[end] if middle == ordered[end + 1] else middle

    @staticmethod
    def find_best_acc_and_threshold(scores: Any, labels: Any, high_score_more_similar: bool) -> tuple[float, Any]:
        """Best accuracy of ``score >= threshold`` (``<=`` for distances) and its threshold."""
        labels = np.asarray(labels)
        ordered, ordered_labels, run_ends = BinaryClassificationEvaluator._groups(scores, labels, high_score_more_similar)
        total = len(labels)
        negatives = (labels == 0).sum()
        if total == 0:
            return 0, -1
        # threshold above every score: everything predicted dissimilar
        best_accuracy = negatives / total
        dtype = np.result_type(np.asarray(scores).dtype, np.float16)
        best_threshold = np.nextafter(ordered[0], np.inf if high_score_more_similar else -np.inf, dtype=dtype)

        positives_above = np.cumsum(ordered_labels == 1)[run_ends]
        negatives_below = negatives - np.cumsum(ordered_labels == 0)[run_ends]
        accuracies = (positives_above + negatives_below) / total
        best = int(np.argmax(accuracies))
        if accuracies[best] > best_accuracy:
            best_accuracy = accuracies[best]
            best_threshold = BinaryClassificationEvaluator._between(ordered, int(run_ends[best]))
        return best_accuracy, best_threshold

    @staticmethod
    def find_best_f1_and_threshold(scores: Any, labels: Any, high_score_more_similar: bool) -> tuple[float, float, float, Any]:
        """Best F1 of ``score >= threshold`` (``<=`` for distances): ``(f1, precision, recall, threshold)``."""
        labels = np.asarray(labels)
        ordered, ordered_labels, run_ends = BinaryClassificationEvaluator._groups(scores, labels, high_score_more_similar)
        found = np.cumsum(ordered_labels == 1)[run_ends]
        predicted = run_ends + 1
        usable = found > 0
        if not usable.any():
            return 0, 0, 0, 0
        total_positive = labels.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = found / predicted
            recall = found / total_positive
            f1 = 2 * precision * recall / (precision + recall)
        f1 = np.where(usable, f1, -np.inf)
        best = int(np.argmax(f1))
        if not f1[best] > 0:
            return 0, 0, 0, 0
        threshold = BinaryClassificationEvaluator._between(ordered, int(run_ends[best]))
        return f1[best], precision[best], recall[best], threshold

    def get_config_dict(self) -> dict[str, Any]:
        return {"truncate_dim": self.truncate_dim} if self.truncate_dim is not None else {}

    @classmethod
    def contract_example(cls) -> "BinaryClassificationEvaluator":
        """Six labelled pairs, named ``binary-example``."""
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
                "the stock market fell",
                "a dog runs in the street",
                "kids play a game of soccer",
                "it is cold and snow falls",
                "a dog is running on the beach",
            ],
            labels=[1, 0, 0, 1, 0, 1],
            name="binary-example",
        )
