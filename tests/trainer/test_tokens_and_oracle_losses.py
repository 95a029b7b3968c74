"""Tokens per step in the logs and the model card; the forward decision in the run log; per-step losses
of a 50-step run equal to sentence-transformers' (MNRL + no_duplicates, dropout off, same seed)."""

from __future__ import annotations

import csv
import importlib
import json
import re
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


def _pairs(n: int | None = None) -> dict[str, list[str]]:
    with open(DATA / "snli_dev_pairs_sample.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[:n]
    return {"anchor": [r["premise"] for r in rows], "positive": [r["hypothesis"] for r in rows]}


def _no_dropout(tiny_folder, tmp_path) -> str:
    folder = tmp_path / "no-dropout"
    shutil.copytree(tiny_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


def _train(lib, folder, out, data, **overrides):
    from datasets import Dataset

    model = lib.SentenceTransformer(folder, device="cpu")
    losses = importlib.import_module("sentrix.losses" if lib.__name__ == "sentrix" else "sentence_transformers.sentence_transformer.losses")
    loss = losses.MultipleNegativesRankingLoss(model)
    seen: list[float] = []
    loss.register_forward_hook(lambda module, args, output: seen.append(float(output.detach())))
    settings = dict(
        output_dir=str(out), per_device_train_batch_size=16, use_cpu=True, report_to="none", disable_tqdm=True,
        seed=7, logging_steps=1, save_strategy="no", batch_sampler="no_duplicates", learning_rate=1e-4,
    )
    settings.update(overrides)
    args = lib.SentenceTransformerTrainingArguments(**settings)
    trainer = lib.SentenceTransformerTrainer(model=model, args=args, train_dataset=Dataset.from_dict(data), loss=loss)
    trainer.train()
    return trainer, seen


def test_per_step_losses_equal_sentence_transformers_for_50_steps(tmp_path, tiny_folder):
    import sentence_transformers

    import sentrix

    folder = _no_dropout(tiny_folder, tmp_path)
    data = _pairs()  # 90 SNLI pairs, premises repeated: the no_duplicates sampler has work to do
    _, ours = _train(sentrix, folder, tmp_path / "sentrix", data, max_steps=50)
    _, theirs = _train(sentence_transformers, folder, tmp_path / "st", data, max_steps=50)
    assert len(ours) == len(theirs) == 50
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_tokens_per_step_are_logged_and_reach_the_model_card(tmp_path, tiny_folder):
    import sentrix
    from sentrix.embedding import padding_stats

    data = _pairs(32)
    trainer, _ = _train(sentrix, tiny_folder, tmp_path / "run", data, num_train_epochs=1, batch_sampler="batch_sampler")
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 2 and all({"tokens_real", "tokens_padding", "padding_share"} <= set(entry) for entry in logs)
    # every real token of the epoch, counted once
    tokenizer = trainer.model.tokenizer
    real = sum(len(tokenizer(text)["input_ids"]) for column in data.values() for text in column)
    assert sum(entry["tokens_real"] for entry in logs) == real
    # the padding logged is the padding the planned forwards run, below plain per-column padding
    batch, _ = trainer.collect_features(next(iter(trainer._build_dataloader(trainer.train_dataset, 16, "train"))))
    stats = padding_stats(batch, model=trainer.model)
    assert logs[0]["tokens_padding"] == stats["planned_tokens"] - stats["real_tokens"]
    assert logs[0]["padding_share"] < 1 - stats["real_tokens"] / stats["per_column_tokens"]
    card = trainer.model.model_card_data.training_tokens
    assert card["real_tokens_per_step"] == real / 2
    from sentrix.model_card.sections import training_details

    assert "Tokens per training step:" in training_details(trainer.model.model_card_data, trainer.model, trainer)


def test_argument_switch_gives_plain_forwards_and_the_log_says_why(tmp_path, tiny_folder, caplog):
    import logging

    import sentrix
    from sentrix.training.token_stats import describe_forward

    data = _pairs(32)
    with caplog.at_level(logging.INFO, logger="sentrix.trainer"):
        trainer, _ = _train(
            sentrix, tiny_folder, tmp_path / "run", data, num_train_epochs=1, batch_sampler="batch_sampler",
            merge_and_bucket=False,
        )
    assert "embedding forwards: plain per-column, because merge_and_bucket=False" in caplog.text
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    batch, _ = trainer.collect_features(next(iter(trainer._build_dataloader(trainer.train_dataset, 16, "train"))))
    per_column = sum(int(f["attention_mask"].numel()) for f in batch)
    real = sum(int(f["attention_mask"].sum()) for f in batch)
    assert logs[0]["tokens_padding"] == per_column - real
    assert describe_forward(trainer.model).startswith("embedding forwards: columns merged, rows packed")
    from sentrix.training.run_header import run_header

    header = run_header(trainer)
    assert "embedding forwards: plain per-column, because merge_and_bucket=False" in header
    planned, plain = re.search(r"padding share .*: ([\d.]+)% with sentrix's planned forwards, ([\d.]+)% with plain", header).groups()
    assert planned == plain  # the header reports the forwards the run really makes
