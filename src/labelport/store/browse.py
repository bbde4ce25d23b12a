"""The statements behind browsing a project's data units page by page, shared by both stores.

A :class:`~labelport.store.base.UnitQuery` becomes one ``WHERE`` over ``data_units d``: the unit's own
columns (title, data type) directly, the object filters (classes, confidence, an attribute answer) as
one ``EXISTS`` over the unit's label row on the query's branch. Pages are ``ORDER BY d.id LIMIT n
OFFSET k`` on the ``(project_id, id)`` index, so no page reads more units than it shows (plus the
skipped ones' index entries). The stores differ only in their placeholder and in how an attribute
answer is read from the ``answers`` JSON, which they pass in.

>>> from labelport.store.base import UnitQuery
>>> where, args = unit_where(UnitQuery(classes=("f1",), title="cat"), 7, SQLITE)
>>> where.count("?") == len(args), args[:2]
(True, [7, '%cat%'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from labelport.store.base import UnitQuery
from labelport.store.rows import UNIT_COLUMNS


class Dialect(NamedTuple):
    """What differs between the stores here: the placeholder, and how an attribute answer is matched.

    ``answer_sql`` holds ``{p}`` twice: first for ``answer_key(attribute_hash)``, then the value; it
    matches a text or radio answer equal to the value, or a checklist answer that contains it.
    """

    p: str
    answer_sql: str
    answer_key: Callable[[str], str]


SQLITE = Dialect(
    "?",
    "EXISTS (SELECT 1 FROM json_each(CAST(o.answers AS TEXT), {p}) v WHERE v.value = {p})",
    lambda attribute: '$."' + attribute.replace('"', "") + '"',
)
POSTGRES = Dialect(
    "%s",
    "COALESCE((convert_from(o.answers, 'UTF8')::jsonb -> {p}) @> to_jsonb({p}::text), FALSE)",
    lambda attribute: attribute,
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def object_where(query: UnitQuery, dialect: Dialect, *, with_classes: bool = True) -> tuple[str, list[Any]]:
    """The object predicates of a query over ``objects o`` (empty when it has none)."""
    p = dialect.p
    parts: list[str] = []
    args: list[Any] = []
    if with_classes and query.classes:
        parts.append(f"o.feature_hash IN ({', '.join([p] * len(query.classes))})")
        args += list(query.classes)
    if query.min_confidence is not None:
        parts.append(f"o.confidence >= {p}")
        args.append(query.min_confidence)
    if query.attribute is not None:
        attribute, value = query.attribute
        parts.append(dialect.answer_sql.format(p=p))
        args += [dialect.answer_key(attribute), value]
    return " AND ".join(parts), args


def unit_where(
    query: UnitQuery, project_id: int, dialect: Dialect, *, with_objects: bool = True
) -> tuple[str, list[Any]]:
    """The ``WHERE`` (without the word) selecting a project's data units that match the query."""
    p = dialect.p
    parts = [f"d.project_id = {p}"]
    args: list[Any] = [project_id]
    if query.title:
        parts.append(f"LOWER(d.title) LIKE {p} ESCAPE '\\'")
        args.append(f"%{_escape_like(query.title.lower())}%")
    if query.data_type:
        parts.append(f"d.data_type = {p}")
        args.append(query.data_type)
    objects, object_args = object_where(query, dialect)
    if objects and with_objects:
        parts.append(
            "EXISTS (SELECT 1 FROM label_rows l JOIN objects o ON o.label_row_id = l.id "
            f"WHERE l.data_unit_id = d.id AND l.branch = {p} AND {objects})"
        )
        args += [query.branch, *object_args]
    return " AND ".join(parts), args


def page_sql(
    query: UnitQuery, project_id: int, dialect: Dialect, limit: int, offset: int
) -> tuple[str, list[Any]]:
    """One page of matching units, in the order they were added."""
    p = dialect.p
    where, args = unit_where(query, project_id, dialect)
    columns = ", ".join(f"d.{c.strip()}" for c in UNIT_COLUMNS.split(","))
    return f"SELECT {columns} FROM data_units d WHERE {where} ORDER BY d.id LIMIT {p} OFFSET {p}", [
        *args,
        limit,
        offset,
    ]


def count_sql(query: UnitQuery, project_id: int, dialect: Dialect) -> tuple[str, list[Any]]:
    """How many units match."""
    where, args = unit_where(query, project_id, dialect)
    return f"SELECT COUNT(*) FROM data_units d WHERE {where}", args


def class_counts_sql(query: UnitQuery, project_id: int, dialect: Dialect) -> tuple[str, list[Any]]:
    """Objects per class (feature hash) on the query's branch, over the units matching every filter
    but the class filter (so the counts say what choosing another class would show)."""
    p = dialect.p
    where, args = unit_where(query, project_id, dialect, with_objects=False)
    objects, object_args = object_where(query, dialect, with_classes=False)
    extra = f" AND {objects}" if objects else ""
    sql = (
        "SELECT o.feature_hash, COUNT(*) FROM data_units d JOIN label_rows l ON l.data_unit_id = d.id "
        f"JOIN objects o ON o.label_row_id = l.id WHERE {where} AND l.branch = {p}{extra} "
        "GROUP BY o.feature_hash"
    )
    return sql, [*args, query.branch, *object_args]
