"""``sentrix env``: versions and the installed plugin set, for bug reports."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("env", help="print versions and installed plugins (paste into bug reports)")
    parser.set_defaults(func=run_env)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect_env() -> dict[str, str]:
    from sentrix import __version__
    from sentrix.plugin_api import API_VERSION

    info = {
        "sentrix": __version__,
        "plugin API": API_VERSION,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for dist in ("torch", "transformers", "datasets", "accelerate", "huggingface_hub", "pluggy", "numpy"):
        info[dist] = _version(dist)
    return info


def run_env(args: argparse.Namespace) -> int:
    from sentrix.hooks import failed_plugins, get_plugin_manager
    from sentrix.registry import KINDS, get_registry

    info = collect_env()
    for extra in get_plugin_manager().hook.sentrix_env_info():
        info.update({str(k): str(v) for k, v in (extra or {}).items()})
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"- {key.ljust(width)}  {value}")

    providers: dict[str, tuple[str, dict[str, int]]] = {}
    for kind in KINDS:
        for entry in get_registry(kind).entries():
            version, counts = providers.setdefault(entry.provider, (entry.version or "", {}))
            counts[kind] = counts.get(kind, 0) + 1
    print("- plugin distributions:")
    for provider, (version, counts) in sorted(providers.items()):
        summary = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
        print(f"    {provider} {version}: {summary}")
    hook_plugins = sorted(name for name, _ in get_plugin_manager().list_name_plugin() if name)
    print(f"- hook plugins: {', '.join(hook_plugins) or '-'}")
    for name, reason in failed_plugins().items():
        print(f"- FAILED hook plugin {name}: {reason}")
    from sentrix.registry import broken_plugins

    problems = broken_plugins()
    print(f"- broken plugins: {sum(p.fatal for p in problems) or '-'}")
    for problem in problems:
        print(f"    {'BROKEN ' if problem.fatal else 'warning'} {problem.describe()}")
    return 0
