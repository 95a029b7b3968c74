"""What a loss needs from a dataset, declared on the loss and checked before the first step.

A loss class sets ``data_needs``::

    class CoSENTLoss(nn.Module):
        data_needs = DataNeeds(text_columns=2, roles=("sentence_A", "sentence_B"), label="float")

The trainer compares every dataset with its loss's needs before training starts, and
``sentrix plugins show NAME`` prints them.
"""

from __future__ import annotations

from typing import Literal

import attrs

LabelKind = Literal["none", "float", "int", "any"]


@attrs.frozen
class DataNeeds:
    """A loss's demands on its dataset.

    :param text_columns: exact number of text (input) columns, or ``(min, max)`` with ``max=None``
        for "any number from min up".
    :param roles: names of the text columns in order, for messages and docs; a trailing ``"..."``
        role repeats (e.g. ``("anchor", "positive", "negative...")``).
    :param label: ``"none"`` (no label column allowed), ``"float"`` (a score per row),
        ``"int"`` (a class id per row) or ``"any"`` (optional label of any kind).
    :param in_batch_negatives: the loss uses the other rows of the batch as negatives, so
        duplicates in a batch hurt and gradient accumulation adds no negatives.
    :param recommended_sampler: the registered batch sampler that suits the loss.
    :param label_detail: what the label holds when a single number per row does not say it, e.g.
        ``"teacher embeddings, shape (batch, teacher_dim)"``; printed by ``sentrix plugins show``.
    """

    text_columns: int | tuple[int, int | None] = (1, None)
    roles: tuple[str, ...] = ()
    label: LabelKind = "any"
    in_batch_negatives: bool = False
    recommended_sampler: str | None = None
    label_detail: str | None = None

    @property
    def min_columns(self) -> int:
        return self.text_columns if isinstance(self.text_columns, int) else self.text_columns[0]

    @property
    def max_columns(self) -> int | None:
        return self.text_columns if isinstance(self.text_columns, int) else self.text_columns[1]

    def accepts_column_count(self, n: int) -> bool:
        top = self.max_columns
        return n >= self.min_columns and (top is None or n <= top)

    def describe_columns(self) -> str:
        lo, hi = self.min_columns, self.max_columns
        count = f"{lo}" if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
        roles = f" ({', '.join(self.roles)})" if self.roles else ""
        return f"{count} text column{'s' if hi != 1 else ''}{roles}"

    def describe(self) -> str:
        """One human-readable paragraph, as ``sentrix plugins show`` prints it."""
        label = {
            "none": "no label column",
            "float": "a float label column (a score per row)",
            "int": "an integer label column (a class per row)",
            "any": "an optional label column",
        }[self.label]
        if self.label_detail:
            label = f"{label.split(' (')[0]} ({self.label_detail})"
        parts = [f"needs {self.describe_columns()} and {label}"]
        if self.in_batch_negatives:
            parts.append("uses in-batch negatives (duplicates in a batch hurt; gradient accumulation adds no negatives)")
        if self.recommended_sampler:
            parts.append(f"recommended batch sampler: {self.recommended_sampler}")
        return "; ".join(parts) + "."


def data_needs_of(component: object) -> DataNeeds | None:
    """The ``DataNeeds`` a component (class or instance) declares, or ``None``."""
    needs = getattr(component, "data_needs", None)
    return needs if isinstance(needs, DataNeeds) else None
