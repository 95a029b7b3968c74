"""Run the drop-in example scripts in one process, under sentence-transformers or under sentrix.

    python tests/integration/dropin_runner.py --framework sentrix --work DIR --model MODEL \
        --data-dir tests/data --max-rows 24 nli_softmax sts_cosent ...

For ``--framework sentrix`` every script is first rewritten with the one textual substitution a
user would make (``sentence_transformers`` -> ``sentrix``); for ``sentence_transformers`` it runs
as written. Each script runs as ``__main__`` with its own ``sys.argv`` and writes into
``DIR/<framework>/<job>``; one process serves all scripts so the heavy imports are paid once.
The global random generators are reset before each script, as a fresh interpreter would have
them. A failing script is recorded (traceback) and the next one runs.
Writes ``DIR/<framework>/results.json``: ``{job: {"ok", "seconds", "traceback", "imported"}}``.
"""

from __future__ import annotations

import argparse
import json
import random
import runpy
import sys
import time
import traceback
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "dropin"

# job name -> (script file, extra command-line arguments)
JOBS: dict[str, tuple[str, list[str]]] = {
    "sts_cosent": ("sts_cosent.py", []),
    "nli_triplets_mnrl": ("nli_triplets_mnrl.py", []),
    "matryoshka_nli": ("matryoshka_nli.py", []),
    "multi_dataset_proportional": ("multi_dataset_prompts.py", ["--multi-dataset-sampler", "proportional"]),
    "multi_dataset_round_robin": ("multi_dataset_prompts.py", ["--multi-dataset-sampler", "round_robin"]),
    "nli_softmax": ("nli_softmax.py", []),
    "retrieval_ir_eval": ("retrieval_ir_eval.py", []),
    "legacy_fit_sts": ("legacy_fit_sts.py", []),
    "legacy_fit_nli_no_duplicates": ("legacy_fit_nli_no_duplicates.py", []),
}


def script_source(script: str, framework: str) -> str:
    source = (EXAMPLES / script).read_text(encoding="utf-8")
    if framework == "sentrix":
        source = source.replace("sentence_transformers", "sentrix")
    return source


def reset_random_state() -> None:
    import numpy
    import torch

    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=["sentence_transformers", "sentrix"], required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--max-rows", type=int, default=24)
    parser.add_argument("jobs", nargs="*", default=list(JOBS))
    args = parser.parse_args()

    root = Path(args.work) / args.framework
    (root / "scripts").mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for job in args.jobs:
        script, extra = JOBS[job]
        path = root / "scripts" / f"{job}.py"
        path.write_text(script_source(script, args.framework), encoding="utf-8")
        argv = [str(path), "--model", args.model, "--output-dir", str(root / job), "--max-rows", str(args.max_rows),
                "--data-dir", args.data_dir, *extra]
        reset_random_state()
        started = time.perf_counter()
        saved_argv, sys.argv = sys.argv, argv
        try:
            runpy.run_path(str(path), run_name="__main__")
            ok, tb = True, ""
        except BaseException:  # noqa: BLE001 - SystemExit from argparse counts as a failure too
            ok, tb = False, traceback.format_exc()
        finally:
            sys.argv = saved_argv
        results[job] = {
            "ok": ok,
            "seconds": round(time.perf_counter() - started, 2),
            "traceback": tb,
            "imported": sorted({name.split(".")[0] for name in sys.modules} & {"sentence_transformers", "sentrix"}),
        }
        print(f"[{args.framework}] {job}: {'ok' if ok else 'FAILED'} ({results[job]['seconds']} s)", flush=True)
        (root / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
