"""The team store: PostgreSQL through psycopg 3, with the embedded store's semantics exactly.

Every write is one transaction; :meth:`PostgresStore.bulk` is one transaction for a whole import, its
rows sent with ``COPY`` (or, when the source's keys are already stored, staged with ``COPY`` and
upserted on ``(source_id, source_key)``). Request nonces live here too, and the server keeps its
chunked uploads in this database (:meth:`PostgresStore.server_tables`), so any number of server
processes can share one database and keep no state of their own.

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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import Connection

from labelport.data import DataUnit
from labelport.errors import SchemaVersionError, StoreError
from labelport.hashing import new_uuids
from labelport.labels import now_iso
from labelport.store.base import (
    BulkRows,
    ClassificationRecord,
    LabelRowRecord,
    ObjectRecord,
    PlainRows,
    ServerTables,
)
from labelport.store.rows import (
    CLASSIFICATION_SELECT,
    OBJECT_SELECT,
    UNIT_COLUMNS,
    unit_from_row,
    unit_to_row,
)
from labelport.store.schema import migrations
from labelport.store.sql import CHUNK, EXISTING_KEYS, POSTGRES, SqlBulk, SqlStore, label_rows_from
from labelport.stored.codec import dumps

#: Rows an import writes before the store refreshes the planner's statistics.
ANALYZE_AFTER = 50_000
_cursor_numbers = itertools.count()
LATEST = max(v for v, _ in migrations("postgres"))

#: What a bulk row fills, in order: a full row's nine fields (a plain row's six, then confidence,
#: manual and answers), then the session's user, time and source.
_BULK_COLUMNS = (
    "label_row_id, frame, object_hash, feature_hash, source_key, record, confidence, manual, answers, "
    "created_by, created_at, source_id"
)
_BULK_TYPES = ["int8", "int4", "text", "text", "int8", "bytea", "float8", "bool", "bytea", "text", "text", "int8"]  # fmt: skip
#: ``data_units``' id, project and :data:`~labelport.store.rows.UNIT_COLUMNS`, as binary COPY sends them
_UNIT_TYPES = ["int8", "int8", "text", "text", "text", "int4", "int4", "int4", "float8", "text", "bytea", "bytea"]  # fmt: skip
#: Replace a stored row in place (the embedded store's upsert, column for column).
_UPSERT_SET = (
    "label_row_id = excluded.label_row_id, frame = excluded.frame, feature_hash = excluded.feature_hash, "
    "geometry = NULL, confidence = excluded.confidence, manual = excluded.manual, "
    "created_by = excluded.created_by, answers = excluded.answers, record = excluded.record, edited = FALSE, "
    # a row the import gives back unchanged keeps its time: re-importing a file changes nothing
    "created_at = CASE WHEN objects.record = excluded.record AND NOT objects.edited "
    "AND objects.geometry IS NULL AND objects.label_row_id = excluded.label_row_id "
    "AND objects.frame = excluded.frame AND objects.feature_hash = excluded.feature_hash "
    "AND objects.confidence = excluded.confidence AND objects.manual = excluded.manual "
    "AND objects.answers IS NOT DISTINCT FROM excluded.answers AND objects.created_by = excluded.created_by "
    "THEN objects.created_at ELSE excluded.created_at END"
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


class PostgresStore(SqlStore):
    """A :class:`~labelport.store.base.LabelStore` in a PostgreSQL database.

    ``url`` is a libpq URL or conninfo string; the schema is created or brought up to date on open.

    >>> store = PostgresStore("postgresql://labelport@db.example/labels")  # doctest: +SKIP
    >>> store.schema_version()  # doctest: +SKIP
    1
    """

    #: The server may run requests on this store from many threads at once.
    thread_safe = True
    path = None
    _marker = "%s"
    _for_update = " FOR UPDATE"
    _dialect = POSTGRES

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

    @contextmanager
    def _read(self) -> Iterator[Connection[tuple[Any, ...]]]:
        """A connection whose reads see one snapshot (one transaction); psycopg errors become StoreError."""
        with self._conn() as conn:
            try:
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    def _many(self, db: Connection[tuple[Any, ...]], sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with db.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _insert_units(
        self, db: Connection[tuple[Any, ...]], project_id: int, units: Sequence[DataUnit]
    ) -> None:
        _insert_units(db, project_id, units)

    def _label_row(self, db: Connection[tuple[Any, ...]], unit_id: int, branch: str) -> tuple[int, str]:
        return _label_row(db, unit_id, branch)

    # -- what the server keeps here: sql_write, sql_one and sql_stream ---------------------------

    def server_tables(self) -> ServerTables:
        return self

    def sql_write(self, *statements: tuple[str, Sequence[Any]]) -> list[int]:
        with self._tx() as conn:
            return [conn.execute(self._q(sql), args).rowcount for sql, args in statements]

    def sql_one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._one(self._q(sql), args)
        return row

    def sql_stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        with self._conn() as conn:
            try:
                name = f"labelport_one_by_one_{next(_cursor_numbers)}"
                with conn.transaction(), conn.cursor(name=name, binary=True) as cursor:
                    cursor.itersize = 1
                    cursor.execute(self._q(sql), args)
                    yield from cursor
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

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def schema_version(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0])

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

    def get_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> list[DataUnit]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            f"SELECT {UNIT_COLUMNS} FROM data_units WHERE project_id = %s AND data_hash = ANY(%s)",
            (project_id, list(data_hashes)),
        )
        found = {u.data_hash: u for u in map(unit_from_row, rows)}
        return [found[h] for h in data_hashes if h in found]

    # -- labels ----------------------------------------------------------------------------------

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
        return label_rows_from(units, branch, objects, classes)

    @contextmanager
    def _cursor(self, sql: str, args: Sequence[Any]) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        with self._conn() as conn:
            try:
                yield conn.execute(sql, args)
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    def _batches(self, sql: str, args: Sequence[Any]) -> Iterator[list[Any]]:
        """A query's rows through a server-side cursor, :data:`CHUNK` at a time."""
        with self._conn() as conn:
            try:
                name = f"labelport_rows_{next(_cursor_numbers)}"
                with conn.transaction(), conn.cursor(name=name, binary=True) as cursor:
                    # sort in memory: a server-side cursor gets no parallel workers, and a spilled sort
                    # of a large import takes twice as long
                    conn.execute("SET LOCAL work_mem = '128MB'")
                    cursor.itersize = CHUNK
                    cursor.execute(sql, args)
                    while batch := cursor.fetchmany(CHUNK):
                        yield batch
            except psycopg.Error as exc:
                raise StoreError(f"cannot read the store at {self._where}: {_reason(exc)}.") from exc

    @contextmanager
    def bulk(self, project_hash: str, branch: str, source: str, user: str) -> Iterator[PostgresBulk]:
        """One transaction for a whole import; imports into one project wait for each other."""
        project_id = self._bulk_project(project_hash, branch, source, user)
        with self._tx() as conn:
            outer = getattr(self._local, "conn", None)
            self._local.conn = conn
            try:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('labelport.bulk:' || %s::text, 0))",
                    (project_id,),
                )
                with self._session(PostgresBulk, conn, project_id, branch, source, user) as session:
                    yield session
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
    """Insert units and their label rows on main, both with binary ``COPY``.

    The units' ids are drawn from their sequence first, so the label rows are written with them
    rather than found again by data hash; the look-up, a uuid made per row and the text form of each
    unit's kept record would be a large part of PostgreSQL's time for the two tables.
    """
    if not units:
        return
    with conn.cursor(binary=True) as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('data_units', 'id')")
        sequence = cursor.fetchone()
        assert sequence is not None
        ids = [
            int(r[0])
            for r in cursor.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (sequence[0], len(units))
            )
        ]
        with cursor.copy(
            f"COPY data_units (id, project_id, {UNIT_COLUMNS}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(_UNIT_TYPES)
            for unit_id, unit in zip(ids, units, strict=True):
                copy.write_row((unit_id, *unit_to_row(project_id, unit)))
        now = now_iso()
        with cursor.copy(
            "COPY label_rows (label_hash, data_unit_id, branch, updated_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "int8", "text", "text"])
            for label_hash, unit_id in zip(new_uuids(len(ids), ordered=True), ids, strict=True):
                copy.write_row((label_hash, unit_id, "main", now))


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


class PostgresBulk(SqlBulk):
    """An import's transaction on the team store."""

    _marker = "%s"

    def __init__(
        self, conn: Connection[tuple[Any, ...]], project_id: int, branch: str, source_id: int, user: str
    ) -> None:
        super().__init__(conn, project_id, branch, source_id, user)
        self._conn = conn
        self._now = now_iso()  # every row of one import carries the same time, as on SQLite
        self._fresh: bool | None = None  # no key of this source stored yet: rows go straight in with COPY
        self._staged = False
        self.written = 0

    def existing_keys(self) -> dict[int, tuple[str, int]]:
        with self._conn.cursor(binary=True) as cursor:
            keys = self._keys(cursor.execute(EXISTING_KEYS.replace("?", "%s"), (self._source_id,)))
        self._fresh = not keys
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

    def _insert(self, rows: PlainRows | BulkRows) -> None:
        self.written += len(rows)
        if self._fresh is None:
            found = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM objects WHERE source_id = %s)", (self._source_id,)
            ).fetchone()
            self._fresh = not (found and found[0])
        # plain rows: confidence 1, manual, no answers; every row: the session's user, time and source
        tail: tuple[Any, ...] = (self._user, self._now, self._source_id)
        if isinstance(rows, PlainRows):
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

    def _upsert(self, rows: PlainRows | BulkRows, tail: tuple[Any, ...]) -> None:
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

    def _insert_units(self, units: Sequence[DataUnit]) -> None:
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

    def _lock_ontology(self) -> None:
        # Lock the ontology first, in a statement of its own: a project being created on it at the
        # same time (FOR SHARE) commits first, and the next statement's snapshot then sees it.
        self._conn.execute(
            "SELECT o.id FROM ontologies o JOIN projects p ON p.ontology_id = o.id WHERE p.id = %s "
            "FOR UPDATE OF o",
            (self._project_id,),
        )
