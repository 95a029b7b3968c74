"""Pair and triplet losses (group B) against sentence-transformers 6.2 itself.

Same tiny weights, same batch, same parameters, float64: loss values and every parameter's
gradient agree to a relative 1e-9 (see ``oracle_parity``). Covered: each loss's column counts and
label kinds, every distance metric, margins and options.
"""

from __future__ import annotations

import numpy as np
import pytest
import sentence_transformers  # noqa: F401 - the oracle; a missing install must fail, not skip
import torch
from oracle_parity import assert_same, parity_models, run_pair  # noqa: F401 - fixtures
from sentence_transformers import util as st_util
from sentence_transformers.sentence_transformer import losses as st

import sentrix.losses
from sentrix.registry import losses as registry
from sentrix.similarity import pairwise_angle_sim

pytestmark = pytest.mark.oracle


def scores(rows):
    g = torch.Generator().manual_seed(7)
    values = torch.rand(rows, generator=g)
    values[1] = values[0]  # a tie: not an ordered pair
    return values


def no_labels(rows):
    return None


def binary(dtype):
    def labels(rows):
        return (torch.arange(rows) % 3 == 0).to(dtype)  # 1, 0, 0, 1, 0, 0, ...

    return labels


def classes(pattern):
    def labels(rows):
        return torch.tensor([pattern[i % len(pattern)] for i in range(rows)])

    return labels


# ------------------------------------------------------------------------------------------------
# pairwise_angle_sim
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [6, 7])
@pytest.mark.parametrize("kind", ["tensor64", "tensor32", "numpy", "list", "half"])
def test_pairwise_angle_sim_matches_reference(dim, kind):
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(5, dim, generator=g, dtype=torch.float64), torch.randn(5, dim, generator=g, dtype=torch.float64)
    convert = {
        "tensor64": lambda t: t,
        "tensor32": lambda t: t.float(),
        "numpy": lambda t: t.numpy(),
        "list": lambda t: t.tolist(),
        "half": lambda t: t.half(),
    }[kind]
    ours, theirs = pairwise_angle_sim(convert(a), convert(b)), st_util.pairwise_angle_sim(convert(a), convert(b))
    assert ours.dtype == theirs.dtype
    rtol = 1e-12 if ours.dtype == torch.float64 else 1e-6
    torch.testing.assert_close(ours, theirs, rtol=rtol, atol=0)


# ------------------------------------------------------------------------------------------------
# AnglE
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_columns, labels_fn",
    [(2, scores), (2, classes([0, 1, 2])), (3, no_labels), (4, no_labels), (3, scores)],
    ids=["pairs-float", "pairs-int", "triplets", "4-tuples", "triplets-scored"],
)
def test_angle_matches(run_pair, n_columns, labels_fn):
    assert_same(run_pair(registry.get("angle"), st.AnglELoss, n_columns, labels_fn))


def test_angle_scale_matches(run_pair):
    assert_same(
        run_pair(lambda m: registry.create("AnglELoss", model=m, scale=5.0), lambda m: st.AnglELoss(m, scale=5.0), 2, scores)
    )


# ------------------------------------------------------------------------------------------------
# contrastive / online contrastive
# ------------------------------------------------------------------------------------------------

SIAMESE = ["EUCLIDEAN", "MANHATTAN", "COSINE_DISTANCE"]
# margins that leave some negative pairs inside the margin for each metric on the tiny model
MARGINS = {"EUCLIDEAN": 3.0, "MANHATTAN": 20.0, "COSINE_DISTANCE": 0.5}


@pytest.mark.parametrize("metric", SIAMESE)
@pytest.mark.parametrize("label_kind", ["int", "float"])
def test_contrastive_matches(run_pair, metric, label_kind):
    Ours = registry.get("contrastive")
    dtype = torch.long if label_kind == "int" else torch.float32
    assert_same(
        run_pair(
            lambda m: Ours(m, distance_metric=getattr(Ours.DistanceMetric, metric), margin=MARGINS[metric]),
            lambda m: st.ContrastiveLoss(m, distance_metric=getattr(st.SiameseDistanceMetric, metric), margin=MARGINS[metric]),
            2,
            binary(dtype),
        )
    )


@pytest.mark.parametrize("params", [{}, {"size_average": False}, {"margin": 1.5}], ids=["defaults", "sum", "margin"])
def test_contrastive_options_match(run_pair, params):
    assert_same(run_pair(lambda m: registry.create("contrastive", model=m, **params), lambda m: st.ContrastiveLoss(m, **params), 2, binary(torch.long)))


