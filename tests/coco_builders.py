"""Small COCO documents built in code: one valid template, its variants, and the project they land in.

The template has two images (``a.jpg``, ``b.jpg``), one frame of a video (``clip.mp4`` frame 2), four
categories and one valid annotation of each form (box, polygon, uncompressed RLE, keypoints) plus a box
on the video frame. Data units are PNG-free: ``project.add_data([(title, w, h[, frames]), ...])``.

>>> coco = coco_template()
>>> [a["id"] for a in coco["annotations"]]
[1, 2, 3, 4, 5]
>>> broken = with_value(coco, "annotations[0].bbox[2]", 0)
>>> broken["annotations"][0]["bbox"], coco["annotations"][0]["bbox"]
([2, 3, 0, 8], [2, 3, 10, 8])
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from labelport import Attribute, AttributeType, Object, OntologyStructure, Option, Project, Shape, UserClient

W, H = 64, 48
VIDEO = ("clip.mp4", W, H, 10)
DATA: tuple[tuple[Any, ...], ...] = (("a.jpg", W, H), ("b.jpg", W, H), VIDEO)
KEYPOINT_NAMES = ["nose", "left_eye", "right_eye"]
SKELETON_EDGES = [[1, 2], [1, 3]]

#: Marks a path to delete in :func:`with_value`.
DELETE = object()


class RawJson:
    """A value written into the JSON text verbatim (``RawJson("1e999")`` decodes to infinity)."""

    def __init__(self, text: str) -> None:
        self.text = text


# -- masks -------------------------------------------------------------------------------------------


def box_mask(y0: int, y1: int, x0: int, x1: int, height: int = H, width: int = W) -> np.ndarray:
    """A (height, width) uint8 mask with rows y0..y1-1 and columns x0..x1-1 set."""
    mask = np.zeros((height, width), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's uncompressed RLE of a mask: column-major runs, starting with a run of zeros."""
    flat = mask.flatten(order="F")
    runs: list[int] = []
    value, run = 0, 0
    for pixel in flat.tolist():
        if pixel == value:
            run += 1
        else:
            runs.append(run)
            value, run = pixel, 1
    runs.append(run)
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": runs}


def compressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's compressed RLE (a counts string), made by pycocotools."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


def segmentation_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """Rasterise a COCO segmentation (polygon rings, flat list or RLE) as pycocotools does."""
    if isinstance(segmentation, list):
        rings = segmentation if segmentation and isinstance(segmentation[0], list) else [segmentation]
        rle = mask_utils.merge(mask_utils.frPyObjects(rings, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode()}
    with warnings.catch_warnings():
        # pycocotools' decode hands numpy an __array__ without the ``copy`` keyword (numpy 2 warns)
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return np.asarray(mask_utils.decode(rle), dtype=np.uint8)


# -- annotations and documents -----------------------------------------------------------------------


def image(image_id: int, file_name: str, width: int = W, height: int = H, **extra: Any) -> dict[str, Any]:
    return {"id": image_id, "file_name": file_name, "width": width, "height": height, **extra}


def box_ann(ann_id: int, image_id: int, category_id: int, bbox: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": bbox,
        "area": bbox[2] * bbox[3],
        "iscrowd": 0,
        **extra,
    }


def polygon_ann(ann_id: int, image_id: int, category_id: int, rings: Any, **extra: Any) -> dict[str, Any]:
    flat = rings if rings and not isinstance(rings[0], list) else [v for r in rings for v in r]
    xs, ys = flat[0::2], flat[1::2]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": rings,
        "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
        "area": 20.0,
        "iscrowd": 0,
        **extra,
    }


def rle_ann(
    ann_id: int, image_id: int, category_id: int, rle: dict[str, Any], iscrowd: int = 1, **extra: Any
) -> dict[str, Any]:
    compressed = rle if isinstance(rle["counts"], str) else mask_utils.frPyObjects(rle, *rle["size"])
    if isinstance(compressed["counts"], str):
        compressed = {"size": compressed["size"], "counts": compressed["counts"].encode()}
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": rle,
        "bbox": [float(v) for v in mask_utils.toBbox(compressed)],
        "area": int(mask_utils.area(compressed)),
        "iscrowd": iscrowd,
        **extra,
    }


def keypoints_ann(
    ann_id: int, image_id: int, category_id: int, keypoints: list[float], **extra: Any
) -> dict[str, Any]:
    visible = [(keypoints[i], keypoints[i + 1]) for i in range(0, len(keypoints), 3) if keypoints[i + 2]]
    xs, ys = [p[0] for p in visible], [p[1] for p in visible]
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "keypoints": keypoints,
        "num_keypoints": len(visible),
        "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
        "area": 100,
        "iscrowd": 0,
        **extra,
    }


