"""What a plugin may rely on. Everything else in sentrix is private and may change.

``API_VERSION`` follows semantic versioning: a plugin built for ``1.x`` works with any ``1.y``,
``y >= x``. A plugin states what it needs the usual way, in its own ``pyproject.toml``
(``dependencies = ["sentrix>=0.1,<1"]``); the registry checks that requirement when the plugin's
component is first used and says clearly when the core is too old or too new.
"""

from __future__ import annotations

API_VERSION = "1.0"

__all__ = [
    "API_VERSION",
    "DataNeeds",
    "hookimpl",
    "registry",
    "testing",
]


def __getattr__(name: str):
    if name == "DataNeeds":
        from sentrix.data_needs import DataNeeds

        return DataNeeds
    if name == "hookimpl":
        from sentrix.hookspecs import hookimpl

        return hookimpl
    if name in ("registry", "testing"):
        import importlib

        return importlib.import_module(f"sentrix.{name}")
    raise AttributeError(f"module 'sentrix.plugin_api' has no attribute {name!r}")
