from __future__ import annotations

import pytest
from transformers import TrainerControl, TrainerState, TrainingArguments

from sentrix.registry import callbacks


def _run(callback, values, key="eval_loss", args=None, tmp_path=None):
    args = args or TrainingArguments(output_dir=str(tmp_path), report_to=[])
    control = TrainerControl()
    callback.on_train_begin(args, TrainerState(), control)
    stopped_at = None
    for i, value in enumerate(values):
        callback.on_evaluate(args, TrainerState(), control, metrics={key: value})
        if control.should_training_stop and stopped_at is None:
            stopped_at = i
    return stopped_at


def test_stops_after_patience_evaluations_without_improvement(tmp_path):
    callback = callbacks.create("early_stopping", patience=2)
    assert _run(callback, [1.0, 0.9, 0.95, 0.92, 0.5], tmp_path=tmp_path) == 3


def test_greater_is_better_for_non_loss_metrics_and_threshold(tmp_path):
    callback = callbacks.create("EarlyStoppingCallback", patience=1, threshold=0.01, metric="sts-dev_spearman_cosine")
    assert _run(callback, [0.50, 0.55, 0.555], key="eval_sts-dev_spearman_cosine", tmp_path=tmp_path) == 2


def test_follows_metric_for_best_model(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], metric_for_best_model="acc",
                             greater_is_better=False, eval_strategy="steps", save_strategy="steps")
    callback = callbacks.create("early_stopping", patience=1)
    assert _run(callback, [0.5, 0.6], key="eval_acc", args=args) == 1


def test_missing_metric_names_the_available_keys(tmp_path):
    callback = callbacks.create("early_stopping", metric="eval_accuracy")
    with pytest.raises(KeyError, match=r"watches 'eval_accuracy', which this evaluation did not report \(got: eval_loss\)"):
        _run(callback, [1.0], tmp_path=tmp_path)


def test_rejects_bad_patience():
    with pytest.raises(ValueError, match="patience must be a positive int"):
        callbacks.create("early_stopping", patience=0)
