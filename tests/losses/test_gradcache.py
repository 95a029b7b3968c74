"""The shared gradient-cache engine (sentrix.gradcache): cached losses equal their plain twins.

No oracle here: each cached loss is compared with its non-cached twin on the same model and
batch, for several mini-batch sizes and token budgets, in float64 to rtol 1e-9.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from group_a_helpers import assert_strictly_equal, loss_and_grads
from loss_test_helpers import make_batch

from sentrix.plugin_api import (
    ROW_PACKING_KEY,
    CachedLossMixin,
    InvalidInputError,
    RandContext,
    cos_sim,
    length_sorted_minibatches,
    minibatch_ranges,
    slice_minibatch,
    uses_gradient_cache,
)
from sentrix.registry import losses as registry


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model64(tiny_model_dir):
    from sentrix import SentenceTransformer

    return SentenceTransformer(tiny_model_dir, device="cpu").eval().double()


@pytest.fixture(scope="module")
def guide64(tmp_path_factory):
    from sentrix import SentenceTransformer
    from sentrix.testing.tiny_models import tiny_model_folder

    return SentenceTransformer(str(tiny_model_folder(tmp_path_factory.mktemp("guide"), seed=5)), device="cpu").eval().double()


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from sentrix.testing.tiny_models import tiny_model_folder

    return str(tiny_model_folder(tmp_path_factory.mktemp("tiny_gradcache"), seed=1234))


SIZES = [{"mini_batch_size": 1}, {"mini_batch_size": 3}, {"mini_batch_size": 7}, {"mini_batch_size": 64},
         {"mini_batch_num_tokens": 25}, {"mini_batch_num_tokens": 1}]
SIZE_IDS = ["mbs1", "mbs3", "mbs7", "mbs64", "tok25", "tok1"]

TWINS = {
    "mnrl-hard-negatives": ("cached_multiple_negatives_ranking", "multiple_negatives_ranking", 4, {}),
    "mnrl-all-options": (
        "cached_multiple_negatives_ranking", "multiple_negatives_ranking", 3,
        {"directions": ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc"),
         "hardness_mode": "all_negatives", "hardness_strength": 4.0, "scale": 15.0},
    ),
    "symmetric": ("cached_multiple_negatives_symmetric_ranking", "multiple_negatives_symmetric_ranking", 3, {}),
    "gist": ("cached_gist_embed", "gist_embed", 3, {"margin": 0.01}),
    "mega-batch-margin": ("mega_batch_margin", "mega_batch_margin", 2, {"negative_margin": 0.9}),
}


def _build(name, model, guide, params, **sizes):
    params = dict(params)
    if "gist" in name:
        params["guide"] = guide
    if name == "mega_batch_margin":
        params["use_mini_batched_version"] = bool(sizes)
        sizes = sizes or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return registry.create(name, model=model, **params, **sizes)


@pytest.mark.parametrize("twin", list(TWINS))
def test_cached_loss_equals_its_plain_twin(model64, guide64, twin):
    cached_name, plain_name, n_columns, params = TWINS[twin]
    batch = make_batch(model64, n_columns, rows=12, seed=3)
    plain = loss_and_grads(model64, _build(plain_name, model64, guide64, params), batch)
    for sizes in SIZES:
        cached = _build(cached_name, model64, guide64, params, **sizes)
        assert uses_gradient_cache(cached)
        assert_strictly_equal(loss_and_grads(model64, cached, batch), plain)


def test_optional_malloc_trim_leaves_the_gradients_unchanged(model64, monkeypatch):
    """SENTRIX_GRADCACHE_TRIM=1 (hand freed heap pages back after each mini-batch) changes memory, not results."""
    import sentrix.gradcache as engine

    batch = make_batch(model64, 3, rows=9, seed=4)
    plain = loss_and_grads(model64, registry.create("multiple_negatives_ranking", model=model64), batch)
    calls = []
    trim = engine._malloc_trim()
    monkeypatch.setattr(engine, "_MALLOC_TRIM", lambda pad: calls.append(pad) or (trim(pad) if trim else 0))
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=4)
    monkeypatch.setenv("SENTRIX_GRADCACHE_TRIM", "0")
    assert_strictly_equal(loss_and_grads(model64, cached, batch), plain)
    assert calls == []  # off by default and with 0
    monkeypatch.setenv("SENTRIX_GRADCACHE_TRIM", "1")
    assert_strictly_equal(loss_and_grads(model64, cached, batch), plain)
    # step 1: once per batch-order or length-grouped mini-batch, whichever a column has more of; step 3: per group
    plans = [cached.minibatch_plan(f, minibatch_ranges(f, 4)) for f in batch]
    groups = [3 if plan is None else len(plan[1]) for plan in plans]
    assert len(calls) == sum(max(3, g) for g in groups) + sum(groups)


def test_gradient_accumulation_scale_reaches_every_mini_batch(model64):
    """The backward hook scales each replayed mini-batch by the incoming gradient (e.g. 1/accumulation steps)."""
    batch = make_batch(model64, 2, rows=8)
    plain = registry.create("multiple_negatives_ranking", model=model64)
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    reference = loss_and_grads(model64, plain, batch)
    model64.zero_grad(set_to_none=True)
    (cached(batch, None) * 0.25).backward()
    scaled = {n: p.grad / 0.25 for n, p in model64.named_parameters() if p.grad is not None}
    assert_strictly_equal((reference[0], scaled), reference)


def test_no_grad_gives_the_value_without_a_hook(model64):
    batch = make_batch(model64, 3, rows=6)
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=2)
    with torch.no_grad():
        value = cached(batch, None)
    assert not value.requires_grad
    expected = registry.create("multiple_negatives_ranking", model=model64)(batch, None)
    torch.testing.assert_close(value, expected.detach(), rtol=1e-9, atol=0)


def _tables(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]


@pytest.mark.parametrize("switch", ["1", "0"])
def test_replayed_embedding_tables_take_sparse_rows_into_one_dense_gradient(model64, monkeypatch, switch):
    """Step 3 runs embedding tables with sparse=True (switch on): same gradients, dense afterwards, flag restored."""
    monkeypatch.setenv("SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS", switch)
    batch = make_batch(model64, 3, rows=10, seed=7)
    plain = loss_and_grads(model64, registry.create("multiple_negatives_ranking", model=model64), batch)
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    seen = []
    hooks = [t.register_forward_hook(lambda m, _a, _o: seen.append((torch.is_grad_enabled(), m.sparse)))
             for t in _tables(model64)]
    try:
        result = loss_and_grads(model64, cached, batch)
    finally:
        for hook in hooks:
            hook.remove()
    assert_strictly_equal(result, plain)
    replayed = {sparse for with_grad, sparse in seen if with_grad}
    assert replayed == {switch == "1"}  # every replayed forward, and only those, ran sparse
    assert {sparse for with_grad, sparse in seen if not with_grad} == {False}
    for table in _tables(model64):
        assert table.sparse is False and table.weight.grad.layout == torch.strided


def test_a_bad_sparse_embeddings_switch_stops_before_any_forward(model64, monkeypatch):
    monkeypatch.setenv("SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS", "maybe")
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    calls = []
    hook = model64.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        with pytest.raises(InvalidInputError, match="SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS"):
            cached(make_batch(model64, 2, rows=7), None)
    finally:
        hook.remove()
    assert calls == []


def test_tables_stay_dense_under_multi_process_training(model64, monkeypatch):
    """With more than one process the reducer expects dense gradients: the replay leaves the tables alone."""
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda *a, **k: 2)
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    seen = []
    hooks = [t.register_forward_hook(lambda m, _a, _o: seen.append(m.sparse)) for t in _tables(model64)]
    try:
        model64.zero_grad(set_to_none=True)
        cached(make_batch(model64, 2, rows=7), None).backward()
    finally:
        for hook in hooks:
            hook.remove()
    assert seen and not any(seen)


def test_sparse_embedding_rows_add_to_an_existing_gradient(model64):
    """Gradient accumulation: a second cached backward adds into the dense gradient the first left."""
    batch = make_batch(model64, 2, rows=8, seed=8)
    plain = registry.create("multiple_negatives_ranking", model=model64)
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    value, once = loss_and_grads(model64, plain, batch)
    model64.zero_grad(set_to_none=True)
    cached(batch, None).backward()
    cached(batch, None).backward()
    twice = {n: p.grad / 2 for n, p in model64.named_parameters() if p.grad is not None}
    assert_strictly_equal((value, twice), (value, once))


def test_unused_or_frozen_embedding_tables_keep_no_gradient(tiny_model_dir):
    """A table no replayed forward used gets None back (optimisers skip it); a frozen one is left alone."""
    from sentrix import SentenceTransformer

    model = SentenceTransformer(tiny_model_dir, device="cpu").double()
    model[0].unused_table = torch.nn.Embedding(10, 4).double()
    words = model[0].auto_model.get_input_embeddings()
    words.weight.requires_grad_(False)
    cached = registry.create("cached_multiple_negatives_ranking", model=model, mini_batch_size=3)
    model.zero_grad(set_to_none=True)
    cached(make_batch(model, 2, rows=7), None).backward()
    assert model[0].unused_table.weight.grad is None
    assert words.weight.grad is None
    trained = [t for t in _tables(model) if t.weight.requires_grad and t is not model[0].unused_table]
    assert trained and all(t.weight.grad is not None and t.weight.grad.layout == torch.strided for t in trained)


def _assert_replayed_bitwise(cached, batch, mini_batches):
    """Run one cached step; every mini-batch's second embedding (with graph) equals its first, bit for bit."""
    seen: dict[bool, list[torch.Tensor]] = {True: [], False: []}
    original = cached.embed_minibatch

    def recording(*args, **kwargs):
        reps, state = original(*args, **kwargs)
        seen[kwargs["with_grad"]].append(reps.detach().clone())
        return reps, state

    cached.embed_minibatch = recording
    cached(batch, None).backward()
    assert len(seen[False]) == len(seen[True]) == mini_batches
    for first, replay in zip(seen[False], seen[True]):
        torch.testing.assert_close(first, replay, rtol=0, atol=0)


