"""Checks run before training starts: nothing is written to ``output_dir`` before they pass.

* every dataset against what its loss declares it needs (:mod:`sentrix.data_needs`): number of
  text columns, label column and kind, missing texts, numeric columns that should be the label,
  non-finite labels, no rows at all;
* every dataset against its loss's own checks: a loss may define
  ``validate_dataset(self, dataset, dataset_name, **options) -> list[str]`` returning one message
  per problem (string labels, class ids out of range, ...). ``dataset_name`` is how the messages
  should name the dataset (``"train_dataset"``, ``"train dataset 'nli'"``); the options it may
  accept are ``batch_size``, ``batch_sampler`` and ``label_columns``;
* column names the trainer reserves for itself;
* ``metric_for_best_model`` against the metric keys the run will produce;
* plugin checks (the ``sentrix_validate_run`` hook), then the ``sentrix_adjust_trainer`` hook.

Every problem found is collected and raised together as one :class:`~sentrix.errors.InvalidInputError`
that names the dataset, the columns, the loss and the fix.

The trainer's methods of the same names (``validate_run``, ``check_dataset``, ...) call these
functions; override those methods to change a check for one trainer subclass.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from torch import nn

from sentrix.data_needs import DataNeeds, data_needs_of
from sentrix.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from sentrix.trainer import SentenceTransformerTrainer

logger = logging.getLogger(__name__)

RESERVED_COLUMNS = ("return_loss", "dataset_name")
DEFAULT_LABEL_COLUMNS = ("label", "labels", "score", "scores")


# -- dataset helpers ------------------------------------------------------------------------------
def is_iterable_dataset(dataset: Any) -> bool:
    try:
        from datasets import IterableDataset
    except ImportError:  # pragma: no cover
        return False
    return isinstance(dataset, IterableDataset)


def column_names(dataset: Any) -> list[str]:
    """The dataset's columns, without the ``dataset_name`` column the trainer may add."""
    names = getattr(dataset, "column_names", None)
    if names is None and getattr(dataset, "features", None) is not None:
        names = list(dataset.features)
    return [c for c in (names or []) if c != "dataset_name"]


def missing_value_rows(dataset: Any, column: str) -> list[int]:
    """Rows whose ``column`` is None; reads Arrow's null count first, so a clean column costs nothing."""
    try:
        table_column = dataset.data.column(column)
    except Exception:  # not an Arrow-backed dataset
        return []
    if table_column.null_count == 0:
        return []
    return [i for i, value in enumerate(dataset[column]) if value is None]


def non_finite_rows(dataset: Any, column: str) -> list[int]:
    """Rows whose (float) ``column`` holds NaN or inf."""
    try:
        import numpy as np

        values = dataset.with_format("numpy", columns=[column])[column]
        values = np.asarray(values)
        if values.dtype.kind not in "fc":
            return []
        flat = values.reshape(len(values), -1)
        return [int(i) for i in np.nonzero(~np.isfinite(flat).all(axis=1))[0]]
    except Exception:  # exotic column: leave it to the per-batch check
        return []


def iter_datasets(train_dataset: Any, eval_dataset: Any) -> Iterator[tuple[str, str | None, Any]]:
    """(split, dataset name or None, dataset) for every dataset of the run."""
    for split, dataset in (("train", train_dataset), ("eval", eval_dataset)):
        if dataset is None or isinstance(dataset, str):
            continue
        if isinstance(dataset, dict):
            for name, member in dataset.items():
                yield split, name, member
        else:
            yield split, None, dataset


