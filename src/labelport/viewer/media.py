"""Where a data unit's pixels come from: a local file under an allowed media root, or an http(s) URL.

A local location is served only when, with every ``..`` and symbolic link resolved, it lies inside
one of the roots the viewer was given (``--media-root``; on a team server, the project's own roots:
see :func:`project_roots`); anything else is refused with a sentence naming the location as the data
unit gives it. A URL is handed to the browser, which loads it itself. A file is served only as what
its bytes are (:func:`media_type`): an image Pillow reads, or a video whose header is that of its
extension; nothing else. Thumbnails are made with Pillow and kept on disk, keyed by the file's path,
size and modification time.

>>> roots = MediaRoots(["/srv/images"])
>>> roots.locate("/srv/images/../secrets/key.png").reason
'/srv/images/../secrets/key.png is outside the media roots the viewer may serve'
>>> roots.locate("https://example.com/a.jpg").url
'https://example.com/a.jpg'
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from labelport.data import DataType, DataUnit, file_inside, local_file
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
#: The images the viewer serves, by Pillow's name for their format.
IMAGE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
}
#: The videos the viewer serves: extension -> (content type, what the file's first bytes must be).
VIDEO_TYPES: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    ".mp4": ("video/mp4", lambda head: head[4:8] == b"ftyp"),
    ".m4v": ("video/mp4", lambda head: head[4:8] == b"ftyp"),
    ".mov": ("video/quicktime", lambda head: head[4:8] in (b"ftyp", b"moov", b"wide", b"mdat")),
    ".webm": ("video/webm", lambda head: head[:4] == b"\x1a\x45\xdf\xa3"),
    ".mkv": ("video/x-matroska", lambda head: head[:4] == b"\x1a\x45\xdf\xa3"),
    ".ogv": ("video/ogg", lambda head: head[:4] == b"OggS"),
    ".avi": ("video/x-msvideo", lambda head: head[:4] == b"RIFF" and head[8:12] == b"AVI "),
}


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
    """The folders local images may be served from.

    ``relative``: a relative location is looked for under each root (a team server's project roots),
    rather than under the working directory. ``none``: why nothing is served when there is no root."""

    def __init__(
        self,
        roots: Iterable[str | Path],
        *,
        relative: bool = False,
        none: tuple[str, str] = ("the viewer was given no --media-root", "no --media-root"),
    ) -> None:
        self.roots = [Path(os.path.realpath(Path(r).expanduser())) for r in roots]
        self.relative = relative
        self.none = none

    def contains(self, path: str | Path) -> bool:
        """Whether ``path``, with ``..`` and symbolic links resolved, lies inside one of the roots."""
        return file_inside(str(path), self.roots, relative=False) is not None

    def locate(self, location: str) -> Located:
        """Where ``location`` can be shown from, or why it cannot."""
        if not location:
            return Located(reason="the data unit has no location", short="no location")
        if location.lower().startswith(("http://", "https://")):
            return Located(url=location)
        raw = local_file(location)
        if raw is None:
            scheme = location.split("://", 1)[0]
            return Located(reason=f"{scheme}:// locations are not served", short=f"{scheme}:// not served")
        path = file_inside(raw, self.roots, relative=self.relative)
        if path is None:
            if not self.roots:
                return Located(
                    reason=f"{location} is not served: {self.none[0]}", short=f"not served: {self.none[1]}"
                )
            return Located(
                reason=f"{location} is outside the media roots the viewer may serve",
                short="outside the media roots",
            )
        if not path.is_file():
            return Located(reason=f"{location} does not exist", short="image file missing")
        return Located(path=path, video=path.suffix.lower() not in _IMAGE_SUFFIXES)

    def locate_frame(self, unit: DataUnit, frame: int) -> Located:
        found = self.locate(frame_location(unit, frame))
        if unit.data_type is DataType.VIDEO and found.path is not None:
            return Located(path=found.path, video=True)
        return found


#: Why a team server's project shows no local file, in full and in a few words.
NO_PROJECT_ROOTS = (
    "the project has no media roots on this server (a server admin records them: "
    "labelport media-roots PROJECT FOLDER --db URL)",
    "no media roots for the project",
)


def project_roots(server: MediaRoots, recorded: Iterable[str]) -> MediaRoots:
    """A team server's roots for one project: the folders a server admin recorded for it that lie
    inside the server's own ``--media-root`` (which bounds them all). A relative location is looked
    for under them.

    >>> project_roots(MediaRoots(["/srv/images"]), ["/srv/images/team-a", "/etc"]).roots
    [PosixPath('/srv/images/team-a')]
    """
    return MediaRoots([r for r in recorded if server.contains(r)], relative=True, none=NO_PROJECT_ROOTS)


def media_type(path: Path, video: bool) -> str | None:
    """The content type ``path`` is served as, by its bytes: an image's when Pillow reads it as one of
    :data:`IMAGE_TYPES`, a video's when its extension is one of :data:`VIDEO_TYPES` and its first bytes
    are that format's; None (not served) for anything else."""
    if video:
        known = VIDEO_TYPES.get(path.suffix.lower())
        try:
            with path.open("rb") as handle:
                head = handle.read(16)
        except OSError:
            return None
        return known[0] if known is not None and known[1](head) else None
    try:
        with Image.open(path) as opened:
            return IMAGE_TYPES.get(opened.format or "")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


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
