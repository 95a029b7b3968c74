"""Render a model card: the card data, the sections from the hook, and ``template.md``.

Every section, built in or from a plugin, comes from the ``sentrix_model_card_sections`` hook
(the built-ins are :mod:`sentrix.model_card.sections`). The page around them is the Jinja
template ``template.md``, rendered by ``huggingface_hub.ModelCard.from_template``.
"""

from __future__ import annotations

import logging
from typing import Any

from sentrix.model_card.formatting import redact_secrets

logger = logging.getLogger(__name__)


def collect_sections(model: Any, trainer: Any, card: Any) -> list[tuple[str, str]]:
    """Every ``(heading, markdown body)`` pair the hook implementations return, in card order.

    A plugin whose hook raises (or returns something other than pairs) is skipped with a
    warning; it cannot block saving or take other sections with it.
    """
    from sentrix.hooks import call_each

    sections: list[tuple[str, str]] = []
    for plugin, result in call_each("sentrix_model_card_sections", model=model, trainer=trainer, card=card):
        try:
            pairs = [(str(heading), str(body).strip("\n")) for heading, body in result]
        except (TypeError, ValueError):
            logger.warning(
                "The sentrix_model_card_sections hook of plugin %r returned %r; expected a list of "
                "(heading, markdown) pairs. Its sections were skipped.", plugin, type(result).__name__,
            )
            continue
        sections.extend(pair for pair in pairs if pair[1].strip())
    return sections


def generate_model_card(model: Any, trainer: Any | None = None) -> str:
    """Render the ``README.md`` for ``model`` (and the ``trainer`` that trained it, if any)."""
    from huggingface_hub import ModelCard

    from sentrix.model_card.data import SentenceTransformerModelCardData

    card = getattr(model, "model_card_data", None)
    if card is None:
        card = SentenceTransformerModelCardData()
    if trainer is not None and not card.losses and getattr(trainer, "loss", None) is not None:
        card.set_losses(trainer.loss)

    named = [d["name"] for d in card.train_datasets if d.get("name") not in (None, "train", "unnamed")]
    rendered = ModelCard.from_template(
        card,
        template_path=str(card.template_path),
        title=card.card_title(),
        trained_on=", ".join(named) or None,
        sections=collect_sections(model, trainer, card),
    )
    return redact_secrets(rendered.content.rstrip() + "\n")
