"""The embedded store: one SQLite file, WAL, a versioned schema, one transaction per write.

>>> store = SqliteStore(":memory:")
>>> store.list_projects(None)
[]
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

from labelport.data import DataUnit
from labelport.errors import SchemaVersionError, StoreError
from labelport.hashing import new_uuid, new_uuids
from labelport.labels import now_iso
from labelport.store.base import (
    BulkRows,
    ClassificationRecord,
    LabelRowRecord,
    ObjectRecord,
    PlainRows,
)
from labelport.store.rows import (
    CLASSIFICATION_SELECT,
    OBJECT_SELECT,
    UNIT_COLUMNS,
    unit_from_row,
    unit_to_row,
)
from labelport.store.schema import LATEST, migrations
from labelport.store.sql import CHUNK, SQLITE, SqlBulk, SqlStore, label_rows_from
from labelport.stored.codec import dumps

#: Rows an import inserts per statement (9 parameters each, well under SQLite's limit).
ROWS_PER_STATEMENT = 100
#: Bytes in a page of a new store's file (SQLite's default is 4096).
PAGE_SIZE = 16384
#: SQLite's page cache for reads that go through a project once (negative: KiB, as the pragma takes it)
READ_ONCE_CACHE = -8192


class SqliteStore(SqlStore):
    """A :class:`~labelport.store.base.LabelStore` in one SQLite file (or ``:memory:``)."""

    _dialect = SQLITE
    thread_safe = False
    path: str

    def __init__(self, path: str | Path) -> None:
        self.url = f"sqlite:///{path}"
        self.path = str(path)
        self._memory_locks: dict[str, threading.Lock] = {}
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}.") from exc
        try:
            # Only a new, empty file takes the page size: larger pages than SQLite's 4 KiB
            # make a large import's insert and commit faster.
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA cache_size=-65536")
            self._migrate()
        except BaseException as exc:
            self._db.close()  # a store that failed to open must not leave its connection behind
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open the store at {self.path}: {exc}.") from exc
            raise

    # -- plumbing --------------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > LATEST:
            raise SchemaVersionError(
                f"the store at {self.path} has schema version {version}; this labelport knows up to {LATEST}."
            )
        for number, sql in migrations("sqlite"):
            if number > version:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(sql):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={number}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; sqlite3 errors become :class:`StoreError`."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the store at {self.path}: {exc}.") from exc
        try:
            yield self._db
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise StoreError(f"the store at {self.path} refused a write: {exc}.") from exc
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        try:
            return self._db.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store at {self.path}: {exc}.") from exc

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store at {self.path}: {exc}.") from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Reads that see one state of the store (a read transaction; a no-op inside another)."""
        try:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store at {self.path}: {exc}.") from exc

    def _many(self, db: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        db.executemany(sql, rows)

    def _insert_units(self, db: sqlite3.Connection, project_id: int, units: Sequence[DataUnit]) -> None:
        _insert_units(db, project_id, units)

    def _label_row(self, db: sqlite3.Connection, unit_id: int, branch: str) -> tuple[int, str]:
        return _label_row(db, unit_id, branch)

    def close(self) -> None:
        self._db.close()

    def schema_version(self) -> int:
        return int(self._one("PRAGMA user_version")[0])

    @contextmanager
    def project_lock(self, project_hash: str) -> Iterator[None]:
        """The project's write lock: an advisory lock (flock) on a file of the project's in a folder
        beside the store, which every thread and process opening the store shares; released when
        the block ends or the process dies. A ``:memory:`` store has only its own threads."""
        if self.path == ":memory:":
            with self._memory_locks.setdefault(project_hash, threading.Lock()):
                yield
            return
        import fcntl  # POSIX only, and only needed here

        name = hashlib.sha256(project_hash.encode()).hexdigest()[:32]
        try:
            folder = Path(f"{self.path}.locks")
            folder.mkdir(exist_ok=True)
            handle = (folder / name).open("a+b")
        except OSError as exc:
            raise StoreError(f"cannot lock project {project_hash} beside {self.path}: {exc}.") from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- data units ------------------------------------------------------------------------------

    def get_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> list[DataUnit]:
        project_id = self._project_id(project_hash)
        found: dict[str, DataUnit] = {}
        for i in range(0, len(data_hashes), 500):
            part = list(data_hashes[i : i + 500])
            rows = self._all(
                # "+project_id": look the hashes up by their unique index, not the project's 120,000 units
                f"SELECT {UNIT_COLUMNS} FROM data_units WHERE +project_id = ? "
                f"AND data_hash IN ({', '.join('?' * len(part))})",
                (project_id, *part),
            )
            found.update((u.data_hash, u) for u in map(unit_from_row, rows))
        return [found[h] for h in data_hashes if h in found]

    # -- labels ----------------------------------------------------------------------------------

    def load_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowRecord]:
        """The label rows of a project's data units (of some, given ``data_hashes``) on a branch, read
        in one snapshot: their objects and classifications come from one query each (a whole
        project), or by label row ids through the index (a few units)."""
        project_id = self._project_id(project_hash)
        objects: dict[str, list[ObjectRecord]] = {}
        classes: dict[str, list[ClassificationRecord]] = {}
        with self._read():
            unit_sql = (
                "SELECT d.data_hash, l.id, l.label_hash FROM data_units d LEFT JOIN label_rows l "
                "ON l.data_unit_id = d.id AND l.branch = ? WHERE d.project_id = ?"
            )
            if data_hashes is None or len(data_hashes) > 500:
                units = self._all(f"{unit_sql} ORDER BY d.id", (branch, project_id))
            else:  # a page of units (the viewer's): only those, by the data hashes' unique index
                marks = ", ".join("?" * len(data_hashes))
                units = self._all(
                    f"{unit_sql.replace('d.project_id', '+d.project_id')} AND d.data_hash IN ({marks}) "
                    "ORDER BY d.id",
                    (branch, project_id, *data_hashes),
                )
            if data_hashes is None:
                wheres = [("d.project_id = ? AND l.branch = ?", (project_id, branch))]
            else:
                wanted = set(data_hashes)
                units = [u for u in units if u[0] in wanted]
                row_ids = [u[1] for u in units if u[1] is not None]
                wheres = [
                    (f"l.id IN ({', '.join('?' * len(part))})", tuple(part))
                    for part in (row_ids[i : i + 500] for i in range(0, len(row_ids), 500))
                ]
            for where, args in wheres:
                for r in self._all(f"{OBJECT_SELECT} WHERE {where} ORDER BY o.id", args):
                    objects.setdefault(r[0], []).append(_object_record(r))
                for r in self._all(f"{CLASSIFICATION_SELECT} WHERE {where} ORDER BY c.id", args):
                    classes.setdefault(r[0], []).append(ClassificationRecord._make(r))
        return label_rows_from(units, branch, objects, classes)

    @contextmanager
    def _read_once(self) -> Iterator[None]:
        """Reads that go through much of the store once (a listing, an export) use a small page
        cache: at train scale the usual one would only fill up with pages never read again,
        memory the process holds for nothing."""
        (size,) = self._one("PRAGMA cache_size")
        self._db.execute(f"PRAGMA cache_size={READ_ONCE_CACHE}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA cache_size={int(size)}")

    @contextmanager
    def _cursor(self, sql: str, args: Sequence[Any]) -> Iterator[sqlite3.Cursor]:
        with self._read_once():
            try:
                yield self._db.execute(sql, args)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the store at {self.path}: {exc}.") from exc

    def _batches(self, sql: str, args: Sequence[Any]) -> Iterator[list[Any]]:
        """A query's rows, :data:`CHUNK` at a time, as stored: an object's manual and edited stay
        SQLite's 0 and 1 (converting each row costs a large export noticeable time); their truth is what readers use."""
        with self._cursor(sql, args) as cursor:
            while batch := cursor.fetchmany(CHUNK):
                yield batch

    @contextmanager
    def bulk(self, project_hash: str, branch: str, source: str, user: str) -> Iterator[SqliteBulk]:
        """An import's transaction. SQLite's foreign keys are off for it (the pragma only changes
        outside a transaction): the session checks each label row it writes to once instead
        (:class:`~labelport.store.base.LabelRowGuard`), which is much cheaper than a check per
        inserted row; every other id it writes it has made or read itself in this transaction."""
        project_id = self._bulk_project(project_hash, branch, source, user)
        self._db.execute("PRAGMA foreign_keys=OFF")
        try:
            with self._tx() as db, self._session(SqliteBulk, db, project_id, branch, source, user) as session:
                yield session
        finally:
            self._db.execute("PRAGMA foreign_keys=ON")


