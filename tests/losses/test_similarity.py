"""sentrix.similarity against sentence-transformers' util, for lists, numpy arrays and tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentrix import similarity as sim

MATRIX = ["cos_sim", "dot_score", "euclidean_sim", "manhattan_sim"]
PAIRWISE = ["pairwise_cos_sim", "pairwise_dot_score", "pairwise_euclidean_sim", "pairwise_manhattan_sim"]


@pytest.mark.oracle
@pytest.mark.parametrize("name", MATRIX + PAIRWISE)
@pytest.mark.parametrize("kind", ["tensor", "numpy", "list", "half"])
def test_matches_reference(name, kind):
    from sentence_transformers import util

    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(4, 6, generator=g), torch.randn(4 if name in PAIRWISE else 5, 6, generator=g)
    convert = {
        "tensor": lambda t: t,
        "numpy": lambda t: t.numpy(),
        "list": lambda t: t.tolist(),
        "half": lambda t: t.half(),
    }[kind]
    ours = getattr(sim, name)(convert(a), convert(b))
    theirs = getattr(util, name)(convert(a), convert(b))
    assert ours.dtype == theirs.dtype
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_single_vectors_are_a_batch_of_one():
    assert sim.cos_sim([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]).tolist() == [[1.0, 0.0]]
    assert sim.euclidean_sim(np.array([0.0, 0.0]), np.array([3.0, 4.0])).tolist() == [[-5.0]]
    assert sim.pairwise_manhattan_sim([[1.0, 2.0]], [[2.0, 0.0]]).tolist() == [-3.0]


def test_enum_values_and_lookups():
    F = sim.SimilarityFunction
    assert F.possible_values() == ["cosine", "dot", "euclidean", "manhattan"]
    assert F("dot") is F.DOT_PRODUCT is F.DOT and F("dot_product") is F.DOT_PRODUCT
    assert F.to_similarity_fn("cosine") is sim.cos_sim
    assert F.to_similarity_fn(F.MANHATTAN) is sim.manhattan_sim
    assert F.to_similarity_pairwise_fn("euclidean") is sim.pairwise_euclidean_sim
    assert F.to_similarity_pairwise_fn("dot") is sim.pairwise_dot_score
    with pytest.raises(ValueError, match=r"Unknown similarity function 'cosin'. Use one of: 'cosine', 'dot', 'euclidean', 'manhattan'"):
        F.to_similarity_fn("cosin")


@pytest.mark.oracle
def test_enum_matches_reference_values():
    from sentence_transformers import SimilarityFunction as Theirs

    for member in sim.SimilarityFunction:
        assert Theirs(member.value).value == member.value


def test_function_names_for_configs():
    import functools

    assert sim.function_name(sim.cos_sim) == "cos_sim"
    assert sim.function_name(functools.partial(sim.cos_sim)) == "cos_sim"
    assert sim.resolve_similarity_fn("cosine", pairwise=True) is sim.pairwise_cos_sim
    assert sim.resolve_similarity_fn("dot_score", pairwise=False) is sim.dot_score
