"""The ``sentence_transformers.base`` module paths of sentence-transformers 6.x, as aliases.

``sentrix.base.sampler is sentrix.sampler`` and so on; see :mod:`sentrix.sentence_transformer`.
"""

from __future__ import annotations

from sentrix._module_aliases import alias_submodules

alias_submodules(
    __name__,
    {
        "sampler": "sentrix.sampler",
        "training_args": "sentrix.training_args",
        "trainer": "sentrix.trainer",
        "model_card": "sentrix.model_card",
        "data_collator": "sentrix.data_collator",
        "evaluation": "sentrix.evaluation",
        "losses": "sentrix.losses",
        "modules": "sentrix.models",
    },
)
