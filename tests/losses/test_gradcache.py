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
    CachedLossMixin,
    InvalidInputError,
    RandContext,
    balanced_minibatch_order,
    cos_sim,
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
    assert len(calls) == 2 * 3 * 3  # steps 1 and 3, 3 columns, 3 mini-batches each


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
    _assert_replayed_bitwise(cached, make_batch(model, 2, rows=6), mini_batches=6)
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


def test_balanced_order_deals_long_rows_across_the_runs():
    # the four long rows sit together: cut in batch order, the first run holds all of them
    lengths = [40, 38, 36, 35, 5, 6, 4, 5, 7, 6, 5, 4]
    sizes = [4, 4, 4]
    order = balanced_minibatch_order(lengths, sizes)
    assert sorted(order) == list(range(12))
    runs = [order[0:4], order[4:8], order[8:12]]
    assert all(run == sorted(run) for run in runs)  # batch order inside a run
    tokens = [sum(lengths[r] for r in run) for run in runs]
    # four long rows in three runs: one run takes two of them; the best split puts 36 + 35 + 4 + 4 there
    assert max(tokens) == 79  # batch order: 149 in the first run
    assert sum(lengths[r] for r in range(4)) == 149
    # uneven last run and empty input
    order = balanced_minibatch_order([3, 9, 1, 7, 5], [2, 2, 1])
    assert sorted(order) == [0, 1, 2, 3, 4]
    assert balanced_minibatch_order([], []) == []
    with pytest.raises(ValueError, match="add up to 4"):
        balanced_minibatch_order([1, 2, 3], [2, 2])


def _clustered_batch(model, n_columns, rows):
    """Columns whose long texts come first, so batch-order mini-batches are unbalanced."""
    from loss_test_helpers import SENTENCES, features_for

    texts = sorted(SENTENCES, key=len, reverse=True)
    columns = []
    for c in range(n_columns):
        columns.append(features_for(model, texts[c: c + rows]))
    return columns


@pytest.mark.parametrize("twin", ["mnrl-hard-negatives", "gist", "mega-batch-margin"])
def test_balanced_mini_batches_keep_the_loss_and_gradients(model64, guide64, twin, monkeypatch):
    """Packed forwards: mini-batches are cut from a token-balanced row order; nothing the loss sees changes."""
    cached_name, plain_name, n_columns, params = TWINS[twin]
    batch = _clustered_batch(model64, n_columns, rows=9)
    plain = loss_and_grads(model64, _build(plain_name, model64, guide64, params), batch)
    cached = _build(cached_name, model64, guide64, params, mini_batch_size=3)
    orders = []
    original = cached.minibatch_order
    monkeypatch.setattr(cached, "minibatch_order", lambda f, r: orders.append(original(f, r)) or orders[-1])
    balanced = loss_and_grads(model64, cached, batch)
    assert len(orders) == n_columns and all(o is not None for o in orders)
    assert_strictly_equal(balanced, plain)
    monkeypatch.setenv("SENTRIX_GRADCACHE_BALANCE", "0")
    orders.clear()
    assert_strictly_equal(loss_and_grads(model64, cached, batch), plain)
    assert orders == [None] * n_columns


def test_balanced_mini_batches_hold_fewer_tokens_at_most(model64):
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    features = _clustered_batch(model64, 1, rows=9)[0]
    ranges = minibatch_ranges(features, 3)
    lengths = features["attention_mask"].sum(dim=1)
    order = cached.minibatch_order(features, ranges)
    in_batch_order = max(int(lengths[b:e].sum()) for b, e in ranges)
    balanced = max(int(lengths[order[b:e]].sum()) for b, e in ranges)
    assert balanced < in_batch_order


def test_no_balancing_where_rows_are_not_packed(model64):
    """Padded forwards (packing off, plain forwards, token budgets) keep the batch order: mixing lengths adds padding."""
    from sentrix.embedding import embedding_options

    features = _clustered_batch(model64, 1, rows=9)[0]
    ranges = minibatch_ranges(features, 3)
    cached = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_size=3)
    assert cached.minibatch_order(features, ranges) is not None
    with embedding_options(pack=False):
        assert cached.minibatch_order(features, ranges) is None
    with embedding_options(merge_and_bucket=False):
        assert cached.minibatch_order(features, ranges) is None
    by_tokens = registry.create("cached_multiple_negatives_ranking", model=model64, mini_batch_num_tokens=40)
    assert by_tokens.minibatch_order(features, minibatch_ranges(features, 32, 40)) is None


def test_dropout_masks_are_replayed_in_balanced_order(tiny_model_dir):
    from sentrix import SentenceTransformer

    model = SentenceTransformer(tiny_model_dir, device="cpu").train().double()
    cached = registry.create("cached_multiple_negatives_ranking", model=model, mini_batch_size=3)
    batch = _clustered_batch(model, 2, rows=9)
    assert cached.minibatch_order(batch[0], minibatch_ranges(batch[0], 3)) is not None
    _assert_replayed_bitwise(cached, batch, mini_batches=6)


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
