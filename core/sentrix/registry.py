"""Component registries, one per kind, over Python entry points.

Every loss, batch sampler, evaluator, router mapping, callback and model module sentrix knows
about, built-in or third-party, is an entry point in one of these groups::

    sentrix.losses  sentrix.batch_samplers  sentrix.multi_dataset_batch_samplers
    sentrix.evaluators  sentrix.router_mappings  sentrix.callbacks  sentrix.modules

A plugin package declares them in its ``pyproject.toml``::

    [project.entry-points."sentrix.losses"]
    "acme.focal_ranking" = "acme_losses.focal_ranking:FocalRankingLoss"
    FocalRankingLoss = "acme_losses.focal_ranking:FocalRankingLoss"   # an alias

Several names pointing at the same object in one distribution are one component: the
lower-case name is canonical, the others are its aliases. Listing reads entry-point metadata
only; nothing is imported until :meth:`Registry.get` is called for one name.

Use::

    from sentrix.registry import losses
    losses.names()                          # canonical names
    cls = losses.get("cosent")              # imports one entry point
    loss = losses.create("cosent", model=model, scale=20.0)

Environment switches (read at discovery time):

``SENTRIX_DISABLE_PLUGIN_AUTOLOAD=1``
    ignore every distribution but ``sentrix`` itself, except those named in
    ``SENTRIX_LOAD_PLUGINS``.
``SENTRIX_LOAD_PLUGINS=dist-a,dist-b``
    allow-list: only these distributions (and ``sentrix``) provide components.
``SENTRIX_BLOCK_PLUGINS=dist-a,dist-b``
    block-list: these distributions provide nothing.
"""

from __future__ import annotations

import inspect
import re
import threading
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Callable, Iterator

import attrs

from sentrix import hooks
from sentrix._switches import CORE_DISTRIBUTION, distribution_allowed, switches_state
from sentrix._switches import normalise_dist as _normalise_dist
from sentrix.errors import (
    ComponentCollisionError,
    ComponentLoadError,
    IncompatiblePluginError,
    InvalidParameterError,
    UnknownComponentError,
    _singular,
    format_provider,
)

KINDS: tuple[str, ...] = (
    "losses",
    "batch_samplers",
    "multi_dataset_batch_samplers",
    "evaluators",
    "router_mappings",
    "callbacks",
    "modules",
)
GROUP_PREFIX = "sentrix."
IN_PROCESS = hooks.IN_PROCESS

_CANONICAL = re.compile(r"^[a-z0-9_.\-]+$")


@attrs.define(eq=False)
class ComponentEntry:
    """One registered component, described without importing it.

    ``target`` is the ``module:attribute`` path of an entry point, or ``None`` for an object
    registered in-process (then ``obj`` holds it).
    """

    kind: str
    name: str
    aliases: tuple[str, ...]
    provider: str
    version: str | None
    target: str | None = None
    obj: Any = None
    dist_requires: tuple[str, ...] = ()

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def provider_label(self) -> str:
        return format_provider(self.provider, self.version)

    def load(self) -> Any:
        """Import and return the component object (class or callable)."""
        if self.obj is not None:
            return self.obj
        _check_core_compatible(self)
        module_name, _, attr = (self.target or "").partition(":")
        try:
            obj = __import__(module_name, fromlist=["_"])
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
        except Exception as exc:
            raise ComponentLoadError(
                f"Could not load {_singular(self.kind)} {self.name!r} from distribution "
                f"{self.provider_label} (entry point {self.target}): {type(exc).__name__}: {exc}\n"
                f"Fix: reinstall or upgrade {self.provider!r} (`pip install -U {self.provider}`), or "
                f"stop loading it with SENTRIX_BLOCK_PLUGINS={self.provider}."
            ) from exc
        _check_plugin_api(self, module_name)
        self.obj = obj
        return obj


