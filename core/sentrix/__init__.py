"""sentrix: train and evaluate sentence-embedding models, with every component a plugin.

The public names below mirror ``sentence_transformers``; they are imported lazily so that
``import sentrix`` (and the ``sentrix`` command) stays fast and does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sentrix._compat.finder import install as _install_compat_finder
from sentrix._compat.table import CORE_NAMES as _CORE_NAMES
from sentrix.hookspecs import hookimpl

__version__ = "0.1.0"

_install_compat_finder()

# public name -> module that defines it (imported on first use)
_LAZY: dict[str, str] = _CORE_NAMES["sentrix"]
_SUBMODULES = {
    "losses", "evaluation", "models", "util", "registry", "testing", "plugin_api", "sampler",
    "training_args", "trainer", "model_card", "data_collator", "sentence_transformer", "base", "datasets",
}

__all__ = ["__version__", "hookimpl", *_LAZY, *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"sentrix.{name}")
    from sentrix._compat.table import not_provided_name_reason

    reason = not_provided_name_reason("", name)
    if reason is not None:
        from sentrix._registry_namespace import called_by_from_import

        message = f"sentrix does not provide `sentence_transformers.{name}`: {reason}"
        raise ImportError(message, name="sentrix") if called_by_from_import(2) else AttributeError(message, name=name)
    raise AttributeError(f"module 'sentrix' has no attribute {name!r}", name=name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from sentrix.model import SentenceTransformer
    from sentrix.trainer import SentenceTransformerTrainer
    from sentrix.training_args import (
        BatchSamplers,
        MultiDatasetBatchSamplers,
        SentenceTransformerTrainingArguments,
    )