@pytest.mark.filterwarnings("ignore:.*labels other than 0 and 1")
@pytest.mark.filterwarnings("ignore:ContrastiveLoss expects binary labels")
def test_contrastive_graded_labels_match(run_pair):
    """Labels between 0 and 1 weight the two terms (values exact in float32, as both sides agree on them)."""
    assert_same(run_pair(registry.get("ContrastiveLoss"), st.ContrastiveLoss, 2, lambda rows: torch.arange(rows, dtype=torch.float64) % 5 / 4))


@pytest.mark.parametrize("metric", SIAMESE)
@pytest.mark.parametrize(
    "labels_fn",
    [binary(torch.long), binary(torch.float32), lambda rows: torch.ones(rows, dtype=torch.long), lambda rows: torch.zeros(rows, dtype=torch.long)],
    ids=["int", "float", "only-positives", "only-negatives"],
)
def test_online_contrastive_matches(run_pair, metric, labels_fn):
    Ours = registry.get("online_contrastive")
    margin = MARGINS[metric]
    assert_same(
        run_pair(
            lambda m: Ours(m, distance_metric=getattr(Ours.DistanceMetric, metric), margin=margin),
            lambda m: st.OnlineContrastiveLoss(m, distance_metric=getattr(st.SiameseDistanceMetric, metric), margin=margin),
            2,
            labels_fn,
            rows=8,
        )
    )


# ------------------------------------------------------------------------------------------------
# batch triplet losses
# ------------------------------------------------------------------------------------------------

BATCH_LOSSES = {
    "batch_hard_triplet": "BatchHardTripletLoss",
    "batch_hard_soft_margin_triplet": "BatchHardSoftMarginTripletLoss",
    "batch_semi_hard_triplet": "BatchSemiHardTripletLoss",
    "batch_all_triplet": "BatchAllTripletLoss",
}
LABEL_SETS = {
    "pairs": classes([0, 0, 1, 1, 2, 2, 3, 3]),
    "uneven": classes([0, 0, 0, 1, 1, 2, 0, 1]),  # class 2 is a singleton: an anchor without positive
    "two-classes": classes([5, 7]),
}


def _metric(owner, metric):
    if metric == "squared_euclidean":
        return lambda embeddings: owner.euclidean_distance(embeddings, squared=True)
    return getattr(owner, metric)


@pytest.mark.parametrize("name", sorted(BATCH_LOSSES))
@pytest.mark.parametrize("metric", ["euclidean_distance", "cosine_distance", "squared_euclidean"])
@pytest.mark.parametrize("label_set", sorted(LABEL_SETS))
def test_batch_triplet_losses_match(run_pair, name, metric, label_set):
    Ours, Theirs = registry.get(name), getattr(st, BATCH_LOSSES[name])
    kwargs = {} if name == "batch_hard_soft_margin_triplet" else {"margin": 0.3 if metric == "cosine_distance" else 5}
    assert_same(
        run_pair(
            lambda m: Ours(m, distance_metric=_metric(sentrix.losses.BatchHardTripletLossDistanceFunction, metric), **kwargs),
            lambda m: Theirs(m, distance_metric=_metric(st.BatchHardTripletLossDistanceFunction, metric), **kwargs),
            1,
            LABEL_SETS[label_set],
            rows=8,
        )
    )


@pytest.mark.parametrize("name", sorted(BATCH_LOSSES))
def test_batch_triplet_defaults_match(run_pair, name):
    assert_same(run_pair(registry.get(name), getattr(st, BATCH_LOSSES[name]), 1, LABEL_SETS["pairs"], rows=8))


@pytest.mark.parametrize("name", ["batch_hard_triplet", "batch_hard_soft_margin_triplet", "batch_semi_hard_triplet"])
def test_batch_triplet_single_class_batch_matches(run_pair, name):
    """A batch without negatives (all rows one class) still gives the same numbers.

    (For the batch-hard pair the hardest positive and the stand-in negative are the same distance,
    so the value is the margin, resp. log 2, and every gradient is zero on both sides.)
    """
    result = run_pair(registry.get(name), getattr(st, BATCH_LOSSES[name]), 1, classes([4]), rows=6)
    assert_same(result, allow_zero_gradients=name != "batch_semi_hard_triplet")


def test_batch_all_triplet_single_class_batch_is_zero(run_pair):
    ours, theirs, _, _ = run_pair(registry.get("batch_all_triplet"), st.BatchAllTripletLoss, 1, classes([4]), rows=6)
    assert float(ours) == float(theirs) == 0.0


