"""The one seam between labelport and a database: the :class:`LabelStore` protocol.

SQLite (:mod:`labelport.store.sqlite`) and PostgreSQL (:mod:`labelport.store.postgres`) each
implement it in one module. Records here are plain rows: the client turns them into domain
objects. Every method that writes is one transaction; :meth:`LabelStore.bulk` opens one
transaction for a whole import.

>>> from labelport.store.sqlite import SqliteStore
>>> store = SqliteStore(":memory:")
>>> store.schema_version() >= 1
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from labelport.data import DataUnit
from labelport.errors import AmbiguousTitle, NotFoundError, StoreError
from labelport.labels import LabelRowInfo as LabelRowInfo  # stores return it; defined with LabelRow
from labelport.ontology import OntologyStructure

if TYPE_CHECKING:
    from labelport.store.evaluations import EvaluationKey, EvaluationRecord

ROLES = ("admin", "annotator", "viewer")


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    fingerprint: str
    is_admin: bool


@dataclass(frozen=True)
class OntologyRecord:
    ontology_hash: str
    title: str
    structure: OntologyStructure


#: ``unique_title_of`` for a store with one owner (the embedded store): a title differs from every
#: other project's (user ids start at 1 in both databases)
EVERY_PROJECT = 0


@dataclass(frozen=True)
class ProjectRecord:
    project_hash: str
    title: str
    description: str
    ontology_hash: str
    created_by: str
    created_at: str
    #: what source formats said of the whole project (COCO ``info`` and ``licenses``), for exports
    extra: dict[str, Any] = field(default_factory=dict)


def project_named(projects: Sequence[ProjectRecord], title_or_hash: str) -> str:
    """The hash of the one project of ``projects`` whose hash or title this is: a hash first, then a
    title; a title that several have raises :class:`AmbiguousTitle` naming their hashes, one that none
    has :class:`NotFoundError`."""
    if any(p.project_hash == title_or_hash for p in projects):
        return title_or_hash
    matches = [p.project_hash for p in projects if p.title == title_or_hash]
    if len(matches) > 1:
        raise AmbiguousTitle(title_or_hash, matches)
    if not matches:
        raise NotFoundError("project", title_or_hash, key="hash or title")
    return matches[0]


class ObjectRecord(NamedTuple):
    """One object instance on one frame, as stored.

    ``geometry`` is the coordinates' JSON, or None when they are the ones in ``record`` (an
    imported annotation not changed since). ``answers`` is JSON of attribute answers.
    """

    data_hash: str
    frame: int
    object_hash: str
    feature_hash: str
    geometry: bytes | None
    confidence: float
    manual: bool
    created_by: str | None
    created_at: str | None
    answers: bytes | None
    source: str | None
    source_key: int | None
    record: bytes | None
    edited: bool


class DataUnitRecord(NamedTuple):
    """A data unit as stored, for readers that go through a whole project (an export): its members
    and extra are their JSON bytes (or None), to be decoded only where needed."""

    data_hash: str
    title: str
    data_type: str
    width: int
    height: int
    frames: int
    members: bytes | None
    extra: bytes | None


class ClassificationRecord(NamedTuple):
    data_hash: str
    classification_hash: str
    feature_hash: str
    frames: bytes
    answer: bytes | None
    created_by: str | None
    created_at: str | None


@dataclass(frozen=True)
class MemberRecord:
    """A project member: the user's name and key fingerprint, and their role."""

    name: str
    fingerprint: str
    role: str


@dataclass(frozen=True)
class BranchRecord:
    """A branch of a project: its label rows, how many hold objects, its objects and its last change."""

    name: str
    label_rows: int
    labelled_rows: int
    #: object instances (a video's object followed over 100 frames is one)
    objects: int
    #: object frames: one per object on each frame it is on
    annotations: int
    updated_at: str | None


@dataclass(frozen=True)
class Removed:
    """What a deletion removed (objects count instances, as label rows list them)."""

    projects: int = 0
    data_units: int = 0
    label_rows: int = 0
    objects: int = 0
    classifications: int = 0


@dataclass(frozen=True)
class Copied:
    """What copying a branch did: label rows written to, objects and classifications copied, and the
    target's objects the copies replaced."""

    source: str
    target: str
    label_rows: int
    objects: int
    classifications: int
    replaced: int


@dataclass(frozen=True)
class LabelRowRecord:
    label_hash: str
    data_hash: str
    branch: str
    objects: list[ObjectRecord]
    classifications: list[ClassificationRecord]


