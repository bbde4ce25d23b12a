"""The one seam between labelport and a database: the :class:`LabelStore` protocol.

SQLite (:mod:`labelport.store.sqlite`) and PostgreSQL (:mod:`labelport.store.postgres`) each
implement it in one module. Records here are plain rows: the client turns them into domain
objects. Every method that writes is one transaction; :meth:`LabelStore.bulk` opens one
transaction for a whole import.

>>> from labelport.store.sqlite import SqliteStore
>>> store = SqliteStore(":memory:")
>>> store.schema_version()
1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from labelport.data import DataUnit
from labelport.errors import StoreError
from labelport.labels import LabelRowInfo as LabelRowInfo  # stores return it; defined with LabelRow
from labelport.ontology import OntologyStructure

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
class LabelRowRecord:
    label_hash: str
    data_hash: str
    branch: str
    objects: list[ObjectRecord]
    classifications: list[ClassificationRecord]


#: A bulk object row of plain ground truth: (label_row_id, frame, object_hash, feature_hash,
#: source_key, record); confidence 1, manual, no answers. The session adds its source, user and time.
PlainRow = tuple[int, int, str, str, int, Any]
#: A bulk object row: a PlainRow's fields, then confidence, manual (0/1) and answers (JSON or None).
BulkRow = tuple[int, int, str, str, int, Any, float, int, bytes | None]


class LabelRowGuard:
    """The check a foreign key from objects to label rows would make, for an import's writes.

    Both stores write imported objects without per-row foreign-key checks (on SQLite they were a
    third of the insert time at COCO-train scale); instead each label row id an import writes to
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

    def label_row_ids(self, data_hashes: Sequence[str]) -> dict[str, int]:
        """Label row ids on the session's branch for these data units, creating rows that are missing."""
        ...

    def clear(self, label_row_ids: Sequence[int]) -> int:
        """Delete every object and classification of these label rows; returns how many objects went."""
        ...

    def write(self, rows: Sequence[BulkRow] | Sequence[PlainRow]) -> None:
        """Insert rows (all of one kind per call); a row whose source key is stored replaces it in place.

        ``record`` may be any bytes-like object (the importer passes slices of the file it read).
        """
        ...

    def add_data_units(self, units: Sequence[DataUnit]) -> None: ...

    def set_data_unit_extra(self, extras: dict[str, dict[str, Any]]) -> None: ...

    def save_ontology(self, structure: OntologyStructure) -> None: ...

    def set_project_extra(self, extra: dict[str, Any]) -> None: ...

    def commit(self, report: bytes) -> None: ...


class LabelStore(Protocol):
    """What labelport asks of a database."""

    url: str

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

    # ontologies and projects
    def create_ontology(self, ontology_hash: str, title: str, structure: OntologyStructure) -> None: ...

    def get_ontology(self, ontology_hash: str) -> OntologyRecord: ...

    def list_ontologies(self) -> list[OntologyRecord]: ...

    def create_project(
        self, project: ProjectRecord, structure: OntologyStructure | None, owner_id: int
    ) -> None:
        """Create a project; with ``structure`` its ontology is created too under ``project.ontology_hash``."""
        ...

    def get_project(self, project_hash: str) -> ProjectRecord: ...

    def list_projects(self, user_id: int | None) -> list[ProjectRecord]:
        """All projects (``user_id`` None) or those the user belongs to."""
        ...

    # data units
    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None: ...

    def list_data_units(self, project_hash: str) -> list[DataUnit]: ...

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

    def bulk(
        self, project_hash: str, branch: str, source: str, user: str
    ) -> AbstractContextManager[BulkSession]:
        """Open one transaction for an import from ``source`` onto ``branch``."""
        ...
