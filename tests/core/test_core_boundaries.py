"""The core never imports the built-ins, and `import sentrix` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core" / "sentrix"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_does_not_import_builtins(path):
    offenders = {m for m in _imported_modules(path) if m.split(".")[0] == "sentrix_builtins"}
    assert not offenders, f"{path} imports {offenders}; the core reaches built-ins only through entry points"


def _slowest_chain(importtime_stderr: str, top: int = 8) -> str:
    rows = []
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [p.strip() for p in line[len("import time:"):].split("|")]
            if parts[1].isdigit():
                rows.append((int(parts[1]), parts[2]))
    rows.sort(reverse=True)
    return "\n".join(f"{us / 1000:8.1f} ms  {name}" for us, name in rows[:top])


def test_import_sentrix_does_not_import_torch_or_builtins():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         "import sys, sentrix, sentrix.registry, sentrix.plugin_api, sentrix.testing;"
         "print(sorted(m for m in ('torch','transformers','datasets','numpy','sentrix_builtins') if m in sys.modules))"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", "heavy import at `import sentrix`; slowest chain:\n" + _slowest_chain(result.stderr)


BUILTINS = Path(__file__).resolve().parents[2] / "plugins" / "sentrix_builtins"


def _real_sentrix_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a ``sentrix`` module in ``path`` (docstrings are not code)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "sentrix"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "sentrix":
                found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", sorted(BUILTINS.rglob("*.py")), ids=lambda p: str(p.relative_to(BUILTINS)))
def test_builtin_imports_sentrix_only_through_the_plugin_api(path):
    offenders = [f"line {line}: {module}" for line, module in _real_sentrix_imports(path) if module != "sentrix.plugin_api"]
    assert not offenders, (
        f"{path.relative_to(BUILTINS.parent)} imports private sentrix modules ({'; '.join(offenders)}). Built-ins use "
        "sentrix only through `sentrix.plugin_api`, as a third-party plugin must; export what is missing there."
    )


def test_the_ast_check_sees_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""from sentrix.embedding import x (docstring, ignored)"""\n'
                      "from sentrix.plugin_api import DataNeeds\n"
                      "def f():\n    from sentrix.embedding import embed_columns\n")
    assert _real_sentrix_imports(sample) == [(2, "sentrix.plugin_api"), (4, "sentrix.embedding")]


def test_every_plugin_api_name_resolves():
    import sentrix.plugin_api as api

    missing = [name for name in api.__all__ if not hasattr(api, name)]
    assert not missing, f"sentrix.plugin_api lists names it cannot provide: {missing}"
