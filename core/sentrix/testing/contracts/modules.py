"""Contract of a model module (``sentrix.modules``).

A module is an ``nn.Module`` with the sentence-transformers module contract: ``get_config_dict()``
(JSON-serialisable), ``save(path)`` and a classmethod ``load(path)`` that rebuilds an equal module
(same config, same weights). The suite builds one with ``contract_example(cls)`` when the class
provides it, else with ``cls()``.
"""

from __future__ import annotations

import inspect
import json
import tempfile
from typing import Any

from sentrix.testing.contracts import Component, has_user_docstring, require
from sentrix.testing.contracts._docstrings import check_docstring_layout


def _instance(component: Component) -> Any:
    cls = component.obj
    if hasattr(cls, "contract_example"):
        return cls.contract_example()
    try:
        return cls()
    except TypeError as exc:
        raise AssertionError(
            f"{cls.__name__}() needs arguments ({exc}); add a classmethod contract_example() returning a small instance."
        ) from exc


def check_has_docstring(component: Component) -> None:
    has_user_docstring(component.obj)


def check_is_module_with_load(component: Component) -> None:
    from torch import nn

    cls = component.obj
    require(inspect.isclass(cls) and issubclass(cls, nn.Module), f"{cls!r} must subclass torch.nn.Module.")
    for method in ("save", "load", "get_config_dict", "forward"):
        require(callable(getattr(cls, method, None)), f"a module needs `{method}`.")


def check_config_is_json(component: Component) -> None:
    config = _instance(component).get_config_dict()
    require(isinstance(config, dict), "get_config_dict() must return a dict.")
    json.dumps(config)


def check_save_load_round_trip(component: Component) -> None:
    import torch

    module = _instance(component)
    with tempfile.TemporaryDirectory() as folder:
        module.save(folder)
        loaded = type(module).load(folder)
    require(loaded.get_config_dict() == module.get_config_dict(),
            f"config changed across save/load: {module.get_config_dict()} -> {loaded.get_config_dict()}.")
    before, after = module.state_dict(), loaded.state_dict()
    require(before.keys() == after.keys(), f"weights changed across save/load: {sorted(before)} -> {sorted(after)}.")
    for key in before:
        require(torch.equal(before[key], after[key]), f"weight {key!r} changed across save/load.")


CHECKS = [
    ("has_docstring", check_has_docstring),
    ("docstring_layout", check_docstring_layout),
    ("is_module_with_load", check_is_module_with_load),
    ("config_is_json", check_config_is_json),
    ("save_load_round_trip", check_save_load_round_trip),
]
