"""Contract of an evaluator (``sentrix.evaluators``).

``__call__(model, output_path=None, epoch=-1, steps=-1) -> dict[str, float]`` with finite values,
keys prefixed with the evaluator's ``name`` (a composite evaluator's keys may instead start with the
name of one of its ``evaluators``), ``primary_metric`` naming one of the keys after the
call, and ``greater_is_better``. Provides ``contract_example(cls) -> instance`` built from small
inline data, so the suite can run it.
"""

from __future__ import annotations

import math
import tempfile

from sentrix.testing.contracts import Component, has_user_docstring, require
from sentrix.testing.contracts._docstrings import check_docstring_layout
from sentrix.testing.contracts._fixtures import tiny_model


def _example(component: Component):
    require(hasattr(component.obj, "contract_example"),
            "an evaluator must provide a classmethod contract_example() returning an instance on small inline data.")
    return component.obj.contract_example()


def check_has_docstring(component: Component) -> None:
    has_user_docstring(component.obj)


def check_attributes(component: Component) -> None:
    evaluator = _example(component)
    require(isinstance(getattr(evaluator, "name", None), str), "an evaluator must have a `name` (str).")
    require(isinstance(getattr(evaluator, "greater_is_better", None), bool),
            "an evaluator must set `greater_is_better` (bool).")


def check_returns_finite_prefixed_metrics(component: Component) -> None:
    evaluator = _example(component)
    metrics = evaluator(tiny_model())
    require(isinstance(metrics, dict) and metrics, f"__call__ must return a non-empty dict, got {metrics!r}.")
    for key, value in metrics.items():
        require(isinstance(key, str), f"metric key {key!r} is not a string.")
        require(isinstance(value, (int, float)) and math.isfinite(value), f"metric {key!r} = {value!r} is not a finite number.")
        if evaluator.name:
            # a composite evaluator (e.g. NanoBEIR) also returns its sub-evaluators' own keys
            names = [evaluator.name, *(getattr(sub, "name", "") for sub in getattr(evaluator, "evaluators", []) or [])]
            prefixes = tuple(f"{name}_" for name in names if name)
            require(key.startswith(prefixes),
                    f"metric key {key!r} must start with the evaluator name {evaluator.name + '_'!r}"
                    + (" or a sub-evaluator's name (from `evaluators`)." if len(prefixes) > 1 else "."))


def check_primary_metric_is_a_key(component: Component) -> None:
    evaluator = _example(component)
    metrics = evaluator(tiny_model())
    primary = getattr(evaluator, "primary_metric", None)
    require(primary in metrics,
            f"after __call__, primary_metric ({primary!r}) must be one of the returned keys {sorted(metrics)}; "
            "the trainer uses it for metric_for_best_model.")


def check_accepts_output_path_epoch_steps(component: Component) -> None:
    evaluator = _example(component)
    with tempfile.TemporaryDirectory() as folder:
        metrics = evaluator(tiny_model(), output_path=folder, epoch=1, steps=10)
    require(isinstance(metrics, dict), "__call__(model, output_path, epoch, steps) must return a dict.")


CHECKS = [
    ("has_docstring", check_has_docstring),
    ("docstring_layout", check_docstring_layout),
    ("attributes", check_attributes),
    ("returns_finite_prefixed_metrics", check_returns_finite_prefixed_metrics),
    ("primary_metric_is_a_key", check_primary_metric_is_a_key),
    ("accepts_output_path_epoch_steps", check_accepts_output_path_epoch_steps),
]
