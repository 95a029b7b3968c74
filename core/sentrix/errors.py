"""Every error sentrix raises on purpose, in one place.

Each message names what was wrong, where, and how to fix it. Subclasses of the built-in
exception a caller would naturally catch (``KeyError``, ``ValueError``, ``ImportError``...) so
existing ``except`` clauses keep working.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Iterable, Sequence

LIST_COMMAND = "sentrix plugins list"


class SentrixError(Exception):
    """Base class of every error sentrix raises on purpose."""


class UnknownComponentError(SentrixError, KeyError):
    """A name was asked of a registry that has no component by that name."""

    def __init__(self, kind: str, name: str, known: Sequence[str], installed: int | None = None,
                 note: str | None = None):
        self.kind = kind
        self.name = name
        self.known = list(known)
        message = unknown_component_message(kind, name, known, installed)
        super().__init__(f"{message}\n{note}" if note else message)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class ComponentLoadError(SentrixError, ImportError):
    """A registered component exists but importing it failed."""


class IncompatiblePluginError(ComponentLoadError):
    """A plugin declares that it needs a sentrix core other than the installed one."""


class ComponentUnavailableError(ComponentLoadError):
    """A component cannot be used because the plugin that provides it failed to load or register."""


class PluginHookError(SentrixError, RuntimeError):
    """A plugin's hook implementation failed and ``SENTRIX_STRICT_PLUGINS`` asks for that to stop the work."""


class ComponentCollisionError(SentrixError, LookupError):
    """Two distributions (or two in-process registrations) claim the same name."""


class InvalidParameterError(SentrixError, TypeError):
    """``create(name, **params)`` got a parameter the component does not accept."""


class InvalidInputError(SentrixError, ValueError):
    """A user-supplied value (path, column, config entry...) is wrong; the message says how to fix it."""


_SINGULAR = {
    "losses": "loss",
    "batch_samplers": "batch sampler",
    "multi_dataset_batch_samplers": "multi-dataset batch sampler",
    "evaluators": "evaluator",
    "router_mappings": "router mapping",
    "callbacks": "callback",
    "modules": "module",
}


def _singular(kind: str) -> str:
    return _SINGULAR.get(kind, "component")


def unknown_component_message(kind: str, name: str, known: Iterable[str], installed: int | None = None) -> str:
    """``Unknown loss 'x'.`` + close matches + how many are installed + the command that lists them."""
    known = sorted(set(known))
    lowered = {k.lower(): k for k in known}
    matches = get_close_matches(name, known, n=3, cutoff=0.6)
    if not matches:
        matches = [lowered[m] for m in get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    lines = [f"Unknown {_singular(kind)} {name!r}."]
    if matches:
        lines.append("Did you mean " + " or ".join(repr(m) for m in matches) + "?")
    count = len(known) if installed is None else installed
    listing = f"{LIST_COMMAND} --kind {kind}" if kind in _SINGULAR else LIST_COMMAND
    what = kind.replace("_", " ").replace("multi dataset", "multi-dataset") if kind in _SINGULAR else "components"
    lines.append(
        f"Installed {what}: {count}. List them with `{listing}`, or install the plugin that provides {name!r}."
    )
    return "\n".join(lines)


def format_provider(provider: str, version: str | None) -> str:
    return f"{provider} {version}" if version else provider
