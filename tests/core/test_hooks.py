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


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_is_typed(hook):
    import typing

    signature = inspect.signature(getattr(hookspecs, hook))
    assert signature.return_annotation is not inspect.Signature.empty, f"{hook} needs a return annotation"
    for name, param in signature.parameters.items():
        assert param.annotation is not inspect.Parameter.empty, f"{hook}: parameter {name!r} needs a type"
    typing.get_type_hints(getattr(hookspecs, hook), localns=_typing_namespace())  # the hints resolve


def _typing_namespace() -> dict:
    import argparse

    from sentrix.model import SentenceTransformer
    from sentrix.model_card import SentenceTransformerModelCardData
    from sentrix.trainer import SentenceTransformerTrainer

    return {"argparse": argparse, "SentenceTransformer": SentenceTransformer,
            "SentenceTransformerTrainer": SentenceTransformerTrainer,
            "SentenceTransformerModelCardData": SentenceTransformerModelCardData}


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


# ------------------------------------------------------------------------------------------------
# docs/hooks.md: one section per hook, its reference part rendered from the hookspec
# ------------------------------------------------------------------------------------------------
def _rst_to_markdown(text: str) -> str:
    text = re.sub(r":(?:func|data|class|meth|mod|attr):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def render_hook_reference(hook: str) -> str:
    """The generated part of a hook's docs section: typed signature, docstring, parameters, return."""
    fn = getattr(hookspecs, hook)
    params = ", ".join(f"{name}: {p.annotation}" for name, p in inspect.signature(fn).parameters.items())
    returns = inspect.signature(fn).return_annotation
    doc = inspect.getdoc(fn) or ""
    body, _, fields = doc.partition("\n:")
    fields = ":" + fields if fields else ""
    items = re.findall(r"^:(param (\w+)|return):(.*(?:\n(?!:).*)*)", fields, flags=re.M)
    lines = [f"```python\ndef {hook}({params}) -> {returns}\n```", "", _rst_to_markdown(body.strip()), ""]
    for _field, name, text in items:
        text = " ".join(part.strip() for part in text.strip().splitlines())
        label = f"- `{name}`" if name else "- **returns**"
        lines.append(f"{label}: {_rst_to_markdown(text)}")
    return "\n".join(lines).strip()


def _doc_sections() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^## `(sentrix_\w+)\((.*?)\)`\n", text, flags=re.M)
    return {parts[i]: (parts[i + 1], parts[i + 2]) for i in range(1, len(parts), 3)}


@pytest.mark.parametrize("hook", HOOKS)
def test_docs_section_is_rendered_from_the_hookspec(hook):
    sections = _doc_sections()
    assert hook in sections, f"docs/hooks.md needs a section '## `{hook}(...)`'"
    params, body = sections[hook]
    assert params == ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters), (
        f"the heading of {hook} in docs/hooks.md must list its parameters as in hookspecs.py"
    )
    generated = re.search(r"<!-- reference: generated from hookspecs.py -->\n(.*?)\n<!-- /reference -->", body, re.S)
    assert generated, f"the {hook} section needs its generated reference block"
    assert generated.group(1).strip() == render_hook_reference(hook), (
        f"docs/hooks.md is stale for {hook}; regenerate with `python tests/core/test_hooks.py`"
    )
    assert re.search(rf"```python\n(?:.*\n)*?@hookimpl\n(?:.*\n)*?def {hook}\(", body), f"{hook} needs a worked example"


def test_docs_document_no_hook_that_does_not_exist():
    assert set(_doc_sections()) <= set(HOOKS)


def write_hook_reference() -> None:
    """Rewrite the generated blocks of docs/hooks.md from hookspecs.py (examples are kept)."""
    text = DOCS.read_text(encoding="utf-8")
    for hook in HOOKS:
        pattern = re.compile(
            rf"(^## `{hook}\([^)\n]*\)`\n+<!-- reference: generated from hookspecs.py -->\n)(?:.*?\n)??(<!-- /reference -->)",
            flags=re.M | re.S,
        )
        reference = render_hook_reference(hook)
        text = pattern.sub(lambda m, ref=reference: m.group(1) + ref + "\n" + m.group(2), text)
    DOCS.write_text(text, encoding="utf-8")


def test_former_module_path_is_a_thin_alias():
    import sentrix.hooks
    import sentrix.plugins

    for name in ("get_plugin_manager", "failed_plugins", "register_hook_plugin", "unregister_hook_plugin",
                 "reset_plugin_manager", "PLUGIN_GROUP"):
        assert getattr(sentrix.plugins, name) is getattr(sentrix.hooks, name), name
    assert sentrix.plugins.hook_registered_components("losses") == registry.hook_registered_components("losses")


if __name__ == "__main__":
    write_hook_reference()
