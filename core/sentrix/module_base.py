"""The model-module contract: what every step of a :class:`sentrix.SentenceTransformer` pipeline is.

A model is an ordered list of modules. Each module reads and extends one ``features`` dict
(``input_ids``, ``attention_mask``, ``token_embeddings``, ``sentence_embedding``, ...), and knows
how to save itself to a folder and load itself back. This is the sentence-transformers 6.x module
contract, so a module written for sentence-transformers works here after changing its base class.

Write your own module by subclassing :class:`Module` (or :class:`InputModule` for a first
module that turns raw inputs into tensors)::

    import torch
    from sentrix.module_base import Module

    class Scale(Module):
        '''Multiplies the sentence embedding by a constant.'''
        config_keys = ["factor"]

        def __init__(self, factor: float = 2.0):
            super().__init__()
            self.factor = factor

        def forward(self, features, **kwargs):
            features["sentence_embedding"] = features["sentence_embedding"] * self.factor
            return features

        def save(self, output_path, *args, safe_serialization=True, **kwargs):
            self.save_config(output_path)

and register it in your package's ``pyproject.toml`` so saved models can name it::

    [project.entry-points."sentrix.modules"]
    "acme.scale" = "acme_modules.scale:Scale"

``modules.json`` stores a module's ``type`` string. When saving, sentrix writes
:attr:`Module.module_type` if a class sets it (the built-ins set the path sentence-transformers
itself writes), else ``"<python module>.<ClassName>"``. When loading, the type is looked up in the
``sentrix.modules`` registry; a type that is not registered is imported by its dotted path only
when the user passes ``trust_remote_code=True``.

Security: weights are read from ``model.safetensors``. A pickled ``pytorch_model.bin`` is read
only when the caller opts in (``model_kwargs={"use_safetensors": False}``), and then always
with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn

from sentrix.errors import InvalidInputError

__all__ = [
    "Module", "InputModule", "resolve_file", "resolve_dir", "load_weights_file", "resolve_module_class", "is_router",
]


def _hub_kwargs(token, cache_folder, revision, local_files_only) -> dict[str, Any]:
    return {"token": token, "cache_dir": cache_folder, "revision": revision, "local_files_only": local_files_only}


def resolve_file(
    model_name_or_path: str,
    filename: str,
    subfolder: str = "",
    token: bool | str | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> str | None:
    """Local path of ``subfolder/filename`` in a model folder or Hub repository; None if absent."""
    local = os.path.join(model_name_or_path, subfolder, filename)
    if os.path.isdir(model_name_or_path):
        return local if os.path.isfile(local) else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    try:
        return hf_hub_download(
            model_name_or_path,
            filename=filename,
            subfolder=subfolder or None,
            **_hub_kwargs(token, cache_folder, revision, local_files_only),
        )
    except (EntryNotFoundError, LocalEntryNotFoundError):
        return None


def resolve_dir(
    model_name_or_path: str,
    subfolder: str = "",
    token: bool | str | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> str:
    """Local path of ``subfolder`` of a model folder or Hub repository (downloaded if needed)."""
    if os.path.isdir(model_name_or_path):
        return os.path.join(model_name_or_path, subfolder)
    from huggingface_hub import snapshot_download

    pattern = f"{subfolder.rstrip('/')}/**" if subfolder else None
    root = snapshot_download(
        model_name_or_path, allow_patterns=pattern, **_hub_kwargs(token, cache_folder, revision, local_files_only)
    )
    return os.path.join(root, subfolder)


def load_weights_file(folder: str, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read ``model.safetensors`` from ``folder`` (or, if allowed, ``pytorch_model.bin`` with
    ``weights_only=True``). Raises :class:`InvalidInputError` naming the folder otherwise."""
    safetensors_path = os.path.join(folder, "model.safetensors")
    if os.path.isfile(safetensors_path):
        from safetensors.torch import load_file

        try:
            return load_file(safetensors_path)
        except Exception as exc:
            raise InvalidInputError(
                f"Could not read the weights file {safetensors_path!r}: {exc}. The file is damaged or not a "
                "safetensors file. Fix: restore or re-download the model folder."
            ) from exc
    bin_path = os.path.join(folder, "pytorch_model.bin")
    if os.path.isfile(bin_path):
        if not allow_pickle:
            raise InvalidInputError(
                f"{folder!r} holds only a pickled 'pytorch_model.bin', which sentrix does not load by default. "
                "Fix: convert it to 'model.safetensors', or opt in with model_kwargs={'use_safetensors': False} "
                "(it is then read with torch.load(weights_only=True))."
            )
        return torch.load(bin_path, map_location="cpu", weights_only=True)
    raise InvalidInputError(
        f"No weights in {folder!r}: expected 'model.safetensors'. Fix: point at a complete model folder."
    )


