"""The shared embedding helper: merged and length-bucketed forwards give the per-column results."""

from __future__ import annotations

import pytest
import torch
from loss_test_helpers import SENTENCES, clone_features, grads_of, make_batch

from sentrix.embedding import (
    EmbeddingOptions,
    _bucket_bounds,
    _group_columns,
    current_options,
    embed_columns,
    embedding_options,
    padding_stats,
    plan_forwards,
    reuse_embeddings,
)
from sentrix.errors import InvalidInputError
from sentrix.registry import losses as registry

PLAIN = dict(merge=False, buckets=1)


def per_column(model, batch):
    return [model(features)["sentence_embedding"] for features in clone_features(batch)]


@pytest.mark.parametrize(
    "options",
    [dict(merge=True, buckets=1), dict(merge=False, buckets=3, min_bucket_rows=2), dict(merge=True, buckets=4, min_bucket_rows=2)],
    ids=["merged", "bucketed", "merged+bucketed"],
)
def test_embeddings_equal_per_column_forwards(tiny_model, options):
    batch = make_batch(tiny_model, 3, rows=10)
    expected = per_column(tiny_model, batch)
    got = embed_columns(tiny_model, clone_features(batch), **options)
    assert len(got) == 3
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=0)


def test_plans_merge_columns_and_cut_padding(tiny_model):
    batch = make_batch(tiny_model, 3, rows=10)
    plain = padding_stats(batch, EmbeddingOptions(**PLAIN))
    merged = padding_stats(batch, EmbeddingOptions(merge=True, buckets=1))
    bucketed = padding_stats(batch, EmbeddingOptions(merge=True, buckets=3, min_bucket_rows=2, call_cost=0))
    assert plain["model_calls"] == 3 and merged["model_calls"] == 1 and bucketed["model_calls"] == 3
    assert plain["real_tokens"] == merged["real_tokens"] == bucketed["real_tokens"]
    assert bucketed["planned_tokens"] < plain["planned_tokens"]
    # every planned forward is trimmed to its longest row
    for plan in plan_forwards(batch, EmbeddingOptions(merge=True, buckets=3, min_bucket_rows=2, call_cost=0)):
        for part in plan.features:
            assert int(part["attention_mask"][:, -1].max()) == 1


def test_loss_and_gradients_equal_with_and_without_the_helper_savings(load_tiny):
    results = []
    for options in (PLAIN, {}):  # plain per-column forwards vs. the defaults
        model = load_tiny().double()
        loss = registry.create("multiple_negatives_ranking", model=model)
        batch = make_batch(model, 3, rows=12)
        if options == {}:
            assert padding_stats(batch)["model_calls"] > 1  # the defaults really bucket this batch
        with embedding_options(**options):
            value = loss(batch, None)
        value.backward()
        results.append((value.detach(), grads_of(model)))
    (loss_a, grads_a), (loss_b, grads_b) = results
    torch.testing.assert_close(loss_a, loss_b, atol=1e-10, rtol=0)
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], atol=1e-10, rtol=0, msg=name)


def _router_model(kind: str, hf_dir: str):
    torch.manual_seed(0)
    if kind == "sentrix":
        from sentrix import SentenceTransformer
        from sentrix.models import Pooling, Router, Transformer
    else:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Pooling, Router, Transformer
    router = Router.for_query_document(
        query_modules=[Transformer(hf_dir), Pooling(32, "mean")],
        document_modules=[Transformer(hf_dir), Pooling(32, "cls")],
    )
    return SentenceTransformer(modules=[router], device="cpu").eval()


@pytest.mark.parametrize("kind", ["sentrix", pytest.param("sentence_transformers", marks=pytest.mark.oracle)])
def test_router_columns_with_different_routes_are_not_merged(tiny_hf_dir, kind):
    model = _router_model(kind, tiny_hf_dir)
    batch = [
        dict(model.preprocess(SENTENCES[:6], task="query")),
        dict(model.preprocess(SENTENCES[6:12], task="document")),
        dict(model.preprocess(SENTENCES[3:9], task="document")),
    ]
    assert _group_columns(batch, merge=True) == [[0], [1, 2]]  # only the two document columns share a route
    expected = per_column(model, batch)
    got = embed_columns(model, clone_features(batch), merge=True, buckets=2, min_bucket_rows=2)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=0)


def test_left_padded_columns_are_embedded_unchanged(tiny_model):
    batch = make_batch(tiny_model, 2, rows=6)
    flipped = []
    for features in batch:  # left padding: move each row's padding to the front
        lengths = features["attention_mask"].sum(1)
        width = features["attention_mask"].shape[1]
        new = {k: v for k, v in features.items()}
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            rows = [torch.roll(features[key][i], int(width - lengths[i])) for i in range(len(lengths))]
            new[key] = torch.stack(rows)
        flipped.append(new)
    plans = plan_forwards(flipped, EmbeddingOptions(merge=True, buckets=4, min_bucket_rows=1))
    assert len(plans) == 2 and all(plan.features[0] is f for plan, f in zip(plans, flipped))


