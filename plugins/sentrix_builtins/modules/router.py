"""Router: sends each input through one of several module pipelines ("routes").

The usual use is an asymmetric retrieval model: queries go through a light encoder, documents
through a strong one (or the same encoder with a different head). The route comes from the
``task`` keyword (``model.encode_query`` passes ``task="query"``, ``encode_document`` passes
``task="document"``; the trainer passes the route of each column, see ``router_mapping``), or
from ``route_mappings`` keyed by ``(task, modality)``; without a task, ``default_route`` is used.

=====================  ==========================================================
reads                  raw inputs (``preprocess``) then whatever the route reads
writes                 whatever the route's modules write; ``task``
saved files            ``router_config.json`` plus one subfolder per sub-module
=====================  ==========================================================

Example::

    from sentrix import SentenceTransformer
    from sentrix.models import Router, StaticEmbedding, Transformer, Pooling

    doc = Transformer("sentence-transformers/all-MiniLM-L6-v2")
    query = StaticEmbedding(doc.tokenizer, embedding_dim=384)
    router = Router.for_query_document([query], [doc, Pooling(384)])
    model = SentenceTransformer(modules=[router])
    q = model.encode_query("what is a panda?")
    d = model.encode_document("The giant panda is a bear native to China.")

Reference: sentence-transformers ``Router`` (formerly ``Asym``).
"""

from __future__ import annotations

import ast
import json
import os
from typing import Any

from torch import nn

from sentrix.plugin_api import InputModule, Module, resolve_module_class


