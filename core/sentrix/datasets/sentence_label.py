"""``SentenceLabelDataset``: legacy stream of ``InputExample`` with several examples per label in a row.

For batch-triplet losses (BatchHardTripletLoss and friends) in ``model.fit`` scripts, which need
several examples of one label in a batch; ``model.fit`` then trains with the ``group_by_label``
batch sampler. Labels with fewer than ``samples_per_label`` examples are left out. Randomness
comes from NumPy's global generator, as in sentence-transformers.
New code: ``SentenceTransformerTrainingArguments(batch_sampler="group_by_label")``.

Example::

    dataset = SentenceLabelDataset(examples, samples_per_label=4)
    loader = DataLoader(dataset, batch_size=32)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import IterableDataset

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)


class SentenceLabelDataset(IterableDataset):
    """Draws ``samples_per_label`` distinct examples of one label at a time, label after label.

    :param examples: ``InputExample`` objects with a ``label``.
    :param samples_per_label: examples drawn per label per turn (make the batch size a multiple of it).
    :param with_replacement: allow an example to be drawn again in later turns of the same pass.
    """

    def __init__(self, examples: list[Any], samples_per_label: int = 2, with_replacement: bool = False) -> None:
        super().__init__()
        if isinstance(samples_per_label, bool) or not isinstance(samples_per_label, int) or samples_per_label < 1:
            raise InvalidInputError(
                f"SentenceLabelDataset: samples_per_label must be a positive integer, got {samples_per_label!r}. "
                "Fix: pass e.g. samples_per_label=2 (and a batch size that is a multiple of it)."
            )
        self.samples_per_label = samples_per_label
        self.with_replacement = with_replacement
        by_label: dict[Any, list[Any]] = {}
        for example in examples:
            by_label.setdefault(example.label, []).append(example)
        self.grouped_inputs: list[Any] = []
        self.groups_right_border: list[int] = []
        for label_examples in by_label.values():
            if len(label_examples) >= samples_per_label:
                self.grouped_inputs.extend(label_examples)
                self.groups_right_border.append(len(self.grouped_inputs))
        self.label_range = np.arange(len(self.groups_right_border))
        np.random.shuffle(self.label_range)
        logger.info(
            "SentenceLabelDataset: %d of %d examples usable (labels with at least %d examples), %d labels.",
            len(self.grouped_inputs), len(examples), samples_per_label, len(self.groups_right_border),
        )

    def __iter__(self) -> Iterator[Any]:
        if not len(self.label_range):
            return
        position, drawn = 0, 0
        used: dict[int, set[int]] = {}
        while drawn < len(self.grouped_inputs):
            label = int(self.label_range[position])
            start = 0 if label == 0 else self.groups_right_border[label - 1]
            end = self.groups_right_border[label]
            taken = used.setdefault(label, set())
            candidates = list(range(start, end)) if self.with_replacement else [i for i in range(start, end) if i not in taken]
            if len(candidates) >= self.samples_per_label:
                for index in np.random.choice(candidates, self.samples_per_label, replace=False):
                    drawn += 1
                    taken.add(int(index))
                    yield self.grouped_inputs[index]
            position += 1
            if position >= len(self.label_range):
                position = 0
                used = {}
                np.random.shuffle(self.label_range)

    def __len__(self) -> int:
        return len(self.grouped_inputs)
