"""The everyday operations, written once for both stores: deletions, renames, members, users, branches.

:class:`ManageMixin` holds statements that SQLite and PostgreSQL both run as written, apart from the
parameter marker: they are written with ``?`` and :meth:`ManageMixin._q` gives the store's own. Each
operation that writes is one transaction of the store (``_tx``), and reports what it changed.

>>> from labelport.store.sqlite import SqliteStore
>>> store = SqliteStore(":memory:")
>>> store.list_users()
[]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from labelport.errors import LabelportError, NotFoundError, TitleTaken
from labelport.hashing import new_uuids
from labelport.labels import now_iso
from labelport.store.base import (
    EVERY_PROJECT,
    BranchRecord,
    Copied,
    MemberRecord,
    ProjectRecord,
    Removed,
    UserRecord,
)
from labelport.store.rows import check_texts

#: label rows of a project (one parameter: the project id); callers add conditions
_ROWS = "SELECT l.id FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id WHERE d.project_id = ?"


class ManageMixin:
    """Everyday operations over the store's own ``_tx``, ``_one``, ``_all`` and ``_project_id``."""

    #: the database driver's parameter marker
    _marker = "?"
    #: ends a read that locks its rows until the transaction ends (PostgreSQL; SQLite's write
    #: transaction holds the whole file)
    _for_update = ""

    # -- what the store provides -----------------------------------------------------------------

    def _tx(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _project_id(self, project_hash: str) -> int:
        raise NotImplementedError

    def get_project(self, project_hash: str) -> ProjectRecord:
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql if self._marker == "?" else sql.replace("?", self._marker)

    def _run(self, db: Any, sql: str, args: Sequence[Any] = ()) -> Any:
        return db.execute(self._q(sql), tuple(args))

    def _count(self, db: Any, sql: str, args: Sequence[Any]) -> int:
        return int(self._run(db, sql, args).fetchone()[0])

    def _remove_rows(self, db: Any, rows: str, args: Sequence[Any], *, keep_rows: bool = False) -> Removed:
        """Delete the objects and classifications of the label rows ``rows`` selects (and the rows)."""
        objects = self._count(
            db,
            "SELECT COUNT(*) FROM (SELECT DISTINCT label_row_id, object_hash FROM objects "
            f"WHERE label_row_id IN ({rows})) t",
            args,
        )
        self._run(db, f"DELETE FROM objects WHERE label_row_id IN ({rows})", args)
        classifications = self._run(
            db, f"DELETE FROM classifications WHERE label_row_id IN ({rows})", args
        ).rowcount
        label_rows = 0
        if keep_rows:
            self._run(db, f"UPDATE label_rows SET updated_at = ? WHERE id IN ({rows})", (now_iso(), *args))
        else:
            label_rows = self._run(db, f"DELETE FROM label_rows WHERE id IN ({rows})", args).rowcount
        return Removed(label_rows=label_rows, objects=objects, classifications=max(classifications, 0))

    # -- users and members -----------------------------------------------------------------------

    def list_users(self) -> list[UserRecord]:
        rows = self._all(self._q("SELECT id, name, fingerprint, is_admin FROM users ORDER BY id"))
        return [UserRecord(int(r[0]), r[1], r[2], bool(r[3])) for r in rows]

    def list_members(self, project_hash: str) -> list[MemberRecord]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            self._q(
                "SELECT u.name, u.fingerprint, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
                "WHERE m.project_id = ? ORDER BY u.name, u.fingerprint"
            ),
            (project_id,),
        )
        return [MemberRecord(*r) for r in rows]

    def remove_member(self, project_hash: str, user_id: int) -> bool:
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            gone = self._run(
                db, "DELETE FROM memberships WHERE project_id = ? AND user_id = ?", (project_id, user_id)
            )
            return bool(gone.rowcount)

    # -- projects --------------------------------------------------------------------------------

    def project_media_roots(self, project_hash: str) -> list[str]:
        """The folders a team server may serve the project's images from (a server admin's record)."""
        project_id = self._project_id(project_hash)
        rows = self._all(
            self._q("SELECT root FROM project_media_roots WHERE project_id = ? ORDER BY root"), (project_id,)
        )
        return [str(row[0]) for row in rows]

    def set_project_media_roots(self, project_hash: str, roots: Sequence[str]) -> None:
        """Record ``roots`` as the project's media roots, in place of any recorded before."""
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            self._run(db, "DELETE FROM project_media_roots WHERE project_id = ?", (project_id,))
            for root in sorted(set(roots)):
                self._run(
                    db, "INSERT INTO project_media_roots (project_id, root) VALUES (?, ?)", (project_id, root)
                )

    def _refuse_taken_title(self, db: Any, title: str, unique_title_of: int | None, project_id: int) -> None:
        """Raise :class:`TitleTaken` when another project of the owner (see ``create_project``) has
        ``title``. On PostgreSQL the owner's user row is locked first, so of two requests of one
        user taking the same title at once, the second waits and is refused. Stores that already
        hold two projects of one title keep them (no constraint in the schema): only a new one, or
        a rename into a title that is taken, is refused."""
        if unique_title_of is None:
            return
        query = "SELECT p.project_hash FROM projects p"
        args: list[Any] = []
        if unique_title_of != EVERY_PROJECT:
            self._run(db, f"SELECT id FROM users WHERE id = ?{self._for_update}", (unique_title_of,))
            query += " JOIN memberships m ON m.project_id = p.id AND m.user_id = ? AND m.role = 'admin'"
            args.append(unique_title_of)
        taken = self._run(
            db, query + " WHERE p.title = ? AND p.id <> ? ORDER BY p.id", (*args, title, project_id)
        )
        found = taken.fetchone()
        if found is not None:
            raise TitleTaken(title, found[0])

    def update_project(
        self,
        project_hash: str,
        *,
        title: str | None = None,
        description: str | None = None,
        unique_title_of: int | None = None,
    ) -> ProjectRecord:
        check_texts({"title": title, "description": description})
        project_id = self._project_id(project_hash)
        changes = [
            (name, value)
            for name, value in (("title", title), ("description", description))
            if value is not None
        ]
        if changes:
            with self._tx() as db:
                if title is not None:
                    self._refuse_taken_title(db, title, unique_title_of, project_id)
                assignments = ", ".join(f"{name} = ?" for name, _ in changes)
                self._run(
                    db,
                    f"UPDATE projects SET {assignments} WHERE id = ?",
                    (*(v for _, v in changes), project_id),
                )
        return self.get_project(project_hash)

    def delete_project(self, project_hash: str) -> Removed:
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            units = self._count(db, "SELECT COUNT(*) FROM data_units WHERE project_id = ?", (project_id,))
            removed = self._remove_rows(db, _ROWS, (project_id,))
            self._run(db, "DELETE FROM data_units WHERE project_id = ?", (project_id,))
            for table in ("imports", "sources", "memberships"):
                self._run(db, f"DELETE FROM {table} WHERE project_id = ?", (project_id,))
            self._run(db, "DELETE FROM projects WHERE id = ?", (project_id,))
        return Removed(1, units, removed.label_rows, removed.objects, removed.classifications)

    # -- data units ------------------------------------------------------------------------------

    def delete_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> Removed:
        project_id = self._project_id(project_hash)
        wanted = list(dict.fromkeys(data_hashes))
        total = Removed()
        with self._tx() as db:
            for part in _parts(wanted):
                marks = ", ".join("?" * len(part))
                found = {
                    r[0]
                    for r in self._run(
                        db,
                        f"SELECT data_hash FROM data_units WHERE project_id = ? AND data_hash IN ({marks})",
                        (project_id, *part),
                    ).fetchall()
                }
                for data_hash in part:
                    if data_hash not in found:
                        raise NotFoundError("data unit", data_hash)  # the transaction rolls back
                removed = self._remove_rows(db, f"{_ROWS} AND d.data_hash IN ({marks})", (project_id, *part))
                units = self._run(
                    db,
                    f"DELETE FROM data_units WHERE project_id = ? AND data_hash IN ({marks})",
                    (project_id, *part),
                ).rowcount
                total = _add(
                    total, Removed(0, units, removed.label_rows, removed.objects, removed.classifications)
                )
        return total

    def units_titled(self, project_hash: str, titles: Sequence[str]) -> list[tuple[str, str]]:
        """(title, data hash) of the project's data units with any of these titles."""
        project_id = self._project_id(project_hash)
        found: list[tuple[str, str]] = []
        for part in _parts(list(dict.fromkeys(titles))):
            found += [
                (r[0], r[1])
                for r in self._all(
                    self._q(
                        f"SELECT title, data_hash FROM data_units WHERE project_id = ? "
                        f"AND title IN ({', '.join('?' * len(part))}) ORDER BY id"
                    ),
                    (project_id, *part),
                )
            ]
        return found

    # -- branches and label rows -----------------------------------------------------------------

    def delete_branch(self, project_hash: str, branch: str) -> Removed:
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            return self._remove_rows(db, f"{_ROWS} AND l.branch = ?", (project_id, branch))

    def delete_labels(self, project_hash: str, branch: str, data_hash: str) -> Removed:
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            if not self._run(
                db, "SELECT 1 FROM data_units WHERE project_id = ? AND data_hash = ?", (project_id, data_hash)
            ).fetchone():
                raise NotFoundError("data unit", data_hash)
            return self._remove_rows(
                db,
                f"{_ROWS} AND l.branch = ? AND d.data_hash = ?",
                (project_id, branch, data_hash),
                keep_rows=True,
            )

    def count_objects(self, project_hash: str, branch: str) -> int:
        """Object frames on a branch: what :meth:`iter_objects` yields."""
        project_id = self._project_id(project_hash)
        row = self._one(
            self._q(
                "SELECT COUNT(*) FROM objects o JOIN label_rows l ON l.id = o.label_row_id "
                "JOIN data_units d ON d.id = l.data_unit_id WHERE d.project_id = ? AND l.branch = ?"
            ),
            (project_id, branch),
        )
        return int(row[0])

    def branch_summaries(self, project_hash: str) -> list[BranchRecord]:
        project_id = self._project_id(project_hash)
        rows = self._all(
            self._q(
                "SELECT l.branch, COUNT(*), MAX(l.updated_at) FROM label_rows l "
                "JOIN data_units d ON d.id = l.data_unit_id WHERE d.project_id = ? GROUP BY l.branch"
            ),
            (project_id,),
        )
        objects = {
            r[0]: r[1:]
            for r in self._all(
                self._q(
                    "SELECT branch, COUNT(DISTINCT row_id), COUNT(*), SUM(frames), MAX(changed) FROM ("
                    "SELECT l.branch AS branch, l.id AS row_id, o.object_hash, COUNT(*) AS frames, "
                    "MAX(o.created_at) AS changed FROM objects o JOIN label_rows l ON l.id = o.label_row_id "
                    "JOIN data_units d ON d.id = l.data_unit_id WHERE d.project_id = ? "
                    "GROUP BY l.branch, l.id, o.object_hash) t GROUP BY branch"
                ),
                (project_id,),
            )
        }
        found = []
        for name, label_rows, row_changed in rows:
            labelled, count, frames, changed = objects.get(name, (0, 0, 0, None))
            latest = max((t for t in (row_changed, changed) if t), default=None)
            found.append(
                BranchRecord(name, int(label_rows), int(labelled), int(count), int(frames or 0), latest)
            )
        return sorted(found, key=lambda b: (b.name != "main", b.name))

    def copy_branch(self, project_hash: str, source: str, target: str, *, replace: bool = False) -> Copied:
        if source == target:
            raise LabelportError(f"a branch cannot be copied onto itself ({source!r}).")
        check_texts({"target": target})
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            units = self._labelled_units(db, project_id, source)
            rows = self._target_rows(db, project_id, target, units)
            for (name,) in self._run(
                db, "SELECT name FROM sources WHERE project_id = ? AND branch = ?", (project_id, source)
            ).fetchall():
                if not self._run(
                    db,
                    "SELECT 1 FROM sources WHERE project_id = ? AND branch = ? AND name = ?",
                    (project_id, target, name),
                ).fetchone():
                    self._run(
                        db,
                        "INSERT INTO sources (project_id, branch, name) VALUES (?, ?, ?)",
                        (project_id, target, name),
                    )
            replaced = 0
            for part in _parts(rows):
                marks = ", ".join("?" * len(part))
                if replace:
                    replaced += self._remove_rows(
                        db, f"SELECT id FROM label_rows WHERE id IN ({marks})", part, keep_rows=True
                    ).objects
            replaced += self._drop_replaced(db, project_id, source, target)
            copied = self._run(db, _COPY_OBJECTS, (target, target, project_id, source)).rowcount
            classes = self._run(db, _COPY_CLASSIFICATIONS, (target, project_id, source)).rowcount
            objects = (
                self._count(
                    db,
                    "SELECT COUNT(*) FROM (SELECT DISTINCT s.data_unit_id, o.object_hash FROM objects o "
                    "JOIN label_rows s ON s.id = o.label_row_id JOIN data_units d ON d.id = s.data_unit_id "
                    "WHERE d.project_id = ? AND s.branch = ?) t",
                    (project_id, source),
                )
                if copied
                else 0
            )
            for part in _parts(rows):
                self._run(
                    db,
                    f"UPDATE label_rows SET updated_at = ? WHERE id IN ({', '.join('?' * len(part))})",
                    (now_iso(), *part),
                )
        return Copied(source, target, len(rows), objects, max(classes, 0), replaced)

    def _labelled_units(self, db: Any, project_id: int, branch: str) -> list[int]:
        """The data units whose label row on ``branch`` holds anything; NotFound when there is no such branch."""
        rows = self._run(
            db,
            "SELECT l.id, l.data_unit_id FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
            "WHERE d.project_id = ? AND l.branch = ?",
            (project_id, branch),
        ).fetchall()
        if not rows:
            raise NotFoundError("branch", branch, key="name")
        labelled = {
            r[0]
            for r in self._run(
                db,
                f"SELECT label_row_id FROM objects WHERE label_row_id IN ({_ROWS} AND l.branch = ?) UNION "
                f"SELECT label_row_id FROM classifications WHERE label_row_id IN ({_ROWS} AND l.branch = ?)",
                (project_id, branch, project_id, branch),
            ).fetchall()
        }
        return [int(unit) for row_id, unit in rows if row_id in labelled]

    def _target_rows(self, db: Any, project_id: int, branch: str, units: list[int]) -> list[int]:
        """The label rows on ``branch`` of these data units, made where missing."""
        have = {
            int(r[0]): int(r[1])
            for r in self._run(
                db,
                "SELECT l.data_unit_id, l.id FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
                "WHERE d.project_id = ? AND l.branch = ?",
                (project_id, branch),
            ).fetchall()
        }
        missing = [u for u in units if u not in have]
        now = now_iso()
        for unit, label_hash in zip(missing, new_uuids(len(missing), ordered=True), strict=True):
            self._run(
                db,
                "INSERT INTO label_rows (label_hash, data_unit_id, branch, updated_at) VALUES (?, ?, ?, ?)",
                (label_hash, unit, branch, now),
            )
        have.update(
            (int(r[0]), int(r[1]))
            for r in self._run(
                db,
                "SELECT l.data_unit_id, l.id FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
                "WHERE d.project_id = ? AND l.branch = ?",
                (project_id, branch),
            ).fetchall()
        )
        return [have[u] for u in units]

    def _drop_replaced(self, db: Any, project_id: int, source: str, target: str) -> int:
        """Delete the target's objects a copy replaces (same object hash on the same data unit, or the
        same source annotation) and classifications with the same hash; returns the objects removed."""
        same_hash = (
            "SELECT t_o.id FROM objects t_o JOIN label_rows t ON t.id = t_o.label_row_id "
            "JOIN label_rows s ON s.data_unit_id = t.data_unit_id AND s.branch = ? "
            "JOIN objects s_o ON s_o.label_row_id = s.id AND s_o.object_hash = t_o.object_hash "
            "JOIN data_units d ON d.id = t.data_unit_id WHERE d.project_id = ? AND t.branch = ?"
        )
        same_source = (
            "SELECT t_o.id FROM objects t_o JOIN sources ts ON ts.id = t_o.source_id "
            "JOIN sources ss ON ss.project_id = ts.project_id AND ss.name = ts.name AND ss.branch = ? "
            "JOIN objects s_o ON s_o.source_id = ss.id AND s_o.source_key = t_o.source_key "
            "WHERE ts.project_id = ? AND ts.branch = ?"
        )
        args = (source, project_id, target)
        gone = self._count(
            db,
            "SELECT COUNT(*) FROM (SELECT DISTINCT label_row_id, object_hash FROM objects "
            f"WHERE id IN ({same_hash}) OR id IN ({same_source})) t",
            (*args, *args),
        )
        self._run(
            db, f"DELETE FROM objects WHERE id IN ({same_hash}) OR id IN ({same_source})", (*args, *args)
        )
        self._run(
            db,
            "DELETE FROM classifications WHERE id IN (SELECT t_c.id FROM classifications t_c "
            "JOIN label_rows t ON t.id = t_c.label_row_id "
            "JOIN label_rows s ON s.data_unit_id = t.data_unit_id AND s.branch = ? "
            "JOIN classifications s_c ON s_c.label_row_id = s.id AND s_c.classification_hash = t_c.classification_hash "
            "JOIN data_units d ON d.id = t.data_unit_id WHERE d.project_id = ? AND t.branch = ?)",
            args,
        )
        return gone


