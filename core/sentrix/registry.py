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

Names: ``"distribution:name"`` picks one provider's component. A bare name that two third-party
distributions use is ambiguous (the error lists both namespaced spellings). A bare name that a
third-party distribution shares with a built-in stays the built-in's, with a warning naming the
distribution and the namespaced spelling that reaches its component.

Broken plugins: every entry point and every plugin's ``sentrix_register_components`` call is
contained. A failure is recorded (:func:`broken_plugins`, ``sentrix plugins list``) and only the
names it concerns fail, with an error naming the plugin, its distribution and the cause.

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
import warnings
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
    ComponentUnavailableError,
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
    #: ``Type: message`` of the last failed :meth:`load` in this process, else ``None``.
    load_error: str | None = None

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def provider_label(self) -> str:
        return format_provider(self.provider, self.version)

    def load(self) -> Any:
        """Import and return the component object (class or callable).

        A failure raises :class:`ComponentLoadError` naming the distribution and the cause, and
        is remembered in :attr:`load_error` (``sentrix plugins list`` reports it).
        """
        if self.obj is not None:
            return self.obj
        try:
            return self._load()
        except ComponentLoadError as exc:
            cause = exc.__cause__
            self.load_error = (
                f"{type(cause).__name__}: {cause}" if cause is not None else str(exc).split("\n")[0]
            )
            raise

    def _load(self) -> Any:
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


_scan: tuple[tuple, dict[str, list[metadata.EntryPoint]]] | None = None
_scan_epoch = 0


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    """The entry points of ``group``, from one scan of the installed distributions shared by every
    kind (rescanned after :func:`refresh` or when ``sys.path`` changes)."""
    import sys

    global _scan
    key = (_scan_epoch, tuple(sys.path))
    with _hook_lock:
        if _scan is None or _scan[0] != key:
            everything = metadata.entry_points()  # one read of every distribution's entry_points.txt
            groups = {GROUP_PREFIX + kind: list(everything.select(group=GROUP_PREFIX + kind)) for kind in KINDS}
            _scan = (key, groups)
        return list(_scan[1].get(group, []))


