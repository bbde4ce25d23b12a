"""Label Studio's JSON export (tasks with annotations and predictions); see :mod:`.read` and :mod:`.write`."""

from __future__ import annotations

from pathlib import Path

from labelport.formats.base import Format
from labelport.formats.labelstudio.read import read_labelstudio
from labelport.formats.labelstudio.write import write_labelstudio


def sniff(path: Path) -> bool:
    """A JSON file that starts as a list of tasks (objects with ``data``)."""
    if not path.is_file() or path.suffix.lower() != ".json":
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    return head[:1] == b"[" and b'"data"' in head


FORMAT = Format(
    "labelstudio",
    "Label Studio JSON: tasks with annotations or predictions (rectangles, polygons, key points, brushes)",
    read_labelstudio,
    write_labelstudio,
    sniff,
)

__all__ = ["FORMAT", "read_labelstudio", "write_labelstudio"]
