"""Saving: the sentence-transformers layout, type names, config, model card, push_to_hub."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from sentrix import SentenceTransformer
from sentrix.errors import InvalidInputError
from sentrix.registry import modules as registry


def test_layout_and_type_names(tmp_path, tiny_folder):
    model = SentenceTransformer(str(tiny_folder), device="cpu", prompts={"query": "q: "}, similarity_fn_name="dot")
    model.append(registry.get("dense")(32, 8))
    model.append(registry.get("normalize")())
    model.save_pretrained(str(tmp_path / "out"))
    out = tmp_path / "out"
    assert json.loads((out / "modules.json").read_text()) == [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.base.modules.dense.Dense"},
        {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.base.modules.normalize.Normalize"},
    ]
    config = json.loads((out / "config_sentence_transformers.json").read_text())
    assert set(config["__version__"]) == {"sentrix", "transformers", "pytorch"}
    assert config["model_type"] == "SentenceTransformer" and config["similarity_fn_name"] == "dot"
    assert config["prompts"] == {"query": "q: ", "document": ""} and config["default_prompt_name"] is None
    assert json.loads((out / "sentence_bert_config.json").read_text()) == {
        "transformer_task": "feature-extraction",
        "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
        "module_output_name": "token_embeddings",
    }
    assert json.loads((out / "1_Pooling" / "config.json").read_text()) == {
        "embedding_dimension": 32, "pooling_mode": "mean", "include_prompt": True}
    assert json.loads((out / "2_Dense" / "config.json").read_text())["activation_function"] == \
        "torch.nn.modules.activation.Tanh"
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "config.json",
                 "2_Dense/model.safetensors", "3_Normalize/config.json"):
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.bin"))


def test_save_rejects_a_file_path(tmp_path, tiny_model):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="Cannot save the model to .*: it is a file"):
        tiny_model.save(str(tmp_path / "file"))


def test_model_card_is_written_through_generate_model_card(tmp_path, tiny_model, monkeypatch):
    fake = types.ModuleType("sentrix.model_card")
    fake.generate_model_card = lambda model: f"# card for {type(model).__name__}\n"
    monkeypatch.setitem(sys.modules, "sentrix.model_card", fake)
    tiny_model.save(str(tmp_path / "a"))
    assert (tmp_path / "a" / "README.md").read_text() == "# card for SentenceTransformer\n"
    tiny_model.save(str(tmp_path / "b"), create_model_card=False)
    assert not (tmp_path / "b" / "README.md").exists()


def test_missing_or_failing_model_card_does_not_break_saving(tmp_path, tiny_model, monkeypatch, texts):
    monkeypatch.setitem(sys.modules, "sentrix.model_card", None)  # import fails
    tiny_model.save(str(tmp_path / "a"))
    broken = types.ModuleType("sentrix.model_card")
    broken.generate_model_card = lambda model: 1 / 0
    monkeypatch.setitem(sys.modules, "sentrix.model_card", broken)
    tiny_model.save(str(tmp_path / "b"))
    for name in ("a", "b"):
        assert not (tmp_path / name / "README.md").exists()
        loaded = SentenceTransformer(str(tmp_path / name), device="cpu")
        np.testing.assert_allclose(loaded.encode(texts), tiny_model.encode(texts), atol=1e-6)


class FakeHfApi:
    """Stands in for huggingface_hub.HfApi: records calls, keeps uploaded files."""

    calls: list = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, private=None, exist_ok=False, **kwargs):
        FakeHfApi.calls.append(("create_repo", repo_id, private, exist_ok))
        return types.SimpleNamespace(repo_id=repo_id)

    def create_branch(self, repo_id, branch, exist_ok=False):
        FakeHfApi.calls.append(("create_branch", repo_id, branch))

    def file_exists(self, repo_id, filename, revision=None):
        return False

    def upload_folder(self, repo_id, folder_path, commit_message, revision=None, create_pr=False, **kwargs):
        import os

        files = sorted(os.path.relpath(os.path.join(d, f), folder_path) for d, _, fs in os.walk(folder_path) for f in fs)
        FakeHfApi.calls.append(("upload_folder", repo_id, commit_message, revision, create_pr, files))
        return types.SimpleNamespace(commit_url=f"https://hub/{repo_id}/commit/1", pr_url=f"https://hub/{repo_id}/pr/1")


def test_push_to_hub_uses_create_repo_and_upload_folder(tiny_model, monkeypatch):
    import huggingface_hub

    FakeHfApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    url = tiny_model.push_to_hub("acme/tiny", token="hf_secret", private=True)
    assert url == "https://hub/acme/tiny/commit/1"
    assert FakeHfApi.calls[0] == ("create_repo", "acme/tiny", True, False)
    kind, repo, message, revision, create_pr, files = FakeHfApi.calls[1]
    assert (kind, repo, message, revision, create_pr) == ("upload_folder", "acme/tiny",
                                                          "Add new SentenceTransformer model", None, False)
    assert {"modules.json", "config_sentence_transformers.json", "model.safetensors", "1_Pooling/config.json"} <= set(files)
    FakeHfApi.calls = []
    assert tiny_model.push_to_hub("acme/tiny", revision="dev", create_pr=True) == "https://hub/acme/tiny/pr/1"
    assert ("create_branch", "acme/tiny", "dev") in FakeHfApi.calls
    with pytest.raises(InvalidInputError, match="repo_id must be a non-empty string"):
        tiny_model.push_to_hub("")


def test_max_seq_length_survives_saving(tmp_path, tiny_folder):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    model.max_seq_length = 9
    model.save(str(tmp_path / "m"))
    loaded = SentenceTransformer(str(tmp_path / "m"), device="cpu")
    assert loaded.max_seq_length == 9
    assert loaded.tokenize(["one two three four five six seven eight nine ten"])["input_ids"].shape[1] == 9


def test_gradient_checkpointing_enable(tiny_folder):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    model.gradient_checkpointing_enable()
    encoder = model[0].auto_model
    assert getattr(encoder, "is_activation_checkpointing", None) or encoder.is_gradient_checkpointing
