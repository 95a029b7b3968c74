"""The environment switches that decide which distributions may provide components and hooks.

Read by both the component registries (:mod:`sentrix.registry`) and the hook manager
(:mod:`sentrix.hooks`), at discovery time:

``SENTRIX_DISABLE_PLUGIN_AUTOLOAD=1``
    ignore every distribution but ``sentrix`` itself, except those named in
    ``SENTRIX_LOAD_PLUGINS``.
``SENTRIX_LOAD_PLUGINS=dist-a,dist-b``
    allow-list: only these distributions (and ``sentrix``) provide components.
``SENTRIX_BLOCK_PLUGINS=dist-a,dist-b``
    block-list: these distributions provide nothing.
"""

from __future__ import annotations

import os
import re

CORE_DISTRIBUTION = "sentrix"
SWITCHES = ("SENTRIX_DISABLE_PLUGIN_AUTOLOAD", "SENTRIX_LOAD_PLUGINS", "SENTRIX_BLOCK_PLUGINS")


def normalise_dist(name: str) -> str:
    """A distribution name in its canonical form (PEP 503: lower case, runs of ``-_.`` as ``-``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return None
    return {normalise_dist(part) for part in raw.split(",") if part.strip()}


def switches_state() -> tuple[str | None, ...]:
    """The current values of the switches (a cache key: discovery reruns when they change)."""
    return tuple(os.environ.get(var) for var in SWITCHES)


def distribution_allowed(dist_name: str) -> bool:
    """Whether the environment switches let ``dist_name`` provide components or hooks."""
    dist = normalise_dist(dist_name)
    blocked = _env_list("SENTRIX_BLOCK_PLUGINS") or set()
    if dist in blocked:
        return False
    if dist == CORE_DISTRIBUTION:
        return True
    allowed = _env_list("SENTRIX_LOAD_PLUGINS")
    if os.environ.get("SENTRIX_DISABLE_PLUGIN_AUTOLOAD", "").strip().lower() in {"1", "true", "yes", "on"}:
        return allowed is not None and dist in allowed
    return allowed is None or dist in allowed
