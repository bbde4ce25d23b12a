"""CVAT for images 1.1 and CVAT for video 1.1 XML; see :mod:`.read` and :mod:`.write`."""

from __future__ import annotations

from pathlib import Path

from labelport.formats.base import Format
from labelport.formats.cvat.read import read_cvat
from labelport.formats.cvat.write import write_cvat


def sniff(path: Path) -> bool:
    """An XML file whose root is ``<annotations>`` (Pascal VOC's is ``<annotation>``)."""
    if not path.is_file() or path.suffix.lower() != ".xml":
        return False
    with path.open("rb") as handle:
        head = handle.read(4096)
    return b"<annotations>" in head or b"<annotations " in head


FORMAT = Format(
    "cvat",
    "CVAT for images 1.1 or CVAT for video 1.1 XML (boxes, polygons, polylines, points, skeletons, masks, tracks)",
    read_cvat,
    write_cvat,
    sniff,
)

__all__ = ["FORMAT", "read_cvat", "write_cvat"]
