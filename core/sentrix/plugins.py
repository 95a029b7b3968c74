"""Former home of the hook manager, kept so existing imports keep working.

The pluggy manager lives in :mod:`sentrix.hooks`; import from there in new code. Every public
name of that module is re-exported here unchanged.
"""

from __future__ import annotations

from sentrix.hooks import (
    DEFAULT_PLUGINS,
    HOOK_FAILURE_POLICY,
    PLUGIN_GROUP,
    PluginProblem,
    call_each,
    failed_plugins,
    generation,
    get_plugin_manager,
    plugin_distribution,
    plugin_problems,
    register_hook_plugin,
    reset_plugin_manager,
    strict,
    unregister_hook_plugin,
)

__all__ = [
    "DEFAULT_PLUGINS",
    "HOOK_FAILURE_POLICY",
    "PLUGIN_GROUP",
    "PluginProblem",
    "call_each",
    "failed_plugins",
    "generation",
    "get_plugin_manager",
    "hook_registered_components",
    "plugin_distribution",
    "plugin_problems",
    "register_hook_plugin",
    "reset_plugin_manager",
    "strict",
    "unregister_hook_plugin",
]


def hook_registered_components(kind: str) -> list:
    """Moved to :func:`sentrix.registry.hook_registered_components`."""
    from sentrix.registry import hook_registered_components as _impl

    return _impl(kind)