def test_dropout_masks_are_replayed(tiny_model_dir):
    """With dropout on, the re-embedding in the backward pass must reproduce the first forward exactly."""
    from sentrix import SentenceTransformer

    model = SentenceTransformer(tiny_model_dir, device="cpu").train().double()
    cached = registry.create("cached_multiple_negatives_ranking", model=model, mini_batch_size=2)
    batch = make_batch(model, 2, rows=6)
    groups = sum(len(cached.minibatch_plan(f, minibatch_ranges(f, 2))[1]) for f in batch)
    _assert_replayed_bitwise(cached, batch, mini_batches=groups)
    # and dropout really was active: two plain forwards differ
    features = make_batch(model, 1, rows=6)[0]
    assert not torch.equal(model(dict(features))["sentence_embedding"], model(dict(features))["sentence_embedding"])


def test_rand_context_restores_and_leaves_the_outer_stream_alone():
    torch.manual_seed(0)
    state = RandContext()
    first = torch.rand(3)
    after = torch.rand(3)
    torch.manual_seed(0)
    torch.rand(3)
    with state:
        replay = torch.rand(3)
    assert torch.equal(first, replay)
    assert torch.equal(torch.rand(3), after)  # the outer stream continues as if no replay happened


def test_minibatch_ranges_by_rows_and_by_tokens():
    mask = torch.tensor([[1] * 5 + [0] * 3, [1] * 8, [1] * 2 + [0] * 6, [1] * 3 + [0] * 5, [1] * 1 + [0] * 7])
    features = {"input_ids": mask.clone(), "attention_mask": mask}
    assert minibatch_ranges(features, 2) == [(0, 2), (2, 4), (4, 5)]
    # row lengths 5, 8, 2, 3, 1; budget 10: 5 | 8+2 | 3+1
    assert minibatch_ranges(features, 2, mini_batch_num_tokens=10) == [(0, 1), (1, 3), (3, 5)]
    # budget 4: a row longer than the budget gets a mini-batch of its own
    assert minibatch_ranges(features, 2, mini_batch_num_tokens=4) == [(0, 1), (1, 2), (2, 3), (3, 5)]


