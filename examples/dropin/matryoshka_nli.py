"""Matryoshka training: MultipleNegativesRankingLoss applied at several embedding sizes at once.

A sentence-transformers 6.x training script. It runs unchanged on sentrix after replacing
`sentence_transformers` with `sentrix` in the imports.

    python examples/dropin/matryoshka_nli.py --model MODEL_PATH --output-dir runs/mrl --max-rows 48

The model learns embeddings whose first 1/2 and 1/4 dimensions are useful on their own; one
EmbeddingSimilarityEvaluator per size (truncate_dim) runs inside a SequentialEvaluator.
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
from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator, SequentialEvaluator, SimilarityFunction
from sentence_transformers.training_args import BatchSamplers

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


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
    full_dim = model.get_embedding_dimension()
    matryoshka_dims = [full_dim, full_dim // 2, full_dim // 4]

    triplets = read_tsv(data_dir / "snli_dev_triplets_sample.tsv")[: args.max_rows]
    train_dataset = Dataset.from_dict({
        "anchor": [r["anchor"] for r in triplets],
        "positive": [r["positive"] for r in triplets],
        "negative": [r["negative"] for r in triplets],
    })
    sts = read_tsv(data_dir / "sts_dev_sample.tsv")[-40:]

    inner_loss = losses.MultipleNegativesRankingLoss(model)
    loss = losses.MatryoshkaLoss(model, inner_loss, matryoshka_dims=matryoshka_dims)

    evaluators = [
        EmbeddingSimilarityEvaluator(
            sentences1=[r["sentence1"] for r in sts],
            sentences2=[r["sentence2"] for r in sts],
            scores=[float(r["score"]) / 5.0 for r in sts],
            main_similarity=SimilarityFunction.COSINE,
            name=f"sts-dev-{dim}",
            truncate_dim=dim,
        )
        for dim in matryoshka_dims
    ]
    dev_evaluator = SequentialEvaluator(evaluators, main_score_function=lambda scores: scores[0])
    dev_evaluator(model)

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        learning_rate=5e-4,
        warmup_steps=0.1,  # a float below 1 is a fraction of the training steps
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="no",
        logging_steps=1,
        seed=args.seed,
        report_to="none",
        run_name="matryoshka-nli",
    )

    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
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
