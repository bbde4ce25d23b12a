"""Where a folder format's reader may read: inside the dataset's folder, always on a server.

A YOLO or VOC dataset names other files: ``path:`` and the splits of ``data.yaml``, the lines of a
split list, ``<filename>`` under ``JPEGImages/``. A reader asks a :class:`Reach` before it follows one.
On a server (``confined``) a path that leaves the dataset's folder (absolute, ``..``, a symbolic link
out) is refused with one sentence naming the user's file and the key or line that named it, and
nothing outside is opened. A local import follows the user's paths as before and keeps the list of
files it read outside the folder, which its report shows.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> reach = Reach(root, confined=True)
>>> reach.named(root / "images", "images", file="data.yaml", key="train") == root / "images"
True
>>> reach.named(root / "../x", "../x", file="data.yaml", key="train")
Traceback (most recent call last):
labelport.errors.FormatError: data.yaml train: '../x' names a place outside the dataset's folder; a server reads only the files of the upload.
"""

from __future__ import annotations

import os
from pathlib import Path

from labelport.errors import FormatError

#: The code of every path a dataset names outside its folder, on a server.
OUTSIDE = "path_outside"
#: The code of a path no file system takes (it holds a NUL character).
INVALID = "path_invalid"


class Reach:
    """The dataset's folder, whether a reader is held inside it, and the files it read outside."""

    def __init__(self, root: Path, *, confined: bool) -> None:
        #: the folder as the reader was given it (files are named from it)
        self.root = root
        self.given = Path(os.path.abspath(root))
        self.real = Path(os.path.realpath(root))
        self.confined = confined
        #: files read outside the folder (a local import only), as their real paths
        self.outside: set[str] = set()
        self._folders: dict[Path, Path] = {}

    def _inside(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in (self.given, self.real))

    def is_inside(self, path: Path) -> bool:
        """Whether ``path``, with ``..`` and symbolic links resolved, lies inside the folder (a path
        no file system takes, with a NUL character, lies nowhere)."""
        try:
            return self._inside(Path(os.path.realpath(path)))
        except ValueError:
            return False

    def named(
        self,
        path: Path,
        given: str,
        *,
        file: str,
        key: str | None = None,
        line: int | None = None,
        hint: str = "",
    ) -> Path:
        """``path``, which the dataset names as ``given`` (in ``file``, at ``key`` or ``line``); on a
        server a :class:`FormatError` (:data:`OUTSIDE`) when it leaves the folder (``hint``: how to
        mend it, after the sentence). A path holding a NUL character is a :data:`INVALID` error."""
        if "\x00" in given:
            raise FormatError(
                INVALID,
                f"{given!r} is not a path (it holds a NUL character).",
                file=file,
                path=key,
                line=line,
            )
        if self.confined and (Path(given).is_absolute() or not self.is_inside(path)):
            raise FormatError(
                OUTSIDE,
                f"{given!r} names a place outside the dataset's folder; a server reads only the files "
                f"of the upload{hint}.",
                file=file,
                path=key,
                line=line,
            )
        return path

    def may_read(self, path: Path) -> bool:
        """Whether a reader may open ``path``: inside the folder always; outside it only locally, where
        it is recorded in :attr:`outside`. Every folder on the way and the file itself are resolved, so a
        linked folder inside that leads out counts as outside (a folder is resolved once)."""
        real = self._real_folder(path.parent) / path.name
        if path.is_symlink():
            real = Path(os.path.realpath(path))
        if self._inside(real):
            return True
        if self.confined:
            return False
        if real.exists():
            self.outside.add(str(real))
        return True

    def _real_folder(self, folder: Path) -> Path:
        found = self._folders.get(folder)
        if found is None:
            found = self._folders[folder] = Path(os.path.realpath(folder))
        return found