@dataclass(frozen=True)
class UnitQuery:
    """Which data units a browser asks for: every field narrows, the empty query takes them all.

    ``classes`` are object feature hashes (a unit matches with an object of any of them);
    ``min_confidence`` and ``attribute`` (an attribute's feature hash and a value: text, or an option's
    feature hash) narrow the objects that count; all object filters look at ``branch``. ``title`` is a
    case-insensitive part of the title.
    """

    branch: str = "main"
    classes: tuple[str, ...] = ()
    min_confidence: float | None = None
    attribute: tuple[str, str] | None = None
    title: str = ""
    data_type: str | None = None

    @property
    def filters_objects(self) -> bool:
        return bool(self.classes) or self.min_confidence is not None or self.attribute is not None


#: A bulk object row of plain ground truth: (label_row_id, frame, object_hash, feature_hash,
#: source_key, record); confidence 1, manual, no answers. The session adds its source, user and time.
PlainRow = tuple[int, int, str, str, int, Any]
#: A bulk object row: a PlainRow's fields, then confidence, manual (0/1) and answers (JSON or None).
BulkRow = tuple[int, int, str, str, int, Any, float, int, bytes | None]


class PlainRows(list[PlainRow]):
    """A batch of :data:`PlainRow` for :meth:`BulkSession.write` (a list: no cost per row).

    >>> PlainRows([(1, 0, "h", "f", 7, b"{}")])[0][4]
    7
    """

    __slots__ = ()


class BulkRows(list[BulkRow]):
    """A batch of full rows (:data:`BulkRow`) for :meth:`BulkSession.write`.

    >>> len(BulkRows([(1, 0, "h", "f", 7, b"{}", 0.5, 0, None)]))
    1
    """

    __slots__ = ()


class LabelRowGuard:
    """The check a foreign key from objects to label rows would make, for an import's writes.

    Both stores write imported objects without per-row foreign-key checks (on SQLite they were a large
    part of the insert time); instead each label row id an import writes to
    is checked once. Ids the session handed out itself (:meth:`allow`) pass; others are looked up
    with ``lookup``, which returns those of the given ids that are label rows of the project.

    >>> guard = LabelRowGuard(lambda ids: [i for i in ids if i < 10])
    >>> guard.check([(3, 0, "h", "f", 1, b"{}")])
    >>> guard.check([(12, 0, "h", "f", 1, b"{}")])
    Traceback (most recent call last):
    labelport.errors.StoreError: an import wrote to label rows that are not in its project: [12].
    """

    def __init__(self, lookup: Callable[[list[int]], Iterable[int]]) -> None:
        self._lookup = lookup
        self._known: set[int] = set()

    def allow(self, row_ids: Iterable[int]) -> None:
        self._known.update(row_ids)

    def check(self, rows: Sequence[BulkRow] | Sequence[PlainRow]) -> None:
        unknown = {r[0] for r in rows}.difference(self._known)
        if not unknown:
            return
        self._known.update(self._lookup(sorted(unknown)))
        missing = sorted(unknown.difference(self._known))
        if missing:
            raise StoreError(f"an import wrote to label rows that are not in its project: {missing[:5]}.")


class BulkSession(Protocol):
    """An import's open transaction: everything written lands at :meth:`commit`, or nothing does."""

    def existing_keys(self) -> dict[int, tuple[str, int]]:
        """Source keys already stored for this source: key -> (object_hash, label_row_id)."""
        ...

    def source_has_objects(self, name: str) -> bool:
        """Whether the import source ``name`` on this branch still holds objects."""
        ...

    def label_row_ids(self, data_hashes: Sequence[str]) -> dict[str, int]:
        """Label row ids on the session's branch for these data units, creating rows that are missing."""
        ...

    def clear(self, label_row_ids: Sequence[int]) -> int:
        """Delete every object and classification of these label rows; returns how many objects went."""
        ...

    def write(self, rows: PlainRows | BulkRows) -> None:
        """Insert a batch of rows; a row whose source key is stored replaces it in place.

        ``record`` may be any bytes-like object (the importer passes slices of the file it read).
        """
        ...

    def add_data_units(self, units: Sequence[DataUnit]) -> None: ...

    def set_data_unit_extra(self, extras: dict[str, dict[str, Any]]) -> None: ...

    def save_ontology(self, structure: OntologyStructure) -> None:
        """Store the project's changed ontology: in place when only this project uses it, else as a
        copy the project uses from now on (see :func:`labelport.store.rows.save_project_ontology`)."""
        ...

    def set_project_extra(self, extra: dict[str, Any]) -> None: ...

    def commit(self, report: bytes) -> None: ...


