"""Input checks shared by the built-in evaluators (private: not a component, not registered).

Every check raises :class:`InvalidInputError` naming the owner (the evaluator class), the
argument, what was wrong and the fix, when the evaluator is built, before any encoding.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sentrix.plugin_api import InvalidInputError

__all__ = ["check_texts", "check_finite", "check_positive_int", "check_sequence", "problems_of"]


def check_sequence(owner: str, arg: str, values: Any, *, allow_empty: bool = False) -> list[Any]:
    """``values`` as a list; a clear error for ``None``, a bare string, a non-iterable or (unless allowed) empty."""
    if values is None:
        raise InvalidInputError(f"{owner}: {arg} is None; pass a list.")
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidInputError(
            f"{owner}: {arg} must be a list, got {type(values).__name__}"
            + (" (a single string; wrap it in a list)." if isinstance(values, (str, bytes)) else ".")
        )
    values = list(values)
    if not values and not allow_empty:
        raise InvalidInputError(f"{owner}: {arg} is empty; pass at least one entry.")
    return values


def check_texts(owner: str, arg: str, texts: Any, *, allow_empty: bool = False) -> list[Any]:
    """``texts`` as a list with no ``None`` and no empty / whitespace-only string.

    Non-string entries (images, token lists) pass: multimodal models embed them too.
    """
    texts = check_sequence(owner, arg, texts, allow_empty=allow_empty)
    for index, text in enumerate(texts):
        if text is None:
            raise InvalidInputError(
                f"{owner}: {arg}[{index}] is None; every entry must be a non-empty text. "
                "Fill it in or drop that row (and its partners in the other inputs)."
            )
        if isinstance(text, str) and not text.strip():
            raise InvalidInputError(
                f"{owner}: {arg}[{index}] is an empty string; every entry must be a non-empty text. "
                "Fill it in or drop that row (and its partners in the other inputs)."
            )
    return texts


def check_finite(owner: str, arg: str, values: Any, *, allowed: Iterable[Any] | None = None) -> list[Any]:
    """``values`` as a list of finite real numbers (and, with ``allowed``, each one of those values)."""
    values = check_sequence(owner, arg, values)
    allowed_set = set(allowed) if allowed is not None else None
    for index, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"{owner}: {arg}[{index}] = {value!r} is not a number; pass one number per example."
            ) from None
        if not math.isfinite(number):
            raise InvalidInputError(
                f"{owner}: {arg}[{index}] = {value!r} is not finite; every value must be a finite number. "
                "Fix or drop that row."
            )
        if allowed_set is not None and number not in allowed_set:
            raise InvalidInputError(
                f"{owner}: {arg}[{index}] = {value!r}; each value must be one of {sorted(allowed_set)}. "
                "Map your labels to these values first (e.g. 1 = similar / duplicate, 0 = not)."
            )
    return values


def check_positive_int(owner: str, arg: str, value: Any, *, allow_none: bool = False) -> None:
    """A clear error unless ``value`` is a positive int (or ``None`` when allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{owner}: {arg} must be a positive integer, got {value!r}.")


def problems_of(check: Any, *args: Any, **kwargs: Any) -> list[str]:
    """Run a raising check and return its message as a one-item list (``[]`` when it passes), the
    shape ``SentenceEvaluator.check_inputs`` returns."""
    try:
        check(*args, **kwargs)
    except InvalidInputError as exc:
        return [str(exc)]
    return []
