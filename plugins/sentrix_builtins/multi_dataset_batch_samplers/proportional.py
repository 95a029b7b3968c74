"""``proportional``: every batch of every dataset, interleaved at random in proportion to size (default).

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

from typing import Iterator

import torch

from sentrix.plugin_api import MultiDatasetDefaultBatchSampler, dataset_offsets

__all__ = ["ProportionalBatchSampler"]


class ProportionalBatchSampler(MultiDatasetDefaultBatchSampler):
    """``proportional``: every batch of every dataset, interleaved at random in proportion to size (default).

    Makes a list with one entry per batch of each dataset (a dataset with 30 batches appears 30
    times), shuffles it (from ``seed + epoch``), and for each entry yields the next batch of that
    dataset. Every row of every dataset is used once per epoch and larger datasets are drawn from
    more often, spread evenly over the epoch. ``len(sampler)`` is the sum of the member samplers'
    lengths. Each batch comes from one dataset.

    The default multi-dataset sampler (``MultiDatasetBatchSamplers.PROPORTIONAL``). Use
    ``round_robin`` for equal weight per dataset. Registered as ``proportional`` with the alias
    ``ProportionalBatchSampler``.

    Args:
        dataset: the ``torch.utils.data.ConcatDataset`` of the datasets, in the order of
            ``batch_samplers``.
        batch_samplers: one batch sampler per dataset, same order; their indices are local to their
            dataset and are offset into the ``ConcatDataset`` here.
        generator: ``torch.Generator`` re-seeded with ``seed + epoch`` every epoch; one is made when
            omitted.
        seed: base seed (default 0).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from torch.utils.data import ConcatDataset
            from sentrix.registry import batch_samplers, multi_dataset_batch_samplers

            a = Dataset.from_dict({"text": [f"a{i}" for i in range(6)]})
            b = Dataset.from_dict({"text": [f"b{i}" for i in range(2)]})
            children = [batch_samplers.create("batch_sampler", d, batch_size=2, drop_last=False) for d in (a, b)]
            sampler = multi_dataset_batch_samplers.create("proportional", ConcatDataset([a, b]), children, seed=0)
            print(len(sampler), list(sampler))   # 4 batches: three from a (rows 0-5), one from b (rows 6-7)

    References:
        sentence-transformers 6.2 ``ProportionalBatchSampler``; the interleaving order is drawn the
        same way, so the same seed gives the same dataset order.
    """

    def __iter__(self) -> Iterator[list[int]]:
        generator = self.epoch_generator()
        offsets = dataset_offsets(self.dataset)
        slots = [member for member, sampler in enumerate(self.batch_samplers) for _ in range(len(sampler))]
        # Draw the interleaving before any member sampler starts (they re-seed a shared generator).
        order = torch.randperm(len(slots), generator=generator).tolist()
        iterators = [iter(sampler) for sampler in self.batch_samplers]
        for position in order:
            member = slots[position]
            batch = next(iterators[member], None)
            if batch is None:  # a member yielded fewer batches than its len(); skip its slot
                continue
            yield [offsets[member] + index for index in batch]

    def __len__(self) -> int:
        return sum(len(sampler) for sampler in self.batch_samplers)
