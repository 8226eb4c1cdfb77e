"""The import graph has no cycles, and each area imports only the areas below it.

Read from the source with `ast` (nothing is imported), counting imports inside functions
too, since a deferred import is how a cycle usually hides. Imports under `TYPE_CHECKING`
are left out: they never run.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"client": "worktally.client", "lsp": "worktally.lsp",
           "aggregator": "worktally.aggregator"}

# What each area may import besides itself. `infra` is the shared infrastructure directly
# under client/ (errors, paths, config, logging); `wire` is the format both sides share.
ALLOWED: dict[str, set[str]] = {
    "wire": set(),
    "infra": {"wire"},
    "capture": {"infra", "wire"},
    "repos": {"infra", "wire", "capture"},
    "store": {"infra", "wire", "capture"},
    "external": {"infra", "wire", "capture", "repos", "store"},
    "otlp": {"infra", "wire", "capture", "repos"},
    "browser": {"infra", "wire", "capture", "store"},
    "importers": {"infra", "wire", "capture", "repos", "store"},
    "attribution": {"infra", "wire", "capture", "repos", "store"},
    "report": {"infra", "wire", "capture", "store", "attribution"},
    # Neighbouring tools' formats (git-ai notes, Agent Trace) over attributed commits.
    "interop": {"infra", "wire", "capture", "repos", "store", "attribution"},
    "agent": {"infra", "wire", "capture", "repos", "store", "external", "otlp", "browser",
              "importers", "attribution", "report", "interop"},
    "lsp": {"infra", "capture"},
    "cli": {"infra", "wire", "capture", "repos", "store", "external", "otlp", "browser",
            "importers", "attribution", "report", "interop", "agent", "lsp", "demo"},
    "demo": {"infra", "wire"},
    # The aggregator shares only the wire format with the client (and its file helpers).
    "aggregator": {"wire", "client.paths"},
}


# Infrastructure that grew into a package of its own is still infrastructure.
INFRA_PACKAGES = {"config"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([FOLDERS[parts[0]], *parts[1:]])


@cache
def modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            out[module_name(path)] = path
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str) -> set[str]:
    """The project modules `name` imports (a `from pkg import mod` counts as `pkg.mod`)."""
    known = modules()
    path = known[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", 0) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def area(name: str) -> str:
    parts = name.split(".")
    if parts[1] != "client":
        return parts[1]
    if len(parts) == 2 or parts[2] in INFRA_PACKAGES:
        return "infra"
    if f"worktally.client.{parts[2]}" not in _packages():
        return "infra"
    return parts[2]


@cache
def _packages() -> set[str]:
    return {n for n, p in modules().items() if p.name == "__init__.py"}


def graph() -> dict[str, set[str]]:
    return {name: imports_of(name) for name in modules()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_between_modules() -> None:
    assert cycles(graph()) == []


def test_no_cycles_between_areas() -> None:
    areas: dict[str, set[str]] = defaultdict(set)
    for name, targets in graph().items():
        for target in targets:
            if area(target) != area(name):
                areas[area(name)].add(area(target))
    assert cycles(areas) == []


def test_every_area_is_known() -> None:
    unknown = {area(name) for name in modules()} - set(ALLOWED)
    assert not unknown, f"add these areas to ALLOWED with their allowed imports: {unknown}"


def _allowed(source: str, target: str) -> bool:
    rules = ALLOWED[area(source)]
    return (area(target) == area(source) or area(target) in rules
            or target.removeprefix("worktally.") in rules)


@pytest.mark.parametrize("source_area", sorted(ALLOWED))
def test_imports_cross_only_the_allowed_lines(source_area: str) -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph().items() if area(name) == source_area
        for target in targets if not _allowed(name, target)
    )
    assert not wrong, "imports across the layering:\n" + "\n".join(wrong)


def test_the_checker_sees_a_cycle_and_a_crossing() -> None:
    """The checker itself: a planted cycle and a planted crossing are both reported."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert not _allowed("worktally.client.wire.measurement", "worktally.client.config")
    assert not _allowed("worktally.aggregator.app", "worktally.client.config")
    assert _allowed("worktally.aggregator.app", "worktally.client.paths")
    assert not _allowed("worktally.lsp.server", "worktally.client.store.db")


def test_test_modules_have_unique_names() -> None:
    """Tests are imported by file name (no __init__.py), so two with one name collide."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
