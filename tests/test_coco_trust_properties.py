"""Properties of issue 10's input side, over generated inputs (Hypothesis, bounded):

- for any import that fails, the SQLite store file and the PostgreSQL database read back exactly as
  before (every table dumped before and after), over a mix of valid and broken files;
- the CLI importer, fed mutated copies of the shared fixture files, never shows a traceback: it
  exits 0 or 1, and 1 ends in one sentence.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coco_builders import DATA, coco_template, template_ontology, to_bytes, with_value
from labelport.cli import cli
from labelport.data import DataUnit
from labelport.errors import LabelportError
from labelport.service import LocalService
from labelport.store.base import LabelStore
from labelport.store.postgres import PostgresStore
from labelport.store.sqlite import SqliteStore
from test_coco_trust import CASES as BROKEN_FILES
from test_coco_validation import CASES as BROKEN_FIELDS

if TYPE_CHECKING:
    pass

LIMITS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- reading a whole store back --------------------------------------------------------------------


def sqlite_dump(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return list(db.iterdump())


def postgres_dump(url: str) -> dict[str, list[str]]:
    """Every row of every table of the database, each table's rows sorted."""
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        return {t: sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{t}"')) for t in tables}


@pytest.fixture(params=["sqlite", "postgres"])
def store_and_dump(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[LabelStore, Callable[[], Any]]]:
    store: LabelStore
    if request.param == "postgres":
        url = str(request.getfixturevalue("pg_url"))
        store = PostgresStore(url)
        yield store, lambda: postgres_dump(url)
    else:
        path = tmp_path / "store.db"
        store = SqliteStore(path)
        yield store, lambda: sqlite_dump(path)
    store.close()


# -- generated sources -----------------------------------------------------------------------------

field_breaks = st.sampled_from(BROKEN_FIELDS).map(lambda c: (c.where, c.value))
# A few breaks that are valid on their own (the mix must also hold imports that succeed).
harmless = st.sampled_from(
    [
        ("images[0].license", 3),
        ("annotations[0].area", 12.5),
        ("annotations[4].iscrowd", 1),
        ("info.year", 2025),
    ]
)


@st.composite
def sources(draw: st.DrawFn) -> bytes:
    """A template with 0 to 3 fields broken, or one of the broken files of the input table."""
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(st.sampled_from(BROKEN_FILES)).make()
    doc = coco_template()
    for where, value in draw(st.lists(st.one_of(field_breaks, harmless), max_size=3)):
        with suppress(TypeError, KeyError, IndexError):  # (an earlier break removed the place)
            doc = with_value(doc, where, value)
    return to_bytes(doc)


options = st.fixed_dictionaries(
    {
        "on_error": st.sampled_from(["fail", "skip"]),
        "categories": st.sampled_from(["by-name", "create"]),
        "create_missing_data_units": st.booleans(),
        "dry_run": st.booleans(),
        "replace": st.booleans(),
    }
)


def test_a_failed_import_leaves_the_store_exactly_as_it_was(
    store_and_dump: tuple[LabelStore, Callable[[], Any]],
) -> None:
    store, dump = store_and_dump
    service = LocalService.embedded(store, name="ada", fingerprint="SHA256:ada")
    by_name = service.create_project("by name", structure=template_ontology())
    empty = service.create_project("created")
    for project_hash in (by_name, empty):
        units = [
            DataUnit.video(t, width=w, height=h, frames=d[0]) if d else DataUnit.image(t, width=w, height=h)
            for t, w, h, *d in DATA
        ]
        service.add_data_units(project_hash, units)
    outcomes: dict[str, int] = {"failed": 0, "imported": 0}

    @LIMITS
    @given(source=sources(), chosen=options, into_empty=st.booleans())
    def check(source: bytes, chosen: dict[str, Any], into_empty: bool) -> None:
        before = dump()
        try:
            service.import_coco(empty if into_empty else by_name, source, chosen)
        except LabelportError:
            outcomes["failed"] += 1
            assert dump() == before
        else:
            outcomes["imported"] += 1
            if chosen["dry_run"]:
                assert dump() == before

    check()
    assert outcomes["failed"] and outcomes["imported"], outcomes


# -- a bounded fuzz of the CLI importer ----------------------------------------------------------------

FIXTURES = [
    "seed/bounding_box.json",
    "seed/polygon.json",
    "keypoints/person_keypoints_gt.json",
    "datumaro/instances_val.json",
    "datumaro/person_keypoints_val.json",
    "label-studio/coco_import_input.json",
    "predictions/instances_val2014_fakebbox100_results.json",
]
TOKENS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b",",
    b":",
    b"\xff",
    b"\xc3",
    b"1e999",
    b"-0",
    b"null",
    b"true",
    b'"id"',
    b"18446744073709551616",
    b"1" + b"0" * 400,
    b"\\u0000",
    b"\\ud800",
    b"[" * 5000,
]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)


