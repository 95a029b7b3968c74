"""Dense: a feed-forward layer (linear + activation) on the sentence embedding.

=====================  ==========================================================
reads                  ``module_input_name`` (default ``sentence_embedding``)
writes                 ``module_output_name`` (default: same key)
saved files            ``config.json``, ``model.safetensors``
=====================  ==========================================================

Use it to project embeddings to another size (e.g. 384 -> 128) or to add a trainable head.
The activation is saved by its dotted class path; on load only ``torch.*`` activations are
imported unless ``trust_remote_code=True``.

Example::

    import torch
    from sentrix.models import Dense
    head = Dense(in_features=384, out_features=128, activation_function=torch.nn.Tanh())

Reference: sentence-transformers ``Dense`` module.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any, Callable

from torch import Tensor, nn

from sentrix.plugin_api import Module

logger = logging.getLogger(__name__)


def _class_path(obj: Any) -> str:
    cls = obj if inspect.isclass(obj) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _import_path(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


class Dense(Module):
    """``activation(linear(x))`` on one features key (plus an optional residual connection).

    Reads ``features[module_input_name]`` (the sentence embedding by default), applies a linear layer
    and the activation, and writes the result to ``features[module_output_name]`` (the same key when
    that is ``None``). Use it to project embeddings to another size or to add a trainable head after
    pooling. It saves its config and weights in the sentence-transformers ``Dense`` layout.

    Args:
        in_features: input size.
        out_features: output size.
        bias: learn a bias vector (default ``True``).
        activation_function: a module or callable; ``None`` means identity. Default ``Tanh``.
        init_weight: initial weight tensor (``out_features x in_features``) of the linear layer;
            default ``None`` (random initialisation).
        init_bias: initial bias tensor (``out_features``); default ``None``.
        module_input_name: features key to read (default ``"sentence_embedding"``).
        module_output_name: features key to write (default ``None``: the input key).
        use_residual: add the input (projected when sizes differ) to the output (default ``False``).

    Example:
        .. code-block:: python

            from sentrix import SentenceTransformer
            from sentrix.registry import modules

            base = SentenceTransformer("all-MiniLM-L6-v2")
            dense = modules.create("dense", in_features=384, out_features=128)
            model = SentenceTransformer(modules=[*base, dense])   # 128-dimensional embeddings
    """

    config_keys = ["in_features", "out_features", "bias", "activation_function", "module_input_name",
                   "module_output_name", "use_residual"]
    module_type = "sentence_transformers.base.modules.dense.Dense"
    rows_independent = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation_function: Callable[[Tensor], Tensor] | None = nn.Tanh(),
        init_weight: Tensor | None = None,
        init_bias: Tensor | None = None,
        module_input_name: str = "sentence_embedding",
        module_output_name: str | None = None,
        use_residual: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.bias = bias
        self.activation_function = nn.Identity() if activation_function is None else activation_function
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.module_input_name = module_input_name
        self.module_output_name = module_output_name or module_input_name
        self.use_residual = use_residual
        if use_residual and in_features != out_features:
            self.residual = nn.Linear(in_features, out_features, bias=False)
        if init_weight is not None:
            self.linear.weight = nn.Parameter(init_weight)
        if init_bias is not None and bias:
            self.linear.bias = nn.Parameter(init_bias)

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        x = features[self.module_input_name]
        out = self.activation_function(self.linear(x))
        if self.use_residual:
            out = out + (x if self.in_features == self.out_features else self.residual(x))
        features[self.module_output_name] = out
        return features

    def get_embedding_dimension(self) -> int:
        return self.out_features

    get_sentence_embedding_dimension = get_embedding_dimension

    @classmethod
    def contract_example(cls) -> Dense:
        """A small instance for the module contract tests."""
        return cls(8, 4)

    def get_config_dict(self) -> dict[str, Any]:
        config = super().get_config_dict()
        config["activation_function"] = _class_path(self.activation_function)
        if not self.use_residual:
            config.pop("use_residual")
        return config

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
             local_files_only: bool = False, trust_remote_code: bool = False, **kwargs) -> Dense:
        hub = {"subfolder": subfolder, "token": token, "cache_folder": cache_folder, "revision": revision,
               "local_files_only": local_files_only}
        config = cls.load_config(model_name_or_path, **hub)
        path = config.pop("activation_function", None)
        if path is not None:
            if trust_remote_code or path.startswith("torch."):
                activation = _import_path(path)
                if not trust_remote_code and not (inspect.isclass(activation) and issubclass(activation, nn.Module)):
                    raise ValueError(f"Activation {path!r} is not a torch.nn.Module class; pass trust_remote_code=True.")
                config["activation_function"] = activation() if inspect.isclass(activation) else activation
            else:
                logger.warning("Not importing activation %r without trust_remote_code=True; using Tanh.", path)
        accepted = set(inspect.signature(cls).parameters)
        config = {key: value for key, value in config.items() if key in accepted}
        model = cls(**config)
        allow_pickle = (kwargs.get("model_kwargs") or {}).get("use_safetensors") is False
        return cls.load_torch_weights(model_name_or_path, model=model, allow_pickle=allow_pickle, **hub)