def _check_plugin_api(entry: ComponentEntry, module_name: str) -> None:
    """Refuse a component whose module (or top-level package) declares a plugin API this core lacks."""
    import sys

    from sentrix.plugin_api import check_api_version

    candidates = [module_name, module_name.partition(".")[0]]
    for candidate in candidates:
        module = sys.modules.get(candidate)
        required = getattr(module, "SENTRIX_PLUGIN_API", None) if module is not None else None
        if required is not None:
            check_api_version(
                str(required), f"{_singular(entry.kind).capitalize()} {entry.name!r} from {entry.provider_label}"
            )
            return


def _check_core_compatible(entry: ComponentEntry) -> None:
    """Refuse a plugin whose ``Requires-Dist: sentrix ...`` excludes the installed core."""
    if entry.provider in (CORE_DISTRIBUTION, IN_PROCESS) or not entry.dist_requires:
        return
    from packaging.requirements import InvalidRequirement, Requirement

    from sentrix import __version__

    for raw in entry.dist_requires:
        try:
            req = Requirement(raw)
        except InvalidRequirement:
            continue
        if _normalise_dist(req.name) != CORE_DISTRIBUTION or req.marker is not None:
            continue
        if req.specifier and not req.specifier.contains(__version__, prereleases=True):
            raise IncompatiblePluginError(
                f"{_singular(entry.kind).capitalize()} {entry.name!r} comes from {entry.provider_label}, "
                f"which needs sentrix{req.specifier} but sentrix {__version__} is installed.\n"
                f"Fix: `pip install 'sentrix{req.specifier}'`, or install a version of "
                f"{entry.provider!r} made for sentrix {__version__}."
            )


def _group_entry_points(kind: str) -> list[ComponentEntry]:
    """Read one entry-point group into components, grouping aliases. Metadata only."""
    group = GROUP_PREFIX + kind
    by_target: dict[tuple[str, str], list[metadata.EntryPoint]] = {}
    dists: dict[str, Any] = {}
    for ep in metadata.entry_points(group=group):
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else "<unknown>"
        if not distribution_allowed(dist_name):
            continue
        key = (_normalise_dist(dist_name), ep.value.strip())
        by_target.setdefault(key, []).append(ep)
        dists[key[0]] = dist
    entries = []
    for (dist_key, target), eps in by_target.items():
        names = list(dict.fromkeys(ep.name for ep in eps))
        canonical = [n for n in names if _CANONICAL.match(n)]
        name = min(canonical, key=len) if canonical else names[0]
        dist = dists[dist_key]
        entries.append(
            ComponentEntry(
                kind=kind,
                name=name,
                aliases=tuple(n for n in names if n != name),
                provider=dist.metadata["Name"] if dist is not None else "<unknown>",
                version=dist.version if dist is not None else None,
                target=target,
                dist_requires=tuple(dist.requires or ()) if dist is not None else (),
            )
        )
    return entries


