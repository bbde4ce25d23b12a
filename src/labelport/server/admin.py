"""Server administration: open a server's database, add users by their SSH public keys.

``labelport user add`` and ``labelport serve`` are these functions' faces.

>>> # add_user("postgresql://labelport@db/labelport", "ada", Path("ada.pub").read_text(), admin=True)
"""

from __future__ import annotations

from labelport.errors import KeyFileError, LabelportError
from labelport.keys import fingerprint_of, load_public_key, openssh_public_text
from labelport.store.base import LabelStore, UserRecord


def open_store(db: str) -> LabelStore:
    """The store a server runs on: ``postgresql://...`` (or ``postgres://``) is PostgreSQL, else a SQLite path.

    >>> open_store(":memory:").schema_version() >= 1
    True
    """
    if db.startswith(("postgresql://", "postgres://")):
        from labelport.store.postgres import PostgresStore

        return PostgresStore(db)
    from labelport.store.sqlite import SqliteStore

    return SqliteStore(db)


def add_user(db: str, name: str, public_key_text: str, *, admin: bool = False) -> UserRecord:
    """Add a user by their OpenSSH public key line (or rename them, or make them an admin).

    Users who are not admins see only the projects they are members of; ``admin=True`` makes a user
    an administrator of every project on the server. Adding a user again never takes admin away.

    >>> # add_user("postgresql://labelport@db/labelport", "ada", "ssh-ed25519 AAAA... ada@laptop")
    """
    if not name.strip():
        raise LabelportError("a user needs a name.")
    lines = [line for line in public_key_text.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) != 1:
        raise KeyFileError(f"expected one OpenSSH public key line, found {len(lines)}.")
    public_key = load_public_key(lines[0])
    store = open_store(db)
    try:
        return store.upsert_user(
            name.strip(), fingerprint_of(public_key), openssh_public_text(public_key), is_admin=admin
        )
    finally:
        store.close()
