"""The model card is one mechanism: built-in sections come from the same hook plugins use."""

from __future__ import annotations

import re

import pytest
import yaml

from sentrix import hookimpl
from sentrix.hooks import DEFAULT_PLUGINS, get_plugin_manager, register_hook_plugin, unregister_hook_plugin
from sentrix.model_card import SentenceTransformerModelCardData, generate_model_card


class Model:
    """A stand-in model: the card needs only ``model_card_data`` (everything else is optional)."""

    def __init__(self) -> None:
        self.model_card_data = SentenceTransformerModelCardData(language="en", license="apache-2.0")
        self.model_card_data.set_base_model("acme/base")


def _headings(card: str) -> list[str]:
    return re.findall(r"^## (.+)$", card, flags=re.M)


def test_card_data_is_a_hub_card_data_and_keeps_its_public_path():
    from huggingface_hub import CardData

    from sentrix import SentenceTransformerModelCardData as top_level

    assert top_level is SentenceTransformerModelCardData
    assert issubclass(SentenceTransformerModelCardData, CardData)
    assert SentenceTransformerModelCardData().template_path.is_file()


def test_builtin_sections_are_a_registered_hook_plugin():
    pm = get_plugin_manager()
    builtin = pm.get_plugin("sentrix.model_card")
    assert builtin is not None and DEFAULT_PLUGINS["sentrix.model_card"] == builtin.__name__
    impls = [impl.function.__name__ for impl in pm.hook.sentrix_model_card_sections.get_hookimpls()]
    assert {"builtin_sections", "citation_section"} <= set(impls)
    card = generate_model_card(Model())
    assert _headings(card) == ["Model Details", "Usage", "Provenance", "Citation"]
    meta = yaml.safe_load(card.split("---", 2)[1])
    assert meta["base_model"] == "acme/base" and meta["library_name"] == "sentence-transformers"
    assert card.startswith("---\n") and "\n# SentenceTransformer based on acme/base\n" in card


def test_plugin_sections_go_after_provenance_and_before_citation_and_see_the_card():
    class Audit:
        @hookimpl
        def sentrix_model_card_sections(self, card):
            return [("Acme Audit", f"licence checked: {card.license}")]

    plugin = Audit()
    register_hook_plugin(plugin, name="acme-audit")
    try:
        card = generate_model_card(Model())
    finally:
        unregister_hook_plugin(plugin)
    assert _headings(card) == ["Model Details", "Usage", "Provenance", "Acme Audit", "Citation"]
    assert "licence checked: apache-2.0" in card


def test_a_broken_plugin_is_skipped_and_the_builtin_sections_stay():
    class Broken:
        @hookimpl
        def sentrix_model_card_sections(self, model):
            raise RuntimeError("boom")

    plugin = Broken()
    register_hook_plugin(plugin, name="acme-broken")
    try:
        with pytest.warns(RuntimeWarning, match="sentrix_model_card_sections hook of plugin 'acme-broken' failed"):
            card = generate_model_card(Model())
    finally:
        unregister_hook_plugin(plugin)
    assert _headings(card) == ["Model Details", "Usage", "Provenance", "Citation"]