def _statements(sql: str) -> Iterator[str]:
    """A migration's statements, split at the ``;`` that end one (a trigger's body has ``;`` inside)."""
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


def _object_record(r: Sequence[Any]) -> ObjectRecord:
    """A row of :data:`OBJECT_SELECT` (SQLite keeps booleans as 0 and 1)."""
    return ObjectRecord._make((*r[:6], bool(r[6]), *r[7:13], bool(r[13])))


def _insert_units(db: sqlite3.Connection, project_id: int, units: Sequence[DataUnit]) -> dict[str, int]:
    """Insert units and their label rows on main; returns each unit's label row id by data hash.
    Inside the write transaction nobody else inserts, so the ids are given here rather than looked
    up again by hash (at 120k units that look-up was half of the cost)."""
    first = int(db.execute("SELECT coalesce(max(id), 0) + 1 FROM data_units").fetchone()[0])
    first_row = int(db.execute("SELECT coalesce(max(id), 0) + 1 FROM label_rows").fetchone()[0])
    db.executemany(
        f"INSERT INTO data_units (id, project_id, {UNIT_COLUMNS}) VALUES ({', '.join('?' * 12)})",
        [(first + k, *unit_to_row(project_id, u)) for k, u in enumerate(units)],
    )
    row_ids = range(first_row, first_row + len(units))
    db.executemany(
        f"INSERT INTO label_rows (id, label_hash, data_unit_id, branch, updated_at) VALUES (?, ?, ?, 'main', '{now_iso()}')",
        zip(row_ids, new_uuids(len(units), ordered=True), range(first, first + len(units)), strict=True),
    )
    return dict(zip((u.data_hash for u in units), row_ids, strict=True))


