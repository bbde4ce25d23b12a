"""The store contract, run against both SqliteStore and PostgresStore: the same calls, the same answers.

PostgreSQL comes from ``tests/pg.py`` (a real cluster started for the session).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import psycopg
import pytest

from labelport.data import DataType, DataUnit, Member
from labelport.errors import NotFoundError, SchemaVersionError, StoreError
from labelport.ontology import OntologyStructure, Shape
from labelport.store.base import (
    BulkRow,
    BulkRows,
    ClassificationRecord,
    LabelStore,
    ObjectRecord,
    PlainRow,
    PlainRows,
    ProjectRecord,
)
from labelport.store.postgres import LATEST, PostgresStore, display_url
from labelport.store.sql import FEW_UNITS
from labelport.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from bench.pgcluster import PostgresCluster

HOSTILE = [
    "'); DROP TABLE projects;--",
    "Robert'); --",
    "😀 cats 🐈‍⬛ and dogs 🐕",
    "שלום עולם مرحبا بالعالم",
    'back\\slash "quoted" \t tab\nnewline',
    "%s %(name)s {0} $1 ?",
]


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(backend, where): a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return "postgres", str(request.getfixturevalue("pg_url"))
    return "sqlite", str(tmp_path / "store.db")


@pytest.fixture
def open_store(target: tuple[str, str]) -> Iterator[Callable[[], LabelStore]]:
    """Opens (or reopens) a store on the target; every store opened is closed afterwards."""
    opened: list[LabelStore] = []

    def open_() -> LabelStore:
        backend, where = target
        store: LabelStore = PostgresStore(where) if backend == "postgres" else SqliteStore(where)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], LabelStore]) -> LabelStore:
    return open_store()


def _structure() -> OntologyStructure:
    structure = OntologyStructure()
    structure.add_object("cat", Shape.BOUNDING_BOX)
    structure.add_object("dog", Shape.POLYGON)
    return structure


def _project(store: LabelStore, title: str = "p", *, owner: int | None = None) -> ProjectRecord:
    if owner is None:
        owner = store.upsert_user("owner", "SHA256:owner", "ssh-ed25519 AAAA owner").id
    record = ProjectRecord(
        project_hash=f"proj-{title}-{uuid.uuid4()}",
        title=title,
        description="d",
        ontology_hash=f"ont-{title}-{uuid.uuid4()}",
        created_by="owner",
        created_at="2026-01-01T00:00:00+00:00",
    )
    store.create_project(record, _structure(), owner)
    return record


def _object(data_hash: str, n: int, **changes: Any) -> ObjectRecord:
    record = ObjectRecord(
        data_hash=data_hash,
        frame=0,
        object_hash=f"obj{n:05d}",
        feature_hash="feat0001",
        geometry=b"[1,2,3,4]",
        confidence=0.875,
        manual=True,
        created_by="ada",
        created_at="2026-01-01T00:00:00+00:00",
        answers=None,
        source=None,
        source_key=None,
        record=None,
        edited=False,
    )
    return record._replace(**changes)


def _bulk_row(row_id: int, key: int, *, x: int = 0) -> PlainRow:
    """A plain ground-truth row, its record as the importer passes it: a slice of the file it read."""
    record = msgspec.Raw(b'{"id":%d,"bbox":[%d,2,3,4]}' % (key, x))
    return (row_id, 0, f"k{key:06d}", "feat0001", key, record)


def _full_row(row_id: int, key: int, *, confidence: float = 0.25) -> BulkRow:
    """A row with its own confidence, manual flag and answers."""
    return (
        row_id,
        0,
        f"f{key:06d}",
        "feat0002",
        key,
        memoryview(b'{"id":%d}' % key),
        confidence,
        0,
        b'{"a":1}',
    )


# -- schema and plumbing ---------------------------------------------------------------------------


def test_schema_version_is_the_latest_and_reopening_keeps_data(
    store: LabelStore, open_store: Callable[[], LabelStore]
) -> None:
    assert store.schema_version() == LATEST
    project = _project(store)
    again = open_store()
    assert again.schema_version() == LATEST
    assert again.get_project(project.project_hash) == project


def test_a_newer_schema_is_refused(
    store: LabelStore, open_store: Callable[[], LabelStore], target: tuple[str, str]
) -> None:
    backend, where = target
    store.close()
    if backend == "sqlite":
        db = sqlite3.connect(where)
        db.execute("PRAGMA user_version=99")
        db.close()
    else:
        with psycopg.connect(where, autocommit=True) as conn:
            conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'later')")
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        open_store()


def test_a_database_that_cannot_be_reached_is_a_store_error_without_the_password() -> None:
    url = "postgresql://ada:sekrit@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    assert "sekrit" not in str(caught.value)
    assert isinstance(caught.value.__cause__, psycopg.Error)
    assert display_url(url) == "postgresql://ada:***@127.0.0.1:1/nowhere?connect_timeout=2"


# -- users, roles, nonces --------------------------------------------------------------------------


def test_users_roles_and_admin_flag(store: LabelStore) -> None:
    ada = store.upsert_user("ada", "SHA256:ada", "ssh-ed25519 AAAA ada", is_admin=True)
    assert ada.is_admin and ada.name == "ada" and ada.fingerprint == "SHA256:ada"
    again = store.upsert_user("Ada L.", "SHA256:ada", "")  # no key given: the stored key stays
    assert again.id == ada.id and again.is_admin and again.name == "Ada L."
    assert store.public_key("SHA256:ada") == "ssh-ed25519 AAAA ada"
    assert store.user_by_fingerprint("SHA256:nobody") is None
    assert store.public_key("SHA256:nobody") is None
    bob = store.upsert_user("bob", "SHA256:bob", "ssh-ed25519 AAAA bob")
    project = _project(store, owner=ada.id)
    assert store.role(project.project_hash, ada.id) == "admin"
    assert store.role(project.project_hash, bob.id) is None
    store.set_role(project.project_hash, bob.id, "viewer")
    store.set_role(project.project_hash, bob.id, "annotator")
    assert store.role(project.project_hash, bob.id) == "annotator"
    assert [p.project_hash for p in store.list_projects(bob.id)] == [project.project_hash]
    assert store.list_projects(store.upsert_user("cy", "SHA256:cy", "").id) == []
    with pytest.raises(NotFoundError):
        store.set_role("no-such-project", bob.id, "viewer")


def test_nonces_are_used_once_and_forgotten_after_keep_seconds(store: LabelStore) -> None:
    assert store.use_nonce("n1", 1000.0, 600.0) is True
    assert store.use_nonce("n1", 1001.0, 600.0) is False
    assert store.use_nonce("n2", 1002.0, 600.0) is True
    assert store.use_nonce("n1", 1700.0, 600.0) is True  # n1 was forgotten at 1700 - 600


# -- ontologies and projects -----------------------------------------------------------------------


def test_ontologies_and_projects(store: LabelStore) -> None:
    owner = store.upsert_user("owner", "SHA256:owner", "").id
    structure = _structure()
    store.create_ontology("ont-1", "animals", structure)
    got = store.get_ontology("ont-1")
    assert got.title == "animals" and got.structure.to_dict() == structure.to_dict()
    assert [o.ontology_hash for o in store.list_ontologies()] == ["ont-1"]
    with pytest.raises(NotFoundError, match="No ontology with hash nope"):
        store.get_ontology("nope")
    shared = ProjectRecord("p-shared", "shares ont-1", "", "ont-1", "owner", "2026-01-01T00:00:00+00:00")
    store.create_project(shared, None, owner)
    assert store.get_project("p-shared") == shared
    missing = ProjectRecord("p-missing", "t", "", "no-such-ontology", "owner", "2026-01-01T00:00:00+00:00")
    with pytest.raises(NotFoundError):
        store.create_project(missing, None, owner)
    with pytest.raises(NotFoundError, match="No project with hash p-missing"):
        store.get_project("p-missing")
    own = _project(store, "own", owner=owner)
    assert [p.project_hash for p in store.list_projects(None)] == ["p-shared", own.project_hash]
    with pytest.raises(StoreError) as caught:  # the same project hash twice
        store.create_project(shared, None, owner)
    assert isinstance(caught.value.__cause__, (sqlite3.Error, psycopg.Error))


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_and_unicode_text_is_stored_and_returned_intact(store: LabelStore, text: str) -> None:
    owner = store.upsert_user(text, "SHA256:" + text, text).id
    assert store.user_by_fingerprint("SHA256:" + text) is not None
    record = ProjectRecord(
        "p-" + text, text, text + " description", "o-" + text, text, "2026-01-01T00:00:00+00:00"
    )
    store.create_project(record, _structure(), owner)
    assert store.get_project("p-" + text) == record
    assert store.get_ontology("o-" + text).title == text
    unit = DataUnit.image(text + ".jpg", width=640, height=480, location="/data/" + text)
    unit.extra = {text: text}
    store.add_data_units(record.project_hash, [unit])
    (stored,) = store.list_data_units(record.project_hash)
    assert stored == unit
    store.save_label_row(
        record.project_hash, text, unit.data_hash, [_object(unit.data_hash, 1, created_by=text)], []
    )
    (row,) = store.load_label_rows(record.project_hash, text)
    assert row.objects[0].created_by == text
    assert store.list_branches(record.project_hash) == sorted(["main", text])
    assert [p.title for p in store.list_projects(None)] == [text]  # the projects table is still there


# -- data units ------------------------------------------------------------------------------------


def test_data_units_round_trip_and_one_bad_unit_adds_nothing(store: LabelStore) -> None:
    project = _project(store)
    image = DataUnit.image("cat.jpg", width=640, height=480, location="/d/cat.jpg")
    video = DataUnit.video("clip.mp4", width=1920, height=1080, frames=250, fps=29.97)
    group = DataUnit.group(
        "scan", [Member("a.dcm", 512, 512, "/d/a"), Member("b.dcm", 256, 512)], DataType.DICOM
    )
    group.extra = {"coco": {"id": 7, "flickr_url": None, "nested": [1.5, "x"]}}
    store.add_data_units(project.project_hash, [image, video, group])
    assert store.list_data_units(project.project_hash) == [image, video, group]
    rows = store.load_label_rows(project.project_hash, "main")
    assert [r.data_hash for r in rows] == [image.data_hash, video.data_hash, group.data_hash]
    assert all(r.label_hash and r.objects == [] for r in rows)
    clash = DataUnit("again.jpg", DataType.IMAGE, 1, 1, data_hash=image.data_hash)
    with pytest.raises(StoreError) as caught:
        store.add_data_units(project.project_hash, [DataUnit.image("fresh.jpg", width=1, height=1), clash])
    assert isinstance(caught.value.__cause__, (sqlite3.Error, psycopg.Error))
    assert len(store.list_data_units(project.project_hash)) == 3
    with pytest.raises(NotFoundError):
        store.add_data_units("no-such-project", [DataUnit.image("x.jpg", width=1, height=1)])


# -- label rows ------------------------------------------------------------------------------------


def test_label_rows_save_load_replace_and_iterate(store: LabelStore) -> None:
    project = _project(store)
    units = [DataUnit.image(f"{i}.jpg", width=100, height=100) for i in range(3)]
    store.add_data_units(project.project_hash, units)
    first, second = units[0].data_hash, units[1].data_hash
    objects = [
        _object(first, 1),
        _object(first, 2, frame=0, geometry=None, source="coco.json", source_key=2**40, record=b'{"id":1}'),
        _object(first, 3, answers=b'{"color":"red"}', confidence=0.1 + 0.2, manual=False, created_at=None),
    ]
    classifications = [
        ClassificationRecord(first, "cls1", "feat0009", b"[0]", b'"yes"', "ada", "2026-01-02T00:00:00+00:00"),
        ClassificationRecord(first, "cls2", "feat0009", b"[0]", None, None, None),
    ]
    label_hash = store.save_label_row(project.project_hash, "main", first, objects, classifications)
    rows = {r.data_hash: r for r in store.load_label_rows(project.project_hash, "main")}
    assert rows[first].label_hash == label_hash
    assert rows[first].objects == objects
    assert rows[first].classifications == classifications
    assert rows[second].objects == []
    only = store.load_label_rows(project.project_hash, "main", [second, "not-a-unit"])
    assert [r.data_hash for r in only] == [second]
    # saving again replaces the row's objects, keeping its label hash
    assert store.save_label_row(project.project_hash, "main", first, objects[:1], []) == label_hash
    (again,) = store.load_label_rows(project.project_hash, "main", [first])
    assert again.objects == objects[:1] and again.classifications == []
    # another branch: label rows not yet written there come back empty, with no label hash
    store.save_label_row(project.project_hash, "review", second, [_object(second, 9)], [])
    review = store.load_label_rows(project.project_hash, "review")
    assert [(r.data_hash, bool(r.label_hash), len(r.objects)) for r in review] == [
        (first, False, 0),
        (second, True, 1),
        (units[2].data_hash, False, 0),
    ]
    assert store.list_branches(project.project_hash) == ["main", "review"]
    assert list(store.iter_objects(project.project_hash, "main")) == objects[:1]
    assert [o.object_hash for o in store.iter_objects(project.project_hash, "review")] == ["obj00009"]
    with pytest.raises(NotFoundError, match="data unit"):
        store.save_label_row(project.project_hash, "main", "no-such-unit", [], [])
    other = _project(store, "other")
    with pytest.raises(NotFoundError):  # a data unit of another project
        store.save_label_row(other.project_hash, "main", first, [], [])


def test_label_rows_are_listed_light_with_their_object_counts(store: LabelStore) -> None:
    project = _project(store)
    image, empty = DataUnit.image("a.jpg", width=4, height=3), DataUnit.image("b.jpg", width=8, height=6)
    video = DataUnit.video("clip.mp4", width=64, height=48, frames=5)
    store.add_data_units(project.project_hash, [image, video, empty])
    image_objects = [_object(image.data_hash, n) for n in range(3)]
    main_hash = store.save_label_row(project.project_hash, "main", image.data_hash, image_objects, [])
    # two instances on the video, one of them on three frames: two objects, four object frames
    video_objects = [_object(video.data_hash, 7, frame=f) for f in (0, 1, 4)] + [_object(video.data_hash, 8)]
    store.save_label_row(project.project_hash, "main", video.data_hash, video_objects, [])
    other = _project(store, "other")  # its rows are not listed with ours, nor counted
    (elsewhere,) = [DataUnit.image("a.jpg", width=4, height=3)]
    store.add_data_units(other.project_hash, [elsewhere])
    store.save_label_row(
        other.project_hash, "main", elsewhere.data_hash, [_object(elsewhere.data_hash, 1)], []
    )

    listed = store.list_label_rows(project.project_hash, "main")
    assert [(*tuple(r)[:7], r.object_count) for r in listed] == [
        (image.data_hash, "a.jpg", "image", 4, 3, 1, "main", 3),
        (video.data_hash, "clip.mp4", "video", 64, 48, 5, "main", 2),
        (empty.data_hash, "b.jpg", "image", 8, 6, 1, "main", 0),
    ]
    assert listed[0].label_hash == main_hash and all(r.label_hash for r in listed)
    loaded = {r.data_hash: r.label_hash for r in store.load_label_rows(project.project_hash, "main")}
    assert {r.data_hash: r.label_hash for r in listed} == loaded
    assert store.list_label_rows(project.project_hash, "main", [empty.data_hash, "nope"]) == [listed[2]]
    # by hash (a few) or by listing all (many): the same rows, in the project's order, never another's
    few = [empty.data_hash, elsewhere.data_hash, image.data_hash]
    assert store.list_label_rows(project.project_hash, "main", few) == [listed[0], listed[2]]
    many = few + [f"nope-{n}" for n in range(FEW_UNITS)]
    assert store.list_label_rows(project.project_hash, "main", many) == [listed[0], listed[2]]
    assert store.list_label_rows(project.project_hash, "main", []) == []
    # a branch with no rows yet: every unit, no label hash, nothing counted
    review = store.list_label_rows(project.project_hash, "review")
    assert [(r.branch, r.label_hash, r.object_count) for r in review] == [("review", "", 0)] * 3


# -- bulk ------------------------------------------------------------------------------------------


def _import(
    store: LabelStore, project: ProjectRecord, keys: range, *, x: int = 0, source: str = "a.json"
) -> None:
    with store.bulk(project.project_hash, "main", source, "ada") as session:
        units = {u.data_hash: u for u in store.list_data_units(project.project_hash)}
        ids = session.label_row_ids(list(units))
        row_ids = list(ids.values())
        session.write(PlainRows([_bulk_row(row_ids[k % len(row_ids)], k, x=x) for k in keys]))
        session.commit(b'{"ok":true}')


def test_bulk_write_commit_and_idempotent_upsert(store: LabelStore) -> None:
    project = _project(store)
    store.add_data_units(
        project.project_hash, [DataUnit.image(f"{i}.jpg", width=9, height=9) for i in range(5)]
    )
    _import(store, project, range(1000))
    first = list(store.iter_objects(project.project_hash, "main"))
    assert len(first) == 1000
    assert {o.source for o in first} == {"a.json"} and first[0].source_key == 0
    assert first[0].record == b'{"id":0,"bbox":[0,2,3,4]}' and first[0].geometry is None
    # a plain row: confidence 1, manual, no answers, the session's user and one time for all
    assert {(o.confidence, bool(o.manual), o.answers, o.created_by, bool(o.edited)) for o in first} == {
        (1.0, True, None, "ada", False)
    }
    assert len({o.created_at for o in first}) == 1 and first[0].created_at
    # the same import again changes nothing, not even the time (a second later, under load); with
    # new values it updates in place
    time.sleep(1.1)
    _import(store, project, range(1000))
    again = list(store.iter_objects(project.project_hash, "main"))
    assert again == first
    _import(store, project, range(500, 1500), x=7)
    after = list(store.iter_objects(project.project_hash, "main"))
    assert len(after) == 1500
    assert [o.source_key for o in after] == list(range(1500))  # updated rows keep their place
    assert after[10] == again[10]  # a row the third import did not name is left as it was
    assert after[600].record == b'{"id":600,"bbox":[7,2,3,4]}'
    assert after[600].created_at > first[600].created_at  # a changed row takes the new import's time
    with store.bulk(project.project_hash, "main", "a.json", "ada") as session:
        keys = session.existing_keys()
        session.commit(b"{}")
    assert len(keys) == 1500 and keys[3][0] == "k000003"
    assert [i["source"] for i in store.imports(project.project_hash)] == ["a.json"] * 4


def test_bulk_upsert_resets_edited_and_a_key_twice_in_one_write_keeps_the_last(store: LabelStore) -> None:
    project = _project(store)
    (unit,) = [DataUnit.image("one.jpg", width=9, height=9)]
    store.add_data_units(project.project_hash, [unit])
    _import(store, project, range(3))
    (row,) = store.load_label_rows(project.project_hash, "main")
    edited = [o._replace(edited=True, geometry=b"[9,9,9,9]") for o in row.objects]
    store.save_label_row(project.project_hash, "main", unit.data_hash, edited, [])
    with store.bulk(project.project_hash, "main", "a.json", "ada") as session:
        row_id = session.label_row_ids([unit.data_hash])[unit.data_hash]
        session.write(
            PlainRows([_bulk_row(row_id, 1, x=1), _bulk_row(row_id, 5, x=1), _bulk_row(row_id, 1, x=2)])
        )
        session.commit(b"{}")
    objects = list(store.iter_objects(project.project_hash, "main"))
    assert [(o.source_key, o.edited) for o in objects] == [(0, True), (1, False), (2, True), (5, False)]
    assert objects[1].record == b'{"id":1,"bbox":[2,2,3,4]}'
    # a fresh source given one key twice in one write: still one row, the last values
    with store.bulk(project.project_hash, "main", "b.json", "ada") as session:
        row_id = session.label_row_ids([unit.data_hash])[unit.data_hash]
        session.write(PlainRows([_bulk_row(row_id, 1, x=1), _bulk_row(row_id, 1, x=3)]))
        session.commit(b"{}")
    from_b = [o for o in store.iter_objects(project.project_hash, "main") if o.source == "b.json"]
    assert [(o.source_key, o.record) for o in from_b] == [(1, b'{"id":1,"bbox":[3,2,3,4]}')]


def test_an_exception_inside_bulk_leaves_nothing(store: LabelStore) -> None:
    project = _project(store)
    store.add_data_units(project.project_hash, [DataUnit.image("kept.jpg", width=9, height=9)])
    before_units = store.list_data_units(project.project_hash)
    new_unit = DataUnit.image("new.jpg", width=9, height=9)
    with (
        pytest.raises(RuntimeError, match="boom"),
        store.bulk(project.project_hash, "side", "a.json", "ada") as s,
    ):
        s.add_data_units([new_unit])
        # reads inside the import see its own writes
        assert len(store.list_data_units(project.project_hash)) == 2
        ids = s.label_row_ids([u.data_hash for u in store.list_data_units(project.project_hash)])
        s.write(PlainRows([_bulk_row(row_id, n) for n, row_id in enumerate(ids.values())]))
        s.set_data_unit_extra({new_unit.data_hash: {"x": 1}})
        s.save_ontology(OntologyStructure())
        raise RuntimeError("boom")
    assert store.list_data_units(project.project_hash) == before_units
    assert store.list_branches(project.project_hash) == ["main"]
    assert list(store.iter_objects(project.project_hash, "side")) == []
    assert store.imports(project.project_hash) == []
    assert len(store.get_ontology(project.ontology_hash).structure.objects) == 2


def test_a_bulk_session_without_commit_writes_nothing(store: LabelStore) -> None:
    project = _project(store)
    store.add_data_units(project.project_hash, [DataUnit.image("a.jpg", width=9, height=9)])
    with (
        pytest.raises(StoreError, match="without commit"),
        store.bulk(project.project_hash, "main", "a", "ada") as s,
    ):
        ids = s.label_row_ids([u.data_hash for u in store.list_data_units(project.project_hash)])
        s.write(PlainRows([_bulk_row(next(iter(ids.values())), 1)]))
    assert list(store.iter_objects(project.project_hash, "main")) == []


def test_bulk_clear_extras_ontology_and_new_branches(store: LabelStore) -> None:
    project = _project(store)
    units = [DataUnit.image(f"{i}.jpg", width=9, height=9) for i in range(3)]
    store.add_data_units(project.project_hash, units)
    _import(store, project, range(30))
    structure = _structure()
    structure.add_object("bird", Shape.POINT)
    with store.bulk(project.project_hash, "main", "a.json", "ada") as session:
        ids = session.label_row_ids([units[0].data_hash, units[1].data_hash])
        assert set(ids) == {units[0].data_hash, units[1].data_hash}
        assert session.clear([ids[units[0].data_hash]]) == 10
        assert session.clear([]) == 0
        session.set_data_unit_extra({units[2].data_hash: {"coco": {"id": 3}}})
        session.save_ontology(structure)
        session.set_project_extra({"coco": {"info": {"year": 2026, "title": "שלום 😀"}}})
        session.commit(b"{}")
    assert store.get_project(project.project_hash).extra == {
        "coco": {"info": {"year": 2026, "title": "שלום 😀"}}
    }
    assert store.list_projects(None)[0].extra == store.get_project(project.project_hash).extra
    assert len(list(store.iter_objects(project.project_hash, "main"))) == 20
    assert store.list_data_units(project.project_hash)[2].extra == {"coco": {"id": 3}}
    assert [o.title for o in store.get_ontology(project.ontology_hash).structure.objects] == [
        "cat",
        "dog",
        "bird",
    ]
    with store.bulk(project.project_hash, "predictions", "p.json", "ada") as session:
        ids = session.label_row_ids([u.data_hash for u in units] + ["not-in-project"])
        assert set(ids) == {u.data_hash for u in units}
        assert session.label_row_ids([units[0].data_hash]) == {units[0].data_hash: ids[units[0].data_hash]}
        session.commit(b"{}")
    assert store.list_branches(project.project_hash) == ["main", "predictions"]


def test_bulk_on_a_missing_project_is_not_found(store: LabelStore) -> None:
    with pytest.raises(NotFoundError), store.bulk("no-such-project", "main", "a", "ada"):
        pass


# -- PostgreSQL only: many threads, many processes on one database ---------------------------------


def test_postgres_store_is_safe_to_share_between_threads(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        project = _project(store)
        units = [DataUnit.image(f"{i}.jpg", width=9, height=9) for i in range(8)]
        store.add_data_units(project.project_hash, units)
        errors: list[BaseException] = []

        def work(unit: DataUnit) -> None:
            try:
                for n in range(20):
                    store.save_label_row(
                        project.project_hash, "main", unit.data_hash, [_object(unit.data_hash, n)], []
                    )
                    store.load_label_rows(project.project_hash, "main", [unit.data_hash])
                    assert store.use_nonce(f"{unit.data_hash}-{n}", 1.0, 600.0)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(u,)) for u in units]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        rows = store.load_label_rows(project.project_hash, "main")
        assert [[o.object_hash for o in r.objects] for r in rows] == [["obj00019"]] * 8
    finally:
        store.close()


def test_postgres_units_added_at_once_by_many_get_one_fresh_label_row_each(pg_url: str) -> None:
    """Units are copied in with ids drawn from their sequence, their label rows written with those
    ids: stores adding units to one project at once never share an id, and each unit gets exactly one
    main label row, with a UUID4 label hash of its own, in the units' order."""
    stores = [PostgresStore(pg_url) for _ in range(4)]
    try:
        project = _project(stores[0])
        batches = [
            [
                DataUnit.video(f"s{n}-{i}.mp4", width=64, height=48, frames=3, fps=(25, 29.97, None)[i % 3])
                if i % 2
                else DataUnit.image(f"s{n}-{i}.jpg", width=640, height=480, location=f"/d/{HOSTILE[i % 6]}")
                for i in range(400)
            ]
            for n in range(len(stores))
        ]
        for batch in batches:
            batch[0].extra = {"coco": {"id": 7, "file_name": "a.jpg", "nested": [1.5, None]}}
        errors: list[BaseException] = []

        def add(store: PostgresStore, batch: list[DataUnit]) -> None:
            try:
                for start in range(0, len(batch), 100):
                    store.add_data_units(project.project_hash, batch[start : start + 100])
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=add, args=pair) for pair in zip(stores, batches, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        stored = {u.data_hash: u for u in stores[0].list_data_units(project.project_hash)}
        assert all(stored[u.data_hash] == u for batch in batches for u in batch)
        assert len(stored) == 1600
        rows = stores[0].load_label_rows(project.project_hash, "main")
        hashes = [r.label_hash for r in rows]
        assert len(rows) == 1600 and len(set(hashes)) == 1600
        assert all(uuid.UUID(h).version == 4 and str(uuid.UUID(h)) == h for h in hashes)
        order = [r.data_hash for r in rows]
        for batch in batches:  # each batch's units keep the order they were added in
            positions = [order.index(u.data_hash) for u in batch]
            assert positions == sorted(positions)
    finally:
        for store in stores:
            store.close()


def test_postgres_upload_chunks_skip_the_write_ahead_log(pg_url: str) -> None:
    """A server's upload chunks wait only for their import (a client sends lost ones again): storing
    megabytes of them writes almost nothing to the write-ahead log, and they read back whole."""
    from labelport.server.uploads import DatabaseUploads

    store = PostgresStore(pg_url)
    try:
        owner = store.upsert_user("uploader", "SHA256:uploader", "ssh-ed25519 AAAA up").id
        uploads = DatabaseUploads(store.server_tables())
        uploads.create_upload("a" * 32, "project", owner, b"{}", 1.0, 3600.0)
        chunks = [os.urandom(2 << 20) for _ in range(4)]
        lsn = "SELECT pg_current_wal_insert_lsn()"
        diff = "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)"
        start = store.sql_one(lsn)
        assert start is not None
        for seq, chunk in enumerate(chunks):
            uploads.put_upload_chunk("a" * 32, seq, chunk)
        written = store.sql_one(diff.replace("%s", "?"), (start[0],))
        assert written is not None and int(written[0]) < 256 * 1024  # of 8 MiB stored
        assert list(uploads.upload_chunks("a" * 32)) == chunks
        uploads.delete_upload("a" * 32)
        assert list(uploads.upload_chunks("a" * 32)) == []
    finally:
        store.close()


def test_concurrent_saves_of_one_label_row_never_mix(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        project = _project(store)
        unit = DataUnit.image("one.jpg", width=9, height=9)
        store.add_data_units(project.project_hash, [unit])
        barrier = threading.Barrier(6)

        def save(n: int) -> None:
            barrier.wait()
            for i in range(10):
                objects = [_object(unit.data_hash, n * 100 + i * 10 + j) for j in range(5)]
                store.save_label_row(project.project_hash, "main", unit.data_hash, objects, [])

        threads = [threading.Thread(target=save, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        (row,) = store.load_label_rows(project.project_hash, "main")
        assert len(row.objects) == 5  # one writer's row, whole
        assert len({int(o.object_hash[3:]) // 10 for o in row.objects}) == 1
    finally:
        store.close()


def test_a_nonce_is_used_once_across_store_instances(postgres_server: PostgresCluster) -> None:
    url = postgres_server.create_database()
    stores = [PostgresStore(url) for _ in range(4)]
    try:
        results: list[bool] = []
        barrier = threading.Barrier(len(stores))

        def use(store: PostgresStore) -> None:
            barrier.wait()
            results.append(store.use_nonce("the-same-nonce", 5.0, 600.0))

        threads = [threading.Thread(target=use, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False, False, False, True]
    finally:
        for store in stores:
            store.close()


def test_two_stores_opening_a_new_database_at_once_migrate_it_once(postgres_server: PostgresCluster) -> None:
    url = postgres_server.create_database()
    opened: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_() -> None:
        try:
            opened.append(PostgresStore(url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert [s.schema_version() for s in opened] == [LATEST] * 4
    finally:
        for store in opened:
            store.close()


def test_postgres_bulk_refuses_label_rows_of_another_project(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        mine, theirs = _project(store, "mine"), _project(store, "theirs")
        store.add_data_units(mine.project_hash, [DataUnit.image("a.jpg", width=9, height=9)])
        store.add_data_units(theirs.project_hash, [DataUnit.image("b.jpg", width=9, height=9)])
        with store.bulk(theirs.project_hash, "main", "x", "ada") as session:
            (their_row,) = session.label_row_ids(
                [u.data_hash for u in store.list_data_units(theirs.project_hash)]
            ).values()
            session.commit(b"{}")
        with (
            pytest.raises(StoreError, match="not in its project"),
            store.bulk(mine.project_hash, "main", "x", "ada") as s,
        ):
            s.write(PlainRows([_bulk_row(their_row, 1)]))
            s.commit(b"{}")
        with (
            pytest.raises(StoreError, match="not in its project"),
            store.bulk(mine.project_hash, "main", "x", "ada") as s,
        ):
            s.write(PlainRows([_bulk_row(10**12, 1)]))
            s.commit(b"{}")
        assert list(store.iter_objects(mine.project_hash, "main")) == []
    finally:
        store.close()


def test_postgres_deleting_a_project_deletes_its_objects(pg_url: str) -> None:
    """objects have no foreign keys (for COPY speed); a trigger on label_rows cascades instead."""
    store = PostgresStore(pg_url)
    try:
        gone, kept = _project(store, "gone"), _project(store, "kept")
        for project in (gone, kept):
            store.add_data_units(project.project_hash, [DataUnit.image("a.jpg", width=9, height=9)])
            _import(store, project, range(100))
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DELETE FROM projects WHERE project_hash = %s", (gone.project_hash,))
            assert conn.execute("SELECT COUNT(*) FROM objects").fetchone() == (100,)
        assert len(list(store.iter_objects(kept.project_hash, "main"))) == 100
    finally:
        store.close()


def test_bulk_full_rows_carry_confidence_manual_and_answers(store: LabelStore) -> None:
    project = _project(store)
    store.add_data_units(project.project_hash, [DataUnit.image("a.jpg", width=9, height=9)])
    for confidence in (0.25, 0.75):  # the second import updates the first in place
        with store.bulk(project.project_hash, "predictions", "p.json", "bot") as session:
            (row_id,) = session.label_row_ids(
                [u.data_hash for u in store.list_data_units(project.project_hash)]
            ).values()
            session.write(PlainRows([_bulk_row(row_id, 1), _bulk_row(row_id, 2)]))
            session.write(
                BulkRows(
                    [_full_row(row_id, 3, confidence=confidence), _full_row(row_id, 4, confidence=confidence)]
                )
            )
            session.write(PlainRows([_bulk_row(row_id, 5)]))
            session.commit(b"{}")
        objects = list(store.iter_objects(project.project_hash, "predictions"))
        assert [o.source_key for o in objects] == [1, 2, 3, 4, 5]
        assert [(o.confidence, bool(o.manual), o.answers) for o in objects] == [
            (1.0, True, None),
            (1.0, True, None),
            (confidence, False, b'{"a":1}'),
            (confidence, False, b'{"a":1}'),
            (1.0, True, None),
        ]
        assert objects[2].record == b'{"id":3}' and {o.created_by for o in objects} == {"bot"}


def test_postgres_imports_into_one_project_wait_for_each_other(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        project = _project(store)
        store.add_data_units(
            project.project_hash, [DataUnit.image(f"{i}.jpg", width=9, height=9) for i in range(4)]
        )
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def run(x: int) -> None:
            try:
                barrier.wait()
                _import(store, project, range(2000), x=x)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(x,)) for x in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        objects = list(store.iter_objects(project.project_hash, "main"))
        assert [o.source_key for o in objects] == list(range(2000))
        assert len({o.record.split(b"[")[1] for o in objects if o.record}) == 1  # one import's values, whole
        assert len(store.imports(project.project_hash)) == 4
    finally:
        store.close()


def test_bulk_rows_are_typed_batches_and_a_bare_list_is_refused(store: LabelStore) -> None:
    """Plain and full rows are told apart by their batch's type, never by a tuple's length: a list
    that is neither PlainRows nor BulkRows is refused and the import writes nothing."""
    project = _project(store)
    store.add_data_units(project.project_hash, [DataUnit.image("a.jpg", width=4, height=3)])
    with (
        pytest.raises(StoreError, match="PlainRows or BulkRows"),
        store.bulk(project.project_hash, "main", "typed", "ada") as session,
    ):
        (row_id,) = session.label_row_ids(
            [u.data_hash for u in store.list_data_units(project.project_hash)]
        ).values()
        session.write([_bulk_row(row_id, 1)])  # type: ignore[arg-type]
        session.commit(b"{}")
    assert list(store.iter_objects(project.project_hash, "main")) == []
    with store.bulk(project.project_hash, "main", "typed", "ada") as session:
        session.write(PlainRows([_bulk_row(row_id, 1)]))
        session.write(BulkRows([_full_row(row_id, 2, confidence=0.5)]))
        session.commit(b"{}")
    found = {
        (o.source_key, o.confidence, bool(o.manual)) for o in store.iter_objects(project.project_hash, "main")
    }
    assert found == {(1, 1.0, True), (2, 0.5, False)}


def test_the_servers_uploads_live_in_the_database_or_beside_the_file(
    store: LabelStore, target: tuple[str, str]
) -> None:
    """The store says where a server keeps its uploads (server_tables, path); the server's
    uploads module stores them there, chunks in order, replaced when sent again, owned by one
    user and project, and an upload abandoned for longer than the keep time goes."""
    from labelport.server.uploads import DatabaseUploads, FileUploads, new_upload_id, uploads_for

    uploads = uploads_for(store)
    backend, where = target
    if backend == "postgres":
        assert isinstance(uploads, DatabaseUploads) and store.path is None and store.thread_safe
    else:
        assert isinstance(uploads, FileUploads) and uploads.root == Path(f"{where}.uploads")
        assert store.path == where and not store.thread_safe
    user = store.upsert_user("uploader", "SHA256:uploader", "ssh-ed25519 AAAA up").id
    old, new = new_upload_id(), new_upload_id()
    uploads.create_upload(old, "p1", user, b"old", 1000.0, 60.0)
    uploads.create_upload(new, "p1", user, b'{"filename": "a.json"}', 1030.0, 60.0)
    for seq, data in ((1, b"second"), (0, b"firs"), (0, b"first")):
        uploads.put_upload_chunk(new, seq, data)
    assert uploads.upload_meta(new, "p1", user) == b'{"filename": "a.json"}'
    assert uploads.upload_meta(new, "p1", user + 1) is None and uploads.upload_meta(new, "p2", user) is None
    assert uploads.upload_chunk_count(new) == (2, 1)
    assert uploads.upload_bytes(new) == len(b"first") + len(b"second")
    assert list(uploads.upload_chunks(new)) == [b"first", b"second"]
    uploads.create_upload(new_upload_id(), "p1", user, b"", 1070.0, 60.0)  # 70 s after the first
    assert uploads.upload_meta(old, "p1", user) is None and uploads.upload_meta(new, "p1", user) is not None
    uploads.delete_upload(new)
    assert uploads.upload_meta(new, "p1", user) is None and uploads.upload_chunk_count(new) == (0, -1)