class Registry:
    """The components of one kind: entry points plus in-process registrations."""

    def __init__(self, kind: str):
        if kind not in KINDS:
            raise ValueError(f"Unknown component kind {kind!r}; expected one of {', '.join(KINDS)}.")
        self.kind = kind
        self.group = GROUP_PREFIX + kind
        self._local: list[ComponentEntry] = []
        self._cache: list[ComponentEntry] | None = None
        self._cache_key: tuple | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ discovery
    def _env_key(self) -> tuple:
        return (*switches_state(), hooks.generation())

    def _installed(self) -> list[ComponentEntry]:
        key = self._env_key()
        with self._lock:
            if self._cache is None or self._cache_key != key:
                entries = _group_entry_points(self.kind)
                entries.extend(hook_registered_components(self.kind))
                self._cache, self._cache_key = entries, key
            return self._cache

    def refresh(self) -> None:
        """Forget what discovery found (call after installing a plugin in a running process)."""
        with self._lock:
            self._cache = None

    def entries(self) -> list[ComponentEntry]:
        """Every component of this kind, sorted by canonical name. Imports nothing."""
        return sorted([*self._installed(), *self._local], key=lambda e: (e.name, e.provider))

    def names(self, include_aliases: bool = False) -> list[str]:
        out: list[str] = []
        for entry in self.entries():
            out.extend(entry.all_names if include_aliases else (entry.name,))
        return sorted(dict.fromkeys(out))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(name in e.all_names for e in self.entries())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.entries())

    def __repr__(self) -> str:
        return f"<Registry {self.group!r}: {len(self)} components>"

    # ------------------------------------------------------------------ resolving
    def info(self, name: str) -> ComponentEntry:
        """The entry registered under ``name`` (canonical or alias). Imports nothing.

        ``"distribution:name"`` picks one provider when two distributions use the same name.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"A {_singular(self.kind)} name must be a non-empty string, got {name!r}.")
        entries = self.entries()
        provider = None
        if ":" in name and name.split(":", 1)[0] and name not in {n for e in entries for n in e.all_names}:
            provider, name = name.split(":", 1)
        # In-process registrations shadow nothing: they collide like any other provider.
        found = [e for e in entries if name in e.all_names]
        if provider is not None:
            found = [e for e in found if _normalise_dist(e.provider) == _normalise_dist(provider)]
        if not found:
            raise UnknownComponentError(self.kind, name, [n for e in entries for n in e.all_names], len(entries))
        if len(found) > 1:
            providers = " and ".join(e.provider_label + f" ({e.target or 'in-process'})" for e in found)
            first = found[0].provider
            raise ComponentCollisionError(
                f"{_singular(self.kind).capitalize()} name {name!r} is provided by {providers}.\n"
                f"Fix: pick one explicitly as '{first}:{name}', or stop loading the other with "
                f"SENTRIX_BLOCK_PLUGINS=<distribution>, or uninstall one of them."
            )
        return found[0]

    def get(self, name: str) -> Any:
        """Import and return the component registered as ``name``."""
        return self.info(name).load()

    def create(self, name: str, /, *args: Any, **params: Any) -> Any:
        """Instantiate component ``name`` after checking ``params`` against its signature."""
        component = self.get(name)
        check_params(component, params, label=f"{_singular(self.kind)} {name!r}")
        return component(*args, **params)

    # ------------------------------------------------------------------ in-process
    def register(
        self,
        name: str | Callable | None = None,
        obj: Any = None,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        replace: bool = False,
    ) -> Any:
        """Register ``obj`` under ``name`` for this process (notebooks, tests).

        Works directly (``losses.register("my_loss", MyLoss)``) or as a decorator
        (``@losses.register("my_loss")``). ``obj`` may also be a ``"module:attr"`` string, imported
        on first use. A name that another provider already uses raises
        :class:`ComponentCollisionError` unless ``replace=True``, which removes only earlier
        in-process registrations of that name.
        """
        if callable(name) and obj is None:  # bare @register
            cls = name
            return self.register(_default_name(cls), cls, aliases=aliases, replace=replace)
        if obj is None:
            return lambda target: (self.register(name or _default_name(target), target, aliases=aliases, replace=replace), target)[1]
        names = (name, *aliases)
        with self._lock:
            if replace:
                self._local = [e for e in self._local if not set(e.all_names) & set(names)]
            for existing in self.entries():
                clash = set(existing.all_names) & set(names)
                if clash:
                    raise ComponentCollisionError(
                        f"{_singular(self.kind).capitalize()} name {sorted(clash)[0]!r} is already provided by "
                        f"{existing.provider_label}.\nFix: choose another name (namespace it, e.g. "
                        f"'mine.{sorted(clash)[0]}'), or pass replace=True to replace an in-process registration."
                    )
            target = obj if isinstance(obj, str) else None
            self._local.append(
                ComponentEntry(
                    kind=self.kind,
                    name=name,
                    aliases=tuple(aliases),
                    provider=IN_PROCESS,
                    version=None,
                    target=target,
                    obj=None if target else obj,
                )
            )
        return obj

    def unregister(self, name: str) -> None:
        """Remove an in-process registration (entry points are removed by uninstalling)."""
        with self._lock:
            before = len(self._local)
            self._local = [e for e in self._local if name not in e.all_names]
            if len(self._local) == before:
                raise KeyError(f"No in-process {_singular(self.kind)} named {name!r} to unregister.")

    @contextmanager
    def registered(self, name: str, obj: Any, *, aliases: tuple[str, ...] = ()) -> Iterator[Any]:
        """Context manager: ``obj`` is registered as ``name`` inside the ``with`` block only."""
        self.register(name, obj, aliases=aliases)
        try:
            yield obj
        finally:
            self.unregister(name)


def _default_name(obj: Any) -> str:
    name = getattr(obj, "__name__", None)
    if not name:
        raise TypeError(f"Cannot derive a registry name from {obj!r}; pass one: register('name', obj).")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def check_params(component: Any, params: dict[str, Any], label: str) -> None:
    """Raise :class:`InvalidParameterError` naming any keyword ``component`` does not accept."""
    target = component.__init__ if inspect.isclass(component) else component
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return
    parameters = list(sig.parameters.values())
    if inspect.isclass(component) and parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in params:
        if key not in accepted:
            from difflib import get_close_matches

            close = get_close_matches(key, accepted, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InvalidParameterError(
                f"{label.capitalize()} got an unexpected parameter {key!r}.{hint}\n"
                f"Accepted parameters: {', '.join(accepted) or '(none)'}."
            )


REGISTRIES: dict[str, Registry] = {kind: Registry(kind) for kind in KINDS}
losses = REGISTRIES["losses"]
batch_samplers = REGISTRIES["batch_samplers"]
multi_dataset_batch_samplers = REGISTRIES["multi_dataset_batch_samplers"]
evaluators = REGISTRIES["evaluators"]
router_mappings = REGISTRIES["router_mappings"]
callbacks = REGISTRIES["callbacks"]
modules = REGISTRIES["modules"]


def get_registry(kind: str) -> Registry:
    """The registry of ``kind`` (one of :data:`KINDS`; singular forms accepted)."""
    if kind in REGISTRIES:
        return REGISTRIES[kind]
    plural = {_singular(k).replace(" ", "_").replace("-", "_"): k for k in KINDS}
    if kind in plural:
        return REGISTRIES[plural[kind]]
    raise ValueError(f"Unknown component kind {kind!r}; expected one of: {', '.join(KINDS)}.")


def refresh() -> None:
    """Re-read entry points for every kind (after a ``pip install`` in a running process)."""
    hooks.reset_plugin_manager()
    for registry in REGISTRIES.values():
        registry.refresh()


_hook_components: tuple[tuple, dict[str, list[ComponentEntry]]] | None = None
_hook_lock = threading.RLock()


def hook_registered_components(kind: str) -> list[ComponentEntry]:
    """Components registered through the ``sentrix_register_components`` hook, for one kind.

    Collected once per set of hook plugins (see :func:`sentrix.hooks.generation`).
    """
    global _hook_components
    key = (*switches_state(), hooks.generation())
    with _hook_lock:
        if _hook_components is None or _hook_components[0] != key:
            collected: dict[str, list[ComponentEntry]] = {k: [] for k in KINDS}
            pm = hooks.get_plugin_manager()
            for impl in pm.hook.sentrix_register_components.get_hookimpls():
                provider, version = hooks.plugin_distribution(impl.plugin)

                def register(reg_kind: str, name: str, target: Any, aliases: tuple[str, ...] = (), *,
                             _provider: str = provider, _version: str | None = version) -> None:
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
            _hook_components = (key, collected)
        return list(_hook_components[1].get(kind, []))
