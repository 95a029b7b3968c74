"""`sentrix train` end to end on a tiny model: outputs, model card, plot, metrics, reproduce, no GPU warnings."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import warnings
from pathlib import Path

import pytest
from config_helpers import EXAMPLES, ROOT

QUICK = ["--set", "training_args.max_steps=4", "--set", "training_args.learning_rate=1e-3", "--set", "training_args.logging_steps=1",
         "--set", "train_datasets.stsb.limit=64", "--set", "evaluators.0.data.limit=40"]


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory, tiny_path):
    """The quickstart config on the tiny model, 4 steps, recording every warning."""
    from sentrix.cli.main import main

    out = tmp_path_factory.mktemp("run") / "quickstart"
    stdout = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(stdout):
        warnings.simplefilter("always")
        code = main(["train", str(EXAMPLES / "quickstart.yaml"), "--set", f"model.name_or_path={tiny_path}", *QUICK,
                     "-o", str(out)])
    return code, out, [str(w.message) for w in caught], stdout.getvalue()


def test_quickstart_outputs(quickstart_run):
    code, out, _, _ = quickstart_run
    assert code == 0
    for name in ("model.safetensors", "modules.json", "README.md", "sentrix_config.yaml", "metrics.json", "training_curves.png"):
        assert (out / name).is_file(), name
    assert (out / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    key = "sts-dev_spearman_cosine"
    assert set(metrics) == {"before", "after", "train", "log_history"}
    assert -1 <= metrics["before"][key] <= 1 and -1 <= metrics["after"][key] <= 1
    assert metrics["before"][key] != metrics["after"][key]  # 4 steps at lr 2e-5 move the tiny model
    assert [e["step"] for e in metrics["log_history"] if "loss" in e] == [1, 2, 3, 4]


def test_quickstart_output_loads_in_sentence_transformers(quickstart_run, tiny_path):
    import numpy as np
    import sentence_transformers

    import sentrix

    _, out, _, _ = quickstart_run
    texts = ["a cat sits on the mat", "dogs run in the park"]
    theirs = sentence_transformers.SentenceTransformer(str(out), device="cpu").encode(texts)
    ours = sentrix.SentenceTransformer(str(out), device="cpu").encode(texts)
    base = sentrix.SentenceTransformer(tiny_path, device="cpu").encode(texts)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours, base)  # the saved model is the trained one


def test_model_card_references_plot_and_replayable_config(quickstart_run, cli, tmp_path):
    _, out, _, _ = quickstart_run
    card = (out / "README.md").read_text()
    assert "![Training loss and evaluation metrics over steps](training_curves.png)" in card
    assert "sentrix reproduce" in card
    block = card.split("### Resolved Configuration", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    resolved = json.loads(block)
    assert resolved["plugins"]["sentrix"]
    assert resolved["loss"] == {"name": "cosent", "params": {}}
    (tmp_path / "from_card.json").write_text(block)
    code, stdout, stderr = cli("validate", tmp_path / "from_card.json")
    assert code == 0, stderr
    assert "valid" in stdout


def test_run_prints_no_gpu_only_warning_on_cpu(quickstart_run):
    _, _, caught, _ = quickstart_run
    assert not [m for m in caught if "pin_memory" in m]


def test_reproduce_gives_bitwise_the_same_weights(quickstart_run, cli, tmp_path):
    import torch

    _, out, _, _ = quickstart_run
    again = tmp_path / "again"
    code, stdout, stderr = cli("reproduce", out, "-o", again)
    assert code == 0, stderr
    first, second = _weights(out), _weights(again)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert json.loads((again / "metrics.json").read_text())["after"] == json.loads((out / "metrics.json").read_text())["after"]


def test_run_header_names_versions_plugins_and_padding(quickstart_run):
    stdout = quickstart_run[3]
    assert re.search(r"versions: python [\d.]+, sentrix [\d.]+, transformers", stdout)
    assert re.search(r"plugins: sentrix [\d.]+", stdout)
    match = re.search(r"padding share of the first (\d) batches: ([\d.]+)% with sentrix's planned forwards, ([\d.]+)% with plain", stdout)
    assert match and int(match.group(1)) == 4  # 64 rows, batch size 16
    assert 0 <= float(match.group(2)) <= float(match.group(3)) < 100
    before = float(re.search(r"before training: sts-dev_spearman_cosine = ([-\d.]+)", stdout).group(1))
    after = re.search(r"after training:  sts-dev_spearman_cosine = ([-\d.]+)  \(before ([-\d.]+)\)", stdout)
    assert after and float(after.group(2)) == before


def test_refuses_to_train_over_a_saved_model(quickstart_run, cli):
    _, out, _, _ = quickstart_run
    before = (out / "model.safetensors").stat().st_mtime_ns
    code, _, stderr = cli("train", EXAMPLES / "quickstart.yaml", "-o", out)
    assert code == 2
    assert "training_args.output_dir" in stderr and "already holds a trained model" in stderr
    assert (out / "model.safetensors").stat().st_mtime_ns == before


def test_plot_without_matplotlib_is_one_info_line(monkeypatch, tmp_path, caplog):
    import sys

    from sentrix.training.plot import plot_training

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with caplog.at_level("INFO", logger="sentrix.training.plot"):
        assert plot_training([{"step": 1, "loss": 1.0}], tmp_path / "p.png") is None
    assert not (tmp_path / "p.png").exists()
    assert [r.message for r in caplog.records] == [
        "No training plot: matplotlib is not installed. Get it with `pip install 'sentrix[plot]'`."
    ]


def test_encode_and_evaluate_commands(tiny_path, tmp_path, cli):
    import numpy as np

    import sentrix

    lines = ["a cat sits on the mat", "", "dogs run in the park", "red car"]
    (tmp_path / "texts.txt").write_text("\n".join(lines) + "\n")
    code, stdout, stderr = cli("encode", tiny_path, tmp_path / "texts.txt", "-o", tmp_path / "emb.npy")
    assert code == 0, stderr
    saved = np.load(tmp_path / "emb.npy")
    expected = sentrix.SentenceTransformer(tiny_path, device="cpu").encode([t for t in lines if t])
    np.testing.assert_allclose(saved, expected, rtol=1e-6, atol=1e-6)

    code, stdout, stderr = cli("evaluate", tiny_path, "--config", EXAMPLES / "quickstart.yaml",
                               "--set", "evaluators.0.data.limit=40", "-o", tmp_path / "m.json")
    assert code == 0, stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert "sts-dev_spearman_cosine: " in stdout and "(primary)" in stdout
    assert -1 <= metrics["sts-dev_spearman_cosine"] <= 1


def test_evaluate_information_retrieval_from_a_mappings_file(tiny_path, tmp_path, cli):
    """queries/corpus/relevant_docs come from a JSON file; the metrics match sentence-transformers' evaluator."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    shutil.copy(ROOT / "tests" / "data" / "scifact_sample.json", tmp_path / "scifact.json")
    config = {"version": 1, "evaluators": [{"name": "information_retrieval", "mappings": "scifact.json",
                                            "params": {"name": "scifact", "batch_size": 16}}]}
    (tmp_path / "ir.yaml").write_text(json.dumps(config))
    code, stdout, stderr = cli("evaluate", tiny_path, "--config", tmp_path / "ir.yaml", "-o", tmp_path / "m.json")
    assert code == 0, stderr
    assert "scifact_cosine_ndcg@10: " in stdout and "(primary)" in stdout
    metrics = json.loads((tmp_path / "m.json").read_text())

    data = json.loads((tmp_path / "scifact.json").read_text())
    oracle = InformationRetrievalEvaluator(data["queries"], data["corpus"], {q: set(d) for q, d in data["relevant_docs"].items()},
                                           name="scifact", batch_size=16, write_csv=False)
    expected = oracle(SentenceTransformer(tiny_path, device="cpu"))
    assert set(metrics) == set(expected)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key


def test_encode_rejects_bad_output_before_work(tiny_path, tmp_path, cli):
    (tmp_path / "t.txt").write_text("hello\n")
    code, _, stderr = cli("encode", tiny_path, tmp_path / "t.txt", "-o", tmp_path / "out.csv")
    assert code == 2 and "must end in .npy" in stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("accelerator", [False, True])
def test_data_loader_pins_memory_only_with_an_accelerator(accelerator, tiny_path, tmp_path, monkeypatch):
    from datasets import Dataset

    import sentrix
    import sentrix.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "_accelerator_available", lambda: accelerator)
    model = sentrix.SentenceTransformer(tiny_path, device="cpu")
    data = Dataset.from_dict({"a": ["x", "y"], "b": ["y", "z"], "label": [0.1, 0.9]})
    args = sentrix.SentenceTransformerTrainingArguments(output_dir=str(tmp_path / "o"), report_to="none")
    assert args.dataloader_pin_memory is True  # the transformers default is kept; the loader decides
    trainer = sentrix.SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss="cosent")
    assert trainer._build_dataloader(data, 2, "train").pin_memory is accelerator
