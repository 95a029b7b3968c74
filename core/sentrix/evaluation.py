"""``sentrix.evaluation``: the evaluator base class and the registered evaluators.

``SentenceEvaluator`` (alias ``BaseEvaluator``) and ``SimilarityFunction`` are defined in the core;
every other attribute is looked up in the ``sentrix.evaluators`` registry, so
``from sentrix.evaluation import EmbeddingSimilarityEvaluator`` works for built-ins and installed
plugins alike. Run ``sentrix plugins list --kind evaluators`` to see what is installed.
"""

import importlib

from sentrix._registry_namespace import registry_dir, registry_getattr

# public name -> core module that defines it (imported on first use)
_CORE = {
    "SentenceEvaluator": "sentrix.evaluator_base",
    "BaseEvaluator": "sentrix.evaluator_base",
    "SimilarityFunction": "sentrix.similarity",
}

_registry_getattr = registry_getattr("evaluators", __name__)
_registry_dir = registry_dir("evaluators")


def __getattr__(name: str):
    if name in _CORE:
        return getattr(importlib.import_module(_CORE[name]), name)
    return _registry_getattr(name)


def __dir__():
    return sorted(set(_registry_dir()) | set(_CORE))
