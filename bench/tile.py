"""A COCO file N times as large as another, written as it is read: the benchmark's 10x scale.

make_coco.py holds a whole file in memory while it writes it, which at ten times train2017 would
not fit here; tiling the full-scale file instead gives the same shape at any size. Copy k of every
image and annotation gets its ids moved past the previous copy's, and its image a file name under
``tile<k>/``, so every id and file name stays unique.

>>> # tile(Path("coco_120000.json"), Path("coco_1200000.json"), 10) -> (1_200_000, 8_610_680)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec


class _Document(msgspec.Struct):
    images: list[msgspec.Raw] = []
    annotations: list[msgspec.Raw] = []
    categories: msgspec.Raw = msgspec.Raw(b"[]")
    info: msgspec.Raw = msgspec.Raw(b"{}")
    licenses: msgspec.Raw = msgspec.Raw(b"[]")


class _Ids(msgspec.Struct):
    id: int
    image_id: int = 0


def tile(source: Path, target: Path, times: int) -> tuple[int, int]:
    """Write ``target``: ``source`` with its images and annotations ``times`` over. Returns the
    counts of images and annotations written."""
    doc = msgspec.json.decode(source.read_bytes(), type=_Document)
    ids = msgspec.json.Decoder(list[_Ids])
    image_step = 1 + max(i.id for i in ids.decode(b"[" + b",".join(doc.images) + b"]"))
    annotation_step = 1 + max(a.id for a in ids.decode(b"[" + b",".join(doc.annotations) + b"]"))
    decode, encode = msgspec.json.Decoder().decode, msgspec.json.Encoder().encode
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as out:
        out.write(b'{"info":' + bytes(doc.info) + b',"licenses":' + bytes(doc.licenses) + b',"images":[')
        first = True
        for k in range(times):
            for raw in doc.images:
                image: dict[str, Any] = decode(raw)
                image["id"] += k * image_step
                image["file_name"] = f"tile{k}/{image['file_name']}"
                out.write((b"" if first else b",") + encode(image))
                first = False
        out.write(b'],"annotations":[')
        first = True
        for k in range(times):
            for raw in doc.annotations:
                ann: dict[str, Any] = decode(raw)
                ann["id"] += k * annotation_step
                ann["image_id"] += k * image_step
                out.write((b"" if first else b",") + encode(ann))
                first = False
        out.write(b'],"categories":' + bytes(doc.categories) + b"}")
    partial.replace(target)
    return len(doc.images) * times, len(doc.annotations) * times
