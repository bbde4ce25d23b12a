"""Server administration: open a server's database, add users by their SSH public keys.

``labelport user add``, ``labelport media-roots`` and ``labelport serve`` are these functions' faces.

For instance ``add_user("postgresql://labelport@db/labelport", "ada", Path("ada.pub").read_text(), admin=True)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from labelport.errors import KeyFileError, LabelportError, StoreError
from labelport.keys import fingerprint_of, load_public_key, openssh_public_text
from labelport.plural import plural
from labelport.store.base import LabelStore, UserRecord, project_named


def open_store(db: str) -> LabelStore:
    """The store a server runs on: ``postgresql://...`` (or ``postgres://``) is PostgreSQL, else a SQLite
    file, given as a path or as the ``sqlite:///PATH`` a store names itself by. Any other URL is a
    :class:`StoreError` (not a file of that name made in the working folder).

    >>> type(open_store(":memory:")).__name__
    'SqliteStore'
    >>> open_store("mysql://db/labels")
    Traceback (most recent call last):
    labelport.errors.StoreError: 'mysql://db/labels' is no database labelport runs on: give a postgresql:// URL, a sqlite:/// URL or a file's path.
    """
    if db.startswith(("postgresql://", "postgres://")):
        from labelport.store.postgres import PostgresStore

        return PostgresStore(db)
    from labelport.store.sqlite import SqliteStore

    if db.startswith("sqlite:///"):
        return SqliteStore(db.removeprefix("sqlite:///"))
    if "://" in db:
        raise StoreError(
            f"{db!r} is no database labelport runs on: give a postgresql:// URL, a sqlite:/// URL or a file's path."
        )
    return SqliteStore(db)


def add_user(
    db: str, name: str, public_key_text: str, *, admin: bool = False, file: str | None = None
) -> UserRecord:
    """Add a user by their OpenSSH public key line (or rename them, or make them an admin).

    ``file`` names where the key came from, in messages. Users who are not admins see only the projects they are members of; ``admin=True`` makes a user
    an administrator of every project on the server. Adding a user again never takes admin away.

    Called as ``add_user("postgresql://labelport@db/labelport", "ada", "ssh-ed25519 AAAA... ada@laptop")``.
    """
    if not name.strip():
        raise LabelportError("a user needs a name.")
    if "PRIVATE KEY-----" in public_key_text:
        raise KeyFileError(
            "is a private key; give its public half, KEY.pub (`ssh-keygen -y -f KEY` prints it).", file=file
        )
    lines = [line for line in public_key_text.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) != 1:
        raise KeyFileError(
            "expected one OpenSSH public key line (ssh-ed25519 AAAA... comment, as in KEY.pub), "
            f"found {plural(len(lines), 'line')}.",
            file=file,
        )
    public_key = load_public_key(lines[0], file=file)
    store = open_store(db)
    try:
        return store.upsert_user(
            name.strip(), fingerprint_of(public_key), openssh_public_text(public_key), is_admin=admin
        )
    finally:
        store.close()


def set_media_roots(db: str, project_hash: str, roots: Sequence[str], *, clear: bool = False) -> list[str]:
    """Record the folders a team server may serve ``project_hash``'s images from, in place of those
    recorded before (``clear``: none); returns the project's roots. With neither, only returns them.

    A server serves a project's local files only from its own roots, and only those of them that lie
    inside the server's ``--media-root``. Each root is an absolute path of the server's machine; it is
    recorded as given (normalised), and resolved (links and all) when an image is served.

    Called as ``set_media_roots("postgresql://labelport@db/labelport", "3f9a...", ["/srv/images/team-a"])``.
    """
    given = [str(root) for root in roots]
    for root in given:
        if not os.path.isabs(root):
            raise LabelportError(f"a media root is an absolute path on the server's machine, not {root!r}.")
    store = open_store(db)
    try:
        project_hash = project_named(store.list_projects(None), project_hash)  # a title names one too
        if given or clear:
            store.set_project_media_roots(project_hash, [os.path.normpath(root) for root in given])
        return store.project_media_roots(project_hash)
    finally:
        store.close()
