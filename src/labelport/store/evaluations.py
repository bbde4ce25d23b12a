"""Stored evaluations and what they read, for both stores: the same SQL, their placeholders.

A branch's *state* is what an evaluation was computed from: the branch's change counter (migration
0003's triggers bump it for every saved, moved or deleted label row and every import), and the
project's data units and ontology. Reading it costs a few
index lookups, not a scan of the objects.

>>> from labelport.store.sqlite import SqliteStore
>>> SqliteStore(":memory:").find_evaluation("nope", ("main", "p", "bbox", "{}"))
Traceback (most recent call last):
labelport.errors.NotFoundError: No project with hash nope.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from labelport.labels import now_iso

#: (gt branch, pred branch, iou type, parameters as canonical JSON)
EvaluationKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class EvaluationRecord:
    id: int
    gt_state: str
    pred_state: str
    created_by: str
    created_at: str
    summary: bytes


_CHANGES = "SELECT changes FROM branch_changes WHERE project_id = ? AND branch = ?"
_EXISTS = (
    "SELECT 1 FROM label_rows l JOIN data_units d ON d.id = l.data_unit_id "
    "WHERE d.project_id = ? AND l.branch = ? LIMIT 1"
)
#: what an evaluation reads of each object: (data unit row id, frame, object hash, feature hash, confidence,
#: geometry, record, edited, id), in no particular order (sorting a large project's rows costs SQLite
#: more than the read; the reader puts them in id order itself)
EVALUATION_SELECT = (
    "SELECT l.data_unit_id, o.frame, o.object_hash, o.feature_hash, o.confidence, o.geometry, o.record, o.edited, "
    "o.id FROM objects o JOIN label_rows l ON l.id = o.label_row_id JOIN data_units d ON d.id = l.data_unit_id "
    "WHERE d.project_id = ? AND l.branch = ?"
)
#: the data units as an evaluation needs them: (row id, data hash, width, height, frames, members, extra)
_UNIT_ROWS = "SELECT id, data_hash, width, height, frames, members, extra FROM data_units WHERE project_id = ? ORDER BY id"
_UNITS = "SELECT count(*), coalesce(max(id), 0) FROM data_units WHERE project_id = ?"
_ONTOLOGY = "SELECT o.structure FROM ontologies o JOIN projects p ON p.ontology_id = o.id WHERE p.id = ?"


class _Store(Protocol):
    def _project_id(self, project_hash: str) -> int: ...

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any: ...

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]: ...

    def _tx(self) -> AbstractContextManager[Any]: ...

    def _q(self, sql: str) -> str: ...


class EvaluationRows:
    """The evaluation methods of :class:`~labelport.store.base.LabelStore`, over a store's helpers
    (:class:`~labelport.store.sql.SqlStore`'s ``_q`` gives the store's placeholder)."""

    def branch_state(self: _Store, project_hash: str, branch: str) -> str | None:
        """A short text that changes whenever the branch's objects (or the project's units or ontology)
        do; None when the project has no such branch."""
        project_id = self._project_id(project_hash)
        if self._one(self._q(_EXISTS), (project_id, branch)) is None:
            return None
        found = self._one(self._q(_CHANGES), (project_id, branch))
        units, top_unit = self._one(self._q(_UNITS), (project_id,))
        structure = bytes(self._one(self._q(_ONTOLOGY), (project_id,))[0])
        ontology = hashlib.sha256(structure).hexdigest()[:16]
        return f"{0 if found is None else found[0]}:{units}:{top_unit}:{ontology}"

    def find_evaluation(self: _Store, project_hash: str, key: EvaluationKey) -> EvaluationRecord | None:
        project_id = self._project_id(project_hash)
        row = self._one(
            self._q(
                "SELECT id, gt_state, pred_state, created_by, created_at, summary FROM evaluations "
                "WHERE project_id = ? AND gt_branch = ? AND pred_branch = ? AND iou_type = ? AND params = ?"
            ),
            (project_id, *key),
        )
        if row is None:
            return None
        return EvaluationRecord(int(row[0]), row[1], row[2], row[3], row[4], bytes(row[5]))

    def save_evaluation(
        self: _Store,
        project_hash: str,
        key: EvaluationKey,
        states: tuple[str, str],
        user: str,
        summary: bytes,
        matches: bytes | memoryview,
    ) -> int:
        """Store an evaluation (replacing the one of the same key); returns its id."""
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            db.execute(
                self._q(
                    "DELETE FROM evaluations WHERE project_id = ? AND gt_branch = ? AND pred_branch = ? "
                    "AND iou_type = ? AND params = ?"
                ),
                (project_id, *key),
            )
            row = db.execute(
                self._q(
                    "INSERT INTO evaluations (project_id, gt_branch, pred_branch, iou_type, params, gt_state, "
                    "pred_state, created_by, created_at, summary, matches) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "RETURNING id"
                ),
                (project_id, *key, *states, user, now_iso(), summary, matches),
            ).fetchone()
        return int(row[0])

    def evaluation_matches(self: _Store, project_hash: str, evaluation_id: int) -> bytes | None:
        """The object-level matches of a stored evaluation of this project, or None."""
        project_id = self._project_id(project_hash)
        row = self._one(
            self._q("SELECT matches FROM evaluations WHERE id = ? AND project_id = ?"),
            (evaluation_id, project_id),
        )
        return None if row is None else bytes(row[0])

    def evaluation_units(self: _Store, project_hash: str) -> list[tuple[Any, ...]]:
        """(row id, data hash, width, height, frames, members JSON, extra JSON) of every data unit, in order."""
        project_id = self._project_id(project_hash)
        return [tuple(r) for r in self._all(self._q(_UNIT_ROWS), (project_id,))]
