"""Train a sentence embedding model on labelled NLI pairs with SoftmaxLoss (the original SBERT recipe).

A sentence-transformers 6.x training script. It runs unchanged on sentrix after replacing
`sentence_transformers` with `sentrix` in the imports.

    python examples/dropin/nli_softmax.py --model MODEL_PATH --output-dir runs/softmax --max-rows 48

Data: (premise, hypothesis, label) with label entailment / neutral / contradiction, mapped to
0 / 1 / 2. SoftmaxLoss trains a classifier on (u, v, |u - v|); only the embedding model is saved.
Evaluated on STS pairs with an EmbeddingSimilarityEvaluator.
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
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
    losses,
)
from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2}


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-rows", type=int, default=48)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    data_dir = Path(args.data_dir)

    model = SentenceTransformer(args.model, device="cpu")

    pairs = read_tsv(data_dir / "snli_dev_pairs_sample.tsv")[: args.max_rows]
    train_dataset = Dataset.from_dict({
        "premise": [r["premise"] for r in pairs],
        "hypothesis": [r["hypothesis"] for r in pairs],
        "label": [LABELS[r["label"]] for r in pairs],
    })
    eval_dataset = Dataset.from_dict({
        "premise": [r["premise"] for r in pairs[-16:]],
        "hypothesis": [r["hypothesis"] for r in pairs[-16:]],
        "label": [LABELS[r["label"]] for r in pairs[-16:]],
    })

    train_loss = losses.SoftmaxLoss(
        model=model,
        embedding_dimension=model.get_embedding_dimension(),
        num_labels=len(LABELS),
    )

    sts = read_tsv(data_dir / "sts_dev_sample.tsv")[-40:]
    dev_evaluator = EmbeddingSimilarityEvaluator(
        sentences1=[r["sentence1"] for r in sts],
        sentences2=[r["sentence2"] for r in sts],
        scores=[float(r["score"]) / 5.0 for r in sts],
        main_similarity="cosine",
        name="sts-dev",
    )

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=5e-4,
        warmup_ratio=0.1,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="no",
        logging_steps=1,
        seed=args.seed,
        report_to="none",
        run_name="nli-softmax",
    )

    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        loss=train_loss,
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