def _insert_many(
    db: sqlite3.Connection, insert: str, values: str, rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """``{insert} VALUES {values} {tail}`` for every row, :data:`ROWS_PER_STATEMENT` rows a statement
    (the rest one by one). For an import's objects this is faster than one row a statement;
    for data units (random hashes in a unique index) it is slower, so they go one by one."""
    whole = len(rows) - len(rows) % ROWS_PER_STATEMENT
    if whole:
        width = len(rows[0]) * ROWS_PER_STATEMENT
        flat = list(chain.from_iterable(rows[:whole]))
        db.executemany(
            f"{insert} VALUES {', '.join([values] * ROWS_PER_STATEMENT)} {tail}",
            [flat[i : i + width] for i in range(0, len(flat), width)],
        )
    if whole < len(rows):
        db.executemany(f"{insert} VALUES {values} {tail}", rows[whole:])


def _label_row(db: sqlite3.Connection, unit_id: int, branch: str) -> tuple[int, str]:
    row = db.execute(
        "SELECT id, label_hash FROM label_rows WHERE data_unit_id = ? AND branch = ?", (unit_id, branch)
    ).fetchone()
    if row is not None:
        return int(row[0]), str(row[1])
    label_hash = new_uuid()
    cursor = db.execute(
        "INSERT INTO label_rows (label_hash, data_unit_id, branch, updated_at) VALUES (?, ?, ?, ?)",
        (label_hash, unit_id, branch, now_iso()),
    )
    return int(cursor.lastrowid or 0), label_hash


class SqliteBulk(SqlBulk):
    """An import's transaction on the embedded store."""

    def __init__(
        self, db: sqlite3.Connection, project_id: int, branch: str, source_id: int, user: str
    ) -> None:
        super().__init__(db, project_id, branch, source_id, user)
        self._added: dict[str, int] = {}  # data hash -> label row id on main, of units added here
        self._unit_ids: dict[str, int] = {}  # data hash -> row id, of the project's units read here
        self._statements()

    def _label_rows_of_project(self, ids: list[int]) -> list[int]:
        found: list[int] = []
        for start in range(0, len(ids), 10_000):  # well under SQLite's limit of bound parameters
            part = ids[start : start + 10_000]
            found += [
                r[0]
                for r in self._db.execute(
                    "SELECT l.id FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
                    f"WHERE l.id IN ({', '.join('?' * len(part))}) AND d.project_id = ?",
                    (*part, self._project_id),
                )
            ]
        return found

    def label_row_ids(self, data_hashes: Sequence[str]) -> dict[str, int]:
        if self._branch == "main" and all(h in self._added for h in data_hashes):
            # units this session added: their rows on main were made with them, so they are
            # not read back
            return {h: self._added[h] for h in data_hashes}
        wanted = set(data_hashes)
        found: dict[str, int] = {}
        rows = self._db.execute(
            "SELECT d.data_hash, d.id, l.id FROM data_units d LEFT JOIN label_rows l "
            "ON l.data_unit_id = d.id AND l.branch = ? WHERE d.project_id = ?",
            (self._branch, self._project_id),
        )
        missing = []
        for data_hash, unit_id, row_id in rows:
            if data_hash in wanted:
                self._unit_ids[data_hash] = unit_id
                if row_id is None:
                    missing.append((data_hash, unit_id))
                else:
                    found[data_hash] = row_id
        for data_hash, unit_id in missing:
            found[data_hash] = _label_row(self._db, unit_id, self._branch)[0]
        self._guard.allow(found.values())
        return found

    def clear(self, label_row_ids: Sequence[int]) -> int:
        removed = 0
        for row_id in label_row_ids:
            removed += self._db.execute("DELETE FROM objects WHERE label_row_id = ?", (row_id,)).rowcount
            self._db.execute("DELETE FROM classifications WHERE label_row_id = ?", (row_id,))
        return removed

    def _insert(self, rows: PlainRows | BulkRows) -> None:
        values = self._plain_values if isinstance(rows, PlainRows) else self._full_values
        _insert_many(self._db, self._insert_sql, values, rows, self._upsert)

    def _statements(self) -> None:
        # Constant columns are written into the statement once instead of bound on every row: at
        # COCO-train scale, binding is most of what an insert costs.
        user = self._user.replace("'", "''")
        upsert = (
            "ON CONFLICT (source_id, source_key) DO UPDATE SET label_row_id = excluded.label_row_id, "
            "frame = excluded.frame, feature_hash = excluded.feature_hash, geometry = NULL, "
            "confidence = excluded.confidence, manual = excluded.manual, created_by = excluded.created_by, "
            "answers = excluded.answers, record = excluded.record, edited = 0, "
            # a row the import gives back unchanged keeps its time: re-importing a file changes nothing
            "created_at = CASE WHEN objects.record = excluded.record AND NOT objects.edited "
            "AND objects.geometry IS NULL AND objects.label_row_id = excluded.label_row_id "
            "AND objects.frame = excluded.frame AND objects.feature_hash = excluded.feature_hash "
            "AND objects.confidence = excluded.confidence AND objects.manual = excluded.manual "
            "AND objects.answers IS excluded.answers AND objects.created_by = excluded.created_by "
            "THEN objects.created_at ELSE excluded.created_at END"
        )
        columns = (
            "label_row_id, frame, object_hash, feature_hash, source_key, record, "
            "confidence, manual, answers, geometry, created_by, created_at, source_id, edited"
        )
        tail = f"NULL, '{user}', '{now_iso()}', {self._source_id}, 0)"
        self._insert_sql = f"INSERT INTO objects ({columns})"
        self._plain_values = f"(?, ?, ?, ?, ?, ?, 1.0, 1, NULL, {tail}"
        self._full_values = f"(?, ?, ?, ?, ?, ?, ?, ?, ?, {tail}"
        self._upsert = upsert

    def _insert_units(self, units: Sequence[DataUnit]) -> None:
        added = _insert_units(self._db, self._project_id, units)
        self._added.update(added)
        self._guard.allow(added.values())

    def set_data_unit_extra(self, extras: dict[str, dict[str, Any]]) -> None:
        # Units whose row ids this session read (the project's, by label_row_ids) are updated by id,
        # cheaper than looking up each data hash.
        known = self._unit_ids
        self._db.executemany(
            "UPDATE data_units SET extra = ? WHERE id = ?",
            [(dumps(extra), known[data_hash]) for data_hash, extra in extras.items() if data_hash in known],
        )
        self._db.executemany(
            "UPDATE data_units SET extra = ? WHERE data_hash = ? AND project_id = ?",
            [
                (dumps(extra), data_hash, self._project_id)
                for data_hash, extra in extras.items()
                if data_hash not in known
            ],
        )