# -- the checks -----------------------------------------------------------------------------------
def validate_run(
    trainer: SentenceTransformerTrainer, train_dataset: Any = None, eval_dataset: Any = None, data_collator: Any = None
) -> None:
    """Check every dataset against its loss's data needs, and ``metric_for_best_model``; raise listing every problem."""
    args = trainer.args
    collator = data_collator if data_collator is not None else getattr(trainer, "data_collator", None)
    label_names = list(getattr(collator, "valid_label_columns", None) or DEFAULT_LABEL_COLUMNS)
    problems: list[str] = []
    in_batch_negatives = []
    for split, name, dataset in iter_datasets(train_dataset, eval_dataset):
        loss = trainer._loss_for(name) if isinstance(trainer.loss, dict) else trainer.loss
        problems.extend(trainer.check_dataset(dataset, loss, split, name, label_names))
        batch_size = args.per_device_train_batch_size if split == "train" else args.per_device_eval_batch_size
        problems.extend(
            loss_dataset_problems(
                loss, dataset, split, name, label_columns=label_names, batch_size=batch_size,
                batch_sampler=args.batch_sampler,
            )
        )
        needs = data_needs_of(loss)
        if needs is not None and needs.in_batch_negatives and split == "train":
            in_batch_negatives.append(type(loss).__name__)
        sampler = getattr(args.batch_sampler, "value", args.batch_sampler)
        if needs is not None and needs.recommended_sampler and split == "train" and sampler == "batch_sampler":
            logger.info(
                "%s works best with the %r batch sampler (set batch_sampler=%r in the training arguments).",
                type(loss).__name__, needs.recommended_sampler, needs.recommended_sampler,
            )
    problems.extend(trainer.check_metric_for_best_model(eval_dataset))
    from sentrix.evaluator_base import evaluator_input_problems  # evaluators' own data checks (evaluation round)

    problems.extend(evaluator_input_problems(getattr(trainer, "evaluator", None)))
    if problems:
        raise InvalidInputError("The training run was stopped before it started:\n- " + "\n- ".join(problems))
    if in_batch_negatives and args.gradient_accumulation_steps > 1:
        message = (
            f"gradient_accumulation_steps={args.gradient_accumulation_steps} with the in-batch-negatives "
            f"loss {sorted(set(in_batch_negatives))[0]}: accumulation adds no negatives, each micro-batch of "
            f"{args.per_device_train_batch_size} only sees its own rows. For more negatives raise "
            "per_device_train_batch_size, or use a Cached* loss (e.g. CachedMultipleNegativesRankingLoss)."
        )
        warnings.warn(message, UserWarning, stacklevel=4)
        logger.warning(message)


