"""AdaptiveLayerLoss and Matryoshka2dLoss against sentence-transformers 6.2, float64, rtol 1e-9.

Both sides draw their random layers / dimensions from Python's ``random``; each side is seeded the
same way before its forward, so they must train the same layers and sizes.
"""

from __future__ import annotations

import pytest
import sentence_transformers  # noqa: F401  (the oracle must be installed: fail, never skip)
import torch
from group_c_helpers import assert_grads_close, assert_value_close, named_grads, run_both
from sentence_transformers.sentence_transformer import losses as st
from torch import nn

from sentrix.errors import InvalidInputError
from sentrix.registry import losses as registry

pytestmark = pytest.mark.oracle


class SelfEmbeddingCoSENT(nn.Module):
    """A user's loss written for sentence-transformers: calls the model itself, once per column."""

    def __init__(self, model, scale=20.0):
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, sentence_features, labels):
        a, b = (self.model(f)["sentence_embedding"] for f in sentence_features)
        scores = torch.cosine_similarity(a, b) * self.scale
        diff = scores[None, :] - scores[:, None]
        diff = diff.masked_fill(~(labels[:, None] > labels[None, :]), float("-inf"))
        return torch.logsumexp(torch.cat((diff.new_zeros(1), diff.reshape(-1))), dim=0)


def _float_labels(rows):
    g = torch.Generator().manual_seed(5)
    return torch.rand(rows, generator=g, dtype=torch.float64)


INNER = {
    # name: (ours, theirs, n_columns, labels)
    "mnrl": (
        lambda m: registry.create("multiple_negatives_ranking", model=m),
        st.MultipleNegativesRankingLoss,
        2,
        None,
    ),
    "mnrl3": (
        lambda m: registry.create("multiple_negatives_ranking", model=m),
        st.MultipleNegativesRankingLoss,
        3,
        None,
    ),
    "cosent": (lambda m: registry.create("cosent", model=m), st.CoSENTLoss, 2, _float_labels),
    "custom": (SelfEmbeddingCoSENT, SelfEmbeddingCoSENT, 2, _float_labels),
}


def _check(load_tiny, load_reference, build_ours, build_theirs, inner, rows=10, python_seed=0):
    ours_inner, theirs_inner, n_columns, labels_fn = INNER[inner]
    ours_model, theirs_model = load_tiny().double(), load_reference().double()
    ours = build_ours(ours_model, ours_inner(ours_model))
    theirs = build_theirs(theirs_model, theirs_inner(theirs_model))
    labels = labels_fn(rows) if labels_fn else None
    ours_value, theirs_value = run_both(
        ours, theirs, ours_model, theirs_model, n_columns, labels, rows=rows, python_seed=python_seed
    )
    ours_value.backward()
    theirs_value.backward()
    assert_value_close(ours_value, theirs_value)
    assert_grads_close(named_grads(ours_model), named_grads(theirs_model))
    # the patched forwards are gone again
    assert "forward" not in vars(ours_model) and "forward" not in vars(ours_model[0])
    return ours, theirs


ADAPTIVE_OPTIONS = [
    {},
    {"n_layers_per_step": -1},
    {"n_layers_per_step": 2, "last_layer_weight": 0.5, "prior_layers_weight": 2.0},
    {"n_layers_per_step": -1, "kl_div_weight": 3.0, "kl_temperature": 1.0},
    {"n_layers_per_step": -1, "kl_temperature": 0.0},
    {"n_layers_per_step": -1, "layer_weighting": "log"},
    {"n_layers_per_step": 1, "layer_weighting": "linear", "kl_temperature": 0.7},
]


@pytest.mark.parametrize(
    "options", ADAPTIVE_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults"
)
def test_adaptive_layer_options_match(load_tiny, load_reference, options):
    _check(
        load_tiny,
        load_reference,
        lambda m, inner: registry.create("adaptive_layer", model=m, loss=inner, **options),
        lambda m, inner: st.AdaptiveLayerLoss(m, inner, **options),
        "mnrl",
    )


