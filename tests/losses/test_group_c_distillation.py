"""MarginMSE, MSE, EmbedDistill and DistillKLDiv against sentence-transformers 6.2, float64, rtol 1e-9."""

from __future__ import annotations

import pytest
import sentence_transformers  # noqa: F401  (the oracle must be installed: fail, never skip)
import torch
from group_c_helpers import assert_grads_close, assert_value_close, named_grads, run_both
from sentence_transformers import util as st_util
from sentence_transformers.sentence_transformer import losses as st

from sentrix.errors import InvalidInputError
from sentrix.registry import losses as registry

pytestmark = pytest.mark.oracle

ROWS = 6


def _labels(*shape, seed=3, scale=4.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g, dtype=torch.float64) - 0.3) * scale


def _check(load_tiny, load_reference, build_ours, build_theirs, n_columns, labels, rows=ROWS, prepare=None):
    ours_model, theirs_model = load_tiny().double(), load_reference().double()
    ours, theirs = build_ours(ours_model), build_theirs(theirs_model)
    if prepare is not None:
        prepare(ours, theirs)
    ours.double(), theirs.double()
    ours_value, theirs_value = run_both(ours, theirs, ours_model, theirs_model, n_columns, labels, rows=rows)
    ours_value.backward()
    theirs_value.backward()
    assert_value_close(ours_value, theirs_value)
    assert float(theirs_value.detach()) != 0.0
    assert_grads_close(named_grads(ours), named_grads(theirs))
    return ours, theirs


# ------------------------------------------------------------------------------------------ MarginMSE


@pytest.mark.parametrize(
    "n_columns,label_shape",
    [
        (3, (ROWS,)),  # one margin per row
        (3, (ROWS, 1)),  # the same as a column
        (3, (ROWS, 2)),  # raw teacher scores of both documents
        (4, (ROWS, 2)),  # two margins
        (4, (ROWS, 3)),  # three raw scores
        (6, (ROWS, 4)),  # four margins
        (6, (ROWS, 5)),  # five raw scores
    ],
)
def test_margin_mse_matches(load_tiny, load_reference, n_columns, label_shape):
    _check(load_tiny, load_reference, registry.get("margin_mse"), st.MarginMSELoss, n_columns, _labels(*label_shape))


def test_margin_mse_cosine_matches(load_tiny, load_reference):
    _check(
        load_tiny,
        load_reference,
        lambda m: registry.create("MarginMSELoss", model=m, similarity_fct="cosine"),
        lambda m: st.MarginMSELoss(m, similarity_fct=st_util.pairwise_cos_sim),
        4,
        _labels(ROWS, 2, scale=0.5),
    )


def test_margin_mse_refuses_bad_labels(tiny_model):
    from loss_test_helpers import make_batch

    loss = registry.create("margin_mse", model=tiny_model)
    with pytest.raises(InvalidInputError, match=r"shape \(6, 2\).*raw teacher scores"):
        loss(make_batch(tiny_model, 4, rows=ROWS), _labels(ROWS, 4))
    with pytest.raises(InvalidInputError, match="3 or more text columns"):
        loss(make_batch(tiny_model, 2, rows=ROWS), _labels(ROWS))
    assert loss.get_config_dict() == st.MarginMSELoss(tiny_model).get_config_dict()


# ------------------------------------------------------------------------------------------ MSE / EmbedDistill


@pytest.mark.parametrize("n_columns,per_column", [(1, False), (2, False), (3, False), (3, True)])
def test_mse_matches(load_tiny, load_reference, n_columns, per_column):
    labels = _labels(ROWS, n_columns, 32) if per_column else _labels(ROWS, 32)
    _check(load_tiny, load_reference, registry.get("mse"), st.MSELoss, n_columns, labels)


def _copy_projection(ours, theirs):
    ours.projection.load_state_dict(theirs.projection.state_dict())


def test_mse_with_projection_matches(load_tiny, load_reference):
    ours, _ = _check(
        load_tiny,
        load_reference,
        lambda m: registry.create("MSELoss", model=m, projection_dim=12),
        lambda m: st.MSELoss(m, projection_dim=12),
        2,
        _labels(ROWS, 12),
        prepare=_copy_projection,
    )
    # the projection is an ordinary submodule: it is in the loss's state dict next to the model
    assert {"projection.weight", "projection.bias"} <= set(ours.state_dict())


@pytest.mark.parametrize("metric", ["cosine", "l2", "mse"])
@pytest.mark.parametrize("n_columns,per_column", [(1, False), (3, True)])
def test_embed_distill_matches(load_tiny, load_reference, metric, n_columns, per_column):
    labels = _labels(ROWS, n_columns, 32) if per_column else _labels(ROWS, 32)
    _check(
        load_tiny,
        load_reference,
        lambda m: registry.create("embed_distill", model=m, distance_metric=metric),
        lambda m: st.EmbedDistillLoss(m, distance_metric=metric),
        n_columns,
        labels,
    )


