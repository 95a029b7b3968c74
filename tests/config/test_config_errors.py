"""The config error catalogue: each wrong config fails before any work, its message names the config
path, what was expected (or the close names) and the fix, and the output directory is never created."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml
from config_helpers import EXAMPLES


def base_config(tiny_path: str, data_dir: Path) -> dict:
    return {
        "version": 1,
        "model": {"name_or_path": tiny_path},
        "train_datasets": {"sts": {"path": str(data_dir / "stsb_train_400.tsv"), "columns": ["sentence1", "sentence2", "score"],
                                   "limit": 32}},
        "loss": {"name": "cosent", "params": {"scale": 20.0}},
        "evaluators": [{"name": "embedding_similarity", "data": {"path": str(data_dir / "stsb_dev_200.tsv"), "limit": 20},
                        "inputs": {"sentences1": "sentence1", "sentences2": "sentence2", "scores": "score"},
                        "params": {"name": "dev"}}],
        "training_args": {"max_steps": 1, "save_strategy": "no"},
    }


def _set(path: str, value):
    def apply(cfg):
        node = cfg
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[parts[-1]] = value
    return apply


def _drop(path: str):
    def apply(cfg):
        node = cfg
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[parts[-1]]
    return apply


# id -> (change to the base config, [fragments the message must contain], extra CLI arguments)
CASES = {
    "unknown loss": (_set("loss.name", "cosnet"), ["loss.name: unknown loss 'cosnet'", "Did you mean 'cosent'",
                                                   "sentrix plugins list --kind losses"], []),
    "wrong parameter type": (_set("loss.params.scale", "big"), ["loss.params.scale: expected a number, got str 'big'"], []),
    "unknown parameter": (_set("loss.params.scael", 3.0), ["loss.params.scael: unknown parameter 'scael'", "Did you mean 'scale'"], []),
    "missing column": (_set("train_datasets.sts.columns", ["sentence1", "sentence3", "score"]),
                       ["train_datasets.sts.columns: column 'sentence3' is not in the data", "the data has columns: sentence1, sentence2, score"], []),
    "unknown sampler": (_set("batch_sampler", "no_duplicate"), ["batch_sampler: unknown batch sampler 'no_duplicate'",
                                                                "Did you mean 'no_duplicates'"], []),
    "unknown multi-dataset sampler": (_set("multi_dataset_batch_sampler", "round_robbin"),
                                      ["multi_dataset_batch_sampler: unknown multi-dataset batch sampler", "'round_robin'"], []),
    "evaluator data mismatch": (_set("evaluators.0.inputs.scores", "gold"),
                                ["evaluators[0].inputs.scores: column 'gold' is not in the evaluator's data"], []),
    "evaluator input is no parameter": (_set("evaluators.0.inputs.sentence3", "sentence1"),
                                        ["evaluators[0].inputs.sentence3: evaluator 'embedding_similarity' has no parameter 'sentence3'"], []),
    "evaluator required input missing": (_drop("evaluators.0.inputs.scores"),
                                         ["evaluators[0].inputs: evaluator parameter 'scores' is required"], []),
    "unknown evaluator": (_set("evaluators.0.name", "embedding_similarty"), ["Did you mean 'embedding_similarity'"], []),
    "dotted path without opt-in": (_set("loss.name", "torch.nn.MSELoss"),
                                   ["loss.name: 'torch.nn.MSELoss' is not a registered loss; it looks like an import path",
                                    "`allow_import_paths: true`", "`--allow-import-paths`"], []),
    "unknown training argument": (_set("training_args.learning_rat", 1e-5),
                                  ["training_args.learning_rat: unknown training argument 'learning_rat'", "Did you mean 'learning_rate'"], []),
    "wrong training argument type": (_set("training_args.num_train_epochs", "many"),
                                     ["training_args.num_train_epochs: expected a number, got str 'many'"], []),
    "inconsistent training arguments": (_set("training_args.warmup_ratio", 5),
                                        ["training_args: the training arguments are inconsistent"], []),
    "sampler inside training_args": (_set("training_args.batch_sampler", "no_duplicates"),
                                     ["training_args.batch_sampler: `batch_sampler` has its own top-level section"], []),
    "unknown top-level key": (_set("evaluator", []), ["evaluator: unknown key 'evaluator'", "Did you mean 'evaluators'"], []),
    "unknown dataset key": (_set("train_datasets.sts.cols", ["a"]), ["train_datasets.sts.cols: unknown key 'cols'", "use one of: path, hub"], []),
    "missing data file": (_set("train_datasets.sts.path", "nope.tsv"), ["train_datasets.sts.path: data file 'nope.tsv' does not exist"], []),
    "loss takes no label": (_set("loss", {"name": "multiple_negatives_ranking"}),
                            ["train_datasets.sts.columns: loss 'multiple_negatives_ranking' takes no label", "drop 'score'"], []),
    "loss needs a label": (_set("train_datasets.sts.columns", ["sentence1", "sentence2"]),
                           ["train_datasets.sts.columns: loss 'cosent' needs a label column"], []),
    "loss for an unknown dataset": (_set("loss", {"stsx": {"name": "cosent"}}),
                                    ["loss.stsx: 'stsx' is neither `name` nor a training dataset", "loss.sts: training dataset 'sts' has no loss"], []),
    "unknown callback": (_set("callbacks", ["early_stop"]), ["callbacks[0].name: unknown callback 'early_stop'", "'early_stopping'"], []),
    "no model": (_drop("model"), ["model: the config names no model"], []),
    "missing model folder": (_set("model.name_or_path", "./no_such_model"), ["model.name_or_path: model folder './no_such_model' does not exist"], []),
    "unknown module type": (_set("model.add_modules", [{"type": "normalise"}]),
                            ["model.add_modules[0].type: unknown module 'normalise'", "'normalize'"], []),
    "router mapping column": (_set("router_mapping", {"question": "query"}),
                              ["router_mapping.question: column 'question' is in no training dataset"], []),
    "rename a missing column": (_set("train_datasets.sts.rename", {"scor": "label"}),
                                ["train_datasets.sts.rename.scor: cannot rename 'scor'", "Did you mean 'score'"], []),
    "teacher column missing": (_set("train_datasets.sts.teacher", {"model": "./no_teacher", "column": "text"}),
                               ["train_datasets.sts.teacher.model: model folder './no_teacher' does not exist",
                                "train_datasets.sts.teacher: teacher column 'text' is not in the data"], []),
    "unsupported version": (_set("version", 2), ["version: config format version 2 is not supported"], []),
    "malformed --set": (lambda cfg: None, ["--set foo: an override must look like `key.path=value`"], ["--set", "foo"]),
    "prompt is not text": (_set("prompts", {"sentence1": 3}), ["prompts.sentence1: expected a prompt string"], []),
    "missing mappings file": (_set("evaluators.0.mappings", "nope.json"),
                              ["evaluators[0].mappings: mappings file 'nope.json' does not exist"], []),
}


@pytest.mark.parametrize("case", list(CASES))
def test_wrong_config_fails_before_any_work(case, cli, tiny_path, tmp_path):
    change, fragments, extra = CASES[case]
    config = copy.deepcopy(base_config(tiny_path, EXAMPLES / "data"))
    change(config)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    code, stdout, stderr = cli("train", path, "-o", out, *extra)
    assert code == 2, stdout + stderr
    assert stderr.startswith(f"error: Invalid run config {path}")
    for fragment in fragments:
        assert fragment in stderr, f"{fragment!r} not in:\n{stderr}"
    assert "Fix: " in stderr
    assert not out.exists()
    if case in VALIDATE_TOO:
        code, _, stderr_validate = cli("validate", path, *extra)
        assert code == 2 and stderr_validate == stderr


def _retrieval_mappings(change):
    def apply(data: dict) -> dict:
        change(data)
        return data
    return apply


# id -> (change to a valid {queries, corpus, relevant_docs} file, [fragments the message must contain])
RETRIEVAL_CASES = {
    "mappings key missing": (lambda d: d.pop("corpus"),
                             ["evaluators[0].mappings: evaluator parameter 'corpus' is required but the mappings file has no 'corpus' key",
                              "Fix: add \"corpus\": {...} to the JSON file"]),
    "unknown query id": (lambda d: d["relevant_docs"].update({"q9": ["d1"]}),
                         ["evaluators[0].mappings: relevant_docs names query ids that are not in queries: 'q9'",
                          "Fix: add those queries to `queries`, or remove their entries from `relevant_docs`"]),
    "unknown document id": (lambda d: d["relevant_docs"]["q1"].append("d404"),
                            ["evaluators[0].mappings: relevant_docs names document ids that are not in corpus: 'd404'",
                             "Fix: add those documents to `corpus`"]),
    "mappings key is no parameter": (lambda d: d.update({"corpse": d["corpus"]}),
                                     ["evaluators[0].mappings: key 'corpse' of the mappings file is not a parameter of evaluator "
                                      "'information_retrieval'. Did you mean 'corpus'?"]),
}


@pytest.mark.parametrize("case", list(RETRIEVAL_CASES))
def test_wrong_retrieval_mappings_fail_before_any_work(case, cli, tiny_path, tmp_path):
    change, fragments = RETRIEVAL_CASES[case]
    data = {"queries": {"q1": "a cat", "q2": "a dog"}, "corpus": {"d1": "cats sleep", "d2": "dogs bark"},
            "relevant_docs": {"q1": ["d1"], "q2": ["d2"]}}
    change(data)
    (tmp_path / "retrieval.json").write_text(json.dumps(data))
    config = base_config(tiny_path, EXAMPLES / "data")
    config["evaluators"] = [{"name": "information_retrieval", "mappings": "retrieval.json", "params": {"name": "ir"}}]
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    code, stdout, stderr = cli("train", path, "-o", out)
    assert code == 2, stdout + stderr
    assert stderr.startswith(f"error: Invalid run config {path}: 1 problem.")
    for fragment in fragments:
        assert fragment in stderr, f"{fragment!r} not in:\n{stderr}"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retrieval.json", "run.yaml"]


VALIDATE_TOO = ("unknown loss", "missing column", "evaluator data mismatch", "malformed --set")


def test_catalogue_has_at_least_twenty_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("bad.yaml", "model: [unclosed\nloss: cosent\n", "not valid YAML at line"),
        ("bad.yaml", "- a list\n- not a mapping\n", "the config must be a mapping of sections"),
        ("bad.json", '{"model": "x",}', "not valid JSON"),
        ("bad.toml", "model = 'x'", "has suffix '.toml'"),
    ],
)
def test_unreadable_config_file(name, text, fragment, cli, tmp_path):
    path = tmp_path / name
    path.write_text(text)
    code, _, stderr = cli("train", path, "-o", tmp_path / "out")
    assert code == 2 and fragment in stderr
    assert not (tmp_path / "out").exists()


def test_every_problem_is_reported_at_once(cli, tiny_path, tmp_path):
    config = base_config(tiny_path, EXAMPLES / "data")
    config["loss"]["name"] = "cosnet"
    config["training_args"]["learning_rat"] = 1
    config["batch_sampler"] = "nope"
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    code, _, stderr = cli("validate", path)
    assert code == 2
    assert "3 problems" in stderr
    assert all(p in stderr for p in ("loss.name:", "training_args.learning_rat:", "batch_sampler:"))


def test_existing_output_dir_is_left_untouched(cli, tiny_path, tmp_path):
    config = base_config(tiny_path, EXAMPLES / "data")
    config["loss"]["params"]["scale"] = "big"
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, _ = cli("train", path, "-o", out)
    assert code == 2
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


def test_import_path_is_accepted_with_the_opt_in(cli, tiny_path, tmp_path):
    config = base_config(tiny_path, EXAMPLES / "data")
    config["batch_sampler"] = "sentrix_builtins.batch_samplers.no_duplicates:NoDuplicatesBatchSampler"
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli("validate", path)[0] == 2
    code, stdout, stderr = cli("validate", path, "--allow-import-paths")
    assert code == 0, stderr
    config["allow_import_paths"] = True
    path.write_text(yaml.safe_dump(config))
    assert cli("validate", path)[0] == 0


def test_validate_writes_nothing(cli, tmp_path):
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("*.py", "dropin"))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, stdout, _ = cli("validate", tmp_path / "examples" / "quickstart.yaml", "--set", "training_args.output_dir=" + str(tmp_path / "o"))
    assert code == 0 and "valid" in stdout
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
