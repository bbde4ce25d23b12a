"""The embedded store: one SQLite file, WAL, a versioned schema, one transaction per write.

>>> store = SqliteStore(":memory:")
>>> store.list_projects(None)
[]
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from labelport.data import DataUnit
from labelport.errors import NotFoundError, SchemaVersionError, StoreError
from labelport.hashing import new_uuid, new_uuids
from labelport.labels import now_iso
from labelport.ontology import OntologyStructure
from labelport.store import browse
from labelport.store._json import dumps, loads
from labelport.store.base import (
    BulkRow,
    ClassificationRecord,
    DataUnitRecord,
    LabelRowGuard,
    LabelRowInfo,
    LabelRowRecord,
    ObjectRecord,
    OntologyRecord,
    PlainRow,
    ProjectRecord,
    UnitQuery,
    UserRecord,
)
from labelport.store.evaluations import EVALUATION_SELECT, EvaluationRows
from labelport.store.manage import ManageMixin
from labelport.store.rows import (
    CLASSIFICATION_SELECT,
    LABEL_ROW_INFO_SELECT,
    OBJECT_SELECT,
    PROJECT_SELECT,
    UNIT_COLUMNS,
    UNIT_RECORD_COLUMNS,
    check_label_row,
    check_texts,
    label_row_infos,
    ontologies_query,
    ontology_from_row,
    project_from_row,
    save_project_ontology,
    unit_from_row,
    unit_to_row,
)
from labelport.store.schema import LATEST, migrations

T = TypeVar("T")

CHUNK = 20_000
#: SQLite's page cache for reads that go through a project once (negative: KiB, as the pragma takes it)
READ_ONCE_CACHE = -8192
#: Rows an import inserts per statement (9 parameters each, well under SQLite's limit).
ROWS_PER_STATEMENT = 100

_OBJECT_COLUMNS = (
    "label_row_id, frame, object_hash, feature_hash, geometry, confidence, manual, created_by, created_at, "
    "answers, source_key, record, source_id, edited"
)


class SqliteStore(ManageMixin, EvaluationRows):
    """A :class:`~labelport.store.base.LabelStore` in one SQLite file (or ``:memory:``)."""

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

    def _project_id(self, project_hash: str) -> int:
        row = self._one("SELECT id FROM projects WHERE project_hash = ?", (project_hash,))
        if row is None:
            raise NotFoundError("project", project_hash)
        return int(row[0])

    def close(self) -> None:
        self._db.close()

    def schema_version(self) -> int:
        return int(self._one("PRAGMA user_version")[0])

    # -- users -----------------------------------------------------------------------------------

    def upsert_user(
        self, name: str, fingerprint: str, public_key: str, *, is_admin: bool = False
    ) -> UserRecord:
        check_texts({"name": name, "fingerprint": fingerprint, "public_key": public_key})
        with self._tx() as db:
            db.execute(
                "INSERT INTO users (name, fingerprint, public_key, is_admin, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET name = excluded.name, "
                "public_key = CASE WHEN excluded.public_key != '' THEN excluded.public_key ELSE public_key END, "
                "is_admin = MAX(is_admin, excluded.is_admin)",
                (name, fingerprint, public_key, int(is_admin), now_iso()),
            )
        user = self.user_by_fingerprint(fingerprint)
        assert user is not None
        return user

    def user_by_fingerprint(self, fingerprint: str) -> UserRecord | None:
        row = self._one(
            "SELECT id, name, fingerprint, is_admin FROM users WHERE fingerprint = ?", (fingerprint,)
        )
        return None if row is None else UserRecord(row[0], row[1], row[2], bool(row[3]))

    def public_key(self, fingerprint: str) -> str | None:
        row = self._one("SELECT public_key FROM users WHERE fingerprint = ?", (fingerprint,))
        return None if row is None else str(row[0])

    def set_role(self, project_hash: str, user_id: int, role: str) -> None:
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            db.execute(
                "INSERT INTO memberships (project_id, user_id, role) VALUES (?, ?, ?) "
                "ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
                (project_id, user_id, role),
            )

    def role(self, project_hash: str, user_id: int) -> str | None:
        row = self._one(
            "SELECT m.role FROM memberships m JOIN projects p ON p.id = m.project_id "
            "WHERE p.project_hash = ? AND m.user_id = ?",
            (project_hash, user_id),
        )
        return None if row is None else str(row[0])

    def use_nonce(self, nonce: str, now: float, keep_seconds: float) -> bool:
        with self._tx() as db:
            db.execute("DELETE FROM nonces WHERE seen_at < ?", (now - keep_seconds,))
            cursor = db.execute("INSERT OR IGNORE INTO nonces (nonce, seen_at) VALUES (?, ?)", (nonce, now))
            return cursor.rowcount == 1

    def create_session(self, token_sha256: str, user_id: int, now: float, expires_at: float) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM viewer_sessions WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO viewer_sessions (token_sha256, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_sha256, user_id, now, expires_at),
            )

    def session_user(self, token_sha256: str, now: float) -> UserRecord | None:
        # a read only: page requests never wait for an import's write lock (expired rows go at sign-in)
        row = self._one(
            "SELECT u.id, u.name, u.fingerprint, u.is_admin FROM viewer_sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = ? AND s.expires_at > ?",
            (token_sha256, now),
        )
        return None if row is None else UserRecord(row[0], row[1], row[2], bool(row[3]))

    def revoke_sessions(self, *, token_sha256: str | None = None, user_id: int | None = None) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM viewer_sessions WHERE token_sha256 = ? OR user_id = ?", (token_sha256, user_id)
            )
            return int(cursor.rowcount)

    # -- ontologies and projects -----------------------------------------------------------------

    def create_ontology(
        self, ontology_hash: str, title: str, structure: OntologyStructure, created_by: int | None = None
    ) -> None:
        check_texts({"title": title})
        with self._tx() as db:
            db.execute(
                "INSERT INTO ontologies (ontology_hash, title, structure, created_at, created_by_user_id, "
                "standalone) VALUES (?, ?, ?, ?, ?, 1)",
                (ontology_hash, title, dumps(structure.to_dict()), now_iso(), created_by),
            )

    def get_ontology(self, ontology_hash: str) -> OntologyRecord:
        found = self._all(*ontologies_query("?", ontology_hash=ontology_hash))
        if not found:
            raise NotFoundError("ontology", ontology_hash)
        return ontology_from_row(found[0])

    def ontology_visible(self, ontology_hash: str, user_id: int) -> bool:
        return bool(self._all(*ontologies_query("?", user_id, ontology_hash)))

    def list_ontologies(self, user_id: int | None = None) -> list[OntologyRecord]:
        return [ontology_from_row(r) for r in self._all(*ontologies_query("?", user_id))]

    def create_project(
        self, project: ProjectRecord, structure: OntologyStructure | None, owner_id: int
    ) -> None:
        check_texts(
            {"title": project.title, "description": project.description, "created_by": project.created_by}
        )
        with self._tx() as db:
            if structure is not None:
                db.execute(
                    "INSERT INTO ontologies (ontology_hash, title, structure, created_at, created_by_user_id) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        project.ontology_hash,
                        project.title,
                        dumps(structure.to_dict()),
                        project.created_at,
                        owner_id,
                    ),
                )
            row = db.execute(
                "SELECT id FROM ontologies WHERE ontology_hash = ?", (project.ontology_hash,)
            ).fetchone()
            if row is None:
                raise NotFoundError("ontology", project.ontology_hash)
            cursor = db.execute(
                "INSERT INTO projects (project_hash, title, description, ontology_id, created_by, created_at, extra) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    project.project_hash,
                    project.title,
                    project.description,
                    row[0],
                    project.created_by,
                    project.created_at,
                    dumps(project.extra) if project.extra else None,
                ),
            )
            db.execute(
                "INSERT INTO memberships (project_id, user_id, role) VALUES (?, ?, 'admin')",
                (cursor.lastrowid, owner_id),
            )

    def get_project(self, project_hash: str) -> ProjectRecord:
        row = self._one(PROJECT_SELECT + " WHERE p.project_hash = ?", (project_hash,))
        if row is None:
            raise NotFoundError("project", project_hash)
        return project_from_row(row)

    def list_projects(self, user_id: int | None) -> list[ProjectRecord]:
        if user_id is None:
            rows = self._all(PROJECT_SELECT + " ORDER BY p.id")
        else:
            rows = self._all(
                PROJECT_SELECT
                + " JOIN memberships m ON m.project_id = p.id WHERE m.user_id = ? ORDER BY p.id",
                (user_id,),
            )
        return [project_from_row(r) for r in rows]

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

    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None:
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            _insert_units(db, project_id, units)

    def list_data_units(self, project_hash: str) -> list[DataUnit]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            f"SELECT {UNIT_COLUMNS} FROM data_units WHERE project_id = ? ORDER BY id", (project_id,)
        )
        return [unit_from_row(r) for r in rows]

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

    def find_data_units(
        self, project_hash: str, query: UnitQuery, limit: int, offset: int
    ) -> tuple[list[DataUnit], int]:
        project_id = self._project_id(project_hash)
        with self._snapshot():
            rows = self._all(*browse.page_sql(query, project_id, browse.SQLITE, limit, offset))
            total = int(self._one(*browse.count_sql(query, project_id, browse.SQLITE))[0])
        return [unit_from_row(r) for r in rows], total

    def class_counts(self, project_hash: str, query: UnitQuery) -> dict[str, int]:
        project_id = self._project_id(project_hash)
        rows = self._all(*browse.class_counts_sql(query, project_id, browse.SQLITE))
        return {str(feature): int(n) for feature, n in rows}

    def iter_data_units(self, project_hash: str) -> Iterator[DataUnitRecord]:
        project_id = self._project_id(project_hash)
        yield from self._stream(
            f"SELECT {UNIT_RECORD_COLUMNS} FROM data_units WHERE project_id = ? ORDER BY id",
            (project_id,),
            DataUnitRecord._make,
        )

    def _stream(self, sql: str, args: Sequence[Any], make: Callable[[Any], T]) -> Iterator[T]:
        """The rows of one query, a chunk at a time, each made into a record by ``make``."""
        with self._read_once():
            try:
                cursor = self._db.execute(sql, args)
                while batch := cursor.fetchmany(CHUNK):
                    yield from map(make, batch)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the store at {self.path}: {exc}.") from exc

    @contextmanager
    def _read_once(self) -> Iterator[None]:
        """Reads that go through much of the store once (a listing, an export) use a small page
        cache: at train scale the usual one would only fill up with pages never read again
        (64 MiB of the process's memory, measured)."""
        (size,) = self._one("PRAGMA cache_size")
        self._db.execute(f"PRAGMA cache_size={READ_ONCE_CACHE}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA cache_size={int(size)}")

    # -- labels ----------------------------------------------------------------------------------

    def list_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowInfo]:
        project_id = self._project_id(project_hash)
        with self._read_once():
            try:
                cursor = self._db.execute(
                    LABEL_ROW_INFO_SELECT.format(mark="?"), (branch, branch, project_id)
                )
                return label_row_infos(cursor, data_hashes)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the store at {self.path}: {exc}.") from exc

    def load_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowRecord]:
        """The label rows of a project's data units (of some, given ``data_hashes``) on a branch, read
        in one snapshot: their objects and classifications come from one query each (a whole
        project), or by label row ids through the index (a few units)."""
        project_id = self._project_id(project_hash)
        objects: dict[str, list[ObjectRecord]] = {}
        classes: dict[str, list[ClassificationRecord]] = {}
        with self._snapshot():
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
        return [
            LabelRowRecord("", data_hash, branch, [], [])
            if row_id is None
            else LabelRowRecord(
                label_hash, data_hash, branch, objects.get(data_hash, []), classes.get(data_hash, [])
            )
            for data_hash, row_id, label_hash in units
        ]

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Reads that see one state of the store (a read transaction; a no-op inside another)."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def save_label_row(
        self,
        project_hash: str,
        branch: str,
        data_hash: str,
        objects: Sequence[ObjectRecord],
        classifications: Sequence[ClassificationRecord],
    ) -> str:
        check_label_row(branch, data_hash, objects, classifications)
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            unit = db.execute(
                "SELECT id FROM data_units WHERE data_hash = ? AND project_id = ?", (data_hash, project_id)
            ).fetchone()
            if unit is None:
                raise NotFoundError("data unit", data_hash)
            row_id, label_hash = _label_row(db, unit[0], branch)
            db.execute("DELETE FROM objects WHERE label_row_id = ?", (row_id,))
            db.execute("DELETE FROM classifications WHERE label_row_id = ?", (row_id,))
            source_ids: dict[str, int] = {}
            rows = []
            for o in objects:
                source_id = None
                if o.source is not None:
                    if o.source not in source_ids:
                        source_ids[o.source] = _source_id(db, project_id, branch, o.source)
                    source_id = source_ids[o.source]
                rows.append(
                    (
                        row_id,
                        o.frame,
                        o.object_hash,
                        o.feature_hash,
                        o.geometry,
                        o.confidence,
                        int(o.manual),
                        o.created_by,
                        o.created_at,
                        o.answers,
                        o.source_key,
                        o.record,
                        source_id,
                        int(o.edited),
                    )
                )
            db.executemany(f"INSERT INTO objects ({_OBJECT_COLUMNS}) VALUES ({', '.join('?' * 14)})", rows)
            db.executemany(
                "INSERT INTO classifications (label_row_id, classification_hash, feature_hash, frames, answer, "
                "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(row_id, *c[1:]) for c in classifications],
            )
            db.execute("UPDATE label_rows SET updated_at = ? WHERE id = ?", (now_iso(), row_id))
        return label_hash

    def iter_objects(self, project_hash: str, branch: str) -> Iterator[ObjectRecord]:
        project_id = self._project_id(project_hash)
        # As stored: manual and edited stay SQLite's 0 and 1 (converting each of a train-scale
        # export's 861k rows cost the export 0.9 s, measured); their truth is what readers use.
        yield from self._stream(
            f"{OBJECT_SELECT} WHERE d.project_id = ? AND l.branch = ? ORDER BY o.id",
            (project_id, branch),
            ObjectRecord._make,
        )

    def iter_evaluation_rows(self, project_hash: str, branch: str) -> Iterator[list[tuple[Any, ...]]]:
        """Batches of :data:`~labelport.store.evaluations.EVALUATION_SELECT` rows."""
        project_id = self._project_id(project_hash)
        try:
            cursor = self._db.execute(EVALUATION_SELECT, (project_id, branch))
            while batch := cursor.fetchmany(CHUNK):
                yield batch
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store at {self.path}: {exc}.") from exc

    def list_branches(self, project_hash: str) -> list[str]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            "SELECT DISTINCT l.branch FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
            "WHERE d.project_id = ? ORDER BY l.branch",
            (project_id,),
        )
        return [r[0] for r in rows]

    def imports(self, project_hash: str) -> list[dict[str, Any]]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            "SELECT i.id, s.name, s.branch, i.created_by, i.created_at, i.report FROM imports i "
            "LEFT JOIN sources s ON s.id = i.source_id WHERE i.project_id = ? ORDER BY i.id",
            (project_id,),
        )
        return [
            {
                "id": r[0],
                "source": r[1],
                "branch": r[2],
                "created_by": r[3],
                "created_at": r[4],
                "report": loads(r[5]),
            }
            for r in rows
        ]

    @contextmanager
    def bulk(self, project_hash: str, branch: str, source: str, user: str) -> Iterator[SqliteBulk]:
        """An import's transaction. SQLite's foreign keys are off for it (the pragma only changes
        outside a transaction): the session checks each label row it writes to once instead
        (:class:`~labelport.store.base.LabelRowGuard`), which at COCO-train scale took a third off
        the insert time; every other id it writes it has made or read itself in this transaction."""
        check_texts({"branch": branch, "source": source, "user": user})
        project_id = self._project_id(project_hash)
        self._db.execute("PRAGMA foreign_keys=OFF")
        try:
            with self._tx() as db:
                session = SqliteBulk(db, project_id, branch, _source_id(db, project_id, branch, source), user)
                yield session
                if not session.committed:
                    raise StoreError("an import session ended without commit; nothing was written.")
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
        zip(row_ids, new_uuids(len(units)), range(first, first + len(units)), strict=True),
    )
    return dict(zip((u.data_hash for u in units), row_ids, strict=True))


