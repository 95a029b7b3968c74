"""The pluggy plugin manager: loads hook implementations from the ``sentrix.plugins`` group.

``get_plugin_manager()`` builds the manager once per process. A hook module that fails to import
is recorded in :func:`failed_plugins` and reported by ``sentrix plugins list`` and ``sentrix env``;
it breaks nothing else.
"""

from __future__ import annotations

import threading
import warnings
from importlib import metadata
from typing import Any

import pluggy

from sentrix import hookspecs
from sentrix.errors import ComponentCollisionError

PLUGIN_GROUP = "sentrix.plugins"

_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_failed: dict[str, str] = {}
_hook_components: dict[str, list[Any]] | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager with every allowed ``sentrix.plugins`` entry point loaded."""
    global _manager
    with _lock:
        if _manager is None:
            from sentrix.registry import distribution_allowed

            pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            pm.add_hookspecs(hookspecs)
            _failed.clear()
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


def failed_plugins() -> dict[str, str]:
    """Hook modules that failed to import: entry-point name -> reason."""
    get_plugin_manager()
    return dict(_failed)


def reset_plugin_manager() -> None:
    """Forget the loaded hook plugins (tests; after installing a plugin in a running process)."""
    global _manager, _hook_components
    with _lock:
        _manager = None
        _hook_components = None
        _failed.clear()


def hook_registered_components(kind: str) -> list[Any]:
    """Components registered through ``sentrix_register_components``, for one kind."""
    global _hook_components
    with _lock:
        if _hook_components is None:
            from sentrix.registry import KINDS, ComponentEntry

            collected: dict[str, list[ComponentEntry]] = {k: [] for k in KINDS}
            pm = get_plugin_manager()
            for impl in pm.hook.sentrix_register_components.get_hookimpls():
                plugin_name = pm.get_name(impl.plugin) or repr(impl.plugin)
                provider, version = _plugin_distribution(pm, impl.plugin, plugin_name)

                def register(reg_kind: str, name: str, target: Any, aliases: tuple[str, ...] = (), *,
                             _provider=provider, _version=version) -> None:
                    if reg_kind not in collected:
                        raise ValueError(
                            f"sentrix_register_components: unknown kind {reg_kind!r}; expected one of {', '.join(KINDS)}."
                        )
                    collected[reg_kind].append(
                        ComponentEntry(
                            kind=reg_kind,
                            name=name,
                            aliases=tuple(aliases),
                            provider=_provider,
                            version=_version,
                            target=target if isinstance(target, str) else None,
                            obj=None if isinstance(target, str) else target,
                        )
                    )

                impl.function(register=register)
            _hook_components = collected
        return list(_hook_components.get(kind, []))


def _plugin_distribution(pm: pluggy.PluginManager, plugin: Any, plugin_name: str) -> tuple[str, str | None]:
    for ep in metadata.entry_points(group=PLUGIN_GROUP):
        if ep.name == plugin_name and ep.dist is not None:
            return ep.dist.metadata["Name"], ep.dist.version
    return "<in-process>", None


def register_hook_plugin(plugin: Any, name: str | None = None) -> None:
    """Register a hook-implementing object or module in this process (notebooks, tests)."""
    pm = get_plugin_manager()
    if name is not None and pm.has_plugin(name):
        raise ComponentCollisionError(f"A sentrix hook plugin named {name!r} is already registered.")
    pm.register(plugin, name=name)
    global _hook_components
    with _lock:
        _hook_components = None
    from sentrix.registry import REGISTRIES

    for registry in REGISTRIES.values():
        registry.refresh()


def unregister_hook_plugin(plugin: Any) -> None:
    """Undo :func:`register_hook_plugin`."""
    pm = get_plugin_manager()
    pm.unregister(plugin)
    global _hook_components
    with _lock:
        _hook_components = None
    from sentrix.registry import REGISTRIES

    for registry in REGISTRIES.values():
        registry.refresh()
