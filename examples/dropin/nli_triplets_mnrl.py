"""Train on (anchor, positive, negative) NLI triplets with MultipleNegativesRankingLoss.

A sentence-transformers 6.x training script. It runs unchanged on sentrix after replacing
`sentence_transformers` with `sentrix` in the imports.

    python examples/dropin/nli_triplets_mnrl.py --model MODEL_PATH --output-dir runs/nli --max-rows 48

In-batch negatives: the NO_DUPLICATES batch sampler keeps a text from appearing twice in a batch,
so no positive is ever used as somebody else's negative. A TripletEvaluator checks that the
anchor is closer to its positive than to its negative.
Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/run_summary.json (metrics, log history).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from datasets import Dataset
from sentence_transformers import (
    SentenceTransformer,
    SentenceTransformerModelCardData,
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
)
from sentence_transformers.evaluation import TripletEvaluator
from sentence_transformers.losses import MultipleNegativesRankingLoss
from sentence_transformers.training_args import BatchSamplers

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def read_triplets(path: Path) -> Dataset:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return Dataset.from_dict({column: [r[column] for r in rows] for column in ("anchor", "positive", "negative")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-rows", type=int, default=48)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()

    model = SentenceTransformer(
        args.model,
        device="cpu",
        model_card_data=SentenceTransformerModelCardData(
            language="en",
            license="apache-2.0",
            model_name="tiny model trained on SNLI triplets",
        ),
    )

    triplets = read_triplets(Path(args.data_dir) / "snli_dev_triplets_sample.tsv")
    n_eval = min(16, len(triplets) // 4)
    eval_dataset = triplets.select(range(n_eval))
    train_dataset = triplets.select(range(n_eval, min(len(triplets), n_eval + args.max_rows)))

    loss = MultipleNegativesRankingLoss(model, scale=20.0)

    dev_evaluator = TripletEvaluator(
        anchors=eval_dataset["anchor"],
        positives=eval_dataset["positive"],
        negatives=eval_dataset["negative"],
        name="snli-dev",
    )
    dev_evaluator(model)

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=5e-4,
        warmup_steps=0.1,  # a float below 1 is a fraction of the training steps
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="steps",
        save_steps=2,
        save_total_limit=1,
        logging_steps=1,
        seed=args.seed,
        report_to="none",
        run_name="nli-triplets-mnrl",
    )

    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=loss,
        evaluator=dev_evaluator,
    )
    trainer.train()

    metrics = dev_evaluator(model)
    print(metrics)
    model.save_pretrained(str(Path(args.output_dir) / "final"))
    summary = {"metrics": metrics, "log_history": trainer.state.log_history}
    (Path(args.output_dir) / "run_summary.json").write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
