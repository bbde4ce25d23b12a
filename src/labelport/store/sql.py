"""The SQL both stores run, written once: :class:`SqlStore` and :class:`SqlBulk`.

Statements are written with ``?`` and run through :meth:`~labelport.store.manage.ManageMixin._q`,
which gives the store's own placeholder. What truly differs between SQLite and PostgreSQL stays in
:mod:`labelport.store.sqlite` and :mod:`labelport.store.postgres`, behind a few hooks: connections
and transactions (``_tx``, ``_one``, ``_all``, ``_read``), how many rows go in at once (``_many``,
``_insert_units``), how a label row is made and locked (``_label_row``), locks, bulk copy and
migrations. The small :class:`Dialect` says the rest (a clause or two, and :mod:`~labelport.store.browse`'s
dialect).

>>> from labelport.store.sqlite import SqliteStore
>>> store = SqliteStore(":memory:")
>>> store.upsert_user("ada", "SHA256:ada", "ssh-ed25519 AAAA").name
'ada'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from labelport.data import DataUnit
from labelport.errors import NotFoundError, StoreError
from labelport.labels import now_iso
from labelport.ontology import OntologyStructure
from labelport.store import browse
from labelport.store.access import AccessRows
from labelport.store.base import (
    BulkRows,
    ClassificationRecord,
    DataUnitRecord,
    LabelRowGuard,
    LabelRowInfo,
    LabelRowRecord,
    ObjectRecord,
    OntologyRecord,
    PlainRows,
    ProjectRecord,
    ServerTables,
    UnitQuery,
)
from labelport.store.evaluations import EVALUATION_SELECT, EvaluationRows
from labelport.store.rows import (
    LABEL_ROW_INFO_SELECT,
    OBJECT_SELECT,
    PROJECT_SELECT,
    UNIT_COLUMNS,
    UNIT_RECORD_COLUMNS,
    check_label_row,
    check_ontology,
    check_texts,
    label_row_infos,
    ontologies_query,
    ontology_from_row,
    project_from_row,
    save_project_ontology,
    unit_from_row,
)
from labelport.stored.codec import dumps, loads

#: an object's columns as :meth:`SqlStore.save_label_row` writes them
_OBJECT_COLUMNS = (
    "label_row_id, frame, object_hash, feature_hash, geometry, confidence, manual, created_by, created_at, "
    "answers, source_key, record, source_id, edited"
)
_Bulk = TypeVar("_Bulk", bound="SqlBulk")
#: at most this many data units' label rows are looked up by hash; more are found by listing them all
FEW_UNITS = 500
#: rows a long read (an export's objects) fetches at a time
CHUNK = 20_000


@dataclass(frozen=True)
class Dialect:
    """What a statement shared by both stores needs to know of its database.

    ``browse`` is the browsing statements' dialect (placeholder, attribute answers); ``for_share``
    ends a read that must hold its row until the transaction ends (PostgreSQL's row locks; SQLite's
    write transaction already holds the whole file).
    """

    browse: browse.Dialect
    for_share: str = ""


SQLITE = Dialect(browse.SQLITE)
POSTGRES = Dialect(browse.POSTGRES, for_share=" FOR SHARE")


def source_id(db: Any, marker: str, project_id: int, branch: str, name: str) -> int:
    """The id of a source (an import's file name) on a branch, made when missing; ``db`` is the
    store's open connection and ``marker`` its placeholder."""
    db.execute(
        "INSERT INTO sources (project_id, branch, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING".replace(
            "?", marker
        ),
        (project_id, branch, name),
    )
    row = db.execute(
        "SELECT id FROM sources WHERE project_id = ? AND branch = ? AND name = ?".replace("?", marker),
        (project_id, branch, name),
    ).fetchone()
    assert row is not None
    return int(row[0])


def label_rows_from(
    units: Iterable[Sequence[Any]],
    branch: str,
    objects: dict[str, list[ObjectRecord]],
    classes: dict[str, list[ClassificationRecord]],
) -> list[LabelRowRecord]:
    """Label rows from (data hash, label row id or None, label hash) and each unit's objects and
    classifications: a unit without a row on the branch has an empty one with no hash.

    >>> label_rows_from([("d1", None, None)], "main", {}, {})[0].label_hash
    ''
    """
    return [
        LabelRowRecord("", data_hash, branch, [], [])
        if row_id is None
        else LabelRowRecord(
            label_hash, data_hash, branch, objects.get(data_hash, []), classes.get(data_hash, [])
        )
        for data_hash, row_id, label_hash in units
    ]


class SqlStore(AccessRows, EvaluationRows):
    """The methods of :class:`~labelport.store.base.LabelStore` whose SQL both databases run."""

    url: str
    _dialect: Dialect = SQLITE
    #: whether the server may call the store from many threads at once (the protocol's)
    thread_safe = False

    # -- what the store provides (beyond ManageMixin's _tx, _one and _all) ----------------------

    def _read(self) -> AbstractContextManager[Any]:
        """Reads that see one state of the store: yields a connection to run them on."""
        raise NotImplementedError

    def _many(self, db: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` (with the store's placeholders) for every row."""
        raise NotImplementedError

    def _insert_units(self, db: Any, project_id: int, units: Sequence[DataUnit]) -> None:
        raise NotImplementedError

    def _batches(self, sql: str, args: Sequence[Any]) -> Iterator[list[Any]]:
        """A long query's rows (``sql`` with the store's placeholders), a chunk at a time."""
        raise NotImplementedError

    def _cursor(self, sql: str, args: Sequence[Any]) -> AbstractContextManager[Iterable[Sequence[Any]]]:
        """A query's rows, each let go once read (SQLite: with the small cache of a read-once pass)."""
        raise NotImplementedError

    def _label_row(self, db: Any, unit_id: int, branch: str) -> tuple[int, str]:
        """(id, label hash) of a data unit's label row on a branch, made when missing."""
        raise NotImplementedError

    # -- plumbing --------------------------------------------------------------------------------

    def _project_id(self, project_hash: str) -> int:
        row = self._one(self._q("SELECT id FROM projects WHERE project_hash = ?"), (project_hash,))
        if row is None:
            raise NotFoundError("project", project_hash)
        return int(row[0])

    def _bulk_project(self, project_hash: str, branch: str, source: str, user: str) -> int:
        """The project id an import writes to, once its texts are known to be storable."""
        check_texts({"branch": branch, "source": source, "user": user})
        return self._project_id(project_hash)

    @contextmanager
    def _session(
        self, kind: type[_Bulk], db: Any, project_id: int, branch: str, source: str, user: str
    ) -> Iterator[_Bulk]:
        """An import's session of ``kind`` on the open transaction ``db``; the block must commit it."""
        session = kind(db, project_id, branch, source_id(db, self._marker, project_id, branch, source), user)
        yield session
        if not session.committed:
            raise StoreError("an import session ended without commit; nothing was written.")

    def server_tables(self) -> ServerTables | None:
        """None: a server keeps its uploads beside the store (PostgreSQL overrides this)."""
        return None

    # -- ontologies and projects -----------------------------------------------------------------

    def create_ontology(
        self, ontology_hash: str, title: str, structure: OntologyStructure, created_by: int | None = None
    ) -> None:
        check_texts({"title": title})
        check_ontology(structure)
        with self._tx() as db:
            self._run(
                db,
                "INSERT INTO ontologies (ontology_hash, title, structure, created_at, created_by_user_id, "
                "standalone) VALUES (?, ?, ?, ?, ?, TRUE)",
                (ontology_hash, title, dumps(structure.to_dict()), now_iso(), created_by),
            )

    def get_ontology(self, ontology_hash: str) -> OntologyRecord:
        found = self._all(*ontologies_query(self._marker, ontology_hash=ontology_hash))
        if not found:
            raise NotFoundError("ontology", ontology_hash)
        return ontology_from_row(found[0])

    def ontology_visible(self, ontology_hash: str, user_id: int) -> bool:
        return bool(self._all(*ontologies_query(self._marker, user_id, ontology_hash)))

    def list_ontologies(self, user_id: int | None = None) -> list[OntologyRecord]:
        return [ontology_from_row(r) for r in self._all(*ontologies_query(self._marker, user_id))]

    def create_project(
        self,
        project: ProjectRecord,
        structure: OntologyStructure | None,
        owner_id: int,
        *,
        unique_title_of: int | None = None,
    ) -> None:
        check_texts(
            {"title": project.title, "description": project.description, "created_by": project.created_by}
        )
        if structure is not None:
            check_ontology(structure)
        with self._tx() as db:
            self._refuse_taken_title(db, project.title, unique_title_of, 0)
            if structure is not None:
                self._run(
                    db,
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
            # PostgreSQL: FOR SHARE, so that an import changing this ontology waits, then sees this
            # project use it too
            row = self._run(
                db,
                f"SELECT id FROM ontologies WHERE ontology_hash = ?{self._dialect.for_share}",
                (project.ontology_hash,),
            ).fetchone()
            if row is None:
                raise NotFoundError("ontology", project.ontology_hash)
            extra = dumps(project.extra) if project.extra else None
            created = self._run(
                db,
                "INSERT INTO projects (project_hash, title, description, ontology_id, created_by, created_at, extra) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    project.project_hash,
                    project.title,
                    project.description,
                    row[0],
                    project.created_by,
                    project.created_at,
                    extra,
                ),
            ).fetchone()
            self._run(
                db,
                "INSERT INTO memberships (project_id, user_id, role) VALUES (?, ?, 'admin')",
                (created[0], owner_id),
            )

    def get_project(self, project_hash: str) -> ProjectRecord:
        row = self._one(self._q(PROJECT_SELECT + " WHERE p.project_hash = ?"), (project_hash,))
        if row is None:
            raise NotFoundError("project", project_hash)
        return project_from_row(row)

    def list_projects(self, user_id: int | None) -> list[ProjectRecord]:
        if user_id is None:
            rows = self._all(PROJECT_SELECT + " ORDER BY p.id")
        else:
            rows = self._all(
                self._q(
                    PROJECT_SELECT
                    + " JOIN memberships m ON m.project_id = p.id WHERE m.user_id = ? ORDER BY p.id"
                ),
                (user_id,),
            )
        return [project_from_row(r) for r in rows]

    # -- data units ------------------------------------------------------------------------------

    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None:
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            self._insert_units(db, project_id, units)

    def list_data_units(self, project_hash: str) -> list[DataUnit]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            self._q(f"SELECT {UNIT_COLUMNS} FROM data_units WHERE project_id = ? ORDER BY id"), (project_id,)
        )
        return [unit_from_row(r) for r in rows]

    def find_data_units(
        self, project_hash: str, query: UnitQuery, limit: int, offset: int
    ) -> tuple[list[DataUnit], int]:
        project_id = self._project_id(project_hash)
        dialect = self._dialect.browse
        with self._read() as db:  # the page and its count from one snapshot
            rows = db.execute(*browse.page_sql(query, project_id, dialect, limit, offset)).fetchall()
            counted = db.execute(*browse.count_sql(query, project_id, dialect)).fetchone()
        return [unit_from_row(r) for r in rows], int(counted[0]) if counted else 0

    def iter_data_units(self, project_hash: str) -> Iterator[DataUnitRecord]:
        project_id = self._project_id(project_hash)
        sql = self._q(f"SELECT {UNIT_RECORD_COLUMNS} FROM data_units WHERE project_id = ? ORDER BY id")
        for batch in self._batches(sql, (project_id,)):
            yield from map(DataUnitRecord._make, batch)

    def class_counts(self, project_hash: str, query: UnitQuery) -> dict[str, int]:
        project_id = self._project_id(project_hash)
        rows = self._all(*browse.class_counts_sql(query, project_id, self._dialect.browse))
        return {str(feature): int(n) for feature, n in rows}

    # -- labels ----------------------------------------------------------------------------------

    def list_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowInfo]:
        project_id = self._project_id(project_hash)
        select = LABEL_ROW_INFO_SELECT.format(mark=self._marker)
        args: tuple[Any, ...] = (branch, branch, project_id)
        if data_hashes is not None and len(data_hashes) <= FEW_UNITS:
            # a few units (a page of the viewer's grid): found by their hashes, not by listing
            # every row of the project and keeping theirs, which costs a large project's whole table each page
            marks = ", ".join([self._marker] * len(data_hashes)) or "NULL"
            select = select.replace(" ORDER BY d.id", f" AND d.data_hash IN ({marks}) ORDER BY d.id")
            args = (*args, *data_hashes)
        with self._cursor(select, args) as rows:
            return label_row_infos(rows, data_hashes)

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
            unit = self._run(
                db,
                "SELECT id FROM data_units WHERE data_hash = ? AND project_id = ?",
                (data_hash, project_id),
            ).fetchone()
            if unit is None:
                raise NotFoundError("data unit", data_hash)
            row_id, label_hash = self._label_row(db, int(unit[0]), branch)
            self._run(db, "DELETE FROM objects WHERE label_row_id = ?", (row_id,))
            self._run(db, "DELETE FROM classifications WHERE label_row_id = ?", (row_id,))
            sources: dict[str, int] = {}
            for name in dict.fromkeys(o.source for o in objects if o.source is not None):  # in order
                sources[name] = source_id(db, self._marker, project_id, branch, name)
            rows = [
                (*(row_id, o.frame, o.object_hash, o.feature_hash, o.geometry, o.confidence, bool(o.manual)),
                 *(o.created_by, o.created_at, o.answers, o.source_key, o.record),
                 None if o.source is None else sources[o.source], bool(o.edited))
                for o in objects
            ]  # fmt: skip
            if rows:
                self._many(
                    db,
                    self._q(f"INSERT INTO objects ({_OBJECT_COLUMNS}) VALUES ({', '.join('?' * 14)})"),
                    rows,
                )
            if classifications:
                self._many(
                    db,
                    self._q(
                        "INSERT INTO classifications (label_row_id, classification_hash, feature_hash, frames, "
                        "answer, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    [(row_id, *c[1:]) for c in classifications],
                )
            self._run(db, "UPDATE label_rows SET updated_at = ? WHERE id = ?", (now_iso(), row_id))
        return label_hash

    def iter_objects(self, project_hash: str, branch: str) -> Iterator[ObjectRecord]:
        project_id = self._project_id(project_hash)
        sql = self._q(f"{OBJECT_SELECT} WHERE d.project_id = ? AND l.branch = ? ORDER BY o.id")
        for batch in self._batches(sql, (project_id, branch)):
            yield from map(ObjectRecord._make, batch)

    def iter_evaluation_rows(self, project_hash: str, branch: str) -> Iterator[list[tuple[Any, ...]]]:
        """Batches of :data:`~labelport.store.evaluations.EVALUATION_SELECT` rows, streamed."""
        project_id = self._project_id(project_hash)
        yield from self._batches(self._q(EVALUATION_SELECT), (project_id, branch))

    def list_branches(self, project_hash: str) -> list[str]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            self._q(
                "SELECT DISTINCT l.branch FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
                "WHERE d.project_id = ? ORDER BY l.branch"
            ),
            (project_id,),
        )
        return [r[0] for r in rows]

    def imports(self, project_hash: str) -> list[dict[str, Any]]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            self._q(
                "SELECT i.id, s.name, s.branch, i.created_by, i.created_at, i.report FROM imports i "
                "LEFT JOIN sources s ON s.id = i.source_id WHERE i.project_id = ? ORDER BY i.id"
            ),
            (project_id,),
        )
        keys = ("id", "source", "branch", "created_by", "created_at")
        return [{**dict(zip(keys, r[:5], strict=True)), "report": loads(r[5])} for r in rows]


class SqlBulk:
    """What an import's transaction does the same on both stores; the store's subclass writes the
    rows (:meth:`_insert`) and makes label rows in bulk."""

    #: the database driver's parameter marker
    _marker = "?"

    def __init__(self, db: Any, project_id: int, branch: str, source_id: int, user: str) -> None:
        self._db = db
        self._project_id = project_id
        self._branch = branch
        self._source_id = source_id
        self._user = user
        self.committed = False
        self._guard = LabelRowGuard(self._label_rows_of_project)

    # -- what the store provides -----------------------------------------------------------------

    def _label_rows_of_project(self, ids: list[int]) -> list[int]:
        raise NotImplementedError

    def _insert(self, rows: PlainRows | BulkRows) -> None:
        raise NotImplementedError

    def _insert_units(self, units: Sequence[DataUnit]) -> None:
        raise NotImplementedError

    def _lock_ontology(self) -> None:
        """Lock the project's ontology before it changes (where the store locks rows)."""

    # -- shared ----------------------------------------------------------------------------------

    def _run(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql.replace("?", self._marker), args)

    def _keys(self, rows: Iterable[Sequence[Any]]) -> dict[int, tuple[str, int]]:
        """:meth:`existing_keys` from the rows of :data:`EXISTING_KEYS`."""
        keys = {r[0]: (r[1], r[2]) for r in rows}
        self._guard.allow(row_id for _, row_id in keys.values())
        return keys

    def existing_keys(self) -> dict[int, tuple[str, int]]:
        return self._keys(self._run(EXISTING_KEYS, (self._source_id,)))

    def source_has_objects(self, name: str) -> bool:
        return (
            self._run(
                "SELECT 1 FROM objects WHERE source_id = (SELECT id FROM sources WHERE project_id = ? "
                "AND branch = ? AND name = ?) LIMIT 1",
                (self._project_id, self._branch, name),
            ).fetchone()
            is not None
        )

    def write(self, rows: PlainRows | BulkRows) -> None:
        if not isinstance(rows, PlainRows | BulkRows):
            raise StoreError("an import writes rows as PlainRows or BulkRows.")
        if rows:
            self._guard.check(rows)
            self._insert(rows)

    def add_data_units(self, units: Sequence[DataUnit]) -> None:
        self._insert_units(units)

    def save_ontology(self, structure: OntologyStructure) -> None:
        check_ontology(structure)
        self._lock_ontology()
        save_project_ontology(self._db.execute, self._marker, self._project_id, dumps(structure.to_dict()))

    def set_project_extra(self, extra: dict[str, Any]) -> None:
        self._run("UPDATE projects SET extra = ? WHERE id = ?", (dumps(extra), self._project_id))

    def commit(self, report: bytes) -> None:
        self._run(
            "INSERT INTO imports (project_id, source_id, created_by, created_at, report) VALUES (?, ?, ?, ?, ?)",
            (self._project_id, self._source_id, self._user, now_iso(), report),
        )
        self.committed = True


#: the source keys an import's source has stored: (source key, object hash, label row id)
EXISTING_KEYS = "SELECT source_key, object_hash, label_row_id FROM objects WHERE source_id = ?"