class ServerTables(Protocol):
    """A store's database opened to a face's own tables (the server's uploads on PostgreSQL).

    Statements are written with ``?`` placeholders; each call is one transaction.
    """

    def sql_write(self, *statements: tuple[str, Sequence[Any]]) -> list[int]:
        """Run the statements in one transaction; returns each one's row count."""
        ...

    def sql_one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row a query returns, or None."""
        ...

    def sql_stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """A query's rows one at a time (large values are not all held at once)."""
        ...


class LabelStore(Protocol):
    """What labelport asks of a database."""

    url: str

    @property
    def thread_safe(self) -> bool:
        """Whether calls may come from many threads at once (else the server makes them one at a time)."""
        ...

    @property
    def path(self) -> str | None:
        """The file the store is kept in (``":memory:"`` for none), or None for a database server."""
        ...

    def server_tables(self) -> ServerTables | None:
        """The database for what every server process must share (uploads), when the store's
        database is one they all reach (PostgreSQL); None when the server keeps it beside the store."""
        ...

    def close(self) -> None: ...

    def schema_version(self) -> int: ...

    # users and roles
    def upsert_user(
        self, name: str, fingerprint: str, public_key: str, *, is_admin: bool = False
    ) -> UserRecord: ...

    def user_by_fingerprint(self, fingerprint: str) -> UserRecord | None: ...

    def public_key(self, fingerprint: str) -> str | None: ...

    def set_role(self, project_hash: str, user_id: int, role: str) -> None: ...

    def role(self, project_hash: str, user_id: int) -> str | None: ...

    def use_nonce(self, nonce: str, now: float, keep_seconds: float) -> bool:
        """Record a request nonce; False when it was seen before (a replay)."""
        ...

    # browser sessions (the viewer's sign-in); only a token's SHA-256 is stored
    def create_session(self, token_sha256: str, user_id: int, now: float, expires_at: float) -> None:
        """Store a new session (and delete the expired ones)."""
        ...

    def session_user(self, token_sha256: str, now: float) -> UserRecord | None:
        """The user of a session that exists and has not expired (a read: it never waits for writers)."""
        ...

    def revoke_sessions(self, *, token_sha256: str | None = None, user_id: int | None = None) -> int:
        """Delete one session, or every session of a user; returns how many went."""
        ...

    # ontologies and projects
    def create_ontology(
        self, ontology_hash: str, title: str, structure: OntologyStructure, created_by: int | None = None
    ) -> None:
        """Create a standalone ontology (no project's import ever changes it in place)."""
        ...

    def get_ontology(self, ontology_hash: str) -> OntologyRecord: ...

    def ontology_visible(self, ontology_hash: str, user_id: int) -> bool:
        """Whether the user created the ontology or is a member of a project that uses it."""
        ...

    def list_ontologies(self, user_id: int | None = None) -> list[OntologyRecord]:
        """All ontologies (``user_id`` None) or those the user may read (see :meth:`ontology_visible`)."""
        ...

    def create_project(
        self,
        project: ProjectRecord,
        structure: OntologyStructure | None,
        owner_id: int,
        *,
        unique_title_of: int | None = None,
    ) -> None:
        """Create a project; with ``structure`` its ontology is created too under ``project.ontology_hash``.

        With ``unique_title_of`` (a user's id, or :data:`EVERY_PROJECT`), a title already used by a
        project that user administers (or by any project) raises :class:`TitleTaken`, in the
        transaction that would create it."""
        ...

    def get_project(self, project_hash: str) -> ProjectRecord: ...

    def list_projects(self, user_id: int | None) -> list[ProjectRecord]:
        """All projects (``user_id`` None) or those the user belongs to."""
        ...

    def project_lock(self, project_hash: str) -> AbstractContextManager[None]:
        """Hold the project's write lock until the block ends: imports and data-unit additions into
        one project run one at a time, across threads, processes and (PostgreSQL) machines, so that
        an import plans on the data units it then writes next to (no two create one file's unit)."""
        ...

    # data units
    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None: ...

    def list_data_units(self, project_hash: str) -> list[DataUnit]: ...

    def get_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> list[DataUnit]:
        """These data units of the project, in the order given; hashes not in it are left out."""
        ...

    def find_data_units(
        self, project_hash: str, query: UnitQuery, limit: int, offset: int
    ) -> tuple[list[DataUnit], int]:
        """One page of the units matching ``query`` (in the order they were added) and how many match."""
        ...

    def class_counts(self, project_hash: str, query: UnitQuery) -> dict[str, int]:
        """Objects per feature hash over the units matching ``query`` without its class filter."""

    def iter_data_units(self, project_hash: str) -> Iterator[DataUnitRecord]:
        """Every data unit of a project as stored, in order, read a chunk at a time."""
        ...

    # labels
    def list_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowInfo]:
        """One light row per data unit (of some, given ``data_hashes``), in the units' order."""
        ...

    def load_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowRecord]: ...

    def save_label_row(
        self,
        project_hash: str,
        branch: str,
        data_hash: str,
        objects: Sequence[ObjectRecord],
        classifications: Sequence[ClassificationRecord],
    ) -> str:
        """Replace one label row's objects and classifications; returns its label hash."""
        ...

    def iter_objects(self, project_hash: str, branch: str) -> Iterator[ObjectRecord]:
        """Every object frame of a branch, in the order they were first stored."""
        ...

    def list_branches(self, project_hash: str) -> list[str]: ...

    def imports(self, project_hash: str) -> list[dict[str, Any]]: ...

    # everyday operations (labelport.store.manage implements them once for both stores)
    def list_users(self) -> list[UserRecord]: ...

    def project_media_roots(self, project_hash: str) -> list[str]: ...

    def set_project_media_roots(self, project_hash: str, roots: Sequence[str]) -> None: ...

    def list_members(self, project_hash: str) -> list[MemberRecord]: ...

    def remove_member(self, project_hash: str, user_id: int) -> bool:
        """Remove a membership; False when the user was not a member."""
        ...

    def update_project(
        self,
        project_hash: str,
        *,
        title: str | None = None,
        description: str | None = None,
        unique_title_of: int | None = None,
    ) -> ProjectRecord:
        """Rename a project or change its description; ``unique_title_of`` as :meth:`create_project`."""
        ...

    def delete_project(self, project_hash: str) -> Removed:
        """Delete a project with its data units, label rows, objects, imports and memberships (its
        ontology stays: other projects may use it)."""
        ...

    def delete_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> Removed:
        """Delete data units with their label rows on every branch; all of them or, when one is not
        in the project, none."""
        ...

    def units_titled(self, project_hash: str, titles: Sequence[str]) -> list[tuple[str, str]]:
        """(title, data hash) of the project's data units with any of these titles."""
        ...

    def delete_branch(self, project_hash: str, branch: str) -> Removed: ...

    def delete_labels(self, project_hash: str, branch: str, data_hash: str) -> Removed:
        """Delete one label row's objects and classifications (the row stays, empty)."""
        ...

    def branch_summaries(self, project_hash: str) -> list[BranchRecord]: ...

    def count_objects(self, project_hash: str, branch: str) -> int:
        """Object frames on a branch: what :meth:`iter_objects` yields."""
        ...

    def copy_branch(self, project_hash: str, source: str, target: str, *, replace: bool = False) -> Copied:
        """Copy a branch's objects and classifications onto another branch, in one transaction.

        A copy replaces the target's object with the same object hash, or from the same source
        annotation, so copying twice gives what copying once gave; ``replace`` first clears the
        target's label rows of every data unit the source labels.
        """
        ...

    # evaluations (labelport.store.evaluations: the same SQL in both stores)
    def branch_state(self, project_hash: str, branch: str) -> str | None:
        """A text that changes whenever the branch's objects, the project's units or its ontology do;
        None when there is no such branch."""
        ...

    def iter_evaluation_rows(self, project_hash: str, branch: str) -> Iterator[list[tuple[Any, ...]]]:
        """Batches of (data unit row id, frame, object hash, feature hash, confidence, geometry, record,
        edited, id), one per object of the branch, in no particular order."""
        ...

    def evaluation_units(self, project_hash: str) -> list[tuple[Any, ...]]:
        """(row id, data hash, width, height, frames, members JSON, extra JSON) of every data unit, in order."""
        ...

    def find_evaluation(self, project_hash: str, key: EvaluationKey) -> EvaluationRecord | None: ...

    def save_evaluation(
        self,
        project_hash: str,
        key: EvaluationKey,
        states: tuple[str, str],
        user: str,
        summary: bytes,
        matches: bytes | memoryview,
    ) -> int: ...

    def evaluation_matches(self, project_hash: str, evaluation_id: int) -> bytes | None: ...

    def bulk(
        self, project_hash: str, branch: str, source: str, user: str
    ) -> AbstractContextManager[BulkSession]:
        """Open one transaction for an import from ``source`` onto ``branch``."""
        ...
