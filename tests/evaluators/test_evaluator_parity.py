"""Evaluator metrics, primary metrics and result files equal sentence-transformers 6.2's.

Both evaluators run on the same model object (sentence-transformers' own model, so the only
difference is the evaluator); a second set runs ours on the sentrix model loaded from the same
folder, against the reference on sentence-transformers' model.
"""

from __future__ import annotations

import csv
import json
import os

import pytest

from sentrix.evaluation import (
    EmbeddingSimilarityEvaluator,
    InformationRetrievalEvaluator,
    SequentialEvaluator,
    TripletEvaluator,
)
from sentrix.similarity import cos_sim, dot_score

st_eval = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
st_util = pytest.importorskip("sentence_transformers.util")

pytestmark = pytest.mark.oracle

TOL = 1e-6


def assert_same_metrics(ours: dict, theirs: dict, tol: float = TOL) -> None:
    assert list(ours) == list(theirs)
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], abs=tol), key


def assert_same_ranking(ours: list[dict], theirs: list[dict]) -> None:
    """Same scores rank by rank; the documents too, except that documents tied (within TOL) may swap.

    Embeddings equal to float rounding can order two documents of equal score either way (the
    thread count changes the rounding), so only a swap between tied scores is allowed.
    """
    assert [r["score"] for r in ours] == pytest.approx([r["score"] for r in theirs], abs=TOL)
    their_scores = {r["corpus_id"]: r["score"] for r in theirs}
    cutoff = theirs[-1]["score"] if theirs else None
    for ours_hit, their_hit in zip(ours, theirs):
        if ours_hit["corpus_id"] == their_hit["corpus_id"]:
            continue
        if ours_hit["corpus_id"] in their_scores:  # ranked elsewhere by them: only a tie may move it
            assert ours_hit["score"] == pytest.approx(their_scores[ours_hit["corpus_id"]], abs=TOL), ours_hit
        else:  # not in their top-k: tied with their last hit
            assert ours_hit["score"] == pytest.approx(cutoff, abs=TOL), ours_hit


def assert_same_files(our_dir, their_dir) -> None:
    assert sorted(os.listdir(our_dir)) == sorted(os.listdir(their_dir))
    for name in os.listdir(their_dir):
        with open(os.path.join(our_dir, name), encoding="utf-8") as a, open(os.path.join(their_dir, name), encoding="utf-8") as b:
            ours, theirs = a.read().splitlines(), b.read().splitlines()
        assert len(ours) == len(theirs), name
        if name.endswith(".jsonl"):
            for x, y in zip(ours, theirs):
                x, y = json.loads(x), json.loads(y)
                assert x["query_id"] == y["query_id"] and x["query"] == y["query"]
                assert_same_ranking(x["results"], y["results"])
            continue
        assert ours[0] == theirs[0], name  # header
        for x, y in zip(csv.reader(ours[1:]), csv.reader(theirs[1:])):
            assert x[:2] == y[:2]
            assert [float(v) for v in x[2:]] == pytest.approx([float(v) for v in y[2:]], abs=TOL)


def run_both(ours, theirs, model, tmp_path):
    our_dir, their_dir = tmp_path / "ours", tmp_path / "theirs"
    for epoch, steps in ((1, 10), (2, -1)):  # two calls: the CSV gets its header once, then rows
        our_metrics = ours(model, output_path=str(our_dir), epoch=epoch, steps=steps)
        their_metrics = theirs(model, output_path=str(their_dir), epoch=epoch, steps=steps)
    assert_same_metrics(our_metrics, their_metrics)
    assert ours.primary_metric == theirs.primary_metric
    assert ours.primary_metric in our_metrics
    assert ours.greater_is_better == theirs.greater_is_better
    assert ours.get_config_dict() == theirs.get_config_dict()
    assert ours.description == theirs.description
    assert_same_files(our_dir, their_dir)
    return our_metrics


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"similarity_fn_names": ["cosine", "dot", "euclidean", "manhattan"]},
        {"main_similarity": "dot"},
        {"main_similarity": "manhattan", "similarity_fn_names": ["cosine", "manhattan"]},
        {"precision": "int8"},
        {"precision": "ubinary"},
        {"truncate_dim": 16},
    ],
)
def test_embedding_similarity(st_model, sts_sample, tmp_path, kwargs):
    args = (sts_sample["sentences1"], sts_sample["sentences2"], sts_sample["scores"])
    metrics = run_both(
        EmbeddingSimilarityEvaluator(*args, name="sts-dev", **kwargs),
        st_eval.EmbeddingSimilarityEvaluator(*args, name="sts-dev", **kwargs),
        st_model,
        tmp_path,
    )
    assert "sts-dev_spearman_" + (kwargs.get("main_similarity") or "cosine") in metrics


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"similarity_fn_names": ["cosine", "dot", "euclidean", "manhattan"]},
        {"main_similarity_function": "euclidean", "margin": 0.05},
        {"margin": {"cosine": 0.02}, "truncate_dim": 16},
    ],
)
def test_triplet(st_model, triplet_sample, tmp_path, kwargs):
    args = (triplet_sample["anchor"], triplet_sample["positive"], triplet_sample["negative"])
    run_both(
        TripletEvaluator(*args, name="all-nli-dev", **kwargs),
        st_eval.TripletEvaluator(*args, name="all-nli-dev", **kwargs),
        st_model,
        tmp_path,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"corpus_chunk_size": 7, "write_predictions": True},
        {"mrr_at_k": [1, 5, 10], "ndcg_at_k": [3, 10], "accuracy_at_k": [2], "precision_recall_at_k": [4, 50], "map_at_k": [5, 100]},
        {"query_prompt": "query: ", "corpus_prompt": "passage: ", "truncate_dim": 16},
    ],
)
def test_information_retrieval(st_model, scifact_sample, tmp_path, kwargs):
    args = (scifact_sample["queries"], scifact_sample["corpus"], scifact_sample["relevant_docs"])
    run_both(
        InformationRetrievalEvaluator(*args, name="scifact", **kwargs),
        st_eval.InformationRetrievalEvaluator(*args, name="scifact", **kwargs),
        st_model,
        tmp_path,
    )


