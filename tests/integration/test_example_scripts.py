"""The Python examples in ``examples/train_*.py`` run end to end on a fresh clone's bundled data.

Each script runs in-process (its ``main(argv)``) on a tiny random model for a few steps, with
every data path at its default (the samples under ``examples/data`` and ``tests/data``), and must
save a model that loads and embeds, and write finite before/after metrics.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from sentrix import SentenceTransformer
from sentrix.testing.tiny_models import TINY_HIDDEN_SIZE, tiny_model_folder

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STEPS = "3"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(tiny_model_folder(tmp_path_factory.mktemp("tiny") / "model", seed=3))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(name: str, tmp_path: Path, *argv: str) -> tuple[dict, SentenceTransformer]:
    out = tmp_path / name
    returned = _load(name).main([*argv, "--max-steps", STEPS, "--output-dir", str(out)])
    written = json.loads((out / "metrics.json").read_text())
    assert written == returned
    assert set(written["before"]) == set(written["after"]) and written["after"]
    assert all(math.isfinite(v) for phase in written.values() for v in phase.values())
    model = SentenceTransformer(str(out / "final"), device="cpu")
    return written, model


def _changed(trained: SentenceTransformer, base_path: str) -> float:
    base = SentenceTransformer(base_path, device="cpu")
    texts = ["A man is playing a guitar.", "Two dogs run in a field."]
    return float(np.abs(trained.encode(texts) - base.encode(texts)).max())


def test_every_train_script_is_tested_and_documented():
    scripts = sorted(p.stem for p in EXAMPLES.glob("train_*.py"))
    tested = {name for name in globals() if name.startswith("test_train_")}
    assert scripts and {f"test_{s}" for s in scripts} <= tested, scripts
    docs = (EXAMPLES.parent / "docs" / "examples.md").read_text(encoding="utf-8")
    assert [s for s in scripts if f"examples/{s}.py" not in docs] == []


def test_train_nli_mnrl(tiny, tmp_path):
    metrics, model = _run("train_nli_mnrl", tmp_path, "--model", tiny, "--batch-size", "8")
    assert "snli-dev_cosine_accuracy" in metrics["after"]
    assert _changed(model, tiny) > 0


def test_train_multi_dataset(tiny, tmp_path):
    metrics, model = _run("train_multi_dataset", tmp_path, "--model", tiny, "--batch-size", "8")
    assert {"snli-dev_cosine_accuracy", "sts-dev_spearman_cosine"} <= set(metrics["after"])
    assert _changed(model, tiny) > 0


def test_train_matryoshka(tiny, tmp_path):
    metrics, model = _run("train_matryoshka", tmp_path, "--model", tiny, "--batch-size", "8")
    dims = [TINY_HIDDEN_SIZE, TINY_HIDDEN_SIZE // 2, TINY_HIDDEN_SIZE // 4, TINY_HIDDEN_SIZE // 8]
    assert {f"sts-dev-{d}_spearman_cosine" for d in dims} <= set(metrics["after"])
    assert _changed(model, tiny) > 0


def test_train_matryoshka_rejects_a_dimension_above_the_models(tiny, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _load("train_matryoshka").main(["--model", tiny, "--dims", "4096", "--output-dir", str(tmp_path / "x")])
    assert "every dimension must be between 1 and the model's 32" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_train_router(tiny, tmp_path):
    metrics, model = _run("train_router", tmp_path, "--model", tiny, "--batch-size", "4")
    assert "scifact-sample_cosine_ndcg@10" in metrics["after"]
    query, document = model.encode_query(["biomaterials"]), model.encode_document(["biomaterials"])
    assert query.shape == document.shape == (1, TINY_HIDDEN_SIZE)
    assert not np.allclose(query, document)  # two different routes


def test_train_distillation(tiny, tmp_path):
    metrics, student = _run("train_distillation", tmp_path, "--teacher", tiny, "--batch-size", "8")
    assert {"sts-dev-teacher_negative_mse", "sts-dev_spearman_cosine"} <= set(metrics["after"])
    assert student[0].auto_model.config.num_hidden_layers == 1  # the tiny teacher has 2
    assert metrics["after"] != metrics["before"]
