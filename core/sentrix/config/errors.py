"""The errors a run config can raise, in one place.

Every problem found in a config is a :class:`ConfigIssue`: the config path of the offending entry
(``loss.nli.params.scale``), what is wrong, what was expected, and the fix. Validation collects every
issue it can find before anything runs, and raises one :class:`ConfigError` that lists them all.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Iterable

import attrs

from sentrix.errors import InvalidInputError


@attrs.frozen
class ConfigIssue:
    """One problem in a config: where (a dotted config path), what, and how to fix it."""

    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = self.path or "(config)"
        text = f"{where}: {self.message}"
        return f"{text}\n    Fix: {self.fix}" if self.fix else text


class ConfigError(InvalidInputError):
    """A run config is invalid. ``issues`` lists every problem found; the message names each one."""

    def __init__(self, issues: Iterable[ConfigIssue], source: str | None = None):
        self.issues = list(issues)
        self.source = source
        head = f"Invalid run config {source}" if source else "Invalid run config"
        count = len(self.issues)
        lines = [f"{head}: {count} problem{'s' if count != 1 else ''}."]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))

    @property
    def paths(self) -> list[str]:
        return [issue.path for issue in self.issues]


def close_names(name: str, known: Iterable[str], n: int = 3) -> str:
    """``" Did you mean 'a' or 'b'?"`` for the names in ``known`` close to ``name``, else ``""``."""
    known = sorted(set(known))
    matches = get_close_matches(name, known, n=n, cutoff=0.6)
    if not matches:
        lowered = {k.lower(): k for k in known}
        matches = [lowered[m] for m in get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)]
    return (" Did you mean " + " or ".join(repr(m) for m in matches) + "?") if matches else ""


def join_path(*parts: object) -> str:
    """Join config path parts: ``join_path("loss", "nli", "params")`` -> ``"loss.nli.params"``; list indices as ``[i]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "":
            out += ("." if out else "") + str(part)
    return out


__all__ = ["ConfigError", "ConfigIssue", "close_names", "join_path"]
