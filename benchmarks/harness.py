"""The benchmark harness every speed claim in ``benchmarks/`` uses.

Rules it enforces, so that two numbers from it can be compared:

* **sides alternated in one run**: each pair runs every side once (sentrix, sentence-transformers,
  and a sentrix control with the optimisation under test turned off), and the order rotates from
  pair to pair, so drift in the machine's load hits every side alike;
* **at least five pairs**; the result is the **median and range of the paired ratios** (side /
  baseline within the same pair), never a ratio of means;
* **threads pinned** (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``torch.set_num_threads``) in every
  side's process, each side in a fresh process so no side warms another's caches;
* **rows shuffled with a fixed seed before any subset** (:func:`shuffled_subset`);
* **machine and versions recorded** (:func:`machine_info`) with the load average before and after;
* **results written** to ``benchmarks/results/<name>.json`` and ``.md`` with the exact command.

A benchmark script defines how one side runs once (a child process that prints one JSON record)
and calls :func:`run_pairs`; see ``benchmarks/train_throughput.py``.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

RESULTS = Path(__file__).resolve().parent / "results"
MIN_PAIRS = 5


def pin_threads(threads: int) -> None:
    """Pin the math libraries and torch to ``threads`` threads (call first thing in a child process)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass


def shuffled_subset(rows: Sequence[Any], n: int, seed: int) -> list[Any]:
    """``n`` rows drawn after shuffling all of them with ``seed`` (never the first ``n`` of the file)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [rows[i] for i in order[:n]]


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU, cores, GPU (if any), OS, Python and library versions, git commit, load average."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {n: _version(n) for n in ("sentrix", "sentence-transformers", "torch", "transformers", "tokenizers")},
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - a machine without torch/cuda is still described
        pass
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, check=False
        ).stdout.strip()
        info["git_dirty"] = bool(
            subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=Path(__file__).parent,
                           check=False).stdout.strip()
        )
    except OSError:
        pass
    return info


def run_child(argv: list[str], env: dict[str, str] | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run ``python argv...`` in a fresh process; its last stdout line is the JSON record it returns."""
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {argv} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"benchmark child {argv} printed no JSON record:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def run_pairs(
    sides: Sequence[str], pairs: int, run_side: Callable[[str, int], dict[str, Any]], log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Run every side once per pair, rotating the order each pair; returns the records (with ``side``, ``pair``)."""
    if pairs < MIN_PAIRS:
        raise ValueError(f"pairs={pairs}: the harness needs at least {MIN_PAIRS} pairs for a median and range.")
    records = []
    for pair in range(pairs):
        order = list(sides[pair % len(sides):]) + list(sides[: pair % len(sides)])
        for side in order:
            started = time.perf_counter()
            record = run_side(side, pair)
            record.update(side=side, pair=pair, wall_seconds=round(time.perf_counter() - started, 2))
            records.append(record)
            log(json.dumps(record))
    return records


def paired_ratios(records: list[dict[str, Any]], metric: str, side: str, baseline: str) -> dict[str, Any]:
    """``side / baseline`` of ``metric`` within each pair: median, min, max and every ratio."""
    by_pair: dict[int, dict[str, float]] = {}
    for record in records:
        by_pair.setdefault(record["pair"], {})[record["side"]] = record[metric]
    ratios = [values[side] / values[baseline] for _, values in sorted(by_pair.items())
              if side in values and baseline in values and values[baseline]]
    if not ratios:
        return {"median": None, "min": None, "max": None, "ratios": []}
    return {
        "median": round(statistics.median(ratios), 3),
        "min": round(min(ratios), 3),
        "max": round(max(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
    }


def median_of(records: list[dict[str, Any]], metric: str, side: str) -> float | None:
    values = [r[metric] for r in records if r["side"] == side and r.get(metric) is not None]
    return round(statistics.median(values), 4) if values else None


def command_line() -> str:
    """The command that produced this run, as a user would type it."""
    script = os.path.relpath(sys.argv[0], Path(__file__).resolve().parents[1])
    return " ".join(["python", shlex.quote(script), *map(shlex.quote, sys.argv[1:])])


def write_results(name: str, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``results/<name>.json`` and ``results/<name>.md``; both carry the command and the machine."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "command": command_line(), **payload}
    json_path, md_path = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    machine = payload.get("machine", {})
    header = [
        f"# {name}",
        "",
        f"Command: `{payload['command']}`",
        "",
        f"Machine: {machine.get('cpu')}, {machine.get('logical_cores')} logical cores"
        + (f", GPU {machine['gpu']}" if machine.get("gpu") else "")
        + f"; load average before {machine.get('load_average')}, after {payload.get('load_average_after')}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in (machine.get("versions") or {}).items()),
        "",
    ]
    md_path.write_text("\n".join(header) + markdown.rstrip() + "\n", encoding="utf-8")
    return json_path, md_path


__all__ = [
    "MIN_PAIRS", "RESULTS", "command_line", "machine_info", "median_of", "paired_ratios", "pin_threads", "run_child",
    "run_pairs", "shuffled_subset", "write_results",
]
