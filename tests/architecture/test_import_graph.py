"""The import graph has no circles: not between two modules, not between two sub-packages.

import-linter (run by scripts/test) keeps the arrows between layers pointing down; this test
keeps them acyclic inside the layers too, with grimp, which reads every import, including
those inside functions, so a circle cannot hide in a function body.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import Path

import grimp
import pytest

OUR_PACKAGES = ("kit", "egate", "identity", "consent", "forms_hub", "devtools")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*OUR_PACKAGES)


def strongly_connected(nodes: Iterable[str], edges: Callable[[str], Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; returns the components with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges(successor)))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


def sub_package(module: str) -> str:
    """``identity.oidc.server`` -> ``identity.oidc``; a top-level module stays itself."""
    return ".".join(module.split(".")[:2])


def test_the_circle_finder_finds_a_circle() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert strongly_connected(edges, lambda node: edges[node]) == [["a", "b", "c"]]


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    circles = strongly_connected(graph.modules, graph.find_modules_directly_imported_by)
    assert circles == []


def test_no_two_sub_packages_import_each_other(graph: grimp.ImportGraph) -> None:
    package_edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if sub_package(module) != sub_package(imported):
                package_edges.setdefault(sub_package(module), set()).add(sub_package(imported))
    packages = {sub_package(module) for module in graph.modules}
    circles = strongly_connected(packages, lambda package: package_edges.get(package, set()))
    assert circles == []


def imports_inside_functions(source: str) -> list[int]:
    """Line numbers of import statements inside a function body."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines += [
                inner.lineno for inner in ast.walk(node) if isinstance(inner, ast.Import | ast.ImportFrom)
            ]
    return lines


def test_the_function_import_finder_finds_one() -> None:
    assert imports_inside_functions("import os\n\ndef f():\n    import sys\n") == [4]


def test_no_import_hides_inside_a_function() -> None:
    """An import inside a function is how a circle hides from a reader; the arrows are the
    module's imports at its top, nowhere else."""
    root = Path(__file__).resolve().parents[2]
    hidden = [
        f"{path.relative_to(root)}:{line}"
        for package in OUR_PACKAGES
        for path in sorted((root / package).rglob("*.py"))
        for line in imports_inside_functions(path.read_text(encoding="utf-8"))
    ]
    assert hidden == []
