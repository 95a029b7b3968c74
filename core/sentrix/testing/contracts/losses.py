"""Contract of a loss: what any ``sentrix.losses`` component must satisfy.

A loss is an ``nn.Module`` whose constructor takes the model first, whose
``forward(sentence_features, labels)`` returns a finite scalar (or a dict of them) that
back-propagates into the model, and which declares its :class:`~sentrix.data_needs.DataNeeds`.
A loss that needs more than the model to be built provides
``contract_example(cls, model) -> instance``; one whose labels are not one number per row
(teacher scores, teacher embeddings) provides ``contract_labels(model, batch_size, columns) -> labels``.

State owned by a loss (a classifier head, a decoder) lives in ordinary submodules, parameters or
buffers: the trainer optimises it with the model, saves everything in ``loss.state_dict()`` that is
not the model's in every checkpoint (``loss_state.safetensors``, per dataset for a dict of losses)
and restores it on resume, refusing a checkpoint whose loss state does not match the loss.

A loss may check a dataset before training with ``validate_dataset(self, dataset, dataset_name,
**options) -> list[str]`` (one message per problem; options: ``batch_size``, ``batch_sampler``,
``label_columns``); the trainer's run checks call it and raise every problem together.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from sentrix.data_needs import DataNeeds
from sentrix.testing.contracts import Component, has_user_docstring, require
from sentrix.testing.contracts._docstrings import check_docstring_layout
from sentrix.testing.contracts._fixtures import TEXTS, tiny_model


def _build(component: Component, model: Any) -> Any:
    cls = component.obj
    if hasattr(cls, "contract_example"):
        return cls.contract_example(model)
    return cls(model)


def _batch(loss: Any, model: Any, batch_size: int = 4):
    import torch

    needs: DataNeeds = loss.data_needs
    columns = max(needs.min_columns, 1)
    features = [
        model.tokenize([TEXTS[(c * batch_size + i) % len(TEXTS)] for i in range(batch_size)]) for c in range(columns)
    ]
    generator = torch.Generator().manual_seed(0)
    labels = {
        "float": torch.rand(batch_size, generator=generator),
        "int": torch.tensor([i % 2 for i in range(batch_size)]),
    }.get(needs.label)
    make_labels = getattr(loss, "contract_labels", None)
    if callable(make_labels):  # labels that are not one number per row (teacher scores / embeddings)
        labels = make_labels(model, batch_size, columns)
    return features, labels


def _scalars(output: Any) -> list:
    import torch

    values = list(output.values()) if isinstance(output, dict) else [output]
    for value in values:
        require(isinstance(value, torch.Tensor) and value.dim() == 0,
                f"forward must return a scalar tensor (or a dict of them), got {type(value).__name__} "
                f"{getattr(value, 'shape', '')}")
    return values


def check_is_module_taking_model_first(component: Component) -> None:
    from torch import nn

    cls = component.obj
    require(inspect.isclass(cls) and issubclass(cls, nn.Module), f"{cls!r} must be a torch.nn.Module subclass.")
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    require(params and params[0].name == "model",
            f"the constructor's first parameter must be `model` (as in sentence-transformers), got "
            f"{[p.name for p in params[:1]]}.")
    forward = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
    require(len(forward) >= 2, f"forward must accept (sentence_features, labels), got {forward}.")


def check_declares_data_needs(component: Component) -> None:
    require(isinstance(getattr(component.obj, "data_needs", None), DataNeeds),
            "the loss class must set `data_needs = DataNeeds(...)` so the trainer can check datasets before training.")


def check_has_docstring(component: Component) -> None:
    has_user_docstring(component.obj, minimum=120)


def check_builds_and_keeps_model(component: Component) -> None:
    model = tiny_model()
    loss = _build(component, model)
    require(getattr(loss, "model", None) is model,
            "the loss must keep the model it was given as `self.model` (the trainer re-binds it on resume).")


def check_forward_returns_finite_scalar(component: Component) -> None:
    import torch

    model = tiny_model()
    loss = _build(component, model)
    features, labels = _batch(loss, model)
    for value in _scalars(loss(features, labels)):
        require(torch.isfinite(value).all(), f"the loss is not finite: {value}.")


def check_backward_reaches_model(component: Component) -> None:
    model = tiny_model()
    loss = _build(component, model)
    features, labels = _batch(loss, model)
    total = sum(_scalars(loss(features, labels)))
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    require(grads and any(float(g.abs().sum()) > 0 for g in grads),
            "backward() left every model parameter without gradient; compute the loss from model(features).")


def check_config_is_json(component: Component) -> None:
    model = tiny_model()
    loss = _build(component, model)
    if hasattr(loss, "get_config_dict"):
        config = loss.get_config_dict()
        require(isinstance(config, dict), "get_config_dict() must return a dict.")
        json.dumps(config, default=str)


CHECKS = [
    ("is_module_taking_model_first", check_is_module_taking_model_first),
    ("declares_data_needs", check_declares_data_needs),
    ("has_docstring", check_has_docstring),
    ("docstring_layout", check_docstring_layout),
    ("builds_and_keeps_model", check_builds_and_keeps_model),
    ("forward_returns_finite_scalar", check_forward_returns_finite_scalar),
    ("backward_reaches_model", check_backward_reaches_model),
    ("config_is_json", check_config_is_json),
]
