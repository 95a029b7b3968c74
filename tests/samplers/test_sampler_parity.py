"""The built-in samplers yield the batches sentence-transformers 6.2 yields for the same seed.

The algorithms are deterministic given the seed, so the comparison is exact. One deliberate
difference: where duplicates make sentence-transformers' ``NoDuplicatesBatchSampler`` yield more
batches than its ``len()`` (``drop_last=False``), ours stops at ``len()``; the batches it yields are
the first ``len()`` of sentence-transformers'.
"""

from __future__ import annotations

import pytest
import sentence_transformers.base.sampler as st_sampler
import torch
from torch.utils.data import ConcatDataset, RandomSampler

from sentrix.registry import batch_samplers, multi_dataset_batch_samplers

pytestmark = pytest.mark.oracle


def _pair(ours_name, st_cls, dataset, batch_size, drop_last, seed, **st_kwargs):
    ours = batch_samplers.create(
        ours_name, dataset, batch_size=batch_size, drop_last=drop_last, valid_label_columns=["label"],
        generator=torch.Generator(), seed=seed,
    )
    theirs = st_cls(dataset, batch_size, drop_last, ["label"], torch.Generator(), seed, **st_kwargs)
    return ours, theirs


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [4, 16])
@pytest.mark.parametrize("name, st_kwargs", [("no_duplicates", {}), ("no_duplicates_hashed", {"precompute_hashes": True, "precompute_num_proc": 1})])
def test_no_duplicates_matches_sentence_transformers(dup_dataset, drop_last, batch_size, name, st_kwargs):
    ours, theirs = _pair(name, st_sampler.NoDuplicatesBatchSampler, dup_dataset, batch_size, drop_last, 42, **st_kwargs)
    for epoch in (0, 1, 5):
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        assert len(ours) == len(theirs)
        assert list(ours) == list(theirs)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [4, 6, 32])
def test_group_by_label_matches_sentence_transformers(dup_dataset, drop_last, batch_size):
    ours, theirs = _pair("group_by_label", st_sampler.GroupByLabelBatchSampler, dup_dataset, batch_size, drop_last, 7)
    for epoch in (0, 3):
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


@pytest.mark.parametrize("drop_last", [False, True])
def test_default_sampler_first_epoch_matches_sentence_transformers(dup_dataset, drop_last):
    # sentence-transformers builds DefaultBatchSampler(RandomSampler(dataset, generator)) with the
    # generator seeded once with the seed; epoch 0 therefore draws the same permutation.
    generator = torch.Generator().manual_seed(3)
    theirs = st_sampler.DefaultBatchSampler(RandomSampler(dup_dataset, generator=generator), batch_size=16, drop_last=drop_last)
    ours = batch_samplers.create("batch_sampler", dup_dataset, batch_size=16, drop_last=drop_last, seed=3)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


@pytest.mark.parametrize(
    "name, st_cls", [("proportional", "ProportionalBatchSampler"), ("round_robin", "RoundRobinBatchSampler")]
)
def test_multi_dataset_samplers_match_sentence_transformers(dup_dataset, small_dataset, name, st_cls):
    members = [dup_dataset, small_dataset, dup_dataset.select(range(50))]
    concat = ConcatDataset(members)
    shared_ours, shared_theirs = torch.Generator(), torch.Generator()
    ours_children = [
        batch_samplers.create("no_duplicates", ds, batch_size=8, drop_last=False, valid_label_columns=["label"],
                              generator=shared_ours, seed=11)
        for ds in members
    ]
    their_children = [
        st_sampler.NoDuplicatesBatchSampler(ds, 8, False, ["label"], shared_theirs, 11) for ds in members
    ]
    ours = multi_dataset_batch_samplers.create(name, concat, ours_children, generator=shared_ours, seed=11)
    theirs = getattr(st_sampler, st_cls)(concat, their_children, shared_theirs, 11)
    for epoch in (0, 2):
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)
