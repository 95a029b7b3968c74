"""Contract suites, one module per component kind.

Each kind module defines ``CHECKS``: an ordered list of ``(name, function(component) -> None)``
where ``component`` is a :class:`Component` (the registry entry or the object under test). A check
raises ``AssertionError`` with a message that says what the component must do instead.

Every suite includes ``docstring_layout`` (:mod:`sentrix.testing.contracts._docstrings`): the
component's docstring follows the one layout all components share (summary, description, then
``Inputs:``/``Sampler:`` for losses, ``Args:``, ``Metrics:`` for evaluators, ``Example:``,
``References:``).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import attrs

from sentrix.registry import KINDS, ComponentEntry, get_registry

_KIND_MODULES = {kind: f"sentrix.testing.contracts.{kind}" for kind in KINDS}


@attrs.define(eq=False)
class Component:
    """What a check sees: the object under test, its registered name, and its kind."""

    kind: str
    name: str
    entry: ComponentEntry | None = None
    _obj: Any = None

    @property
    def obj(self) -> Any:
        if self._obj is None:
            self._obj = self.entry.load()
        return self._obj


@attrs.define(eq=False)
class ContractCheck:
    """One named check, runnable as ``check()`` (pytest ids use ``check.name``)."""

    name: str
    function: Callable[[Component], None]
    component: Component

    def __call__(self) -> None:
        self.function(self.component)

    def __repr__(self) -> str:
        return f"<ContractCheck {self.component.kind}:{self.component.name}:{self.name}>"


def _component(kind: str, component: Any) -> Component:
    registry = get_registry(kind)
    if isinstance(component, str):
        return Component(kind=registry.kind, name=component, entry=registry.info(component))
    return Component(kind=registry.kind, name=getattr(component, "__name__", repr(component)), obj=component)


def contract_checks(kind: str, component: Any) -> list[ContractCheck]:
    """The contract checks of ``kind`` bound to ``component`` (a registered name or the object).

    Resolving a name reads metadata only; the component is imported when the first check runs.
    """
    registry = get_registry(kind)
    module = importlib.import_module(_KIND_MODULES[registry.kind])
    bound = _component(kind, component)
    return [ContractCheck(name=name, function=fn, component=bound) for name, fn in module.CHECKS]


def check_component(kind: str, component: Any) -> None:
    """Run the whole contract suite; raise one ``AssertionError`` listing every failed check."""
    failures = []
    checks = contract_checks(kind, component)
    for check in checks:
        try:
            check()
        except Exception as exc:  # collect them all, report together
            failures.append(f"- {check.name}: {type(exc).__name__}: {exc}")
    if failures:
        raise AssertionError(f"{kind} component {checks[0].component.name!r} "
                             f"fails {len(failures)} contract check(s):\n" + "\n".join(failures))


def require(condition: Any, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def has_user_docstring(obj: Any, minimum: int = 60) -> None:
    import inspect

    doc = inspect.getdoc(obj) or ""
    require(
        len(doc) >= minimum,
        f"{getattr(obj, '__name__', obj)!r} needs a docstring a user can act on (what it does, the data it "
        f"needs, an example); found {len(doc)} characters.",
    )
