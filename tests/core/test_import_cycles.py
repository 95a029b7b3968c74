"""The core's modules import each other without cycles, so each one can be read (and loaded) on its own.

The graph has one node per module of ``core/sentrix`` and an edge for every module-level import
of another core module (``import``/``from ... import`` at the top level of the module, including
inside top-level ``if``/``try``/``with`` blocks but not inside functions, classes, or
``if TYPE_CHECKING:``). A cycle fails the test and is printed, e.g.
``sentrix.a -> sentrix.b -> sentrix.a``.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core" / "sentrix"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def _top_level_imports(path: Path, module: str) -> set[str]:
    """Every module name imported at module level (a ``from x import y`` counts as x and x.y)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def import_graph() -> dict[str, list[str]]:
    """``{core module: [core modules it imports at module level]}``."""
    paths = {_module_name(p): p for p in CORE.rglob("*.py")}
    return {
        module: sorted(name for name in _top_level_imports(path, module) if name in paths and name != module)
        for module, path in paths.items()
    }


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_path(graph, set(component)) for component in components]


def _cycle_path(graph: dict[str, list[str]], members: set[str]) -> list[str]:
    """A concrete cycle through a strongly connected component (depth-first, staying inside it)."""
    start = min(members)
    path, seen = [start], {start}
    while True:
        nxt = next((t for t in graph[path[-1]] if t == start and len(path) > 1), None)
        if nxt:
            return [*path, start]
        step = next((t for t in graph[path[-1]] if t in members and t not in seen), None)
        if step is None:  # dead end inside the component: back up
            path.pop()
            if not path:
                return sorted(members)
            continue
        path.append(step)
        seen.add(step)


def test_the_graph_sees_the_core():
    graph = import_graph()
    assert {"sentrix", "sentrix.registry", "sentrix.hooks", "sentrix.hookspecs", "sentrix.model_card"} <= set(graph)
    assert "sentrix.hookspecs" in graph["sentrix.hooks"]


def test_find_cycles_reports_a_cycle_as_a_path():
    assert find_cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": ["b"], "b": []}) == []


def test_core_has_no_import_cycle():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycle(s) in core/sentrix:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_hook_manager_does_not_depend_on_the_registry():
    """hooks.py is below registry.py: the registry asks the hooks, never the other way round (at any depth)."""
    tree = ast.parse((CORE / "hooks.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if name.startswith(("sentrix.registry", "sentrix.plugins"))}, imported
