"""Each built-in loss against sentence-transformers 6.2: same tiny weights, same batch -> same loss and gradients.

Models run in float64 and the comparison is relative 1e-9 on the loss and on every gradient
entry (an absolute 1e-5 floor only for gradient entries below 1e-5): see ``oracle_parity``.
"""

from __future__ import annotations

import pytest
import sentence_transformers  # noqa: F401 - the oracle; a missing install must fail, not skip
import torch
from oracle_parity import assert_same, parity_models, run_pair  # noqa: F401 - fixtures

from sentrix.registry import losses as registry

pytestmark = pytest.mark.oracle


def float_labels(rows):
    g = torch.Generator().manual_seed(7)
    values = torch.rand(rows, generator=g)
    values[1] = values[0]  # a tie, which must not count as an ordered pair
    return values


def no_labels(rows):
    return None


def test_cosent_matches(run_pair):
    from sentence_transformers.sentence_transformer import losses as st

    assert_same(run_pair(registry.get("cosent"), st.CoSENTLoss, 2, float_labels))


def test_cosent_dot_similarity_and_scale_match(run_pair):
    from sentence_transformers import util
    from sentence_transformers.sentence_transformer import losses as st

    assert_same(
        run_pair(
            lambda m: registry.create("CoSENTLoss", model=m, scale=5.0, similarity_fct="dot"),
            lambda m: st.CoSENTLoss(m, scale=5.0, similarity_fct=util.pairwise_dot_score),
            2,
            lambda rows: torch.arange(rows, dtype=torch.float) / 2,
        )
    )


@pytest.mark.parametrize("n_columns", [2, 4])
def test_mnrl_matches(run_pair, n_columns):
    from sentence_transformers.sentence_transformer import losses as st

    # 4 x 10 rows: with the default helper options this runs as several length buckets
    assert_same(run_pair(registry.get("multiple_negatives_ranking"), st.MultipleNegativesRankingLoss, n_columns, no_labels, rows=10))


@pytest.mark.parametrize(
    "params",
    [
        {"directions": ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")},
        {"directions": ("query_to_doc", "doc_to_query"), "partition_mode": "per_direction"},
        {"hardness_mode": "hard_negatives", "hardness_strength": 3.0},
        {"hardness_mode": "in_batch_negatives", "hardness_strength": 3.0},
        {"hardness_mode": "all_negatives", "hardness_strength": 3.0, "scale": 10.0},
    ],
    ids=["all-directions", "per-direction", "hard", "in-batch", "all"],
)
def test_mnrl_options_match(run_pair, params):
    from sentence_transformers.sentence_transformer import losses as st

    assert_same(
        run_pair(
            lambda m: registry.create("multiple_negatives_ranking", model=m, **params),
            lambda m: st.MultipleNegativesRankingLoss(m, **params),
            3,
            no_labels,
        )
    )


def test_cosine_similarity_matches(run_pair):
    from sentence_transformers.sentence_transformer import losses as st

    assert_same(run_pair(registry.get("cosine_similarity"), st.CosineSimilarityLoss, 2, float_labels))


@pytest.mark.parametrize("multiplication", [False, True])
def test_softmax_matches(run_pair, multiplication):
    from sentence_transformers.sentence_transformer import losses as st

    def copy_classifier(ours, theirs):
        theirs.classifier.double()
        ours.classifier.double().load_state_dict(theirs.classifier.state_dict())

    assert_same(
        run_pair(
            lambda m: registry.create("softmax", model=m, embedding_dimension=32, num_labels=3, concatenation_sent_multiplication=multiplication),
            lambda m: st.SoftmaxLoss(m, embedding_dimension=32, num_labels=3, concatenation_sent_multiplication=multiplication),
            2,
            lambda rows: torch.arange(rows) % 3,
            prepare=copy_classifier,
        )
    )


@pytest.mark.parametrize("metric", ["COSINE", "EUCLIDEAN", "MANHATTAN"])
def test_triplet_matches(run_pair, metric):
    from sentence_transformers.sentence_transformer import losses as st

    Triplet = registry.get("triplet")
    margin = 0.5 if metric == "COSINE" else 5
    assert_same(
        run_pair(
            lambda m: Triplet(m, distance_metric=getattr(Triplet.DistanceMetric, metric), triplet_margin=margin),
            lambda m: st.TripletLoss(m, distance_metric=getattr(st.TripletDistanceMetric, metric), triplet_margin=margin),
            3,
            no_labels,
        )
    )


@pytest.mark.parametrize("inner", ["cosent", "multiple_negatives_ranking"])
def test_matryoshka_matches(run_pair, inner):
    from sentence_transformers.sentence_transformer import losses as st

    st_inner = {"cosent": st.CoSENTLoss, "multiple_negatives_ranking": st.MultipleNegativesRankingLoss}[inner]
    dims, weights = [8, 32, 16], [0.5, 1.0, 2.0]
    assert_same(
        run_pair(
            lambda m: registry.create("matryoshka", model=m, loss=registry.create(inner, model=m), matryoshka_dims=dims, matryoshka_weights=weights),
            lambda m: st.MatryoshkaLoss(m, st_inner(m), matryoshka_dims=dims, matryoshka_weights=weights),
            2,
            float_labels if inner == "cosent" else no_labels,
        )
    )


def test_matryoshka_serves_a_foreign_inner_loss_from_one_forward(run_pair, monkeypatch):
    """An inner loss that calls the model itself (here sentence-transformers' own) gets replayed outputs."""
    from sentence_transformers.sentence_transformer import losses as st

    calls = {"n": 0}

    def build_ours(m):
        original = m.forward

        def counting_forward(*args, **kwargs):
            calls["n"] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(m, "forward", counting_forward)  # undone after the test: the model is shared
        return registry.get("MatryoshkaLoss")(m, st.CoSENTLoss(m), matryoshka_dims=[32, 16, 8])

    assert_same(
        run_pair(
            build_ours,
            lambda m: st.MatryoshkaLoss(m, st.CoSENTLoss(m), matryoshka_dims=[32, 16, 8]),
            2,
            float_labels,
        )
    )
    assert calls["n"] == 2  # one forward per column, not per dimension


def test_config_dicts_match_reference(tiny_model, reference_model):
    from sentence_transformers.sentence_transformer import losses as st

    pairs = [
        (registry.create("cosent", model=tiny_model), st.CoSENTLoss(reference_model)),
        (registry.create("multiple_negatives_ranking", model=tiny_model), st.MultipleNegativesRankingLoss(reference_model)),
        (registry.create("cosine_similarity", model=tiny_model), st.CosineSimilarityLoss(reference_model)),
        (registry.create("softmax", model=tiny_model, embedding_dimension=32, num_labels=3), st.SoftmaxLoss(reference_model, 32, 3)),
        (registry.create("triplet", model=tiny_model), st.TripletLoss(reference_model)),
    ]
    for ours, theirs in pairs:
        assert ours.get_config_dict() == theirs.get_config_dict(), type(ours).__name__
    ours = registry.create("matryoshka", model=tiny_model, loss=pairs[0][0], matryoshka_dims=[32, 8])
    theirs = st.MatryoshkaLoss(reference_model, pairs[0][1], matryoshka_dims=[32, 8])
    assert ours.get_config_dict() == theirs.get_config_dict()
