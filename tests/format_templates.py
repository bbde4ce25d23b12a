"""One valid, small dataset per format (YOLO, VOC, CVAT, Label Studio), as {relative path: bytes}.

Tests break one field of a template and check what an import says about it; :func:`write` lays a
template out in a folder, and :func:`source` names what an import reads (the folder or the file).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

W, H = 40, 30


def _png(mode: str = "RGB", size: tuple[int, int] = (W, H), values: Any = None) -> bytes:
    image = Image.new(mode, size) if values is None else Image.fromarray(values, mode)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def yolo() -> dict[str, bytes]:
    return {
        "data.yaml": b"names: [cat, dog]\ntrain: images/train\n",
        "images/train/a.png": _png(),
        "labels/train/a.txt": b"0 0.5 0.5 0.25 0.5\n1 0.1 0.1 0.4 0.1 0.4 0.5\n",
    }


VOC_XML = """<annotation>
  <filename>a.png</filename>
  <size>
    <width>40</width>
    <height>30</height>
    <depth>3</depth>
  </size>
  <object>
    <name>cat</name>
    <difficult>0</difficult>
    <bndbox><xmin>2</xmin><ymin>3</ymin><xmax>12</xmax><ymax>13</ymax></bndbox>
  </object>
  <object>
    <name>dog</name>
    <bndbox><xmin>20</xmin><ymin>5</ymin><xmax>30</xmax><ymax>25</ymax></bndbox>
  </object>
</annotation>
"""


def _mask() -> bytes:
    indices = np.zeros((H, W), dtype=np.uint8)
    indices[4:12, 3:11] = 1
    indices[6:24, 21:29] = 2
    return _png("L", values=indices)


def voc() -> dict[str, bytes]:
    return {
        "Annotations/a.xml": VOC_XML.encode(),
        "ImageSets/Main/train.txt": b"a\n",
        "SegmentationObject/a.png": _mask(),
    }


CVAT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <labels>
        <label><name>cat</name><type>rectangle</type><attributes></attributes></label>
        <label><name>dog</name><type>polygon</type><attributes></attributes></label>
      </labels>
    </task>
  </meta>
  <image id="0" name="a.png" width="40" height="30">
    <box label="cat" occluded="0" source="manual" xtl="2" ytl="3" xbr="12" ybr="13" z_order="0">
    </box>
    <polygon label="dog" occluded="0" source="manual" points="20,5;30,5;30,25" z_order="0">
    </polygon>
  </image>
</annotations>
"""


def cvat() -> dict[str, bytes]:
    return {"annotations.xml": CVAT_XML.encode()}


def labelstudio_tasks() -> list[dict[str, Any]]:
    def result(kind: str, value: dict[str, Any], ident: str) -> dict[str, Any]:
        return {
            "id": ident,
            "type": kind,
            "from_name": "label",
            "to_name": "image",
            "original_width": W,
            "original_height": H,
            "image_rotation": 0,
            "value": value,
        }

    return [
        {
            "id": 1,
            "data": {"image": "/data/upload/1/a.png"},
            "annotations": [
                {
                    "id": 10,
                    "result": [
                        result(
                            "rectanglelabels",
                            {"x": 5, "y": 10, "width": 25, "height": 30, "rectanglelabels": ["cat"]},
                            "r1",
                        ),
                        result(
                            "polygonlabels",
                            {"points": [[50, 20], [75, 20], [75, 80]], "polygonlabels": ["dog"]},
                            "p1",
                        ),
                        result("keypointlabels", {"x": 10, "y": 10, "keypointlabels": ["nose"]}, "k1"),
                    ],
                }
            ],
        }
    ]


def labelstudio() -> dict[str, bytes]:
    return {"tasks.json": json.dumps(labelstudio_tasks(), indent=1).encode()}


def yolo_listed() -> dict[str, bytes]:
    """A split given as a list file, image sizes in ``images.meta``, pose lines."""
    return {
        "data.yaml": b"names: {0: person}\nkpt_shape: [2, 3]\ntrain: train.txt\n",
        "train.txt": b"images/train/a.png\n",
        "images.meta": b"train/a.png 30 40\n",
        "labels/train/a.txt": b"0 0.5 0.5 0.25 0.5 0.4 0.4 2 0.6 0.6 1\n",
    }


CVAT_VIDEO = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <name>clip</name>
      <size>10</size>
      <original_size><width>40</width><height>30</height></original_size>
      <labels><label><name>car</name><type>rectangle</type></label></labels>
    </task>
  </meta>
  <track id="0" label="car" source="manual">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="2" ytl="3" xbr="12" ybr="13" z_order="0"/>
    <box frame="1" keyframe="0" outside="1" occluded="0" xtl="2" ytl="3" xbr="12" ybr="13" z_order="0"/>
  </track>
</annotations>
"""


def cvat_video() -> dict[str, bytes]:
    return {"annotations.xml": CVAT_VIDEO.encode()}


def labelstudio_brush() -> dict[str, bytes]:
    from labelport.formats.labelstudio.rle import rle_from_mask

    mask = np.zeros((H, W), dtype=np.uint8)
    mask[2:5, 3:9] = 1
    task = labelstudio_tasks()[0]
    task["annotations"][0]["result"] = [
        {
            "id": "b1",
            "type": "brushlabels",
            "from_name": "brush",
            "to_name": "image",
            "original_width": W,
            "original_height": H,
            "value": {"format": "rle", "rle": rle_from_mask(mask), "brushlabels": ["cat"]},
        }
    ]
    return {"tasks.json": json.dumps([task]).encode()}


TEMPLATES = {"yolo": yolo, "voc": voc, "cvat": cvat, "labelstudio": labelstudio}
#: every template of each format (the first is :data:`TEMPLATES`'s)
VARIANTS = {
    "yolo": [yolo, yolo_listed],
    "voc": [voc],
    "cvat": [cvat, cvat_video],
    "labelstudio": [labelstudio, labelstudio_brush],
}
#: what an import reads, relative to the folder a template is written to ("" is the folder)
SOURCES = {"yolo": "", "voc": "", "cvat": "annotations.xml", "labelstudio": "tasks.json"}


def write(files: dict[str, bytes], folder: Path) -> Path:
    """Lay ``files`` out under ``folder``; the folder."""
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def source(fmt: str, folder: Path) -> Path:
    """What an import of ``fmt`` reads in a folder a template was written to."""
    return folder / SOURCES[fmt] if SOURCES[fmt] else folder
