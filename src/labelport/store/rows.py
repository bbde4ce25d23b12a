"""Records to database rows and back: the part of a store that does not depend on its database.

>>> from labelport.data import DataUnit
>>> unit = DataUnit.image("cat.jpg", width=4, height=3)
>>> unit_from_row(unit_to_row(7, unit)[1:]).title
'cat.jpg'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from labelport.data import DataType, DataUnit, Member
from labelport.hashing import new_uuid
from labelport.labels import now_iso
from labelport.ontology import OntologyStructure
from labelport.store._json import dumps, loads
from labelport.store.base import OntologyRecord, ProjectRecord

#: data_units columns, in the order of :func:`unit_to_row` (after the project id)
UNIT_COLUMNS = "data_hash, title, data_type, width, height, frames, fps, location, members, extra"

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

    >>> # save_project_ontology(connection.execute, "?", project_id, b'{"objects": []}')
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