def coco_template() -> dict[str, Any]:
    """The one valid template: every variant in the tests starts here."""
    return {
        "info": {"description": "template", "year": 2024},
        "licenses": [{"id": 1, "name": "CC BY 4.0", "url": ""}],
        "images": [
            image(1, "a.jpg"),
            image(2, "b.jpg"),
            image(3, "clip.mp4/2.jpg", video_title="clip.mp4", frame=2),
        ],
        "categories": [
            {"id": 1, "name": "box", "supercategory": "thing"},
            {"id": 2, "name": "poly", "supercategory": "thing"},
            {"id": 3, "name": "mask", "supercategory": "stuff"},
            {
                "id": 4,
                "name": "person",
                "supercategory": "person",
                "keypoints": list(KEYPOINT_NAMES),
                "skeleton": copy.deepcopy(SKELETON_EDGES),
            },
        ],
        "annotations": [
            box_ann(1, 1, 1, [2, 3, 10, 8]),
            polygon_ann(2, 1, 2, [[10, 10, 30, 10, 30, 20, 10, 20]]),
            rle_ann(3, 2, 3, uncompressed_rle(box_mask(5, 15, 20, 40))),
            keypoints_ann(4, 2, 4, [10, 10, 2, 12, 8, 2, 8, 8, 1]),
            box_ann(5, 3, 1, [1, 1, 5, 5]),
        ],
    }


def template_ontology() -> OntologyStructure:
    """Objects titled like the template's categories, each in the shape its annotations carry."""
    return OntologyStructure(
        objects=[
            Object(
                title="box",
                shape=Shape.BOUNDING_BOX,
                attributes=[
                    Attribute(name="note", type=AttributeType.TEXT),
                    Attribute(
                        name="colour",
                        type=AttributeType.RADIO,
                        options=[Option(label="Red"), Option(label="Dark Blue")],
                    ),
                ],
            ),
            Object(title="poly", shape=Shape.POLYGON),
            Object(title="mask", shape=Shape.BITMASK),
            Object(
                title="person",
                shape=Shape.SKELETON,
                keypoints=list(KEYPOINT_NAMES),
                skeleton=[(a, b) for a, b in SKELETON_EDGES],
            ),
        ]
    )


def make_project(
    client: UserClient,
    title: str = "coco",
    *,
    ontology: OntologyStructure | None = None,
    data: tuple[tuple[Any, ...], ...] = DATA,
) -> Project:
    """A project over ``ontology`` (the template's by default) with PNG-free data units."""
    project = client.create_project(title, ontology=ontology or template_ontology())
    if data:
        project.add_data(list(data))
    return project


_STEP = re.compile(r"\.?([A-Za-z_]\w*)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def with_value(doc: Any, path: str, value: Any) -> Any:
    """A deep copy of ``doc`` with the value at a JSON path (``annotations[0].bbox[2]``) replaced.

    ``value`` :data:`DELETE` removes the key instead.
    """
    out = copy.deepcopy(doc)
    *parents, last = _steps(path)
    node = out
    for step in parents:
        node = node[step]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out


def to_bytes(doc: Any) -> bytes:
    """JSON bytes of a document; :class:`RawJson` values are written verbatim."""
    raws: list[str] = []

    def default(value: Any) -> str:
        if isinstance(value, RawJson):
            raws.append(value.text)
            return f"\x00raw{len(raws) - 1}\x00"
        raise TypeError(f"cannot encode {value!r}")

    text = json.dumps(doc, default=default)
    for n, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{n}\x00"), raw)
    return text.encode()


def write_json(path: Path, doc: Any) -> Path:
    path.write_bytes(to_bytes(doc))
    return path


# -- reading the store back ----------------------------------------------------------------------------


def objects_by_title(project: Project, branch: str | None = None) -> dict[str, list[Any]]:
    """Data unit title -> its object instances on ``branch``."""
    return {
        row.data_title: row.get_object_instances() for row in project.list_label_rows_v2(branch_name=branch)
    }


def object_count(project: Project, branch: str | None = None) -> int:
    """Object frames stored on a branch (an instance on three frames counts three)."""
    return sum(len(o.frames) for rows in objects_by_title(project, branch).values() for o in rows)


def store_rows(home: Path) -> dict[str, int]:
    """Row counts of the embedded store's tables, read with sqlite3 directly."""
    with closing(sqlite3.connect(home / "labelport.db")) as db:
        return {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("data_units", "label_rows", "objects", "sources", "imports")
        }
