"""Where the embedded store and the user's key live: ``LABELPORT_HOME`` (``~/.labelport``), the key
``labelport init`` recorded there, and the store file.

>>> default_home().name in (".labelport", os.environ.get("LABELPORT_HOME", "").rsplit("/", 1)[-1])
True
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from labelport.errors import LabelportError

__all__ = ["CONFIG_NAME", "KEY_NAME", "default_home", "default_key", "open_store", "record_key"]


def default_home() -> Path:
    """``LABELPORT_HOME``, or ``~/.labelport``."""
    return Path(os.environ.get("LABELPORT_HOME") or Path.home() / ".labelport").expanduser()


#: The file name of the key ``labelport init`` makes when no key is given or found.
KEY_NAME = "id_ed25519"
#: The file in the home folder where ``labelport init`` records the key it chose.
CONFIG_NAME = "config.json"


def default_key(home: str | Path | None = None) -> Path | None:
    """The key used when none is given: the one ``labelport init`` recorded in ``HOME/config.json``,
    else ``HOME/id_ed25519``, else ``~/.ssh/id_ed25519``; None when there is none.

    Once init has recorded a key, a key that appears later in ``~/.ssh`` changes nothing.

    For user ada that is ``/home/ada/.labelport/id_ed25519`` once init has made it.
    """
    folder = Path(home or default_home()).expanduser()
    try:
        recorded = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8")).get("key")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if isinstance(recorded, str) and recorded:
        return Path(recorded)  # even when it is gone: the error then names it, nothing switches silently
    for candidate in (folder / KEY_NAME, Path.home() / ".ssh" / KEY_NAME):
        if candidate.is_file():
            return candidate
    return None


def record_key(home: str | Path, key: Path) -> Path:
    """Record ``key`` in ``HOME/config.json`` as the one to use when none is given; returns that file."""
    path = Path(home).expanduser() / CONFIG_NAME
    try:
        path.write_text(
            json.dumps({"key": str(key.expanduser().resolve())}, indent=1) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise LabelportError(f"{path} cannot be written ({exc.strerror or exc}).") from None
    return path


def open_store(home: str | Path | None = None) -> Any:
    """The embedded store under ``home`` (created on first use)."""
    from labelport.store.sqlite import SqliteStore

    return SqliteStore(Path(home or default_home()).expanduser() / "labelport.db")
