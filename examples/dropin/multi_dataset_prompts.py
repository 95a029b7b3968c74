"""Multi-dataset training: a dict of datasets, a dict of losses, per-dataset prompts.

A sentence-transformers 6.x training script. It runs unchanged on sentrix after replacing
`sentence_transformers` with `sentrix` in the imports.

    python examples/dropin/multi_dataset_prompts.py --model MODEL_PATH --output-dir runs/multi \
        --max-rows 32 --multi-dataset-sampler proportional

Two datasets are trained together: STS pairs with CoSENTLoss and NLI triplets with
MultipleNegativesRankingLoss. Each batch comes from one dataset; the multi-dataset batch sampler
(PROPORTIONAL or ROUND_ROBIN) decides the order. The NLI texts get "query: " / "document: "
prompts, which are saved with the model.
Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/run_summary.json (metrics, log history).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator, SequentialEvaluator, TripletEvaluator
from sentence_transformers.losses import CoSENTLoss, MultipleNegativesRankingLoss
from sentence_transformers.training_args import BatchSamplers, MultiDatasetBatchSamplers

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
SAMPLERS = {
    "proportional": MultiDatasetBatchSamplers.PROPORTIONAL,
    "round_robin": MultiDatasetBatchSamplers.ROUND_ROBIN,
}
PROMPTS = {
    "nli": {"anchor": "query: ", "positive": "document: ", "negative": "document: "},
    "sts": {"sentence1": "query: ", "sentence2": "query: "},
}


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-rows", type=int, default=32)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--multi-dataset-sampler", choices=sorted(SAMPLERS), default="proportional")
    args = parser.parse_args()
    data_dir = Path(args.data_dir)

    model = SentenceTransformer(args.model, device="cpu")

    sts_rows = read_tsv(data_dir / "sts_dev_sample.tsv")
    nli_rows = read_tsv(data_dir / "snli_dev_triplets_sample.tsv")
    # The STS set gets half as many rows, so PROPORTIONAL and ROUND_ROBIN order batches differently.
    train_dataset = {
        "sts": Dataset.from_dict({
            "sentence1": [r["sentence1"] for r in sts_rows[: args.max_rows // 2]],
            "sentence2": [r["sentence2"] for r in sts_rows[: args.max_rows // 2]],
            "score": [float(r["score"]) / 5.0 for r in sts_rows[: args.max_rows // 2]],
        }),
        "nli": Dataset.from_dict({
            column: [r[column] for r in nli_rows[: args.max_rows]] for column in ("anchor", "positive", "negative")
        }),
    }
    sts_eval = sts_rows[-32:]
    nli_eval = nli_rows[-16:]
    eval_dataset = {
        "sts": Dataset.from_dict({
            "sentence1": [r["sentence1"] for r in sts_eval],
            "sentence2": [r["sentence2"] for r in sts_eval],
            "score": [float(r["score"]) / 5.0 for r in sts_eval],
        }),
        "nli": Dataset.from_dict({column: [r[column] for r in nli_eval] for column in ("anchor", "positive", "negative")}),
    }

    train_loss = {
        "sts": CoSENTLoss(model),
        "nli": MultipleNegativesRankingLoss(model),
    }

    dev_evaluator = SequentialEvaluator([
        EmbeddingSimilarityEvaluator(
            sentences1=[r["sentence1"] for r in sts_eval],
            sentences2=[r["sentence2"] for r in sts_eval],
            scores=[float(r["score"]) / 5.0 for r in sts_eval],
            name="sts-dev",
        ),
        TripletEvaluator(
            anchors=[PROMPTS["nli"]["anchor"] + r["anchor"] for r in nli_eval],
            positives=[PROMPTS["nli"]["positive"] + r["positive"] for r in nli_eval],
            negatives=[PROMPTS["nli"]["negative"] + r["negative"] for r in nli_eval],
            name="nli-dev",
        ),
    ])

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        learning_rate=5e-4,
        warmup_steps=0.1,  # a float below 1 is a fraction of the training steps
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        multi_dataset_batch_sampler=SAMPLERS[args.multi_dataset_sampler],
        prompts=PROMPTS,
        per_device_eval_batch_size=args.batch_size,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="no",
        logging_steps=1,
        seed=args.seed,
        report_to="none",
        run_name=f"multi-dataset-{args.multi_dataset_sampler}",
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

    # One evaluation loss per dataset (eval_sts_loss, eval_nli_loss) plus the evaluator's metrics
    trainer_metrics = trainer.evaluate()
    metrics = dev_evaluator(model)
    print(metrics)
    model.save_pretrained(str(Path(args.output_dir) / "final"))
    summary = {"metrics": metrics, "trainer_evaluate": trainer_metrics, "log_history": trainer.state.log_history}
    (Path(args.output_dir) / "run_summary.json").write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
