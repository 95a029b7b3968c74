"""`sentrix new plugin` end to end: scaffold, pip install, list, resolve, run its own tests, uninstall."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sentrix.cli.new_cmd import plan_plugin, render_plugin, templates_root
from sentrix.errors import InvalidInputError

SENTRIX = str(Path(sys.executable).with_name("sentrix"))
# kind -> (distribution, component name)
PLUGINS = {
    "losses": ("sentrix-scaffold-loss", "scaffold_loss.example_loss"),
    "batch_samplers": ("sentrix-scaffold-sampler", "scaffold_sampler.example_batch_sampler"),
    "evaluators": ("sentrix-scaffold-evaluator", "scaffold_evaluator.example_evaluator"),
    "router_mappings": ("sentrix-scaffold-router", "scaffold_router.example_router_mapping"),
    "callbacks": ("sentrix-scaffold-callback", "scaffold_callback.example_callback"),
    "modules": ("sentrix-scaffold-module", "scaffold_module.example_module"),
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["SENTRIX_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the core's built-ins plus exactly these plugins
    env["SENTRIX_LOAD_PLUGINS"] = ",".join(dist for dist, _ in PLUGINS.values())
    return env


def _run(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(list(cmd), capture_output=True, text=True, env=_env(), cwd=cwd)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_scaffolded_plugins_install_list_resolve_and_pass_their_own_tests(tmp_path):
    for kind, (dist, _) in PLUGINS.items():
        _run(SENTRIX, "new", "plugin", dist, "--kind", kind, "--output", str(tmp_path))
    folders = [str(tmp_path / dist) for dist, _ in PLUGINS.values()]
    try:
        _run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", *folders)

        listing = _run(SENTRIX, "plugins", "list").stdout
        for kind, (dist, name) in PLUGINS.items():
            assert any(line.split()[:2] == [kind, name] and dist in line.split() for line in listing.splitlines()), (
                f"{name} ({dist}) missing from `sentrix plugins list`:\n{listing}"
            )

        resolve = "; ".join(
            f"print(get_registry({kind!r}).get({name!r}).__module__)" for kind, (_, name) in PLUGINS.items()
        )
        modules = _run(sys.executable, "-c", f"from sentrix.registry import get_registry; {resolve}").stdout.split()
        assert modules == [
            "sentrix_scaffold_loss.example_loss", "sentrix_scaffold_sampler.example_batch_sampler",
            "sentrix_scaffold_evaluator.example_evaluator", "sentrix_scaffold_router.example_router_mapping",
            "sentrix_scaffold_callback.example_callback", "sentrix_scaffold_module.example_module",
        ]

        tests = [str(tmp_path / dist / "tests") for dist, _ in PLUGINS.values()]
        result = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests, cwd=tmp_path)
        assert " passed" in result.stdout and "failed" not in result.stdout, result.stdout
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "-y",
                        *(dist for dist, _ in PLUGINS.values())], capture_output=True, text=True)
    after = subprocess.run([SENTRIX, "plugins", "list"], capture_output=True, text=True, env=_env()).stdout
    assert not any(name in after for _, name in PLUGINS.values())


def test_new_plugin_refuses_bad_input_before_writing(tmp_path):
    with pytest.raises(InvalidInputError, match=r"^Plugin distribution name 'bad name' is not a valid package name\."):
        plan_plugin("bad name")
    with pytest.raises(InvalidInputError) as info:
        plan_plugin("sentrix-acme", kind="optimizer")
    assert str(info.value) == (
        "--kind 'optimizer' has no template.\n"
        "Expected one of: loss, batch_sampler, evaluator, router_mapping, callback, module."
    )
    with pytest.raises(InvalidInputError, match=r"--name 'Acme\.Bad' is not a valid component name"):
        plan_plugin("sentrix-acme", name="Acme.Bad")
    assert list(tmp_path.iterdir()) == []


def test_new_plugin_never_overwrites_an_existing_folder(tmp_path):
    existing = tmp_path / "sentrix-acme"
    existing.mkdir()
    (existing / "mine.txt").write_text("user data")
    with pytest.raises(InvalidInputError, match="already exists; sentrix new plugin never overwrites files"):
        render_plugin(plan_plugin("sentrix-acme"), tmp_path)
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]


def test_rendered_package_layout_and_entry_points(tmp_path):
    target = render_plugin(plan_plugin("sentrix-acme", kind="loss", name="acme.focal_ranking"), tmp_path)
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        "README.md", "pyproject.toml", "src/sentrix_acme/__init__.py", "src/sentrix_acme/focal_ranking_loss.py",
        "tests/test_focal_ranking_loss.py",
    ]
    pyproject = (target / "pyproject.toml").read_text()
    assert '[project.entry-points."sentrix.losses"]\n"acme.focal_ranking" = "sentrix_acme.focal_ranking_loss:FocalRankingLoss"\nFocalRankingLoss = "sentrix_acme.focal_ranking_loss:FocalRankingLoss"' in pyproject
    assert "{{" not in "".join(p.read_text() for p in target.rglob("*") if p.is_file())
    from sentrix.plugin_api import API_VERSION

    init = (target / "src" / "sentrix_acme" / "__init__.py").read_text()
    assert f'SENTRIX_PLUGIN_API = "{API_VERSION}"' in init
    loss = (target / "src" / "sentrix_acme" / "focal_ranking_loss.py").read_text()
    assert "from sentrix.plugin_api import" in loss and "embed_columns(self.model, sentence_features)" in loss
    assert "check_loss_inputs(self, sentence_features, labels)" in loss and "uses_embedding_helper = True" in loss
    sources = "".join(p.read_text() for p in (templates_root() / "plugin").rglob("*.tmpl"))
    imports = set(re.findall(r"^from (sentrix[\w.]*) import", sources, flags=re.M))
    assert imports <= {"sentrix", "sentrix.plugin_api", "sentrix.registry", "sentrix.testing"}, imports
