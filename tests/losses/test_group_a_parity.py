"""Group A losses (in-batch negatives family) against sentence-transformers 6.2 itself.

Same tiny weights, same batch, same parameters, float64: loss values and every parameter's
gradient agree to rtol 1e-9 (see group_a_helpers.assert_strictly_equal).
"""

from __future__ import annotations

import warnings

import pytest
import sentence_transformers  # noqa: F401  - the oracle must be installed; a missing one fails here
import torch
from group_a_helpers import assert_strictly_equal, batches, double_pair, loss_and_grads
from sentence_transformers import util as st_util
from sentence_transformers.sentence_transformer import losses as st

from sentrix.registry import losses as registry

pytestmark = pytest.mark.oracle

MNRL_OPTIONS = {
    "default-pairs": (2, {}),
    "hard-negatives": (4, {}),
    "dot-scale": (3, {"similarity_fct": "dot", "scale": 1.0}),
    "all-directions": (3, {"directions": ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")}),
    "per-direction": (3, {"directions": ("query_to_doc", "doc_to_query"), "partition_mode": "per_direction"}),
    "hard": (4, {"hardness_mode": "hard_negatives", "hardness_strength": 5.0}),
    "in-batch": (3, {"hardness_mode": "in_batch_negatives", "hardness_strength": 9.0}),
    "all-negatives": (4, {"hardness_mode": "all_negatives", "hardness_strength": 3.0, "scale": 10.0}),
}


def _theirs_params(params):
    params = dict(params)
    if params.get("similarity_fct") == "dot":
        params["similarity_fct"] = st_util.dot_score
    return params


def _run(load_tiny, load_reference, build_ours, build_theirs, n_columns, rows=12, seed=0):
    ours_model, theirs_model = double_pair(load_tiny, load_reference)
    ours_batch, theirs_batch = batches(ours_model, theirs_model, n_columns, rows, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ours, theirs = build_ours(ours_model), build_theirs(theirs_model)
    return loss_and_grads(ours_model, ours, ours_batch), loss_and_grads(theirs_model, theirs, theirs_batch)


@pytest.mark.parametrize("case", list(MNRL_OPTIONS), ids=list(MNRL_OPTIONS))
def test_mnrl_matches(load_tiny, load_reference, case):
    n_columns, params = MNRL_OPTIONS[case]
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create("multiple_negatives_ranking", model=m, **params),
        lambda m: st.MultipleNegativesRankingLoss(m, **_theirs_params(params)),
        n_columns,
    ))


@pytest.mark.parametrize("case", list(MNRL_OPTIONS), ids=list(MNRL_OPTIONS))
def test_cached_mnrl_matches(load_tiny, load_reference, case):
    n_columns, params = MNRL_OPTIONS[case]
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create("cached_multiple_negatives_ranking", model=m, mini_batch_size=5, **params),
        lambda m: st.CachedMultipleNegativesRankingLoss(m, mini_batch_size=5, **_theirs_params(params)),
        n_columns,
    ))


def test_cached_mnrl_token_budget_matches(load_tiny, load_reference):
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create("CachedMultipleNegativesRankingLoss", model=m, mini_batch_num_tokens=30),
        lambda m: st.CachedMultipleNegativesRankingLoss(m, mini_batch_num_tokens=30),
        3,
    ))


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run faster on one thread, and the suite shares the CPU with other jobs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_symmetric_matches(load_tiny, load_reference):
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create("multiple_negatives_symmetric_ranking", model=m, scale=10.0),
        lambda m: st.MultipleNegativesSymmetricRankingLoss(m, scale=10.0),
        3,
    ))


def test_cached_symmetric_matches(load_tiny, load_reference):
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create("CachedMultipleNegativesSymmetricRankingLoss", model=m, mini_batch_size=4),
        lambda m: st.CachedMultipleNegativesSymmetricRankingLoss(m, mini_batch_size=4),
        3,
    ))


def test_symmetric_variants_warn_deprecation(tiny_model):
    with pytest.warns(DeprecationWarning, match="directions=\\('query_to_doc', 'doc_to_query'\\)"):
        registry.create("multiple_negatives_symmetric_ranking", model=tiny_model)
    with pytest.warns(DeprecationWarning, match="CachedMultipleNegativesRankingLoss"):
        registry.create("cached_multiple_negatives_symmetric_ranking", model=tiny_model)


@pytest.fixture(scope="module")
def guide_dir(tmp_path_factory):
    from sentrix.testing.tiny_models import tiny_model_folder

    return str(tiny_model_folder(tmp_path_factory.mktemp("tiny_guide"), seed=99))


def _guides(guide_dir, max_seq_length=None):
    from sentence_transformers import SentenceTransformer as STModel

    from sentrix import SentenceTransformer

    ours, theirs = SentenceTransformer(guide_dir, device="cpu").eval().double(), STModel(guide_dir, device="cpu").eval().double()
    if max_seq_length is not None:
        ours.max_seq_length = theirs.max_seq_length = max_seq_length
    return ours, theirs


GIST_OPTIONS = {
    "default-pairs": (2, {}, None),
    "triplets-relative": (3, {"margin_strategy": "relative", "margin": 0.05, "temperature": 0.05}, None),
    "absolute-no-contrast": (3, {"margin": 0.02, "contrast_anchors": False, "contrast_positives": False}, None),
    "retokenised-guide": (2, {"contrast_anchors": False}, 6),
}


