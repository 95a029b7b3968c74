"""Legacy `model.fit` training on STS pairs (the pre-3.0 API that sentence-transformers 6.x still supports).

A sentence-transformers 6.x training script. It runs unchanged on sentrix after replacing
`sentence_transformers` with `sentrix` in the imports.

    python examples/dropin/legacy_fit_sts.py --model MODEL_PATH --output-dir runs/fit --max-rows 32

InputExample rows in a torch DataLoader, CosineSimilarityLoss, an EmbeddingSimilarityEvaluator;
`fit` saves the model to OUTPUT_DIR/final.
Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/run_summary.json (metrics).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch
from sentence_transformers import InputExample, SentenceTransformer, losses
from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator
from torch.utils.data import DataLoader

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
    torch.manual_seed(args.seed)

    model = SentenceTransformer(args.model, device="cpu")

    with (Path(args.data_dir) / "sts_dev_sample.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    train_examples = [
        InputExample(texts=[r["sentence1"], r["sentence2"]], label=float(r["score"]) / 5.0) for r in rows[: args.max_rows]
    ]
    train_dataloader = DataLoader(train_examples, shuffle=True, batch_size=args.batch_size)
    train_loss = losses.CosineSimilarityLoss(model)

    dev_rows = rows[-32:]
    evaluator = EmbeddingSimilarityEvaluator(
        [r["sentence1"] for r in dev_rows],
        [r["sentence2"] for r in dev_rows],
        [float(r["score"]) / 5.0 for r in dev_rows],
        name="sts-dev",
    )

    output_path = str(Path(args.output_dir) / "final")
    model.fit(
        train_objectives=[(train_dataloader, train_loss)],
        evaluator=evaluator,
        epochs=1,
        warmup_steps=1,
        optimizer_params={"lr": 5e-4},
        evaluation_steps=2,
        output_path=output_path,
        show_progress_bar=False,
    )

    metrics = evaluator(model)
    print(metrics)
    (Path(args.output_dir) / "run_summary.json").write_text(json.dumps({"metrics": metrics}, indent=2, default=str))


if __name__ == "__main__":
    main()
