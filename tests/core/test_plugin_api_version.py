"""One plugin-API version: plugins declare what they need, the registry refuses what this core lacks."""

from __future__ import annotations

import sys
import textwrap

import pytest

import sentrix
from sentrix.errors import IncompatiblePluginError
from sentrix.plugin_api import API_RELEASES, API_VERSION, check_api_version


def _bumped(minor: int = 0, major: int = 0) -> str:
    have_major, have_minor = (int(p) for p in API_VERSION.split("."))
    return f"{have_major + major}.{have_minor + minor}"


def test_same_or_older_minor_passes():
    check_api_version(API_VERSION, "loss 'x'")
    check_api_version(f"{API_VERSION.split('.')[0]}.0", "loss 'x'")


def test_newer_minor_is_refused_naming_both_versions():
    needed = _bumped(minor=1)
    with pytest.raises(IncompatiblePluginError) as info:
        check_api_version(needed, "Loss 'acme.focal' from sentrix-acme 1.2")
    message = str(info.value)
    assert f"needs sentrix plugin API {needed}" in message
    assert f"provides plugin API {API_VERSION}" in message
    assert f"sentrix {sentrix.__version__}" in message
    assert "sentrix-acme 1.2" in message


def test_known_newer_version_names_the_release_that_provides_it(monkeypatch):
    needed = _bumped(minor=1)
    monkeypatch.setitem(API_RELEASES, needed, "9.9.0")
    with pytest.raises(IncompatiblePluginError, match=r"sentrix 9\.9\.0 provides it: `pip install -U 'sentrix>=9\.9\.0'`"):
        check_api_version(needed, "Loss 'acme.focal'")


def test_other_major_is_refused():
    with pytest.raises(IncompatiblePluginError, match="plugin API"):
        check_api_version(_bumped(major=1), "Loss 'acme.focal'")


def test_malformed_declaration_is_refused_with_the_fix():
    with pytest.raises(IncompatiblePluginError, match=f'SENTRIX_PLUGIN_API = "{API_VERSION}"'):
        check_api_version("one", "Loss 'acme.focal'")


def test_registry_refuses_a_plugin_that_needs_a_newer_api(tmp_path, monkeypatch):
    """A component whose package declares a newer SENTRIX_PLUGIN_API fails to load, with both versions named."""
    from sentrix.registry import ComponentEntry

    package = tmp_path / "acme_future"
    package.mkdir()
    (package / "__init__.py").write_text(f'SENTRIX_PLUGIN_API = "{_bumped(minor=1)}"\n')
    (package / "losses.py").write_text(textwrap.dedent("""
        from torch import nn

        class FocalLoss(nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = ComponentEntry(
        kind="losses", name="acme.focal", aliases=(), provider="sentrix-acme", version="1.2",
        target="acme_future.losses:FocalLoss",
    )
    with pytest.raises(IncompatiblePluginError) as info:
        entry.load()
    assert f"needs sentrix plugin API {_bumped(minor=1)}" in str(info.value)
    assert f"provides plugin API {API_VERSION}" in str(info.value)
    assert "sentrix-acme 1.2" in str(info.value)
    sys.modules.pop("acme_future.losses", None)
    sys.modules.pop("acme_future", None)


def test_builtins_declare_the_current_api():
    import sentrix_builtins

    assert sentrix_builtins.SENTRIX_PLUGIN_API == API_VERSION
