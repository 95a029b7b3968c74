"""PEFT adapters (LoRA): train only the adapter, save/load adapter folders, parity with sentence-transformers."""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version

import numpy as np
import pytest
import torch
from packaging.version import Version

from sentrix import SentenceTransformer
from sentrix.errors import InvalidInputError

TEXTS = ["A man is playing a guitar.", "the cat sits on the mat", "What is the capital of France?", "red car"]
LORA_PARAMETERS = 8  # 2 layers x (query, value) x (lora_A, lora_B)


def _allow_installed_peft(monkeypatch: pytest.MonkeyPatch) -> None:
    """transformers 5.24 asks for peft >= 0.22, which the package index here does not carry yet (0.21.2 is
    the newest). LoRA on BERT works with 0.21, so the tests lower transformers' floor to the installed peft.
    sentrix itself keeps the floor and raises a clear error (tested below)."""
    import transformers.integrations.peft as transformers_peft

    installed = version("peft")
    if Version(installed) < Version(transformers_peft.MIN_PEFT_VERSION):
        monkeypatch.setattr(transformers_peft, "MIN_PEFT_VERSION", installed)


@pytest.fixture
def peft_ok(monkeypatch):
    _allow_installed_peft(monkeypatch)


def _lora_config():
    from peft import LoraConfig, TaskType

    return LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=8, lora_alpha=16, lora_dropout=0.0)


def _set_lora_weights(model) -> None:
    """Deterministic non-zero adapter weights (a fresh LoRA has lora_B = 0, i.e. changes nothing)."""
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)


def _files(folder) -> set[str]:
    return {os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder) for name in names}


def _max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


# ---------------------------------------------------------------------------------------------- training
def test_add_adapter_trains_only_the_lora_weights(tmp_path, tiny_folder, peft_ok):
    from datasets import Dataset

    from sentrix import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentrix.losses import MultipleNegativesRankingLoss

    model = SentenceTransformer(str(tiny_folder), device="cpu")
    base_embeddings = model.encode(TEXTS)
    assert model.has_peft_compatible_model()
    model.add_adapter(_lora_config())

    trainable = [name for name, param in model.named_parameters() if param.requires_grad]
    assert len(trainable) == LORA_PARAMETERS and all("lora_" in name for name in trainable), trainable
    assert model.active_adapters() == ["default"] and model.active_adapter() == "default"
    assert len(model.get_adapter_state_dict()) == LORA_PARAMETERS

    before = {name: param.detach().clone() for name, param in model.named_parameters()}
    data = Dataset.from_dict({"anchor": ["a cat", "a dog", "red car", "the sun", "a man", "the city"],
                              "positive": ["cats", "dogs", "blue car", "the moon", "a woman", "the town"]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=3, learning_rate=5e-2,
        use_cpu=True, report_to="none", save_strategy="no", logging_strategy="no", seed=1,
    )
    SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                               loss=MultipleNegativesRankingLoss(model)).train()

    changed = {name for name, param in model.named_parameters() if not torch.equal(param.detach(), before[name])}
    assert changed and changed <= set(trainable), sorted(changed - set(trainable))
    assert any("lora_B" in name for name in changed)
    assert _max_diff(model.encode(TEXTS), base_embeddings) > 1e-4
    model.disable_adapters()  # the base weights are untouched: without the adapter it is the base model
    assert _max_diff(model.encode(TEXTS), base_embeddings) <= 1e-6
    model.enable_adapters()
    assert _max_diff(model.encode(TEXTS), base_embeddings) > 1e-4


@pytest.mark.filterwarnings("ignore:Already found a `peft_config`:UserWarning")
def test_set_and_delete_adapter(tiny_folder, peft_ok):
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    model.add_adapter(_lora_config(), adapter_name="one")
    model.add_adapter(_lora_config(), adapter_name="two")
    model.set_adapter("two")
    assert model.active_adapters() == ["two"]
    model.delete_adapter("one")
    assert list(model.transformers_model.peft_config) == ["two"]


