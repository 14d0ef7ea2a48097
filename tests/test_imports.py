"""The package's modules import each other without cycles (imports inside functions and under
`if TYPE_CHECKING:` included): each part can be read, and tested, above the parts it uses."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import basketball_analyzer

PACKAGE = Path(basketball_analyzer.__file__).parent
NAME = "basketball_analyzer"


def module_name(path: Path) -> str:
    """`basketball_analyzer.cloud.queue` for .../cloud/queue.py (a package is its __init__)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports anywhere in its code (a name from a package counts as
    that package's module when there is one: `from . import segments`)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
        else:
            continue
        for target in targets:
            # The most specific module the import names (a function imported from a module names the module).
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@cache
def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports; a package's __init__ is left out of its children's
    edges only where Python itself would import it first anyway (parents are not cycles)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = module_name(path)
        # Importing a.b.c runs a and a.b first: an edge to an enclosing package is not a dependency cycle.
        graph[name] = {m for m in imports_of(path, modules) if not name.startswith(m + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert "basketball_analyzer.cloud.segments" in graph["basketball_analyzer.cloud.queue"]  # from . import x
    assert "basketball_analyzer.lifecycle" in graph["basketball_analyzer.jobs"]  # from .x import y
    assert "basketball_analyzer.pipeline" in graph["basketball_analyzer.worker.base"]  # inside a function


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(dict(import_graph()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