def check_dataset(dataset: Any, loss: nn.Module, split: str, name: str | None, label_names: list[str]) -> list[str]:
    """Problems of one dataset for its loss (an empty list when it fits)."""
    problems: list[str] = []
    label_name = dataset_label(split, name)
    columns = column_names(dataset)
    label_column = next((c for c in label_names if c in columns), None)
    text_columns = [c for c in columns if c != label_column]
    loss_name = type(loss).__name__
    features = getattr(dataset, "features", None) or {}

    # A numeric column that is not the label column is almost always a mis-named label.
    for column in text_columns:
        dtype = str(getattr(features.get(column), "dtype", ""))
        if dtype.startswith(("float", "int", "uint", "bool")):
            problems.append(
                f"{label_name}: column {column!r} holds numbers ({dtype}) but only texts can be input columns, "
                f"and the label column must be named one of {label_names}. If it is the label, rename it: "
                f"`dataset = dataset.rename_column({column!r}, 'label')`; otherwise remove it with "
                f"`dataset.remove_columns({column!r})`."
            )
    if not is_iterable_dataset(dataset):
        for column in text_columns:
            missing = missing_value_rows(dataset, column)
            if missing:
                problems.append(
                    f"{label_name}: text column {column!r} has {len(missing)} missing value(s) (None) at rows "
                    f"{missing[:10]}{' ...' if len(missing) > 10 else ''}; every row needs a text in every input "
                    f"column. Fix: drop them, e.g. `dataset = dataset.filter(lambda r: r[{column!r}] is not None)`, "
                    "or fill them in."
                )
    if not is_iterable_dataset(dataset) and hasattr(dataset, "__len__") and len(dataset) == 0:
        problems.append(
            f"{label_name} has no rows (columns {columns}), so there is nothing to "
            f"{'train' if split == 'train' else 'evaluate'} on. Fix: check the filtering or split that produced it"
            + (", or leave it out of the dict of datasets." if name else ".")
        )
    if problems:
        return problems

    needs: DataNeeds | None = data_needs_of(loss)
    if needs is not None:
        if not needs.accepts_column_count(len(text_columns)):
            problems.append(
                f"{label_name} has {len(text_columns)} text column(s) {text_columns}"
                + (f" and label column {label_column!r}" if label_column else "")
                + f", but the loss {loss_name} needs {needs.describe_columns()}. Fix: keep the columns it "
                f"reads, in order, e.g. `dataset.select_columns([...])`, or choose a loss that takes "
                f"{len(text_columns)} text column(s) (`sentrix plugins list --kind losses`)."
            )
        if needs.label == "none" and label_column is not None:
            problems.append(
                f"{label_name} has a label column {label_column!r}, but the loss {loss_name} takes no label "
                f"({needs.describe()}) Fix: `dataset = dataset.remove_columns({label_column!r})`, or use a loss "
                "that learns from labels (e.g. cosent for float scores, softmax for classes)."
            )
        elif needs.label in ("float", "int") and label_column is None:
            problems.append(
                f"{label_name} (columns {columns}) has no label column, but the loss {loss_name} needs "
                f"{'a float score' if needs.label == 'float' else 'an integer class'} per row. Fix: name the "
                f"label column one of {label_names} (`dataset.rename_column('<your column>', 'label')`), or "
                "use a loss without labels such as multiple_negatives_ranking."
            )
        elif needs.label == "int" and label_column is not None:
            dtype = str(getattr(features.get(label_column), "dtype", ""))
            if dtype.startswith("float"):
                problems.append(
                    f"{label_name}: label column {label_column!r} holds floats ({dtype}) but the loss {loss_name} "
                    f"needs integer class ids. Fix: `dataset = dataset.cast_column({label_column!r}, "
                    "Value('int64'))` if they are whole numbers, or use a loss for float scores such as cosent."
                )
    if label_column is not None and not is_iterable_dataset(dataset):
        bad_rows = non_finite_rows(dataset, label_column)
        if bad_rows:
            shown = bad_rows[:10]
            problems.append(
                f"{label_name}: label column {label_column!r} has {len(bad_rows)} non-finite value(s) (NaN or "
                f"inf) at rows {shown}{' ...' if len(bad_rows) > 10 else ''}. Training on them would make the "
                f"loss NaN. Fix: drop or repair them, e.g. `dataset.filter(lambda r: math.isfinite(r[{label_column!r}]))`."
            )
    return problems


def dataset_label(split: str, name: str | None) -> str:
    """How messages name a dataset: ``train_dataset``, or ``train dataset 'nli'`` in a dict of datasets."""
    return f"{split} dataset {name!r}" if name else f"{split}_dataset"


def loss_dataset_problems(loss: nn.Module, dataset: Any, split: str, name: str | None, **options: Any) -> list[str]:
    """The messages of the loss's optional ``validate_dataset(dataset, dataset_name, **options)``, each naming the dataset.

    Only the options its signature accepts are passed (all of them when it takes ``**kwargs``).
    """
    method = getattr(loss, "validate_dataset", None)
    if not callable(method):
        return []
    label = dataset_label(split, name)
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        parameters = {}
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        options = {key: value for key, value in options.items() if key in parameters}
    found = method(dataset, label, **options)
    if found is None:
        return []
    if isinstance(found, str) or not all(isinstance(m, str) for m in found):
        raise TypeError(
            f"{type(loss).__name__}.validate_dataset must return a list of problem messages (str); got {found!r}."
        )
    return [m if label in m else f"{label}: {m}" for m in found]