class Router(InputModule):
    """Routes features through ``sub_modules[route]``.

    Each input goes through the modules of one route, chosen from the ``task`` (and ``modality``)
    given to ``encode``/``forward``: ``encode_query`` uses ``task="query"``, ``encode_document``
    ``task="document"``. During training the ``router_mapping`` training argument says which route
    each dataset column takes. It declares ``routes_inputs = True``, which is how the model and the
    trainer recognise a router. Saved in the sentence-transformers ``Router`` layout (``Asym`` folders
    load too).

    Args:
        sub_modules: route name -> list of modules (the first must be an input module).
        default_route: route used when no task is given (default: the first route if
            ``allow_empty_key``).
        allow_empty_key: allow inputs without a task (use the default route); default ``True``.
        route_mappings: ``(task, modality) -> route``; ``None`` in a key matches anything. Default
            ``None``.

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            query_model = SentenceTransformer("all-MiniLM-L6-v2")
            document_model = SentenceTransformer("all-MiniLM-L6-v2")
            router = modules.create("router", sub_modules={"query": list(query_model), "document": list(document_model)})
            model = SentenceTransformer(modules=[router])
            model.encode_query(["what is sentrix?"])    # the query route
    """

    forward_kwargs = {"task", "modality"}
    routes_inputs = True
    config_keys = ["default_route", "allow_empty_key", "route_mappings"]
    config_file_name = "router_config.json"
    module_type = "sentence_transformers.base.modules.router.Router"
    rows_independent = True

    def __init__(
        self,
        sub_modules: dict[str, list[Module]],
        default_route: str | None = None,
        allow_empty_key: bool = True,
        route_mappings: dict[tuple[str | None, str | None], str] | None = None,
    ) -> None:
        super().__init__()
        if not sub_modules:
            raise ValueError("Router needs at least one route in sub_modules.")
        if default_route is not None and default_route not in sub_modules:
            raise ValueError(f"default_route {default_route!r} is not one of the routes {list(sub_modules)}.")
        for target in (route_mappings or {}).values():
            if target not in sub_modules:
                raise ValueError(f"route_mappings points at {target!r}, which is not one of the routes {list(sub_modules)}.")
        self.sub_modules = nn.ModuleDict({name: nn.Sequential(*mods) for name, mods in sub_modules.items()})
        if default_route is None and allow_empty_key:
            default_route = next(iter(sub_modules))
        self.default_route = default_route
        self.allow_empty_key = allow_empty_key
        self.route_mappings = dict(route_mappings or {})

    @classmethod
    def for_query_document(cls, query_modules: list[Module], document_modules: list[Module],
                           default_route: str | None = "document", allow_empty_key: bool = True) -> Router:
        """A Router with a ``query`` and a ``document`` route (for ``encode_query``/``encode_document``)."""
        return cls({"query": query_modules, "document": document_modules}, default_route=default_route,
                   allow_empty_key=allow_empty_key)

    @classmethod
    def contract_example(cls) -> Router:
        """Two StaticEmbedding routes, for the module contract tests."""
        from sentrix.plugin_api import get_registry
        modules = get_registry("modules")

        static = modules.get("static_embedding")
        return cls.for_query_document([static.contract_example()], [static.contract_example()])

    # ------------------------------------------------------------------ routing
    def _route(self, task: str | None, modality: str | None = None) -> str:
        for key in ((task, modality), (task, None), (None, modality), (None, None)):
            if key in self.route_mappings:
                return self.route_mappings[key]
        if task is not None and task in self.sub_modules:
            return task
        if task is not None:
            raise ValueError(
                f"Router has no route for task {task!r}. Routes: {list(self.sub_modules)}; mappings: "
                f"{list(self.route_mappings)}. Fix: pass one of the route names as task, or add a route_mapping."
            )
        if self.default_route is None:
            raise ValueError(
                f"Router cannot choose a route: no task was given and no default_route is set. Routes: "
                f"{list(self.sub_modules)}. Fix: use encode_query/encode_document, pass task=..., set router_mapping "
                "in the training arguments, or give the Router a default_route."
            )
        return self.default_route

    def preprocess(self, inputs: list, prompt: str | None = None, task: str | None = None,
                   modality: str | None = None, **kwargs) -> dict[str, Any]:
        if inputs and isinstance(inputs[0], dict) and task is None:  # older form: [{"query": text}, ...]
            keys = {key for item in inputs for key in item}
            if len(keys) != 1:
                raise ValueError("Inputs given as dicts must all use the same single task key, e.g. {'query': text}.")
            task = keys.pop()
            inputs = [item[task] for item in inputs]
        route = self._route(task, modality or "text")
        features = self.sub_modules[route][0].preprocess(inputs, prompt=prompt, task=task, **kwargs)
        features["task"] = task
        return features

    def forward(self, features: dict[str, Any], task: str | None = None, modality: str | None = None,
                **kwargs) -> dict[str, Any]:
        task = task if task is not None else features.get("task")
        route = self._route(task, modality or features.get("modality") or "text")
        kwargs.update(task=task, modality=modality)
        for module in self.sub_modules[route]:
            wanted = getattr(module, "forward_kwargs", set())
            features = module(features, **{k: v for k, v in kwargs.items() if k in wanted})
        return features

    # ------------------------------------------------------------------ properties
    @property
    def tokenizer(self):
        for route in self.sub_modules.values():
            tokenizer = getattr(route[0], "tokenizer", None)
            if tokenizer is not None:
                return tokenizer
        return None

    @property
    def max_seq_length(self) -> int | None:
        lengths = {getattr(route[0], "max_seq_length", None) for route in self.sub_modules.values()}
        lengths.discard(None)
        return max(lengths) if lengths else None

    @max_seq_length.setter
    def max_seq_length(self, value: int | None) -> None:
        for route in self.sub_modules.values():
            if hasattr(route[0], "max_seq_length"):
                route[0].max_seq_length = value

    def get_embedding_dimension(self) -> int | None:
        for route in self.sub_modules.values():
            for module in reversed(route):
                method = getattr(module, "get_embedding_dimension", None) or getattr(
                    module, "get_sentence_embedding_dimension", None)
                if method is not None:
                    return method()
        return None

    def on_model_ready(self, model: nn.Module) -> None:
        for route in self.sub_modules.values():
            for module in route:
                if isinstance(module, Module):
                    module.on_model_ready(model)

    def get_config_dict(self) -> dict[str, Any]:
        config = super().get_config_dict()
        config["route_mappings"] = {str(key): value for key, value in self.route_mappings.items()}
        return config

    def extra_repr(self) -> str:
        return f"default_route={self.default_route!r}, route_mappings={self.route_mappings}"

    def __repr__(self) -> str:
        return nn.Module.__repr__(self)

    # ------------------------------------------------------------------ save / load
    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        types, structure, ids = {}, {}, {}
        for name, route in self.sub_modules.items():
            structure[name] = []
            for index, module in enumerate(route):
                if id(module) not in ids:  # a module shared by two routes is saved once
                    module_id = f"{name}_{index}_{type(module).__name__}"
                    ids[id(module)] = module_id
                    folder = os.path.join(output_path, module_id)
                    os.makedirs(folder, exist_ok=True)
                    module.save(folder, safe_serialization=safe_serialization)
                    types[module_id] = module.type_string() if isinstance(module, Module) else \
                        f"{type(module).__module__}.{type(module).__name__}"
                structure[name].append(ids[id(module)])
        parameters = self.get_config_dict()
        with open(os.path.join(output_path, self.config_file_name), "w", encoding="utf-8") as handle:
            json.dump({"types": types, "structure": structure, "parameters": parameters}, handle, indent=4)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, trust_remote_code: bool = False, **kwargs) -> Router:
        hub = {"token": token, "cache_folder": cache_folder, "revision": revision, "local_files_only": local_files_only}
        config = cls.load_config(model_name_or_path, subfolder, None, **hub) or cls.load_config(
            model_name_or_path, subfolder, "config.json", **hub)
        if "types" not in config:
            raise ValueError(f"No router_config.json in {os.path.join(model_name_or_path, subfolder)!r}.")
        loaded = {}
        for module_id, type_name in config["types"].items():
            if os.path.isabs(module_id) or ".." in module_id.replace("\\", "/").split("/"):
                raise ValueError(f"Router sub-module path {module_id!r} leaves the model folder.")
            module_class = resolve_module_class(type_name, trust_remote_code, where=f" (Router route module {module_id})")
            loaded[module_id] = module_class.load(
                model_name_or_path, subfolder=f"{subfolder}/{module_id}".lstrip("/"), trust_remote_code=trust_remote_code,
                **hub, **kwargs)
        routes = {name: [loaded[module_id] for module_id in ids] for name, ids in config["structure"].items()}
        parameters = dict(config.get("parameters", {}))
        parameters["route_mappings"] = {
            tuple(ast.literal_eval(key)): value for key, value in (parameters.get("route_mappings") or {}).items()
        }
        return cls(routes, **parameters)
