"""Schema migrations: numbered SQL files under ``migrations/<backend>/``, applied in order."""

from __future__ import annotations

from importlib import resources


def migrations(backend: str) -> list[tuple[int, str]]:
    """(version, sql) for every migration of a backend, in order.

    >>> migrations("sqlite")[0][0]
    1
    """
    folder = resources.files("labelport.store") / "migrations" / backend
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql"):
            found.append((int(name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


LATEST = max(v for v, _ in migrations("sqlite"))
