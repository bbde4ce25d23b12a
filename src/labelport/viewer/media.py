"""Where a data unit's pixels come from: a local file under an allowed media root, or an http(s) URL.

A local location is served only when, with every ``..`` and symbolic link resolved, it lies inside
one of the roots the viewer was given (``--media-root``); anything else is refused with a sentence
saying why. A URL is handed to the browser, which loads it itself. Thumbnails are made with Pillow
and kept on disk, keyed by the file's path, size and modification time.

>>> roots = MediaRoots(["/srv/images"])
>>> roots.locate("/srv/images/../secrets/key.png").reason
'/srv/secrets/key.png is outside the media roots the viewer may serve'
>>> roots.locate("https://example.com/a.jpg").url
'https://example.com/a.jpg'
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from labelport.data import DataType, DataUnit
from labelport.errors import ImageError
from labelport.pixels import open_image as decode

#: The longest side of a grid thumbnail, in pixels.
THUMB_SIDE = 320
#: Files larger than this are not decoded by the viewer.
MAX_IMAGE_BYTES = 256 * 1024 * 1024
#: The longest side of a rendered unit (``labelport render``, a labelled page image): larger images
#: are drawn scaled down to it.
RENDER_SIDE = 4096
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Located:
    """Where one frame's pixels are: a ``path`` to serve, a ``url`` for the browser, or a ``reason``
    why neither (the page draws the labels on a neutral canvas and says it)."""

    path: Path | None = None
    url: str | None = None
    reason: str | None = None
    video: bool = False
    #: the reason in a few words, for a thumbnail's caption
    short: str | None = None


def frame_location(unit: DataUnit, frame: int) -> str:
    """The location of one frame: a member's own for groups and series, the unit's otherwise."""
    if unit.members and 0 <= frame < len(unit.members):
        return unit.members[frame].location
    return unit.location


class MediaRoots:
    """The folders local images may be served from."""

    def __init__(self, roots: Iterable[str | Path]) -> None:
        self.roots = [Path(os.path.realpath(Path(r).expanduser())) for r in roots]

    def locate(self, location: str) -> Located:
        """Where ``location`` can be shown from, or why it cannot."""
        if not location:
            return Located(reason="the data unit has no location", short="no location")
        lowered = location.lower()
        if lowered.startswith(("http://", "https://")):
            return Located(url=location)
        if "://" in location and not lowered.startswith("file://"):
            scheme = location.split("://", 1)[0]
            return Located(reason=f"{scheme}:// locations are not served", short=f"{scheme}:// not served")
        raw = location[7:] if lowered.startswith("file://") else location
        path = Path(os.path.realpath(Path(raw).expanduser()))
        if not any(path == root or path.is_relative_to(root) for root in self.roots):
            if not self.roots:
                return Located(
                    reason=f"{path} is not served: the viewer was given no --media-root",
                    short="not served: no --media-root",
                )
            return Located(
                reason=f"{path} is outside the media roots the viewer may serve",
                short="outside the media roots",
            )
        if not path.is_file():
            return Located(reason=f"{path} does not exist", short="image file missing")
        return Located(path=path, video=path.suffix.lower() not in _IMAGE_SUFFIXES)

    def locate_frame(self, unit: DataUnit, frame: int) -> Located:
        found = self.locate(frame_location(unit, frame))
        if unit.data_type is DataType.VIDEO and found.path is not None:
            return Located(path=found.path, video=True)
        return found


def open_image(path: Path, side: int = RENDER_SIDE) -> tuple[Image.Image | None, str | None]:
    """The decoded image (RGB, at most ``side`` pixels on its longest side, no metadata), or None and
    the reason it cannot be read."""
    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return None, f"{path.name} is over {MAX_IMAGE_BYTES >> 20} MiB"
        return decode(path, side=side), None
    except ImageError as exc:
        return None, str(exc).removesuffix(".")
    except OSError:
        return None, f"{path.name} is not an image the viewer can read"


class ThumbnailCache:
    """Plain thumbnails (no labels) on disk: ``<folder>/<sha256 of path, size, mtime, side>.jpg``."""

    def __init__(self, folder: Path, side: int = THUMB_SIDE) -> None:
        self.folder = folder
        self.side = side

    def _key(self, path: Path) -> str:
        stat = path.stat()
        text = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{self.side}"
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, path: Path) -> tuple[Image.Image | None, str | None]:
        """The thumbnail of an image file (made and stored on first use), or why there is none."""
        try:
            cached = self.folder / f"{self._key(path)}.jpg"
        except OSError:
            return None, f"{path.name} cannot be read"
        if cached.is_file():
            with Image.open(cached) as stored:
                return stored.convert("RGB"), None
        image, reason = open_image(path, self.side)
        if image is None:
            return None, reason
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        image.save(tmp, "JPEG", quality=85)
        tmp.replace(cached)
        return image, None


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=3)
    return out.getvalue()


def jpeg_bytes(image: Image.Image) -> bytes:
    """The image as a JPEG with none of its source's metadata (a comment of 64 KiB cannot be written)."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, comment=b"")
    return out.getvalue()
