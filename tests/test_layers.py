"""The package's import graph: no circles, and no floor imports one above it.

Every ``import`` of a labelport module in ``src/labelport`` counts, those inside functions included (an
import held apart by a function is still a dependency). ``from labelport import geometry`` is an import
of ``labelport.geometry``. The floors, lowest first, are written down in ``LAYERS``: a module may
import its own floor and those below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "labelport"

#: Lowest first. A module belongs to the floor of the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    # leaves: errors, ids, the progress callback's type
    (
        "labelport.errors",
        "labelport.hashing",
        "labelport.limits",
        "labelport.progress",
        "labelport.version",
        "labelport.plural",
    ),
    # pure maths and keys
    ("labelport.geometry", "labelport.keys", "labelport.pixels"),
    # the domain
    ("labelport.ontology", "labelport.coordinates", "labelport.data", "labelport.labels"),
    # persistence of the domain
    ("labelport.store",),
    # what every format's import shares: the error policy, the report, the worker pass, the writer
    ("labelport.imports",),
    # files <-> the domain, and judging labels (counts, evaluations)
    ("labelport.formats", "labelport.evaluation", "labelport.stats"),
    # every operation once, embedded or over HTTP (the remote service and what it shares with the server)
    (
        "labelport.service",
        "labelport.server.remote",
        "labelport.server.upload_source",
        "labelport.server.wire_format",
        "labelport.server.signing",
    ),
    # where the embedded store and the key live
    ("labelport.home",),
    # the one API, and conversions through it
    ("labelport.client", "labelport.convert"),
    # the faces
    ("labelport.server", "labelport.viewer", "labelport.cli", "labelport.demo"),
    # the package's public names
    ("labelport",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor(name: str) -> int:
    best, found = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found >= 0, f"{name} is on no floor of LAYERS: add it"
    return found


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The labelport modules that the file at ``path`` imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("labelport"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if not base.startswith("labelport"):
                continue
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in modules else base)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, modules) for f in files}


def test_no_import_circles() -> None:
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                circles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_no_floor_imports_one_above_it() -> None:
    upward = [
        f"{name} (floor {floor(name)}) imports {target} (floor {floor(target)})"
        for name, targets in graph().items()
        for target in sorted(targets)
        if floor(target) > floor(name)
    ]
    assert not upward, "\n".join(upward)


def test_the_graph_sees_imports_inside_functions() -> None:
    edges = graph()
    # home.py opens the embedded store only when asked to, inside a function.
    assert "labelport.store.sqlite" in edges["labelport.home"]
