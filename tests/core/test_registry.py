"""The entry-point registries: discovery, aliases, the three errors, switches, in-process registration."""

from __future__ import annotations

import sys

import pytest

from sentrix import registry
from sentrix.errors import (
    ComponentCollisionError,
    ComponentLoadError,
    IncompatiblePluginError,
    InvalidParameterError,
    UnknownComponentError,
)

GOOD_LOSS = """
    import json
    IMPORTED = True

    class FocalLoss:
        '''A focal loss for tests.'''
        def __init__(self, model, scale: float = 20.0, gamma: float = 2.0):
            self.model, self.scale, self.gamma = model, scale, gamma
"""

ACME = {
    "sentrix.losses": {
        "acme.focal": "acme_losses:FocalLoss",
        "FocalLoss": "acme_losses:FocalLoss",
    }
}


def test_aliases_group_into_one_component_listed_without_import(fake_dists):
    fake_dists.add("acme-losses", ACME, {"acme_losses": GOOD_LOSS}, version="2.3.0")
    entry = registry.losses.info("FocalLoss")
    assert (entry.name, entry.aliases, entry.provider, entry.version) == (
        "acme.focal", ("FocalLoss",), "acme-losses", "2.3.0"
    )
    assert "acme.focal" in registry.losses.names()
    assert "FocalLoss" not in registry.losses.names()
    assert "FocalLoss" in registry.losses.names(include_aliases=True)
    assert "acme_losses" not in sys.modules, "listing and resolving must not import the plugin"
    cls = registry.losses.get("FocalLoss")
    assert cls is registry.losses.get("acme.focal")
    assert "acme_losses" in sys.modules


def test_unknown_name_suggests_counts_and_names_the_listing_command(fake_dists):
    fake_dists.add("acme-losses", ACME, {"acme_losses": GOOD_LOSS})
    count = len(registry.losses.entries())
    with pytest.raises(UnknownComponentError) as info:
        registry.losses.get("acme.focl")
    assert str(info.value) == (
        "Unknown loss 'acme.focl'.\n"
        "Did you mean 'acme.focal'?\n"
        f"Installed losses: {count}. List them with `sentrix plugins list --kind losses`, "
        "or install the plugin that provides 'acme.focl'."
    )
    assert isinstance(info.value, KeyError)


def test_unknown_name_with_nothing_close(fake_dists):
    fake_dists.add("acme-losses", ACME, {"acme_losses": GOOD_LOSS})
    with pytest.raises(UnknownComponentError, match=r"^Unknown loss 'zzzz'\.\nInstalled losses: \d+\. "):
        registry.losses.get("zzzz")


def test_failed_load_names_distribution_and_chains_the_cause(fake_dists):
    fake_dists.add(
        "acme-broken",
        {"sentrix.losses": {"acme.broken": "acme_broken:BrokenLoss"}},
        {"acme_broken": "raise RuntimeError('boom at import')\n"},
        version="0.4.1",
    )
    with pytest.raises(ComponentLoadError) as info:
        registry.losses.get("acme.broken")
    assert str(info.value) == (
        "Could not load loss 'acme.broken' from distribution acme-broken 0.4.1 (entry point "
        "acme_broken:BrokenLoss): RuntimeError: boom at import\n"
        "Fix: reinstall or upgrade 'acme-broken' (`pip install -U acme-broken`), or stop loading it with "
        "SENTRIX_BLOCK_PLUGINS=acme-broken."
    )
    assert isinstance(info.value.__cause__, RuntimeError)


def test_broken_plugin_breaks_nothing_that_does_not_use_it(fake_dists):
    fake_dists.add("acme-losses", ACME, {"acme_losses": GOOD_LOSS})
    fake_dists.add(
        "acme-broken",
        {"sentrix.losses": {"acme.broken": "acme_broken:BrokenLoss"}},
        {"acme_broken": "import not_a_real_module_xyz\n"},
    )
    names = registry.losses.names()
    assert {"acme.broken", "acme.focal"} <= set(names)
    assert registry.losses.get("acme.focal").__name__ == "FocalLoss"
    with pytest.raises(ComponentLoadError, match="ModuleNotFoundError: No module named 'not_a_real_module_xyz'"):
        registry.losses.get("acme.broken")


def test_missing_attribute_is_a_load_error(fake_dists):
    fake_dists.add("acme-typo", {"sentrix.losses": {"acme.typo": "acme_losses:FocallLoss"}}, {"acme_losses": GOOD_LOSS})
    with pytest.raises(ComponentLoadError, match="AttributeError: module 'acme_losses' has no attribute 'FocallLoss'"):
        registry.losses.get("acme.typo")


def test_collision_names_both_providers_only_when_used(fake_dists):
    fake_dists.add("acme-losses", {"sentrix.losses": {"shared.loss": "acme_losses:FocalLoss", "acme.focal": "acme_losses:FocalLoss"}},
                   {"acme_losses": GOOD_LOSS}, version="1.0.0")
    fake_dists.add("other-losses", {"sentrix.losses": {"shared.loss": "other_losses:FocalLoss"}},
                   {"other_losses": GOOD_LOSS}, version="2.0.0")
    # listing and unrelated names still work
    assert [e.provider for e in registry.losses.entries() if "shared.loss" in e.all_names] == ["acme-losses", "other-losses"]
    assert registry.losses.get("acme.focal").__name__ == "FocalLoss"
    with pytest.raises(ComponentCollisionError) as info:
        registry.losses.get("shared.loss")
    assert str(info.value) == (
        "Loss name 'shared.loss' is provided by acme-losses 1.0.0 (acme_losses:FocalLoss) and "
        "other-losses 2.0.0 (other_losses:FocalLoss).\n"
        "Fix: pick one explicitly as 'acme-losses:shared.loss' or 'other-losses:shared.loss', or stop loading the other with "
        "SENTRIX_BLOCK_PLUGINS=<distribution>, or uninstall one of them."
    )
    assert registry.losses.info("other-losses:shared.loss").provider == "other-losses"


