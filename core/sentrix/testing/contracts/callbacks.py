"""Contract of a callback (``sentrix.callbacks``): a ``transformers.TrainerCallback``.

Built with no arguments (or through ``contract_example(cls)``); every training event handler
accepts the standard arguments and returns ``None`` or a ``TrainerControl``. Installed callbacks are
enabled by name in the trainer, never attached silently.
"""

from __future__ import annotations

import inspect
import tempfile
from typing import Any

from sentrix.testing.contracts import Component, has_user_docstring, require
from sentrix.testing.contracts._docstrings import check_docstring_layout

EVENTS = (
    "on_init_end", "on_train_begin", "on_epoch_begin", "on_step_begin", "on_substep_end", "on_step_end",
    "on_log", "on_evaluate", "on_save", "on_epoch_end", "on_train_end",
)


def _instance(component: Component) -> Any:
    cls = component.obj
    return cls.contract_example() if hasattr(cls, "contract_example") else cls()


def check_has_docstring(component: Component) -> None:
    has_user_docstring(component.obj, minimum=40)


def check_is_trainer_callback(component: Component) -> None:
    from transformers import TrainerCallback

    require(inspect.isclass(component.obj) and issubclass(component.obj, TrainerCallback),
            "a callback must subclass transformers.TrainerCallback.")
    _instance(component)


def check_handles_every_event(component: Component) -> None:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    callback = _instance(component)
    with tempfile.TemporaryDirectory() as folder:
        args = TrainingArguments(output_dir=folder, report_to=[])
        state, control = TrainerState(), TrainerControl()
        state.max_steps, state.global_step, state.epoch = 4, 1, 0.25
        for event in EVENTS:
            extra = {"logs": {"loss": 1.0, "learning_rate": 1e-5}} if event == "on_log" else {}
            if event == "on_evaluate":
                extra = {"metrics": {"eval_loss": 1.0}}
            result = getattr(callback, event)(args, state, control, **extra)
            require(result is None or isinstance(result, TrainerControl),
                    f"{event} returned {type(result).__name__}; return None or the TrainerControl.")


CHECKS = [
    ("has_docstring", check_has_docstring),
    ("docstring_layout", check_docstring_layout),
    ("is_trainer_callback", check_is_trainer_callback),
    ("handles_every_event", check_handles_every_event),
]
