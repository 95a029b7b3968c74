"""``sentrix.evaluation``: the evaluator base class and the registered evaluators.

``SentenceEvaluator`` (alias ``BaseEvaluator``) and ``SimilarityFunction`` come from the core
(``CORE_NAMES`` in :mod:`sentrix._compat.table`); every other attribute is looked up in the
``sentrix.evaluators`` registry, so ``from sentrix.evaluation import EmbeddingSimilarityEvaluator``
works for built-ins and installed plugins alike. Run ``sentrix plugins list --kind evaluators``
to see what is installed.
"""

from sentrix._registry_namespace import registry_dir, registry_getattr

# A package without a folder: the sentence-transformers paths below it (``sentrix.evaluation.
# TripletEvaluator``, the old one-module-per-class layout) are served by sentrix._compat.finder.
__path__: list[str] = []

__getattr__ = registry_getattr("evaluators", __name__)
__dir__ = registry_dir("evaluators", __name__)
