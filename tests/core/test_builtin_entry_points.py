"""Every built-in component is reached through an entry point of the `sentrix` distribution, none by a side path."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from sentrix.registry import KINDS, REGISTRIES

BUILTINS = Path(__file__).resolve().parents[2] / "plugins" / "sentrix_builtins"


def _targets(kind: str) -> set[str]:
    return {ep.value for ep in metadata.entry_points(group=f"sentrix.{kind}") if ep.dist and ep.dist.metadata["Name"] == "sentrix"}


@pytest.mark.parametrize("kind", KINDS)
def test_each_component_file_is_an_entry_point(kind):
    targets = _targets(kind)
    for path in sorted((BUILTINS / kind).glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = f"sentrix_builtins.{kind}.{path.stem}"
        assert any(t.split(":")[0] == module for t in targets), f"{module} is not registered under sentrix.{kind}"


@pytest.mark.parametrize("kind", KINDS)
def test_entry_point_targets_exist_and_have_a_canonical_snake_case_name(kind):
    for entry in REGISTRIES[kind].entries():
        if entry.provider != "sentrix":
            continue
        assert entry.name == entry.name.lower(), f"{entry.name} should be snake_case with its class name as alias"
        assert entry.target.startswith("sentrix_builtins."), f"{entry.name} -> {entry.target}"
        assert entry.load() is not None


def test_loading_builtins_registers_nothing_in_process():
    for registry in REGISTRIES.values():
        for entry in registry.entries():
            if entry.provider == "sentrix":
                entry.load()
    assert all(not registry._local for registry in REGISTRIES.values())
    assert {e.provider for r in REGISTRIES.values() for e in r.entries()} <= {"sentrix"}