def _run_cost(lengths, run, scale):
    width = max(max(lengths[r] for r in run), 1)
    return len(run) * width * (1 + (width / scale if scale else 0))


def _sorted_cuts(lengths, k):
    """Every cut of the length-sorted rows into ``k`` consecutive runs."""
    from itertools import combinations

    rows = sorted(range(len(lengths)), key=lambda r: (lengths[r], r))
    for cuts in combinations(range(1, len(rows)), k - 1):
        bounds = [0, *cuts, len(rows)]
        yield [rows[bounds[i]:bounds[i + 1]] for i in range(k)]


@pytest.mark.parametrize("scale", [None, 6.0, 192.0])
def test_length_sorted_minibatches_keep_every_run_within_the_budget(scale):
    import random

    rng = random.Random(7)
    for trial in range(60):
        lengths = [rng.choice([2, 3, 5, 8, 13, 21, 40]) for _ in range(rng.randint(1, 9))]
        size = rng.randint(1, 4)
        runs = length_sorted_minibatches(lengths, size, scale)
        assert sorted(r for run in runs for r in run) == list(range(len(lengths)))
        assert all(run == sorted(run) for run in runs)  # batch order inside a run
        spans = [(min(lengths[r] for r in run), max(lengths[r] for r in run)) for run in runs]
        assert all(later[1] <= earlier[0] for earlier, later in zip(spans, spans[1:]))  # longest run first
        # the budget: `size` rows of the mean length, unpadded (or the dearest single row, if dearer)
        mean = sum(lengths) / len(lengths)
        single = max(_run_cost(lengths, [r], scale) for r in range(len(lengths)))
        limit = max(size * mean * (1 + (mean / scale if scale else 0)), single)
        dearest = max(_run_cost(lengths, run, scale) for run in runs)
        assert dearest <= limit * (1 + 1e-9), (trial, lengths, size)
        # as few runs as the budget allows, and the cheapest dearest run for that many (brute force)
        for fewer in range(1, len(runs)):
            assert all(max(_run_cost(lengths, run, scale) for run in cut) > limit * (1 + 1e-9)
                       for cut in _sorted_cuts(lengths, fewer))
        best = min(max(_run_cost(lengths, run, scale) for run in cut) for cut in _sorted_cuts(lengths, len(runs)))
        assert dearest == pytest.approx(best, rel=1e-6), (trial, lengths, size)


