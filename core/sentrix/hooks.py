"""The pluggy hook manager: loads hook implementations, sentrix's own first, each one contained.

``get_plugin_manager()`` builds the manager once per process:

1. the core's own hook implementations (:data:`DEFAULT_PLUGINS`, e.g. the model card's built-in
   sections), registered exactly like a third-party plugin's;
2. every allowed module in the ``sentrix.plugins`` entry-point group.

Nothing a plugin does can stop another plugin (or the core) from working:

* a hook module that fails to import, or that pluggy refuses, is recorded (:func:`failed_plugins`,
  :func:`plugin_problems`) and skipped;
* one implementation with a signature that does not match its hook, or that implements a hook
  that does not exist, is skipped on its own; the plugin's other hooks still register;
* every implementation is called through a guard that applies the hook's failure policy
  (:data:`HOOK_FAILURE_POLICY`): a deliberate :class:`~sentrix.errors.SentrixError` means what
  the hook says it means, any other exception is a crash that is reported with the plugin's name
  and distribution and skipped. ``SENTRIX_STRICT_PLUGINS=1`` turns crashes into errors.

``sentrix plugins list`` and ``sentrix env`` report every problem recorded here.

This module knows nothing about the component registries (:mod:`sentrix.registry` asks it for
``sentrix_register_components`` results, never the other way round). Registries notice a change
of hook plugins through :func:`generation`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from importlib import metadata
from typing import Any, Callable

import attrs
import pluggy

from sentrix import hookspecs
from sentrix._switches import distribution_allowed
from sentrix.errors import ComponentCollisionError, PluginHookError, SentrixError

logger = logging.getLogger(__name__)

PLUGIN_GROUP = "sentrix.plugins"
IN_PROCESS = "<in-process>"
STRICT_SWITCH = "SENTRIX_STRICT_PLUGINS"

#: registered name -> module of the core's own hook implementations, registered before any
#: entry point (so a third-party section of the same hook runs after the built-in ones).
DEFAULT_PLUGINS: dict[str, str] = {
    "sentrix.model_card": "sentrix.model_card.sections",
}

#: What happens when one implementation of a hook fails. "crash" is any exception that is not a
#: :class:`~sentrix.errors.SentrixError`; "deliberate" is a ``SentrixError`` raised on purpose.
HOOK_FAILURE_POLICY: dict[str, dict[str, str]] = {
    "sentrix_register_components": {
        "crash": "the plugin's components from this hook are unavailable; using one names the plugin and the error",
        "deliberate": "same as a crash",
    },
    "sentrix_add_cli_commands": {
        "crash": "skipped with a warning; every other command works",
        "deliberate": "same as a crash",
    },
    "sentrix_validate_run": {
        "crash": "skipped with a warning (the check did not run); the run goes on",
        "deliberate": "a validation problem: the run stops before anything is written, the message names the plugin",
    },
    "sentrix_adjust_trainer": {
        "crash": "skipped with a warning; the run goes on with whatever the implementation changed before it failed",
        "deliberate": "the run stops before anything is written, with the plugin's error",
    },
    "sentrix_model_card_sections": {
        "crash": "the plugin's sections are skipped with a warning; the model and the rest of the card are saved",
        "deliberate": "same as a crash",
    },
    "sentrix_env_info": {
        "crash": "the plugin's lines are skipped; `sentrix env` reports the failure",
        "deliberate": "same as a crash",
    },
}

#: Hooks whose deliberate ``SentrixError`` is passed on (after naming the plugin) instead of skipped.
_DELIBERATE_PROPAGATES = {"sentrix_validate_run", "sentrix_adjust_trainer"}
#: Hooks the registry calls and contains itself (it knows which components were lost).
_UNGUARDED = {"sentrix_register_components"}


@attrs.frozen
class PluginProblem:
    """One thing a plugin got wrong, as ``sentrix plugins list`` and ``sentrix env`` report it.

    ``plugin`` is the hook plugin's or entry point's name, ``distribution`` the installed
    distribution that provides it (with its version), ``stage`` where it failed (``"import"``,
    ``"register"``, a hook name, ``"entry point"`` or ``"load"``), ``error`` the exception as
    ``Type: message``. ``components`` lists ``(kind, name)`` pairs made unavailable by the problem
    (empty when unknown). ``fatal`` is false for problems that only lose one registration.
    """

    plugin: str
    distribution: str
    stage: str
    error: str
    components: tuple[tuple[str, str], ...] = ()
    fatal: bool = True

    def describe(self) -> str:
        where = f"plugin {self.plugin!r} ({self.distribution})" if self.plugin != self.distribution else (
            f"plugin {self.distribution!r}"
        )
        lost = ""
        if self.components:
            lost = "; unavailable: " + ", ".join(f"{kind} {name!r}" for kind, name in self.components)
        return f"{where} [{self.stage}]: {self.error}{lost}"


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_failed: dict[str, str] = {}
_problems: list[PluginProblem] = []
_call_failures: list[PluginProblem] = []
_dists: dict[str, tuple[str, str | None]] = {}
_generation = 0


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` (the message's first line when it is long)."""
    return f"{type(exc).__name__}: {exc}"


