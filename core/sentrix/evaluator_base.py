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

Evaluation rounds (shared encoding). Every ``__call__`` of a subclass runs inside an evaluation
round (:mod:`sentrix.evaluation_round`), joined by all evaluators of a :class:`SequentialEvaluator`
and of one trainer evaluation. Inside it, ``encode_fn(model, kind)`` encodes each distinct text
once and returns exactly what the model's own encode would (same rows, same format). To take part:

- encode with ``encode_fn(model, kind)(texts, **options)`` (or :meth:`SentenceEvaluator.embed_inputs`)
  instead of ``model.encode``; calling ``model.encode`` directly still works, it just shares nothing;
- optionally declare up front what you will encode, so one length-sorted pass serves every
  evaluator of the round: ``texts_to_encode(model)`` returns a list of
  ``EncodeRequest(texts, kind, options)`` with the same ``kind`` and keywords your ``__call__``
  passes to ``encode_fn``. Undeclared texts are encoded (and shared) when first asked for;
- under ``torch.distributed`` every process runs the evaluator; ``encode_fn`` splits the encoding
  across processes and hands every process all embeddings, so make the same encode calls in
  the same order on every process (write files only where ``output_path`` is given: the trainer
  passes it to the first process only).

Input checks. ``check_inputs()`` returns a list of problems (each naming the input, what was
expected and the fix); the built-ins call it from ``__init__`` and the trainer calls it again
(:func:`evaluator_input_problems`) before training starts, so data changed after construction is
caught too.

Metric keys, CSV file names and constructor arguments of the built-ins are those of
sentence-transformers, so dashboards and ``metric_for_best_model`` settings carry over.
A registered evaluator also provides ``contract_example()``: an instance on small inline data,
which ``sentrix.testing``'s contract suite runs.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from typing import Any

from sentrix.evaluation_round import EncodeRequest