@pytest.mark.parametrize("inner", ["mnrl3", "cosent", "custom"])
@pytest.mark.parametrize("python_seed", [0, 1])
def test_adaptive_layer_inner_losses_match(load_tiny, load_reference, inner, python_seed):
    _check(
        load_tiny,
        load_reference,
        lambda m, loss: registry.get("AdaptiveLayerLoss")(m, loss),
        lambda m, loss: st.AdaptiveLayerLoss(m, loss),
        inner,
        python_seed=python_seed,
    )


def test_adaptive_layer_callable_weighting_matches(load_tiny, load_reference):
    def weighting(layer):
        return 0.25 + layer

    ours, theirs = _check(
        load_tiny,
        load_reference,
        lambda m, inner: registry.create(
            "adaptive_layer", model=m, loss=inner, n_layers_per_step=-1, layer_weighting=weighting
        ),
        lambda m, inner: st.AdaptiveLayerLoss(m, inner, n_layers_per_step=-1, layer_weighting=weighting),
        "cosent",
    )
    assert ours.get_config_dict() == theirs.get_config_dict()


MATRYOSHKA_2D_OPTIONS = [
    {"matryoshka_dims": [32, 16, 8]},
    {
        "matryoshka_dims": [32, 16, 8],
        "matryoshka_weights": [1.0, 0.5, 2.0],
        "n_dims_per_step": -1,
        "n_layers_per_step": -1,
    },
    {"matryoshka_dims": [8, 32, 16, 4], "n_dims_per_step": 2, "n_layers_per_step": 2, "kl_temperature": 0.0},
    {
        "matryoshka_dims": [32, 12],
        "n_dims_per_step": -1,
        "last_layer_weight": 2.0,
        "prior_layers_weight": 0.3,
        "kl_div_weight": 0.5,
        "layer_weighting": "log",
    },
]


@pytest.mark.parametrize(
    "options", MATRYOSHKA_2D_OPTIONS, ids=["defaults", "all-weighted", "two-each-no-kl", "weights-log"]
)
@pytest.mark.parametrize("inner", ["mnrl", "custom"])
def test_matryoshka_2d_matches(load_tiny, load_reference, options, inner):
    ours, theirs = _check(
        load_tiny,
        load_reference,
        lambda m, loss: registry.create("matryoshka_2d", model=m, loss=loss, **options),
        lambda m, loss: st.Matryoshka2dLoss(m, loss, **options),
        inner,
        python_seed=3,
    )
    assert ours.get_config_dict() == theirs.get_config_dict()


@pytest.mark.parametrize("python_seed", range(4))
def test_matryoshka_2d_random_draws_match(load_tiny, load_reference, python_seed):
    _check(
        load_tiny,
        load_reference,
        lambda m, loss: registry.get("Matryoshka2dLoss")(m, loss, [32, 24, 16, 8], n_dims_per_step=2),
        lambda m, loss: st.Matryoshka2dLoss(m, loss, [32, 24, 16, 8], n_dims_per_step=2),
        "cosent",
        python_seed=python_seed,
    )


