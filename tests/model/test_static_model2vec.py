"""StaticEmbedding.from_model2vec / from_distillation against sentence-transformers 6.2 (test-only oracle).

No Hub: a tiny random BERT folder is distilled locally with model2vec, saved as a model2vec folder,
and both libraries build their StaticEmbedding from the same inputs; the embeddings must agree
within 1e-6.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.oracle

import sentence_transformers as st
from sentence_transformers.sentence_transformer.modules import StaticEmbedding as STStatic

from sentrix import SentenceTransformer
from sentrix.errors import InvalidParameterError
from sentrix.models import StaticEmbedding

TEXTS = ["A man is playing a guitar.", "the cat sits on the mat", "What is the capital of France?", "red car",
         "Paris is the capital of France, and London is the capital of the United Kingdom."]


def embed_both(ours, theirs):
    a = SentenceTransformer(modules=[ours], device="cpu").encode(TEXTS)
    b = st.SentenceTransformer(modules=[theirs], device="cpu").encode(TEXTS)
    return a, b


@pytest.fixture(scope="module")
def model2vec_folder(tmp_path_factory, tiny_folder):
    from model2vec.distill import distill

    folder = tmp_path_factory.mktemp("m2v") / "tiny-m2v"
    distill(str(tiny_folder), pca_dims=8, device="cpu").save_pretrained(str(folder))
    return folder


def test_from_model2vec_matches_sentence_transformers(model2vec_folder):
    ours, theirs = StaticEmbedding.from_model2vec(str(model2vec_folder)), STStatic.from_model2vec(str(model2vec_folder))
    assert ours.base_model == str(model2vec_folder) and ours.get_embedding_dimension() == 8
    a, b = embed_both(ours, theirs)
    assert np.abs(a).max() > 0
    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("options", [dict(pca_dims=8), dict(pca_dims=4, sif_coefficient=None,
                                                             vocabulary=["guitar", "panda"])])
def test_from_distillation_matches_sentence_transformers(tiny_folder, options):
    ours = StaticEmbedding.from_distillation(str(tiny_folder), device="cpu", **options)
    theirs = STStatic.from_distillation(str(tiny_folder), device="cpu", **options)
    assert ours.get_embedding_dimension() == options["pca_dims"]
    a, b = embed_both(ours, theirs)
    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


def test_distillation_arguments_are_checked(tiny_folder, caplog):
    with pytest.raises(InvalidParameterError, match="pca_dim"):
        StaticEmbedding.from_distillation(str(tiny_folder), pca_dim=8)
    with caplog.at_level(logging.WARNING):
        StaticEmbedding.from_distillation(str(tiny_folder), pca_dims=4, device="cpu", apply_zipf=False)
    assert "apply_zipf=False is not applied" in caplog.text


def test_missing_extra_names_the_install_command(monkeypatch, model2vec_folder, tiny_folder):
    monkeypatch.setitem(sys.modules, "model2vec", None)
    monkeypatch.setitem(sys.modules, "model2vec.distill", None)
    with pytest.raises(ImportError, match=r"pip install sentrix\[model2vec\]"):
        StaticEmbedding.from_model2vec(str(model2vec_folder))
    with pytest.raises(ImportError, match=r"pip install sentrix\[model2vec\]"):
        StaticEmbedding.from_distillation(str(tiny_folder))
