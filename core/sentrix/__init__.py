"""sentrix: train and evaluate sentence-embedding models, with every component a plugin.

The public names below mirror ``sentence_transformers``; they are imported lazily so that
``import sentrix`` (and the ``sentrix`` command) stays fast and does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sentrix.hookspecs import hookimpl

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "SentenceTransformer": "sentrix.model",
    "SentenceTransformerTrainer": "sentrix.trainer",
    "SentenceTransformerTrainingArguments": "sentrix.training_args",
    "BatchSamplers": "sentrix.training_args",
    "MultiDatasetBatchSamplers": "sentrix.training_args",
    "SentenceTransformerModelCardData": "sentrix.model_card",
    "SentenceTransformerDataCollator": "sentrix.data_collator",
    "SimilarityFunction": "sentrix.similarity",
    "quantize_embeddings": "sentrix.util",
    "mine_hard_negatives": "sentrix.util",
    "InputExample": "sentrix.fit_mixin",
    "LoggingHandler": "sentrix.util.logging",
    "DefaultBatchSampler": "sentrix.sampler",
    "MultiDatasetDefaultBatchSampler": "sentrix.sampler",
    "SentencesDataset": "sentrix.datasets",
}
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
    raise AttributeError(f"module 'sentrix' has no attribute {name!r}")


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
