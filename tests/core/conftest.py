"""Fake installed distributions: a dist-info folder on sys.path is all importlib.metadata needs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from sentrix import registry


class FakeDistributions:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.root = root
        self.monkeypatch = monkeypatch
        self.names: list[str] = []
        self.modules: list[str] = []
        monkeypatch.syspath_prepend(str(root))

    def add(self, name: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str] | None = None,
            version: str = "1.0.0", requires: tuple[str, ...] = ()) -> None:
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        meta += [f"Requires-Dist: {r}" for r in requires]
        (info / "METADATA").write_text("\n".join(meta) + "\n")
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{k} = {v}" for k, v in eps.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in (modules or {}).items():
            (self.root / f"{module}.py").write_text(textwrap.dedent(source))
            self.modules.append(module)
        self.names.append(name)
        self.monkeypatch.setenv("SENTRIX_LOAD_PLUGINS", ",".join(self.names))
        registry.refresh()


@pytest.fixture
def fake_dists(tmp_path, monkeypatch):
    fakes = FakeDistributions(tmp_path / "site", monkeypatch) if (tmp_path / "site").mkdir() is None else None
    yield fakes
    for module in fakes.modules:
        sys.modules.pop(module, None)
    monkeypatch.undo()
    registry.refresh()
