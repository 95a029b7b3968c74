"""Running a validated config: build, train, evaluate before and after, save model + config + metrics + plot.

What a run leaves in ``training_args.output_dir``:

* the model (loads in sentrix and in sentence-transformers) with its model card ``README.md``;
* ``sentrix_config.yaml``: the resolved config, with the plugin distributions and versions that
  produced the model; ``sentrix train`` accepts it and ``sentrix reproduce DIR`` re-runs it;
* ``metrics.json``: evaluator results before and after training, training metrics, the log history;
* ``training_curves.png``: training loss and evaluator metrics over steps (needs matplotlib).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, Callable

import attrs

from sentrix.config.errors import ConfigError, ConfigIssue
from sentrix.config.loader import apply_overrides, read_config_file
from sentrix.config.validate import ValidatedConfig, validate_config

logger = logging.getLogger(__name__)

CONFIG_FILE = "sentrix_config.yaml"
METRICS_FILE = "metrics.json"


@attrs.define
class RunResult:
    output_dir: Path
    before: dict[str, float]
    after: dict[str, float]
    train_metrics: dict[str, Any]
    plot: Path | None
    config: dict[str, Any]


def prepare(
    path: str | Path,
    overrides: list[str] | None = None,
    *,
    allow_import_paths: bool = False,
    output_dir: str | None = None,
    purpose: str = "train",
) -> ValidatedConfig:
    """Read, override and validate a config file. Raises :class:`ConfigError` listing every problem."""
    path = Path(path)
    raw = read_config_file(path)
    apply_overrides(raw, overrides, str(path))
    if output_dir is not None:
        if not isinstance(raw.get("training_args", {}), dict):
            raise ConfigError([ConfigIssue("training_args", "expected a mapping of training arguments.", "fix the section.")], str(path))
        raw.setdefault("training_args", {})["output_dir"] = output_dir
    return validate_config(
        raw,
        base_dir=path.parent,
        source=str(path),
        allow_import_paths=allow_import_paths,
        default_output_dir=f"runs/{path.stem}",
        purpose=purpose,
    )


def check_output_dir(validated: ValidatedConfig) -> None:
    """Refuse to train into a folder that already holds a saved model (unless overwrite_output_dir)."""
    out = Path(validated.output_dir)
    if (out / CONFIG_FILE).exists() or (out / "modules.json").exists():
        if not validated.config["training_args"].get("overwrite_output_dir"):
            raise ConfigError(
                [ConfigIssue("training_args.output_dir", f"{out} already holds a trained model.",
                             "choose another output_dir (`--set training_args.output_dir=...`), or set "
                             "`training_args.overwrite_output_dir: true`.")],
                validated.source,
            )


def evaluate_all(evaluators: list[Any], model: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for evaluator in evaluators:
        out.update({k: float(v) for k, v in evaluator(model).items() if isinstance(v, (int, float))})
    return out


def primary_metrics(evaluators: list[Any], results: dict[str, float]) -> dict[str, float]:
    keys = []
    for evaluator in evaluators:
        key = getattr(evaluator, "primary_metric", None)
        if key:
            name = getattr(evaluator, "name", "")
            keys.append(key if key in results else f"{name}_{key}")
    return {k: results[k] for k in keys if k in results}


def train_from_config(validated: ValidatedConfig, *, echo: Callable[[str], None] = print) -> RunResult:
    """Build everything, train, evaluate before and after, and save the outputs (see the module docstring)."""
    from transformers import set_seed

    import sentrix.config.build as build
    from sentrix.config.provenance import used_distributions
    from sentrix.trainer import SentenceTransformerTrainer

    for warning in validated.warnings:
        logger.warning(warning)
    check_output_dir(validated)
    out = Path(validated.output_dir)
    existed = out.exists()
    cfg = validated.config
    try:
        set_seed(validated.training_args.seed)
        model = build.build_model(cfg["model"])
        train_dataset, eval_dataset = build.build_datasets(validated)
        loss = build.build_losses(validated, model)
        evaluators = build.build_evaluators(validated)
        args = build.build_training_args(validated)
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            loss=loss,
            evaluator=(evaluators[0] if len(evaluators) == 1 else evaluators) or None,
            callbacks=build.build_callbacks(validated) or None,
        )
        plugins = used_distributions(cfg)
        model_source = _describe_model(cfg["model"])
        echo(_header(trainer, validated, plugins, model_source))
        before: dict[str, float] = {}
        if evaluators and cfg.get("evaluate_before_training", True):
            before = evaluate_all(evaluators, model)
            for key, value in primary_metrics(evaluators, before).items():
                echo(f"before training: {key} = {value:.4f}")
        train_output = trainer.train()
    except BaseException:
        _remove_if_created(out, existed)
        raise
    after = evaluate_all(evaluators, model) if evaluators else {}
    resolved = {**cfg, "plugins": plugins}
    card = getattr(model, "model_card_data", None)
    history = list(trainer.state.log_history)
    if before:
        history.insert(0, {"step": 0, **{f"eval_{k}": v for k, v in before.items()}})
    if after:
        history.append({"step": int(trainer.state.global_step), **{f"eval_{k}": v for k, v in after.items()}})
    out.mkdir(parents=True, exist_ok=True)
    from sentrix.training.plot import PLOT_FILE, plot_training

    plot = plot_training(history, out / PLOT_FILE)
    if card is not None:
        card.resolved_config = resolved
        if plot is not None and hasattr(card, "plots"):
            card.plots = [plot.name]
    model.save_pretrained(str(out))
    write_config(resolved, out / CONFIG_FILE)
    metrics = {"before": before, "after": after, "train": _plain(train_output.metrics), "log_history": _plain(history)}
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    for key, value in primary_metrics(evaluators, after).items():
        previous = before.get(key)
        echo(f"after training:  {key} = {value:.4f}" + (f"  (before {previous:.4f})" if previous is not None else ""))
    echo(f"saved to {out}")
    return RunResult(output_dir=out, before=before, after=after, train_metrics=dict(train_output.metrics), plot=plot,
                     config=resolved)


def _header(trainer: Any, validated: ValidatedConfig, plugins: dict[str, str], model_source: str) -> str:
    from sentrix.training.run_header import run_header

    return run_header(trainer, config_source=validated.source, plugins=plugins, model_source=model_source)


def _describe_model(spec: dict[str, Any]) -> str:
    from sentrix.config.build import resolve_model_source

    if spec.get("name_or_path"):
        source = resolve_model_source(spec["name_or_path"])
        return spec["name_or_path"] + (f" (installed copy at {source})" if source != spec["name_or_path"] else "")
    if spec.get("router"):
        return "router: " + ", ".join(f"{k} <- {v}" for k, v in spec["router"]["routes"].items())
    return "built from modules: " + ", ".join(str(m.get("type")) for m in spec.get("modules") or ())


def _remove_if_created(out: Path, existed: bool) -> None:
    """A run that failed before training leaves no folder behind that it created itself."""
    if not existed and out.exists():
        has_checkpoint = any(p.name.startswith("checkpoint-") for p in out.iterdir())
        if not has_checkpoint:
            shutil.rmtree(out, ignore_errors=True)


def write_config(config: dict[str, Any], path: Path) -> None:
    import yaml

    header = ("# sentrix run config, resolved. Re-run with `sentrix train <this file>` or `sentrix reproduce <model dir>`.\n"
              "# Format: docs/config.md\n")
    path.write_text(header + yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True), encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


__all__ = ["CONFIG_FILE", "METRICS_FILE", "RunResult", "prepare", "train_from_config", "evaluate_all", "write_config"]