class Module(ABC, nn.Module):
    """Base class of every model module (the sentence-transformers 6.x module contract).

    Subclasses implement :meth:`forward` and :meth:`save`; most also keep :meth:`load` as is,
    which builds the module from its saved config (``config_keys``) and, for modules with
    weights, reads them with :meth:`load_torch_weights`.

    Class attributes:
        config_file_name: the JSON file holding the module config (``config.json``).
        config_keys: attributes saved in that file and passed back to ``__init__`` on load.
        config_key_renames: old config key -> new key, applied when loading old folders.
        save_in_root: save the first module of a model in the model's root folder (Transformer).
        forward_kwargs: ``encode``/``forward`` keyword arguments this module wants (e.g. ``task``).
        module_type: the ``type`` string written to ``modules.json`` (default: dotted class path).
        routes_inputs: ``True`` for a module that sends each input to one of several sub-modules
            (a route) chosen by ``task``, like the built-in ``Router``. The model then passes every
            ``encode``/``forward`` keyword on to it, and the trainer checks ``router_mapping``
            against its routes. Declared, never inferred from the class name.
        rows_independent: ``True`` when the module's output for a row depends only on that row's
            own real tokens: not on the other rows of the batch, not on padding positions or the
            padded width (attention with a mask, pooling, per-row dense layers). ``False`` when it
            does (BatchNorm in training mode mixes rows; a convolution or LSTM over token states
            reads padding). ``None`` (the default): not declared. The loss helper merges columns
            and cuts padding (``sentrix.embedding``) only when every module of the model declares
            ``True``; otherwise it runs the plain per-column forward, which is always exact. A
            module that ``routes_inputs`` is also checked through its routes' modules.
    """

    config_file_name: str = "config.json"
    config_keys: list[str] = []
    config_key_renames: dict[str, str] = {}
    save_in_root: bool = False
    forward_kwargs: set[str] = set()
    module_type: str | None = None
    routes_inputs: bool = False
    rows_independent: bool | None = None

    @abstractmethod
    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Read from and add to ``features``; return it."""

    @abstractmethod
    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        """Write the module (config, weights) into the existing folder ``output_path``."""

    def get_config_dict(self) -> dict[str, Any]:
        """The ``config_keys`` attributes as a dict (what :meth:`save_config` writes)."""
        return {key: getattr(self, key) for key in self.config_keys}

    @classmethod
    def type_string(cls) -> str:
        """The ``type`` written to ``modules.json`` for this class."""
        return cls.module_type or f"{cls.__module__}.{cls.__name__}"

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        **kwargs,
    ) -> Module:
        """Build the module from ``subfolder`` of a model folder or Hub repository.

        Extra keyword arguments (``trust_remote_code``, ``model_kwargs``, ...) are what the model
        passes to every module; a module uses those it needs. This default builds ``cls(**config)``.
        """
        config = cls.load_config(model_name_or_path, subfolder, None, token, cache_folder, revision, local_files_only)
        for key, value in (kwargs.get("init_defaults") or {}).items():
            config.setdefault(key, value)
        return cls(**config)

    @classmethod
    def load_config(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        config_filename: str | None = None,
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
    ) -> dict[str, Any]:
        """The saved config dict ({} when the file does not exist), with old keys renamed."""
        path = resolve_file(
            model_name_or_path, config_filename or cls.config_file_name, subfolder, token, cache_folder, revision,
            local_files_only,
        )
        if path is None:
            return {}
        try:
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path!r} is not valid JSON ({exc}). Fix: repair or re-create that file.") from exc
        for old, new in cls.config_key_renames.items():
            if old in config and new not in config:
                config[new] = config.pop(old)
        return config

    @staticmethod
    def load_file_path(model_name_or_path: str, filename: str, subfolder: str = "", token=None, cache_folder=None,
                       revision=None, local_files_only: bool = False) -> str | None:
        """Local path of a file of this module (downloaded from the Hub if needed), or None."""
        return resolve_file(model_name_or_path, filename, subfolder, token, cache_folder, revision, local_files_only)

    @staticmethod
    def load_dir_path(model_name_or_path: str, subfolder: str = "", token=None, cache_folder=None, revision=None,
                      local_files_only: bool = False) -> str:
        """Local path of this module's folder (downloaded from the Hub if needed)."""
        return resolve_dir(model_name_or_path, subfolder, token, cache_folder, revision, local_files_only)

    @classmethod
    def load_torch_weights(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token=None,
        cache_folder=None,
        revision=None,
        local_files_only: bool = False,
        model: nn.Module | None = None,
        allow_pickle: bool = False,
    ):
        """Read this module's weights; load them into ``model`` (strictly) and return it, or
        return the state dict when ``model`` is None."""
        folder = resolve_dir(model_name_or_path, subfolder, token, cache_folder, revision, local_files_only)
        weights = load_weights_file(folder, allow_pickle=allow_pickle)
        if model is None:
            return weights
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise InvalidInputError(
                f"The weights in {folder!r} do not fit {type(model).__name__}: missing {sorted(missing)}, "
                f"unexpected {sorted(unexpected)}. Fix: check that the folder's config matches its weights."
            )
        return model

    # ------------------------------------------------------------------ saving
    def save_config(self, output_path: str, filename: str | None = None) -> None:
        with open(os.path.join(output_path, filename or self.config_file_name), "w", encoding="utf-8") as handle:
            json.dump(self.get_config_dict(), handle, indent=4)

    def save_torch_weights(self, output_path: str, safe_serialization: bool = True) -> None:
        if safe_serialization:
            from safetensors.torch import save_model

            save_model(self, os.path.join(output_path, "model.safetensors"))
        else:
            torch.save(self.state_dict(), os.path.join(output_path, "pytorch_model.bin"))

    def on_model_ready(self, model: nn.Module) -> None:
        """Called once the owning model is built; override to resolve model-dependent state."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config_dict()})"


class InputModule(Module):
    """A first module: turns raw inputs (strings, string pairs) into tensors in :meth:`preprocess`.

    It owns the ``tokenizer`` and is saved in the model's root folder by default.
    """

    save_in_root: bool = True
    tokenizer: Any = None

    @property
    def modalities(self) -> list[str]:
        return ["text"]

    def preprocess(self, inputs: list, prompt: str | None = None, **kwargs) -> dict[str, Any]:
        """Tokenize ``inputs`` (with ``prompt`` prepended to each text); return model features."""
        raise NotImplementedError(f"{type(self).__name__} must implement preprocess().")

    def tokenize(self, texts: list, **kwargs) -> dict[str, Any]:
        """Older name of :meth:`preprocess`."""
        return self.preprocess(texts, **kwargs)

    def save_tokenizer(self, output_path: str, **kwargs) -> None:
        if self.tokenizer is None:
            return
        if hasattr(self.tokenizer, "save_pretrained"):
            self.tokenizer.save_pretrained(output_path, **kwargs)
        else:
            self.tokenizer.save(os.path.join(output_path, "tokenizer.json"))

    @staticmethod
    def _prepend_prompt(inputs: list, prompt: str) -> list:
        return [(prompt + x[0], *x[1:]) if isinstance(x, (tuple, list)) else prompt + x for x in inputs]


def resolve_module_class(type_name: str, trust_remote_code: bool = False, where: str = "",
                         model_dir: str | None = None) -> type:
    """The class for a ``modules.json`` ``type`` string.

    Registered names (built-ins and installed module plugins, including every
    sentence-transformers type path they alias) are looked up in the ``sentrix.modules``
    registry. Any other dotted path is imported only with ``trust_remote_code=True``: first as
    an installed module, then as a ``<file>.py`` shipped in the model folder ``model_dir``.
    """
    import importlib
    import importlib.util
    import sys

    from sentrix.errors import UnknownComponentError
    from sentrix.registry import modules

    try:
        return modules.get(type_name)
    except UnknownComponentError as exc:
        unknown = exc
    served = _served_module_type(type_name)
    if served is not None:
        return served
    if trust_remote_code and "." in type_name:
        module_name, _, attr = type_name.rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            problem = exc
        local_file = os.path.join(model_dir or "", *module_name.split(".")) + ".py"
        if model_dir and os.path.isfile(local_file):
            spec = importlib.util.spec_from_file_location(f"sentrix_remote_code.{module_name}", local_file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise InvalidInputError(
            f"Module type {type_name!r}{where} could not be imported ({problem}). Fix: install the package "
            "that provides it."
        )
    raise InvalidInputError(
        f"Unknown module type {type_name!r}{where}: no installed module plugin registers it.\n"
        f"{str(unknown).splitlines()[-1]}\n"
        "Fix: install the plugin that provides this module, or, if you trust the code it names, pass "
        "trust_remote_code=True to import it by its dotted path."
    )


def _served_module_type(type_name: str) -> type | None:
    """A registered module for a sentence-transformers type path the compatibility table serves.

    ``sentence_transformers.<path>.<Class>`` with ``<path>`` served by ``sentrix.models`` (for
    example ``...sentence_transformer.modules.dense.Dense``) is the module registered as
    ``<Class>``, so saved models keep loading whichever of its paths wrote them.
    """
    from sentrix._compat.table import MODULES
    from sentrix.errors import UnknownComponentError
    from sentrix.registry import modules

    module_path, _, class_name = type_name.rpartition(".")
    prefix = "sentence_transformers."
    if not module_path.startswith(prefix) or MODULES.get(module_path[len(prefix):]) != "sentrix.models":
        return None
    try:
        return modules.get(class_name)
    except UnknownComponentError:
        return None


def is_router(module: Any) -> bool:
    """Whether ``module`` declares that it routes inputs to sub-modules (``routes_inputs = True``)."""
    return getattr(module, "routes_inputs", False) is True