_COPY_OBJECTS = (
    "INSERT INTO objects (label_row_id, frame, object_hash, feature_hash, geometry, confidence, manual, "
    "created_by, created_at, answers, source_id, source_key, record, edited) "
    "SELECT t.id, o.frame, o.object_hash, o.feature_hash, o.geometry, o.confidence, o.manual, o.created_by, "
    "o.created_at, o.answers, ts.id, o.source_key, o.record, o.edited FROM objects o "
    "JOIN label_rows s ON s.id = o.label_row_id JOIN data_units d ON d.id = s.data_unit_id "
    "JOIN label_rows t ON t.data_unit_id = s.data_unit_id AND t.branch = ? "
    "LEFT JOIN sources ss ON ss.id = o.source_id "
    "LEFT JOIN sources ts ON ts.project_id = ss.project_id AND ts.name = ss.name AND ts.branch = ? "
    "WHERE d.project_id = ? AND s.branch = ? ORDER BY o.id"
)
_COPY_CLASSIFICATIONS = (
    "INSERT INTO classifications (label_row_id, classification_hash, feature_hash, frames, answer, "
    "created_by, created_at) "
    "SELECT t.id, c.classification_hash, c.feature_hash, c.frames, c.answer, c.created_by, c.created_at "
    "FROM classifications c JOIN label_rows s ON s.id = c.label_row_id "
    "JOIN data_units d ON d.id = s.data_unit_id "
    "JOIN label_rows t ON t.data_unit_id = s.data_unit_id AND t.branch = ? "
    "WHERE d.project_id = ? AND s.branch = ? ORDER BY c.id"
)


def _parts(values: Sequence[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def _add(a: Removed, b: Removed) -> Removed:
    return Removed(
        a.projects + b.projects,
        a.data_units + b.data_units,
        a.label_rows + b.label_rows,
        a.objects + b.objects,
        a.classifications + b.classifications,
    )