def _group_entry_points(kind: str, problems: list[hooks.PluginProblem] | None = None) -> list[ComponentEntry]:
    """Read one entry-point group into components, grouping aliases. Metadata only.

    An entry point whose metadata cannot be read (or whose value is not ``module:attr``) is left
    out and described in ``problems``; the others are unaffected.
    """
    group = GROUP_PREFIX + kind
    by_target: dict[tuple[str, str], list[metadata.EntryPoint]] = {}
    dists: dict[str, tuple[str, str | None, tuple[str, ...]]] = {}
    try:
        found = _entry_points(group)
    except Exception as exc:  # pragma: no cover - a corrupt site-packages
        warnings.warn(f"Could not read the {group} entry points: {hooks.describe_exception(exc)}", RuntimeWarning, stacklevel=4)
        return []
    read: dict[int, tuple[str, str | None, tuple[str, ...]]] = {}  # one METADATA parse per distribution
    for ep in found:
        dist_name, version = "<unknown>", None
        try:
            dist = ep.dist
            if dist is not None and id(dist) not in read:
                meta = dist.metadata
                read[id(dist)] = (str(meta["Name"] or "<unknown>"), meta["Version"], tuple(meta.get_all("Requires-Dist") or ()))
            dist_name, version, requires = read[id(dist)] if dist is not None else ("<unknown>", None, ())
            if not distribution_allowed(dist_name):
                continue
            target = ep.value.strip()
            module_name, _, attr = target.partition(":")
            if not module_name or not all(part.isidentifier() for part in (*module_name.split("."), *(attr.split(".") if attr else ()))):
                raise ValueError(f"entry point {ep.name!r} = {ep.value!r} is not of the form 'package.module:Attribute'")
            key = (_normalise_dist(dist_name), target)
        except Exception as exc:
            if problems is not None:
                label = format_provider(dist_name, version)
                problems.append(hooks.PluginProblem(dist_name, label, f"entry point {group}", hooks.describe_exception(exc),
                                                    ((kind, str(getattr(ep, "name", "?"))),)))
            continue
        by_target.setdefault(key, []).append(ep)
        dists[key[0]] = (dist_name, version, requires)
    entries = []
    for (dist_key, target), eps in by_target.items():
        names = list(dict.fromkeys(ep.name for ep in eps))
        canonical = [n for n in names if _CANONICAL.match(n)]
        name = min(canonical, key=len) if canonical else names[0]
        dist_name, version, requires = dists[dist_key]
        entries.append(
            ComponentEntry(
                kind=kind,
                name=name,
                aliases=tuple(n for n in names if n != name),
                provider=dist_name,
                version=version,
                target=target,
                dist_requires=requires,
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
        self._problems: list[hooks.PluginProblem] = []
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ discovery
    def _env_key(self) -> tuple:
        return (*switches_state(), hooks.generation())

    def _installed(self) -> list[ComponentEntry]:
        key = self._env_key()
        with self._lock:
            if self._cache is None or self._cache_key != key:
                problems: list[hooks.PluginProblem] = []
                entries = _group_entry_points(self.kind, problems)
                entries.extend(hook_registered_components(self.kind))
                self._cache, self._cache_key, self._problems = entries, key, problems
            return self._cache

    def problems(self) -> list[hooks.PluginProblem]:
        """What went wrong discovering or loading this kind's components: unreadable entry points,
        hook registrations that were refused or lost, components that failed to load."""
        self._installed()
        found = [*self._problems, *(p for p in hook_component_problems() if any(k == self.kind for k, _ in p.components))]
        for entry in self.entries():
            if entry.load_error:
                found.append(hooks.PluginProblem(entry.provider, entry.provider_label, "load", entry.load_error,
                                                 ((self.kind, entry.name),)))
        return found

    def shadowed(self) -> list[tuple[ComponentEntry, str]]:
        """``(entry, name)`` for each name a third-party entry registers that a built-in already has.

        The built-in wins the bare name; the other component stays reachable as
        ``"distribution:name"``.
        """
        entries = self.entries()
        core_names = {n for e in entries if e.provider == CORE_DISTRIBUTION for n in e.all_names}
        return [(e, n) for e in entries if e.provider != CORE_DISTRIBUTION for n in e.all_names if n in core_names]

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
            self._raise_missing(name, provider, entries)
        if len(found) > 1:
            builtin = [e for e in found if e.provider == CORE_DISTRIBUTION]
            if len(builtin) == 1:
                self._warn_takeover(name, builtin[0], [e for e in found if e is not builtin[0]])
                return builtin[0]
            providers = " and ".join(e.provider_label + f" ({e.target or 'in-process'})" for e in found)
            choices = " or ".join(f"'{e.provider}:{name}'" for e in found if e.provider != IN_PROCESS)
            raise ComponentCollisionError(
                f"{_singular(self.kind).capitalize()} name {name!r} is provided by {providers}.\n"
                f"Fix: pick one explicitly as {choices or repr(name)}, or stop loading the other with "
                f"SENTRIX_BLOCK_PLUGINS=<distribution>, or uninstall one of them."
            )
        return found[0]

    def _raise_missing(self, name: str, provider: str | None, entries: list[ComponentEntry]) -> None:
        """Unknown name: say so, unless a broken plugin was (or may have been) going to provide it."""
        broken = broken_plugins()
        for problem in broken:
            if (self.kind, name) in problem.components and (
                provider is None or _normalise_dist(problem.plugin) == _normalise_dist(provider)
                or _normalise_dist(problem.distribution.split(" ")[0]) == _normalise_dist(provider)
            ):
                dist = problem.distribution.split(" ")[0]
                raise ComponentUnavailableError(
                    f"{_singular(self.kind).capitalize()} {name!r} is unavailable because plugin {problem.plugin!r} "
                    f"({problem.distribution}) failed to load: {problem.error}\n"
                    f"Fix: upgrade or reinstall {dist!r} (`pip install -U {dist}`), or report the error to its "
                    f"authors; `sentrix plugins list` lists every plugin that failed."
                )
        unknown_contents = [p for p in broken if p.fatal and not p.components]
        note = None
        if unknown_contents:
            note = "Note: " + "; ".join(
                f"plugin {p.plugin!r} ({p.distribution}) failed to load ({p.error})" for p in unknown_contents
            ) + f"; if it provides {name!r}, fix that plugin first (`sentrix plugins list` shows the error)."
        raise UnknownComponentError(self.kind, name, [n for e in entries for n in e.all_names], len(entries), note=note)

    def _warn_takeover(self, name: str, builtin: ComponentEntry, others: list[ComponentEntry]) -> None:
        for other in others:
            key = (self.kind, name, other.provider)
            if key in _takeover_warned:
                continue
            _takeover_warned.add(key)
            own = f" or its own name {other.name!r}" if other.name != name and other.name not in builtin.all_names else ""
            warnings.warn(
                f"Distribution {other.provider_label} registers the {_singular(self.kind)} name {name!r}, which is "
                f"sentrix's built-in {builtin.name!r}; the built-in is used. To use the component from "
                f"{other.provider!r}, name it '{other.provider}:{name}'{own}.",
                RuntimeWarning,
                stacklevel=4,
            )

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
    global _scan_epoch
    _scan_epoch += 1
    _takeover_warned.clear()
    hooks.reset_plugin_manager()
    for registry in REGISTRIES.values():
        registry.refresh()


_hook_components: tuple[tuple, dict[str, list[ComponentEntry]], list[hooks.PluginProblem]] | None = None
_hook_lock = threading.RLock()
_takeover_warned: set[tuple[str, str, str]] = set()


def hook_registered_components(kind: str) -> list[ComponentEntry]:
    """Components registered through the ``sentrix_register_components`` hook, for one kind.

    Collected once per set of hook plugins (see :func:`sentrix.hooks.generation`). Each plugin's
    call is contained: a ``register`` call with an unknown kind or a malformed name is refused on
    its own (the plugin's other registrations stand), and an implementation that raises loses all
    of its registrations from that call, which then fail with :class:`ComponentUnavailableError`
    naming the plugin and the error when used. See :func:`hook_component_problems`.
    """
    return list(_collect_hook_components()[0].get(kind, []))


def hook_component_problems() -> list[hooks.PluginProblem]:
    """What went wrong in the ``sentrix_register_components`` hook, one entry per failure."""
    return list(_collect_hook_components()[1])


def _collect_hook_components() -> tuple[dict[str, list[ComponentEntry]], list[hooks.PluginProblem]]:
    global _hook_components
    key = (*switches_state(), hooks.generation())
    with _hook_lock:
        if _hook_components is None or _hook_components[0] != key:
            collected: dict[str, list[ComponentEntry]] = {k: [] for k in KINDS}
            problems: list[hooks.PluginProblem] = []
            pm = hooks.get_plugin_manager()
            for impl in pm.hook.sentrix_register_components.get_hookimpls():
                _call_register_components(impl, pm.get_name(impl.plugin) or repr(impl.plugin), collected, problems)
            _hook_components = (key, collected, problems)
        return _hook_components[1], _hook_components[2]


def _call_register_components(impl: Any, plugin_name: str, collected: dict[str, list[ComponentEntry]],
                              problems: list[hooks.PluginProblem]) -> None:
    """Run one plugin's ``sentrix_register_components``; keep what it registered only if it returns."""
    provider, version = hooks.plugin_distribution(impl.plugin)
    label = format_provider(provider, version)
    mine: list[ComponentEntry] = []

    def refuse(reason: str, components: tuple[tuple[str, str], ...] = ()) -> None:
        problems.append(hooks.PluginProblem(plugin_name, label, "sentrix_register_components", reason, components, False))
        warnings.warn(f"sentrix plugin {plugin_name!r} ({label}): {reason}", RuntimeWarning, stacklevel=3)

    def register(kind: str, name: str, target: Any, aliases: tuple[str, ...] | list[str] = (), *args: Any,
                 **kwargs: Any) -> None:
        if args or kwargs:
            refuse(f"register() got unexpected arguments {args or ''}{kwargs or ''}; expected "
                   "register(kind, name, target, aliases=()); this registration is ignored")
            return
        names = (name, *(aliases if isinstance(aliases, (list, tuple)) else (aliases,)))
        if kind not in collected:
            close = [k for k in KINDS if k.startswith(str(kind)[:4])]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            refuse(f"registered {name!r} under unknown kind {kind!r}{hint}; expected one of {', '.join(KINDS)}. "
                   "This registration is ignored")
            return
        if not all(isinstance(n, str) and n.strip() for n in names):
            refuse(f"registered a {_singular(kind)} with invalid name(s) {names!r}; names must be non-empty strings. "
                   "This registration is ignored")
            return
        if target is None or (isinstance(target, str) and ":" not in target):
            refuse(f"registered {_singular(kind)} {name!r} with target {target!r}; expected the component object or a "
                   "'module:Attribute' string. This registration is ignored", ((kind, name),))
            return
        mine.append(
            ComponentEntry(
                kind=kind,
                name=name,
                aliases=tuple(names[1:]),
                provider=provider,
                version=version,
                target=target if isinstance(target, str) else None,
                obj=None if isinstance(target, str) else target,
            )
        )

    try:
        impl.function(register=register)
    except Exception as exc:
        lost = tuple((e.kind, n) for e in mine for n in e.all_names)
        problems.append(hooks.PluginProblem(plugin_name, label, "sentrix_register_components",
                                            hooks.describe_exception(exc), lost, True))
        if hooks.strict():
            from sentrix.errors import PluginHookError

            raise PluginHookError(
                f"The sentrix_register_components hook of plugin {plugin_name!r} ({label}) failed: "
                f"{hooks.describe_exception(exc)}"
            ) from exc
        warnings.warn(
            f"The sentrix_register_components hook of plugin {plugin_name!r} ({label}) failed; its components are "
            f"unavailable: {hooks.describe_exception(exc)}",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    for entry in mine:
        collected[entry.kind].append(entry)


def broken_plugins() -> list[hooks.PluginProblem]:
    """Every plugin problem known in this process, hook modules and components alike.

    Hook modules that failed to import or register, hook implementations refused or failed,
    ``sentrix_register_components`` failures, unreadable component entry points and components
    that failed to load so far (``sentrix plugins list --check`` loads every one to find them all).
    """
    found = list(hooks.plugin_problems())
    for problem in hook_component_problems():
        if problem not in found:
            found.append(problem)
    for registry in REGISTRIES.values():
        for problem in registry.problems():
            if problem not in found:
                found.append(problem)
    return found
