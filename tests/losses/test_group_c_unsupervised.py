"""GlobalOrthogonalRegularization and Contrastive Tension (+ its data loader) against sentence-transformers 6.2."""

from __future__ import annotations

import random

import pytest
import sentence_transformers  # noqa: F401  (the oracle must be installed: fail, never skip)
import torch
from group_c_helpers import assert_grads_close, assert_value_close, named_grads, run_both
from loss_test_helpers import SENTENCES, features_for
from sentence_transformers import util as st_util
from sentence_transformers.sentence_transformer import losses as st

from sentrix.errors import InvalidInputError
from sentrix.registry import losses as registry

pytestmark = pytest.mark.oracle


# ------------------------------------------------------------------------------------------ GOR


@pytest.mark.parametrize(
    "n_columns,params",
    [
        (1, {}),
        (2, {}),
        (3, {"aggregation": "sum"}),
        (2, {"mean_weight": 0.0, "aggregation": "sum"}),
        (2, {"mean_weight": 2.5, "second_moment_weight": None}),
        (2, {"second_moment_weight": 0.3}),
    ],
)
def test_gor_matches(load_tiny, load_reference, n_columns, params):
    ours_model, theirs_model = load_tiny().double(), load_reference().double()
    ours = registry.create("global_orthogonal_regularization", model=ours_model, **params)
    theirs = st.GlobalOrthogonalRegularizationLoss(theirs_model, **params)
    ours_value, theirs_value = run_both(ours, theirs, ours_model, theirs_model, n_columns, rows=10)
    assert ours_value.keys() == theirs_value.keys()
    for key in theirs_value:
        assert_value_close(ours_value[key], theirs_value[key], key)
    sum(ours_value.values()).backward()
    sum(theirs_value.values()).backward()
    assert_grads_close(named_grads(ours_model), named_grads(theirs_model))
    assert ours.get_config_dict() == theirs.get_config_dict()


def test_gor_dot_similarity_matches(load_tiny, load_reference):
    ours_model, theirs_model = load_tiny().double(), load_reference().double()
    ours = registry.create("GlobalOrthogonalRegularizationLoss", model=ours_model, similarity_fct="dot")
    theirs = st.GlobalOrthogonalRegularizationLoss(theirs_model, similarity_fct=st_util.dot_score)
    ours_value, theirs_value = run_both(ours, theirs, ours_model, theirs_model, 2)
    for key in theirs_value:
        assert_value_close(ours_value[key], theirs_value[key], key)


def test_gor_refuses_bad_parameters(tiny_model):
    with pytest.raises(InvalidInputError, match="both 0"):
        registry.create("global_orthogonal_regularization", model=tiny_model, mean_weight=0, second_moment_weight=None)
    with pytest.raises(InvalidInputError, match="aggregation"):
        registry.create("global_orthogonal_regularization", model=tiny_model, aggregation="max")


# ------------------------------------------------------------------------------------------ Contrastive Tension


