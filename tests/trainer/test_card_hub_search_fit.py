"""Model card, push_to_hub (offline), hyperparameter search, legacy fit, callbacks by name."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from trainer_helpers import make_args

from sentrix import SentenceTransformer, SentenceTransformerTrainer

TOKEN = "hf_" + "S3cr3tT0kenValue" * 2


def _all_bytes(folder: Path) -> list[tuple[str, bytes]]:
    return [(str(p), p.read_bytes()) for p in folder.rglob("*") if p.is_file()]


def test_model_card_records_data_losses_args_logs_metrics_and_provenance(tmp_path, model, pair_score_dataset):
    from sentrix import hookimpl
    from sentrix.evaluation import EmbeddingSimilarityEvaluator
    from sentrix.plugins import register_hook_plugin, unregister_hook_plugin

    class CardPlugin:
        @hookimpl
        def sentrix_model_card_sections(self, model, trainer):
            return [("Acme Audit", f"trained by a trainer: {trainer is not None}")]

    evaluator = EmbeddingSimilarityEvaluator(
        pair_score_dataset["sentence1"], pair_score_dataset["sentence2"], pair_score_dataset["score"], name="sts-dev"
    )
    args = make_args(tmp_path, max_steps=2, eval_strategy="steps", eval_steps=2, hub_token=TOKEN, warmup_steps=1)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset={"sts": pair_score_dataset}, eval_dataset={"sts": pair_score_dataset},
        loss={"sts": "cosent"}, evaluator=evaluator,
    )
    trainer.train()
    plugin = CardPlugin()
    register_hook_plugin(plugin, name="acme-card")
    try:
        trainer.save_model(str(tmp_path / "final"))
    finally:
        unregister_hook_plugin(plugin)
    card = (tmp_path / "final" / "README.md").read_text()
    assert "#### sts" in card and "`sentence1` (string), `sentence2` (string), `score` (float64)" in card
    assert "| a cat sat on the mat | a cat sits on the mat | 0.9 |" in card  # an example row
    assert "CoSENTLoss" in card and '"scale": 20.0' in card  # loss with its parameters
    assert "- `max_steps`: 2" in card and "- `warmup_steps`: 1" in card  # non-default hyperparameters
    assert "- `per_device_eval_batch_size`" in card
    assert "| Epoch | Step | Training Loss |" in card  # training log table
    assert "sts-dev" in card and "spearman_cosine" in card  # evaluator metrics
    assert "| loss | CoSENTLoss | sentrix |" in card  # provenance
    assert "## Acme Audit" in card and "trained by a trainer: True" in card  # hook section
    assert "Resolved Configuration" in card
    import yaml

    meta = yaml.safe_load(card.split("---", 2)[1])
    assert {"dense", "generated_from_trainer", "loss:CoSENTLoss", f"dataset_size:{len(pair_score_dataset)}"} <= set(meta["tags"])
    assert meta["metrics"] == ["pearson_cosine", "spearman_cosine"]  # Hub metric names, without the evaluator's name
    results = meta["model-index"][0]["results"]
    assert results[0]["dataset"] == {"name": "sts dev", "type": "sts-dev"}
    assert [m["type"] for m in results[0]["metrics"]] == ["pearson_cosine", "spearman_cosine"]
    for path, data in _all_bytes(tmp_path / "final"):
        assert TOKEN.encode() not in data, f"token leaked into {path}"


def test_push_to_hub_uploads_the_model_folder_without_tokens(tmp_path, model, pair_score_dataset, monkeypatch):
    import huggingface_hub

    uploaded = {}

    def fake_create_repo(self, repo_id, **kwargs):
        uploaded["repo"] = repo_id
        return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

    def fake_upload_folder(self, *, repo_id, folder_path, ignore_patterns=None, token=None, **kwargs):
        from huggingface_hub.utils import filter_repo_objects

        root = Path(folder_path)
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
        kept = list(filter_repo_objects(files, ignore_patterns=ignore_patterns))
        target = tmp_path / "hub" / repo_id
        for rel in kept:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / rel, target / rel)
        uploaded.update(repo_id=repo_id, files=sorted(kept), token=token)
        return "commit-url"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", fake_create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", fake_upload_folder)

    args = make_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=1, hub_model_id="acme/tiny-sts", hub_token=TOKEN)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pair_score_dataset)
    trainer.train()
    assert trainer.push_to_hub() == "commit-url"
    assert uploaded["repo"] == "acme/tiny-sts" and uploaded["token"] == TOKEN
    files = uploaded["files"]
    assert {"modules.json", "README.md", "model.safetensors", "1_Pooling/config.json"} <= set(files)
    assert not any(f.startswith(("checkpoint-", ".sentrix-tmp")) for f in files)
    hub_copy = tmp_path / "hub" / "acme" / "tiny-sts"
    for path, data in _all_bytes(hub_copy) + _all_bytes(tmp_path / "out"):
        assert TOKEN.encode() not in data, f"token leaked into {path}"
    loaded = SentenceTransformer(str(hub_copy), device="cpu")
    torch.testing.assert_close(torch.as_tensor(loaded.encode(["a cat"])), torch.as_tensor(model.encode(["a cat"])))


def test_hyperparameter_search_with_optuna(tmp_path, tiny_folder, pair_score_dataset):
    pytest.importorskip("optuna")
    from sentrix.losses import CoSENTLoss

    built = []

    def model_init():
        built.append(1)
        return SentenceTransformer(tiny_folder, device="cpu")

    def hp_space(trial):
        return {"learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-3, log=True)}

    from transformers import TrainerCallback

    bound = []

    class CheckBinding(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            bound.append((trainer.loss.model is model, id(model)))

    args = make_args(tmp_path, max_steps=2, eval_strategy="no")
    trainer = SentenceTransformerTrainer(
        model_init=model_init, args=args, train_dataset=pair_score_dataset, eval_dataset=pair_score_dataset,
        loss=lambda m: CoSENTLoss(m), callbacks=[CheckBinding()],
    )
    best = trainer.hyperparameter_search(hp_space=hp_space, n_trials=2, direction="minimize", compute_objective=lambda m: m["eval_loss"])
    assert 1e-5 <= best.hyperparameters["learning_rate"] <= 1e-3
    assert len(built) >= 3  # the first model plus one per trial
    # in every trial the loss is bound to that trial's fresh model
    assert len(bound) == 2 and all(ok for ok, _ in bound) and bound[0][1] != bound[1][1]


def test_hyperparameter_search_needs_model_init(tmp_path, model, pair_score_dataset):
    trainer = SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=pair_score_dataset)
    with pytest.raises(ValueError, match="hyperparameter_search needs `model_init`"):
        trainer.hyperparameter_search(n_trials=1)


def test_legacy_fit_trains_and_saves(tmp_path, model):
    from torch.utils.data import DataLoader

    from sentrix.fit_mixin import InputExample, fit
    from sentrix.losses import CoSENTLoss, MultipleNegativesRankingLoss

    scored = [InputExample(texts=["a cat sat", "a cat sits"], label=0.9), InputExample(texts=["a dog", "the sun"], label=0.1)] * 4
    pairs = [InputExample(texts=["a man eats", "a man eats food"]), InputExample(texts=["red car", "a red car"])] * 4
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit(
        model,
        train_objectives=[(DataLoader(scored, batch_size=4, shuffle=True), CoSENTLoss(model)),
                          (DataLoader(pairs, batch_size=4), MultipleNegativesRankingLoss(model))],
        epochs=1, warmup_steps=1, output_path=str(tmp_path / "fit-out"), checkpoint_path=str(tmp_path / "ckpt"),
        checkpoint_save_steps=2, show_progress_bar=False,
    )
    after = model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert (tmp_path / "fit-out" / "modules.json").is_file()
    assert any(n.startswith("checkpoint-") for n in os.listdir(tmp_path / "ckpt"))


def test_legacy_fit_evaluates_each_epoch_into_the_output_folder(tmp_path, model, monkeypatch):
    from torch.utils.data import DataLoader

    from sentrix.evaluation import EmbeddingSimilarityEvaluator
    from sentrix.fit_mixin import InputExample
    from sentrix.losses import CosineSimilarityLoss

    monkeypatch.chdir(tmp_path)  # fit's default checkpoint folder is relative to the working directory
    examples = [InputExample(texts=["a cat sat", "a cat sits"], label=0.9), InputExample(texts=["a dog", "the sun"], label=0.1),
                InputExample(texts=["red car", "a red car"], label=0.8), InputExample(texts=["a man eats", "blue sky"], label=0.0)]
    evaluator = EmbeddingSimilarityEvaluator(["a cat sat", "a dog", "red car"], ["a cat sits", "the sun", "a red car"],
                                             [0.9, 0.1, 0.8], name="sts-dev")
    scores = []
    model.fit(
        train_objectives=[(DataLoader(examples * 2, batch_size=4, shuffle=True), CosineSimilarityLoss(model))],
        evaluator=evaluator, epochs=2, warmup_steps=1, output_path="fit-out", show_progress_bar=False,
        callback=lambda score, epoch, steps: scores.append((epoch, steps)),
    )
    assert scores == [(1.0, 2), (2.0, 4)]  # once after each epoch
    csv_lines = (tmp_path / "fit-out" / "eval" / "similarity_evaluation_sts-dev_results.csv").read_text().splitlines()
    assert len(csv_lines) == 3  # header + one row per epoch
    assert (tmp_path / "fit-out" / "modules.json").is_file()  # the best model was saved there
    # No step evaluation and no checkpoints: nothing is written to the default checkpoint folder.
    assert not [p for p in (tmp_path / "checkpoints").rglob("*") if p.is_file()]


def test_callbacks_by_registered_name_and_callback_methods(tmp_path, model, pair_score_dataset):
    from transformers import PrinterCallback

    from sentrix.registry import callbacks

    name = callbacks.names()[0]
    args = make_args(tmp_path, eval_strategy="steps", eval_steps=1, metric_for_best_model="loss", load_best_model_at_end=True,
                     save_strategy="steps", save_steps=1)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=pair_score_dataset, eval_dataset=pair_score_dataset, callbacks=[name]
    )
    registered = type(callbacks.create(name))
    assert any(isinstance(cb, registered) for cb in trainer.callback_handler.callbacks)
    trainer.add_callback(PrinterCallback)
    assert trainer.pop_callback(PrinterCallback) is not None
    trainer.remove_callback(registered)
    assert not any(isinstance(cb, registered) for cb in trainer.callback_handler.callbacks)
    assert trainer.is_world_process_zero() and trainer.is_local_process_zero()
