"""docs/plugins.md documents the plugin API as it is: every exported name, the version, no phantom base classes."""

from __future__ import annotations

import re
from pathlib import Path

import sentrix.plugin_api as plugin_api

DOC = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_every_plugin_api_name_is_documented():
    documented = set(re.findall(r"`(\w+)`", DOC))
    missing = [
        name for name in plugin_api.__all__
        if name not in documented and not (name.startswith("pairwise_") and "`pairwise_*`" in DOC)
    ]
    assert not missing, f"docs/plugins.md's plugin API table lacks {missing}; add them to the table"


def test_base_classes_named_in_the_docs_exist():
    for name in re.findall(r"`(\w+)` \(base class(?:es)?\)", DOC) + re.findall(r"`(\w+)`, `\w+` \(base classes\)", DOC):
        assert name in plugin_api.__all__, f"docs/plugins.md promises a base class {name} that sentrix.plugin_api lacks"
    assert "class Loss" not in DOC and "LossBase" not in DOC


def test_versioning_is_documented_with_the_current_version():
    assert f"today `{plugin_api.API_VERSION}`" in DOC
    assert f'SENTRIX_PLUGIN_API = "{plugin_api.API_VERSION}"' in DOC
    for words in ("MAJOR.MINOR", "IncompatiblePluginError", "Stability and deprecation policy"):
        assert words in DOC