__all__ = [
    "SentenceEvaluator",
    "BaseEvaluator",
    "describe_when",
    "encode_fn",
    "plain_encode_fn",
    "check_same_length",
    "check_texts",
    "check_finite",
    "evaluator_input_problems",
    "EncodeRequest",
]

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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every evaluator call runs inside an evaluation round (joined when one is already open for
        # the model), after one pre-pass over the texts the evaluator declares.
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is None or getattr(call, "_sentrix_in_round", False):
            return

        @functools.wraps(call)
        def call_in_round(self: "SentenceEvaluator", model: Any, *args: Any, **kw: Any) -> Any:
            from sentrix.evaluation_round import evaluation_round

            with evaluation_round(model) as round_:
                round_.prefetch(self.texts_to_encode(model))
                return call(self, model, *args, **kw)

        call_in_round._sentrix_in_round = True  # type: ignore[attr-defined]
        cls.__call__ = call_in_round  # type: ignore[method-assign]

    def texts_to_encode(self, model: Any) -> list[EncodeRequest]:
        """The texts ``__call__`` will encode, for the round's pre-pass; ``[]`` (the default) when
        the evaluator does not say (its texts are then encoded and shared when first asked for).

        Return ``[EncodeRequest(texts, kind, options), ...]`` with the ``kind`` and keywords that
        ``__call__`` passes to ``encode_fn(model, kind)``; a wrong declaration costs time, never
        correctness (what ``__call__`` asks for is what it gets).
        """
        return []

    def check_inputs(self) -> list[str]:
        """Problems with this evaluator's data (``[]`` when it is fine); each names the input, what
        was expected and the fix. Called when the evaluator is built and before training starts."""
        return []

    def raise_on_bad_inputs(self) -> None:
        """Raise :class:`~sentrix.errors.InvalidInputError` listing :meth:`check_inputs`' problems."""
        problems = self.check_inputs()
        if problems:
            from sentrix.errors import InvalidInputError

            raise InvalidInputError(problems[0] if len(problems) == 1 else "\n- ".join(["", *problems]).lstrip("\n"))

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

    def write_csv_row(
        self,
        output_path: str | None,
        row: Any,
        *,
        csv_file: str | None = None,
        headers: Any = None,
        lineterminator: str = "\r\n",
    ) -> str | None:
        """Append one result row to a CSV file in ``output_path``; write the header first if the file is new.

        Args:
            output_path: the folder to write into (created if missing); ``None`` writes nothing.
            row: the values, usually ``[epoch, steps, metric, ...]``; written as ``str(value)``, so
                numpy scalars keep their short form (``0.8352`` for a float32).
            csv_file: the file name; default ``self.csv_file``.
            headers: the header row for a new file; default ``self.csv_headers``.
            lineterminator: ``"\\r\\n"`` (the ``csv`` module default, what most sentence-transformers
                evaluators write) or ``"\\n"`` (information retrieval and NanoBEIR files).

        Returns:
            The path written, or ``None`` when ``output_path`` is ``None`` or ``self.write_csv`` is false.
            An existing file is only appended to, never rewritten.
        """
        import csv
        import os

        if output_path is None or not getattr(self, "write_csv", True):
            return None
        csv_file = csv_file if csv_file is not None else getattr(self, "csv_file", None)
        headers = headers if headers is not None else getattr(self, "csv_headers", None)
        if not csv_file:
            raise ValueError(f"{type(self).__name__}.write_csv_row: no csv_file given and no `self.csv_file` set.")
        os.makedirs(output_path, exist_ok=True)
        path = os.path.join(output_path, csv_file)
        new_file = not os.path.isfile(path)
        with open(path, mode="w" if new_file else "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator=lineterminator)
            if new_file and headers is not None:
                writer.writerow(headers)
            writer.writerow(row)
        return path

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
        return encode_fn(model, None)(sentences, **options)

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


def encode_fn(model: Any, kind: str | None, keep: bool = True):
    """The function to encode texts of ``kind`` with: called like ``model.encode``, same result.

    ``kind`` is ``None`` (``model.encode``), ``"query"`` (``model.encode_query``) or
    ``"document"`` (``model.encode_document``); a model without the last two uses ``encode``.
    Inside an evaluation round (every evaluator call is one) the function shares embeddings with
    the rest of the round; ``keep=False`` uses what the round already holds but does not store
    new rows (for texts read once, such as a large corpus in chunks, so memory stays bounded).
    """
    from sentrix.evaluation_round import active_round

    round_ = active_round(model)
    if round_ is None:
        return plain_encode_fn(model, kind)
    return functools.partial(round_.encode, kind, _keep=keep)


def plain_encode_fn(model: Any, kind: str | None):
    """``model.encode_query`` / ``encode_document`` when the model has them, else ``model.encode``
    (no sharing, whatever round is open)."""
    if kind == "query":
        return getattr(model, "encode_query", None) or model.encode
    if kind == "document":
        return getattr(model, "encode_document", None) or model.encode
    return model.encode


def check_same_length(owner: str, **columns: Any) -> int:
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


def check_texts(owner: str, column: str, texts: Any) -> list[str]:
    """Problems of a column of texts: not a list, empty, or holding ``None`` / empty / non-text items."""
    if isinstance(texts, (str, bytes)) or not hasattr(texts, "__len__"):
        return [f"{owner}: {column} must be a list of texts, got {type(texts).__name__}; pass e.g. [\"a text\", ...]."]
    if len(texts) == 0:
        return [f"{owner}: {column} is empty; pass at least one text."]
    bad = [i for i, text in enumerate(texts) if text is None or (isinstance(text, str) and not text.strip())]
    if bad:
        return [
            f"{owner}: {column} has {len(bad)} missing or empty text(s) (None or \"\") at position(s) "
            f"{bad[:10]}{' ...' if len(bad) > 10 else ''}; every entry must be a non-empty text. Fix: drop those "
            "rows (from every aligned column) or fill them in."
        ]
    not_text = [i for i, text in enumerate(texts) if not isinstance(text, (str, list, tuple, dict))]
    if not_text:
        first = texts[not_text[0]]
        return [
            f"{owner}: {column}[{not_text[0]}] is a {type(first).__name__} ({first!r:.40}), not a text "
            f"({len(not_text)} such entries). Fix: convert them with str() or drop them."
        ]
    return []


def check_finite(owner: str, column: str, values: Any) -> list[str]:
    """Problems of a column of numbers: non-numbers, NaN or infinite values."""
    bad, not_number = [], []
    for i, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            not_number.append(i)
            continue
        if not math.isfinite(number):
            bad.append(i)
    if not_number:
        return [
            f"{owner}: {column}[{not_number[0]}] is {values[not_number[0]]!r}, not a number ({len(not_number)} "
            "such entries). Fix: convert them to float or drop those rows."
        ]
    if bad:
        return [
            f"{owner}: {column} has {len(bad)} non-finite value(s) (NaN or inf) at position(s) {bad[:10]}"
            f"{' ...' if len(bad) > 10 else ''}; they would make every metric NaN. Fix: drop those rows "
            "(from every aligned column) or repair the values."
        ]
    return []


def evaluator_input_problems(evaluator: Any) -> list[str]:
    """The :meth:`SentenceEvaluator.check_inputs` problems of ``evaluator`` and of the evaluators it
    wraps (``evaluator.evaluators``), for run validation; evaluators without the method pass."""
    problems: list[str] = []
    seen: set[int] = set()

    def visit(member: Any) -> None:
        if member is None or id(member) in seen:
            return
        seen.add(id(member))
        check = getattr(member, "check_inputs", None)
        if callable(check):
            problems.extend(check() or [])
        for child in getattr(member, "evaluators", None) or []:
            visit(child)

    visit(evaluator)
    return problems
