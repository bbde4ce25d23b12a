"""Records to database rows and back: the part of a store that does not depend on its database.

>>> from labelport.data import DataUnit
>>> unit = DataUnit.image("cat.jpg", width=4, height=3)
>>> unit_from_row(unit_to_row(7, unit)[1:]).title
'cat.jpg'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from labelport.data import DataType, DataUnit, Member
from labelport.labels import LabelRowInfo
from labelport.store._json import dumps, loads
from labelport.store.base import ProjectRecord

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
