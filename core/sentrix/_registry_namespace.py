"""Module-level ``__getattr__`` that resolves attribute names through a registry.

``sentrix.losses``, ``sentrix.evaluation`` and ``sentrix.models`` use it, so that
``from sentrix.losses import CoSENTLoss`` (the sentence-transformers spelling) resolves the
registered component by its alias, whichever distribution provides it. Companion names (helper
enums and data classes that sentence-transformers exports beside a component, see
:mod:`sentrix._compat.companions`) are taken from the module that defines that component.
"""

from __future__ import annotations

import dis
import sys
from typing import Any, Callable


def registry_getattr(kind: str, module_name: str) -> Callable[[str], Any]:
    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        from sentrix._compat.companions import COMPANIONS
        from sentrix._compat.table import CORE_NAMES
        from sentrix.errors import UnknownComponentError
        from sentrix.registry import get_registry

        core_module = CORE_NAMES.get(module_name, {}).get(name)
        if core_module is not None:
            import importlib

            return getattr(importlib.import_module(core_module), name)
        registry = get_registry(kind)
        owner = COMPANIONS.get(kind, {}).get(name)
        if owner is not None:
            component = registry.get(owner)
            return getattr(sys.modules[component.__module__], name)
        try:
            return registry.get(name)
        except UnknownComponentError as exc:
            child = sys.modules.get(f"{module_name}.{name}")
            if child is not None:  # a compatibility submodule (``import sentrix.models.tokenizer as t``)
                return child
            from sentrix._compat.table import not_provided_name_reason

            reason = not_provided_name_reason(module_name.partition(".")[2], name)
            message = (
                f"sentrix does not provide `{module_name.replace('sentrix', 'sentence_transformers', 1)}.{name}`: {reason}"
                if reason is not None
                else f"module {module_name!r} has no attribute {name!r}.\n{exc}"
            )
            if called_by_from_import(2):
                raise ImportError(message, name=module_name) from None
            raise AttributeError(message, name=name) from None

    return __getattr__


_IMPORT_FROM = dis.opmap.get("IMPORT_FROM")


def called_by_from_import(depth: int) -> bool:
    """True when ``from <module> import <name>`` is asking; ``depth`` counts frames from this function.

    Python turns an AttributeError raised there into a bare "cannot import name" and drops our
    message, so in that one case the lookup raises ImportError instead. ``hasattr`` and
    ``getattr`` still get an AttributeError.
    """
    try:
        frame = sys._getframe(depth)
        return frame.f_code.co_code[frame.f_lasti] == _IMPORT_FROM
    except (AttributeError, IndexError, ValueError):
        return False


def registry_dir(kind: str, module_name: str) -> Callable[[], list[str]]:
    def __dir__() -> list[str]:
        from sentrix._compat.companions import COMPANIONS
        from sentrix._compat.table import CORE_NAMES
        from sentrix.registry import get_registry

        names = set(get_registry(kind).names(include_aliases=True)) | set(COMPANIONS.get(kind, {}))
        return sorted(names | set(CORE_NAMES.get(module_name, {})))

    return __dir__