# ---------------------------------------------------------------------------------------------- save / load
@pytest.fixture(scope="module")
def saved_adapters(tmp_path_factory, tiny_folder):
    """The same LoRA model built and saved by sentrix and by sentence-transformers 6.2."""
    from sentence_transformers import SentenceTransformer as OracleSentenceTransformer

    root = tmp_path_factory.mktemp("peft")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _allow_installed_peft(monkeypatch)
        ours = SentenceTransformer(str(tiny_folder), device="cpu")
        oracle = OracleSentenceTransformer(str(tiny_folder), device="cpu")
        for model in (ours, oracle):
            model.add_adapter(_lora_config())
            _set_lora_weights(model)
        ours.save_pretrained(str(root / "sentrix"))
        oracle.save_pretrained(str(root / "st"))
        yield {
            "sentrix": (root / "sentrix", ours.encode(TEXTS)),
            "st": (root / "st", oracle.encode(TEXTS)),
        }


@pytest.mark.oracle
def test_save_writes_the_sentence_transformers_adapter_files_and_loads_back(saved_adapters, peft_ok):
    from safetensors import safe_open

    ours, ours_embeddings = saved_adapters["sentrix"]
    theirs, theirs_embeddings = saved_adapters["st"]
    assert _files(ours) == _files(theirs)
    assert {"adapter_config.json", "adapter_model.safetensors"} <= _files(ours)
    assert not {"config.json", "model.safetensors"} & _files(ours)  # only the adapter, not the encoder
    assert json.loads((ours / "adapter_config.json").read_text()) == \
        json.loads((theirs / "adapter_config.json").read_text())
    with safe_open(str(ours / "adapter_model.safetensors"), "pt") as a, \
            safe_open(str(theirs / "adapter_model.safetensors"), "pt") as b:
        assert sorted(a.keys()) == sorted(b.keys()) and len(a.keys()) == LORA_PARAMETERS
    assert _max_diff(ours_embeddings, theirs_embeddings) <= 1e-6  # same model on both sides

    loaded = SentenceTransformer(str(ours), device="cpu")
    assert loaded.active_adapters() == ["default"]
    assert _max_diff(loaded.encode(TEXTS), ours_embeddings) <= 1e-6


@pytest.mark.oracle
def test_adapter_folders_load_across_sentrix_and_sentence_transformers(saved_adapters, peft_ok):
    from sentence_transformers import SentenceTransformer as OracleSentenceTransformer

    ours, ours_embeddings = saved_adapters["sentrix"]
    theirs, theirs_embeddings = saved_adapters["st"]
    in_st = OracleSentenceTransformer(str(ours), device="cpu")
    assert in_st.transformers_model.active_adapters() == ["default"]
    assert _max_diff(in_st.encode(TEXTS), ours_embeddings) <= 1e-6
    in_sentrix = SentenceTransformer(str(theirs), device="cpu")
    assert in_sentrix.active_adapters() == ["default"]
    assert _max_diff(in_sentrix.encode(TEXTS), theirs_embeddings) <= 1e-6


# ---------------------------------------------------------------------------------------------- bad inputs
MISSING_PEFT = "PEFT adapters need the optional `peft` package, which is not installed. Fix: `pip install peft`."


def test_add_adapter_without_peft_names_the_install(tiny_model, monkeypatch):
    config = _lora_config()
    monkeypatch.setitem(sys.modules, "peft", None)  # `import peft` now raises ImportError
    with pytest.raises(InvalidInputError) as info:
        tiny_model.add_adapter(config)
    assert str(info.value) == MISSING_PEFT
    assert not getattr(tiny_model.transformers_model, "_hf_peft_config_loaded", False)


def test_loading_an_adapter_folder_without_peft_names_the_install(tmp_path, tiny_folder, monkeypatch):
    _allow_installed_peft(monkeypatch)
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    model.add_adapter(_lora_config())
    folder = tmp_path / "adapter"
    model.save_pretrained(str(folder))
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformer(str(folder), device="cpu")
    adapter_config = os.path.join(str(folder), "adapter_config.json")
    assert str(info.value) == f"{str(folder)!r} is a PEFT adapter ({adapter_config!r}). Loading it: {MISSING_PEFT}"


def test_too_old_peft_names_the_upgrade(tiny_model, monkeypatch):
    import transformers
    import transformers.integrations.peft as transformers_peft

    monkeypatch.setattr(transformers_peft, "MIN_PEFT_VERSION", "999.0")
    with pytest.raises(InvalidInputError) as info:
        tiny_model.active_adapters()
    assert str(info.value) == (
        f"PEFT adapters need peft >= 999.0 with transformers {transformers.__version__}, but peft "
        f"{version('peft')} is installed. Fix: `pip install -U 'peft>=999.0'` (or install a transformers release "
        "that supports this peft)."
    )


