"""``round_robin``: one batch from each dataset in turn, until the smallest runs out.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

from typing import Iterator

from sentrix.plugin_api import MultiDatasetDefaultBatchSampler, dataset_offsets

__all__ = ["RoundRobinBatchSampler"]


class RoundRobinBatchSampler(MultiDatasetDefaultBatchSampler):
    """``round_robin``: one batch from each dataset in turn, until the smallest runs out.

    Takes one batch from the first dataset, one from the second, ... and starts over, for as many
    full rounds as the dataset with the fewest batches allows. Every dataset contributes the same
    number of batches; rows of the larger datasets beyond that are not used in the epoch (their batch
    samplers reshuffle every epoch, so other rows get their turn). ``len(sampler)`` = fewest batches
    of any dataset x number of datasets. Each batch comes from one dataset.

    Use it when each dataset should weigh the same whatever its size (e.g. a small in-domain set next
    to a large generic one); ``proportional`` (the default) instead uses every row once. Registered as
    ``round_robin`` (``MultiDatasetBatchSamplers.ROUND_ROBIN``) with the alias
    ``RoundRobinBatchSampler``.

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
            sampler = multi_dataset_batch_samplers.create("round_robin", ConcatDataset([a, b]), children, seed=0)
            print(list(sampler))   # e.g. [[3, 0], [7, 6]]: one batch of a (rows 0-5), one of b (rows 6-7)

    References:
        sentence-transformers 6.2 ``RoundRobinBatchSampler``.
    """

    def __iter__(self) -> Iterator[list[int]]:
        # Re-seed a shared generator (as sentence-transformers does) for members that draw from it
        # without re-seeding; the built-in members re-seed it themselves.
        self.epoch_generator()
        offsets = dataset_offsets(self.dataset)
        rounds = min(len(sampler) for sampler in self.batch_samplers)
        iterators = [iter(sampler) for sampler in self.batch_samplers]
        for _ in range(rounds):
            for offset, iterator in zip(offsets, iterators):
                batch = next(iterator, None)
                if batch is None:
                    return
                yield [offset + index for index in batch]

    def __len__(self) -> int:
        return min(len(sampler) for sampler in self.batch_samplers) * len(self.batch_samplers)
