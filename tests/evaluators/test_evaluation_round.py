"""One evaluation round encodes each distinct text once, with results identical to no sharing;
embeddings never outlive the weights they came from; IR top-k does not depend on chunk size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentrix.evaluation import (
    EmbeddingSimilarityEvaluator,
    InformationRetrievalEvaluator,
    SequentialEvaluator,
    TripletEvaluator,
)
from sentrix.evaluation_round import EncodeRequest, active_round, evaluation_round
from sentrix.evaluator_base import SentenceEvaluator, encode_fn


@pytest.fixture()
def round_suite(sts_sample, triplet_sample, scifact_sample):
    """Evaluators over overlapping texts: the triplet anchors and the queries reappear as STS
    sentences, IR documents reappear as triplet positives, and two similarity functions."""
    anchors = triplet_sample["anchor"][:30]
    s1 = sts_sample["sentences1"][:40] + anchors[:10]
    s2 = sts_sample["sentences2"][:40] + triplet_sample["positive"][:10]
    scores = sts_sample["scores"][:40] + [float(i % 5) for i in range(10)]
    corpus = dict(scifact_sample["corpus"])
    corpus.update({f"extra{i}": text for i, text in enumerate(triplet_sample["positive"][:30])})
    return [
        EmbeddingSimilarityEvaluator(s1, s2, scores, name="sts", similarity_fn_names=["cosine", "dot"]),
        EmbeddingSimilarityEvaluator(s1, s2, scores, name="sts-int8", precision="int8"),
        TripletEvaluator(anchors, triplet_sample["positive"][:30], triplet_sample["negative"][:30], name="nli"),
        InformationRetrievalEvaluator(scifact_sample["queries"], corpus, scifact_sample["relevant_docs"], name="ir"),
        InformationRetrievalEvaluator(
            scifact_sample["queries"], corpus, scifact_sample["relevant_docs"], name="ir-chunked", corpus_chunk_size=7
        ),
    ]


def run(model, evaluators, share):
    with evaluation_round(model, share=share) as round_:
        metrics = SequentialEvaluator(evaluators)(model)
    return metrics, dict(round_.stats), round_.distinct_texts


def test_sharing_gives_bitwise_equal_metrics_and_encodes_each_text_once(sentrix_model, round_suite):
    shared, shared_stats, distinct = run(sentrix_model, round_suite, share=True)
    alone, alone_stats, _ = run(sentrix_model, round_suite, share=False)
    assert list(shared) == list(alone)
    assert shared == alone  # bit for bit, every metric
    assert all(np.isfinite(v) for v in shared.values())
    assert shared_stats["texts_encoded"] == distinct < shared_stats["texts_requested"]
    assert alone_stats["texts_encoded"] == alone_stats["texts_requested"] == shared_stats["texts_requested"]


def test_each_evaluator_alone_equals_its_part_of_the_round(sentrix_model, round_suite):
    together, _, _ = run(sentrix_model, round_suite, share=True)
    for evaluator in round_suite:
        alone = evaluator(sentrix_model)  # its own round
        assert alone == {k: together[k] for k in alone}


def test_the_round_matches_plain_encode(sentrix_model, sts_sample):
    texts = sts_sample["sentences1"] + sts_sample["sentences2"]
    plain = sentrix_model.encode(texts, batch_size=16)
    with evaluation_round(sentrix_model):
        shared = encode_fn(sentrix_model, None)(texts, batch_size=16)
        as_tensor = encode_fn(sentrix_model, "query")(texts[:5], convert_to_tensor=True)
        quantised = encode_fn(sentrix_model, None)(texts, precision="int8")
    assert shared.dtype == plain.dtype and shared.shape == plain.shape
    np.testing.assert_allclose(shared, plain, rtol=0, atol=1e-6)
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.shape == (5, plain.shape[1])
    np.testing.assert_array_equal(quantised, sentrix_model.encode(texts, precision="int8"))


def test_an_embedding_never_outlives_its_weights(tiny_folder, sts_sample):
    from sentrix.model import SentenceTransformer

    model = SentenceTransformer(tiny_folder, device="cpu")
    evaluator = EmbeddingSimilarityEvaluator(sts_sample["sentences1"], sts_sample["sentences2"], sts_sample["scores"])
    before = evaluator(model)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(1.5).add_(0.01)
    after = evaluator(model)
    assert after != before
    fresh = SentenceTransformer(tiny_folder, device="cpu")
    fresh.load_state_dict(model.state_dict())
    assert evaluator(fresh) == after

    # inside one round too: an in-place update (an optimiser step) drops what was cached
    with evaluation_round(model) as round_:
        first = evaluator(model)
        with torch.no_grad():
            next(model.parameters()).add_(0.5)
        second = evaluator(model)
        assert round_.stats["texts_encoded"] == 2 * round_.distinct_texts
    assert first == after and second != first
    assert active_round(model) is None


def test_undeclared_third_party_evaluator_shares_on_demand(sentrix_model, sts_sample):
    calls = []

    class NormEvaluator(SentenceEvaluator):
        def __init__(self, texts, name):
            super().__init__()
            self.texts, self.name = texts, name

        def __call__(self, model, output_path=None, epoch=-1, steps=-1):
            embeddings = encode_fn(model, None)(self.texts, batch_size=8)
            calls.append(embeddings)
            self.primary_metric = "norm"
            return self.prefix_name_to_metrics({"norm": float(np.linalg.norm(embeddings, axis=1).mean())}, self.name)

    texts = sts_sample["sentences1"][:20]
    with evaluation_round(sentrix_model) as round_:
        SequentialEvaluator([NormEvaluator(texts, "a"), NormEvaluator(texts[::-1], "b")])(sentrix_model)
    assert round_.stats == {"texts_requested": 40, "texts_encoded": 20, "encode_calls": round_.stats["encode_calls"]}
    np.testing.assert_array_equal(calls[0], calls[1][::-1])


def test_declared_requests_are_one_pass(sentrix_model, sts_sample, triplet_sample):
    sts = EmbeddingSimilarityEvaluator(sts_sample["sentences1"], sts_sample["sentences2"], sts_sample["scores"])
    nli = TripletEvaluator(triplet_sample["anchor"], triplet_sample["positive"], triplet_sample["negative"])
    requests = SequentialEvaluator([sts, nli]).texts_to_encode(sentrix_model)
    assert all(isinstance(r, EncodeRequest) for r in requests)
    with evaluation_round(sentrix_model) as round_:
        round_.prefetch(requests)
        encoded = round_.stats["texts_encoded"]
        SequentialEvaluator([sts, nli])(sentrix_model)
        assert round_.stats["texts_encoded"] == encoded  # nothing left to encode after the pre-pass


# -- information retrieval: chunked top-k, ties --------------------------------------------------


def rounded_cosine(a, b):
    """Cosine similarity rounded to one decimal: forces many exact ties."""
    from sentrix.similarity import cos_sim

    return torch.round(cos_sim(a, b) * 10) / 10


@pytest.mark.parametrize("score_fn", ["model", "rounded"])
def test_ir_metrics_do_not_depend_on_the_chunk_size(sentrix_model, scifact_sample, score_fn):
    queries, corpus, relevant = scifact_sample["queries"], scifact_sample["corpus"], scifact_sample["relevant_docs"]
    # duplicate documents under new ids score exactly alike: ties at every cut-off
    corpus = {**corpus, **{f"dup{i:03d}-{cid}": text for i, (cid, text) in enumerate(list(corpus.items())[:25])}}
    kwargs = {"accuracy_at_k": [1, 3, 10], "precision_recall_at_k": [1, 5], "mrr_at_k": [10], "ndcg_at_k": [5, 10], "map_at_k": [20]}
    if score_fn == "rounded":
        kwargs["score_functions"] = {"cosine": rounded_cosine}
    results = []
    for chunk in (1, 2, 3, 7, 16, 50, 10_000):
        evaluator = InformationRetrievalEvaluator(queries, corpus, relevant, corpus_chunk_size=chunk, **kwargs)
        metrics = evaluator(sentrix_model)
        results.append({k.split("_", 1)[1]: v for k, v in metrics.items()})
    assert all(r == results[0] for r in results[1:])
    if score_fn == "rounded":
        # the forced ties are real: some query has tied scores around its cut-off
        q = sentrix_model.encode(list(queries.values()), convert_to_tensor=True)
        d = sentrix_model.encode(list(corpus.values()), convert_to_tensor=True)
        top = torch.sort(rounded_cosine(q, d), dim=1, descending=True).values
        assert bool((top[:, 9] == top[:, 10]).any())


def test_ir_large_corpus_is_not_kept_in_the_round(sentrix_model, scifact_sample):
    queries, corpus, relevant = scifact_sample["queries"], scifact_sample["corpus"], scifact_sample["relevant_docs"]
    small = InformationRetrievalEvaluator(queries, corpus, relevant, corpus_chunk_size=len(corpus))
    large = InformationRetrievalEvaluator(queries, corpus, relevant, corpus_chunk_size=11)
    assert len(large.texts_to_encode(sentrix_model)) == 1  # queries only: the corpus is read in chunks
    with evaluation_round(sentrix_model) as round_:
        metrics_large = large(sentrix_model)
        kept = sum(len(rows) for rows in round_._cache.values())
    assert kept == len(set(queries.values()))
    assert metrics_large == small(sentrix_model)
