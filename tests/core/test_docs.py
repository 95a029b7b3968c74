"""The docs that are generated or promised stay true."""

from __future__ import annotations

from pathlib import Path

from sentrix.cli.plugins_cmd import catalogue_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_catalogue_is_generated_from_the_current_registry():
    assert (ROOT / "docs" / "catalogue.md").read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/catalogue.md is stale; regenerate it with `sentrix plugins catalogue -o docs/catalogue.md`"
    )


def test_readme_has_the_two_set_up_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for marker in ("<!-- quickstart-command -->", "<!-- test-command -->"):
        block = readme.split(marker, 1)[1].split("```", 2)[1]
        command = block.split("\n", 1)[1].strip()
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0"), command
    assert "README.md" in (ROOT / ".ci" / "run").read_text()