def _insert_many(
    db: sqlite3.Connection, insert: str, values: str, rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """``{insert} VALUES {values} {tail}`` for every row, :data:`ROWS_PER_STATEMENT` rows a statement
    (the rest one by one). For an import's objects, a fifth off the insert time of one row a
    statement at COCO-train scale; for data units (random hashes in a unique index) it was slower,
    so they go one by one. Both measured."""
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


def _source_id(db: sqlite3.Connection, project_id: int, branch: str, name: str) -> int:
    db.execute(
        "INSERT OR IGNORE INTO sources (project_id, branch, name) VALUES (?, ?, ?)",
        (project_id, branch, name),
    )
    row = db.execute(
        "SELECT id FROM sources WHERE project_id = ? AND branch = ? AND name = ?", (project_id, branch, name)
    ).fetchone()
    return int(row[0])


class SqliteBulk:
    """An import's transaction on the embedded store."""

    def __init__(
        self, db: sqlite3.Connection, project_id: int, branch: str, source_id: int, user: str
    ) -> None:
        self._db = db
        self._project_id = project_id
        self._branch = branch
        self._source_id = source_id
        self._user = user
        self.committed = False
        self._guard = LabelRowGuard(self._label_rows_of_project)
        self._added: dict[str, int] = {}  # data hash -> label row id on main, of units added here
        self._statements()

    def existing_keys(self) -> dict[int, tuple[str, int]]:
        rows = self._db.execute(
            "SELECT source_key, object_hash, label_row_id FROM objects WHERE source_id = ?",
            (self._source_id,),
        )
        keys = {r[0]: (r[1], r[2]) for r in rows}
        self._guard.allow(row_id for _, row_id in keys.values())
        return keys

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
            # units this session added: their rows on main were made with them (a third of a
            # second at COCO-train scale, read back, measured)
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

    def write(self, rows: Sequence[BulkRow] | Sequence[PlainRow]) -> None:
        if rows:
            self._guard.check(rows)
            values = self._plain_values if len(rows[0]) == 6 else self._full_values
            _insert_many(self._db, self._insert, values, rows, self._upsert)

    def _statements(self) -> None:
        # Constant columns are written into the statement once instead of bound on every row: at
        # COCO-train scale, binding is most of what an insert costs.
        user = self._user.replace("'", "''")
        upsert = (
            "ON CONFLICT (source_id, source_key) DO UPDATE SET label_row_id = excluded.label_row_id, "
            "frame = excluded.frame, feature_hash = excluded.feature_hash, geometry = NULL, "
            "confidence = excluded.confidence, manual = excluded.manual, created_by = excluded.created_by, "
            "created_at = excluded.created_at, answers = excluded.answers, record = excluded.record, edited = 0"
        )
        columns = (
            "label_row_id, frame, object_hash, feature_hash, source_key, record, "
            "confidence, manual, answers, geometry, created_by, created_at, source_id, edited"
        )
        tail = f"NULL, '{user}', '{now_iso()}', {self._source_id}, 0)"
        self._insert = f"INSERT INTO objects ({columns})"
        self._plain_values = f"(?, ?, ?, ?, ?, ?, 1.0, 1, NULL, {tail}"
        self._full_values = f"(?, ?, ?, ?, ?, ?, ?, ?, ?, {tail}"
        self._upsert = upsert

    def add_data_units(self, units: Sequence[DataUnit]) -> None:
        added = _insert_units(self._db, self._project_id, units)
        self._added.update(added)
        self._guard.allow(added.values())

    def set_data_unit_extra(self, extras: dict[str, dict[str, Any]]) -> None:
        self._db.executemany(
            "UPDATE data_units SET extra = ? WHERE data_hash = ? AND project_id = ?",
            [(dumps(extra), data_hash, self._project_id) for data_hash, extra in extras.items()],
        )

    def save_ontology(self, structure: OntologyStructure) -> None:
        save_project_ontology(self._db.execute, "?", self._project_id, dumps(structure.to_dict()))

    def set_project_extra(self, extra: dict[str, Any]) -> None:
        self._db.execute("UPDATE projects SET extra = ? WHERE id = ?", (dumps(extra), self._project_id))

    def commit(self, report: bytes) -> None:
        self._db.execute(
            "INSERT INTO imports (project_id, source_id, created_by, created_at, report) VALUES (?, ?, ?, ?, ?)",
            (self._project_id, self._source_id, self._user, now_iso(), report),
        )
        self.committed = True
