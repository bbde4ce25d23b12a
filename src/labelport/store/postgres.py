"""The team store: PostgreSQL through psycopg 3, with the embedded store's semantics exactly.

Every write is one transaction; :meth:`PostgresStore.bulk` is one transaction for a whole import, its
rows sent with ``COPY`` (or, when the source's keys are already stored, staged with ``COPY`` and
upserted on ``(source_id, source_key)``). Request nonces and chunked uploads live here too, so any
number of server processes can share one database and keep no state of their own.

The store is thread-safe: each call borrows a connection from a small pool of its own and gives it
back; inside :meth:`~PostgresStore.bulk` the thread's calls share the import's connection, so they see
its uncommitted rows and their writes nest as savepoints.

>>> store = PostgresStore("postgresql://postgres@127.0.0.1:5432/labelport")  # doctest: +SKIP
>>> store.list_projects(None)  # doctest: +SKIP
[]
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import Connection

from labelport.data import DataUnit
from labelport.errors import NotFoundError, SchemaVersionError, StoreError
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
from labelport.store.schema import migrations

T = TypeVar("T")

CHUNK = 20_000
#: Rows an import writes before the store refreshes the planner's statistics.
ANALYZE_AFTER = 50_000
_cursor_numbers = itertools.count()
LATEST = max(v for v, _ in migrations("postgres"))

_OBJECT_COLUMNS = (
    "label_row_id, frame, object_hash, feature_hash, geometry, confidence, manual, created_by, created_at, "
    "answers, source_key, record, source_id"
)
#: What a bulk row fills, in order: a full row's nine fields (a plain row's six, then confidence,
#: manual and answers), then the session's user, time and source.
_BULK_COLUMNS = (
    "label_row_id, frame, object_hash, feature_hash, source_key, record, confidence, manual, answers, "
    "created_by, created_at, source_id"
)
_BULK_TYPES = ["int8", "int4", "text", "text", "int8", "bytea", "float8", "bool", "bytea", "text", "text", "int8"]  # fmt: skip
#: Replace a stored row in place (the embedded store's upsert, column for column).
_UPSERT_SET = (
    "label_row_id = excluded.label_row_id, frame = excluded.frame, feature_hash = excluded.feature_hash, "
    "geometry = NULL, confidence = excluded.confidence, manual = excluded.manual, "
    "created_by = excluded.created_by, created_at = excluded.created_at, answers = excluded.answers, "
    "record = excluded.record, edited = FALSE"
)


def display_url(url: str) -> str:
    """The URL with any password hidden, for messages.

    >>> display_url("postgresql://ada:secret@db.example:5432/labels")
    'postgresql://ada:***@db.example:5432/labels'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the PostgreSQL database"
    if not parts.scheme.startswith("postgres"):
        return "the PostgreSQL database"  # a key=value conninfo string: it may hold a password anywhere
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class PostgresStore(ManageMixin, EvaluationRows):
    """A :class:`~labelport.store.base.LabelStore` in a PostgreSQL database.

    ``url`` is a libpq URL or conninfo string; the schema is created or brought up to date on open.

    >>> store = PostgresStore("postgresql://labelport@db.example/labels")  # doctest: +SKIP
    >>> store.schema_version()  # doctest: +SKIP
    1
    """

    _placeholder = "%s"

    #: The server may run requests on this store from many threads at once.
    thread_safe = True
    _marker = "%s"

    def _delete_project_extras(self, db: Any, project_hash: str) -> None:
        db.execute("DELETE FROM uploads WHERE project_hash = %s", (project_hash,))

    def __init__(self, url: str, *, max_idle: int = 8) -> None:
        self.url = url
        self._where = display_url(url)
        self._max_idle = max_idle
        self._idle: list[Connection[tuple[Any, ...]]] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._closed = False
        try:
            with self._conn() as conn:
                self._migrate(conn)
        except psycopg.Error as exc:
            self.close()
            raise StoreError(f"cannot open the store at {self._where}: {_reason(exc)}.") from exc
        except BaseException:
            self.close()
            raise

    # -- connections -----------------------------------------------------------------------------

    def _connect(self) -> Connection[tuple[Any, ...]]:
        if self._closed:
            raise StoreError(f"the store at {self._where} is closed.")
        return psycopg.connect(self.url, autocommit=True)

    @contextmanager
    def _conn(self) -> Iterator[Connection[tuple[Any, ...]]]:
        """The thread's import connection when inside :meth:`bulk`, else one borrowed from the pool."""
        pinned: Connection[tuple[Any, ...]] | None = getattr(self._local, "conn", None)
        if pinned is not None:
            yield pinned
            return
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            try:
                conn = self._connect()
            except psycopg.Error as exc:
                raise StoreError(f"cannot connect to the store at {self._where}: {_reason(exc)}.") from exc
        try:
            yield conn
        finally:
            self._give_back(conn)

    def _give_back(self, conn: Connection[tuple[Any, ...]]) -> None:
        healthy = not conn.closed and not conn.broken
        if healthy and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            with self._lock:
                if not self._closed and len(self._idle) < self._max_idle:
                    self._idle.append(conn)
                    return
        conn.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection[tuple[Any, ...]]]:
        """One write transaction (a savepoint inside :meth:`bulk`); psycopg errors become StoreError."""
        with self._conn() as conn:
            try:
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                raise StoreError(f"the store at {self._where} refused a write: {_reason(exc)}.") from exc

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        if _holds_nul(args):  # no stored text holds one (see rows.check_texts): nothing matches
            return None
        with self._conn() as conn:
            try:
                return conn.execute(sql, args).fetchone()
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        if _holds_nul(args):  # as in _one
            return []
        with self._conn() as conn:
            try:
                return conn.execute(sql, args).fetchall()
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    def _migrate(self, conn: Connection[tuple[Any, ...]]) -> None:
        with conn.transaction():
            # Several server processes may open a new database at once: one migrates, the others wait.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('labelport.migrate', 0))")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
            version = int(row[0]) if row else 0
            if version > LATEST:
                raise SchemaVersionError(
                    f"the store at {self._where} has schema version {version}; "
                    f"this labelport knows up to {LATEST}."
                )
            for number, sql in migrations("postgres"):
                if number > version:
                    conn.execute(sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                        (number, now_iso()),
                    )

    def _project_id(self, project_hash: str) -> int:
        row = self._one("SELECT id FROM projects WHERE project_hash = %s", (project_hash,))
        if row is None:
            raise NotFoundError("project", project_hash)
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def schema_version(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0])

    # -- users -----------------------------------------------------------------------------------

    def upsert_user(
        self, name: str, fingerprint: str, public_key: str, *, is_admin: bool = False
    ) -> UserRecord:
        check_texts({"name": name, "fingerprint": fingerprint, "public_key": public_key})
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO users (name, fingerprint, public_key, is_admin, created_at) "
                "VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (fingerprint) DO UPDATE SET name = excluded.name, "
                "public_key = CASE WHEN excluded.public_key <> '' THEN excluded.public_key "
                "ELSE users.public_key END, "
                "is_admin = users.is_admin OR excluded.is_admin "
                "RETURNING id, name, fingerprint, is_admin",
                (name, fingerprint, public_key, is_admin, now_iso()),
            ).fetchone()
        assert row is not None
        return UserRecord(int(row[0]), row[1], row[2], bool(row[3]))

    def user_by_fingerprint(self, fingerprint: str) -> UserRecord | None:
        row = self._one(
            "SELECT id, name, fingerprint, is_admin FROM users WHERE fingerprint = %s", (fingerprint,)
        )
        return None if row is None else UserRecord(int(row[0]), row[1], row[2], bool(row[3]))

    def public_key(self, fingerprint: str) -> str | None:
        row = self._one("SELECT public_key FROM users WHERE fingerprint = %s", (fingerprint,))
        return None if row is None else str(row[0])

    def set_role(self, project_hash: str, user_id: int, role: str) -> None:
        project_id = self._project_id(project_hash)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO memberships (project_id, user_id, role) VALUES (%s, %s, %s) "
                "ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
                (project_id, user_id, role),
            )

    def role(self, project_hash: str, user_id: int) -> str | None:
        row = self._one(
            "SELECT m.role FROM memberships m JOIN projects p ON p.id = m.project_id "
            "WHERE p.project_hash = %s AND m.user_id = %s",
            (project_hash, user_id),
        )
        return None if row is None else str(row[0])

    def use_nonce(self, nonce: str, now: float, keep_seconds: float) -> bool:
        with self._tx() as conn:
            conn.execute("DELETE FROM nonces WHERE seen_at < %s", (now - keep_seconds,))
            cursor = conn.execute(
                "INSERT INTO nonces (nonce, seen_at) VALUES (%s, %s) ON CONFLICT (nonce) DO NOTHING",
                (nonce, now),
            )
            return cursor.rowcount == 1

    def create_session(self, token_sha256: str, user_id: int, now: float, expires_at: float) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM viewer_sessions WHERE expires_at <= %s", (now,))
            conn.execute(
                "INSERT INTO viewer_sessions (token_sha256, user_id, created_at, expires_at) "
                "VALUES (%s, %s, %s, %s)",
                (token_sha256, user_id, now, expires_at),
            )

    def session_user(self, token_sha256: str, now: float) -> UserRecord | None:
        # a read only (expired rows are deleted when someone signs in)
        row = self._one(
            "SELECT u.id, u.name, u.fingerprint, u.is_admin FROM viewer_sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = %s AND s.expires_at > %s",
            (token_sha256, now),
        )
        return None if row is None else UserRecord(int(row[0]), row[1], row[2], bool(row[3]))

    def revoke_sessions(self, *, token_sha256: str | None = None, user_id: int | None = None) -> int:
        with self._tx() as conn:
            cursor = conn.execute(
                "DELETE FROM viewer_sessions WHERE token_sha256 = %s OR user_id = %s", (token_sha256, user_id)
            )
            return int(cursor.rowcount)

    # -- ontologies and projects -----------------------------------------------------------------

    def create_ontology(
        self, ontology_hash: str, title: str, structure: OntologyStructure, created_by: int | None = None
    ) -> None:
        check_texts({"title": title})
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO ontologies (ontology_hash, title, structure, created_at, created_by_user_id, "
                "standalone) VALUES (%s, %s, %s, %s, %s, TRUE)",
                (ontology_hash, title, dumps(structure.to_dict()), now_iso(), created_by),
            )

    def get_ontology(self, ontology_hash: str) -> OntologyRecord:
        found = self._all(*ontologies_query("%s", ontology_hash=ontology_hash))
        if not found:
            raise NotFoundError("ontology", ontology_hash)
        return ontology_from_row(found[0])

    def ontology_visible(self, ontology_hash: str, user_id: int) -> bool:
        return bool(self._all(*ontologies_query("%s", user_id, ontology_hash)))

    def list_ontologies(self, user_id: int | None = None) -> list[OntologyRecord]:
        return [ontology_from_row(r) for r in self._all(*ontologies_query("%s", user_id))]

    def create_project(
        self, project: ProjectRecord, structure: OntologyStructure | None, owner_id: int
    ) -> None:
        check_texts(
            {"title": project.title, "description": project.description, "created_by": project.created_by}
        )
        with self._tx() as conn:
            if structure is not None:
                conn.execute(
                    "INSERT INTO ontologies (ontology_hash, title, structure, created_at, created_by_user_id) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (
                        project.ontology_hash,
                        project.title,
                        dumps(structure.to_dict()),
                        project.created_at,
                        owner_id,
                    ),
                )
            # FOR SHARE: an import changing this ontology waits, then sees this project use it too
            row = conn.execute(
                "SELECT id FROM ontologies WHERE ontology_hash = %s FOR SHARE", (project.ontology_hash,)
            ).fetchone()
            if row is None:
                raise NotFoundError("ontology", project.ontology_hash)
            created = conn.execute(
                "INSERT INTO projects "
                "(project_hash, title, description, ontology_id, created_by, created_at, extra) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    project.project_hash,
                    project.title,
                    project.description,
                    row[0],
                    project.created_by,
                    project.created_at,
                    dumps(project.extra) if project.extra else None,
                ),
            ).fetchone()
            assert created is not None
            conn.execute(
                "INSERT INTO memberships (project_id, user_id, role) VALUES (%s, %s, 'admin')",
                (created[0], owner_id),
            )

    def get_project(self, project_hash: str) -> ProjectRecord:
        row = self._one(PROJECT_SELECT + " WHERE p.project_hash = %s", (project_hash,))
        if row is None:
            raise NotFoundError("project", project_hash)
        return project_from_row(row)

    def list_projects(self, user_id: int | None) -> list[ProjectRecord]:
        if user_id is None:
            rows = self._all(PROJECT_SELECT + " ORDER BY p.id")
        else:
            rows = self._all(
                PROJECT_SELECT
                + " JOIN memberships m ON m.project_id = p.id WHERE m.user_id = %s ORDER BY p.id",
                (user_id,),
            )
        return [project_from_row(r) for r in rows]

    @contextmanager
    def project_lock(self, project_hash: str) -> Iterator[None]:
        """The project's write lock: a session advisory lock on a connection held for the block, so
        every process on the database shares it, and a process that dies lets it go."""
        key = "SELECT pg_advisory_{}(hashtextextended('labelport.project:' || %s, 0))"
        with self._conn() as conn:
            try:
                conn.execute(key.format("lock"), (project_hash,))
            except psycopg.Error as exc:
                raise StoreError(
                    f"cannot lock project {project_hash} at {self._where}: {_reason(exc)}."
                ) from exc
            try:
                yield
            finally:
                try:
                    conn.execute(key.format("unlock"), (project_hash,))
                except psycopg.Error:
                    conn.close()  # closing the session lets the lock go too

    # -- data units ------------------------------------------------------------------------------

    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None:
        project_id = self._project_id(project_hash)
        with self._tx() as conn:
            _insert_units(conn, project_id, units)

    def list_data_units(self, project_hash: str) -> list[DataUnit]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            f"SELECT {UNIT_COLUMNS} FROM data_units WHERE project_id = %s ORDER BY id", (project_id,)
        )
        return [unit_from_row(r) for r in rows]

    def get_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> list[DataUnit]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            f"SELECT {UNIT_COLUMNS} FROM data_units WHERE project_id = %s AND data_hash = ANY(%s)",
            (project_id, list(data_hashes)),
        )
        found = {u.data_hash: u for u in map(unit_from_row, rows)}
        return [found[h] for h in data_hashes if h in found]

    def find_data_units(
        self, project_hash: str, query: UnitQuery, limit: int, offset: int
    ) -> tuple[list[DataUnit], int]:
        project_id = self._project_id(project_hash)
        with self._conn() as conn:
            try:
                with conn.transaction():  # the page and its count from one snapshot
                    rows = conn.execute(
                        *browse.page_sql(query, project_id, browse.POSTGRES, limit, offset)
                    ).fetchall()
                    counted = conn.execute(*browse.count_sql(query, project_id, browse.POSTGRES)).fetchone()
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc
        return [unit_from_row(r) for r in rows], int(counted[0]) if counted else 0

    def class_counts(self, project_hash: str, query: UnitQuery) -> dict[str, int]:
        project_id = self._project_id(project_hash)
        rows = self._all(*browse.class_counts_sql(query, project_id, browse.POSTGRES))
        return {str(feature): int(n) for feature, n in rows}

    def iter_data_units(self, project_hash: str) -> Iterator[DataUnitRecord]:
        project_id = self._project_id(project_hash)
        yield from self._stream(
            f"SELECT {UNIT_RECORD_COLUMNS} FROM data_units WHERE project_id = %s ORDER BY id",
            (project_id,),
            DataUnitRecord._make,
        )

    # -- labels ----------------------------------------------------------------------------------

    def list_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowInfo]:
        project_id = self._project_id(project_hash)
        with self._conn() as conn:
            try:
                cursor = conn.execute(LABEL_ROW_INFO_SELECT.format(mark="%s"), (branch, branch, project_id))
                return label_row_infos(cursor, data_hashes)
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    def load_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowRecord]:
        project_id = self._project_id(project_hash)
        where = "d.project_id = %s"
        args: list[Any] = [project_id]
        if data_hashes is not None:
            where += " AND d.data_hash = ANY(%b)"
            args.append(list(data_hashes))
        with self._conn() as conn:
            try:
                # one snapshot for the rows, their objects and classifications
                with conn.transaction(), conn.cursor(binary=True) as cursor:
                    units = cursor.execute(
                        "SELECT d.data_hash, l.id, l.label_hash FROM data_units d LEFT JOIN label_rows l "
                        f"ON l.data_unit_id = d.id AND l.branch = %s WHERE {where} ORDER BY d.id",
                        (branch, *args),
                    ).fetchall()
                    objects: dict[str, list[ObjectRecord]] = {}
                    for r in cursor.execute(
                        f"{OBJECT_SELECT} WHERE l.branch = %s AND {where} ORDER BY o.id", (branch, *args)
                    ):
                        objects.setdefault(r[0], []).append(ObjectRecord._make(r))
                    classes: dict[str, list[ClassificationRecord]] = {}
                    for r in cursor.execute(
                        f"{CLASSIFICATION_SELECT} WHERE l.branch = %s AND {where} ORDER BY c.id",
                        (branch, *args),
                    ):
                        classes.setdefault(r[0], []).append(ClassificationRecord._make(r))
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc
        result = []
        for data_hash, row_id, label_hash in units:
            if row_id is None:
                result.append(LabelRowRecord("", data_hash, branch, [], []))
            else:
                result.append(
                    LabelRowRecord(
                        label_hash, data_hash, branch, objects.get(data_hash, []), classes.get(data_hash, [])
                    )
                )
        return result

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
        with self._tx() as conn:
            unit = conn.execute(
                "SELECT id FROM data_units WHERE data_hash = %s AND project_id = %s", (data_hash, project_id)
            ).fetchone()
            if unit is None:
                raise NotFoundError("data unit", data_hash)
            row_id, label_hash = _label_row(conn, int(unit[0]), branch)
            conn.execute("DELETE FROM objects WHERE label_row_id = %s", (row_id,))
            conn.execute("DELETE FROM classifications WHERE label_row_id = %s", (row_id,))
            source_ids: dict[str, int] = {}
            rows = []
            for o in objects:
                source_id = None
                if o.source is not None:
                    if o.source not in source_ids:
                        source_ids[o.source] = _source_id(conn, project_id, branch, o.source)
                    source_id = source_ids[o.source]
                rows.append(
                    (
                        row_id,
                        o.frame,
                        o.object_hash,
                        o.feature_hash,
                        o.geometry,
                        o.confidence,
                        bool(o.manual),
                        o.created_by,
                        o.created_at,
                        o.answers,
                        o.source_key,
                        o.record,
                        source_id,
                        bool(o.edited),
                    )
                )
            with conn.cursor() as cursor:
                if rows:
                    cursor.executemany(
                        f"INSERT INTO objects ({_OBJECT_COLUMNS}, edited) VALUES ({', '.join(['%s'] * 14)})",
                        rows,
                    )
                if classifications:
                    cursor.executemany(
                        "INSERT INTO classifications (label_row_id, classification_hash, feature_hash, "
                        "frames, answer, created_by, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(row_id, *c[1:]) for c in classifications],
                    )
            conn.execute("UPDATE label_rows SET updated_at = %s WHERE id = %s", (now_iso(), row_id))
        return label_hash

    def iter_objects(self, project_hash: str, branch: str) -> Iterator[ObjectRecord]:
        project_id = self._project_id(project_hash)
        yield from self._stream(
            f"{OBJECT_SELECT} WHERE d.project_id = %s AND l.branch = %s ORDER BY o.id",
            (project_id, branch),
            ObjectRecord._make,
        )

    def _stream(self, sql: str, args: Sequence[Any], make: Callable[[Any], T]) -> Iterator[T]:
        """The rows of one query through a server-side cursor, a chunk at a time, made into records."""
        with self._conn() as conn:
            try:
                name = f"labelport_stream_{next(_cursor_numbers)}"
                with conn.transaction(), conn.cursor(name=name, binary=True) as cursor:
                    # sort in memory: a server-side cursor gets no parallel workers, and a spilled sort
                    # of a large import takes twice as long
                    conn.execute("SET LOCAL work_mem = '128MB'")
                    cursor.itersize = CHUNK
                    cursor.execute(sql, args)
                    while batch := cursor.fetchmany(CHUNK):
                        yield from map(make, batch)
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    def iter_evaluation_rows(self, project_hash: str, branch: str) -> Iterator[list[tuple[Any, ...]]]:
        """Batches of :data:`~labelport.store.evaluations.EVALUATION_SELECT` rows, streamed."""
        project_id = self._project_id(project_hash)
        with self._conn() as conn:
            try:
                name = f"labelport_evaluation_{next(_cursor_numbers)}"
                with conn.transaction(), conn.cursor(name=name, binary=True) as cursor:
                    cursor.itersize = CHUNK
                    cursor.execute(self._q(EVALUATION_SELECT), (project_id, branch))
                    while batch := cursor.fetchmany(CHUNK):
                        yield batch
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    def list_branches(self, project_hash: str) -> list[str]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            "SELECT DISTINCT l.branch FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
            "WHERE d.project_id = %s ORDER BY l.branch",
            (project_id,),
        )
        return [r[0] for r in rows]

    def imports(self, project_hash: str) -> list[dict[str, Any]]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            "SELECT i.id, s.name, s.branch, i.created_by, i.created_at, i.report FROM imports i "
            "LEFT JOIN sources s ON s.id = i.source_id WHERE i.project_id = %s ORDER BY i.id",
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
    def bulk(self, project_hash: str, branch: str, source: str, user: str) -> Iterator[PostgresBulk]:
        """One transaction for a whole import; imports into one project wait for each other."""
        check_texts({"branch": branch, "source": source, "user": user})
        project_id = self._project_id(project_hash)
        with self._tx() as conn:
            outer = getattr(self._local, "conn", None)
            self._local.conn = conn
            try:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('labelport.bulk:' || %s::text, 0))",
                    (project_id,),
                )
                session = PostgresBulk(
                    conn, project_id, branch, _source_id(conn, project_id, branch, source), user
                )
                yield session
                if not session.committed:
                    raise StoreError("an import session ended without commit; nothing was written.")
            finally:
                self._local.conn = outer
        if session.written >= ANALYZE_AFTER:
            # fresh statistics now, not at autovacuum's next round: the export that often follows a
            # large import otherwise gets a plan made for an empty table
            with self._conn() as conn:
                try:
                    conn.execute("ANALYZE objects, label_rows, data_units")
                except psycopg.Error as exc:
                    raise StoreError(f"the store at {self._where} refused ANALYZE: {_reason(exc)}.") from exc

    # -- the server's shared state: chunked uploads ----------------------------------------------

    def create_upload(
        self, upload_id: str, project_hash: str, user_id: int, meta: bytes, now: float, keep_seconds: float
    ) -> None:
        """Start an upload; uploads older than ``keep_seconds`` (abandoned ones) are deleted."""
        with self._tx() as conn:
            conn.execute("DELETE FROM uploads WHERE created_at < %s", (now - keep_seconds,))
            conn.execute(
                "INSERT INTO uploads (upload_id, project_hash, user_id, meta, created_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (upload_id, project_hash, user_id, meta, now),
            )

    def upload_meta(self, upload_id: str, project_hash: str, user_id: int) -> bytes | None:
        """The upload's metadata when it exists and belongs to this user and project."""
        row = self._one(
            "SELECT meta FROM uploads WHERE upload_id = %s AND project_hash = %s AND user_id = %s",
            (upload_id, project_hash, user_id),
        )
        return None if row is None else bytes(row[0])

    def put_upload_chunk(self, upload_id: str, seq: int, data: bytes) -> None:
        """Store chunk ``seq`` (sending one again replaces it)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO upload_chunks (upload_id, seq, data) VALUES (%s, %s, %s) "
                "ON CONFLICT (upload_id, seq) DO UPDATE SET data = excluded.data",
                (upload_id, seq, data),
            )

    def upload_chunk_count(self, upload_id: str) -> tuple[int, int]:
        """(number of chunks, highest chunk number or -1) stored for an upload."""
        row = self._one(
            "SELECT COUNT(*), COALESCE(MAX(seq), -1) FROM upload_chunks WHERE upload_id = %s", (upload_id,)
        )
        return int(row[0]), int(row[1])

    def upload_bytes(self, upload_id: str) -> int:
        """The bytes of the chunks stored for an upload."""
        row = self._one(
            "SELECT COALESCE(SUM(octet_length(data)), 0) FROM upload_chunks WHERE upload_id = %s",
            (upload_id,),
        )
        return int(row[0])

    def upload_chunks(self, upload_id: str) -> Iterator[bytes]:
        """The upload's chunks in order, one at a time."""
        with self._conn() as conn:
            try:
                name = f"labelport_upload_{next(_cursor_numbers)}"
                with conn.transaction(), conn.cursor(name=name, binary=True) as cursor:
                    cursor.itersize = 1
                    cursor.execute(
                        "SELECT data FROM upload_chunks WHERE upload_id = %s ORDER BY seq", (upload_id,)
                    )
                    for (data,) in cursor:
                        yield bytes(data)
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    def delete_upload(self, upload_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM uploads WHERE upload_id = %s", (upload_id,))


def _holds_nul(args: Sequence[Any]) -> bool:
    """Whether a statement's text arguments hold a NUL character, which psycopg cannot send.

    >>> _holds_nul(("a", 1)), _holds_nul(("a\\x00",))
    (False, True)
    """
    return any(isinstance(a, str) and "\x00" in a for a in args)


def _reason(exc: psycopg.Error) -> str:
    """The first line of a psycopg error, without its trailing full stop."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")


def _insert_units(conn: Connection[tuple[Any, ...]], project_id: int, units: Sequence[DataUnit]) -> None:
    if not units:
        return
    with conn.cursor() as cursor:
        with cursor.copy(f"COPY data_units (project_id, {UNIT_COLUMNS}) FROM STDIN") as copy:
            for unit in units:
                copy.write_row(unit_to_row(project_id, unit))
        cursor.execute(
            "INSERT INTO label_rows (label_hash, data_unit_id, branch, updated_at) "
            "SELECT gen_random_uuid()::text, id, 'main', %s FROM data_units "
            "WHERE data_hash = ANY(%b) ORDER BY id",
            (now_iso(), [u.data_hash for u in units]),
        )


def _label_row(conn: Connection[tuple[Any, ...]], unit_id: int, branch: str) -> tuple[int, str]:
    """The label row of a data unit on a branch, created when missing, locked until the transaction ends."""
    conn.execute(
        "INSERT INTO label_rows (label_hash, data_unit_id, branch, updated_at) "
        "VALUES (gen_random_uuid()::text, %s, %s, %s) ON CONFLICT (data_unit_id, branch) DO NOTHING",
        (unit_id, branch, now_iso()),
    )
    row = conn.execute(
        "SELECT id, label_hash FROM label_rows WHERE data_unit_id = %s AND branch = %s FOR UPDATE",
        (unit_id, branch),
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def _source_id(conn: Connection[tuple[Any, ...]], project_id: int, branch: str, name: str) -> int:
    conn.execute(
        "INSERT INTO sources (project_id, branch, name) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (project_id, branch, name),
    )
    row = conn.execute(
        "SELECT id FROM sources WHERE project_id = %s AND branch = %s AND name = %s",
        (project_id, branch, name),
    ).fetchone()
    assert row is not None
    return int(row[0])


class PostgresBulk:
    """An import's transaction on the team store."""

    def __init__(
        self, conn: Connection[tuple[Any, ...]], project_id: int, branch: str, source_id: int, user: str
    ) -> None:
        self._conn = conn
        self._project_id = project_id
        self._branch = branch
        self._source_id = source_id
        self._user = user
        self._now = now_iso()  # every row of one import carries the same time, as on SQLite
        self._fresh: bool | None = None  # no key of this source stored yet: rows go straight in with COPY
        self._staged = False
        self._guard = LabelRowGuard(self._label_rows_of_project)
        self.written = 0
        self.committed = False

    def existing_keys(self) -> dict[int, tuple[str, int]]:
        with self._conn.cursor(binary=True) as cursor:
            cursor.execute(
                "SELECT source_key, object_hash, label_row_id FROM objects WHERE source_id = %s",
                (self._source_id,),
            )
            keys = {r[0]: (r[1], r[2]) for r in cursor}
        self._fresh = not keys
        self._guard.allow(row_id for _, row_id in keys.values())
        return keys

    def label_row_ids(self, data_hashes: Sequence[str]) -> dict[str, int]:
        wanted = set(data_hashes)
        found: dict[str, int] = {}
        missing: list[int] = []
        rows = self._conn.execute(
            "SELECT d.data_hash, d.id, l.id FROM data_units d LEFT JOIN label_rows l "
            "ON l.data_unit_id = d.id AND l.branch = %s WHERE d.project_id = %s",
            (self._branch, self._project_id),
        )
        by_unit: dict[int, str] = {}
        for data_hash, unit_id, row_id in rows:
            if data_hash in wanted:
                if row_id is None:
                    missing.append(unit_id)
                    by_unit[unit_id] = data_hash
                else:
                    found[data_hash] = row_id
        if missing:
            created = self._conn.execute(
                "INSERT INTO label_rows (label_hash, data_unit_id, branch, updated_at) "
                "SELECT gen_random_uuid()::text, u, %s, %s "
                "FROM unnest(%b::bigint[]) WITH ORDINALITY AS t(u, n) "
                "ORDER BY n RETURNING data_unit_id, id",
                (self._branch, now_iso(), missing),
            )
            for unit_id, row_id in created:
                found[by_unit[unit_id]] = row_id
        self._guard.allow(found.values())
        return found

    def clear(self, label_row_ids: Sequence[int]) -> int:
        ids = list(label_row_ids)
        if not ids:
            return 0
        removed = self._conn.execute("DELETE FROM objects WHERE label_row_id = ANY(%b)", (ids,)).rowcount
        self._conn.execute("DELETE FROM classifications WHERE label_row_id = ANY(%b)", (ids,))
        return removed

    def _label_rows_of_project(self, ids: list[int]) -> list[int]:
        found = self._conn.execute(
            "SELECT l.id FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
            "WHERE l.id = ANY(%b) AND d.project_id = %s",
            (ids, self._project_id),
        )
        return [r[0] for r in found]

    def write(self, rows: Sequence[BulkRow] | Sequence[PlainRow]) -> None:
        if not rows:
            return
        self._guard.check(rows)
        self.written += len(rows)
        if self._fresh is None:
            found = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM objects WHERE source_id = %s)", (self._source_id,)
            ).fetchone()
            self._fresh = not (found and found[0])
        # plain rows: confidence 1, manual, no answers; every row: the session's user, time and source
        tail: tuple[Any, ...] = (self._user, self._now, self._source_id)
        if len(rows[0]) == 6:
            tail = (1.0, True, None, *tail)
        if self._fresh:
            try:
                with (
                    self._conn.transaction(),
                    self._conn.cursor() as cursor,
                    cursor.copy(f"COPY objects ({_BULK_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
                ):
                    copy.set_types(_BULK_TYPES)
                    for row in rows:
                        copy.write_row((*row, *tail))
                return
            except psycopg.errors.UniqueViolation:
                self._fresh = False  # a key came twice: replace in place, as the upsert below does
        self._upsert(rows, tail)

    def _upsert(self, rows: Sequence[BulkRow] | Sequence[PlainRow], tail: tuple[Any, ...]) -> None:
        """Stage the rows with COPY, then insert them, replacing rows whose source key is stored."""
        latest: dict[int, tuple[Any, ...]] = {}
        for row in rows:
            latest[row[4]] = row  # a key given twice keeps its first place and its last values
        with self._conn.cursor() as cursor:
            if not self._staged:
                cursor.execute(
                    "CREATE TEMP TABLE labelport_stage (seq BIGINT, label_row_id BIGINT, frame INTEGER, "
                    "object_hash TEXT, feature_hash TEXT, source_key BIGINT, record BYTEA, "
                    "confidence DOUBLE PRECISION, manual BOOLEAN, answers BYTEA, created_by TEXT, "
                    "created_at TEXT, source_id BIGINT) ON COMMIT DROP"
                )
                self._staged = True
            else:
                cursor.execute("TRUNCATE labelport_stage")
            with cursor.copy(
                f"COPY labelport_stage (seq, {_BULK_COLUMNS}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", *_BULK_TYPES])
                for seq, row in enumerate(latest.values()):
                    copy.write_row((seq, *row, *tail))
            cursor.execute(
                f"INSERT INTO objects ({_BULK_COLUMNS}) SELECT {_BULK_COLUMNS} FROM labelport_stage "
                f"ORDER BY seq ON CONFLICT (source_id, source_key) DO UPDATE SET {_UPSERT_SET}"
            )

    def add_data_units(self, units: Sequence[DataUnit]) -> None:
        _insert_units(self._conn, self._project_id, units)

    def set_data_unit_extra(self, extras: dict[str, dict[str, Any]]) -> None:
        if not extras:
            return
        self._conn.execute(
            "UPDATE data_units d SET extra = v.extra "
            "FROM unnest(%b::text[], %b::bytea[]) AS v(data_hash, extra) "
            "WHERE d.data_hash = v.data_hash AND d.project_id = %s",
            (list(extras), [dumps(extra) for extra in extras.values()], self._project_id),
        )

    def save_ontology(self, structure: OntologyStructure) -> None:
        # Lock the ontology first, in a statement of its own: a project being created on it at the
        # same time (FOR SHARE) commits first, and the next statement's snapshot then sees it.
        self._conn.execute(
            "SELECT o.id FROM ontologies o JOIN projects p ON p.ontology_id = o.id WHERE p.id = %s "
            "FOR UPDATE OF o",
            (self._project_id,),
        )
        save_project_ontology(self._conn.execute, "%s", self._project_id, dumps(structure.to_dict()))

    def set_project_extra(self, extra: dict[str, Any]) -> None:
        self._conn.execute("UPDATE projects SET extra = %s WHERE id = %s", (dumps(extra), self._project_id))

    def commit(self, report: bytes) -> None:
        self._conn.execute(
            "INSERT INTO imports (project_id, source_id, created_by, created_at, report) "
            "VALUES (%s, %s, %s, %s, %s)",
            (self._project_id, self._source_id, self._user, now_iso(), report),
        )
        self.committed = True
