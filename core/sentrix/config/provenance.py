"""Which distributions provide the components of a run, and their versions."""

from __future__ import annotations

from typing import Any


def plugin_versions() -> dict[str, str]:
    """Every distribution that provides components now (``sentrix`` included) -> its version."""
    from sentrix.registry import REGISTRIES

    out: dict[str, str] = {}
    for registry in REGISTRIES.values():
        for entry in registry.entries():
            out.setdefault(entry.provider, entry.version or "unknown")
    return dict(sorted(out.items()))


def used_distributions(config: dict[str, Any]) -> dict[str, str]:
    """The distributions that provide the components a config names (``sentrix`` always) -> version."""
    from sentrix.registry import get_registry

    found: dict[str, str] = {}

    def note(kind: str, name: Any) -> None:
        if not isinstance(name, str):
            return
        registry = get_registry(kind)
        if name in registry:
            entry = registry.info(name)
            found[entry.provider] = entry.version or "unknown"

    loss = config.get("loss") or {}
    specs = [loss] if "name" in loss else list(loss.values())
    while specs:
        spec = specs.pop()
        if isinstance(spec, dict):
            note("losses", spec.get("name"))
            inner = (spec.get("params") or {}).get("loss")
            if isinstance(inner, dict):
                specs.append(inner)
    for spec in config.get("evaluators") or ():
        note("evaluators", spec.get("name"))
    for spec in config.get("callbacks") or ():
        note("callbacks", spec.get("name"))
    note("batch_samplers", config.get("batch_sampler"))
    note("multi_dataset_batch_samplers", config.get("multi_dataset_batch_sampler"))
    note("router_mappings", config.get("router_mapping"))
    model = config.get("model") or {}
    for spec in [*(model.get("modules") or ()), *(model.get("add_modules") or ())]:
        note("modules", spec.get("type"))
    from importlib import metadata

    try:
        found.setdefault("sentrix", metadata.version("sentrix"))
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        found.setdefault("sentrix", "unknown")
    return dict(sorted(found.items()))


__all__ = ["plugin_versions", "used_distributions"]
