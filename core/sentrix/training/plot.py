"""A PNG plot of a run: training loss and evaluator metrics over steps.

Needs matplotlib (``pip install 'sentrix[plot]'``); without it :func:`plot_training` logs one info
line saying how to get the plot and returns ``None``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PLOT_FILE = "training_curves.png"
_NOT_METRICS = ("runtime", "samples_per_second", "steps_per_second", "epoch", "loss")


def metric_series(log_history: list[dict[str, Any]]) -> tuple[list[tuple[int, float]], dict[str, list[tuple[int, float]]]]:
    """(training loss points, metric name -> points) from a trainer's ``state.log_history``."""
    loss: list[tuple[int, float]] = []
    metrics: dict[str, list[tuple[int, float]]] = {}
    for entry in log_history:
        step = entry.get("step")
        if step is None:
            continue
        if "loss" in entry and isinstance(entry["loss"], (int, float)):
            loss.append((int(step), float(entry["loss"])))
        elif not loss and isinstance(entry.get("train_loss"), (int, float)):  # a run shorter than logging_steps
            loss.append((int(step), float(entry["train_loss"])))
        for key, value in entry.items():
            if key.startswith("eval_") and isinstance(value, (int, float)) and not key.endswith(_NOT_METRICS):
                metrics.setdefault(key[len("eval_"):], []).append((int(step), float(value)))
    return loss, metrics


def plot_training(log_history: list[dict[str, Any]], path: str | Path) -> Path | None:
    """Write the plot to ``path``; ``None`` (and one info line) when matplotlib is missing or nothing was logged."""
    try:
        import matplotlib
    except ImportError:
        logger.info("No training plot: matplotlib is not installed. Get it with `pip install 'sentrix[plot]'`.")
        return None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    loss, metrics = metric_series(log_history)
    if not loss and not metrics:
        logger.info("No training plot: the run logged no loss and no metrics (set logging_steps / eval_strategy).")
        return None
    figure, axes = plt.subplots(1, 2 if metrics else 1, figsize=(11 if metrics else 6, 4), squeeze=False)
    ax = axes[0][0]
    if loss:
        ax.plot(*zip(*loss), marker="." if len(loss) < 50 else None)
    ax.set(title="Training loss", xlabel="step", ylabel="loss")
    ax.grid(alpha=0.3)
    if metrics:
        ax = axes[0][1]
        for name, points in sorted(metrics.items()):
            ax.plot(*zip(*points), marker="o", label=name)
        ax.set(title="Evaluation", xlabel="step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


__all__ = ["PLOT_FILE", "plot_training", "metric_series"]