def _ct_batches(ours_model, theirs_model, rows=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    first = [SENTENCES[i] for i in torch.randperm(len(SENTENCES), generator=g)[:rows].tolist()]
    second = [
        s if i % 3 == 0 else SENTENCES[(j + 5) % len(SENTENCES)] for i, (j, s) in enumerate(zip(range(rows), first))
    ]
    second[1] = first[1].upper()  # same sentence after lower-casing: identical tokens, different padding width
    batches = []
    for model in (ours_model, theirs_model):
        batches.append([features_for(model, first), features_for(model, second)])
    return batches


def _rename(prefix_from, prefix_to):
    return lambda name: prefix_to + name[len(prefix_from) :] if name.startswith(prefix_from) else name


@pytest.mark.parametrize("with_labels", [False, True])
def test_contrastive_tension_matches(load_tiny, load_reference, with_labels):
    ours_model, theirs_model = load_tiny().double(), load_reference().double()
    ours = registry.create("contrastive_tension", model=ours_model)
    theirs = st.ContrastiveTensionLoss(theirs_model)
    rows = 8
    labels = torch.tensor([float(i % 2) for i in range(rows)], dtype=torch.float64) if with_labels else None
    batches = _ct_batches(ours_model, theirs_model, rows)
    ours_value, theirs_value = run_both(ours, theirs, ours_model, theirs_model, 2, labels, batches=batches)
    ours_value.backward()
    theirs_value.backward()
    assert_value_close(ours_value, theirs_value)
    ours_grads = named_grads(ours, _rename("model.", "model2."))
    assert any(name.startswith("model1.") for name in ours_grads)
    assert_grads_close(ours_grads, named_grads(theirs))
    assert ours.model2 is ours_model and ours.model1 is not ours_model


def test_contrastive_tension_derives_labels_from_tokens(tiny_model):
    from sentrix_builtins.losses.contrastive_tension import identical_inputs

    a = features_for(tiny_model, ["the cat", "a dog runs in the park", "rain falls"])
    b = features_for(tiny_model, ["THE CAT", "a dog runs", "rain falls"])
    assert identical_inputs(a, b).tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("params", [{}, {"scale": 5.0}, {"scale": 1.0, "similarity_fct": "dot"}])
def test_contrastive_tension_in_batch_matches(load_tiny, load_reference, params):
    ours_model, theirs_model = load_tiny().double(), load_reference().double()
    ours = registry.create("contrastive_tension_in_batch_negatives", model=ours_model, **params)
    st_params = dict(params)
    if st_params.get("similarity_fct") == "dot":
        st_params["similarity_fct"] = st_util.dot_score
    theirs = st.ContrastiveTensionLossInBatchNegatives(theirs_model, **st_params)
    assert ours.logit_scale.dtype == theirs.logit_scale.dtype and torch.equal(ours.logit_scale, theirs.logit_scale)
    ours.double(), theirs.double()
    ours_value, theirs_value = run_both(ours, theirs, ours_model, theirs_model, 1, rows=10)
    ours_value.backward()
    theirs_value.backward()
    assert_value_close(ours_value, theirs_value)
    ours_grads = named_grads(ours, _rename("model.", "model2."))
    assert "logit_scale" in ours_grads
    assert_grads_close(ours_grads, named_grads(theirs))
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert "logit_scale" in ours.state_dict() and any(k.startswith("model1.") for k in ours.state_dict())


# ------------------------------------------------------------------------------------------ the data loader


@pytest.mark.parametrize("batch_size,ratio,n", [(8, 8, 50), (8, 4, 37), (6, 2, 20), (4, 1, 9)])
def test_contrastive_tension_data_loader_matches(batch_size, ratio, n):
    from sentrix.losses import ContrastiveTensionDataLoader

    sentences = [f"sentence {i}" for i in range(n)]
    ours = ContrastiveTensionDataLoader(list(sentences), batch_size, pos_neg_ratio=ratio)
    theirs = st.ContrastiveTensionDataLoader(list(sentences), batch_size, pos_neg_ratio=ratio)
    assert len(ours) == len(theirs)
    for epoch in range(2):
        random.seed(epoch)
        ours_batches = [[(e.texts, e.label) for e in batch] for batch in ours]
        random.seed(epoch)
        theirs_batches = [[(e.texts, e.label) for e in batch] for batch in theirs]
        assert ours_batches == theirs_batches and len(ours_batches) == len(theirs)
        assert ours.sentences == theirs.sentences  # shuffled in place, the same way
    ours.collate_fn = theirs.collate_fn = len
    random.seed(9)
    ours_sizes = list(ours)
    random.seed(9)
    assert ours_sizes == list(theirs)


def test_contrastive_tension_data_loader_refuses_bad_ratio():
    from sentrix.losses import ContrastiveTensionDataLoader
    from sentrix.sentence_transformer.losses import ContrastiveTensionDataLoader as deep_path

    assert deep_path is ContrastiveTensionDataLoader
    with pytest.raises(InvalidInputError, match="multiple of pos_neg_ratio"):
        ContrastiveTensionDataLoader(["a"] * 20, batch_size=10, pos_neg_ratio=4)
    with pytest.raises(InvalidInputError, match="pos_neg_ratio"):
        ContrastiveTensionDataLoader(["a"] * 20, batch_size=10, pos_neg_ratio=0)
