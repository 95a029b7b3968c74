"""Run checks that involve the loss's own dataset checks (``validate_dataset``), empty datasets and extra
columns: each stops the run before anything is written, naming the dataset and the fix."""

from __future__ import annotations

import os

import pytest
from datasets import Dataset
from torch import nn
from trainer_helpers import make_args

from sentrix import SentenceTransformerTrainer
from sentrix.data_needs import DataNeeds
from sentrix.errors import InvalidInputError


def _assert_nothing_written(tmp_path):
    out = tmp_path / "out"
    assert not out.exists() or os.listdir(out) == [], f"files were written: {os.listdir(out)}"


def _nli(labels, **extra):
    n = len(labels)
    return Dataset.from_dict({"premise": [f"premise {i}" for i in range(n)], "hypothesis": [f"hyp {i}" for i in range(n)],
                              **extra, "label": labels})


def _softmax(model):
    from sentrix.losses import SoftmaxLoss

    return SoftmaxLoss(model, num_labels=3)


def test_loss_dataset_checks_list_every_problem_with_the_dataset_name(tmp_path, model):
    train = {"words": _nli(["entailment", "neutral", "contradiction", "neutral"]), "ids": _nli([0, 1, 5, -1])}
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=train,
                                   loss={"words": _softmax(model), "ids": _softmax(model)})
    message = str(info.value)
    assert message.startswith("The training run was stopped before it started:")
    assert "train dataset 'words': label column 'label'" in message and "strings" in message
    assert "train dataset 'ids': label column 'label'" in message and "outside [0, 3)" in message
    _assert_nothing_written(tmp_path)


class _PickyLoss(nn.Module):
    """A third-party loss whose validate_dataset takes only (dataset, dataset_name)."""

    data_needs = DataNeeds(text_columns=2, label="float")

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.seen = []

    def validate_dataset(self, dataset, dataset_name):
        self.seen.append(dataset_name)
        return ["scores must be below 0.5 for this loss"] if max(dataset["score"]) >= 0.5 else []

    def forward(self, features, labels):  # pragma: no cover - never reached
        raise AssertionError


def test_third_party_validate_dataset_gets_only_the_arguments_it_takes(tmp_path, model, pair_score_dataset):
    loss = _PickyLoss(model)
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=pair_score_dataset,
                                   eval_dataset=pair_score_dataset, loss=loss)
    message = str(info.value)
    assert "- train_dataset: scores must be below 0.5 for this loss" in message
    assert "- eval_dataset: scores must be below 0.5 for this loss" in message
    assert loss.seen == ["train_dataset", "eval_dataset"]
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize("as_dict", [False, True])
def test_empty_training_dataset(tmp_path, model, pair_score_dataset, as_dict):
    empty = pair_score_dataset.select([])
    train = {"sts": empty} if as_dict else empty
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=train,
                                   loss={"sts": "cosent"} if as_dict else "cosent")
    where = "train dataset 'sts'" if as_dict else "train_dataset"
    assert f"{where} has no rows (columns ['sentence1', 'sentence2', 'score']), so there is nothing to train on" in str(info.value)
    _assert_nothing_written(tmp_path)


def test_extra_text_column_for_a_loss_with_a_fixed_column_count(tmp_path, model):
    data = _nli([0, 1, 2, 1], notes=["a", "b", "c", "d"])
    with pytest.raises(InvalidInputError) as info:
        SentenceTransformerTrainer(model=model, args=make_args(tmp_path), train_dataset=data, loss=_softmax(model))
    message = str(info.value)
    assert "train_dataset has 3 text column(s) ['premise', 'hypothesis', 'notes'] and label column 'label'" in message
    assert "the loss SoftmaxLoss needs 2 text columns (sentence_A, sentence_B)" in message
    assert "dataset.select_columns" in message
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize(("world_size", "given", "expected", "logged"), [
    (2, False, True, True),
    (4, True, True, False),
    (1, False, False, False),
])
def test_dataloader_drop_last_is_forced_with_several_processes(tmp_path, monkeypatch, caplog, world_size, given, expected, logged):
    import logging

    from transformers import TrainingArguments

    from sentrix import SentenceTransformerTrainingArguments

    monkeypatch.setattr(TrainingArguments, "world_size", property(lambda self: world_size))
    with caplog.at_level(logging.WARNING, logger="sentrix.training_args"):
        args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, dataloader_drop_last=given)
    assert args.dataloader_drop_last is expected
    assert ("setting `dataloader_drop_last=True`" in caplog.text) is logged
    if logged:
        assert f"Training with {world_size} processes" in caplog.text
