"""Early stopping: stop training when an evaluation metric stops improving."""

from __future__ import annotations

import math
from typing import Any

from transformers import TrainerCallback


class EarlyStoppingCallback(TrainerCallback):
    """Stop training once ``metric`` has not improved for ``patience`` evaluations in a row.

    After every evaluation it compares the watched metric with the best value so far; ``patience``
    evaluations in a row without an improvement larger than ``threshold`` set
    ``control.should_training_stop``. Unlike ``transformers.EarlyStoppingCallback`` it does not
    require ``load_best_model_at_end``; combine the two yourself if you want the best checkpoint
    restored. Installed callbacks are never attached silently: enable it by name or pass an instance.

    Args:
        patience: evaluations without improvement before stopping (default 3; a positive int).
        threshold: an improvement smaller than this does not count (default 0.0).
        metric: the key to watch, with or without the ``eval_`` prefix; defaults to the
            arguments' ``metric_for_best_model``, else ``eval_loss``.
        greater_is_better: direction; defaults to the arguments' ``greater_is_better``, else
            ``False`` for names ending in ``loss`` and ``True`` otherwise.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformerTrainer
            from sentrix.registry import callbacks

            trainer = SentenceTransformerTrainer(
                model=model, args=args, train_dataset=train, eval_dataset=dev, evaluator=dev_evaluator,
                callbacks=[callbacks.create("early_stopping", patience=3, metric="eval_sts-dev_spearman_cosine")],
            )
            # or by name with the defaults: callbacks=["early_stopping"]
    """

    def __init__(self, patience: int = 3, threshold: float = 0.0, metric: str | None = None,
                 greater_is_better: bool | None = None) -> None:
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive int (evaluations to wait), got {patience!r}.")
        self.patience = patience
        self.threshold = threshold
        self.metric = metric
        self.greater_is_better = greater_is_better
        self.best: float | None = None
        self.bad_evaluations = 0

    def _metric_key(self, args: Any) -> str:
        key = self.metric or getattr(args, "metric_for_best_model", None) or "eval_loss"
        return key if key.startswith("eval_") else f"eval_{key}"

    def _greater(self, args: Any, key: str) -> bool:
        if self.greater_is_better is not None:
            return self.greater_is_better
        if self.metric is None and getattr(args, "metric_for_best_model", None) and args.greater_is_better is not None:
            return bool(args.greater_is_better)
        return not key.endswith("loss")

    def on_train_begin(self, args, state, control, **kwargs):
        self.best, self.bad_evaluations = None, 0

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        key = self._metric_key(args)
        if not metrics or key not in metrics:
            available = ", ".join(sorted(metrics or {})) or "none"
            raise KeyError(
                f"EarlyStoppingCallback watches {key!r}, which this evaluation did not report (got: {available}).\n"
                "Fix: pass metric= one of those keys, or set metric_for_best_model."
            )
        value = float(metrics[key])
        if math.isnan(value):
            improved = False
        elif self.best is None:
            improved = True
        elif self._greater(args, key):
            improved = value > self.best + self.threshold
        else:
            improved = value < self.best - self.threshold
        if improved:
            self.best, self.bad_evaluations = value, 0
        else:
            self.bad_evaluations += 1
            if self.bad_evaluations >= self.patience:
                control.should_training_stop = True
        return control
