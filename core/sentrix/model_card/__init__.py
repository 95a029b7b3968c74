"""The model card (``README.md``) written next to every saved model.

Where each part lives:

* :mod:`~sentrix.model_card.data`: ``SentenceTransformerModelCardData``, a
  ``huggingface_hub.CardData`` that collects what the card says while a model is built and
  trained (datasets, losses, hyperparameters, logs, metrics, provenance, citations);
* :mod:`~sentrix.model_card.callback`: the trainer callback that fills it in;
* :mod:`~sentrix.model_card.sections`: the built-in sections, registered as an ordinary
  ``sentrix_model_card_sections`` hook plugin, exactly like a third-party plugin's sections;
* ``template.md`` and :mod:`~sentrix.model_card.render`: the page around the sections, rendered by
  ``huggingface_hub.ModelCard.from_template``;
* :mod:`~sentrix.model_card.formatting`: value formatting and :func:`redact_secrets`.

A Hub token (or anything that looks like one) never reaches the card: token arguments are left
out and the final text is scrubbed.

Example::

    from sentrix import SentenceTransformer, SentenceTransformerModelCardData

    model = SentenceTransformer(
        "all-MiniLM-L6-v2",
        model_card_data=SentenceTransformerModelCardData(language="en", license="apache-2.0"),
    )
    model.save_pretrained("out")   # writes out/README.md through generate_model_card(model)

Names are imported lazily (``huggingface_hub`` loads only when card data is built or rendered).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "SentenceTransformerModelCardData": "sentrix.model_card.data",
    "generate_model_card": "sentrix.model_card.render",
    "collect_sections": "sentrix.model_card.render",
    "make_model_card_callback": "sentrix.model_card.callback",
    "SentenceTransformerModelCardCallback": "sentrix.model_card.callback",
    "ModelCardCallback": "sentrix.model_card.callback",
    "BaseModelCardCallback": "sentrix.model_card.callback",
    "redact_secrets": "sentrix.model_card.formatting",
    "get_versions": "sentrix.model_card.formatting",
    "markdown_table": "sentrix.model_card.formatting",
    "fullname": "sentrix.model_card.formatting",
    "format_log": "sentrix.model_card.formatting",
    "distribution_of": "sentrix.model_card.formatting",
    "format_duration": "sentrix.model_card.formatting",
    "get_losses": "sentrix.model_card.data",
}
# Names the trainer used before the split, kept working.
_ALIASES = {"_plain": ("sentrix.model_card.formatting", "plain"), "_IGNORED_ARGS": ("sentrix.model_card.callback", "IGNORED_ARGS")}

__all__ = [
    "SentenceTransformerModelCardData",
    "SentenceTransformerModelCardCallback",
    "generate_model_card",
    "make_model_card_callback",
    "redact_secrets",
    "get_versions",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _ALIASES:
        module, attribute = _ALIASES[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module 'sentrix.model_card' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_ALIASES))


if TYPE_CHECKING:  # pragma: no cover
    from sentrix.model_card.callback import (
        BaseModelCardCallback,
        ModelCardCallback,
        SentenceTransformerModelCardCallback,
        make_model_card_callback,
    )
    from sentrix.model_card.data import SentenceTransformerModelCardData, get_losses
    from sentrix.model_card.formatting import (
        distribution_of,
        format_duration,
        format_log,
        fullname,
        get_versions,
        markdown_table,
        redact_secrets,
    )
    from sentrix.model_card.render import collect_sections, generate_model_card