def test_embed_distill_projection_matches_and_round_trips(load_tiny, load_reference, tmp_path):
    ours, theirs = _check(
        load_tiny,
        load_reference,
        lambda m: registry.create("EmbedDistillLoss", model=m, distance_metric="l2", projection_dim=20),
        lambda m: st.EmbedDistillLoss(m, distance_metric="l2", projection_dim=20),
        2,
        _labels(ROWS, 2, 20),
        prepare=_copy_projection,
    )
    ours.save_projection(tmp_path / "ours.safetensors")
    fresh = registry.create("embed_distill", model=load_tiny())
    fresh.load_projection(tmp_path / "ours.safetensors")  # creates the layer
    assert torch.equal(fresh.projection.weight.double(), ours.projection.weight.detach())
    theirs.float().save_projection(tmp_path / "theirs.safetensors")  # the file format is shared with ST
    fresh.load_projection(tmp_path / "theirs.safetensors")
    assert fresh.get_config_dict() == {"distance_metric": "cosine", "projection_dim": 20}


def test_embed_distill_refuses_bad_input(tiny_model):
    from loss_test_helpers import make_batch

    with pytest.raises(InvalidInputError, match="distance_metric"):
        registry.create("embed_distill", model=tiny_model, distance_metric="dot")
    loss = registry.create("embed_distill", model=tiny_model)
    batch = make_batch(tiny_model, 2, rows=ROWS)
    with pytest.raises(InvalidInputError, match="teacher's embeddings as labels"):
        loss(batch, None)
    with pytest.raises(InvalidInputError, match="for 3 columns but the batch has 2"):
        loss(batch, _labels(ROWS, 3, 32))
    with pytest.raises(InvalidInputError, match="projection_dim=16"):
        loss(batch, _labels(ROWS, 16))
    with pytest.raises(InvalidInputError, match="no projection layer"):
        loss.save_projection("unused.safetensors")


# ------------------------------------------------------------------------------------------ DistillKLDiv


@pytest.mark.parametrize(
    "n_columns,params",
    [
        (3, {}),
        (3, {"temperature": 2.0}),
        (4, {"temperature": 0.5}),
        (5, {"student_temperature": 3.0, "teacher_temperature": 0.7}),
        (4, {"temperature": 1.5, "teacher_temperature": 4.0}),
    ],
)
def test_distill_kl_div_matches(load_tiny, load_reference, n_columns, params):
    _check(
        load_tiny,
        load_reference,
        lambda m: registry.create("distill_kl_div", model=m, **params),
        lambda m: st.DistillKLDivLoss(m, **params),
        n_columns,
        _labels(ROWS, n_columns - 1),
    )


def test_distill_kl_div_cosine_matches_and_config(load_tiny, load_reference):
    ours, theirs = _check(
        load_tiny,
        load_reference,
        lambda m: registry.create("DistillKLDivLoss", model=m, similarity_fct="cosine", student_temperature=0.5),
        lambda m: st.DistillKLDivLoss(m, similarity_fct=st_util.pairwise_cos_sim, student_temperature=0.5),
        3,
        _labels(ROWS, 2),
    )
    assert ours.get_config_dict() == theirs.get_config_dict()


def test_distill_kl_div_refuses_bad_input(tiny_model):
    from loss_test_helpers import make_batch

    for bad in (0, -1.0, float("inf")):
        with pytest.raises(InvalidInputError, match="positive finite"):
            registry.create("distill_kl_div", model=tiny_model, teacher_temperature=bad)
    loss = registry.create("distill_kl_div", model=tiny_model)
    with pytest.raises(InvalidInputError, match=r"shape \(6, 3\)"):
        loss(make_batch(tiny_model, 4, rows=ROWS), _labels(ROWS))
    nan_labels = _labels(ROWS, 2).float()
    nan_labels[0, 0] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN"):
        loss(make_batch(tiny_model, 3, rows=ROWS), nan_labels)


def test_distill_kl_div_warns_on_teacher_underflow(tiny_model, caplog):
    from loss_test_helpers import make_batch

    loss = registry.create("distill_kl_div", model=tiny_model, teacher_temperature=0.01)
    labels = torch.tensor([[10.0, 0.0]] * ROWS)
    with caplog.at_level("WARNING"):
        loss(make_batch(tiny_model, 3, rows=ROWS), labels)
    assert "Raise teacher_temperature above" in caplog.text