def test_block_and_allow_switches(fake_dists, monkeypatch):
    fake_dists.add("acme-losses", ACME, {"acme_losses": GOOD_LOSS})
    assert "acme.focal" in registry.losses
    monkeypatch.setenv("SENTRIX_BLOCK_PLUGINS", "acme_losses")  # normalised like pip: - _ . are equal
    assert "acme.focal" not in registry.losses
    monkeypatch.delenv("SENTRIX_BLOCK_PLUGINS")
    monkeypatch.setenv("SENTRIX_LOAD_PLUGINS", "someone-else")
    assert "acme.focal" not in registry.losses
    monkeypatch.setenv("SENTRIX_LOAD_PLUGINS", "acme-losses")
    assert "acme.focal" in registry.losses


def test_autoload_switch_keeps_only_the_core_distribution(fake_dists, monkeypatch):
    fake_dists.add("acme-losses", ACME, {"acme_losses": GOOD_LOSS})
    monkeypatch.setenv("SENTRIX_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("SENTRIX_LOAD_PLUGINS")
    assert "acme.focal" not in registry.losses
    assert {e.provider for kind in registry.KINDS for e in registry.get_registry(kind).entries()} <= {"sentrix"}
    monkeypatch.setenv("SENTRIX_DISABLE_PLUGIN_AUTOLOAD", "0")
    assert "acme.focal" in registry.losses


def test_blocking_the_core_distribution_hides_built_ins(monkeypatch):
    assert registry.losses.entries(), "the built-in losses are registered through sentrix's entry points"
    monkeypatch.setenv("SENTRIX_BLOCK_PLUGINS", "sentrix")
    assert registry.losses.entries() == []


def test_plugin_needing_a_newer_core_says_so(fake_dists):
    fake_dists.add("acme-future", {"sentrix.losses": {"acme.future": "acme_losses:FocalLoss"}},
                   {"acme_losses": GOOD_LOSS}, version="9.0.0", requires=("sentrix>=99.0", "numpy"))
    from sentrix import __version__

    with pytest.raises(IncompatiblePluginError) as info:
        registry.losses.get("acme.future")
    assert str(info.value) == (
        f"Loss 'acme.future' comes from acme-future 9.0.0, which needs sentrix>=99.0 but sentrix {__version__} "
        "is installed.\nFix: `pip install 'sentrix>=99.0'`, or install a version of 'acme-future' made for "
        f"sentrix {__version__}."
    )


def test_create_checks_parameters_against_the_signature(fake_dists):
    fake_dists.add("acme-losses", ACME, {"acme_losses": GOOD_LOSS})
    loss = registry.losses.create("acme.focal", model="m", gamma=1.0)
    assert (loss.model, loss.gamma, loss.scale) == ("m", 1.0, 20.0)
    with pytest.raises(InvalidParameterError) as info:
        registry.losses.create("acme.focal", model="m", scal=3.0)
    assert str(info.value) == (
        "Loss 'acme.focal' got an unexpected parameter 'scal'. Did you mean 'scale'?\n"
        "Accepted parameters: model, scale, gamma."
    )
    assert isinstance(info.value, TypeError)


def test_in_process_registration_decorator_and_context_manager():
    @registry.losses.register("test.decorated", aliases=("DecoratedLoss",))
    class DecoratedLoss:
        def __init__(self, model):
            self.model = model

    try:
        entry = registry.losses.info("DecoratedLoss")
        assert (entry.name, entry.provider) == ("test.decorated", "<in-process>")
        assert registry.losses.create("test.decorated", model=1).model == 1
        with pytest.raises(ComponentCollisionError, match="Loss name 'test.decorated' is already provided by <in-process>"):
            registry.losses.register("test.decorated", object)
        registry.losses.register("test.decorated", dict, replace=True)
        assert registry.losses.get("test.decorated") is dict
    finally:
        registry.losses.unregister("test.decorated")
    assert "test.decorated" not in registry.losses

    with registry.evaluators.registered("test.temporary", dict):
        assert registry.evaluators.get("test.temporary") is dict
    assert "test.temporary" not in registry.evaluators


def test_in_process_name_cannot_shadow_an_installed_one():
    builtin = registry.losses.entries()[0]
    with pytest.raises(ComponentCollisionError, match="already provided by sentrix "):
        registry.losses.register(builtin.name, object)


def test_lazy_string_target_and_bare_decorator():
    registry.losses.register("test.lazy", "collections:OrderedDict")
    try:
        from collections import OrderedDict

        assert registry.losses.get("test.lazy") is OrderedDict
    finally:
        registry.losses.unregister("test.lazy")

    @registry.callbacks.register
    class MyPrintingCallback:
        pass

    try:
        assert registry.callbacks.get("my_printing_callback") is MyPrintingCallback
    finally:
        registry.callbacks.unregister("my_printing_callback")


def test_get_registry_accepts_singular_and_rejects_unknown_kinds():
    assert registry.get_registry("loss") is registry.losses
    assert registry.get_registry("batch_sampler") is registry.batch_samplers
    with pytest.raises(ValueError, match="Unknown component kind 'lossez'; expected one of: losses, batch_samplers"):
        registry.get_registry("lossez")


def test_non_string_name_is_a_clear_type_error():
    with pytest.raises(TypeError, match="A loss name must be a non-empty string, got None"):
        registry.losses.get(None)
