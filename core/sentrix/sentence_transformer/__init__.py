"""The module paths of sentence-transformers 6.x, for scripts that import from them.

sentence-transformers 6 moved its training API under ``sentence_transformers.sentence_transformer``
(``...sentence_transformer.losses``, ``...sentence_transformer.evaluation``, ...). A script that
imports from those paths runs on sentrix after replacing ``sentence_transformers`` with
``sentrix``: each path below names the same module object as its short sentrix spelling, so
``sentrix.sentence_transformer.losses is sentrix.losses``.
"""

from __future__ import annotations

from sentrix._module_aliases import alias_submodules

alias_submodules(
    __name__,
    {
        "losses": "sentrix.losses",
        "evaluation": "sentrix.evaluation",
        "models": "sentrix.models",
        "modules": "sentrix.models",
        "training_args": "sentrix.training_args",
        "trainer": "sentrix.trainer",
        "model": "sentrix.model",
        "model_card": "sentrix.model_card",
        "data_collator": "sentrix.data_collator",
        "fit_mixin": "sentrix.fit_mixin",
        "readers": "sentrix.fit_mixin",
        "datasets": "sentrix.datasets",
    },
)
