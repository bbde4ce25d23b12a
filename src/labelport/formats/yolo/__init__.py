"""YOLO, Ultralytics layout: detect, segment, pose and obb; see :mod:`.read` and :mod:`.write`."""

from __future__ import annotations

from pathlib import Path

from labelport.formats.base import Format
from labelport.formats.yolo.read import find_yaml, read_yolo
from labelport.formats.yolo.write import write_yolo


def sniff(path: Path) -> bool:
    """A folder with ``data.yaml``/``dataset.yaml`` (or that yaml itself) that names classes."""
    found = find_yaml(path)
    return found is not None and "names" in found.read_text(encoding="utf-8", errors="replace")


FORMAT = Format(
    "yolo",
    "Ultralytics YOLO: data.yaml, images/<split>/, labels/<split>/*.txt (detect, segment, pose, obb)",
    read_yolo,
    write_yolo,
    sniff,
    folder=True,
)

__all__ = ["FORMAT", "read_yolo", "write_yolo"]