def expected_metric_keys(evaluator: Any, eval_dataset: Any) -> tuple[set[str], list[str]]:
    """(metric keys the run will report, name prefixes of evaluators whose full key set is unknown)."""
    keys: set[str] = set()
    open_prefixes: list[str] = []
    if eval_dataset is not None and not isinstance(eval_dataset, str):
        if isinstance(eval_dataset, dict):
            keys.update(f"eval_{name}_loss" for name in eval_dataset)
        else:
            keys.add("eval_loss")
    if evaluator is not None:
        members = list(getattr(evaluator, "evaluators", None) or [evaluator])
        for member in members:
            name = getattr(member, "name", "") or ""
            listed = None
            for attr in ("metric_keys", "metric_names"):
                value = getattr(member, attr, None)
                if value is not None:
                    listed = list(value() if callable(value) else value)
                    break
            if listed:
                keys.update(k if k.startswith("eval_") else f"eval_{k}" for k in listed)
            else:
                open_prefixes.append(f"eval_{name}_" if name else "eval_")
            primary = getattr(member, "primary_metric", None)
            if primary:
                full = primary if not name or primary.startswith(name + "_") else f"{name}_{primary}"
                keys.add(f"eval_{full}")
        if len(members) > 1 or getattr(evaluator, "evaluators", None) is not None:
            primary = getattr(evaluator, "primary_metric", None)
            if primary:
                keys.add(f"eval_{primary}")
    return keys, open_prefixes


def check_metric_for_best_model(metric: str | None, keys: set[str], open_prefixes: list[str]) -> list[str]:
    """A problem when ``metric`` (``args.metric_for_best_model``) is none of the run's metric keys."""
    if not metric:
        return []
    full = metric if metric.startswith("eval_") else f"eval_{metric}"
    if full in keys or any(full.startswith(p) for p in open_prefixes if p != "eval_"):
        return []
    if "eval_" in open_prefixes:  # an unnamed evaluator: any key may appear
        return []
    shown = sorted(k[5:] for k in keys) + [f"{p[5:]}<metric> (any metric of evaluator {p[5:-1]!r})" for p in open_prefixes]
    listing = ", ".join(shown) or "none (no eval_dataset and no evaluator)"
    return [
        f"metric_for_best_model={metric!r} is not a metric this run produces. The metrics will be: {listing}. "
        "Fix: set metric_for_best_model to one of them (with or without the 'eval_' prefix), or add the "
        "evaluator/eval_dataset that produces it."
    ]


def validate_column_names(dataset: Any, dataset_name: str | None = None, split: str = "train") -> None:
    """Raise when a dataset uses a column name the trainer reserves (``return_loss``, ``dataset_name``)."""
    if dataset is None:
        return
    if isinstance(dataset, dict):
        for name, member in dataset.items():
            validate_column_names(member, dataset_name=name, split=split)
        return
    overlap = sorted(set(getattr(dataset, "column_names", None) or []) & set(RESERVED_COLUMNS))
    if overlap and not getattr(dataset, "_sentrix_preprocessed", False):
        where = f"{split} dataset {dataset_name!r}" if dataset_name else f"{split}_dataset"
        raise InvalidInputError(
            f"{where} has column(s) {overlap}, names the trainer reserves for itself. Rename them, e.g. "
            f"`dataset = dataset.rename_column({overlap[0]!r}, '{overlap[0]}_')`."
        )


def run_plugin_checks(trainer: SentenceTransformerTrainer) -> None:
    """Run the plugins' ``sentrix_validate_run`` checks (raise listing every problem), then ``sentrix_adjust_trainer``."""
    from sentrix.hooks import get_plugin_manager

    hook = get_plugin_manager().hook
    problems: list[str] = []
    for result in hook.sentrix_validate_run(trainer=trainer):
        problems.extend(result or [])
    if problems:
        raise InvalidInputError("The training run was stopped before it started by a plugin check:\n- " + "\n- ".join(problems))
    hook.sentrix_adjust_trainer(trainer=trainer)


__all__ = [
    "DEFAULT_LABEL_COLUMNS",
    "RESERVED_COLUMNS",
    "check_dataset",
    "check_metric_for_best_model",
    "dataset_label",
    "loss_dataset_problems",
    "column_names",
    "expected_metric_keys",
    "is_iterable_dataset",
    "iter_datasets",
    "missing_value_rows",
    "non_finite_rows",
    "run_plugin_checks",
    "validate_column_names",
    "validate_run",
]
