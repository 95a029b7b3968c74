"""pluggy hooks: the spec is documented, plugins register components and CLI commands, broken ones are skipped."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from sentrix import hookspecs, registry
from sentrix.cli.main import main
from sentrix.plugins import failed_plugins, get_plugin_manager

HOOKS = [name for name, fn in vars(hookspecs).items() if name.startswith("sentrix_") and callable(fn)]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def test_there_are_hooks_and_all_are_prefixed():
    assert {"sentrix_register_components", "sentrix_add_cli_commands", "sentrix_adjust_trainer",
            "sentrix_validate_run", "sentrix_model_card_sections"} <= set(HOOKS)
    spec_names = {name for name in dir(get_plugin_manager().hook) if not name.startswith("_")}
    assert set(HOOKS) == spec_names


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_is_documented(hook):
    fn = getattr(hookspecs, hook)
    doc = inspect.getdoc(fn) or ""
    assert "Fires" in doc, f"{hook}'s docstring must say when it fires"
    assert ":return:" in doc, f"{hook}'s docstring must say what it may return"
    for param in inspect.signature(fn).parameters:
        assert f":param {param}:" in doc, f"{hook}'s docstring must document {param!r}"
    section = re.search(rf"^## `{hook}\(", DOCS.read_text(), flags=re.M)
    assert section, f"docs/hooks.md needs a section for {hook}"


HOOK_PLUGIN = """
    from sentrix import hookimpl

    @hookimpl
    def sentrix_register_components(register):
        register("losses", "hooked.loss", "collections:OrderedDict", aliases=("HookedLoss",))

    @hookimpl
    def sentrix_add_cli_commands(subparsers):
        parser = subparsers.add_parser("hello", help="say hello")
        parser.add_argument("--to", default="world")
        parser.set_defaults(func=lambda args: print(f"hello {args.to}") or 0)
"""


def test_hook_plugin_registers_components_and_cli_commands(fake_dists, capsys):
    fake_dists.add("acme-hooks", {"sentrix.plugins": {"acme": "acme_hooks"}}, {"acme_hooks": HOOK_PLUGIN}, version="0.2.0")
    entry = registry.losses.info("HookedLoss")
    assert (entry.name, entry.provider, entry.version) == ("hooked.loss", "acme-hooks", "0.2.0")
    from collections import OrderedDict

    assert registry.losses.get("hooked.loss") is OrderedDict
    assert main(["hello", "--to", "sentrix"]) == 0
    assert capsys.readouterr().out == "hello sentrix\n"


def test_broken_hook_plugin_is_reported_and_skipped(fake_dists, capsys):
    fake_dists.add("acme-hooks", {"sentrix.plugins": {"acme": "acme_hooks"}}, {"acme_hooks": HOOK_PLUGIN})
    fake_dists.add("acme-bad-hooks", {"sentrix.plugins": {"bad": "acme_bad_hooks"}},
                   {"acme_bad_hooks": "raise ImportError('needs a GPU library')\n"}, version="0.1.0")
    with pytest.warns(RuntimeWarning, match="sentrix plugin 'bad' from acme-bad-hooks 0.1.0 failed to load"):
        assert "hooked.loss" in registry.losses
    assert failed_plugins() == {"bad": "acme-bad-hooks 0.1.0: ImportError: needs a GPU library"}
    assert main(["plugins", "list", "--kind", "losses"]) == 0
    out, err = capsys.readouterr()
    assert "hooked.loss" in out
    assert "warning: hook plugin 'bad' failed to load: acme-bad-hooks 0.1.0: ImportError: needs a GPU library" in err


def test_in_process_hook_plugin(capsys):
    from sentrix.plugins import register_hook_plugin, unregister_hook_plugin

    class EnvPlugin:
        @staticmethod
        @hookspecs.hookimpl
        def sentrix_env_info():
            return {"acme backend": "fake 1.0"}

    plugin = EnvPlugin()
    register_hook_plugin(plugin, name="env-test")
    try:
        assert main(["env"]) == 0
        assert re.search(r"^- acme backend +fake 1\.0$", capsys.readouterr().out, flags=re.M)
    finally:
        unregister_hook_plugin(plugin)
