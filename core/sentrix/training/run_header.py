"""The header printed at the start of a config-driven training run.

It names the library versions, the plugin distributions that provide components (with their
versions), the data, and the padding share of the first batches: how much of each batch would be
padding tokens with plain per-column padding, and how much with the forwards sentrix plans
(packed rows or length buckets, see :func:`sentrix.embedding.padding_stats`).
"""

from __future__ import annotations

from typing import Any


def padding_share(trainer: Any, batches: int = 4) -> dict[str, Any] | None:
    """Token counts over the first ``batches`` training batches, without disturbing any random state."""
    import torch

    from sentrix.embedding import padding_stats

    if trainer.train_dataset is None:
        return None
    totals = {"real_tokens": 0, "planned_tokens": 0, "per_column_tokens": 0, "batches": 0}
    with torch.random.fork_rng(devices=[]):
        loader = trainer._build_dataloader(trainer.train_dataset, trainer._train_batch_size, "train")
        for index, batch in enumerate(loader):
            if index >= batches:
                break
            features, _ = trainer.collect_features(batch)
            stats = padding_stats(features, _forward_options(trainer), trainer.model)
            for key in ("real_tokens", "planned_tokens", "per_column_tokens"):
                totals[key] += int(stats[key])
            totals["batches"] += 1
    if not totals["batches"]:
        return None
    real = totals["real_tokens"]
    totals["per_column_padding"] = 1 - real / totals["per_column_tokens"] if totals["per_column_tokens"] else 0.0
    totals["planned_padding"] = 1 - real / totals["planned_tokens"] if totals["planned_tokens"] else 0.0
    return totals


def _forward_options(trainer: Any) -> Any:
    """The embedding options the run's losses get: plain forwards when the model or arguments rule out merging."""
    from dataclasses import replace

    from sentrix.embedding import current_options, plain_forward_reason

    options = current_options()
    if getattr(trainer.args, "merge_and_bucket", None) is not None:
        options = replace(options, merge_and_bucket=trainer.args.merge_and_bucket)
    if plain_forward_reason(trainer.model, options) is not None:
        options = replace(options, merge_and_bucket=False)
    return options


def run_header(trainer: Any, *, config_source: str | None = None, plugins: dict[str, str] | None = None,
               model_source: str | None = None, batches: int = 4) -> str:
    """The header text: versions, plugin set, model, data sizes, padding share of the first batches."""
    from sentrix.config.provenance import plugin_versions
    from sentrix.model_card.formatting import get_versions

    lines = ["sentrix run" + (f": {config_source}" if config_source else "")]
    lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in get_versions().items()))
    installed = plugin_versions()
    plugin_set = plugins if plugins is not None else installed
    lines.append("  plugins: " + ", ".join(f"{k} {v}" for k, v in plugin_set.items()))
    others = {k: v for k, v in installed.items() if k not in plugin_set}
    if others:
        lines.append("  other installed plugins (unused here): " + ", ".join(f"{k} {v}" for k, v in others.items()))
    if model_source:
        lines.append(f"  model: {model_source}")
    data = trainer.train_dataset
    if data is not None:
        sizes = {name: len(d) for name, d in data.items()} if hasattr(data, "items") else {"train": len(data)}
        lines.append("  training rows: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    device = str(getattr(trainer.args, "device", "cpu"))
    lines.append(f"  device: {device}, batch size {trainer._train_batch_size}, seed {trainer.args.seed}")
    share = padding_share(trainer, batches)
    if share:
        lines.append(
            f"  padding share of the first {share['batches']} batches: {share['planned_padding']:.1%} with sentrix's "
            f"planned forwards, {share['per_column_padding']:.1%} with plain per-column padding "
            f"({share['real_tokens']} real tokens)"
        )
    from sentrix.training.token_stats import describe_forward

    lines.append("  " + describe_forward(trainer.model, getattr(trainer.args, "merge_and_bucket", None)))
    return "\n".join(lines)


__all__ = ["run_header", "padding_share"]
