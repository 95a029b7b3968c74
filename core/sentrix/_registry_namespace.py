"""Module-level ``__getattr__`` that resolves attribute names through a registry.

``sentrix.losses``, ``sentrix.evaluation`` and ``sentrix.models`` use it, so that
``from sentrix.losses import CoSENTLoss`` (the sentence-transformers spelling) resolves the
registered component by its alias, whichever distribution provides it.
"""

from __future__ import annotations

from typing import Any, Callable


def registry_getattr(kind: str, module_name: str) -> Callable[[str], Any]:
    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        from sentrix.errors import UnknownComponentError
        from sentrix.registry import get_registry

        try:
            return get_registry(kind).get(name)
        except UnknownComponentError as exc:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}.\n{exc}") from None

    return __getattr__


def registry_dir(kind: str) -> Callable[[], list[str]]:
    def __dir__() -> list[str]:
        from sentrix.registry import get_registry

        return get_registry(kind).names(include_aliases=True)

    return __dir__