def test_environment_switches_and_context(monkeypatch, tiny_model):
    monkeypatch.setenv("SENTRIX_EMBED_MERGE", "0")
    monkeypatch.setenv("SENTRIX_EMBED_BUCKETS", "1")
    assert current_options() == EmbeddingOptions(merge=False, buckets=1, min_bucket_rows=1)
    batch = make_batch(tiny_model, 2, rows=4)
    assert padding_stats(batch)["model_calls"] == 2
    with embedding_options(merge=True, call_cost=10**6) as options:
        assert options.merge and not options.plain
        assert padding_stats(batch)["planned_tokens"] <= padding_stats(batch)["per_column_tokens"]
    monkeypatch.setenv("SENTRIX_EMBED_MERGE", "maybe")
    with pytest.raises(InvalidInputError, match=r"SENTRIX_EMBED_MERGE='maybe' is invalid: expected 0 or 1"):
        current_options()
    monkeypatch.setenv("SENTRIX_EMBED_MERGE", "1")
    monkeypatch.setenv("SENTRIX_EMBED_BUCKETS", "0")
    with pytest.raises(InvalidInputError, match=r"buckets=0 is invalid: expected an integer >= 1"):
        current_options()


def test_reuse_embeddings_serves_the_same_feature_dicts_only(tiny_model):
    batch = make_batch(tiny_model, 2, rows=4)
    fake = [torch.zeros(4, 32), torch.ones(4, 32)]
    with reuse_embeddings(batch, fake):
        assert embed_columns(tiny_model, batch)[1] is fake[1]
        other = clone_features(batch)
        assert embed_columns(tiny_model, other)[1].shape == (4, 32)
        assert not torch.equal(embed_columns(tiny_model, other)[1], fake[1])


def test_any_model_following_the_contract_works():
    class BagOfTokens(torch.nn.Module):
        """Not a sentence-transformers model: just returns {'sentence_embedding': ...}."""

        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(50, 8)

        def forward(self, features):
            mask = features["attention_mask"].unsqueeze(-1).float()
            pooled = (self.emb(features["input_ids"]) * mask).sum(1) / mask.sum(1)
            return {**features, "sentence_embedding": pooled}

    model = BagOfTokens()
    ids = torch.randint(1, 50, (6, 7))
    mask = (torch.arange(7)[None, :] < torch.tensor([7, 3, 5, 2, 6, 4])[:, None]).long()
    batch = [{"input_ids": ids * mask, "attention_mask": mask}, {"input_ids": ids.flip(0) * mask, "attention_mask": mask}]
    loss = registry.create("cosent", model=model)(batch, torch.rand(6))
    loss.backward()
    assert model.emb.weight.grad is not None and torch.isfinite(loss)
    expected = per_column(model, batch)
    for g, e in zip(embed_columns(model, batch, merge=True, buckets=2, min_bucket_rows=2), expected):
        torch.testing.assert_close(g, e)


def test_model_without_sentence_embedding_gets_a_clear_error():
    class TokensOnly(torch.nn.Module):
        def forward(self, features):
            return {"token_embeddings": features["input_ids"].float()}

    batch = [{"input_ids": torch.ones(2, 3, dtype=torch.long), "attention_mask": torch.ones(2, 3, dtype=torch.long)}]
    with pytest.raises(InvalidInputError, match=r"TokensOnly\(features\) returned dict without a 'sentence_embedding' entry"):
        embed_columns(TokensOnly(), batch)


def test_matryoshka_runs_the_model_once_for_all_dimensions(tiny_model):
    calls = {"n": 0}
    original = tiny_model.forward

    def counting_forward(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    tiny_model.forward = counting_forward
    loss = registry.create(
        "matryoshka", model=tiny_model, loss=registry.create("cosent", model=tiny_model), matryoshka_dims=[32, 16, 8, 4]
    )
    batch = make_batch(tiny_model, 2, rows=4)
    with embedding_options(merge=True, buckets=1):
        planned = padding_stats(batch, model=tiny_model)["model_calls"]
        loss(batch, torch.rand(4)).backward()
    assert calls["n"] == planned <= 2  # four dimensions, one embedding pass


def _padded(lengths, bounds):
    return sum((end - start) * lengths[end - 1] for start, end in bounds)


@pytest.mark.parametrize("seed", range(40))
def test_bucket_split_points_minimise_padding(seed):
    """Compared with every possible split (brute force) on small random batches."""
    import itertools
    import random

    rng = random.Random(seed)
    n = rng.randint(1, 14)
    lengths = sorted(rng.randint(1, 30) for _ in range(n))
    buckets, min_rows = rng.randint(1, 5), rng.randint(1, 4)
    bounds = _bucket_bounds(lengths, buckets, min_rows)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert len(bounds) == 1 or (len(bounds) <= buckets and all(end - start >= min_rows for start, end in bounds))
    best = n * lengths[-1]
    for count in range(2, min(buckets, n // min_rows) + 1):
        for cuts in itertools.combinations(range(1, n), count - 1):
            split = list(zip((0, *cuts), (*cuts, n)))
            if all(end - start >= min_rows for start, end in split):
                best = min(best, _padded(lengths, split))
    assert _padded(lengths, bounds) == best
