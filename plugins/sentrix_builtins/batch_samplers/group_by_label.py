"""``group_by_label``: batches of label pairs, so every batch holds several classes twice or more.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Hashable, Iterator

import torch

from sentrix.plugin_api import DefaultBatchSampler, InvalidInputError

__all__ = ["GroupByLabelBatchSampler"]


class GroupByLabelBatchSampler(DefaultBatchSampler):
    """``group_by_label``: batches of label pairs, so every batch holds several classes twice or more.

    Groups the rows by label and shuffles each group (from ``seed + epoch``); a group with an odd
    number of rows loses its last shuffled row for the epoch. Then the labels take turns, in a
    freshly shuffled order every round, each adding 2 rows to one long stream, until fewer than two
    labels have rows left. The stream is cut into batches of ``batch_size``.

    Guarantees, for every batch: ``batch_size`` rows (the last one may be smaller, at least 4 rows,
    when ``drop_last=False``), at least 2 distinct labels, and every label in it present at least
    twice: what batch triplet losses need to find a positive and a negative for each anchor.
    ``len(sampler)`` is exact. Rows of the most frequent label beyond what the other labels can be
    interleaved with are not used in that epoch (a different subset is left out every epoch).

    The data it needs: a ``datasets.Dataset`` whose label column (the first of
    ``valid_label_columns`` it has) holds hashable class ids (int or str), with at least 2 labels of
    at least 2 rows each; ``batch_size`` even and at least 4. Recommended for BatchAllTripletLoss,
    BatchHardTripletLoss, BatchSemiHardTripletLoss and BatchHardSoftMarginTripletLoss. Registered as
    ``group_by_label`` (``BatchSamplers.GROUP_BY_LABEL``) with the alias ``GroupByLabelBatchSampler``.

    Args:
        dataset: the ``datasets.Dataset`` to sample from.
        batch_size: rows per batch; even and at least 4.
        drop_last: leave out the last, smaller batch.
        valid_label_columns: candidate label column names; the first one present is used.
            Default ``None``.
        generator: ``torch.Generator`` re-seeded with ``seed + epoch`` every epoch; one is made when
            omitted.
        seed: base seed (default 0).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix.registry import batch_samplers

            ds = Dataset.from_dict({"sentence": [f"s{i}" for i in range(12)], "label": [0, 1, 2] * 4})
            sampler = batch_samplers.create(
                "group_by_label", ds, batch_size=4, drop_last=False, valid_label_columns=["label"], seed=0
            )
            for batch in sampler:
                print([ds[i]["label"] for i in batch])    # e.g. [2, 2, 0, 0]

    References:
        sentence-transformers 6.2 ``GroupByLabelBatchSampler``; the same seed gives the same
        batches.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = 0,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        name = type(self).__name__
        if batch_size < 4 or batch_size % 2:
            raise InvalidInputError(
                f"{name}: batch_size must be an even number >= 4 (batches are built from pairs of "
                f"same-label rows, at least two labels each), got {batch_size}. Use e.g. batch_size=32."
            )
        label_column = self.label_column()
        if label_column is None:
            raise InvalidInputError(
                f"{name}: none of the label columns {self.valid_label_columns or []} is in the dataset, "
                f"whose columns are {list(getattr(dataset, 'column_names', []) or [])}. Add a 'label' "
                "column with the class of each row, or name yours in valid_label_columns."
            )
        self.label_column_name = label_column
        groups: dict[Hashable, list[int]] = {}
        for row, label in enumerate(_raw_column(dataset, label_column)):
            key = tuple(label) if isinstance(label, list) else label
            groups.setdefault(key, []).append(row)
        self.groups = {label: rows for label, rows in groups.items() if len(rows) >= 2}
        if len(self.groups) < 2:
            raise InvalidInputError(
                f"{name}: needs at least 2 labels with at least 2 rows each in column {label_column!r}, "
                f"but only {len(self.groups)} of the {len(groups)} labels qualify. Use a dataset with "
                "more classes, or another batch sampler."
            )
        pair_counts = sorted((len(rows) // 2 for rows in self.groups.values()), reverse=True)
        rounds = pair_counts[1]  # the stream stops once only the largest label has pairs left
        self._stream_length = 2 * sum(min(count, rounds) for count in pair_counts)

    def __iter__(self) -> Iterator[list[int]]:
        generator = self.epoch_generator()
        queues: dict[Hashable, deque[int]] = {}
        for label, rows in self.groups.items():
            keep = len(rows) - len(rows) % 2
            permutation = torch.randperm(len(rows), generator=generator)[:keep].tolist()
            queues[label] = deque(rows[i] for i in permutation)

        active = list(queues)
        pending: list[int] = []
        previous_label: Hashable = None
        while len(active) >= 2:
            active = [active[i] for i in torch.randperm(len(active), generator=generator).tolist()]
            # Two consecutive pairs must never share a label, also across the rounds' boundary.
            if pending and active[0] == previous_label:
                active[0], active[1] = active[1], active[0]
            for label in active:
                queue = queues[label]
                pending.append(queue.popleft())
                pending.append(queue.popleft())
                if len(pending) >= self.batch_size:
                    yield pending[: self.batch_size]
                    pending = pending[self.batch_size :]
            previous_label = active[-1]
            active = [label for label in active if queues[label]]
        if not self.drop_last and len(pending) >= 4:
            yield pending

    def __len__(self) -> int:
        full, rest = divmod(self._stream_length, self.batch_size)
        return full + (1 if not self.drop_last and rest >= 4 else 0)


def _raw_column(dataset: Any, column: str) -> list[Any]:
    with_format = getattr(dataset, "with_format", None)
    source = with_format(None) if with_format is not None else dataset
    return list(source[column])
