"""The pluggy hook manager: loads hook implementations, sentrix's own first.

``get_plugin_manager()`` builds the manager once per process:

1. the core's own hook implementations (:data:`DEFAULT_PLUGINS`, e.g. the model card's built-in
   sections), registered exactly like a third-party plugin's;
2. every allowed module in the ``sentrix.plugins`` entry-point group.

A hook module that fails to import is recorded in :func:`failed_plugins` and reported by
``sentrix plugins list`` and ``sentrix env``; it breaks nothing else.

This module knows nothing about the component registries (:mod:`sentrix.registry` asks it for
``sentrix_register_components`` results, never the other way round). Registries notice a change
of hook plugins through :func:`generation`.
"""

from __future__ import annotations

import importlib
import logging
import threading
import warnings
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import pluggy

from sentrix import hookspecs
from sentrix._switches import distribution_allowed
from sentrix.errors import ComponentCollisionError

logger = logging.getLogger(__name__)

PLUGIN_GROUP = "sentrix.plugins"
IN_PROCESS = "<in-process>"

#: registered name -> module of the core's own hook implementations, registered before any
#: entry point (so a third-party section of the same hook runs after the built-in ones).
DEFAULT_PLUGINS: dict[str, str] = {
    "sentrix.model_card": "sentrix.model_card.sections",
}

_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_failed: dict[str, str] = {}
_generation = 0


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager with the defaults and every allowed entry point loaded."""
    global _manager
    with _lock:
        if _manager is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            pm.add_hookspecs(hookspecs)
            _failed.clear()
            for name, module in DEFAULT_PLUGINS.items():
                try:
                    pm.register(importlib.import_module(module), name=name)
                except Exception as exc:  # pragma: no cover - a broken core install
                    _failed[name] = f"sentrix: {type(exc).__name__}: {exc}"
            for ep in metadata.entry_points(group=PLUGIN_GROUP):
                dist = ep.dist
                dist_name = dist.metadata["Name"] if dist is not None else "<unknown>"
                if not distribution_allowed(dist_name) or pm.has_plugin(ep.name):
                    continue
                try:
                    plugin = ep.load()
                except Exception as exc:  # a broken plugin must not break the others
                    label = f"{dist_name} {dist.version if dist else ''}".strip()
                    _failed[ep.name] = f"{label}: {type(exc).__name__}: {exc}"
                    warnings.warn(
                        f"sentrix plugin {ep.name!r} from {label} failed to load and is skipped: "
                        f"{type(exc).__name__}: {exc}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    continue
                pm.register(plugin, name=ep.name)
            _manager = pm
        return _manager


def generation() -> int:
    """A counter that changes whenever the set of hook plugins may have changed.

    Caches built from hook results (the registries' ``sentrix_register_components`` entries) key
    on it, so this module never has to know who caches what.
    """
    return _generation


def _changed() -> None:
    global _generation
    with _lock:
        _generation += 1


def failed_plugins() -> dict[str, str]:
    """Hook modules that failed to import: entry-point name -> reason."""
    get_plugin_manager()
    return dict(_failed)


def reset_plugin_manager() -> None:
    """Forget the loaded hook plugins (tests; after installing a plugin in a running process)."""
    global _manager
    with _lock:
        _manager = None
        _failed.clear()
        _changed()


def plugin_distribution(plugin: Any) -> tuple[str, str | None]:
    """``(distribution, version)`` that provides a registered hook plugin.

    The core's own plugins are ``("sentrix", <version>)``; objects registered with
    :func:`register_hook_plugin` are ``("<in-process>", None)``.
    """
    pm = get_plugin_manager()
    name = pm.get_name(plugin)
    if name in DEFAULT_PLUGINS:
        from sentrix import __version__

        return "sentrix", __version__
    for ep in metadata.entry_points(group=PLUGIN_GROUP):
        if ep.name == name and ep.dist is not None:
            return ep.dist.metadata["Name"], ep.dist.version
    return IN_PROCESS, None


def call_each(hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
    """Call every implementation of ``hook_name`` in pluggy's order, one at a time.

    Yields ``(plugin name, result)`` for each implementation that returned something other than
    ``None``. An implementation that raises is skipped with a warning naming the plugin, so one
    broken plugin cannot take the others' contributions (or the built-in ones) down with it.
    """
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):  # pluggy calls the last-registered first
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue  # wrappers wrap a whole hook call; there is none here
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        try:
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
        except Exception as exc:
            warnings.warn(
                f"The {hook_name} hook of plugin {name!r} failed and was skipped: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        if result is not None:
            yield name, result


def register_hook_plugin(plugin: Any, name: str | None = None) -> None:
    """Register a hook-implementing object or module in this process (notebooks, tests)."""
    pm = get_plugin_manager()
    if name is not None and pm.has_plugin(name):
        raise ComponentCollisionError(f"A sentrix hook plugin named {name!r} is already registered.")
    pm.register(plugin, name=name)
    _changed()


def unregister_hook_plugin(plugin: Any) -> None:
    """Undo :func:`register_hook_plugin`."""
    get_plugin_manager().unregister(plugin)
    _changed()


__all__ = [
    "DEFAULT_PLUGINS",
    "PLUGIN_GROUP",
    "call_each",
    "failed_plugins",
    "generation",
    "get_plugin_manager",
    "plugin_distribution",
    "register_hook_plugin",
    "reset_plugin_manager",
    "unregister_hook_plugin",
]