def test_length_sorted_minibatches_give_long_texts_fewer_rows():
    # four long rows first: cut in batch order by 4 rows, the first mini-batch pads 4 rows to 40 tokens (160)
    lengths = [40, 38, 36, 35, 5, 6, 4, 5, 7, 6, 5, 4]
    runs = length_sorted_minibatches(lengths, 4)  # budget: 4 rows of the mean length, 63.7 tokens
    assert [sorted(lengths[r] for r in run) for run in runs] == [[40], [38], [36], [35], [4, 4, 5, 5, 5, 6, 6, 7]]
    # a row dearer than the budget (attention's memory makes long rows dearer) sets the limit for the rest
    lengths = [40, 10, 10, 10, 3, 3, 3, 3]
    assert [sorted(lengths[r] for r in run) for run in length_sorted_minibatches(lengths, 3)] == [
        [40], [10, 10, 10], [3, 3, 3, 3]]
    assert [sorted(lengths[r] for r in run) for run in length_sorted_minibatches(lengths, 3, attention_scale=10.0)] == [
        [40], [3, 3, 3, 3, 10, 10, 10]]
    # the budget follows the mini-batch size, not the batch: twice the rows, twice the runs
    assert [len(run) for run in length_sorted_minibatches([6] * 32, 8)] == [8] * 4
    assert [len(run) for run in length_sorted_minibatches([6] * 64, 8)] == [8] * 8
    assert length_sorted_minibatches([], 3) == []
    with pytest.raises(ValueError, match="mini_batch_size"):
        length_sorted_minibatches([1, 2], 0)


def _clustered_batch(model, n_columns, rows):
    """Columns whose long texts come first, so batch-order mini-batches are unbalanced."""
    from loss_test_helpers import SENTENCES, features_for

    texts = sorted(SENTENCES, key=len, reverse=True)
    columns = []
    for c in range(n_columns):
        columns.append(features_for(model, texts[c: c + rows]))
    return columns


