"""Helpers for the losses' ``validate_dataset`` methods: find the label column and read its values.

A loss's ``validate_dataset(dataset, dataset_name, ...) -> list[str]`` is called by the trainer's
run checks before anything is written; it returns one message per problem (what is wrong, where,
and the fix), or an empty list. These helpers only read; an iterable (streaming) dataset or one
whose labels cannot be read cheaply is skipped, leaving the per-batch checks in charge.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: label column names the data collator recognises, in its order
DEFAULT_LABEL_COLUMNS: tuple[str, ...] = ("label", "labels", "score", "scores")


def column_names(dataset: Any) -> list[str]:
    names = getattr(dataset, "column_names", None)
    if isinstance(names, (list, tuple)):
        return list(names)
    if isinstance(dataset, dict):
        return list(dataset)
    return []


def label_column(dataset: Any, label_columns: Sequence[str] | None = None) -> str | None:
    """The first of ``label_columns`` (default: the collator's names) that the dataset has."""
    present = column_names(dataset)
    return next((name for name in (label_columns or DEFAULT_LABEL_COLUMNS) if name in present), None)


def label_values(dataset: Any, column: str) -> np.ndarray | None:
    """All values of ``column`` as a numpy array, or ``None`` for a streaming dataset."""
    if type(dataset).__name__ == "IterableDataset" or not hasattr(dataset, "__len__"):
        return None
    try:
        if hasattr(dataset, "with_format"):
            values = dataset.with_format("numpy", columns=[column])[column]
        else:
            values = dataset[column]
        return np.asarray(values)
    except Exception:  # noqa: BLE001 - an exotic column is left to the per-batch checks
        return None


def is_text(values: np.ndarray) -> bool:
    return values.dtype.kind in "USO" and any(isinstance(v, str) for v in values.reshape(-1)[:100])


def where(dataset_name: str | None, column: str) -> str:
    return f"{dataset_name or 'the dataset'}: label column {column!r}"


def sampler_name(batch_sampler: Any) -> str | None:
    """``"group_by_label"`` for the enum member, the string, the registered class or its alias."""
    if batch_sampler is None:
        return None
    value = getattr(batch_sampler, "value", batch_sampler)
    if not isinstance(value, str):
        value = getattr(value, "__name__", type(value).__name__)
    return {"GroupByLabelBatchSampler": "group_by_label"}.get(value, value)


def class_label_problems(
    loss_name: str,
    dataset: Any,
    dataset_name: str | None,
    batch_size: int | None,
    batch_sampler: Any,
    label_columns: Sequence[str] | None,
) -> list[str]:
    """Problems of a dataset for a batch triplet loss (class labels, two rows of a class per batch)."""
    column = label_column(dataset, label_columns)
    if column is None:
        return []  # the DataNeeds check reports the missing label column
    values = label_values(dataset, column)
    if values is None or values.size == 0:
        return []
    at = where(dataset_name, column)
    if is_text(values):
        return [
            f"{at} holds strings (e.g. {str(values.reshape(-1)[0])!r}), but {loss_name} needs integer class ids. "
            f"Fix: `dataset = dataset.class_encode_column({column!r})` turns each distinct string into an id."
        ]
    if values.dtype.kind not in "iub":
        return []  # floats: reported by the DataNeeds check (integer labels)
    classes, counts = np.unique(values.reshape(len(values), -1)[:, 0], return_counts=True)
    problems: list[str] = []
    if len(classes) < 2:
        problems.append(
            f"{at} has a single class ({classes[0].item()!r}) in all {len(values)} rows, so {loss_name} finds no negative "
            "for any anchor. Fix: add rows of other classes, or use a pair loss such as contrastive."
        )
    if counts.max() < 2:
        problems.append(
            f"{at} has {len(classes)} classes with one row each, so {loss_name} finds no positive (another row of "
            "the anchor's class) for any anchor. Fix: give each class at least 2 rows (e.g. drop singleton classes "
            "with dataset.filter)."
        )
    if problems or batch_size is None:
        return problems
    batch_size = int(batch_size)
    group_by_label = sampler_name(batch_sampler) == "group_by_label"
    if batch_size < 4:
        problems.append(
            f"{dataset_name or 'the dataset'}: a batch of {batch_size} rows cannot hold two rows of one class and "
            f"two of another, which {loss_name} needs to find a positive and a negative for every anchor. Fix: "
            "set per_device_train_batch_size to at least 4 (an even number) and batch_sampler='group_by_label'."
        )
    elif not group_by_label:
        # Share of anchors that, in a random batch of this size, find another row of their class.
        n = len(values)
        other_rows = max(n - 1, 1)
        has_partner = 1.0 - (1.0 - (counts - 1) / other_rows) ** (min(batch_size, n) - 1)
        expected = float((counts / n * has_partner).sum())
        if expected < 0.5:
            problems.append(
                f"{dataset_name or 'the dataset'}: with batch_size={batch_size} and random batches over "
                f"{len(classes)} classes, only about {expected:.0%} of the rows of a batch would have another row of "
                f"their class in it, so {loss_name} would find no positive for most anchors. Fix: use the "
                "group_by_label batch sampler (batch_sampler='group_by_label', i.e. BatchSamplers.GROUP_BY_LABEL, "
                "which puts every label of a batch in it at least twice), or raise the batch size."
            )
    return problems
