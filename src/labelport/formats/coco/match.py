"""Match COCO images to data units and COCO categories to ontology objects, with no user code.

Images, in this order (the first strategy with any candidate decides; two or more candidates is
*ambiguous* and is reported, never guessed):

1. ``video_title``  — a video/sequence titled so; the frame from ``frame`` or the number in ``file_name``.
2. ``image_title`` — a data unit or a group member titled so (``data_title`` + ``frame`` for groups).
3. ``file_name``   — a data unit or group member whose title is exactly the file name (first the
   file name and ``#<image id>``: the title an import gives an image whose name another image has).
4. ``path_suffix`` — the file name's last component (first with ``#<image id>``), or a data unit whose
   location ends with the file name (alone when it is one and the name has a folder).
5. ``stem``        — the same name without extension (``cat.jpg`` ~ ``cat.png``).
6. ``video_frame`` — ``<video>/<n>.jpg``, ``<video>/frame_<n>.jpg``, ``<video>_<n>.jpg``: frame n of that video.

Categories: ``by-name`` matches the ontology object titled exactly like the category, then
case- and space-insensitively; an explicit mapping (category id or name -> feature hash or title) wins.

>>> from labelport.data import DataUnit
>>> index = UnitIndex([DataUnit.image("cat.png", width=4, height=4)])
>>> index.match({"file_name": "imgs/cat.jpg"})[0]
'stem'
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from labelport.data import DataType, DataUnit
from labelport.errors import LabelportError
from labelport.formats.coco import schema
from labelport.formats.coco.validate import short
from labelport.plural import plural

Target = tuple[DataUnit, int]

# (a frame number is at most 18 digits: a longer run is no frame, and never an int of thousands of digits)
_FRAME_PATTERNS = (
    re.compile(r"^(?P<video>.+)/(?:frame_?)?(?P<n>\d{1,18})\.[A-Za-z0-9]+$"),
    re.compile(r"^(?P<video>.+?)_(?:frame_?)?(?P<n>\d{1,18})\.[A-Za-z0-9]+$"),
    re.compile(r"^(?P<video>.+)/frame_(?P<n>\d{1,18})$"),
)

STRATEGIES = ("video_title", "image_title", "file_name", "path_suffix", "stem", "video_frame")


def fold(text: str) -> str:
    """Case- and space-insensitive form of a name."""
    return "".join(text.split()).casefold()


def _stem(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def frame_number(image: dict[str, Any]) -> int | None:
    """The frame of a COCO image: its ``frame`` field, else the number that ends its file name."""
    frame = image.get("frame")
    if isinstance(frame, int) and not isinstance(frame, bool):
        return frame
    name = str(image.get("file_name") or "")
    found = re.search(r"(?<!\d)(\d{1,18})(?:\.[A-Za-z0-9]+)?$", name.rsplit("/", 1)[-1])
    return int(found.group(1)) if found else None


class UnitIndex:
    """Look-ups over a project's data units and group members."""

    def __init__(self, units: list[DataUnit]) -> None:
        self.by_title: dict[str, list[Target]] = defaultdict(list)
        self.by_stem: dict[str, list[Target]] = defaultdict(list)
        self.by_location: dict[str, list[Target]] = defaultdict(list)
        self.videos: dict[str, list[DataUnit]] = defaultdict(list)
        for unit in units:
            if unit.members:
                for frame, member in enumerate(unit.members):
                    self._add(member.title, member.location, (unit, frame))
            self._add(unit.title, unit.location, (unit, 0))
            if unit.data_type is not DataType.IMAGE:
                self.videos[unit.title].append(unit)
                if _stem(unit.title) != unit.title:
                    self.videos[_stem(unit.title)].append(unit)

    def _add(self, title: str, location: str, target: Target) -> None:
        self.by_title[title].append(target)
        self.by_stem[_stem(title)].append(target)
        if location:
            parts = location.replace("\\", "/").split("/")
            for k in range(1, min(len(parts), 6) + 1):
                self.by_location[("/".join(parts[-k:]))].append(target)

    def match(self, image: dict[str, Any]) -> tuple[str, list[Target]]:
        """(strategy, candidates) for one COCO image; ("unmatched", []) when nothing fits."""
        if not self.by_title:
            return "unmatched", []  # no data units at all (a new project)
        file_name = str(image.get("file_name") or "").replace("\\", "/")
        video_title = image.get("video_title")
        if isinstance(video_title, str) and video_title:
            frame = frame_number(image)
            units = self.videos.get(video_title, [])
            return "video_title", [(u, frame if frame is not None else 0) for u in units]
        for key in ("image_title", "data_title"):
            title = image.get(key)
            if isinstance(title, str) and title:
                found = self.by_title.get(title, [])
                if key == "data_title" and found:
                    frame = frame_number(image) or 0
                    found = [(u, frame) for u, _ in found if u.title == title]
                if found:
                    return "image_title", found
        if not file_name:
            return "unmatched", []
        numbered = f"#{image.get('id')}"  # the title an import gave the second image of one name
        found = self.by_title.get(file_name + numbered) or self.by_title.get(file_name, [])
        if found:
            return "file_name", _unique(found)
        base = file_name.rsplit("/", 1)[-1]
        found = self.by_title.get(base + numbered, []) if base != file_name else []
        located = _unique(self.by_location.get(file_name.lstrip("/"), []))
        if not found and len(located) == 1 and base != file_name:
            return "path_suffix", located  # train/a.jpg: the unit at images/train/a.jpg, not val's a.jpg
        found = found or (self.by_title.get(base, []) if base != file_name else []) + located
        if found:
            return "path_suffix", _unique(found)
        found = self.by_stem.get(_stem(file_name), [])
        if found:
            return "stem", _unique(found)
        for pattern in _FRAME_PATTERNS:
            m = pattern.match(file_name)
            if m:
                units = self.videos.get(m.group("video"), []) or self.videos.get(
                    m.group("video").rsplit("/", 1)[-1], []
                )
                if units:
                    return "video_frame", [(u, int(m.group("n"))) for u in units]
        return "unmatched", []