def test_adapter_on_a_model_without_a_transformer_module(peft_ok):
    from sentrix.models import Normalize, StaticEmbedding
    from sentrix.testing.tiny_models import tiny_tokenizer

    model = SentenceTransformer(modules=[StaticEmbedding(tiny_tokenizer(), embedding_dim=8), Normalize()],
                                device="cpu")
    assert not model.has_peft_compatible_model()
    expected = (
        "PEFT adapters are only supported on models whose encoder is a Hugging Face `transformers` model "
        "(the Transformer module); this model's modules are ['StaticEmbedding', 'Normalize']. Fix: build the "
        "model on a Transformer module, e.g. SentenceTransformer(modules=[Transformer(name), Pooling(dim)])."
    )
    for call in (lambda: model.add_adapter(_lora_config()), model.check_peft_compatible_model,
                 model.active_adapters, model.disable_adapters):
        with pytest.raises(InvalidInputError) as info:
            call()
        assert str(info.value) == expected


@pytest.mark.oracle
def test_bare_adapter_folder_loads_as_transformer_and_mean_pooling(tmp_path, tiny_folder, peft_ok):
    """A folder written by plain transformers/peft (adapter files + tokenizer, no modules.json) loads as in
    sentence-transformers: Transformer (base model + adapter) and mean Pooling."""
    from sentence_transformers import SentenceTransformer as OracleSentenceTransformer

    model = SentenceTransformer(str(tiny_folder), device="cpu")
    model.add_adapter(_lora_config())
    _set_lora_weights(model)
    bare = tmp_path / "bare-adapter"
    model.transformers_model.save_pretrained(str(bare))
    model.tokenizer.save_pretrained(str(bare))
    assert "adapter_config.json" in _files(bare) and "modules.json" not in _files(bare)

    loaded = SentenceTransformer(str(bare), device="cpu")
    assert [type(m).__name__ for m in loaded] == ["Transformer", "Pooling"]
    assert loaded[1].get_config_dict()["pooling_mode"] == "mean"
    assert loaded.active_adapters() == ["default"]
    oracle = OracleSentenceTransformer(str(bare), device="cpu")
    assert _max_diff(loaded.encode(TEXTS), oracle.encode(TEXTS)) <= 1e-6


def test_lora_training_resumes_exactly_from_an_adapter_checkpoint(tmp_path, tiny_folder, peft_ok):
    from datasets import Dataset
    from transformers import TrainerCallback

    from sentrix import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    data = Dataset.from_dict({"sentence1": [f"a text {i}" for i in range(32)],
                              "sentence2": [f"other {i}" for i in range(32)], "score": [i / 32 for i in range(32)]})

    class StopAt(TrainerCallback):
        def __init__(self, step):
            self.step = step

        def on_step_end(self, args, state, control, **kwargs):
            if self.step and state.global_step >= self.step:
                control.should_training_stop = True

    def run(output_dir, stop_at=None, resume=None):
        torch.manual_seed(0)
        model = SentenceTransformer(str(tiny_folder), device="cpu")
        model.add_adapter(_lora_config())
        args = SentenceTransformerTrainingArguments(
            output_dir=str(output_dir), max_steps=6, per_device_train_batch_size=4, save_strategy="steps", save_steps=2,
            report_to="none", use_cpu=True, learning_rate=1e-2, seed=3, disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss="cosent",
                                             callbacks=[StopAt(stop_at)])
        trainer.train(resume_from_checkpoint=resume)
        return {k: v.detach().clone() for k, v in model.named_parameters() if "lora_" in k}

    straight = run(tmp_path / "straight")
    assert {"adapter_config.json", "adapter_model.safetensors", "optimizer.pt"} <= _files(tmp_path / "straight" / "checkpoint-2")
    run(tmp_path / "interrupted", stop_at=4)
    resumed = run(tmp_path / "interrupted", resume=True)
    assert straight.keys() == resumed.keys() and len(straight) == LORA_PARAMETERS
    assert max(float((straight[k] - resumed[k]).abs().max()) for k in straight) <= 1e-6
    reloaded = SentenceTransformer(str(tmp_path / "straight" / "checkpoint-4"), device="cpu")
    assert reloaded.active_adapters() == ["default"]