def test_matryoshka_2d_with_teacher_embeddings_matches(load_tiny, load_reference):
    """MSE labels are teacher embeddings: the Matryoshka layer truncates them with the student's."""
    ours_model, theirs_model = load_tiny().double(), load_reference().double()
    ours = registry.create(
        "matryoshka_2d",
        model=ours_model,
        loss=registry.create("mse", model=ours_model),
        matryoshka_dims=[32, 16],
        n_dims_per_step=-1,
    )
    theirs = st.Matryoshka2dLoss(theirs_model, st.MSELoss(theirs_model), matryoshka_dims=[32, 16], n_dims_per_step=-1)
    labels = torch.randn(6, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours_value, theirs_value = run_both(ours, theirs, ours_model, theirs_model, 2, labels, python_seed=1)
    ours_value.backward()
    theirs_value.backward()
    assert_value_close(ours_value, theirs_value)
    assert_grads_close(named_grads(ours_model), named_grads(theirs_model))


def test_wrappers_copy_data_needs_and_accept_names(tiny_model):
    loss = registry.create("adaptive_layer", model=tiny_model, loss="cosent")
    assert loss.data_needs == registry.get("cosent").data_needs
    loss2d = registry.create(
        "matryoshka_2d", model=tiny_model, loss="multiple_negatives_ranking", matryoshka_dims=[32, 8]
    )
    assert loss2d.data_needs == registry.get("multiple_negatives_ranking").data_needs


def test_wrappers_refuse_what_they_cannot_serve(tiny_model):
    class CachedLike(nn.Module):
        uses_gradient_cache = True

        def __init__(self, model):
            super().__init__()
            self.model = model

    with pytest.raises(InvalidInputError, match="gradient-cache"):
        registry.create("adaptive_layer", model=tiny_model, loss=CachedLike(tiny_model))
    with pytest.raises(InvalidInputError, match="gradient-cache"):
        registry.create("matryoshka_2d", model=tiny_model, loss=CachedLike(tiny_model), matryoshka_dims=[32])
    with pytest.raises(InvalidInputError, match="layer_weighting"):
        registry.create("adaptive_layer", model=tiny_model, loss="cosent", layer_weighting="cubic")
    with pytest.raises(InvalidInputError, match="loss module"):
        registry.create("adaptive_layer", model=tiny_model, loss=3)


def test_adaptive_layer_refuses_a_model_without_transformer(tiny_model):
    class Wrapped(nn.Sequential):
        pass

    bare = Wrapped(nn.Linear(2, 2))
    with pytest.raises(InvalidInputError, match="first module is a Transformer"):
        registry.get("adaptive_layer")(bare, registry.create("cosent", model=tiny_model))


@pytest.mark.parametrize("wrapper", ["adaptive_layer", "matryoshka_2d"])
def test_transformer_runs_once_per_step(tiny_model, wrapper):
    """Every layer and size is served from the first pass: as many encoder calls as the inner loss alone."""
    from loss_test_helpers import make_batch

    calls = []
    tiny_model[0].auto_model.register_forward_hook(lambda *args: calls.append(1))
    batch = make_batch(tiny_model, 2, rows=10)
    registry.create("multiple_negatives_ranking", model=tiny_model)(batch, None)
    alone = len(calls)
    calls.clear()
    extra = {"matryoshka_dims": [32, 16], "n_dims_per_step": -1} if wrapper == "matryoshka_2d" else {}
    loss = registry.create(wrapper, model=tiny_model, loss="multiple_negatives_ranking", n_layers_per_step=-1, **extra)
    loss(batch, None).backward()
    assert len(calls) == alone >= 1


def test_adaptive_layer_refuses_a_dict_valued_inner_loss(tiny_model):
    from loss_test_helpers import make_batch

    loss = registry.create("adaptive_layer", model=tiny_model, loss="global_orthogonal_regularization")
    with pytest.raises(InvalidInputError, match="returns named parts"):
        loss(make_batch(tiny_model, 1), None)
    assert "forward" not in vars(tiny_model)


@pytest.mark.parametrize("pooling_mode", ["cls", "max"])
def test_matryoshka_2d_with_normalize_and_other_pooling_matches(tmp_path, pooling_mode):
    """Modules after the transformer (other pooling, Normalize) run again on every shallower layer."""
    from sentence_transformers import SentenceTransformer as STModel

    from sentrix import SentenceTransformer
    from sentrix.testing.tiny_models import tiny_model_folder

    folder = str(tiny_model_folder(tmp_path / "tiny", normalize=True, pooling_mode=pooling_mode, seed=7))
    ours_model = SentenceTransformer(folder, device="cpu").eval().double()
    theirs_model = STModel(folder, device="cpu").eval().double()
    options = {"matryoshka_dims": [32, 16], "n_dims_per_step": -1, "n_layers_per_step": -1}
    ours = registry.create("matryoshka_2d", model=ours_model, loss="multiple_negatives_ranking", **options)
    theirs = st.Matryoshka2dLoss(theirs_model, st.MultipleNegativesRankingLoss(theirs_model), **options)
    ours_value, theirs_value = run_both(ours, theirs, ours_model, theirs_model, 2, rows=10, python_seed=0)
    ours_value.backward()
    theirs_value.backward()
    assert_value_close(ours_value, theirs_value)
    assert_grads_close(named_grads(ours_model), named_grads(theirs_model))
