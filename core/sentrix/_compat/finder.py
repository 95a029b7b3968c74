"""Serve the sentence-transformers module paths of :mod:`sentrix._compat.table` as ``sentrix.<path>``.

An import of ``sentrix.<path>`` that no real sentrix module answers reaches :class:`CompatFinder`
(it sits at the end of ``sys.meta_path``). For a path in ``MODULES`` it makes a small module
whose attributes are those of the serving sentrix module, looked up on access (so registry-backed
names such as losses resolve to whatever plugin provides them). For a path listed as not provided
it raises ``ModuleNotFoundError`` with the reason.

Importing a child module normally sets it as an attribute of its parent. Several
sentence-transformers paths are named after the class they hold (``sentence_transformers.losses.
CoSENTLoss``), so that attribute would shadow the class: parents are given a module type that
ignores attributes set to these compatibility modules.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

from sentrix._compat.table import MODULES, NAMES, not_provided_name_reason, not_provided_reason
from sentrix._registry_namespace import called_by_from_import

_PREFIX = "sentrix."


class _ParentModule(ModuleType):
    """A module that does not let a child compatibility module shadow one of its attributes.

    ``import sentrix.losses.CoSENTLoss`` would otherwise replace the class ``sentrix.losses.CoSENTLoss``
    with the module of that name; lookups that find no attribute fall back to ``sys.modules``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, CompatModule):
            return
        super().__setattr__(name, value)


class CompatModule(_ParentModule):
    """A ``sentrix.<path>`` module that serves the names of another sentrix module."""

    __path__: list[str]

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name, f"sentence-transformers path served by {target}.")
        self.__path__ = []  # may have children (``...losses`` -> ``...losses.triplet``)
        self.__sentrix_target__ = target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        path = self.__name__[len(_PREFIX):]
        return resolve_name(path, name, self.__sentrix_target__)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__sentrix_target__))


def resolve_name(path: str, name: str, target: str) -> Any:
    """Attribute ``name`` of sentence-transformers path ``path``, served by sentrix module ``target``."""
    child = sys.modules.get(f"{_PREFIX}{path}.{name}" if path else f"{_PREFIX}{name}")
    override = NAMES.get(path, {}).get(name)
    if override is not None:
        module_name, _, attribute = override.partition(":")
        return getattr(importlib.import_module(module_name), attribute or name)
    reason = not_provided_name_reason(path, name)
    if reason is not None:
        message = f"sentrix does not provide `sentence_transformers.{path}.{name}`: {reason}".replace("..", ".")
        raise (ImportError(message, name=_PREFIX + path) if called_by_from_import(3) else AttributeError(message, name=name))
    try:
        return getattr(importlib.import_module(target), name)
    except AttributeError as exc:
        if child is not None:  # ``import sentrix.<path>.<name> as alias`` asks the parent first
            return child
        raise AttributeError(f"{exc}\n(`sentrix.{path}` serves the names of `{target}`.)", name=name) from None




class _CompatLoader(importlib.abc.Loader):
    def __init__(self, target: str | None, reason: str | None) -> None:
        self.target = target
        self.reason = reason

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        if self.target is None:
            st_path = "sentence_transformers." + spec.name[len(_PREFIX):]
            raise ModuleNotFoundError(f"sentrix does not provide `{st_path}`: {self.reason}", name=spec.name)
        parent = sys.modules.get(spec.name.rpartition(".")[0])
        if parent is not None and type(parent) is ModuleType:
            parent.__class__ = _ParentModule
        return CompatModule(spec.name, self.target)

    def exec_module(self, module: ModuleType) -> None:
        return None


class CompatFinder(importlib.abc.MetaPathFinder):
    """Finds ``sentrix.<path>`` for the paths of the compatibility table."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        relative = fullname[len(_PREFIX):]
        if relative in MODULES:
            loader = _CompatLoader(MODULES[relative], None)
        else:
            reason = not_provided_reason(relative)
            if reason is None:
                return None
            loader = _CompatLoader(None, reason)
        return importlib.machinery.ModuleSpec(fullname, loader, is_package=True)


def install() -> None:
    """Put the finder at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, CompatFinder) for finder in sys.meta_path):
        sys.meta_path.append(CompatFinder())
