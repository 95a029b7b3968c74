"""The trainer callback that fills the card data while a model trains."""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

from sentrix.model_card.formatting import plain, redact_secrets

# Training arguments never shown on the card: bookkeeping that says nothing about the model, and secrets.
IGNORED_ARGS = {
    "output_dir", "logging_dir", "logging_strategy", "logging_first_step", "logging_steps",
    "eval_strategy", "evaluation_strategy", "eval_steps", "eval_delay", "save_strategy", "save_steps",
    "save_total_limit", "report_to", "do_train", "do_eval", "do_predict", "run_name",
    "overwrite_output_dir", "push_to_hub", "hub_model_id", "hub_strategy", "hub_private_repo",
}


class SentenceTransformerModelCardCallback(TrainerCallback):
    """Records datasets, losses, hyperparameters, logs and metrics on ``model.model_card_data``.

    The trainer adds one automatically; ``default_args_dict`` holds the default training
    arguments, so the card can list only the ones a run changed.
    """

    def __init__(self, default_args_dict: dict[str, Any]) -> None:
        super().__init__()
        self.default_args = default_args_dict

    def on_init_end(self, args, state, control, model=None, trainer=None, **kwargs):
        card = getattr(model, "model_card_data", None)
        if card is None or trainer is None:
            return
        card.add_tags("generated_from_trainer")
        train, evaluation = trainer.train_dataset, trainer.eval_dataset
        if train is not None and not card.train_datasets:
            card.train_datasets = card.infer_datasets(train, None if isinstance(train, dict) else "train")
            size = sum(d.get("size") or 0 for d in card.train_datasets)
            if size:
                card.add_tags(f"dataset_size:{size}")
        if evaluation is not None and not card.eval_datasets:
            card.eval_datasets = card.infer_datasets(evaluation, None if isinstance(evaluation, dict) else "eval")
        card.set_losses(trainer.loss)
        if not card.widget and (evaluation is not None or train is not None):
            card.set_widget_examples(evaluation if evaluation is not None else train)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        card = getattr(model, "model_card_data", None)
        if card is None:
            return
        args_dict = redact_secrets(plain(args.to_dict()))
        card.all_hyperparameters = {k: v for k, v in args_dict.items() if k not in IGNORED_ARGS}
        card.non_default_hyperparameters = {
            k: v for k, v in card.all_hyperparameters.items()
            if k in self.default_args and v != self.default_args[k]
        }
        card._training_start_time = time.time()

    def on_train_end(self, args, state, control, model=None, **kwargs):
        card = getattr(model, "model_card_data", None)
        if card is not None and card._training_start_time is not None:
            card.training_duration = time.time() - card._training_start_time

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        card = getattr(model, "model_card_data", None)
        if card is None or not metrics:
            return
        losses = {
            " ".join(k.split("_")[1:]): v for k, v in metrics.items() if k.startswith("eval_") and k.endswith("_loss")
        }
        if list(losses) == ["loss"]:
            losses = {"Validation Loss": losses["loss"]}
        row = _log_row(card, state)
        row.update(losses)
        for key, value in metrics.items():
            if key.startswith("eval_") and not key.endswith(("_loss", "_runtime", "_per_second")) and key != "eval_epoch":
                row[key[5:]] = value

    def on_log(self, args, state, control, model=None, logs=None, **kwargs):
        card = getattr(model, "model_card_data", None)
        if card is None or not logs or "loss" not in logs:
            return
        _log_row(card, state)["Training Loss"] = logs["loss"]


ModelCardCallback = SentenceTransformerModelCardCallback
BaseModelCardCallback = SentenceTransformerModelCardCallback


def make_model_card_callback(default_args: dict[str, Any]) -> SentenceTransformerModelCardCallback:
    """The callback the trainer adds (kept for callers of the former factory)."""
    return SentenceTransformerModelCardCallback(default_args)


def _log_row(card: Any, state: Any) -> dict[str, Any]:
    if card.training_logs and card.training_logs[-1].get("Step") == state.global_step:
        return card.training_logs[-1]
    row = {"Epoch": round(state.epoch or 0.0, 4), "Step": state.global_step}
    card.training_logs.append(row)
    return row