@pytest.mark.parametrize("twin", ["mnrl-hard-negatives", "gist", "mega-batch-margin"])
def test_length_grouped_mini_batches_keep_the_loss_and_gradients(model64, guide64, twin, monkeypatch):
    """Mini-batches grouped by length: nothing the loss sees changes, nor the gradients."""
    cached_name, plain_name, n_columns, params = TWINS[twin]
    batch = _clustered_batch(model64, n_columns, rows=9)
    plain = loss_and_grads(model64, _build(plain_name, model64, guide64, params), batch)
    cached = _build(cached_name, model64, guide64, params, mini_batch_size=3)
    plans = []
    original = cached.minibatch_plan
    monkeypatch.setattr(cached, "minibatch_plan", lambda f, r: plans.append(original(f, r)) or plans[-1])
    grouped = loss_and_grads(model64, cached, batch)
    assert len(plans) == n_columns and all(p is not None for p in plans)
    assert_strictly_equal(grouped, plain)
    monkeypatch.setenv("SENTRIX_GRADCACHE_SORT", "0")
    plans.clear()
    assert_strictly_equal(loss_and_grads(model64, cached, batch), plain)
    assert plans == [None] * n_columns


def test_length_grouped_mini_batches_run_as_one_padded_forward_each(model64, monkeypatch):
    """Each group is one unpacked forward at its own longest row: the padded tokens are the group's rows x width."""
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    batch = _clustered_batch(model64, 2, rows=9)
    calls = []
    original_forward = type(model64).forward

    def recording(self, features, *args, **kwargs):
        assert ROW_PACKING_KEY not in features
        calls.append(features["attention_mask"].clone())
        return original_forward(self, features, *args, **kwargs)

    monkeypatch.setattr(type(model64), "forward", recording)
    plans = [cached.minibatch_plan(f, minibatch_ranges(f, 3)) for f in batch]
    cached([dict(f) for f in batch], None).backward()
    expected = []
    for features, (order, ranges) in zip(batch, plans):
        lengths = features["attention_mask"].sum(dim=1)[order]
        expected += [(end - begin, int(lengths[begin:end].max())) for begin, end in ranges]
    assert [tuple(mask.shape) for mask in calls] == expected * 2  # step 1, then the replay in step 3
    assert all(bool(mask[:, -1].any()) for mask in calls)  # no all-padding column: each runs at its longest row


def test_length_grouping_lowers_the_dearest_mini_batch(model64):
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    features = _clustered_batch(model64, 1, rows=9)[0]
    ranges = minibatch_ranges(features, 3)
    lengths = features["attention_mask"].sum(dim=1)
    order, grouped_ranges = cached.minibatch_plan(features, ranges)
    in_batch_order = max((e - b) * int(lengths[b:e].max()) for b, e in ranges)
    grouped = max((e - b) * int(lengths[order[b:e]].max()) for b, e in grouped_ranges)
    assert grouped < in_batch_order


def test_no_grouping_for_token_budgets_plain_forwards_or_the_switch(model64, monkeypatch):
    from sentrix.embedding import embedding_options

    features = _clustered_batch(model64, 1, rows=9)[0]
    ranges = minibatch_ranges(features, 3)
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    assert cached.minibatch_plan(features, ranges) is not None
    with embedding_options(pack=False):  # grouping does not depend on packing
        assert cached.minibatch_plan(features, ranges) is not None
    with embedding_options(merge_and_bucket=False):
        assert cached.minibatch_plan(features, ranges) is None
    by_tokens = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_num_tokens=40)
    assert by_tokens.minibatch_plan(features, minibatch_ranges(features, 32, 40)) is None
    assert cached.minibatch_plan(features, ranges[:1]) is None
    monkeypatch.setenv("SENTRIX_GRADCACHE_SORT", "0")
    assert cached.minibatch_plan(features, ranges) is None
    monkeypatch.setenv("SENTRIX_GRADCACHE_SORT", "maybe")
    with pytest.raises(InvalidInputError, match="SENTRIX_GRADCACHE_SORT"):
        cached.minibatch_plan(features, ranges)


def test_progress_bar_counts_the_length_grouped_mini_batches(model64, monkeypatch):
    """show_progress_bar: the replay's bar runs over each column's length groups, as over batch-order mini-batches."""
    import tqdm

    totals = []
    original = tqdm.tqdm
    monkeypatch.setattr(tqdm, "tqdm", lambda items, total=None, **kw: totals.append(total) or original(items, total=total, disable=True))
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3, show_progress_bar=True)
    batch = _clustered_batch(model64, 2, rows=9)
    plans = [cached.minibatch_plan(f, minibatch_ranges(f, 3)) for f in batch]
    assert all(plan is not None for plan in plans)
    model64.zero_grad(set_to_none=True)
    cached(batch, None).backward()
    assert totals == [len(plan[1]) for plan in plans]


