"""Pascal VOC: one XML per image, and instance/class PNGs for masks; see :mod:`.read` and :mod:`.write`."""

from __future__ import annotations

from pathlib import Path

from labelport.formats.base import Format
from labelport.formats.voc.read import read_voc, voc_root
from labelport.formats.voc.write import write_voc


def sniff(path: Path) -> bool:
    """A folder with an ``Annotations`` folder of XML files, in it or in its folders (or that folder itself)."""
    root = voc_root(path) if path.is_dir() else None
    return root is not None and any((root / "Annotations").rglob("*.xml"))


FORMAT = Format(
    "voc",
    "Pascal VOC: Annotations/*.xml, ImageSets/Main/*.txt, SegmentationObject/ and SegmentationClass/ PNGs",
    read_voc,
    write_voc,
    sniff,
    folder=True,
)

__all__ = ["FORMAT", "read_voc", "write_voc"]