def test_information_retrieval_with_several_score_functions(st_model, scifact_sample, tmp_path):
    args = (scifact_sample["queries"], scifact_sample["corpus"], scifact_sample["relevant_docs"])
    run_both(
        InformationRetrievalEvaluator(*args, name="scifact", score_functions={"cosine": cos_sim, "dot": dot_score}, main_score_function="dot"),
        st_eval.InformationRetrievalEvaluator(
            *args, name="scifact", score_functions={"cosine": st_util.cos_sim, "dot": st_util.dot_score}, main_score_function="dot"
        ),
        st_model,
        tmp_path,
    )


def test_information_retrieval_ties_do_not_depend_on_chunk_size(st_model, tmp_path):
    # duplicated documents score exactly alike; ties are broken by ascending corpus id
    docs = ["a man plays the guitar", "a dog runs on the beach", "the sun is hot", "a cat sleeps"]
    corpus = {f"d{i:02d}": docs[i % len(docs)] for i in range(24)}
    queries = {"q1": "guitar music", "q2": "a dog on the beach", "q3": "hot weather"}
    relevant = {"q1": {"d16", "d20"}, "q2": {"d01"}, "q3": {"d22"}}
    kwargs = {"accuracy_at_k": [1, 3], "precision_recall_at_k": [1, 3], "mrr_at_k": [3], "ndcg_at_k": [3], "map_at_k": [3]}
    results = []
    for chunk in (1, 5, 50):
        ours = InformationRetrievalEvaluator(queries, corpus, relevant, corpus_chunk_size=chunk, **kwargs)
        theirs = st_eval.InformationRetrievalEvaluator(queries, corpus, relevant, corpus_chunk_size=chunk, **kwargs)
        metrics = ours(st_model)
        assert_same_metrics(metrics, theirs(st_model))
        results.append(metrics)
    assert results[0] == results[1] == results[2]


def test_sequential(st_model, sts_sample, triplet_sample, tmp_path):
    sts_args = (sts_sample["sentences1"], sts_sample["sentences2"], sts_sample["scores"])
    nli_args = (triplet_sample["anchor"], triplet_sample["positive"], triplet_sample["negative"])

    def mean(scores):
        return sum(scores) / len(scores)

    ours = SequentialEvaluator(
        [EmbeddingSimilarityEvaluator(*sts_args, name="sts-dev"), TripletEvaluator(*nli_args, name="nli-dev")], main_score_function=mean
    )
    theirs = st_eval.SequentialEvaluator(
        [st_eval.EmbeddingSimilarityEvaluator(*sts_args, name="sts-dev"), st_eval.TripletEvaluator(*nli_args, name="nli-dev")],
        main_score_function=mean,
    )
    run_both(ours, theirs, st_model, tmp_path)


def test_on_the_sentrix_model(sentrix_model, st_model, sts_sample, triplet_sample, scifact_sample):
    """Ours on sentrix's model against the reference on sentence-transformers' model (same folder)."""
    sts_args = (sts_sample["sentences1"], sts_sample["sentences2"], sts_sample["scores"])
    nli_args = (triplet_sample["anchor"], triplet_sample["positive"], triplet_sample["negative"])
    ir_args = (scifact_sample["queries"], scifact_sample["corpus"], scifact_sample["relevant_docs"])
    pairs = [
        (EmbeddingSimilarityEvaluator(*sts_args, name="sts-dev"), st_eval.EmbeddingSimilarityEvaluator(*sts_args, name="sts-dev")),
        (TripletEvaluator(*nli_args, name="nli-dev"), st_eval.TripletEvaluator(*nli_args, name="nli-dev")),
        (InformationRetrievalEvaluator(*ir_args, name="scifact"), st_eval.InformationRetrievalEvaluator(*ir_args, name="scifact")),
    ]
    for ours, theirs in pairs:
        assert_same_metrics(ours(sentrix_model), theirs(st_model), tol=1e-5)
        assert ours.primary_metric == theirs.primary_metric
