"""One epoch of the no-duplicates batch samplers: sentrix vs sentence-transformers, same data and seed.

Samples the 19,999 SNLI training pairs (premise, hypothesis; the label column is ignored by the
duplicate check) with batch size 32 for a few epochs, alternating the two libraries. Reports the
time per epoch of each, whether the batches are identical, and the ratio. The first epoch of
sentrix includes reading the values (strings, or hashes for the hashed variant) once.

    python benchmarks/samplers_no_duplicates.py [--epochs 3] [--batch-size 32]

Writes ``benchmarks/results/samplers_no_duplicates.json``.
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

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import sentence_transformers
    import torch
    from datasets import Dataset
    from sentence_transformers.base.sampler import NoDuplicatesBatchSampler as STSampler

    import sentrix
    from sentrix.registry import batch_samplers

    with open(DATA / "nli" / "snli_train_subset.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    dataset = Dataset.from_dict(
        {"premise": [r["premise"] for r in rows], "hypothesis": [r["hypothesis"] for r in rows], "label": [r["label"] for r in rows]}
    )

    results = {}
    for name, st_kwargs in (("no_duplicates", {}), ("no_duplicates_hashed", {"precompute_hashes": True, "precompute_num_proc": 1})):
        ours = batch_samplers.create(name, dataset, batch_size=args.batch_size, drop_last=False,
                                     valid_label_columns=["label"], generator=torch.Generator(), seed=42)
        theirs = STSampler(dataset, args.batch_size, False, ["label"], torch.Generator(), 42, **st_kwargs)
        seconds = {"sentrix": [], "sentence_transformers": []}
        identical = True
        for epoch in range(args.epochs):
            batches = {}
            for label, sampler in (("sentrix", ours), ("sentence_transformers", theirs)):
                sampler.set_epoch(epoch)
                start = time.perf_counter()
                batches[label] = list(sampler)
                seconds[label].append(time.perf_counter() - start)
            n = len(batches["sentrix"])
            identical &= n == len(ours) and batches["sentrix"] == batches["sentence_transformers"][:n]
        later = {k: sum(v[1:]) / max(1, len(v) - 1) for k, v in seconds.items()}
        results[name] = {
            "seconds_per_epoch": seconds,
            "first_epoch_ratio_st_over_sentrix": seconds["sentence_transformers"][0] / seconds["sentrix"][0],
            "later_epochs_ratio_st_over_sentrix": later["sentence_transformers"] / later["sentrix"] if args.epochs > 1 else None,
            "identical_batches": identical,
            "batches_per_epoch": len(ours),
        }
    result = {
        "benchmark": f"no-duplicates batch samplers, SNLI train subset ({len(dataset)} rows), batch size {args.batch_size}",
        "results": results,
        "versions": {"sentrix": sentrix.__version__, "sentence_transformers": sentence_transformers.__version__},
        "machine": platform.platform(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "samplers_no_duplicates.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
