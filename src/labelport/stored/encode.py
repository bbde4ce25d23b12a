"""Coordinates as a COCO annotation record's fields, the way an export writes them.

``area`` is the rasterised pixel area for segmentations (as pycocotools computes it) and w x h for
plain boxes; skeletons become keypoints with ``num_keypoints``; rotated boxes their unrotated
``bbox`` plus ``attributes.rotation``; a point its one keypoint and no box.

>>> from labelport.labels import BoundingBox
>>> area_and_bbox(BoundingBox(1, 2, 3, 4), 10, 10)
(12, [1, 2, 3, 4])
"""

from __future__ import annotations

from typing import Any

from labelport import geometry
from labelport.labels import (
    Bitmask,
    BoundingBox,
    Coordinates,
    Point,
    Polygon,
    Polyline,
    RotatableBoundingBox,
    Skeleton,
)


def put_geometry(ann: dict[str, Any], c: Coordinates, width: int, height: int) -> None:
    """Write coordinates into an annotation: bbox, segmentation, keypoints and area."""
    for key in ("segmentation", "keypoints", "num_keypoints"):
        ann.pop(key, None)
    if isinstance(c, BoundingBox):
        ann["bbox"] = c.to_json()
        ann["area"] = c.w * c.h
        ann["segmentation"] = []
    elif isinstance(c, RotatableBoundingBox):
        ann["bbox"] = [c.x, c.y, c.w, c.h]
        ann["area"] = c.w * c.h
        ann["segmentation"] = []
        ann["attributes"] = {**(ann.get("attributes") or {}), "rotation": c.theta}
    elif isinstance(c, Polygon):
        rings = c.to_json()
        ann["segmentation"] = rings
        ann["bbox"] = geometry.polygons_bbox(rings)
        ann["area"] = geometry.polygon_area(rings, height, width)
    elif isinstance(c, Polyline):
        ann["segmentation"] = [c.to_json()]
        ann["bbox"] = never_empty(geometry.polygons_bbox([c.to_json()]))
        ann["area"] = 0
        ann["attributes"] = {**(ann.get("attributes") or {}), "polyline": True}
    elif isinstance(c, Bitmask):
        rle = c.to_json()
        ann["segmentation"] = rle
        ann["bbox"] = geometry.rle_bbox(rle)
        ann["area"] = geometry.rle_area(rle)
        ann["iscrowd"] = ann.get("iscrowd", 0)
    elif isinstance(c, Skeleton):
        kp = c.to_json()
        visible = [(kp[i], kp[i + 1]) for i in range(0, len(kp), 3) if kp[i + 2]]
        ann["keypoints"] = kp
        ann["num_keypoints"] = len(visible)
        if "bbox" not in ann:
            xs, ys = [p[0] for p in visible] or [0], [p[1] for p in visible] or [0]
            ann["bbox"] = never_empty([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
        ann.setdefault("area", ann["bbox"][2] * ann["bbox"][3])
    elif isinstance(c, Point):
        # A point has no box: its one keypoint is its geometry (a 0 x 0 bbox is not valid COCO).
        ann["keypoints"] = [c.x, c.y, 2]
        ann["num_keypoints"] = 1
        ann.pop("bbox", None)
        ann["area"] = 0


def never_empty(bbox: list[Any]) -> list[Any]:
    """A box around points that lie on one line is widened to 1 pixel, so it is valid COCO."""
    x, y, w, h = bbox
    return [x, y, w if w > 0 else 1, h if h > 0 else 1]


def area_and_bbox(c: Coordinates, width: int, height: int) -> tuple[float, list[Any] | None]:
    """The ``area`` and ``bbox`` an export writes for these coordinates (a point has no box)."""
    ann: dict[str, Any] = {}
    put_geometry(ann, c, width, height)
    return ann["area"], ann.get("bbox")
