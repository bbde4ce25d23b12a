"""Every docstring example in the library runs: they show calls, so they must stay true.

Only modules that have examples are run (a module without any would pass without testing anything),
and the modules written down in ``WITH_EXAMPLES`` must keep theirs: a module that loses its examples
fails here instead of silently dropping out.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import labelport

#: Modules whose docstrings show runnable calls. Add a module here when it gains examples.
WITH_EXAMPLES = {
    "labelport.formats.coco.flat_polygons",
    "labelport.imports.seen_keys",
    "labelport.formats.coco.dict_annotations",
    "labelport.formats.coco.slices",
    "labelport.cli",
    "labelport.cli.base",
    "labelport.convert",
    "labelport.coordinates",
    "labelport.data",
    "labelport.demo",
    "labelport.errors",
    "labelport.formats",
    "labelport.formats.base",
    "labelport.formats.coco.match",
    "labelport.formats.coco.ontology",
    "labelport.formats.coco.read",
    "labelport.formats.coco.schema",
    "labelport.formats.coco.validate",
    "labelport.formats.labelstudio.read",
    "labelport.formats.labelstudio.rle",
    "labelport.formats.subsets",
    "labelport.formats.voc.read",
    "labelport.formats.voc.write",
    "labelport.formats.xml",
    "labelport.formats.yolo.write",
    "labelport.geometry",
    "labelport.hashing",
    "labelport.home",
    "labelport.imports.policy",
    "labelport.imports.report",
    "labelport.imports.workers",
    "labelport.keys",
    "labelport.labels",
    "labelport.ontology",
    "labelport.progress",
    "labelport.server.admin",
    "labelport.server.app",
    "labelport.server.remote",
    "labelport.server.requests",
    "labelport.server.routers",
    "labelport.server.routers.data",
    "labelport.server.routers.evaluations",
    "labelport.server.routers.exports",
    "labelport.server.routers.imports",
    "labelport.server.routers.labels",
    "labelport.server.routers.ontologies",
    "labelport.server.routers.projects",
    "labelport.server.routers.ui",
    "labelport.server.routers.users",
    "labelport.server.signing",
    "labelport.server.uploads",
    "labelport.server.wire_format",
    "labelport.service",
    "labelport.stored.codec",
    "labelport.stored.decode",
    "labelport.stored.encode",
    "labelport.stored.ids",
    "labelport.version",
}


def _examples(module: ModuleType) -> int:
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


def _modules() -> dict[str, ModuleType]:
    return {
        name: importlib.import_module(name)
        for _, name, _ in pkgutil.walk_packages(labelport.__path__, "labelport.")
        if not name.endswith("__main__")
    }


MODULES = _modules()
HAVE_EXAMPLES = sorted(name for name, module in MODULES.items() if _examples(module))


def test_modules_keep_their_examples() -> None:
    lost = sorted(WITH_EXAMPLES - set(HAVE_EXAMPLES))
    assert not lost, f"these modules no longer have docstring examples: {lost}"


@pytest.mark.parametrize("name", HAVE_EXAMPLES)
def test_docstring_examples_run(name: str) -> None:
    failed, attempted = doctest.testmod(MODULES[name], optionflags=doctest.ELLIPSIS)
    assert attempted > 0
    assert failed == 0, f"{failed} docstring examples of {name} fail (run: python -m doctest -v)"


COMMENT_ONLY = re.compile(r"^\s*>>>\s*#", re.MULTILINE)


def test_no_comment_only_example_lines() -> None:
    """``>>> # ...`` looks like an example but doctest skips it; write a real example or prose."""
    source = Path(labelport.__file__).parent
    found = [
        f"{path.relative_to(source)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in sorted(source.rglob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
        for match in COMMENT_ONLY.finditer(text)
    ]
    assert not found, f"comment-only doctest lines (doctest runs none of them): {found}"
