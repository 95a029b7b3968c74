"""The docs site builds, every page is reachable, and the pages that promise facts keep them.

docs/coverage.md is generated (``sentrix plugins coverage -o docs/coverage.md``); the others are
written by hand but checked here against the registry, the compatibility table and pyproject.toml.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sentrix._compat.coverage import ST_LOSSES, coverage_markdown

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _nav_pages(nav) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_coverage_page_is_generated_from_the_current_registry_and_table():
    assert _page("coverage.md") == coverage_markdown(), (
        "docs/coverage.md is stale; regenerate it with `sentrix plugins coverage -o docs/coverage.md`"
    )


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = _nav_pages(config["nav"])
    on_disk = sorted(p.name for p in DOCS.glob("*.md"))
    assert sorted(nav) == on_disk, f"mkdocs.yml nav {sorted(nav)} != docs/*.md {on_disk}"


def test_site_builds_strictly(tmp_path):
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=True)
    build(config)  # raises mkdocs.exceptions.Abort on any warning (broken link, missing anchor)
    assert (tmp_path / "site" / "coverage" / "index.html").exists()


def test_supported_versions_lists_every_runtime_dependency_as_declared():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # no tomllib on Python 3.10
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, flags=re.M | re.S).group(1)
    declared = re.findall(r'^\s*"([^"]+)"', block, flags=re.M)
    page = _page("versions.md")
    section = page.split("## Python and libraries", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)
    assert declared and listed == declared, "docs/versions.md's dependency table must equal pyproject.toml's dependencies"
    requires_python = re.search(r'^requires-python = "([^"]+)"', pyproject, flags=re.M).group(1)
    assert f'`requires-python = "{requires_python}"`' in page
    oracle = re.search(r'"(sentence-transformers==[^"]+)"', pyproject).group(1)
    assert f"`{oracle}`" in page


def test_supported_versions_lists_every_extra():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    extras = sorted(re.findall(r"^([A-Za-z0-9_-]+) = \[", block, flags=re.M))
    section = _page("versions.md").split("## Optional extras", 1)[1].split("\n## ", 1)[0]
    listed = sorted(re.findall(r"^\| `([^`]+)` \|", section, flags=re.M))
    assert extras and listed == extras, f"docs/versions.md lists extras {listed}; pyproject.toml has {extras}"


def test_choosing_a_loss_covers_every_sentence_transformers_loss():
    page = _page("choosing-a-loss.md")
    missing = [name for name in ST_LOSSES if f"`{name}`" not in page]
    assert not missing, f"docs/choosing-a-loss.md does not say when to use {missing}"


def test_migrating_names_what_the_coverage_page_marks_not_provided():
    unprovided = re.findall(r"^\| `(\w+)` \| - \| - \| \*\*not provided\*\*", coverage_markdown(), flags=re.M)
    assert unprovided, "the coverage page lists nothing as not provided; update this test and docs/migrating.md"
    page = _page("migrating.md")
    assert [name for name in unprovided if f"`{name}`" not in page] == []
