"""Who may do what, as both stores keep it: users and their keys, project roles, the request
signatures' nonces and the viewer's sessions (:class:`AccessRows`, a part of
:class:`~labelport.store.sql.SqlStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelport.labels import now_iso
from labelport.store.base import UserRecord
from labelport.store.manage import ManageMixin
from labelport.store.rows import check_texts

_USER_COLUMNS = "id, name, fingerprint, is_admin"


def _user(row: Sequence[Any] | None) -> UserRecord | None:
    return None if row is None else UserRecord(int(row[0]), row[1], row[2], bool(row[3]))


class AccessRows(ManageMixin):
    """Users, roles, nonces and sessions over the store's own ``_tx``, ``_one`` and ``_project_id``."""

    # -- users -----------------------------------------------------------------------------------

    def upsert_user(
        self, name: str, fingerprint: str, public_key: str, *, is_admin: bool = False
    ) -> UserRecord:
        check_texts({"name": name, "fingerprint": fingerprint, "public_key": public_key})
        with self._tx() as db:
            row = self._run(
                db,
                "INSERT INTO users (name, fingerprint, public_key, is_admin, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET name = excluded.name, "
                "public_key = CASE WHEN excluded.public_key <> '' THEN excluded.public_key "
                "ELSE users.public_key END, is_admin = users.is_admin OR excluded.is_admin "
                f"RETURNING {_USER_COLUMNS}",
                (name, fingerprint, public_key, is_admin, now_iso()),
            ).fetchone()
        user = _user(row)
        assert user is not None
        return user

    def user_by_fingerprint(self, fingerprint: str) -> UserRecord | None:
        return _user(
            self._one(self._q(f"SELECT {_USER_COLUMNS} FROM users WHERE fingerprint = ?"), (fingerprint,))
        )

    def public_key(self, fingerprint: str) -> str | None:
        row = self._one(self._q("SELECT public_key FROM users WHERE fingerprint = ?"), (fingerprint,))
        return None if row is None else str(row[0])

    def set_role(self, project_hash: str, user_id: int, role: str) -> None:
        project_id = self._project_id(project_hash)
        with self._tx() as db:
            self._run(
                db,
                "INSERT INTO memberships (project_id, user_id, role) VALUES (?, ?, ?) "
                "ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
                (project_id, user_id, role),
            )

    def role(self, project_hash: str, user_id: int) -> str | None:
        row = self._one(
            self._q(
                "SELECT m.role FROM memberships m JOIN projects p ON p.id = m.project_id "
                "WHERE p.project_hash = ? AND m.user_id = ?"
            ),
            (project_hash, user_id),
        )
        return None if row is None else str(row[0])

    def use_nonce(self, nonce: str, now: float, keep_seconds: float) -> bool:
        with self._tx() as db:
            self._run(db, "DELETE FROM nonces WHERE seen_at < ?", (now - keep_seconds,))
            cursor = self._run(
                db,
                "INSERT INTO nonces (nonce, seen_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING",
                (nonce, now),
            )
            return bool(cursor.rowcount == 1)

    def create_session(self, token_sha256: str, user_id: int, now: float, expires_at: float) -> None:
        with self._tx() as db:
            self._run(db, "DELETE FROM viewer_sessions WHERE expires_at <= ?", (now,))
            self._run(
                db,
                "INSERT INTO viewer_sessions (token_sha256, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_sha256, user_id, now, expires_at),
            )

    def session_user(self, token_sha256: str, now: float) -> UserRecord | None:
        # a read only: page requests never wait for an import's write lock (expired rows go at sign-in)
        row = self._one(
            self._q(
                "SELECT u.id, u.name, u.fingerprint, u.is_admin FROM viewer_sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = ? AND s.expires_at > ?"
            ),
            (token_sha256, now),
        )
        return _user(row)

    def revoke_sessions(self, *, token_sha256: str | None = None, user_id: int | None = None) -> int:
        with self._tx() as db:
            cursor = self._run(
                db,
                "DELETE FROM viewer_sessions WHERE token_sha256 = ? OR user_id = ?",
                (token_sha256, user_id),
            )
            return int(cursor.rowcount)
