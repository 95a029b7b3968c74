"""The evaluator contract: the base class every evaluator (built-in or plugin) subclasses.

An evaluator scores a model on held-out data. The trainer calls it at every evaluation step::

    metrics = evaluator(model, output_path=None, epoch=-1, steps=-1)   # -> {"sts-dev_spearman_cosine": 0.83, ...}

and logs the metrics with an ``eval_`` prefix. The contract:

- ``__call__`` returns a dict ``{metric_key: float}``; the keys start with ``name + "_"`` when the
  evaluator has a ``name`` (use :meth:`SentenceEvaluator.prefix_name_to_metrics`);
- after the call, ``primary_metric`` is the key of the metric that ranks checkpoints
  (``metric_for_best_model`` / ``load_best_model_at_end``) and ``greater_is_better`` tells which
  direction is better;
- ``output_path`` (when given) is a folder the evaluator may write its CSV/JSON results into;
  ``epoch`` and ``steps`` say when the evaluation happens (``-1``: outside training);
- the model is used through its public API only: ``encode``, ``encode_query``,
  ``encode_document``, ``similarity``, ``similarity_fn_name``.

Metric keys, CSV file names and constructor arguments of the built-ins are those of
sentence-transformers, so dashboards and ``metric_for_best_model`` settings carry over.
A registered evaluator also provides ``contract_example()``: an instance on small inline data,
which ``sentrix.testing``'s contract suite runs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["SentenceEvaluator", "BaseEvaluator", "describe_when"]

logger = logging.getLogger(__name__)


def describe_when(epoch: int, steps: int) -> str:
    """`` after epoch 2``, `` in epoch 2 after 500 steps`` or ``""`` (outside training), for log lines."""
    if epoch == -1:
        return ""
    if steps == -1:
        return f" after epoch {epoch}"
    return f" in epoch {epoch} after {steps} steps"


class SentenceEvaluator:
    """Base class of evaluators: subclass it and implement :meth:`__call__`.

    Attributes:
        name: the prefix of the metric keys (``""`` for none).
        primary_metric: the key of the metric that ranks checkpoints; set it in ``__call__`` at the
            latest (prefixed by :meth:`prefix_name_to_metrics`).
        greater_is_better: whether a higher ``primary_metric`` is better (default ``True``).

    Example::

        from sentrix.evaluation import SentenceEvaluator

        class MeanNormEvaluator(SentenceEvaluator):
            '''Mean L2 norm of the embeddings of some sentences (a toy example).'''

            def __init__(self, sentences, name="norm"):
                super().__init__()
                self.sentences, self.name = sentences, name
                self.primary_metric = "mean_norm"

            def __call__(self, model, output_path=None, epoch=-1, steps=-1):
                embeddings = self.embed_inputs(model, self.sentences)
                metrics = {"mean_norm": float((embeddings ** 2).sum(1).mean() ** 0.5)}
                metrics = self.prefix_name_to_metrics(metrics, self.name)   # {"norm_mean_norm": ...}
                self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
                return metrics
    """

    name: str = ""
    batch_size: int = 32
    show_progress_bar: bool = False
    truncate_dim: int | None = None

    def __init__(self) -> None:
        self.greater_is_better = True
        self.primary_metric: str | None = None

    def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        """Evaluate ``model``; return ``{metric_key: value}`` and set ``primary_metric``.

        Args:
            model: the model to evaluate.
            output_path: a folder to write result files into, or ``None`` for no files.
            epoch: the epoch of the evaluation, ``-1`` outside training.
            steps: the global step of the evaluation, ``-1`` at the end of an epoch or outside training.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(model, output_path, epoch, steps).")

    def prefix_name_to_metrics(self, metrics: dict[str, Any], name: str) -> dict[str, Any]:
        """Return ``metrics`` with keys ``f"{name}_{key}"`` (values cast to float where possible).

        Also prefixes ``primary_metric`` once, so it keeps naming one of the returned keys.
        """

        def as_float(value: Any) -> Any:
            try:
                return float(value)
            except (TypeError, ValueError):
                return value

        if not name:
            return {key: as_float(value) for key, value in metrics.items()}
        prefixed = {f"{name}_{key}": as_float(value) for key, value in metrics.items()}
        primary = getattr(self, "primary_metric", None)
        if primary is not None and not primary.startswith(name + "_"):
            self.primary_metric = f"{name}_{primary}"
        return prefixed

    def store_metrics_in_model_card_data(
        self, model: Any, metrics: dict[str, Any], epoch: int | float = 0, step: int = 0
    ) -> None:
        """Hand the metrics to ``model.model_card_data`` (if the model has one) for the model card."""
        card = getattr(model, "model_card_data", None)
        setter = getattr(card, "set_evaluation_metrics", None)
        if setter is not None:
            setter(self, metrics, epoch, step)

    @property
    def description(self) -> str:
        """A readable name: ``EmbeddingSimilarityEvaluator`` -> ``"Embedding Similarity"``."""
        class_name = type(self).__name__
        if class_name.startswith("CE"):
            class_name = "CrossEncoder" + class_name[2:]
        class_name = class_name.split("Evaluator")[0] or class_name
        return re.sub(r"([a-z])([A-Z])", r"\g<1> \g<2>", class_name)

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording in the model card (non-default options); ``{}`` by default."""
        return {}

    def embed_inputs(self, model: Any, sentences: Any, **kwargs: Any) -> Any:
        """Embed ``sentences`` with ``model.encode`` using this evaluator's batch size, progress bar
        and ``truncate_dim``; returns a numpy array unless ``kwargs`` ask otherwise."""
        options: dict[str, Any] = {
            "batch_size": self.batch_size,
            "show_progress_bar": self.show_progress_bar,
            "truncate_dim": self.truncate_dim,
        }
        options.setdefault("convert_to_numpy", True)
        options.update(kwargs)
        return model.encode(sentences, **options)

    @classmethod
    def contract_example(cls) -> "SentenceEvaluator":
        """A small instance on inline data for ``sentrix.testing``'s contract suite.

        Registered evaluators override this; the base class has no data to offer.
        """
        raise NotImplementedError(
            f"{cls.__name__} has no contract_example(); add a classmethod returning an instance built on a few "
            "inline sentences so `sentrix.testing` can run the evaluator contract."
        )


#: The sentence-transformers 6 name of the same base class.
BaseEvaluator = SentenceEvaluator


def _encode_fn(model: Any, kind: str | None):
    """``model.encode_query`` / ``encode_document`` when the model has them, else ``model.encode``."""
    if kind == "query":
        return getattr(model, "encode_query", None) or model.encode
    if kind == "document":
        return getattr(model, "encode_document", None) or model.encode
    return model.encode


def _check_same_length(owner: str, **columns: Any) -> int:
    """Raise a clear error unless all ``columns`` have the same non-zero length; return it."""
    from sentrix.errors import InvalidInputError

    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise InvalidInputError(
            f"{owner}: {', '.join(lengths)} must have the same length, got {detail}. "
            "Each position i is one example; pass aligned lists."
        )
    count = next(iter(lengths.values()))
    if count == 0:
        raise InvalidInputError(f"{owner}: got empty inputs ({', '.join(lengths)}); pass at least one example.")
    return count
