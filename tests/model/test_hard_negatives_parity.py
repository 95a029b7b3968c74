"""mine_hard_negatives against sentence-transformers 6.2 (test-only oracle) on a SciFact slice.

Both libraries load the same tiny model folder and mine the same (query, relevant document) pairs;
the output datasets must be equal (texts exactly, scores within 1e-6) for every output format and
for the range, margin, score and sampling options. The chunked search (small query and corpus
chunks) and the FAISS search must give the same answer as the single-block one.
"""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.oracle

import sentence_transformers as st
from sentence_transformers.util import mine_hard_negatives as st_mine

from sentrix.errors import InvalidInputError, InvalidParameterError
from sentrix.util import mine_hard_negatives

DATA = Path(__file__).resolve().parents[1] / "data" / "scifact_sample.json"


@pytest.fixture(scope="module")
def scifact():
    from datasets import Dataset

    raw = json.loads(DATA.read_text(encoding="utf-8"))
    anchors, positives = [], []
    for query_id, doc_ids in raw["relevant_docs"].items():
        for doc_id in doc_ids:
            anchors.append(raw["queries"][query_id])
            positives.append(raw["corpus"][doc_id])
    # one anchor with a second positive, so multi-positive anchors are covered
    anchors.append(anchors[0])
    positives.append(raw["corpus"][next(d for d in raw["corpus"] if raw["corpus"][d] not in positives)])
    return Dataset.from_dict({"query": anchors, "answer": positives}), list(raw["corpus"].values())


@pytest.fixture(scope="module")
def st_model(tiny_folder):
    return st.SentenceTransformer(str(tiny_folder), device="cpu")


def assert_same(ours, theirs):
    assert ours.column_names == theirs.column_names
    assert len(ours) == len(theirs) and len(ours) > 0
    for column in ours.column_names:
        a, b = ours[column], theirs[column]
        if column in ("scores", "score"):
            np.testing.assert_allclose(np.array(a, dtype=float), np.array(b, dtype=float), atol=1e-6, rtol=0)
        else:
            assert a == b, column


CASES = {
    "triplet": dict(num_negatives=3),
    "triplet_scores_range": dict(num_negatives=2, range_min=3, range_max=15, output_scores=True),
    "ntuple_relative_margin": dict(num_negatives=4, relative_margin=0.001, output_format="n-tuple",
                                   output_scores=True),
    "labeled_pair_absolute_margin": dict(num_negatives=3, absolute_margin=0.0, output_format="labeled-pair"),
    "labeled_pair_scores_max_min": dict(num_negatives=3, max_score=0.993, min_score=0.99,
                                        output_format="labeled-pair", output_scores=True),
    "labeled_list": dict(num_negatives=5, range_min=1, output_format="labeled-list"),
    "labeled_list_scores": dict(num_negatives=2, relative_margin=0.0005, output_format="labeled-list",
                                output_scores=True),
    "include_positives": dict(num_negatives=4, include_positives=True),
    "random_seeded": dict(num_negatives=3, range_max=12, sampling_strategy="random", output_format="n-tuple"),
    "prompts": dict(num_negatives=2, query_prompt="query: ", corpus_prompt="passage: ", output_format="n-tuple"),
}


POSITIVES_ONLY = {"triplet", "labeled_list"}  # the others use the corpus as extra candidates


@pytest.mark.parametrize("case", list(CASES))
def test_matches_sentence_transformers(case, scifact, tiny_model, st_model):
    dataset, corpus = scifact
    kwargs = dict(CASES[case], corpus=None if case in POSITIVES_ONLY else corpus, verbose=False)
    random.seed(12)
    ours = mine_hard_negatives(dataset, tiny_model, **kwargs)
    random.seed(12)
    theirs = st_mine(dataset, st_model, **kwargs)
    assert_same(ours, theirs)


class WordOverlapScorer:
    """A deterministic stand-in for a cross-encoder: word overlap plus a small text-dependent offset."""

    def predict(self, pairs, batch_size=32, convert_to_tensor=False, **kwargs):
        import torch

        scores = [len(set(q.lower().split()) & set(d.lower().split())) / (1 + len(d.split()))
                  + (sum(map(ord, d)) % 997) / 1e5 for q, d in pairs]
        tensor = torch.tensor(scores)
        return tensor if convert_to_tensor else tensor.numpy()


@pytest.mark.parametrize("options", [dict(absolute_margin=0.0), dict(min_score=0.02, output_scores=True)])
def test_cross_encoder_rescoring_matches_sentence_transformers(options, scifact, tiny_model, st_model):
    dataset, corpus = scifact
    kwargs = dict(options, corpus=corpus, cross_encoder=WordOverlapScorer(), num_negatives=2, verbose=False)
    assert_same(mine_hard_negatives(dataset, tiny_model, **kwargs), st_mine(dataset, st_model, **kwargs))


def test_small_chunks_and_faiss_match_sentence_transformers(scifact, tiny_model, st_model):
    dataset, corpus = scifact
    kwargs = dict(corpus=corpus, num_negatives=3, range_min=2, output_format="n-tuple", output_scores=True,
                  verbose=False)
    theirs = st_mine(dataset, st_model, **kwargs)
    assert_same(mine_hard_negatives(dataset, tiny_model, faiss_batch_size=3, corpus_chunk_size=7, **kwargs), theirs)
    assert_same(mine_hard_negatives(dataset, tiny_model, use_faiss=True, **kwargs),
                st_mine(dataset, st_model, use_faiss=True, **kwargs))


def test_deprecated_spellings_warn_and_match(scifact, tiny_model, st_model):
    dataset, _ = scifact
    with pytest.warns(FutureWarning) as record:
        ours = mine_hard_negatives(dataset, tiny_model, margin=0.0, as_triplets=False, num_negatives=2, verbose=False)
    messages = " ".join(str(w.message) for w in record)
    assert "use absolute_margin" in messages and "use output_format='n-tuple'" in messages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = st_mine(dataset, st_model, margin=0.0, as_triplets=False, num_negatives=2, verbose=False)
    assert_same(ours, theirs)
    with pytest.warns(FutureWarning, match="output_scores=True"):
        ours = mine_hard_negatives(dataset, tiny_model, output_format="n-tuple-scores", num_negatives=2,
                                   verbose=False)
    assert "scores" in ours.column_names


def test_unknown_and_replaced_arguments_are_refused_before_work(scifact):
    dataset, _ = scifact

    class NoModel:  # any encode would fail loudly: the check must come first
        def __getattr__(self, name):
            raise AssertionError(f"model.{name} used before the arguments were checked")

    with pytest.raises(InvalidParameterError, match="'prompt_name' \\(use query_prompt_name"):
        mine_hard_negatives(dataset, NoModel(), prompt_name="query")
    with pytest.raises(InvalidParameterError, match="did you mean 'num_negatives'"):
        mine_hard_negatives(dataset, NoModel(), num_negative=2)
    with pytest.raises(InvalidInputError, match="range_min must be smaller"):
        mine_hard_negatives(dataset, NoModel(), range_min=5, range_max=5)
    with pytest.raises(InvalidInputError, match="corpus_chunk_size"):
        mine_hard_negatives(dataset, NoModel(), corpus_chunk_size=0)


def test_missing_faiss_names_the_install_command(scifact, tiny_model, monkeypatch):
    import sys

    dataset, _ = scifact
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        mine_hard_negatives(dataset, tiny_model, use_faiss=True, verbose=False)
