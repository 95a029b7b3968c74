"""Loading: sentence-transformers folders (6.x and legacy), plain HF folders, Hub ids, plugins; errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sentrix import SentenceTransformer
from sentrix.errors import InvalidInputError
from sentrix.module_base import Module
from sentrix.registry import modules as module_registry
from sentrix.testing.tiny_models import tiny_hf_folder, tiny_model_folder


def _copy(folder: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.copytree(folder, target)
    return target


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    data = change(data) or data
    path.write_text(json.dumps(data))


def test_plain_hf_folder_becomes_transformer_and_mean_pooling(tmp_path, tiny_model, texts):
    folder = tiny_hf_folder(tmp_path / "hf")
    model = SentenceTransformer(str(folder), device="cpu")
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling"]
    assert model[1].pooling_mode == "mean"
    np.testing.assert_allclose(model.encode(texts), tiny_model.encode(texts), atol=1e-6)


def test_legacy_folder_variants(tmp_path, tiny_folder, tiny_model, texts):
    folder = _copy(tiny_folder, tmp_path)
    (folder / "config_sentence_transformers.json").unlink()  # older than v2
    _edit_json(folder / "modules.json", lambda entries: [
        {**entry, "type": f"sentence_transformers.models.{entry['type'].rsplit('.', 1)[1]}"} for entry in entries
    ])
    (folder / "sentence_bert_config.json").unlink()
    (folder / "sentence_roberta_config.json").write_text(json.dumps({"max_seq_length": 6, "do_lower_case": False}))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
    }))
    model = SentenceTransformer(str(folder), device="cpu")
    assert model.max_seq_length == 6
    assert model[1].pooling_mode == "mean" and model[1].embedding_dimension == 32
    assert model.similarity_fn_name == "cosine" and model.prompts == {"query": "", "document": ""}
    short = [t for t in texts if len(model.tokenizer(t)["input_ids"]) <= 6]
    np.testing.assert_allclose(model.encode(short), tiny_model.encode(short), atol=1e-6)


def test_legacy_pooling_flags_concatenate_in_order(tmp_path, tiny_folder, tiny_model, texts):
    folder = _copy(tiny_folder, tmp_path)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True,
    }))
    model = SentenceTransformer(str(folder), device="cpu")
    assert model[1].pooling_mode == ("cls", "mean") and model.get_embedding_dimension() == 64
    np.testing.assert_allclose(model.encode(texts)[:, 32:], tiny_model.encode(texts), atol=1e-6)


def test_normalize_without_folder_loads(tmp_path, tiny_folder, texts):
    folder = tiny_model_folder(tmp_path / "normed", normalize=True)
    shutil.rmtree(folder / "2_Normalize")
    model = SentenceTransformer(str(folder), device="cpu")
    assert type(model[2]).__name__ == "Normalize"
    np.testing.assert_allclose(np.linalg.norm(model.encode(texts), axis=1), 1.0, atol=1e-5)


def test_saved_config_and_arguments(tmp_path, texts):
    folder = tiny_model_folder(tmp_path / "m", prompts={"query": "query: "}, default_prompt_name="query",
                               similarity_fn_name="dot")
    _edit_json(folder / "config_sentence_transformers.json", lambda c: {**c, "truncate_dim": 16})
    model = SentenceTransformer(str(folder), device="cpu")
    assert model.prompts["query"] == "query: " and model.default_prompt_name == "query"
    assert model.similarity_fn_name == "dot" and model.truncate_dim == 16
    assert model.encode(texts).shape == (len(texts), 16)
    override = SentenceTransformer(str(folder), device="cpu", prompts={"query": ""}, similarity_fn_name="manhattan",
                                   truncate_dim=8)
    assert override.prompts["query"] == "" and override.similarity_fn_name == "manhattan"
    assert override.truncate_dim == 8


def _fake_hub_cache(cache: Path, repo_id: str, source: Path, revision: str = "main") -> str:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(source, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / revision).write_text(commit)
    return commit


def test_hub_id_from_cache_offline(tmp_path, tiny_folder, tiny_model, texts, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _fake_hub_cache(tmp_path / "cache", "acme/tiny", tiny_folder)
    model = SentenceTransformer("acme/tiny", cache_folder=str(tmp_path / "cache"), device="cpu")
    np.testing.assert_allclose(model.encode(texts), tiny_model.encode(texts), atol=1e-6)
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path / "cache"))
    assert SentenceTransformer("acme/tiny", local_files_only=True, device="cpu").get_embedding_dimension() == 32


def test_hub_revision_is_honoured(tmp_path, tiny_folder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _fake_hub_cache(tmp_path / "cache", "acme/tiny", tiny_folder, revision="v1")
    with pytest.raises(InvalidInputError, match="is not in the Hugging Face cache"):
        SentenceTransformer("acme/tiny", cache_folder=str(tmp_path / "cache"), device="cpu")
    model = SentenceTransformer("acme/tiny", cache_folder=str(tmp_path / "cache"), revision="v1", device="cpu")
    assert len(model) == 2


class Doubler(Module):
    """A third-party module: doubles the sentence embedding."""

    config_keys = ["factor"]

    def __init__(self, factor: float = 2.0):
        super().__init__()
        self.factor = factor

    def forward(self, features, **kwargs):
        features["sentence_embedding"] = features["sentence_embedding"] * self.factor
        return features

    def save(self, output_path, *args, safe_serialization=True, **kwargs):
        self.save_config(output_path)


def _with_custom_module(tmp_path: Path, tiny_folder: Path, type_name: str) -> Path:
    folder = _copy(tiny_folder, tmp_path, "custom")
    (folder / "2_Doubler").mkdir()
    (folder / "2_Doubler" / "config.json").write_text(json.dumps({"factor": 3.0}))
    _edit_json(folder / "modules.json", lambda e: e + [{"idx": 2, "name": "2", "path": "2_Doubler", "type": type_name}])
    return folder


def test_custom_module_needs_plugin_or_trust_remote_code(tmp_path, tiny_folder, tiny_model, texts):
    folder = _with_custom_module(tmp_path, tiny_folder, "acme_modules.Doubler")
    with pytest.raises(InvalidInputError, match=r"Unknown module type 'acme_modules.Doubler' \(modules.json entry '2'"
                                                r"[\s\S]*install the plugin that provides this module[\s\S]*trust_remote_code=True"):
        SentenceTransformer(str(folder), device="cpu")
    with module_registry.registered("acme.doubler", Doubler, aliases=("acme_modules.Doubler",)):
        model = SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_allclose(model.encode(texts), 3 * tiny_model.encode(texts), atol=1e-5)


def test_trust_remote_code_imports_module_file_from_folder(tmp_path, tiny_folder, tiny_model, texts):
    folder = _with_custom_module(tmp_path, tiny_folder, "doubler_code.Doubler")
    (folder / "doubler_code.py").write_text(
        "from sentrix.module_base import Module\n"
        "class Doubler(Module):\n"
        "    config_keys = ['factor']\n"
        "    def __init__(self, factor=2.0):\n"
        "        super().__init__(); self.factor = factor\n"
        "    def forward(self, features, **kwargs):\n"
        "        features['sentence_embedding'] = features['sentence_embedding'] * self.factor\n"
        "        return features\n"
        "    def save(self, output_path, *args, **kwargs):\n"
        "        self.save_config(output_path)\n"
    )
    with pytest.raises(InvalidInputError, match="Unknown module type 'doubler_code.Doubler'"):
        SentenceTransformer(str(folder), device="cpu")
    model = SentenceTransformer(str(folder), device="cpu", trust_remote_code=True)
    np.testing.assert_allclose(model.encode(texts), 3 * tiny_model.encode(texts), atol=1e-5)


def test_modules_list_builds_a_model(tiny_model, texts):
    model = SentenceTransformer(modules=[tiny_model[0], tiny_model[1]], device="cpu")
    np.testing.assert_allclose(model.encode(texts), tiny_model.encode(texts), atol=1e-6)
    with pytest.raises(InvalidInputError, match="empty modules list"):
        SentenceTransformer(modules=[])


# ---------------------------------------------------------------------- wrong inputs
def test_missing_path(tmp_path):
    missing = tmp_path / "nope" / "model"
    with pytest.raises(InvalidInputError, match=r"Model path '.*nope/model' does not exist\. Fix: check the path"):
        SentenceTransformer(str(missing))


def test_unknown_hub_id_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InvalidInputError, match=r"Could not load model 'acme/missing': it is not a local folder and "
                                                r"is not in the Hugging Face cache \(offline mode\)"):
        SentenceTransformer("acme/missing", cache_folder=str(tmp_path))


def test_folder_without_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidInputError, match=r"holds no model: expected modules.json .*, config.json .* or adapter_config.json"):
        SentenceTransformer(str(tmp_path))


def test_path_is_a_file(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(InvalidInputError, match="is a file; expected a folder"):
        SentenceTransformer(str(tmp_path / "model.bin"))


def test_non_string_path():
    with pytest.raises(InvalidInputError, match="model_name_or_path must be a folder path or a Hugging Face Hub id"):
        SentenceTransformer(42)


def test_corrupt_safetensors(tmp_path, tiny_folder):
    folder = tiny_model_folder(tmp_path / "dense")
    model = SentenceTransformer(str(folder), device="cpu")
    model.append(module_registry.get("dense")(32, 8))
    model.save(str(folder))
    (folder / "2_Dense" / "model.safetensors").write_bytes(b"\x00garbage, not a safetensors file")
    with pytest.raises(InvalidInputError, match=r"Could not read the weights file '.*2_Dense/model.safetensors'.*damaged"):
        SentenceTransformer(str(folder), device="cpu")


def test_corrupt_encoder_weights(tmp_path, tiny_folder):
    folder = _copy(tiny_folder, tmp_path)
    (folder / "model.safetensors").write_bytes(b"broken")
    with pytest.raises(InvalidInputError, match=r"Could not read the weights file '.*copy/model.safetensors'.*damaged"):
        SentenceTransformer(str(folder), device="cpu")


def test_encoder_pickle_weights_need_opt_in(tmp_path, tiny_folder, tiny_model, texts):
    from safetensors.torch import load_file

    folder = _copy(tiny_folder, tmp_path)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(InvalidInputError, match=r"holds only pickled 'pytorch_model.bin' weights.*use_safetensors"):
        SentenceTransformer(str(folder), device="cpu")
    model = SentenceTransformer(str(folder), device="cpu", model_kwargs={"use_safetensors": False})
    np.testing.assert_allclose(model.encode(texts), tiny_model.encode(texts), atol=1e-6)


def test_invalid_modules_json(tmp_path, tiny_folder):
    folder = _copy(tiny_folder, tmp_path)
    (folder / "modules.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match=r"modules.json' is not valid JSON"):
        SentenceTransformer(str(folder))


def test_pickle_weights_need_opt_in(tmp_path, tiny_folder, texts):
    folder = tiny_model_folder(tmp_path / "m")
    model = SentenceTransformer(str(folder), device="cpu")
    model.append(module_registry.get("layer_norm")(32))
    model.save(str(folder), safe_serialization=False)
    assert (folder / "2_LayerNorm" / "pytorch_model.bin").exists()
    assert not (folder / "2_LayerNorm" / "model.safetensors").exists()
    with pytest.raises(InvalidInputError, match=r"holds only a pickled 'pytorch_model.bin'.*use_safetensors': False"):
        SentenceTransformer(str(folder), device="cpu")
    loaded = SentenceTransformer(str(folder), device="cpu", model_kwargs={"use_safetensors": False})
    np.testing.assert_allclose(loaded.encode(texts), model.encode(texts), atol=1e-6)


def test_weights_only_is_used_for_pickles(tmp_path, monkeypatch):
    from sentrix import module_base

    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    torch.save({"w": torch.ones(2)}, tmp_path / "pytorch_model.bin")
    assert module_base.load_weights_file(str(tmp_path), allow_pickle=True)["w"].sum() == 2
    assert calls and calls[0]["weights_only"] is True