def _unique(targets: list[Target]) -> list[Target]:
    seen: dict[tuple[str, int], Target] = {}
    for unit, frame in targets:
        seen.setdefault((unit.data_hash, frame), (unit, frame))
    return list(seen.values())


# -- explicit mappings (--match MAP.json, --categories MAP.json) ------------------------------------


def load_mapping(value: Any, what: str) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    path = Path(str(value)).expanduser()
    try:
        data = schema.any_decoder.decode(path.read_bytes())
    except FileNotFoundError:
        raise LabelportError(f"{path}: no such {what} mapping file.") from None
    except OSError as exc:
        raise LabelportError(f"{path}: the {what} mapping cannot be read ({exc.strerror or exc}).") from None
    except schema.RECORD_ERRORS as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).rstrip(".")
        raise LabelportError(f"{path}: the {what} mapping is not readable JSON ({reason}).") from None
    if not isinstance(data, dict):
        raise LabelportError(f"{path}: the {what} mapping must be a JSON object.")
    return data


def lookup(mapping: dict[Any, Any], *keys: Any) -> Any:
    for key in keys:
        if key in mapping:
            return mapping[key]
        if str(key) in mapping:
            return mapping[str(key)]
    return None


def mapped_target(by_hash: dict[str, DataUnit], target: Any) -> tuple[DataUnit | None, int]:
    """The data unit and frame an image mapping names (``"<hash>"``, ``["<hash>", frame]`` or a
    FrameIndex); a frame beyond the unit's is a :class:`LabelportError`."""
    if isinstance(target, str):
        return by_hash.get(target), 0
    if isinstance(target, (list, tuple)) and len(target) == 2:
        unit, frame = by_hash.get(str(target[0])), target[1]
    else:
        data_hash = getattr(target, "data_hash", None)
        unit, frame = (by_hash.get(data_hash), getattr(target, "frame", 0)) if data_hash else (None, 0)
    if unit is not None and (type(frame) is not int or not 0 <= frame < unit.frames):
        raise LabelportError(
            f"the image mapping names frame {short(frame)} of {unit.title!r}, which has {plural(unit.frames, 'frame')}."
        )
    return unit, frame
