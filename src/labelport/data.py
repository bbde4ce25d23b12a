"""Data units: what labels are drawn on. An image, a video, an image group or sequence, a DICOM series.

Every data unit has frames: an image has one; a video, group, sequence or series has one per frame,
member or slice. Members of groups and series keep their own titles and sizes.

>>> unit = DataUnit.image("cat.jpg", width=640, height=480)
>>> unit.frames, unit.data_type.value
(1, 'image')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from labelport.errors import DataError
from labelport.hashing import new_uuid
from labelport.limits import MAX_VIDEO_FRAMES
from labelport.plural import plural


class DataType(StrEnum):
    """The kinds of data unit."""

    IMAGE = "image"
    VIDEO = "video"
    IMG_GROUP = "img_group"
    IMG_SEQUENCE = "img_sequence"
    DICOM = "dicom"

    @property
    def has_members(self) -> bool:
        """Whether each frame is a member with a title of its own (groups, sequences, series)."""
        return self in (DataType.IMG_GROUP, DataType.IMG_SEQUENCE, DataType.DICOM)


#: The largest width, height or number of frames of a data unit (PostgreSQL's INTEGER; both stores agree).
MAX_SIZE = 2**31 - 1


@dataclass(frozen=True)
class Member:
    """One frame of an image group, image sequence or DICOM series."""

    title: str
    width: int
    height: int
    location: str = ""


@dataclass(slots=True)
class DataUnit:
    """One data unit of a project. ``location`` is a path or URI; ``extra`` keeps source-format records."""

    title: str
    data_type: DataType
    width: int
    height: int
    frames: int = 1
    fps: float | None = None
    location: str = ""
    members: list[Member] = field(default_factory=list)
    data_hash: str = field(default_factory=new_uuid)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data_type.has_members and self.members:
            self.frames = len(self.members)
        if self.frames < 1:
            raise DataError(f"data unit {self.title!r} must have at least one frame, not {self.frames}.")
        if self.width < 1 or self.height < 1:
            raise DataError(
                f"data unit {self.title!r} must have a positive size, not {self.width}x{self.height}."
            )
        for m in self.members:
            if not (1 <= m.width <= MAX_SIZE and 1 <= m.height <= MAX_SIZE):
                raise DataError(
                    f"member {m.title!r} of {self.title!r} must be 1 to {MAX_SIZE:,} pixels each way, "
                    f"not {m.width}x{m.height}."
                )
        if self.frames > MAX_VIDEO_FRAMES:
            raise DataError(
                f"data unit {self.title!r}: {plural(self.frames, 'frame')} is over the most a data unit may have, "
                f"{MAX_VIDEO_FRAMES:,}."
            )
        if max(self.width, self.height, self.frames) > MAX_SIZE:
            what = "width" if self.width > MAX_SIZE else "height" if self.height > MAX_SIZE else "frames"
            raise DataError(
                f"data unit {self.title!r}: {what} {getattr(self, what)} is over the largest, {MAX_SIZE:,}."
            )

    @classmethod
    def image(cls, title: str, *, width: int, height: int, location: str = "") -> DataUnit:
        """A single image."""
        return cls(title=title, data_type=DataType.IMAGE, width=width, height=height, location=location)

    @classmethod
    def video(
        cls, title: str, *, width: int, height: int, frames: int, fps: float = 25.0, location: str = ""
    ) -> DataUnit:
        """A video of ``frames`` frames."""
        return cls(title, DataType.VIDEO, width, height, frames=frames, fps=fps, location=location)

    @classmethod
    def group(cls, title: str, members: list[Member], data_type: DataType = DataType.IMG_GROUP) -> DataUnit:
        """An image group, image sequence or DICOM series from its members, in frame order."""
        if not members:
            raise DataError(f"{data_type.value} {title!r} must have at least one member.")
        width = max(m.width for m in members)
        height = max(m.height for m in members)
        return cls(title, data_type, width, height, frames=len(members), members=list(members))

    def frame_size(self, frame: int) -> tuple[int, int]:
        """(width, height) of one frame: a member's own size in groups, the unit's otherwise."""
        if self.members:
            member = self.members[frame]
            return member.width, member.height
        return self.width, self.height

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = {
            "data_hash": self.data_hash,
            "title": self.title,
            "data_type": self.data_type.value,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "location": self.location,
        }
        if self.fps is not None:
            data["fps"] = self.fps
        if self.members:
            data["members"] = [
                {"title": m.title, "width": m.width, "height": m.height, "location": m.location}
                for m in self.members
            ]
        return data


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, read from its header without decoding pixels.

    Raises :class:`DataError` naming the file when it is missing, unreadable or not an image.
    """
    from PIL import UnidentifiedImageError

    from labelport.pixels import header_size

    try:
        width, height = header_size(path)
    except FileNotFoundError:
        raise DataError("no such file.", file=str(path)) from None
    except IsADirectoryError:
        raise DataError("is a directory, not an image.", file=str(path)) from None
    except PermissionError:
        raise DataError("cannot be read (permission denied).", file=str(path)) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise DataError("is not an image that labelport can read.", file=str(path)) from None
    return int(width), int(height)


def image_from_file(path: Path) -> DataUnit:
    """A data unit for an image file: its name as title, its size from the header."""
    width, height = image_size(path)
    return DataUnit.image(path.name, width=width, height=height, location=str(path.resolve()))


def local_file(location: str) -> str | None:
    """The path of the file a location names on this machine (a path, or a ``file://`` URL); None
    for no location and for a URL of another scheme.

    >>> local_file("file:///srv/a.png"), local_file("images/a.png"), local_file("https://x/a.png")
    ('/srv/a.png', 'images/a.png', None)
    """
    if not location:
        return None
    if location.lower().startswith("file://"):
        return location[7:]
    return None if "://" in location else location


def file_inside(path: str, roots: Sequence[Path], *, relative: bool) -> Path | None:
    """The file ``path`` names, with ``..`` and symbolic links resolved, when it lies inside one of
    ``roots`` (each resolved already); a relative path is looked for under each root when ``relative``,
    else under the working directory. None when it lies in none of them."""
    given = Path(path).expanduser()
    tried = [root / given for root in roots] if relative and not given.is_absolute() else [given]
    for candidate in tried:
        real = Path(os.path.realpath(candidate))
        if any(real == root or real.is_relative_to(root) for root in roots):
            return real
    return None
