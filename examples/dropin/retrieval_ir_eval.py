"""Train a retriever on (query, relevant document) pairs; evaluate with InformationRetrievalEvaluator.

A sentence-transformers 6.x training script. It runs unchanged on sentrix after replacing
`sentence_transformers` with `sentrix` in the imports.

    python examples/dropin/retrieval_ir_eval.py --model MODEL_PATH --output-dir runs/ir --max-rows 40

Data: a BEIR-style sample of SciFact (queries, corpus, relevant_docs). Training pairs are each
query with one of its relevant documents; MultipleNegativesRankingLoss uses the other documents
of the batch as negatives. A SequentialEvaluator runs the retrieval evaluation and an STS check.
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
from sentence_transformers.evaluation import (
    EmbeddingSimilarityEvaluator,
    InformationRetrievalEvaluator,
    SequentialEvaluator,
)
from sentence_transformers.training_args import BatchSamplers

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-rows", type=int, default=40)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    data_dir = Path(args.data_dir)

    model = SentenceTransformer(args.model, device="cpu")

    beir = json.loads((data_dir / "scifact_sample.json").read_text(encoding="utf-8"))
    queries: dict[str, str] = beir["queries"]
    corpus: dict[str, str] = beir["corpus"]
    relevant_docs = {qid: set(doc_ids) for qid, doc_ids in beir["relevant_docs"].items()}

    pairs = [(queries[qid], corpus[doc_id]) for qid in sorted(relevant_docs) for doc_id in sorted(relevant_docs[qid])]
    pairs = pairs[: args.max_rows]
    train_dataset = Dataset.from_dict({"query": [q for q, _ in pairs], "answer": [d for _, d in pairs]})

    loss = losses.MultipleNegativesRankingLoss(model)

    ir_evaluator = InformationRetrievalEvaluator(
        queries=queries,
        corpus=corpus,
        relevant_docs=relevant_docs,
        name="scifact-sample",
        mrr_at_k=[10],
        ndcg_at_k=[10],
        accuracy_at_k=[1, 3, 10],
        precision_recall_at_k=[1, 3, 10],
        map_at_k=[100],
        batch_size=16,
    )
    with (data_dir / "sts_dev_sample.tsv").open(encoding="utf-8") as handle:
        sts = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[-32:]
    sts_evaluator = EmbeddingSimilarityEvaluator(
        [r["sentence1"] for r in sts], [r["sentence2"] for r in sts], [float(r["score"]) / 5.0 for r in sts], name="sts-dev"
    )
    dev_evaluator = SequentialEvaluator([ir_evaluator, sts_evaluator])
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
        run_name="scifact-ir",
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
