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
