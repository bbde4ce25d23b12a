"""Records to database rows and back: the part of a store that does not depend on its database.

>>> from labelport.data import DataUnit
>>> unit = DataUnit.image("cat.jpg", width=4, height=3)
>>> unit_from_row(unit_to_row(7, unit)[1:]).title
'cat.jpg'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from labelport.data import DataType, DataUnit, Member
from labelport.errors import FieldError
from labelport.hashing import new_uuid
from labelport.labels import LabelRowInfo, now_iso
from labelport.ontology import Object, OntologyStructure
from labelport.store.base import ClassificationRecord, ObjectRecord, OntologyRecord, ProjectRecord
from labelport.stored.codec import dumps, loads

#: data_units columns, in the order of :func:`unit_to_row` (after the project id)
UNIT_COLUMNS = "data_hash, title, data_type, width, height, frames, fps, location, members, extra"

#: data_units columns of :class:`~labelport.store.base.DataUnitRecord`, in order
UNIT_RECORD_COLUMNS = "data_hash, title, data_type, width, height, frames, members, extra"

#: objects as :class:`~labelport.store.base.ObjectRecord` fields, with their data unit and source;
#: the caller adds ``WHERE`` and ``ORDER BY`` (both stores: there are no placeholders here)
OBJECT_SELECT = (
    "SELECT d.data_hash, o.frame, o.object_hash, o.feature_hash, o.geometry, o.confidence, o.manual, "
    "o.created_by, o.created_at, o.answers, s.name, o.source_key, o.record, o.edited "
    "FROM objects o JOIN label_rows l ON l.id = o.label_row_id JOIN data_units d ON d.id = l.data_unit_id "
    "LEFT JOIN sources s ON s.id = o.source_id"
)
#: classifications as :class:`~labelport.store.base.ClassificationRecord` fields, likewise
CLASSIFICATION_SELECT = (
    "SELECT d.data_hash, c.classification_hash, c.feature_hash, c.frames, c.answer, c.created_by, "
    "c.created_at FROM classifications c JOIN label_rows l ON l.id = c.label_row_id "
    "JOIN data_units d ON d.id = l.data_unit_id"
)

#: :class:`~labelport.store.base.LabelRowInfo` fields of every data unit of a project, in order; the
#: caller binds the branch twice, then the project id. Object instances are object frames where the
#: unit has one frame (an index-only count); otherwise distinct object hashes.
LABEL_ROW_INFO_SELECT = (
    "SELECT d.data_hash, d.title, d.data_type, d.width, d.height, d.frames, CAST({mark} AS TEXT), "
    "coalesce(l.label_hash, ''), CASE WHEN l.id IS NULL THEN 0 "
    "WHEN d.frames = 1 THEN (SELECT count(*) FROM objects o WHERE o.label_row_id = l.id) "
    "ELSE (SELECT count(DISTINCT o.object_hash) FROM objects o WHERE o.label_row_id = l.id) END "
    "FROM data_units d LEFT JOIN label_rows l ON l.data_unit_id = d.id AND l.branch = {mark} "
    "WHERE d.project_id = {mark} ORDER BY d.id"
)

#: projects with their ontology hash, in the order of :func:`project_from_row`
PROJECT_SELECT = (
    "SELECT p.project_hash, p.title, p.description, o.ontology_hash, p.created_by, p.created_at, p.extra "
    "FROM projects p JOIN ontologies o ON o.id = p.ontology_id"
)

#: the ontologies a user may read: those they created and those of the projects they are members of
#: (``{p}`` is the store's placeholder; both are the user's id)
_ONTOLOGY_READABLE = (
    "o.created_by_user_id = {p} OR o.id IN (SELECT p.ontology_id FROM projects p "
    "JOIN memberships m ON m.project_id = p.id WHERE m.user_id = {p})"
)
#: a project's ontology: its id, and whether the project must change a copy of it instead (it was
#: created on its own, or another project uses it too); both placeholders are the project's id
_PROJECT_ONTOLOGY = (
    "SELECT o.id, o.title, o.standalone OR EXISTS (SELECT 1 FROM projects q "
    "WHERE q.ontology_id = o.id AND q.id <> {p}) FROM projects p JOIN ontologies o ON o.id = p.ontology_id "
    "WHERE p.id = {p}"
)

#: PostgreSQL's INTEGER and BIGINT: the stores take no number beyond them (SQLite's INTEGER is 64 bits)
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def check_texts(fields: dict[str, str | None]) -> None:
    """:class:`FieldError` for the first text holding a NUL character. PostgreSQL's text cannot
    store one; SQLite could, but refuses too, so that the two stores agree.

    >>> check_texts({"title": "cats", "description": None})
    >>> check_texts({"title": "ca\\x00ts"})
    Traceback (most recent call last):
    labelport.errors.FieldError: title: must not contain a NUL character (\\x00).
    """
    for field, value in fields.items():
        if value is not None and "\x00" in value:
            raise FieldError(field, "must not contain a NUL character (\\x00)")
        if value is not None and not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise FieldError(field, "is not Unicode text (it holds a lone surrogate)") from None


def check_ontology(structure: OntologyStructure) -> None:
    """:class:`FieldError` for a name in an ontology (of an object, attribute, option or
    classification) that :func:`check_texts` refuses. The ontology is stored as JSON, which
    either store would take; refused all the same, as a project title or a branch would be, so that
    both stores and every face agree on what a name may hold.

    >>> from labelport.ontology import Object, Shape
    >>> check_ontology(OntologyStructure(objects=[Object(title="c\\x00t", shape=Shape.POLYGON)]))
    Traceback (most recent call last):
    labelport.errors.FieldError: ontology.objects[0].name: must not contain a NUL character (\\x00).
    """
    for i, obj in enumerate(structure.objects):
        check_texts({f"ontology.objects[{i}].name": obj.title})
    for node in structure.walk():
        if not isinstance(node, Object):
            check_texts({f"ontology: the {type(node).__name__.lower()} {node.title!r}": node.title})


def check_label_row(
    branch: str,
    data_hash: str,
    objects: Sequence[ObjectRecord],
    classifications: Sequence[ClassificationRecord],
) -> None:
    """What both stores refuse in a label row to save: NUL characters in its texts, a frame or a
    source key beyond the database's integers. Fields are named as in the request body.

    >>> check_label_row("main", "d", [], [])
    """
    check_texts({"branch": branch, "data_hash": data_hash})
    for i, o in enumerate(objects):
        texts = {"object_hash": o.object_hash, "feature_hash": o.feature_hash, "created_by": o.created_by}
        check_texts(
            {
                f"objects[{i}].{k}": v
                for k, v in {**texts, "created_at": o.created_at, "source": o.source}.items()
            }
        )
        if not 0 <= o.frame <= INT32_MAX:
            raise FieldError(f"objects[{i}].frame", f"a frame is 0 to {INT32_MAX:,}, not {o.frame}")
        if o.source_key is not None and not -INT64_MAX - 1 <= o.source_key <= INT64_MAX:
            raise FieldError(f"objects[{i}].source_key", f"{o.source_key} is beyond 64 bits")
    for i, c in enumerate(classifications):
        texts = {"classification_hash": c.classification_hash, "feature_hash": c.feature_hash}
        check_texts(
            {
                f"classifications[{i}].{k}": v
                for k, v in {**texts, "created_by": c.created_by, "created_at": c.created_at}.items()
            }
        )


def ontologies_query(
    p: str, user_id: int | None = None, ontology_hash: str | None = None
) -> tuple[str, tuple[Any, ...]]:
    """The statement and arguments that select ontologies (hash, title, structure JSON) in creation
    order: all, or one hash, and of those only the ones ``user_id`` may read; ``p`` is the store's
    placeholder.

    >>> ontologies_query("?", 7)[1]
    (7, 7)
    """
    wheres: list[str] = []
    args: tuple[Any, ...] = ()
    if ontology_hash is not None:
        wheres, args = [f"o.ontology_hash = {p}"], (ontology_hash,)
    if user_id is not None:
        wheres.append(f"({_ONTOLOGY_READABLE.format(p=p)})")
        args = (*args, user_id, user_id)
    where = f" WHERE {' AND '.join(wheres)}" if wheres else ""
    return f"SELECT o.ontology_hash, o.title, o.structure FROM ontologies o{where} ORDER BY o.id", args


def ontology_from_row(row: Sequence[Any]) -> OntologyRecord:
    return OntologyRecord(row[0], row[1], OntologyStructure.from_dict(loads(row[2])))


def save_project_ontology(
    execute: Callable[[str, Sequence[Any]], Any], p: str, project_id: int, structure: bytes
) -> None:
    """Write a project's changed ontology (the JSON ``structure``): in place when it is the project's
    alone, else as a copy that the project then uses (copy on write), so that no other project and
    no standalone ontology changes. ``execute`` is the store connection's, ``p`` its placeholder.

    Called as ``save_project_ontology(connection.execute, "?", project_id, b'{"objects": []}')``.
    """
    ontology_id, title, copy = execute(_PROJECT_ONTOLOGY.format(p=p), (project_id, project_id)).fetchone()
    if not copy:
        execute(f"UPDATE ontologies SET structure = {p} WHERE id = {p}", (structure, ontology_id))
        return
    created = execute(
        f"INSERT INTO ontologies (ontology_hash, title, structure, created_at) VALUES ({p}, {p}, {p}, {p}) "
        "RETURNING id",
        (new_uuid(), title, structure, now_iso()),
    ).fetchone()
    execute(f"UPDATE projects SET ontology_id = {p} WHERE id = {p}", (created[0], project_id))


def label_row_infos(rows: Iterable[Sequence[Any]], data_hashes: Sequence[str] | None) -> list[LabelRowInfo]:
    """:data:`LABEL_ROW_INFO_SELECT`'s rows (a cursor: each row is let go once converted) as records,
    only those of ``data_hashes`` when given."""
    if data_hashes is not None:
        wanted = set(data_hashes)
        rows = (r for r in rows if r[0] in wanted)
    return list(map(LabelRowInfo._make, rows))


def project_from_row(row: Sequence[Any]) -> ProjectRecord:
    project_hash, title, description, ontology_hash, created_by, created_at, extra = row
    return ProjectRecord(
        project_hash, title, description, ontology_hash, created_by, created_at, loads(extra) if extra else {}
    )


def unit_from_row(row: Sequence[Any]) -> DataUnit:
    data_hash, title, data_type, width, height, frames, fps, location, members, extra = row
    return DataUnit(
        title=title,
        data_type=DataType(data_type),
        width=width,
        height=height,
        frames=frames,
        fps=fps,
        location=location,
        members=[Member(**m) for m in loads(members)] if members else [],
        data_hash=data_hash,
        extra=loads(extra) if extra else {},
    )


def unit_to_row(project_id: int, unit: DataUnit) -> tuple[Any, ...]:
    """A data unit as its row; :class:`FieldError` for a NUL character in its texts, which neither
    store takes (see :func:`check_texts`)."""
    if "\x00" in unit.title or "\x00" in unit.location or "\x00" in unit.data_hash:
        check_texts(
            {"data unit title": unit.title, "data unit location": unit.location, "data_hash": unit.data_hash}
        )
    members = dumps([m.__dict__ for m in unit.members]) if unit.members else None
    return (
        project_id,
        unit.data_hash,
        unit.title,
        unit.data_type.value,
        unit.width,
        unit.height,
        unit.frames,
        unit.fps,
        unit.location,
        members,
        dumps(unit.extra) if unit.extra else None,
    )