def _replace_somewhere(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with one value somewhere in it (found by a random walk) replaced."""
    node, depth = doc, draw(st.integers(1, 5))
    for _ in range(depth):
        children = (
            list(node.items())
            if isinstance(node, dict)
            else list(enumerate(node))
            if isinstance(node, list)
            else []
        )
        if not children:
            break
        key, child = draw(st.sampled_from(children))
        if not isinstance(child, (dict, list)) or draw(st.integers(0, 3)) == 0:
            node[key] = draw(json_values)
            return doc
        node = child
    return doc


@st.composite
def mutated(draw: st.DrawFn, files: dict[str, bytes]) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(files)))
    if draw(st.booleans()):  # a value changed: still JSON, so the checks beyond parsing are reached
        doc = json.loads(files[name])
        for _ in range(draw(st.integers(1, 3))):
            doc = _replace_somewhere(draw, doc)
        return name.replace("/", "-"), json.dumps(doc).encode()
    data = bytearray(files[name])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[at:]
    out = bytes(data)
    if draw(st.integers(0, 4)) == 0:
        out = gzip.compress(out)
        out = out[: draw(st.integers(len(out) // 2, len(out)))]
        name += ".gz"
    return name.replace("/", "-"), out


def test_the_cli_importer_never_shows_a_traceback(
    shared_fixtures: Path, tmp_path: Path, home: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LABELPORT_KEY", str(key_path))
    monkeypatch.setenv("LABELPORT_MAX_IMPORT_BYTES", str(8 << 20))
    files = {name: (shared_fixtures / name).read_bytes() for name in FIXTURES}
    runner = CliRunner(catch_exceptions=False)  # anything escaping the CLI fails the test
    project_hash = runner.invoke(cli, ["project", "create", "fuzz"]).stdout.strip()
    flags = st.lists(
        st.sampled_from(
            [["--categories", "create"], ["--create-missing"], ["--on-error", "skip"], ["--dry-run"]]
        ),
        max_size=3,
    )

    @LIMITS
    @given(source=mutated(files), chosen=flags)
    def check(source: tuple[str, bytes], chosen: list[list[str]]) -> None:
        path = tmp_path / source[0]
        path.write_bytes(source[1])
        before = sqlite_dump(home / "labelport.db")
        args = ["import", "coco", project_hash, str(path), *[a for flag in chosen for a in flag]]
        result = runner.invoke(cli, args)
        assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout
        if result.exit_code == 1:
            last = result.stderr.rstrip("\n").rsplit("\n", 1)[-1]
            assert last.startswith("Error: ") and "\n" not in last, result.stderr
            assert sqlite_dump(home / "labelport.db") == before

    check()


# -- the same promises on both stores ------------------------------------------------------------------


def _service_with_template(store: LabelStore, structure: Any = None) -> tuple[LocalService, str]:
    service = LocalService.embedded(store, name="ada", fingerprint="SHA256:ada")
    project_hash = service.create_project("p", structure=structure or template_ontology())
    service.add_data_units(
        project_hash,
        [
            DataUnit.video(t, width=w, height=h, frames=d[0]) if d else DataUnit.image(t, width=w, height=h)
            for t, w, h, *d in DATA
        ],
    )
    return service, project_hash


def test_a_dry_run_reports_what_the_real_run_does_on_both_stores(
    store_and_dump: tuple[LabelStore, Callable[[], Any]],
) -> None:
    store, dump = store_and_dump
    service, project_hash = _service_with_template(store)
    service.import_coco(project_hash, coco_template(), {})
    for chosen in ({}, {"replace": True}, {"on_error": "skip"}):
        before = dump()
        dry = service.import_coco(project_hash, coco_template(), {**chosen, "dry_run": True}).to_dict()
        assert dump() == before
        real = service.import_coco(project_hash, coco_template(), chosen).to_dict()
        for report in (dry, real):
            for key in ("dry_run", "written", "seconds"):
                report.pop(key)
        assert dry == real


def test_an_empty_attribute_key_leaves_a_readable_project_on_both_stores(
    store_and_dump: tuple[LabelStore, Callable[[], Any]],
) -> None:
    from labelport.ontology import OntologyStructure

    store, _dump = store_and_dump
    service, project_hash = _service_with_template(store, OntologyStructure())
    coco = with_value(coco_template(), "annotations[0].attributes", {"": 1, "note": "x"})
    report = service.import_coco(project_hash, coco, {"categories": "create"})
    assert report.written
    _project, ontology = service.get_project(project_hash)
    assert [a.name for a in ontology.get_child_by_title("box").attributes] == ["note"]
