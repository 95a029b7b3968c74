"""Make ``package.name`` import as another, already existing sentrix module, on first use."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        # The module is the target itself, already executed; nothing to run.
        return None


class _AliasFinder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.aliases:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(self.aliases[fullname]))


_FINDER = _AliasFinder()
sys.meta_path.append(_FINDER)


def alias_submodules(package: str, aliases: dict[str, str]) -> None:
    """Let ``import <package>.<name>`` give the module ``aliases[name]``, imported lazily."""
    for name, target in aliases.items():
        _FINDER.aliases[f"{package}.{name}"] = target
    package_module = sys.modules[package]

    def __getattr__(name: str):
        if name in aliases:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    package_module.__getattr__ = __getattr__
