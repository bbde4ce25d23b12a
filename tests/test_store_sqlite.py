"""The embedded store on a real file: schema version, WAL, migrations, newer stores refused, atomic writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from labelport import DataUnit, NotFoundError, Object, OntologyStructure, Shape, StoreError
from labelport.errors import SchemaVersionError
from labelport.store.base import BulkRows, ObjectRecord, PlainRows, ProjectRecord
from labelport.store.schema import LATEST, migrations
from labelport.store.sqlite import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "labelport.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db_path)
    yield opened
    opened.close()


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Query the file with a connection of its own, outside labelport."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def make_project(store: SqliteStore, title: str = "p") -> tuple[str, Object]:
    user = store.upsert_user("ada", "SHA256:ada", "ssh-ed25519 AAAA")
    box = Object("box", Shape.BOUNDING_BOX)
    record = ProjectRecord(
        f"hash-{title}", title, "", f"ontology-{title}", "ada", "2024-01-01T00:00:00+00:00"
    )
    store.create_project(record, OntologyStructure(objects=[box]), user.id)
    return record.project_hash, box


def obj(
    data_hash: str, object_hash: str, feature_hash: str, *, source_key: int | None = None
) -> ObjectRecord:
    return ObjectRecord(
        data_hash, 0, object_hash, feature_hash, b"[1,2,3,4]", 1.0, True, "ada", None, None,
        None if source_key is None else "a.json", source_key, None if source_key is None else b"{}", False,
    )  # fmt: skip


def test_creates_the_file_and_its_folder_with_the_latest_schema(store: SqliteStore, db_path: Path) -> None:
    assert db_path.is_file()
    assert store.schema_version() == LATEST == migrations("sqlite")[-1][0]
    assert raw(db_path, "PRAGMA user_version") == [(LATEST,)]
    tables = {r[0] for r in raw(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "users",
        "projects",
        "ontologies",
        "data_units",
        "label_rows",
        "objects",
        "classifications",
    } <= tables


def test_wal_mode_is_set(store: SqliteStore, db_path: Path) -> None:
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert store._db.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_reopening_does_not_migrate_again_and_keeps_data(db_path: Path) -> None:
    first = SqliteStore(db_path)
    project_hash, _ = make_project(first)
    first.close()
    for _ in range(2):
        again = SqliteStore(db_path)
        assert again.schema_version() == LATEST
        assert [p.project_hash for p in again.list_projects(None)] == [project_hash]
        again.close()
    assert raw(db_path, "SELECT count(*) FROM projects") == [(1,)]


def test_a_store_from_a_newer_labelport_is_refused(db_path: Path) -> None:
    SqliteStore(db_path).close()
    connection = sqlite3.connect(db_path)
    connection.execute(f"PRAGMA user_version = {LATEST + 1}")
    connection.close()
    with pytest.raises(SchemaVersionError, match=f"schema version {LATEST + 1}") as caught:
        SqliteStore(db_path)
    assert isinstance(caught.value, StoreError)
    assert raw(db_path, "PRAGMA user_version") == [(LATEST + 1,)]


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "labelport.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        SqliteStore(path)


def test_a_folder_that_cannot_be_made_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot open the store"):
        SqliteStore(blocker / "sub" / "labelport.db")


def test_a_failing_save_leaves_the_previous_rows_unchanged(store: SqliteStore, db_path: Path) -> None:
    project_hash, box = make_project(store)
    unit = DataUnit.image("a.png", width=10, height=10)
    store.add_data_units(project_hash, [unit])
    before = [
        obj(unit.data_hash, "aaaa0001", box.feature_node_hash),
        obj(unit.data_hash, "aaaa0002", box.feature_node_hash),
    ]
    label_hash = store.save_label_row(project_hash, "main", unit.data_hash, before, [])
    snapshot = raw(db_path, "SELECT * FROM objects ORDER BY id")
    assert len(snapshot) == 2

    # Two objects with the same source key break a unique index after the old rows were deleted in the
    # same transaction: the whole save must roll back.
    clash = [
        obj(unit.data_hash, "bbbb0001", box.feature_node_hash, source_key=7),
        obj(unit.data_hash, "bbbb0002", box.feature_node_hash, source_key=7),
    ]
    with pytest.raises(StoreError, match="refused a write"):
        store.save_label_row(project_hash, "main", unit.data_hash, clash, [])

    assert raw(db_path, "SELECT * FROM objects ORDER BY id") == snapshot
    [row] = store.load_label_rows(project_hash, "main")
    assert row.label_hash == label_hash
    assert [o.object_hash for o in row.objects] == ["aaaa0001", "aaaa0002"]
    # and the store still takes writes afterwards
    store.save_label_row(project_hash, "main", unit.data_hash, before[:1], [])
    assert len(store.load_label_rows(project_hash, "main")[0].objects) == 1


def test_saving_to_an_unknown_data_unit_writes_nothing(store: SqliteStore, db_path: Path) -> None:
    project_hash, box = make_project(store)
    with pytest.raises(NotFoundError, match="No data unit with hash nope"):
        store.save_label_row(project_hash, "main", "nope", [obj("nope", "a", box.feature_node_hash)], [])
    assert raw(db_path, "SELECT count(*) FROM label_rows") == [(0,)]


def test_adding_data_units_is_one_transaction(store: SqliteStore, db_path: Path) -> None:
    project_hash, _ = make_project(store)
    first = DataUnit.image("a.png", width=10, height=10)
    store.add_data_units(project_hash, [first])
    again = DataUnit.image("b.png", width=10, height=10, location="")
    duplicate = DataUnit("c.png", first.data_type, 1, 1, data_hash=first.data_hash)  # data_hash is unique
    with pytest.raises(StoreError):
        store.add_data_units(project_hash, [again, duplicate])
    assert [u.title for u in store.list_data_units(project_hash)] == ["a.png"]
    assert raw(db_path, "SELECT count(*) FROM label_rows") == [(1,)]


def test_data_units_round_trip(store: SqliteStore) -> None:
    project_hash, _ = make_project(store)
    video = DataUnit.video("clip.mp4", width=320, height=240, frames=12, fps=12.5, location="/data/clip.mp4")
    store.add_data_units(project_hash, [video])
    [loaded] = store.list_data_units(project_hash)
    assert loaded == video


def test_unknown_project_and_ontology(store: SqliteStore) -> None:
    with pytest.raises(NotFoundError, match="No project with hash x"):
        store.get_project("x")
    with pytest.raises(NotFoundError, match="No project with hash x"):
        store.list_data_units("x")
    with pytest.raises(NotFoundError, match="No ontology with hash y"):
        store.get_ontology("y")


def test_users_are_upserted_by_fingerprint(store: SqliteStore) -> None:
    first = store.upsert_user("ada", "SHA256:a", "ssh-ed25519 AAAA")
    second = store.upsert_user("ada lovelace", "SHA256:a", "")
    assert second.id == first.id and second.name == "ada lovelace"
    assert store.public_key("SHA256:a") == "ssh-ed25519 AAAA"
    assert store.user_by_fingerprint("SHA256:b") is None


def test_nonces_are_used_once(store: SqliteStore) -> None:
    assert store.use_nonce("n1", now=100.0, keep_seconds=60) is True
    assert store.use_nonce("n1", now=110.0, keep_seconds=60) is False
    assert store.use_nonce("n1", now=500.0, keep_seconds=60) is True  # forgotten after keep_seconds


def test_bulk_refuses_label_rows_of_another_project_and_restores_foreign_keys(store: SqliteStore) -> None:
    """An import's transaction runs without SQLite's per-row foreign-key checks; the session checks
    each label row it writes to instead, and the connection has its foreign keys back afterwards."""
    mine, _ = make_project(store, "mine")
    theirs, _ = make_project(store, "theirs")
    store.add_data_units(mine, [DataUnit.image("a.jpg", width=9, height=9)])
    store.add_data_units(theirs, [DataUnit.image("b.jpg", width=9, height=9)])
    with store.bulk(theirs, "main", "x", "ada") as session:
        (their_row,) = session.label_row_ids([u.data_hash for u in store.list_data_units(theirs)]).values()
        session.commit(b"{}")
    for row_id in (their_row, 10**12):
        with pytest.raises(StoreError, match="not in its project"), store.bulk(mine, "main", "x", "ada") as s:
            s.write(PlainRows([(row_id, 0, "k0000001", "feat0001", 1, b'{"id":1}')]))
            s.commit(b"{}")
        assert store._db.execute("PRAGMA foreign_keys").fetchone() == (1,)
    with store.bulk(mine, "main", "x", "ada") as session:
        (my_row,) = session.label_row_ids([u.data_hash for u in store.list_data_units(mine)]).values()
        session.write(PlainRows([(my_row, 0, "k0000001", "feat0001", 1, b'{"id":1}')]))
        session.commit(b"{}")
    assert store._db.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert [o.source_key for o in store.iter_objects(mine, "main")] == [1]
    assert list(store.iter_objects(theirs, "main")) == []


def test_bulk_writes_many_rows_per_statement_and_replaces_by_source_key(store: SqliteStore) -> None:
    """Batches are inserted 100 rows a statement with the rest one by one; a second write of the
    same source keys replaces the rows in place, whether they come as plain or full rows."""
    project, _ = make_project(store)
    store.add_data_units(project, [DataUnit.image("a.jpg", width=9, height=9)])
    count = 250
    with store.bulk(project, "main", "x", "ada") as session:
        (row_id,) = session.label_row_ids([u.data_hash for u in store.list_data_units(project)]).values()
        session.write(
            PlainRows([(row_id, 0, f"h{k:07d}", "feat0001", k, b'{"id":%d}' % k) for k in range(count)])
        )
        session.commit(b"{}")
    first = list(store.iter_objects(project, "main"))
    assert [(o.source_key, o.object_hash, o.record) for o in first] == [
        (k, f"h{k:07d}", b'{"id":%d}' % k) for k in range(count)
    ]
    with store.bulk(project, "main", "x", "ada") as session:
        session.write(
            BulkRows(
                (row_id, 0, f"h{k:07d}", "feat0002", k, b'{"id":%d,"v":2}' % k, 0.5, 0, b'{"a":1}')
                for k in range(count)
            )
        )
        session.commit(b"{}")
    second = list(store.iter_objects(project, "main"))
    assert len(second) == count
    assert {(o.feature_hash, o.confidence, o.manual, o.answers) for o in second} == {
        ("feat0002", 0.5, False, b'{"a":1}')
    }
    assert [o.record for o in second] == [b'{"id":%d,"v":2}' % k for k in range(count)]
