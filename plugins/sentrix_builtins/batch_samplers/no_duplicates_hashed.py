"""``no_duplicates_hashed``: ``no_duplicates`` that remembers 64-bit hashes instead of the values.

Documented on the class below (``sentrix plugins show NAME`` prints it).
"""

from __future__ import annotations

from typing import Any

import torch

from sentrix_builtins.batch_samplers.no_duplicates import NoDuplicatesBatchSampler

__all__ = ["NoDuplicatesHashedBatchSampler"]


class NoDuplicatesHashedBatchSampler(NoDuplicatesBatchSampler):
    """``no_duplicates_hashed``: ``no_duplicates`` that remembers 64-bit hashes instead of the values.

    Exactly the batches of ``no_duplicates`` (same greedy rule, same order for the same seed), but
    before the first epoch every cell of the compared columns is hashed once to a 64-bit integer
    (xxhash64 when the ``xxhash`` package is installed, blake2b otherwise) and only the hashes are
    kept: 8 bytes per cell instead of the text, and media cells (images, audio) are decoded once
    instead of at every comparison. Two different values with the same hash (about one chance in
    10^19 per pair) would merely be kept in different batches.

    The data it needs: a ``datasets.Dataset`` (its columns are read) with any number of text
    columns, compared as strings, then hashed; label columns named in ``valid_label_columns`` are
    ignored. Recommended for the same losses as ``no_duplicates`` (in-batch negatives) when the
    dataset is large or holds media. Registered as ``no_duplicates_hashed``
    (``BatchSamplers.NO_DUPLICATES_HASHED``) with the alias ``NoDuplicatesHashedBatchSampler``.

    Args:
        dataset: the ``datasets.Dataset`` to sample from.
        batch_size: rows per batch.
        drop_last: leave out the last batch when it is smaller than ``batch_size``.
        valid_label_columns: label column names; their values are not compared. Default ``None``.
        generator: ``torch.Generator`` re-seeded with ``seed + epoch`` every epoch; one is made when
            omitted.
        seed: base seed (default 0).
        precompute_num_proc: processes for hashing (``datasets.map``); ``None`` (default) or 1 hashes
            in this process.
        precompute_batch_size: rows hashed per chunk (default 1000).

    Example:
        .. code-block:: python

            from datasets import Dataset
            from sentrix.registry import batch_samplers

            ds = Dataset.from_dict({"query": ["q1", "q2", "q1"], "document": ["d1", "d2", "d3"]})
            sampler = batch_samplers.create("no_duplicates_hashed", ds, batch_size=2, drop_last=False, seed=0)
            print(list(sampler))      # rows 0 and 2 share "q1", so never share a batch

    References:
        sentence-transformers 6.2 ``NoDuplicatesBatchSampler(precompute_hashes=True)``.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = 0,
        precompute_num_proc: int | None = None,
        precompute_batch_size: int = 1000,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
            precompute_hashes=True,
            precompute_num_proc=precompute_num_proc,
            precompute_batch_size=precompute_batch_size,
        )
