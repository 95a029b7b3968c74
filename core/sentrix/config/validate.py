"""Validating a run config before anything runs.

:func:`validate_config` checks every section against :mod:`sentrix.config.schema`, looks every
component up in the registry, checks its parameters against its signature (names and types),
reads the datasets to check the columns each loss, evaluator, prompt and router mapping uses, and
parses the training arguments with transformers' ``HfArgumentParser``. It collects every problem
and raises one :class:`~sentrix.config.errors.ConfigError` naming the config path of each. Nothing
is written, and no model is loaded.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import typing
from collections import abc
from pathlib import Path
from typing import Any

import attrs

from sentrix.config.errors import ConfigError, ConfigIssue, close_names, join_path
from sentrix.config.schema import (
    COMPONENT_KEYS,
    DATASET_KEYS,
    EVALUATOR_KEYS,
    FORMAT_VERSION,
    MODEL_KEYS,
    ROUTER_KEYS,
    TEACHER_KEYS,
    TOP_LEVEL,
    TOP_LEVEL_TRAINING_FIELDS,
)

LIST_HINT = "list them with `sentrix plugins list --kind {kind}`"
LABEL_COLUMNS = ("label", "labels", "score", "scores")
DATA_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".parquet": "parquet"}
_SINGULAR = {
    "losses": "loss",
    "batch_samplers": "batch sampler",
    "multi_dataset_batch_samplers": "multi-dataset batch sampler",
    "evaluators": "evaluator",
    "router_mappings": "router mapping",
    "callbacks": "callback",
    "modules": "module",
}
# Parameters the runner fills in itself, per kind.
_SUPPLIED = {"losses": ("model",), "callbacks": (), "evaluators": (), "modules": ()}


@attrs.define
class ValidatedConfig:
    """A config that passed validation: the normalised config plus what validation already loaded."""

    config: dict[str, Any]
    source: str | None
    base_dir: Path
    train_datasets: dict[str, Any] = attrs.field(factory=dict)
    eval_datasets: dict[str, Any] = attrs.field(factory=dict)
    evaluator_data: list[Any] = attrs.field(factory=list)
    evaluator_mappings: list[dict[str, Any]] = attrs.field(factory=list)  # parameter -> mapping, per evaluator
    components: dict[str, Any] = attrs.field(factory=dict)  # config path -> loaded class/callable
    training_args: Any = None
    warnings: list[str] = attrs.field(factory=list)

    @property
    def output_dir(self) -> str:
        return str(self.config["training_args"]["output_dir"])


def validate_config(
    config: dict[str, Any],
    *,
    base_dir: str | Path = ".",
    source: str | None = None,
    allow_import_paths: bool = False,
    load_data: bool = True,
    default_output_dir: str | None = None,
    purpose: str = "train",
) -> ValidatedConfig:
    """Check ``config`` completely; return the normalised config or raise :class:`ConfigError`.

    ``purpose="evaluate"`` checks only what ``sentrix evaluate`` uses: the ``evaluators`` section.
    """
    validator = _Validator(config, Path(base_dir), source, allow_import_paths, load_data, default_output_dir)
    return validator.run_evaluate() if purpose == "evaluate" else validator.run()


class _Validator:
    def __init__(self, config: dict[str, Any], base_dir: Path, source: str | None, allow_import_paths: bool,
                 load_data: bool, default_output_dir: str | None):
        self.raw = config
        self.base_dir = base_dir
        self.source = source
        self.issues: list[ConfigIssue] = []
        self.allow_import_paths = bool(allow_import_paths) or config.get("allow_import_paths") is True
        self.load_data = load_data
        self.default_output_dir = default_output_dir
        self.result = ValidatedConfig(config={}, source=source, base_dir=base_dir)

    # ------------------------------------------------------------------ helpers
    def issue(self, path: str, message: str, fix: str = "") -> None:
        self.issues.append(ConfigIssue(path, message, fix))

    def unknown_keys(self, mapping: dict[str, Any], allowed: dict[str, str], path: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.issue(join_path(path, key), f"unknown key {key!r}.{close_names(str(key), allowed)}",
                           f"use one of: {', '.join(allowed)}.")

    def expect(self, value: Any, types: tuple[type, ...], path: str, what: str, example: str) -> bool:
        if isinstance(value, bool) and bool not in types:
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            self.issue(path, f"expected {what}, got {type(value).__name__} {value!r}.", f"write it as {example}.")
        return ok

    # ------------------------------------------------------------------ components
    def resolve(self, kind: str, name: Any, path: str) -> Any:
        """The class/callable registered as ``name`` (or an import path, when allowed), else ``None`` + an issue."""
        from sentrix.errors import SentrixError
        from sentrix.registry import get_registry

        what = _SINGULAR[kind]
        if not isinstance(name, str) or not name:
            self.issue(path, f"expected a registered {what} name (a string), got {name!r}.",
                       f"write the name, e.g. `{_example_name(kind)}`; {LIST_HINT.format(kind=kind)}.")
            return None
        registry = get_registry(kind)
        if name in registry:
            try:
                return registry.get(name)
            except SentrixError as exc:
                self.issue(path, f"{what} {name!r} is registered but cannot be used: {exc}", "see the message above.")
                return None
        if _looks_like_import_path(name):
            if not self.allow_import_paths:
                self.issue(path, f"{name!r} is not a registered {what}; it looks like an import path, and import paths "
                           "are off by default (a config must not run unregistered code).",
                           "register the component in a plugin, or opt in with `allow_import_paths: true` in the config "
                           "or `--allow-import-paths` on the command line.")
                return None
            try:
                return _import_path(name)
            except Exception as exc:
                self.issue(path, f"cannot import {name!r}: {type(exc).__name__}: {exc}.",
                           "give `module.attribute` or `module:attribute` of an importable object.")
                return None
        self.issue(path, f"unknown {what} {name!r}.{close_names(name, registry.names(include_aliases=True))}",
                   f"{LIST_HINT.format(kind=kind)}, or install the plugin that provides it.")
        return None

    def component_spec(self, kind: str, spec: Any, path: str, mappings: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Normalise ``name`` or ``{name, params}``; resolve it and check the params. Returns ``{name, params}``."""
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, dict):
            self.issue(path, f"expected a {_SINGULAR[kind]} name or a mapping {{name, params}}, got {type(spec).__name__}.",
                       f"write `name: {_example_name(kind)}` with optional `params:`.")
            return None
        allowed = EVALUATOR_KEYS if kind == "evaluators" else COMPONENT_KEYS
        self.unknown_keys(spec, allowed, path)
        if "name" not in spec:
            self.issue(join_path(path, "name"), f"missing the {_SINGULAR[kind]} name.",
                       f"add `name: {_example_name(kind)}`; {LIST_HINT.format(kind=kind)}.")
            return None
        params = spec.get("params") or {}
        if not isinstance(params, dict):
            self.issue(join_path(path, "params"), f"expected a mapping of parameter -> value, got {type(params).__name__}.",
                       "write `params:` followed by indented `name: value` lines.")
            params = {}
        component = self.resolve(kind, spec["name"], join_path(path, "name"))
        out = {"name": spec["name"], "params": dict(params)}
        if component is None:
            return out
        self.result.components[path] = component
        extra = set(spec.get("inputs") or {}) if kind == "evaluators" and isinstance(spec.get("inputs"), dict) else set()
        unreadable = kind == "evaluators" and spec.get("mappings") is not None and mappings is None  # already reported
        out["params"] = self.check_params(kind, component, params, join_path(path, "params"), extra_given=extra,
                                          mappings=mappings, check_required=not unreadable)
        return out

    def check_params(self, kind: str, component: Any, params: dict[str, Any], path: str,
                     extra_given: set[str] = frozenset(), mappings: dict[str, Any] | None = None,
                     check_required: bool = True) -> dict[str, Any]:
        parameters, hints = _signature(component)
        if parameters is None:
            return params
        supplied = set(_SUPPLIED.get(kind, ()))
        accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        var_kw = any(p.kind is p.VAR_KEYWORD for p in parameters)
        out = {}
        for key, value in params.items():
            where = join_path(path, key)
            if key in supplied:
                self.issue(where, f"`{key}` is filled in by sentrix and cannot be set in the config.", f"remove `{key}`.")
                continue
            if key not in accepted and not var_kw:
                self.issue(where, f"unknown parameter {key!r}.{close_names(key, accepted)}",
                           f"accepted parameters: {', '.join(a for a in accepted if a not in supplied) or '(none)'}.")
                continue
            if kind == "losses" and key == "loss":  # a wrapper loss (Matryoshka, AdaptiveLayer...) around another loss
                out[key] = self.component_spec("losses", value, where)
                continue
            if isinstance(value, dict) and set(value) == {"model"}:  # {model: path}: a model loaded by the runner
                out[key] = {"model": self.model_reference(value["model"], join_path(where, "model"))}
                continue
            hint = hints.get(key, inspect.Parameter.empty)
            ok, coerced = _check_type(value, hint)
            if not ok:
                self.issue(where, f"expected {_type_name(hint)}, got {type(value).__name__} {value!r}.",
                           f"give a value of type {_type_name(hint)}.")
                continue
            out[key] = coerced
        given = set(params) | supplied | set(extra_given) | set(mappings or ())
        for p in parameters:
            if check_required and p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in given:
                if mappings is not None:
                    self.issue(join_path(path.rsplit(".params", 1)[0], "mappings"),
                               f"evaluator parameter {p.name!r} is required but the mappings file has no {p.name!r} key "
                               "(and neither `inputs` nor `params` gives it).",
                               f"add \"{p.name}\": {{...}} to the JSON file, next to its other keys.")
                elif kind == "evaluators":
                    self.issue(join_path(path.rsplit(".params", 1)[0], "inputs"),
                               f"evaluator parameter {p.name!r} is required but neither `inputs` nor `params` gives it.",
                               f"map it to a column (`inputs: {{{p.name}: <column>}}`) or set it in `params`.")
                else:
                    self.issue(join_path(path, p.name), f"required parameter {p.name!r} is missing.",
                               f"add `{p.name}:` under `{path}`.")
        return out

    def model_reference(self, value: Any, path: str) -> Any:
        if not isinstance(value, str) or not value:
            self.issue(path, f"expected a model path or Hub id (a string), got {value!r}.",
                       "give a local folder or a Hub id such as sentence-transformers/all-MiniLM-L6-v2.")
            return value
        local = self.base_dir / value
        if value.startswith((".", "/", "~")) or local.exists():
            if not local.expanduser().exists():
                self.issue(path, f"model folder {value!r} does not exist (looked in {local}).",
                           "give an existing folder (relative to the config file) or a Hub id.")
                return value
            return str(local.expanduser().resolve())
        return value

    # ------------------------------------------------------------------ sections
    def run(self) -> ValidatedConfig:
        raw = self.raw
        self.unknown_keys(raw, TOP_LEVEL, "")
        cfg: dict[str, Any] = {"version": FORMAT_VERSION}
        version = raw.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            self.issue("version", f"config format version {version!r} is not supported (this sentrix reads {FORMAT_VERSION}).",
                       f"set `version: {FORMAT_VERSION}` and check docs/config.md for changes.")
        if "allow_import_paths" in raw:
            if self.expect(raw["allow_import_paths"], (bool,), "allow_import_paths", "true or false", "`allow_import_paths: true`"):
                cfg["allow_import_paths"] = raw["allow_import_paths"]
        cfg["model"] = self.model(raw.get("model"))
        cfg["train_datasets"], self.result.train_datasets = self.datasets(raw.get("train_datasets"), "train_datasets", required=True)
        eval_cfg, self.result.eval_datasets = self.datasets(raw.get("eval_datasets"), "eval_datasets", required=False)
        if eval_cfg:
            cfg["eval_datasets"] = eval_cfg
        cfg["loss"] = self.losses(raw.get("loss"))
        cfg["evaluators"] = self.evaluators(raw.get("evaluators"))
        for key, kind in (("batch_sampler", "batch_samplers"), ("multi_dataset_batch_sampler", "multi_dataset_batch_samplers")):
            if key in raw:
                if self.resolve(kind, raw[key], key) is not None:
                    cfg[key] = raw[key]
        if "router_mapping" in raw:
            cfg["router_mapping"] = self.router_mapping(raw["router_mapping"])
        if "prompts" in raw:
            cfg["prompts"] = self.prompts(raw["prompts"])
        cfg["callbacks"] = self.callbacks(raw.get("callbacks"))
        evaluate_before = raw.get("evaluate_before_training", True)
        if self.expect(evaluate_before, (bool,), "evaluate_before_training", "true or false", "`evaluate_before_training: false`"):
            cfg["evaluate_before_training"] = evaluate_before
        if "plugins" in raw:
            cfg["plugins"] = self.plugins(raw["plugins"])
        self.check_loss_data(cfg)
        cfg["training_args"] = self.training_args(raw.get("training_args"), cfg)
        if self.issues:
            raise ConfigError(self.issues, self.source)
        self.result.config = cfg
        return self.result

    def run_evaluate(self) -> ValidatedConfig:
        self.unknown_keys(self.raw, TOP_LEVEL, "")
        if "train_datasets" in self.raw or "eval_datasets" in self.raw:  # evaluators may name these datasets
            _, self.result.train_datasets = self.datasets(self.raw.get("train_datasets"), "train_datasets", required=False)
            _, self.result.eval_datasets = self.datasets(self.raw.get("eval_datasets"), "eval_datasets", required=False)
        evaluators = self.evaluators(self.raw.get("evaluators"))
        if not self.raw.get("evaluators") and not self.issues:
            self.issue("evaluators", "the config has no evaluators to run.",
                       "add `evaluators: [{name: embedding_similarity, data: ..., inputs: ...}]`.")
        if self.issues:
            raise ConfigError(self.issues, self.source)
        self.result.config = {"version": FORMAT_VERSION, "evaluators": evaluators}
        return self.result

    def model(self, spec: Any) -> dict[str, Any]:
        path = "model"
        if isinstance(spec, str):
            spec = {"name_or_path": spec}
        if spec is None:
            self.issue(path, "the config names no model.", "add `model: {name_or_path: sentence-transformers/all-MiniLM-L6-v2}`.")
            return {}
        if not self.expect(spec, (dict,), path, "a mapping or a model path", "`model: {name_or_path: <path or Hub id>}`"):
            return {}
        self.unknown_keys(spec, MODEL_KEYS, path)
        out = dict(spec)
        sources = [k for k in ("name_or_path", "modules", "router") if spec.get(k) is not None]
        if len(sources) != 1:
            self.issue(path, f"give exactly one of name_or_path, modules or router; got {', '.join(sources) or 'none'}.",
                       "keep one: `name_or_path` loads a model, `modules` builds one, `router` builds a query/document model.")
        if spec.get("name_or_path") is not None:
            out["name_or_path"] = self.model_reference(spec["name_or_path"], "model.name_or_path")
        for key in ("modules", "add_modules"):
            if spec.get(key) is not None:
                out[key] = self.module_list(spec[key], join_path(path, key))
        if spec.get("router") is not None:
            out["router"] = self.router(spec["router"], "model.router")
        types = {"revision": (str,), "max_seq_length": (int,), "prompts": (dict,), "default_prompt_name": (str,),
                 "similarity_fn_name": (str,), "truncate_dim": (int,), "model_kwargs": (dict,), "processor_kwargs": (dict,),
                 "config_kwargs": (dict,), "trust_remote_code": (bool,), "device": (str,)}
        for key, allowed in types.items():
            if spec.get(key) is not None:
                self.expect(spec[key], allowed, join_path(path, key), f"a {allowed[0].__name__}", f"`{key}: <{allowed[0].__name__}>`")
        if spec.get("similarity_fn_name") not in (None, "cosine", "dot", "euclidean", "manhattan"):
            self.issue("model.similarity_fn_name", f"unknown similarity {spec['similarity_fn_name']!r}.",
                       "use cosine, dot, euclidean or manhattan.")
        return out

    def module_list(self, spec: Any, path: str) -> list[dict[str, Any]]:
        if not self.expect(spec, (list,), path, "a list of modules", "a list of `- {type: <module>, params: {...}}` items"):
            return []
        out = []
        for index, item in enumerate(spec):
            where = join_path(path, index)
            if isinstance(item, str):
                item = {"type": item}
            if not self.expect(item, (dict,), where, "a module mapping {type, params}", "`- {type: pooling, params: {...}}`"):
                continue
            self.unknown_keys(item, {"type": "registered module name", "params": "keyword arguments"}, where)
            module = self.resolve("modules", item.get("type"), join_path(where, "type"))
            params = item.get("params") or {}
            if module is not None and self.expect(params, (dict,), join_path(where, "params"), "a mapping", "`params: {...}`"):
                params = self.check_module_params(module, params, join_path(where, "params"))
            out.append({"type": item.get("type"), "params": params})
        return out

    def check_module_params(self, module: Any, params: dict[str, Any], path: str) -> dict[str, Any]:
        """Module params: names and types; a dimension the previous module gives may be left out."""
        parameters, hints = _signature(module)
        if parameters is None:
            return params
        accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        var_kw = any(p.kind is p.VAR_KEYWORD for p in parameters)
        out = {}
        for key, value in params.items():
            if key not in accepted and not var_kw:
                self.issue(join_path(path, key), f"unknown parameter {key!r}.{close_names(key, accepted)}",
                           f"accepted parameters: {', '.join(accepted)}.")
                continue
            ok, coerced = _check_type(value, hints.get(key, inspect.Parameter.empty))
            if not ok:
                self.issue(join_path(path, key), f"expected {_type_name(hints.get(key))}, got {type(value).__name__} {value!r}.",
                           f"give a value of type {_type_name(hints.get(key))}.")
                continue
            out[key] = coerced
        return out

    def router(self, spec: Any, path: str) -> dict[str, Any]:
        if not self.expect(spec, (dict,), path, "a mapping {routes, default_route}", "`router: {routes: {query: <path>, document: <path>}}`"):
            return {}
        self.unknown_keys(spec, ROUTER_KEYS, path)
        routes = spec.get("routes")
        out: dict[str, Any] = {"routes": {}, "default_route": spec.get("default_route", "document")}
        if not isinstance(routes, dict) or not routes:
            self.issue(join_path(path, "routes"), "expected a mapping route -> model path or Hub id.",
                       "write `routes: {query: <path or Hub id>, document: <path or Hub id>}`.")
            return out
        for route, model in routes.items():
            out["routes"][route] = self.model_reference(model, join_path(path, "routes", route))
        if out["default_route"] is not None and out["default_route"] not in routes:
            self.issue(join_path(path, "default_route"), f"route {out['default_route']!r} is not one of {list(routes)}.",
                       f"use one of: {', '.join(routes)}.")
        return out

    # ------------------------------------------------------------------ data
    def datasets(self, spec: Any, path: str, required: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        if spec is None:
            if required:
                self.issue(path, "no training data.", "add `train_datasets: {<name>: {path: data.tsv}}`.")
            return {}, {}
        if not self.expect(spec, (dict,), path, "a mapping dataset name -> dataset spec", f"`{path}: {{<name>: {{path: data.tsv}}}}`"):
            return {}, {}
        if required and not spec:
            self.issue(path, "no training data.", "add at least one dataset.")
        configs, loaded = {}, {}
        for name, item in spec.items():
            cfg, data = self.dataset(item, join_path(path, name))
            configs[name] = cfg
            if data is not None:
                loaded[name] = data
        return configs, loaded

    def dataset(self, spec: Any, path: str) -> tuple[dict[str, Any], Any]:
        if isinstance(spec, str):
            spec = {"path": spec}
        if not self.expect(spec, (dict,), path, "a dataset spec (a mapping)", "`{path: data.tsv, columns: [a, b]}`"):
            return {}, None
        self.unknown_keys(spec, DATASET_KEYS, path)
        out = dict(spec)
        has_path, has_hub = spec.get("path") is not None, spec.get("hub") is not None
        if has_path == has_hub:
            self.issue(path, "give exactly one of `path` (a local file) or `hub` (a Hub dataset id).",
                       "e.g. `path: data/train.tsv` or `hub: sentence-transformers/stsb`.")
            return out, None
        fmt = spec.get("format")
        if has_path:
            if not self.expect(spec["path"], (str,), join_path(path, "path"), "a file path", "`path: data/train.tsv`"):
                return out, None
            file = (self.base_dir / spec["path"]).expanduser()
            fmt = fmt or DATA_SUFFIXES.get(file.suffix.lower())
            if fmt not in DATA_SUFFIXES.values():
                self.issue(join_path(path, "format" if spec.get("format") else "path"),
                           f"cannot tell the format of {spec['path']!r}; expected one of {', '.join(DATA_SUFFIXES.values())}.",
                           "use a file with one of those suffixes or set `format:`.")
                return out, None
            if not file.is_file():
                self.issue(join_path(path, "path"), f"data file {spec['path']!r} does not exist (looked for {file}).",
                           "give a path relative to the config file.")
                return out, None
            out["path"] = str(file.resolve())
            out["format"] = fmt
        columns, rename, limit = spec.get("columns"), spec.get("rename"), spec.get("limit")
        if columns is not None and not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
            self.issue(join_path(path, "columns"), f"expected a list of column names, got {columns!r}.", "write `columns: [a, b, label]`.")
            columns = None
        if rename is not None and not (isinstance(rename, dict) and all(isinstance(v, str) for v in rename.values())):
            self.issue(join_path(path, "rename"), f"expected a mapping old name -> new name, got {rename!r}.", "write `rename: {score: label}`.")
            rename = None
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            self.issue(join_path(path, "limit"), f"expected a positive integer, got {limit!r}.", "write `limit: 1000`.")
            limit = None
        teacher = spec.get("teacher")
        if teacher is not None:
            out["teacher"] = self.teacher(teacher, join_path(path, "teacher"))
        if not self.load_data:
            return out, None
        try:
            data = load_dataset_spec(out)
        except Exception as exc:
            self.issue(path, f"cannot read the dataset: {type(exc).__name__}: {exc}",
                       "check the file (header row, separator) or the Hub id, split and subset.")
            return out, None
        available = list(data.column_names)
        if columns is not None:
            missing = [c for c in columns if c not in available]
            for column in missing:
                self.issue(join_path(path, "columns"), f"column {column!r} is not in the data.{close_names(column, available)}",
                           f"the data has columns: {', '.join(available)}.")
            if missing:
                return out, None
            data = data.select_columns(columns)
        if rename:
            present = list(data.column_names)
            bad = [old for old in rename if old not in present]
            for old in bad:
                self.issue(join_path(path, "rename", old), f"cannot rename {old!r}: no such column.{close_names(old, present)}",
                           f"rename one of: {', '.join(present)}.")
            if bad:
                return out, None
            data = data.rename_columns(rename)
        if limit is not None:
            data = data.select(range(min(limit, len(data))))
        if isinstance(out.get("teacher"), dict):
            teacher = out["teacher"]
            needed = [teacher["column"]] if teacher.get("mode", "embedding") == "embedding" else list(teacher.get("columns") or [])
            for column in needed:
                if column not in data.column_names:
                    self.issue(join_path(path, "teacher"), f"teacher column {column!r} is not in the data.{close_names(str(column), data.column_names)}",
                               f"the data has columns: {', '.join(data.column_names)}.")
        return out, data

    def teacher(self, spec: Any, path: str) -> dict[str, Any]:
        if not self.expect(spec, (dict,), path, "a mapping {model, column, output}", "`teacher: {model: <path>, column: text}`"):
            return {}
        self.unknown_keys(spec, TEACHER_KEYS, path)
        out = dict(spec)
        out["model"] = self.model_reference(spec.get("model"), join_path(path, "model"))
        mode = spec.get("mode", "embedding")
        out["mode"] = mode
        if mode == "embedding":
            if not isinstance(spec.get("column"), str):
                self.issue(join_path(path, "column"), "mode embedding needs the text column the teacher embeds.", "add `column: <text column>`.")
        elif mode == "margin":
            cols = spec.get("columns")
            if not (isinstance(cols, list) and len(cols) >= 3):
                self.issue(join_path(path, "columns"), "mode margin needs [query, positive, negative...] columns (3 or more).",
                           "add `columns: [query, positive, negative]`.")
        else:
            self.issue(join_path(path, "mode"), f"unknown teacher mode {mode!r}.", "use `embedding` (MSE) or `margin` (MarginMSE).")
        out.setdefault("output", "label")
        return out

    # ------------------------------------------------------------------ losses, evaluators, callbacks
    def losses(self, spec: Any) -> Any:
        if spec is None:
            self.issue("loss", "the config names no loss.", "add `loss: {name: <loss>}`; list them with `sentrix plugins list --kind losses`.")
            return None
        if isinstance(spec, str) or (isinstance(spec, dict) and "name" in spec):
            return self.component_spec("losses", spec, "loss")
        if not isinstance(spec, dict):
            self.issue("loss", f"expected a loss spec or dataset name -> loss spec, got {type(spec).__name__}.", "write `loss: {name: cosent}`.")
            return None
        names = list(self.raw.get("train_datasets") or {}) if isinstance(self.raw.get("train_datasets"), dict) else []
        out = {}
        for key, item in spec.items():
            if key not in names:
                self.issue(join_path("loss", key), f"{key!r} is neither `name` nor a training dataset.{close_names(str(key), ['name', *names])}",
                           f"give one loss as `loss: {{name: ...}}`, or one per dataset keyed by: {', '.join(names) or '(no datasets)'}.")
                continue
            out[key] = self.component_spec("losses", item, join_path("loss", key))
        for name in names:
            if name not in spec:
                self.issue(join_path("loss", name), f"training dataset {name!r} has no loss.", f"add `loss.{name}: {{name: <loss>}}`.")
        return out

    def evaluators(self, spec: Any) -> list[dict[str, Any]]:
        if spec is None:
            return []
        if not self.expect(spec, (list,), "evaluators", "a list of evaluator specs", "`evaluators: [{name: embedding_similarity, data: ..., inputs: ...}]`"):
            return []
        out = []
        for index, item in enumerate(spec):
            path = join_path("evaluators", index)
            mappings_file = item.get("mappings") if isinstance(item, dict) else None
            source, mappings = self.mappings(mappings_file, join_path(path, "mappings")) if mappings_file is not None else (None, None)
            normalised = self.component_spec("evaluators", item, path, mappings=mappings)
            if normalised is None:
                continue
            if mappings_file is not None:
                normalised["mappings"] = source
                if mappings is not None:
                    self.check_mappings(mappings, item.get("name"), join_path(path, "mappings"))
            data_spec = item.get("data") if isinstance(item, dict) else None
            inputs = item.get("inputs") if isinstance(item, dict) else None
            data = None
            if data_spec is None:
                if inputs:
                    self.issue(join_path(path, "data"), "`inputs` maps parameters to columns but the evaluator has no `data`.",
                               "add `data:` (a dataset spec or a dataset name).")
            elif isinstance(data_spec, str) and (data_spec in (self.raw.get("train_datasets") or {}) or data_spec in (self.raw.get("eval_datasets") or {})):
                normalised["data"] = data_spec
                data = self.result.eval_datasets.get(data_spec, self.result.train_datasets.get(data_spec))
            else:
                normalised["data"], data = self.dataset(data_spec, join_path(path, "data"))
            if inputs is not None:
                if not self.expect(inputs, (dict,), join_path(path, "inputs"), "a mapping parameter -> column", "`inputs: {sentences1: sentence1}`"):
                    inputs = {}
                component = self.result.components.get(path)
                parameters, _ = _signature(component) if component is not None else (None, {})
                accepted = [p.name for p in parameters or ()]
                for param, column in inputs.items():
                    if parameters is not None and param not in accepted:
                        self.issue(join_path(path, "inputs", param), f"evaluator {item['name']!r} has no parameter {param!r}.{close_names(param, accepted)}",
                                   f"map one of its parameters: {', '.join(a for a in accepted if a != 'self')}.")
                    if data is not None and column not in data.column_names:
                        self.issue(join_path(path, "inputs", param), f"column {column!r} is not in the evaluator's data.{close_names(str(column), data.column_names)}",
                                   f"the data has columns: {', '.join(data.column_names)}.")
                normalised["inputs"] = dict(inputs)
            self.result.evaluator_data.append(data)
            self.result.evaluator_mappings.append(mappings or {})
            out.append(normalised)
        return out

    def mappings(self, value: Any, path: str) -> tuple[Any, dict[str, Any] | None]:
        """Read an evaluator's ``mappings`` JSON file: (its absolute path, parameter -> mapping such as queries, corpus)."""
        if not self.expect(value, (str,), path, "a JSON file path", "`mappings: data/retrieval.json`"):
            return value, None
        file = (self.base_dir / value).expanduser()
        if not file.is_file():
            self.issue(path, f"mappings file {value!r} does not exist (looked for {file}).",
                       "give a JSON file path relative to the config file.")
            return value, None
        try:
            loaded = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            self.issue(path, f"mappings file {value!r} is not valid JSON: {exc}.", "fix the JSON syntax at the position the message names.")
            return value, None
        if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
            self.issue(path, f"mappings file {value!r} must hold a JSON object of parameter -> object "
                       "(e.g. {\"queries\": {id: text}, \"corpus\": {id: text}, \"relevant_docs\": {query id: [doc ids]}}).",
                       "write one top-level key per evaluator parameter, each holding an object.")
            return value, None
        return str(file.resolve()), loaded

    def check_mappings(self, mappings: dict[str, Any], name: Any, path: str) -> None:
        """Every mapping key names a parameter; relevant_docs ids exist in queries and corpus."""
        component = self.result.components.get(path.rsplit(".mappings", 1)[0])
        parameters, _ = _signature(component) if component is not None else (None, {})
        if parameters is not None and not any(p.kind is p.VAR_KEYWORD for p in parameters):
            accepted = [p.name for p in parameters if p.name != "self"]
            for key in mappings:
                if key not in accepted:
                    self.issue(path, f"key {key!r} of the mappings file is not a parameter of evaluator {name!r}.{close_names(key, accepted)}",
                               f"rename or remove the key; the evaluator's parameters: {', '.join(accepted)}.")
        queries, corpus, relevant = (mappings.get(k) for k in ("queries", "corpus", "relevant_docs"))
        if relevant is None:
            return
        bad_values = [q for q, docs in relevant.items() if not (isinstance(docs, list) and all(isinstance(d, str) for d in docs))]
        if bad_values:
            self.issue(path, f"relevant_docs must map each query id to a list of corpus ids (strings); not so for {_few(bad_values)}.",
                       "write `\"relevant_docs\": {\"q1\": [\"d1\", \"d7\"]}`.")
            return
        if isinstance(queries, dict):
            missing = [q for q in relevant if q not in queries]
            if missing:
                self.issue(path, f"relevant_docs names query ids that are not in queries: {_few(missing)}.",
                           "add those queries to `queries`, or remove their entries from `relevant_docs`.")
        if isinstance(corpus, dict):
            missing = sorted({d for docs in relevant.values() for d in docs if d not in corpus})
            if missing:
                self.issue(path, f"relevant_docs names document ids that are not in corpus: {_few(missing)}.",
                           "add those documents to `corpus`, or remove them from `relevant_docs`.")

    def callbacks(self, spec: Any) -> list[dict[str, Any]]:
        if spec is None:
            return []
        if not self.expect(spec, (list,), "callbacks", "a list of callback specs", "`callbacks: [{name: early_stopping, params: {...}}]`"):
            return []
        return [c for c in (self.component_spec("callbacks", item, join_path("callbacks", i)) for i, item in enumerate(spec)) if c]

    def router_mapping(self, spec: Any) -> Any:
        if isinstance(spec, str):
            return spec if self.resolve("router_mappings", spec, "router_mapping") is not None else spec
        if not self.expect(spec, (dict,), "router_mapping", "a mapping column -> route or a registered name", "`router_mapping: {query: query, answer: document}`"):
            return spec
        columns = {c for d in self.result.train_datasets.values() for c in d.column_names}
        nested = all(isinstance(v, dict) for v in spec.values())
        flat = {} if nested else spec
        for key, value in spec.items():
            if nested:
                if key not in self.result.train_datasets and self.result.train_datasets:
                    self.issue(join_path("router_mapping", key), f"{key!r} is not a training dataset.{close_names(str(key), self.result.train_datasets)}",
                               f"use one of: {', '.join(self.result.train_datasets)}.")
                    continue
                data = self.result.train_datasets.get(key)
                for column in value:
                    if data is not None and column not in data.column_names:
                        self.issue(join_path("router_mapping", key, column), f"column {column!r} is not in dataset {key!r}.{close_names(column, data.column_names)}",
                                   f"dataset {key!r} has columns: {', '.join(data.column_names)}.")
        for column in flat:
            if columns and column not in columns:
                self.issue(join_path("router_mapping", column), f"column {column!r} is in no training dataset.{close_names(str(column), columns)}",
                           f"the training columns are: {', '.join(sorted(columns))}.")
        return spec

    def prompts(self, spec: Any) -> Any:
        if isinstance(spec, str):
            return spec
        if not self.expect(spec, (dict,), "prompts", "a prompt string or a mapping", "`prompts: {query: 'query: '}`"):
            return spec
        for key, value in spec.items():
            if not isinstance(value, (str, dict)):
                self.issue(join_path("prompts", key), f"expected a prompt string or a mapping column -> prompt, got {value!r}.",
                           "quote the prompt, e.g. `'query: '`.")
        return spec

    def plugins(self, spec: Any) -> dict[str, str]:
        if not self.expect(spec, (dict,), "plugins", "a mapping distribution -> version", "`plugins: {sentrix: 0.1.0}`"):
            return {}
        from sentrix.config.provenance import plugin_versions

        installed = plugin_versions()
        for dist, version in spec.items():
            have = installed.get(dist)
            if have is None:
                self.result.warnings.append(f"plugins.{dist}: the config was made with {dist} {version}, which is not loaded now.")
            elif str(have) != str(version):
                self.result.warnings.append(f"plugins.{dist}: the config was made with {dist} {version}; {have} is installed.")
        return dict(spec)

    # ------------------------------------------------------------------ cross-checks
    def check_loss_data(self, cfg: dict[str, Any]) -> None:
        """Each dataset against its loss's declared needs (number of text columns, label)."""
        from sentrix.data_needs import data_needs_of

        loss = cfg.get("loss")
        for split, datasets in (("train_datasets", self.result.train_datasets), ("eval_datasets", self.result.eval_datasets)):
            for name, data in datasets.items():
                path = "loss" if isinstance(loss, dict) and "name" in loss else join_path("loss", name)
                component = self.result.components.get(path)
                needs = data_needs_of(component) if component is not None else None
                if needs is None:
                    continue
                teacher = (cfg.get(split, {}).get(name) or {}).get("teacher") or {}
                label_cols = [c for c in data.column_names if c in LABEL_COLUMNS or c == teacher.get("output")]
                texts = [c for c in data.column_names if c not in label_cols]
                if teacher.get("output") and teacher["output"] not in label_cols:  # added by the teacher before training
                    label_cols.append(teacher["output"])
                where = join_path(split, name, "columns")
                loss_name = (loss.get("name") if "name" in loss else loss.get(name, {}).get("name")) if isinstance(loss, dict) else loss
                if not needs.accepts_column_count(len(texts)):
                    self.issue(where, f"loss {loss_name!r} needs {needs.describe_columns()}, but dataset {name!r} has "
                               f"{len(texts)}: {', '.join(texts) or '(none)'}.",
                               "select the right columns in order with `columns:` (and `rename:`), or pick another loss.")
                if needs.label in ("float", "int") and not label_cols:
                    self.issue(where, f"loss {loss_name!r} needs a label column ({' or '.join(LABEL_COLUMNS[:3])}), "
                               f"but dataset {name!r} has none: {', '.join(data.column_names)}.",
                               "keep the score column and rename it to `label` (`rename: {score: label}`), or add a teacher.")
                if needs.label == "none" and label_cols:
                    self.issue(where, f"loss {loss_name!r} takes no label, but dataset {name!r} has {label_cols[0]!r}.",
                               f"drop {label_cols[0]!r} from `columns:`.")

    def training_args(self, spec: Any, cfg: dict[str, Any]) -> dict[str, Any]:
        from transformers import HfArgumentParser

        from sentrix.training_args import SentenceTransformerTrainingArguments as Args

        path = "training_args"
        if spec is None:
            spec = {}
        if not self.expect(spec, (dict,), path, "a mapping of training arguments", "`training_args: {num_train_epochs: 1}`"):
            return {}
        fields = {f.name: f for f in dataclasses.fields(Args) if f.init}
        try:
            hints = typing.get_type_hints(Args)
        except Exception:  # one unresolvable annotation: resolve the others one by one
            hints = {}
            namespace = {**vars(typing), **vars(inspect.getmodule(Args))}
            for name, f in fields.items():
                try:
                    hints[name] = eval(f.type, namespace) if isinstance(f.type, str) else f.type  # noqa: S307
                except Exception:
                    hints[name] = inspect.Parameter.empty
        out: dict[str, Any] = {}
        for key, value in spec.items():
            where = join_path(path, key)
            if key in TOP_LEVEL_TRAINING_FIELDS:
                self.issue(where, f"`{key}` has its own top-level section.", f"move it out of training_args: `{key}: ...` at the top level.")
                continue
            if key not in fields:
                self.issue(where, f"unknown training argument {key!r}.{close_names(str(key), fields)}",
                           "see the fields of SentenceTransformerTrainingArguments (transformers.TrainingArguments plus sentrix's).")
                continue
            ok, coerced = _check_type(value, hints.get(key, inspect.Parameter.empty))
            if not ok:
                self.issue(where, f"expected {_type_name(hints.get(key))}, got {type(value).__name__} {value!r}.",
                           f"give a value of type {_type_name(hints.get(key))}.")
                continue
            out[key] = coerced
        if "output_dir" not in out:
            out["output_dir"] = self.default_output_dir or "runs/sentrix"
        out.setdefault("report_to", "none")
        for key in TOP_LEVEL_TRAINING_FIELDS:
            if key in cfg:
                out[key] = cfg[key]
        if self.issues:
            return out
        parse_input = dict(out)
        for key, kind in (("batch_sampler", "batch_samplers"), ("multi_dataset_batch_sampler", "multi_dataset_batch_samplers")):
            value = parse_input.get(key)
            if isinstance(value, str) and value not in _registry_names(kind) and self.allow_import_paths:
                parse_input[key] = _import_path(value)
        try:
            (args,) = HfArgumentParser(Args).parse_dict(parse_input, allow_extra_keys=False)
        except Exception as exc:
            self.issue(path, f"the training arguments are inconsistent: {exc}", "change the arguments the message names.")
            return {k: v for k, v in out.items() if k not in TOP_LEVEL_TRAINING_FIELDS}
        self.result.training_args = args
        return {k: v for k, v in out.items() if k not in TOP_LEVEL_TRAINING_FIELDS}


# ---------------------------------------------------------------------------------------------
# data loading
# ---------------------------------------------------------------------------------------------
def load_dataset_spec(spec: dict[str, Any]) -> Any:
    """Read one dataset spec (path already absolute, format known) into a ``datasets.Dataset``."""
    import datasets

    if spec.get("path"):
        fmt = spec["format"]
        options: dict[str, Any] = {}
        builder = {"tsv": "csv", "jsonl": "json"}.get(fmt, fmt)
        if fmt == "tsv":
            options = {"sep": "\t", "quoting": 3}  # tab-separated files are read verbatim (no quote characters)
        # A local file is read in a moment; its "Generating train split" bar would only clutter the output.
        bars_were_on = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()
        try:
            return datasets.load_dataset(builder, data_files=spec["path"], split="train", **options)
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
    return datasets.load_dataset(spec["hub"], spec.get("subset"), split=spec.get("split", "train"), revision=spec.get("revision"))


def _few(ids: list[Any], n: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


def _registry_names(kind: str) -> list[str]:
    from sentrix.registry import get_registry

    return get_registry(kind).names(include_aliases=True)


# ---------------------------------------------------------------------------------------------
# signatures and types
# ---------------------------------------------------------------------------------------------
def _looks_like_import_path(name: str) -> bool:
    return ":" in name or ("." in name and all(part.isidentifier() for part in name.split(".")))


def _import_path(name: str) -> Any:
    import importlib

    if ":" in name:
        module_name, _, attr = name.partition(":")
    else:
        module_name, _, attr = name.rpartition(".")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _signature(component: Any) -> tuple[list[inspect.Parameter] | None, dict[str, Any]]:
    target = component.__init__ if inspect.isclass(component) else component
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None, {}
    parameters = list(sig.parameters.values())
    if inspect.isclass(component) and parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    hints: dict[str, Any] = {}
    namespace = dict(vars(typing))
    namespace.update(getattr(inspect.getmodule(target), "__dict__", {}))
    for p in parameters:
        annotation = p.annotation
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # noqa: S307 - the component's own annotation text
            except Exception:
                annotation = inspect.Parameter.empty
        hints[p.name] = annotation
    return parameters, hints


def _check_type(value: Any, hint: Any) -> tuple[bool, Any]:
    """Does ``value`` (from YAML) fit the annotation ``hint``? Returns (ok, value coerced: int -> float, '1e-5' -> 1e-5)."""
    if hint is inspect.Parameter.empty or hint is Any or hint is None and value is None:
        return True, value
    if hint is type(None):
        return value is None, value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        for arg in args:
            ok, coerced = _check_type(value, arg)
            if ok:
                return True, coerced
        return False, value
    if origin is typing.Literal:
        return value in args, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, bool):
            return False, value
        if isinstance(value, (int, float)):
            return True, float(value)
        if isinstance(value, str):
            try:
                return True, float(value)
            except ValueError:
                return False, value
        return False, value
    if hint is str:
        return isinstance(value, str), value
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
        return (value in values or value in hint.__members__), value
    container = origin or hint
    if container in (list, tuple, abc.Sequence, abc.Iterable, abc.Collection, set, frozenset):
        if not isinstance(value, (list, tuple)):
            return False, value
        inner = args[0] if args and container is not tuple else (args[0] if len(args) == 2 and args[1] is Ellipsis else None)
        if inner is not None:
            coerced = []
            for item in value:
                ok, item = _check_type(item, inner)
                if not ok:
                    return False, value
                coerced.append(item)
            return True, list(coerced)
        return True, value
    if container in (dict, abc.Mapping, abc.MutableMapping):
        return isinstance(value, dict), value
    if container is abc.Callable:
        return isinstance(value, str), value
    return True, value  # other classes (models, tensors...): not checkable from a config value


def _type_name(hint: Any) -> str:
    if hint is None or hint is inspect.Parameter.empty:
        return "any value"
    if inspect.isclass(hint) and not typing.get_args(hint):
        if issubclass(hint, enum.Enum):
            return "one of " + ", ".join(repr(m.value) for m in hint)
        return {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a string"}.get(hint.__name__, hint.__name__)
    origin = typing.get_origin(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return " or ".join(_type_name(a) for a in typing.get_args(hint) if a is not type(None)) + (
            " (or null)" if type(None) in typing.get_args(hint) else "")
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (list, tuple, abc.Sequence, abc.Iterable):
        return "a list"
    if origin in (dict, abc.Mapping):
        return "a mapping"
    return str(hint).replace("typing.", "")


def _example_name(kind: str) -> str:
    return {"losses": "cosent", "batch_samplers": "no_duplicates", "multi_dataset_batch_samplers": "proportional",
            "evaluators": "embedding_similarity", "router_mappings": "query_document", "callbacks": "early_stopping",
            "modules": "pooling"}[kind]


__all__ = ["ValidatedConfig", "validate_config", "load_dataset_spec"]
