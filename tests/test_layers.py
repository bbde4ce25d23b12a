"""The package's import graph: no circles, no floor imports one above it, no private name crosses.

Every ``import`` of a labelport module in ``src/labelport`` counts, those inside functions included (an
import held apart by a function is still a dependency). ``from labelport import geometry`` is an import
of ``labelport.geometry``. The floors, lowest first, are written down in ``LAYERS``: a module may
import its own floor and those below it. A name that starts with an underscore (``_put_geometry``, a
module ``_json``) belongs to its module (a private module to its package): no other imports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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
    # stored geometry: an object's coordinates as the store keeps them (JSON, or its source record)
    ("labelport.stored",),
    # persistence of the domain
    ("labelport.store",),
    # judging labels (counts, evaluations): from the store, through stored geometry, never a format
    ("labelport.evaluation", "labelport.stats"),
    # what every format's import shares: the error policy, the report, the worker pass, the writer
    ("labelport.imports",),
    # files <-> the domain
    ("labelport.formats",),
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


def imported_names(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, module, name) of each labelport import in the file at ``path``, anywhere in it: name
    None for ``import module``, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("labelport"):
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.startswith("labelport"):
                for alias in node.names:
                    yield node.lineno, base, alias.name


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The labelport modules that the file at ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for _, base, child in imported_names(path):
        full = base if child is None else f"{base}.{child}"
        found.add(full if full in modules else base)
    return {m for m in found if m in modules and m != module_name(path)}


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


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _owner(module: str) -> str:
    """Who may import ``module``: itself, or for a private module (``a.b._c``) its package ``a.b``."""
    parts = module.split(".")
    for index, part in enumerate(parts):
        if _private(part):
            return ".".join(parts[:index])
    return module


def private_imports(path: Path) -> list[str]:
    """Each import in the file at ``path`` of a private name or module that is not its own."""
    name = module_name(path)

    def outside(module: str) -> bool:
        owner = _owner(module)
        return owner != module and not (name == owner or name.startswith(owner + "."))

    return [
        f"{name}:{line} imports {base}" if child is None else f"{name}:{line} imports {child} from {base}"
        for line, base, child in imported_names(path)
        if outside(base if child is None else f"{base}.{child}")
    ]


def test_no_module_imports_another_modules_private_names() -> None:
    crossing = [line for path in sorted(PACKAGE.rglob("*.py")) for line in private_imports(path)]
    assert not crossing, "\n".join(crossing)


def test_the_private_check_sees_every_form(tmp_path: Path) -> None:
    """A private function, class or module imported from elsewhere is found; a package's own
    private module imported inside the package, a dunder, and a public name are not."""
    cases = {
        "labelport/evaluation/a.py": "from labelport.formats.coco.exporter import _put_geometry, write_coco\n",
        "labelport/evaluation/b.py": "def f():\n    from labelport.store._json import dumps\n",
        "labelport/evaluation/c.py": "import labelport.store._json as j\n",
        "labelport/evaluation/d.py": "from labelport.store import _json\n",
        "labelport/evaluation/e.py": "from ..formats.coco.exporter import _Allocator\n",
        "labelport/store/f.py": "from labelport.store._json import dumps\nfrom labelport.store import _json\n",
        "labelport/g.py": "from labelport.version import __version__\nfrom labelport.labels import Point\n",
    }
    for relative, text in cases.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "labelport"
    try:
        found = {relative: private_imports(tmp_path / relative) for relative in cases}
    finally:
        PACKAGE = saved
    assert found == {
        "labelport/evaluation/a.py": [
            "labelport.evaluation.a:1 imports _put_geometry from labelport.formats.coco.exporter"
        ],
        "labelport/evaluation/b.py": ["labelport.evaluation.b:2 imports dumps from labelport.store._json"],
        "labelport/evaluation/c.py": ["labelport.evaluation.c:1 imports labelport.store._json"],
        "labelport/evaluation/d.py": ["labelport.evaluation.d:1 imports _json from labelport.store"],
        "labelport/evaluation/e.py": [
            "labelport.evaluation.e:1 imports _Allocator from labelport.formats.coco.exporter"
        ],
        "labelport/store/f.py": [],
        "labelport/g.py": [],
    }
