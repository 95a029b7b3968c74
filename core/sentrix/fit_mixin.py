"""The legacy ``model.fit(train_objectives=[(dataloader, loss)], ...)`` API, run on the trainer.

Scripts written for sentence-transformers 2.x train with ``model.fit``. Here ``fit`` turns each
``(DataLoader, loss)`` pair into a named dataset and hands everything to
:class:`~sentrix.trainer.SentenceTransformerTrainer`, interleaving the datasets round-robin as
the old loop did. Checkpoints, resume and the model card therefore behave exactly as with the
trainer. New code should use the trainer directly.

The model class gets the method by inheriting :class:`FitMixin` (or ``SentenceTransformer.fit =
sentrix.fit_mixin.fit``).

Example::

    from torch.utils.data import DataLoader
    from sentrix import SentenceTransformer
    from sentrix.fit_mixin import InputExample
    from sentrix.losses import CoSENTLoss

    model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
    examples = [InputExample(texts=["a cat", "a kitten"], label=0.9),
                InputExample(texts=["a cat", "a car"], label=0.1)]
    loader = DataLoader(examples, shuffle=True, batch_size=16)
    model.fit(train_objectives=[(loader, CoSENTLoss(model))], epochs=1, warmup_steps=10)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)

# Old scheduler names -> transformers lr_scheduler_type.
_SCHEDULERS = {
    "constantlr": "constant",
    "warmupconstant": "constant_with_warmup",
    "warmuplinear": "linear",
    "warmupcosine": "cosine",
    "warmupcosinewithhardrestarts": "cosine_with_restarts",
}


@dataclass
class InputExample:
    """One training example of the legacy API: its texts and an optional label."""

    guid: str = ""
    texts: list[str] = field(default_factory=list)
    label: int | float = 0

    def __str__(self) -> str:
        return f"<InputExample> label: {self.label}, texts: {'; '.join(self.texts)}"


def _identity(batch: Any) -> Any:
    return batch


def _items_of(loader: Any) -> list[Any]:
    """The examples of a legacy DataLoader, in the order one pass over it yields them.

    Iterating the loader (its collate function swapped for the identity meanwhile) keeps its
    shuffle order and draws from the same random state as the old training loop did, so a seeded
    script sees the same row order as under sentence-transformers.
    """
    if not hasattr(loader, "collate_fn"):
        return list(loader)
    original = loader.collate_fn
    loader.collate_fn = _identity
    try:
        return [item for batch in loader for item in batch]
    finally:
        loader.collate_fn = original


def _rows_of(loader: Any) -> tuple[list[list[str]], list[Any]]:
    """All (texts, label) rows of a legacy DataLoader, read without its collate function."""
    texts: list[list[str]] = []
    labels: list[Any] = []
    for item in _items_of(loader):
        if hasattr(item, "texts"):
            texts.append(list(item.texts))
            labels.append(getattr(item, "label", 0))
        elif isinstance(item, dict):
            values = [v for k, v in item.items() if k not in ("label", "score")]
            texts.append(values)
            labels.append(item.get("label", item.get("score", 0)))
        elif isinstance(item, (list, tuple)):
            texts.append(list(item))
            labels.append(0)
        else:
            raise InvalidInputError(
                f"model.fit: the DataLoader yields {type(item).__name__} items; expected InputExample(texts=[...], "
                "label=...), a dict of columns, or a tuple of texts."
            )
    return texts, labels


def fit(
    self: Any,
    train_objectives: Iterable[tuple[Any, Any]],
    evaluator: Any = None,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    scheduler: str = "WarmupLinear",
    warmup_steps: int = 10000,
    optimizer_class: type | None = None,
    optimizer_params: dict[str, Any] | None = None,
    weight_decay: float = 0.01,
    evaluation_steps: int = 0,
    output_path: str | None = None,
    save_best_model: bool = True,
    max_grad_norm: float = 1,
    use_amp: bool = False,
    callback: Callable[[float, int, int], None] | None = None,
    show_progress_bar: bool = True,
    checkpoint_path: str | None = None,
    checkpoint_save_steps: int = 500,
    checkpoint_save_total_limit: int = 0,
    resume_from_checkpoint: bool = False,
) -> None:
    """Train with the pre-3.0 API (see the module docstring); runs :class:`SentenceTransformerTrainer`.

    :param train_objectives: ``(DataLoader, loss)`` pairs; the DataLoaders hold ``InputExample``s.
        With several pairs, one batch of each is taken in turn (round robin).
    :param evaluator: evaluated every ``evaluation_steps`` steps (if > 0) and after every epoch.
    :param callback: ``callback(score, epoch, steps)`` after each evaluation.
    :param output_path: where the model is saved: the best one by the evaluator's primary
        metric when ``save_best_model``, otherwise the final one.
    Other parameters keep their sentence-transformers 2.x meaning.
    """
    import torch
    from datasets import Dataset, DatasetDict
    from transformers import TrainerCallback, get_scheduler

    from sentrix.datasets import NoDuplicatesDataLoader, SentenceLabelDataset
    from sentrix.trainer import SentenceTransformerTrainer
    from sentrix.training_args import BatchSamplers, MultiDatasetBatchSamplers, SentenceTransformerTrainingArguments

    objectives = list(train_objectives)
    if not objectives:
        raise InvalidInputError("model.fit: `train_objectives` is empty; give [(DataLoader, loss), ...].")
    scheduler_type = _SCHEDULERS.get(str(scheduler).lower())
    if scheduler_type is None:
        raise InvalidInputError(
            f"model.fit: unknown scheduler {scheduler!r}; expected one of "
            "ConstantLR, WarmupConstant, WarmupLinear, WarmupCosine, WarmupCosineWithHardRestarts."
        )
    optimizer_params = dict(optimizer_params or {"lr": 2e-5})
    learning_rate = float(optimizer_params.pop("lr", 2e-5))

    datasets: dict[str, Any] = {}
    losses: dict[str, Any] = {}
    batch_size = None
    batch_sampler = BatchSamplers.BATCH_SAMPLER
    for index, (loader, loss) in enumerate(objectives, start=1):
        texts, labels = _rows_of(loader)
        if not texts:
            raise InvalidInputError(f"model.fit: the DataLoader of objective {index} is empty.")
        width = len(texts[0])
        if any(len(t) != width for t in texts):
            raise InvalidInputError(
                f"model.fit: the examples of objective {index} have different numbers of texts; every "
                "InputExample of one DataLoader needs the same number."
            )
        columns = {f"sentence_{i}": [t[i] for t in texts] for i in range(width)}
        dataset = Dataset.from_dict(columns)
        try:
            has_label = set(labels) != {0}
        except TypeError:
            has_label = True
        if has_label:
            dataset = dataset.add_column("label", labels)
        name = f"_dataset_{index}"
        datasets[name] = dataset
        losses[name] = loss
        loader_batch = getattr(loader, "batch_size", None) or getattr(getattr(loader, "batch_sampler", None), "batch_size", None)
        batch_size = loader_batch or batch_size or 16  # the last objective's, as the old loop had it
        if isinstance(loader, NoDuplicatesDataLoader):
            batch_sampler = BatchSamplers.NO_DUPLICATES
        elif isinstance(getattr(loader, "dataset", None), SentenceLabelDataset):
            batch_sampler = BatchSamplers.GROUP_BY_LABEL

    max_steps = -1
    if steps_per_epoch and steps_per_epoch > 0:
        if epochs == 1:
            max_steps = steps_per_epoch
        else:
            logger.warning("model.fit: `steps_per_epoch` with epochs > 1 is ignored; each epoch uses all data.")

    output_dir = checkpoint_path or _unused_checkpoint_dir()
    # As in the old loop: the evaluator runs after every epoch (see _EpochEndEvaluation) and, when
    # evaluation_steps is set, also every evaluation_steps steps through the trainer.
    eval_strategy = "steps" if evaluation_steps and evaluation_steps > 0 else "no"
    args = SentenceTransformerTrainingArguments(
        output_dir=output_dir,
        batch_sampler=batch_sampler,
        multi_dataset_batch_sampler=MultiDatasetBatchSamplers.ROUND_ROBIN,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        eval_strategy=eval_strategy,
        eval_steps=evaluation_steps if evaluation_steps and evaluation_steps > 0 else None,
        max_grad_norm=max_grad_norm,
        fp16=bool(use_amp) and torch.cuda.is_available(),
        disable_tqdm=not show_progress_bar,
        save_strategy="steps" if checkpoint_path is not None else "no",
        save_steps=checkpoint_save_steps,
        save_total_limit=checkpoint_save_total_limit or None,
        dataloader_pin_memory=torch.cuda.is_available(),
        report_to="none",
    )

    model = self

    class _LegacyEvaluationCallback(TrainerCallback):
        """Calls the legacy ``callback(score, epoch, steps)`` and saves the best model to ``output_path``."""

        def __init__(self) -> None:
            self.best: float | None = None

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if evaluator is None or not metrics:
                return
            primary = getattr(evaluator, "primary_metric", None)
            key = f"eval_{primary}" if primary else None
            score = metrics.get(key) if key else None
            if score is None:
                return
            if callback is not None:
                callback(score, state.epoch, state.global_step)
            greater = getattr(evaluator, "greater_is_better", True)
            better = self.best is None or (score > self.best if greater else score < self.best)
            if output_path is not None and save_best_model and better:
                self.best = score
                model.save(output_path)

    class _EpochEndEvaluation(TrainerCallback):
        """Runs the evaluator after each epoch, writing its files to ``<output_path>/eval``."""

        def __init__(self) -> None:
            self.trainer: Any = None
            self.eval_folder = os.path.join(output_path, "eval") if output_path is not None else None

        def on_epoch_end(self, args, state, control, **kwargs):
            if self.eval_folder is not None:
                os.makedirs(self.eval_folder, exist_ok=True)
            metrics = evaluator(model, output_path=self.eval_folder, epoch=state.epoch, steps=state.global_step)
            if not isinstance(metrics, dict):
                metrics = {"evaluator": metrics}
            metrics = {key if key.startswith("eval_") else f"eval_{key}": value for key, value in metrics.items()}
            if self.trainer is not None:
                self.trainer.callback_handler.on_evaluate(args, state, control, metrics=metrics)

    epoch_end_evaluation = _EpochEndEvaluation() if evaluator is not None else None
    # The optimiser and schedule of the old loop: AdamW over the model and the losses (bias and
    # LayerNorm weights without decay), warmup then decay over (smallest dataset // batch) * epochs
    # * objectives steps.
    named_parameters = list(torch.nn.ModuleDict({"model": self, **losses}).named_parameters())
    no_decay = ("bias", "LayerNorm.bias", "LayerNorm.weight")
    parameter_groups = [
        {"params": [p for n, p in named_parameters if not any(nd in n for nd in no_decay)], "weight_decay": weight_decay},
        {"params": [p for n, p in named_parameters if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = (optimizer_class or torch.optim.AdamW)(parameter_groups, lr=learning_rate, **optimizer_params)
    if max_steps > 0:
        total_steps = max_steps
    else:
        per_epoch = steps_per_epoch or min(len(d) // batch_size for d in datasets.values())
        total_steps = int(per_epoch * epochs) * len(losses)
    lr_scheduler = get_scheduler(
        scheduler_type, optimizer, num_warmup_steps=int(warmup_steps), num_training_steps=total_steps
    )

    trainer = SentenceTransformerTrainer(
        model=self,
        args=args,
        train_dataset=DatasetDict(datasets),
        loss=losses,
        evaluator=evaluator,
        callbacks=[c for c in (epoch_end_evaluation, _LegacyEvaluationCallback()) if c is not None],
        optimizers=(optimizer, lr_scheduler),
    )
    if epoch_end_evaluation is not None:
        epoch_end_evaluation.trainer = trainer
    resume: Any = None
    if checkpoint_path is not None and resume_from_checkpoint:
        from sentrix.training.checkpoints import choose_resume_checkpoint

        resume = choose_resume_checkpoint(checkpoint_path)
        if resume is None:
            logger.warning("model.fit: no complete checkpoint in %s; training from the start.", checkpoint_path)
    trainer.train(resume_from_checkpoint=resume)
    if output_path is not None and (evaluator is None or not save_best_model):
        self.save(output_path)


def _unused_checkpoint_dir() -> str:
    """``checkpoints/model`` in the working directory, or ``checkpoints/model_<n>`` when that holds files."""
    candidate, index = os.path.join("checkpoints", "model"), 0
    while os.path.isdir(candidate) and os.listdir(candidate):
        index += 1
        candidate = os.path.join("checkpoints", f"model_{index}")
    return candidate


class FitMixin:
    """Gives a model class the legacy :func:`fit` method."""

    fit = fit


__all__ = ["FitMixin", "InputExample", "fit"]