@pytest.mark.parametrize("case", list(GIST_OPTIONS), ids=list(GIST_OPTIONS))
def test_gist_matches(load_tiny, load_reference, guide_dir, case):
    n_columns, params, guide_length = GIST_OPTIONS[case]
    ours_guide, theirs_guide = _guides(guide_dir, guide_length)
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create("gist_embed", model=m, guide=ours_guide, **params),
        lambda m: st.GISTEmbedLoss(m, theirs_guide, **params),
        n_columns,
    ))


@pytest.mark.parametrize("case", ["default-pairs", "triplets-relative", "retokenised-guide", "two-negatives"])
def test_cached_gist_matches(load_tiny, load_reference, guide_dir, case):
    n_columns, params, guide_length = GIST_OPTIONS.get(case, (4, {"margin": 0.01}, None))
    ours_guide, theirs_guide = _guides(guide_dir, guide_length)
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create("CachedGISTEmbedLoss", model=m, guide=ours_guide, mini_batch_size=5, **params),
        lambda m: st.CachedGISTEmbedLoss(m, theirs_guide, mini_batch_size=5, **params),
        n_columns,
    ))


@pytest.mark.parametrize("mini_batched", [True, False])
def test_mega_batch_margin_matches(load_tiny, load_reference, mini_batched):
    params = {"positive_margin": 0.9, "negative_margin": 0.5, "use_mini_batched_version": mini_batched, "mini_batch_size": 5}
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create("mega_batch_margin", model=m, **params),
        lambda m: st.MegaBatchMarginLoss(m, **params),
        2,
    ))


@pytest.mark.parametrize("inner", ["cached_multiple_negatives_ranking", "mega_batch_margin", "cached_gist_embed"])
def test_matryoshka_over_cached_loss_matches(load_tiny, load_reference, guide_dir, inner):
    dims, weights = [32, 16, 8], [1.0, 0.5, 2.0]
    extra, st_extra, st_cls = {}, {}, {
        "cached_multiple_negatives_ranking": st.CachedMultipleNegativesRankingLoss,
        "mega_batch_margin": st.MegaBatchMarginLoss,
        "cached_gist_embed": st.CachedGISTEmbedLoss,
    }[inner]
    if inner == "cached_gist_embed":
        extra["guide"], st_extra["guide"] = _guides(guide_dir)
    if inner == "mega_batch_margin":
        extra["negative_margin"] = st_extra["negative_margin"] = 0.95
    assert_strictly_equal(*_run(
        load_tiny, load_reference,
        lambda m: registry.create(
            "matryoshka", model=m, loss=registry.create(inner, model=m, mini_batch_size=5, **extra),
            matryoshka_dims=dims, matryoshka_weights=weights,
        ),
        lambda m: st.MatryoshkaLoss(m, st_cls(m, mini_batch_size=5, **st_extra), matryoshka_dims=dims, matryoshka_weights=weights),
        2,
    ))


def test_matryoshka_leaves_the_cached_loss_unchanged(tiny_model):
    inner = registry.create("cached_multiple_negatives_ranking", model=tiny_model, mini_batch_size=2)
    wrapper = registry.create("matryoshka", model=tiny_model, loss=inner, matryoshka_dims=[32, 16])
    from loss_test_helpers import make_batch

    wrapper(make_batch(tiny_model, 2, rows=4), None).backward()
    assert "calculate_loss" not in vars(inner)  # wrapped for the call only, not for good


def test_matryoshka_refuses_a_cached_loss_without_calculate_loss(tiny_model):
    from sentrix.plugin_api import InvalidInputError

    class Opaque(torch.nn.Module):
        uses_gradient_cache = True

        def forward(self, features, labels):
            raise AssertionError("not reached")

    with pytest.raises(InvalidInputError, match="calculate_loss"):
        registry.create("matryoshka", model=tiny_model, loss=Opaque(), matryoshka_dims=[32, 16])


def test_config_dicts_match_reference(tiny_model, reference_model, guide_dir):
    ours_guide, theirs_guide = _guides(guide_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pairs = [
            (registry.create("cached_multiple_negatives_ranking", model=tiny_model), st.CachedMultipleNegativesRankingLoss(reference_model)),
            (registry.create("multiple_negatives_symmetric_ranking", model=tiny_model), st.MultipleNegativesSymmetricRankingLoss(reference_model)),
            (registry.create("cached_multiple_negatives_symmetric_ranking", model=tiny_model), st.CachedMultipleNegativesSymmetricRankingLoss(reference_model)),
            (registry.create("mega_batch_margin", model=tiny_model), st.MegaBatchMarginLoss(reference_model)),
        ]
    for ours, theirs in pairs:
        assert ours.get_config_dict() == theirs.get_config_dict(), type(ours).__name__
        assert ours.citation.strip() == theirs.citation.strip(), type(ours).__name__
    for name, st_cls in (("gist_embed", st.GISTEmbedLoss), ("cached_gist_embed", st.CachedGISTEmbedLoss)):
        ours, theirs = registry.create(name, model=tiny_model, guide=ours_guide), st_cls(reference_model, theirs_guide)
        ours_config, theirs_config = ours.get_config_dict(), theirs.get_config_dict()
        assert ours_config.pop("guide") is ours_guide and theirs_config.pop("guide") is theirs_guide
        assert list(ours_config.items()) == list(theirs_config.items())