def test_distance_functions_match_reference():
    g = torch.Generator().manual_seed(5)
    embeddings = torch.randn(7, 6, generator=g, dtype=torch.float64)
    embeddings[3] = embeddings[1]  # two identical rows: distance exactly 0
    ours, theirs = sentrix.losses.BatchHardTripletLossDistanceFunction, st.BatchHardTripletLossDistanceFunction
    for fn in ("cosine_distance", "euclidean_distance", "eucledian_distance"):
        torch.testing.assert_close(getattr(ours, fn)(embeddings), getattr(theirs, fn)(embeddings), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(ours.euclidean_distance(embeddings, squared=True), theirs.euclidean_distance(embeddings, squared=True), rtol=1e-12, atol=1e-15)
    half = embeddings.half()
    assert ours.euclidean_distance(half).dtype == theirs.euclidean_distance(half).dtype == torch.float32


# ------------------------------------------------------------------------------------------------
# configs (the model card shows them)
# ------------------------------------------------------------------------------------------------


def test_config_dicts_match_reference(tiny_model, reference_model):
    D, sD = sentrix.losses.BatchHardTripletLossDistanceFunction, st.BatchHardTripletLossDistanceFunction
    S, sS = sentrix.losses.SiameseDistanceMetric, st.SiameseDistanceMetric
    pairs = [
        (registry.create("angle", model=tiny_model), st.AnglELoss(reference_model)),
        (registry.create("angle", model=tiny_model, scale=7.0), st.AnglELoss(reference_model, scale=7.0)),
        (registry.create("contrastive", model=tiny_model), st.ContrastiveLoss(reference_model)),
        (
            registry.create("contrastive", model=tiny_model, distance_metric=S.EUCLIDEAN, margin=2.0, size_average=False),
            st.ContrastiveLoss(reference_model, distance_metric=sS.EUCLIDEAN, margin=2.0, size_average=False),
        ),
        (registry.create("online_contrastive", model=tiny_model), st.OnlineContrastiveLoss(reference_model)),
        (
            registry.create("online_contrastive", model=tiny_model, distance_metric=S.MANHATTAN, margin=1.0),
            st.OnlineContrastiveLoss(reference_model, distance_metric=sS.MANHATTAN, margin=1.0),
        ),
    ]
    for name, alias in BATCH_LOSSES.items():
        pairs.append((registry.create(name, model=tiny_model), getattr(st, alias)(reference_model)))
        pairs.append(
            (
                registry.create(name, model=tiny_model, distance_metric=D.cosine_distance),
                getattr(st, alias)(reference_model, distance_metric=sD.cosine_distance),
            )
        )
    for ours, theirs in pairs:
        assert ours.get_config_dict() == theirs.get_config_dict(), type(ours).__name__
        assert getattr(ours, "citation", None) == getattr(theirs, "citation", None) or (
            "@" in ours.citation and "@" in theirs.citation
        ), type(ours).__name__


def test_metric_names_resolve_like_the_members(tiny_model):
    S = sentrix.losses.SiameseDistanceMetric
    assert registry.create("contrastive", model=tiny_model, distance_metric="euclidean").distance_metric is S.EUCLIDEAN
    assert registry.create("contrastive", model=tiny_model, distance_metric="SiameseDistanceMetric.MANHATTAN").distance_metric is S.MANHATTAN
    D = sentrix.losses.BatchHardTripletLossDistanceFunction
    assert registry.create("batch_all_triplet", model=tiny_model, distance_metric="cosine").distance_metric is D.cosine_distance
    assert np.isclose(registry.create("batch_hard_triplet", model=tiny_model).triplet_margin, 5)


def test_mask_helpers_and_method_names_match_reference(tiny_model, reference_model):
    labels = torch.tensor([0, 0, 1, 2, 1, 0])
    ours, theirs = sentrix.losses.BatchHardTripletLoss, st.BatchHardTripletLoss
    for helper in ("get_triplet_mask", "get_anchor_positive_triplet_mask", "get_anchor_negative_triplet_mask"):
        assert torch.equal(getattr(ours, helper)(labels), getattr(theirs, helper)(labels)), helper
    embeddings = torch.randn(6, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for name, method in [
        ("batch_hard_triplet", "batch_hard_triplet_loss"),
        ("batch_hard_soft_margin_triplet", "batch_hard_triplet_soft_margin_loss"),
        ("batch_semi_hard_triplet", "batch_semi_hard_triplet_loss"),
        ("batch_all_triplet", "batch_all_triplet_loss"),
    ]:
        mine = getattr(registry.create(name, model=tiny_model), method)(labels, embeddings)
        reference = getattr(getattr(st, BATCH_LOSSES[name])(reference_model), method)(labels, embeddings)
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=0)
    assert registry.create("batch_all_triplet", model=tiny_model).sentence_embedder is tiny_model
