"""Contract of a router mapping (``sentrix.router_mappings``).

A router mapping is a class (built with no arguments) or a function; calling it as
``mapping(column_names, dataset_name)`` returns ``{column: route}`` with a non-empty route string
for every column it is given, and nothing else.
"""

from __future__ import annotations

import inspect
from typing import Any

from sentrix.testing.contracts import Component, has_user_docstring, require
from sentrix.testing.contracts._docstrings import check_docstring_layout


def _instance(component: Component) -> Any:
    obj = component.obj
    return obj() if inspect.isclass(obj) else obj


def check_has_docstring(component: Component) -> None:
    has_user_docstring(component.obj, minimum=40)


def check_maps_every_column_to_a_route(component: Component) -> None:
    mapping = _instance(component)
    for columns in (["anchor", "positive", "negative"], ["query", "answer"], ["text"]):
        result = mapping(list(columns), "example")
        require(isinstance(result, dict), f"mapping({columns}) must return a dict, got {type(result).__name__}.")
        require(set(result) == set(columns),
                f"mapping({columns}) must map exactly the given columns, got keys {sorted(result)}.")
        for column, route in result.items():
            require(isinstance(route, str) and route, f"column {column!r} mapped to {route!r}; expected a route name.")


def check_is_deterministic(component: Component) -> None:
    mapping = _instance(component)
    columns = ["anchor", "positive", "negative"]
    require(mapping(columns, "a") == mapping(list(columns), "a"), "the same columns must map the same way every time.")


CHECKS = [
    ("has_docstring", check_has_docstring),
    ("docstring_layout", check_docstring_layout),
    ("maps_every_column_to_a_route", check_maps_every_column_to_a_route),
    ("is_deterministic", check_is_deterministic),
]