def test_dropout_masks_are_replayed_in_length_grouped_order(tiny_model_dir):
    from sentrix import SentenceTransformer

    model = SentenceTransformer(tiny_model_dir, device="cpu").train().double()
    cached = registry.create("cached_multiple_negatives_ranking", model=model, mini_batch_size=3)
    batch = _clustered_batch(model, 2, rows=9)
    plans = [cached.minibatch_plan(f, minibatch_ranges(f, 3)) for f in batch]
    assert all(plan is not None for plan in plans)
    _assert_replayed_bitwise(cached, batch, mini_batches=sum(len(plan[1]) for plan in plans))


def test_slice_minibatch_trims_trailing_padding_and_keeps_metadata():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]])
    features = {"input_ids": mask * 7, "attention_mask": mask, "task": "query", "prompt_length": torch.tensor([2])}
    part = slice_minibatch(features, 1, 3)
    assert part["input_ids"].tolist() == [[7, 0], [7, 7]] and part["attention_mask"].shape == (2, 2)
    assert part["task"] == "query" and torch.equal(part["prompt_length"], torch.tensor([2]))


@pytest.mark.parametrize("bad", [{"mini_batch_size": 0}, {"mini_batch_size": 2.5}, {"mini_batch_num_tokens": 0}])
def test_bad_mini_batch_options_are_refused_before_any_work(model64, bad):
    with pytest.raises(InvalidInputError, match="mini_batch"):
        registry.create("cached_multiple_negatives_ranking", model=model64, **bad)


def test_an_unused_column_is_reported(model64):
    class FirstTwoOnly(registry.get("cached_multiple_negatives_ranking")):
        def calculate_loss(self, reps, labels=None, *, with_backward=False):
            return super().calculate_loss(reps[:2], labels, with_backward=with_backward)

    with pytest.raises(InvalidInputError, match="did not use text column\\(s\\) 2"):
        FirstTwoOnly(model64, mini_batch_size=4)(make_batch(model64, 3, rows=4), None)


class CachedInfoNCE(CachedLossMixin, torch.nn.Module):
    """The third-party example of sentrix.gradcache's module docstring, verbatim."""

    def __init__(self, model, scale=20.0, mini_batch_size=32):
        super().__init__()
        self.model, self.scale, self.mini_batch_size = model, scale, mini_batch_size

    def calculate_loss(self, reps, labels=None, *, with_backward=False):
        anchors, positives = torch.cat(reps[0]), torch.cat(reps[1])
        scores = cos_sim(anchors, positives) * self.scale
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(scores)))
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def forward(self, sentence_features, labels=None):
        return self.forward_cached(sentence_features, labels)


def test_a_third_party_cached_loss_built_on_the_engine(model64):
    batch = make_batch(model64, 2, rows=9)
    expected = loss_and_grads(model64, registry.create("multiple_negatives_ranking", model=model64), batch)
    assert_strictly_equal(loss_and_grads(model64, CachedInfoNCE(model64, mini_batch_size=4), batch), expected)
    # and Matryoshka serves it like a built-in
    wrapped = registry.create("matryoshka", model=model64, loss=CachedInfoNCE(model64, mini_batch_size=4), matryoshka_dims=[32, 16])
    plain = registry.create("matryoshka", model=model64, loss="multiple_negatives_ranking", matryoshka_dims=[32, 16])
    assert_strictly_equal(loss_and_grads(model64, wrapped, batch), loss_and_grads(model64, plain, batch))


def test_static_embedding_models_are_refused(model64):
    from sentrix.plugin_api import has_static_embedding_input

    class StaticEmbedding(torch.nn.Module):
        def forward(self, features):
            return features

    static = torch.nn.Sequential(StaticEmbedding())
    assert not has_static_embedding_input(model64)
    assert has_static_embedding_input(static)
    with pytest.raises(InvalidInputError, match="StaticEmbedding"):
        registry.create("cached_multiple_negatives_ranking", model=static)