def strict() -> bool:
    """Whether ``SENTRIX_STRICT_PLUGINS`` asks for a crashing hook implementation to stop the work."""
    return os.environ.get(STRICT_SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


class _ContainingPluginManager(pluggy.PluginManager):
    """A ``PluginManager`` that registers what it can of each plugin and guards every call."""

    _registering: str | None = None

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None:
            return None
        plugin_name = self._registering or repr(plugin)
        hook_name = opts.get("specname") or name
        hook = getattr(self.hook, hook_name, None)
        if opts.get("wrapper") or opts.get("hookwrapper"):
            _record(plugin_name, "register", f"implements {hook_name!r} as a wrapper, which sentrix hooks do not support "
                    "(a failing wrapper would take every other implementation down); implement the hook directly. "
                    "That implementation is ignored", fatal=False)
            return None
        if hook is None or not hook.has_spec():
            known = ", ".join(_hook_names())
            _record(plugin_name, "register", f"implements {hook_name!r}, which is not a sentrix hook (hooks: {known}); "
                    "that implementation is ignored", fatal=False)
            return None
        try:
            function = getattr(plugin, name)
            verify = getattr(self, "_verify_hook", None)
            if verify is not None:
                verify(hook, pluggy.HookImpl(plugin, plugin_name, function, opts))
        except Exception as exc:
            message = " ".join(str(exc).split())
            _record(plugin_name, "register", f"{type(exc).__name__}: {message}; its {hook_name} implementation is ignored",
                    fatal=hook_name == "sentrix_register_components")
            return None
        return opts

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        previous, self._registering = self._registering, name
        try:
            registered = super().register(plugin, name=name)
        finally:
            self._registering = previous
        if registered is not None:
            for caller in self.get_hookcallers(plugin) or ():
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        _guard(caller.name, registered, impl)
        return registered


def _plugin_label(plugin_name: str) -> str:
    dist, version = _dists.get(plugin_name, (IN_PROCESS, None))
    return f"{dist} {version}" if version else dist


def _record(plugin_name: str, stage: str, error: str, *, fatal: bool = True,
            components: tuple[tuple[str, str], ...] = ()) -> PluginProblem:
    problem = PluginProblem(plugin_name, _plugin_label(plugin_name), stage, error, components, fatal)
    with _lock:
        if problem not in _problems:
            _problems.append(problem)
    return problem


def _guard(hook_name: str, plugin_name: str, impl: Any) -> None:
    """Replace ``impl.function`` by a call that applies :data:`HOOK_FAILURE_POLICY`."""
    if hook_name in _UNGUARDED or impl.hookwrapper or impl.wrapper or getattr(impl.function, "_sentrix_guarded", False):
        return
    function: Callable[..., Any] = impl.function

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
        except SentrixError as exc:
            if hook_name not in _DELIBERATE_PROPAGATES:
                return _crashed(hook_name, plugin_name, exc)
            if hook_name == "sentrix_validate_run":
                return [f"{exc} (raised by plugin {plugin_name!r}, {_plugin_label(plugin_name)})"]
            if hasattr(exc, "add_note"):
                exc.add_note(f"Raised by the {hook_name} hook of plugin {plugin_name!r} ({_plugin_label(plugin_name)}).")
            raise
        except Exception as exc:
            return _crashed(hook_name, plugin_name, exc)
        return _check_result(hook_name, plugin_name, result)

    guarded._sentrix_guarded = True  # type: ignore[attr-defined]
    impl.function = guarded


def _check_result(hook_name: str, plugin_name: str, result: Any) -> Any:
    if result is None:
        return None
    if hook_name == "sentrix_validate_run":
        if isinstance(result, str):
            return [result]
        if isinstance(result, (list, tuple)) and all(isinstance(item, str) for item in result):
            return list(result)
        return _crashed(hook_name, plugin_name, TypeError(
            f"returned {type(result).__name__} {result!r:.80}; expected a list of problem messages (str) or None"))
    if hook_name == "sentrix_env_info" and not isinstance(result, dict):
        return _crashed(hook_name, plugin_name, TypeError(
            f"returned {type(result).__name__}; expected a dict of label -> value or None"))
    return result


def _crashed(hook_name: str, plugin_name: str, exc: BaseException) -> None:
    label = _plugin_label(plugin_name)
    problem = PluginProblem(plugin_name, label, hook_name, describe_exception(exc), (), False)
    with _lock:
        if problem not in _call_failures:
            _call_failures.append(problem)
    if strict():
        raise PluginHookError(
            f"The {hook_name} hook of plugin {plugin_name!r} ({label}) failed: {describe_exception(exc)}\n"
            f"Fix: upgrade or report the plugin, block it with SENTRIX_BLOCK_PLUGINS={_dists.get(plugin_name, ('<distribution>',))[0]}, "
            f"or unset {STRICT_SWITCH} to skip failing hook implementations."
        ) from exc
    warnings.warn(
        f"The {hook_name} hook of plugin {plugin_name!r} failed and was skipped: {describe_exception(exc)} [plugin from {label}]",
        RuntimeWarning,
        stacklevel=3,
    )
    logger.debug("hook %s of plugin %s failed", hook_name, plugin_name, exc_info=exc)
    return None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager with the defaults and every allowed entry point loaded."""
    global _manager
    with _lock:
        if _manager is None:
            pm = _ContainingPluginManager(hookspecs.PROJECT_NAME)
            pm.add_hookspecs(hookspecs)
            _failed.clear()
            _problems.clear()
            _dists.clear()
            from sentrix import __version__

            for name, module in DEFAULT_PLUGINS.items():
                _dists[name] = ("sentrix", __version__)
                try:
                    pm.register(importlib.import_module(module), name=name)
                except Exception as exc:  # pragma: no cover - a broken core install
                    _failed[name] = f"sentrix: {describe_exception(exc)}"
                    _record(name, "import", describe_exception(exc))
            for ep in _plugin_entry_points():
                _load_entry_point(pm, ep)
            _manager = pm
        return _manager


def _plugin_entry_points() -> list[metadata.EntryPoint]:
    try:
        return list(metadata.entry_points(group=PLUGIN_GROUP))
    except Exception as exc:  # pragma: no cover - a corrupt site-packages
        warnings.warn(f"Could not read the {PLUGIN_GROUP} entry points: {describe_exception(exc)}", RuntimeWarning, stacklevel=3)
        return []


def _load_entry_point(pm: pluggy.PluginManager, ep: metadata.EntryPoint) -> None:
    """Import and register one hook module; record, warn and go on when that fails."""
    try:
        dist = ep.dist
        dist_name = str(dist.metadata["Name"]) if dist is not None and dist.metadata["Name"] else "<unknown>"
        version = dist.version if dist is not None else None
    except Exception:  # broken metadata: still load the module, credited to an unknown distribution
        dist_name, version = "<unknown>", None
    if not distribution_allowed(dist_name) or pm.has_plugin(ep.name):
        return
    _dists[ep.name] = (dist_name, version)
    label = f"{dist_name} {version or ''}".strip()
    stage = "import"
    try:
        plugin = ep.load()
        stage = "register"
        pm.register(plugin, name=ep.name)
    except Exception as exc:  # a broken plugin must not break the others
        error = " ".join(describe_exception(exc).split())
        _failed[ep.name] = f"{label}: {error}"
        _record(ep.name, stage, error)
        verb = "failed to load" if stage == "import" else "was refused by the hook manager"
        warnings.warn(
            f"sentrix plugin {ep.name!r} from {label} {verb} and is skipped: {error}",
            RuntimeWarning,
            stacklevel=4,
        )


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
    """Hook modules that failed to import or register: entry-point name -> reason."""
    get_plugin_manager()
    return dict(_failed)


def plugin_problems() -> list[PluginProblem]:
    """Everything the hook manager recorded: modules that failed to load, implementations it
    refused, and implementations that failed when called in this process."""
    get_plugin_manager()
    with _lock:
        return [*_problems, *_call_failures]


def reset_plugin_manager() -> None:
    """Forget the loaded hook plugins (tests; after installing a plugin in a running process)."""
    global _manager
    with _lock:
        _manager = None
        _failed.clear()
        _problems.clear()
        _call_failures.clear()
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
    if name in _dists:
        return _dists[name]
    return IN_PROCESS, None


def call_each(hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
    """Call every implementation of ``hook_name`` in pluggy's order, one at a time.

    Yields ``(plugin name, result)`` for each implementation that returned something other than
    ``None``. An implementation that fails is handled by its hook's failure policy
    (:data:`HOOK_FAILURE_POLICY`): skipped with a warning naming the plugin, so one broken plugin
    cannot take the others' contributions (or the built-in ones) down with it.
    """
    pm = get_plugin_manager()
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):  # pluggy calls the last-registered first
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue  # wrappers wrap a whole hook call; there is none here
        name = pm.get_name(impl.plugin) or repr(impl.plugin)
        try:
            result = impl.function(*(kwargs[arg] for arg in impl.argnames))
        except Exception as exc:  # an unguarded implementation (one added behind the manager's back)
            _crashed(hook_name, name, exc)
            continue
        if result is not None:
            yield name, result


def register_hook_plugin(plugin: Any, name: str | None = None) -> None:
    """Register a hook-implementing object or module in this process (notebooks, tests).

    Implementations whose signature does not match their hook are skipped and reported like an
    installed plugin's (see :func:`plugin_problems`).
    """
    pm = get_plugin_manager()
    if name is not None and pm.has_plugin(name):
        raise ComponentCollisionError(f"A sentrix hook plugin named {name!r} is already registered.")
    registered = pm.register(plugin, name=name)
    if registered is not None:
        _dists.setdefault(registered, (IN_PROCESS, None))
    _changed()


def unregister_hook_plugin(plugin: Any) -> None:
    """Undo :func:`register_hook_plugin`."""
    pm = get_plugin_manager()
    name = pm.get_name(plugin)
    pm.unregister(plugin)
    with _lock:
        _problems[:] = [p for p in _problems if p.plugin != name]
        _call_failures[:] = [p for p in _call_failures if p.plugin != name]
    _changed()


def _hook_names() -> list[str]:
    return sorted(name for name, fn in vars(hookspecs).items() if name.startswith("sentrix_") and inspect.isfunction(fn))


__all__ = [
    "DEFAULT_PLUGINS",
    "HOOK_FAILURE_POLICY",
    "PLUGIN_GROUP",
    "PluginProblem",
    "call_each",
    "failed_plugins",
    "generation",
    "get_plugin_manager",
    "plugin_distribution",
    "plugin_problems",
    "register_hook_plugin",
    "reset_plugin_manager",
    "strict",
    "unregister_hook_plugin",
]
