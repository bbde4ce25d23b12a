"""Coordinates from stored geometry: its JSON, or the COCO annotation record it came in (as imported).

An imported annotation is stored once, as its original record. Its coordinates for the ontology
object's shape are read from that record on demand, converting when the record's form differs from
the shape (a polygon read as a box, a mask read as a polygon, ...). :func:`conversion` names the
conversion, for the import report.

>>> from labelport.ontology import Shape
>>> coordinates_from_record(Shape.BOUNDING_BOX, b'{"bbox": [1, 2, 3, 4]}', 10, 10)
BoundingBox(x=1, y=2, w=3, h=4)
>>> coordinates_from_record(Shape.BOUNDING_BOX, b'{"segmentation": [[1, 1, 5, 1, 5, 4]]}', 10, 10)
BoundingBox(x=1, y=1, w=4, h=3)
>>> stored_coordinates(Shape.POINT, b"[3, 4]", None, 10, 10)
Point(x=3, y=4)
"""

from __future__ import annotations

from typing import Any

from labelport import geometry
from labelport.errors import LabelError
from labelport.labels import (
    Bitmask,
    BoundingBox,
    Coordinates,
    Point,
    Polygon,
    Polyline,
    RotatableBoundingBox,
    Skeleton,
    coordinates_from_json,
)
from labelport.ontology import Shape
from labelport.stored.codec import decoder


def form_of(segmentation: Any) -> str | None:
    """The form of a COCO segmentation value: polygon, flat_polygon, rle, rle_compressed, or None."""
    if isinstance(segmentation, dict):
        return "rle_compressed" if isinstance(segmentation.get("counts"), str) else "rle"
    if isinstance(segmentation, list) and segmentation:
        return "polygon" if isinstance(segmentation[0], list) else "flat_polygon"
    return None


#: The record form each shape reads without converting.
NATIVE = {
    Shape.BOUNDING_BOX: {"bbox"},
    Shape.ROTATABLE_BOUNDING_BOX: {"bbox"},
    Shape.POLYGON: {"polygon", "flat_polygon"},
    Shape.POLYLINE: set(),
    Shape.POINT: set(),
    Shape.SKELETON: {"keypoints"},
    Shape.BITMASK: {"rle", "rle_compressed"},
}


def conversion(shape: Shape, forms: list[str]) -> str | None:
    """The conversion reading ``shape`` from a record with these forms needs, e.g. "polygon->bitmask".

    ``forms`` lists what the record carries, most specific first (segmentation form, keypoints, bbox).
    """
    if not forms or forms[0] in NATIVE[shape] or (shape is Shape.BOUNDING_BOX and "bbox" in forms):
        return None
    if shape is Shape.SKELETON and "keypoints" in forms:
        return None
    source = forms[0].replace("flat_polygon", "polygon").replace("rle_compressed", "rle")
    return f"{source}->{shape.value}"


def _rings(segmentation: Any) -> list[list[float]]:
    return segmentation if isinstance(segmentation[0], list) else [segmentation]


def coordinates_from_record(shape: Shape, record: bytes, width: int, height: int) -> Coordinates:
    """The coordinates of ``shape`` that a COCO annotation record carries (converted when need be)."""
    ann: dict[str, Any] = decoder.decode(record)
    bbox = ann.get("bbox")
    seg: Any = ann.get("segmentation")
    form = form_of(seg)
    keypoints = ann.get("keypoints") or None
    if shape is Shape.SKELETON:
        if keypoints is None:
            raise LabelError("a skeleton needs keypoints; this annotation has none.")
        return Skeleton(tuple(keypoints))
    if bbox is None or len(bbox) != 4:
        if form in ("polygon", "flat_polygon"):
            bbox = geometry.polygons_bbox(_rings(seg))
        elif form is not None:
            bbox = geometry.rle_bbox(seg)
        elif keypoints is not None:
            visible = [
                (keypoints[i], keypoints[i + 1]) for i in range(0, len(keypoints), 3) if keypoints[i + 2]
            ]
            xs, ys = [p[0] for p in visible] or [0], [p[1] for p in visible] or [0]
            bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        else:
            raise LabelError("this annotation carries no geometry.")
    x, y, w, h = bbox
    if shape is Shape.BOUNDING_BOX:
        return BoundingBox(x, y, w, h)
    if shape is Shape.ROTATABLE_BOUNDING_BOX:
        attributes = ann.get("attributes") or {}
        return RotatableBoundingBox(x, y, w, h, attributes.get("rotation", 0))
    if shape is Shape.POLYGON:
        if form in ("polygon", "flat_polygon"):
            return Polygon(tuple(tuple(r) for r in _rings(seg)))
        if form is not None:
            rings = geometry.mask_to_polygons(geometry.rle_to_mask(seg))
            return Polygon(tuple(tuple(r) for r in rings))
        return Polygon(((x, y, x + w, y, x + w, y + h, x, y + h),))
    if shape is Shape.BITMASK:
        if form in ("rle", "rle_compressed"):
            h_, w_ = seg["size"]
            counts = seg["counts"]
            return Bitmask((int(h_), int(w_)), counts if isinstance(counts, str) else tuple(counts))
        if form is not None:
            rle = geometry.rle_from_polygons(_rings(seg), height, width)
        else:
            rle = geometry.rle_from_box(bbox, height, width)
        return Bitmask((height, width), rle["counts"])
    if shape is Shape.POLYLINE:
        if form in ("polygon", "flat_polygon"):
            return Polyline(tuple(_rings(seg)[0]))
        return Polyline((x, y, x + w, y, x + w, y + h, x, y + h))
    if keypoints is not None:
        for i in range(0, len(keypoints), 3):
            if keypoints[i + 2]:
                return Point(keypoints[i], keypoints[i + 1])
    return Point(x + w / 2, y + h / 2)


def stored_coordinates(
    shape: Shape, geometry_json: bytes | None, record: bytes | None, width: int, height: int
) -> Coordinates:
    """The coordinates an object stores: its geometry's JSON, else those of its source record."""
    if geometry_json is not None:
        return coordinates_from_json(shape, decoder.decode(geometry_json))
    if record is None:
        raise LabelError("this object stores no geometry.")
    return coordinates_from_record(shape, bytes(record), width, height)
