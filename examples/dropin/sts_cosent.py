"""Fine-tune a sentence embedding model on STS Benchmark pairs with CoSENTLoss.

A sentence-transformers 6.x training script. It runs unchanged on sentrix after replacing
`sentence_transformers` with `sentrix` in the imports.

    python examples/dropin/sts_cosent.py --model MODEL_PATH --output-dir runs/sts --max-rows 64

Data: (sentence1, sentence2, score 0-5) rows; scores are scaled to 0-1.
Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/run_summary.json (metrics, log history).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator, SimilarityFunction
from sentence_transformers.losses import CoSENTLoss

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def sts_dataset(rows: list[dict[str, str]]) -> Dataset:
    return Dataset.from_dict({
        "sentence1": [r["sentence1"] for r in rows],
        "sentence2": [r["sentence2"] for r in rows],
        "score": [float(r["score"]) / 5.0 for r in rows],
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-rows", type=int, default=64)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    # 1. Model
    model = SentenceTransformer(args.model, device="cpu")

    # 2. Data: the first rows train, the next rows evaluate
    rows = read_tsv(Path(args.data_dir) / "sts_dev_sample.tsv")
    train_dataset = sts_dataset(rows[: args.max_rows])
    eval_dataset = sts_dataset(rows[args.max_rows : 2 * args.max_rows] or rows[-args.max_rows :])

    # 3. Loss
    loss = CoSENTLoss(model)

    # 4. Evaluator
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=eval_dataset["sentence1"],
        sentences2=eval_dataset["sentence2"],
        scores=eval_dataset["score"],
        main_similarity=SimilarityFunction.COSINE,
        name="sts-dev",
    )
    dev_evaluator(model)

    # 5. Training arguments
    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=5e-4,
        warmup_ratio=0.1,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="steps",
        save_steps=2,
        save_total_limit=2,
        logging_steps=1,
        seed=args.seed,
        data_seed=args.seed,
        report_to="none",
        run_name="sts-cosent",
    )

    # 6. Train
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=loss,
        evaluator=dev_evaluator,
    )
    trainer.train()

    # 7. Final evaluation and save
    metrics = dev_evaluator(model)
    print(metrics)
    model.save_pretrained(str(Path(args.output_dir) / "final"))
    summary = {"metrics": metrics, "log_history": trainer.state.log_history}
    (Path(args.output_dir) / "run_summary.json").write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
