"""Legacy `model.fit` on NLI triplets with NoDuplicatesDataLoader and MultipleNegativesRankingLoss.

A sentence-transformers 6.x training script in the style of the 2.x NLI examples. It runs unchanged
on sentrix after replacing `sentence_transformers` with `sentrix` in the imports.

    python examples/dropin/legacy_fit_nli_no_duplicates.py --model MODEL_PATH --output-dir runs/fit-nli --max-rows 32

Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/run_summary.json (metrics).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

import torch
from sentence_transformers import InputExample, SentenceTransformer, losses
from sentence_transformers.datasets import NoDuplicatesDataLoader
from sentence_transformers.evaluation import TripletEvaluator

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-rows", type=int, default=32)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    random.seed(args.seed)  # NoDuplicatesDataLoader shuffles with Python's `random`
    torch.manual_seed(args.seed)

    model = SentenceTransformer(args.model, device="cpu")

    with (Path(args.data_dir) / "snli_dev_triplets_sample.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    train_examples = [InputExample(texts=[r["anchor"], r["positive"], r["negative"]]) for r in rows[: args.max_rows]]
    train_dataloader = NoDuplicatesDataLoader(train_examples, batch_size=args.batch_size)
    train_loss = losses.MultipleNegativesRankingLoss(model)

    dev_rows = rows[-24:]
    evaluator = TripletEvaluator(
        [r["anchor"] for r in dev_rows], [r["positive"] for r in dev_rows], [r["negative"] for r in dev_rows],
        name="nli-dev",
    )

    output_path = str(Path(args.output_dir) / "final")
    model.fit(
        train_objectives=[(train_dataloader, train_loss)],
        evaluator=evaluator,
        epochs=1,
        warmup_steps=1,
        optimizer_params={"lr": 5e-4},
        output_path=output_path,
        show_progress_bar=False,
    )

    metrics = evaluator(model)
    print(metrics)
    (Path(args.output_dir) / "run_summary.json").write_text(json.dumps({"metrics": metrics}, indent=2, default=str))


if __name__ == "__main__":
    main()
