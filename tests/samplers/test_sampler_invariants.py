"""What every built-in sampler guarantees, checked directly (no reference implementation)."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
import torch
from accelerate.data_loader import SkipBatchSampler
from datasets import Dataset
from torch.utils.data import ConcatDataset, DataLoader, SequentialSampler

from sentrix.errors import InvalidInputError
from sentrix.registry import batch_samplers, multi_dataset_batch_samplers
from sentrix.sampler import DefaultBatchSampler, MultiDatasetDefaultBatchSampler

SAMPLERS = ["batch_sampler", "no_duplicates", "no_duplicates_hashed", "group_by_label"]


def build(name, dataset, batch_size=8, drop_last=False, seed=0, generator=None):
    return batch_samplers.create(
        name, dataset, batch_size=batch_size, drop_last=drop_last, valid_label_columns=["label", "score"],
        generator=generator, seed=seed,
    )


# -- every sampler -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [4, 10, 64])
def test_len_equals_number_of_batches(dup_dataset, name, drop_last, batch_size):
    sampler = build(name, dup_dataset, batch_size=batch_size, drop_last=drop_last)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        if drop_last:
            assert len(batches) == len(sampler)
            assert all(len(b) == batch_size for b in batches)
        elif name.startswith("no_duplicates"):
            # As in sentence-transformers 6.2: duplicates may split the tail of the pass into extra small
            # batches; they are yielded so that every row is seen exactly once.
            assert len(batches) >= len(sampler)
            assert sorted(i for b in batches for i in b) == list(range(len(dup_dataset)))
        else:
            assert len(batches) == len(sampler)


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_and_epoch_same_order_other_epoch_other_order(dup_dataset, name):
    a, b = build(name, dup_dataset, seed=5), build(name, dup_dataset, seed=5, generator=torch.Generator())
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    a.set_epoch(3)
    assert list(a) != list(b)
    assert list(build(name, dup_dataset, seed=6)) != list(build(name, dup_dataset, seed=5))


@pytest.mark.parametrize("name", SAMPLERS)
def test_resume_by_skipping_batches_reproduces_the_tail(dup_dataset, name):
    """What ``Trainer.train(resume_from_checkpoint=...)`` does: rebuild, set_epoch, skip k batches."""
    full = build(name, dup_dataset, seed=9, generator=torch.Generator().manual_seed(123))
    full.set_epoch(1)
    uninterrupted = list(full)

    resumed = build(name, dup_dataset, seed=9, generator=torch.Generator())  # fresh generator state
    resumed.set_epoch(1)
    skip = 7
    tail = list(SkipBatchSampler(resumed, skip_batches=skip))
    assert tail == uninterrupted[skip:]


def test_resume_through_accelerate_skip_first_batches(dup_dataset):
    from accelerate import skip_first_batches

    def loader():
        sampler = build("no_duplicates", dup_dataset, seed=1)
        sampler.set_epoch(2)
        return DataLoader(dup_dataset, batch_sampler=sampler, collate_fn=lambda rows: [r["anchor"] for r in rows])

    everything = list(loader())
    assert list(skip_first_batches(loader(), 4)) == everything[4:]


@pytest.mark.parametrize("name", ["batch_sampler", "no_duplicates", "no_duplicates_hashed"])
def test_every_row_once_per_epoch_without_duplicates_in_the_data(name):
    dataset = Dataset.from_dict({"anchor": [f"a{i}" for i in range(300)], "positive": [f"p{i}" for i in range(300)]})
    batches = list(build(name, dataset, batch_size=16))
    rows = [i for b in batches for i in b]
    assert sorted(rows) == list(range(300))


# -- no_duplicates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["no_duplicates", "no_duplicates_hashed"])
@pytest.mark.parametrize("drop_last", [False, True])
def test_no_value_twice_in_a_batch_across_all_text_columns(dup_dataset, name, drop_last):
    sampler = build(name, dup_dataset, batch_size=16, drop_last=drop_last)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for batch in sampler:
            values = [v for i in batch for v in {dup_dataset[i]["anchor"], dup_dataset[i]["positive"]}]
            assert len(values) == len(set(values)), batch


def test_label_values_are_not_compared():
    # every row has the same label and score; texts are all distinct: nothing is a duplicate
    dataset = Dataset.from_dict({"a": [f"a{i}" for i in range(12)], "label": [1] * 12, "score": [0.5] * 12})
    assert [len(b) for b in build("no_duplicates", dataset, batch_size=4)] == [4, 4, 4]


def test_dataset_name_column_is_not_compared():
    dataset = Dataset.from_dict({"a": [f"a{i}" for i in range(8)], "dataset_name": ["one"] * 8})
    assert [len(b) for b in build("no_duplicates", dataset, batch_size=4)] == [4, 4]


def test_a_value_in_different_columns_counts_as_duplicate():
    # "x" is row 0's anchor and row 1's positive: those two rows never share a batch
    dataset = Dataset.from_dict({"anchor": ["x", "y", "z", "w", "v"], "positive": ["p", "x", "q", "r", "s"]})
    sampler = build("no_duplicates", dataset, batch_size=4)
    for epoch in range(10):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == 2 and sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
        assert not any({0, 1} <= set(batch) for batch in batches)


def test_short_pass_is_topped_up_to_len(caplog):
    # 3 distinct anchors, batch of 3, drop_last: passes yield fewer full batches than 12 // 3
    dataset = Dataset.from_dict({"anchor": ["a", "b", "c", "a", "a", "a", "b", "c", "b", "a", "c", "a"]})
    sampler = build("no_duplicates", dataset, batch_size=3, drop_last=True)
    with caplog.at_level(logging.WARNING):
        batches = list(sampler)
    assert len(batches) == len(sampler) == 4
    assert all(sorted(dataset[i]["anchor"] for i in b) == ["a", "b", "c"] for b in batches)
    assert "drawn from a new shuffle" in caplog.text


def test_surplus_small_batches_are_yielded_so_every_row_is_seen(caplog):
    dataset = Dataset.from_dict({"anchor": ["a"] * 5 + ["b", "c", "d"]})
    sampler = build("no_duplicates", dataset, batch_size=4, drop_last=False)
    with caplog.at_level(logging.WARNING):
        batches = list(sampler)
    assert len(sampler) == 2
    assert len(batches) == 5  # five "a" rows need five batches
    assert sorted(i for b in batches for i in b) == list(range(8))
    assert "3 more than the 2 announced" in caplog.text


def test_too_few_distinct_values_is_a_clear_error():
    dataset = Dataset.from_dict({"anchor": ["a", "b", "a", "b", "a", "b", "a", "b"]})
    sampler = build("no_duplicates", dataset, batch_size=4, drop_last=True)
    with pytest.raises(InvalidInputError, match=r"cannot fill a single batch of 4 rows without repeating a value.*Lower the batch size"):
        list(sampler)


def test_hashed_and_plain_give_the_same_batches(dup_dataset):
    plain, hashed = build("no_duplicates", dup_dataset, seed=4), build("no_duplicates_hashed", dup_dataset, seed=4)
    assert list(plain) == list(hashed)
    # 8 bytes per compared cell: one (rows, text columns) int64 matrix
    assert hashed._row_values.dtype.name == "int64" and hashed._row_values.shape == (len(dup_dataset), 2)


@pytest.mark.parametrize("name", ["no_duplicates", "no_duplicates_hashed"])
def test_a_plain_list_of_rows_works_too(name):
    rows = [{"anchor": "a", "label": 1}, {"anchor": "a", "label": 2}, {"anchor": "b", "label": 1}, {"anchor": "c", "label": 1}]
    sampler = build(name, rows, batch_size=2, drop_last=False)
    for epoch in range(5):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(sampler) == 2
        assert sorted(i for b in batches for i in b) == [0, 1, 2, 3]
        assert not any({0, 1} <= set(batch) for batch in batches)


def test_hashing_with_several_processes(small_dataset):
    sampler = batch_samplers.get("no_duplicates_hashed")(
        small_dataset, batch_size=8, drop_last=False, valid_label_columns=["label"], precompute_num_proc=2
    )
    assert list(sampler) == list(build("no_duplicates", small_dataset, seed=0))


def test_no_duplicates_reads_raw_values_not_the_transform():
    dataset = Dataset.from_dict({"anchor": ["a", "b", "c", "d"]})
    dataset.set_transform(lambda batch: {"anchor": ["same"] * len(batch["anchor"])})
    assert [len(b) for b in build("no_duplicates", dataset, batch_size=4)] == [4]


# -- group_by_label ----------------------------------------------------------------------------


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [4, 8, 12])
def test_group_by_label_guarantees(dup_dataset, drop_last, batch_size):
    labels = dup_dataset["label"]
    sampler = build("group_by_label", dup_dataset, batch_size=batch_size, drop_last=drop_last)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        seen = [i for b in batches for i in b]
        assert len(seen) == len(set(seen))
        for batch in batches:
            counts = Counter(labels[i] for i in batch)
            assert len(counts) >= 2, counts
            assert min(counts.values()) >= 2, counts
            assert len(batch) == batch_size or (not drop_last and batch is batches[-1] and len(batch) >= 4)


@pytest.mark.parametrize("batch_size", [2, 5, 7])
def test_group_by_label_rejects_odd_or_small_batch_size(small_dataset, batch_size):
    with pytest.raises(InvalidInputError, match=rf"batch_size must be an even number >= 4 .* got {batch_size}"):
        build("group_by_label", small_dataset, batch_size=batch_size)


def test_group_by_label_needs_a_label_column():
    dataset = Dataset.from_dict({"text": ["a", "b", "c", "d"]})
    with pytest.raises(InvalidInputError, match=r"none of the label columns \['label', 'score'\] is in the dataset, whose columns are \['text'\]"):
        build("group_by_label", dataset, batch_size=4)


def test_group_by_label_needs_two_labels_with_two_rows():
    dataset = Dataset.from_dict({"text": list("abcde"), "label": [0, 0, 0, 1, 2]})
    with pytest.raises(InvalidInputError, match=r"needs at least 2 labels with at least 2 rows each in column 'label', but only 1 of the 3"):
        build("group_by_label", dataset, batch_size=4)


# -- multi-dataset ---------------------------------------------------------------------------------


def _multi(name, make_dataset, sizes=(40, 17, 9), batch_size=4, seed=3, child="batch_sampler"):
    members = [make_dataset(rows=n, distinct=n, seed=i) for i, n in enumerate(sizes)]
    concat = ConcatDataset(members)
    children = [build(child, ds, batch_size=batch_size, seed=seed) for ds in members]
    bounds, start = [], 0
    for n in sizes:
        bounds.append(range(start, start + n))
        start += n
    return multi_dataset_batch_samplers.create(name, concat, children, seed=seed), bounds, children


@pytest.mark.parametrize("name", ["proportional", "round_robin"])
@pytest.mark.parametrize("child", ["batch_sampler", "no_duplicates"])
def test_each_batch_from_one_dataset_and_honest_len(name, child, make_dataset):
    sampler, bounds, _ = _multi(name, make_dataset, child=child)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        for batch in batches:
            assert sum(all(i in r for i in batch) for r in bounds) == 1, batch


def test_proportional_uses_every_row_once(make_dataset):
    sampler, bounds, _ = _multi("proportional", make_dataset)
    rows = sorted(i for b in sampler for i in b)
    assert rows == list(range(bounds[-1].stop))


def test_round_robin_alternates_and_stops_with_the_smallest(make_dataset):
    sampler, bounds, children = _multi("round_robin", make_dataset)
    owners = [next(k for k, r in enumerate(bounds) if batch[0] in r) for batch in sampler]
    rounds = min(len(c) for c in children)
    assert owners == [0, 1, 2] * rounds


def test_multi_set_epoch_reaches_children_and_reorders(make_dataset):
    sampler, _, children = _multi("proportional", make_dataset)
    first = list(sampler)
    sampler.set_epoch(4)
    assert all(child.epoch == 4 for child in children)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_multi_dataset_needs_one_sampler_per_dataset(make_dataset):
    a = make_dataset(rows=8)
    with pytest.raises(InvalidInputError, match=r"got 1 batch samplers for a ConcatDataset of 2 datasets"):
        multi_dataset_batch_samplers.create("proportional", ConcatDataset([a, a]), [build("batch_sampler", a)])


def test_multi_dataset_needs_a_concat_dataset(make_dataset):
    a = make_dataset(rows=8)
    with pytest.raises(InvalidInputError, match=r"dataset must be a torch.utils.data.ConcatDataset"):
        multi_dataset_batch_samplers.create("round_robin", a, [build("batch_sampler", a)])


# -- base classes and names ------------------------------------------------------------------------


def test_default_sampler_accepts_a_torch_sampler_like_batch_sampler(make_dataset):
    sampler = DefaultBatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False)
    assert list(sampler) == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(sampler) == 3


@pytest.mark.parametrize("batch_size", [0, -2, 2.5, True])
def test_bad_batch_size_is_named(batch_size, make_dataset):
    with pytest.raises(InvalidInputError, match=rf"DefaultBatchSampler: batch_size must be a positive integer, got {batch_size!r}"):
        DefaultBatchSampler(make_dataset(rows=4), batch_size=batch_size, drop_last=False)


def test_bad_drop_last_is_named(make_dataset):
    with pytest.raises(InvalidInputError, match=r"drop_last must be True or False, got 'yes'"):
        DefaultBatchSampler(make_dataset(rows=4), batch_size=2, drop_last="yes")


def test_a_custom_subclass_gets_reproducible_randomness(make_dataset):
    class EveryOther(DefaultBatchSampler):
        """Batches of the even rows, then the odd rows, shuffled per epoch."""

        def __iter__(self):
            order = torch.randperm(len(self.dataset), generator=self.epoch_generator()).tolist()
            yield sorted(i for i in order if i % 2 == 0)
            yield [i for i in order if i % 2]

        def __len__(self):
            return 2

    sampler = EveryOther(make_dataset(rows=10), batch_size=5, drop_last=False, seed=1)
    sampler.set_epoch(3)
    first = list(sampler)
    assert list(sampler) == first and len(first) == len(sampler)


def test_names_and_module_attributes():
    import sentrix.sampler as module

    assert module.NoDuplicatesBatchSampler is batch_samplers.get("no_duplicates")
    assert module.GroupByLabelBatchSampler is batch_samplers.get("group_by_label")
    assert module.RoundRobinBatchSampler is multi_dataset_batch_samplers.get("round_robin")
    assert module.DefaultBatchSampler is batch_samplers.get("batch_sampler") is batch_samplers.get("DefaultBatchSampler")
    assert issubclass(multi_dataset_batch_samplers.get("ProportionalBatchSampler"), MultiDatasetDefaultBatchSampler)
    assert "NoDuplicatesBatchSampler" in dir(module)
    with pytest.raises(AttributeError, match=r"module 'sentrix.sampler' has no attribute 'NoDupesBatchSampler'"):
        module.NoDupesBatchSampler  # noqa: B018


def test_every_enum_value_is_a_registered_sampler():
    from sentrix.sampler import BatchSamplers, MultiDatasetBatchSamplers

    for member in BatchSamplers:
        assert issubclass(batch_samplers.get(member.value), DefaultBatchSampler)
    for member in MultiDatasetBatchSamplers:
        assert issubclass(multi_dataset_batch_samplers.get(member.value), MultiDatasetDefaultBatchSampler)
