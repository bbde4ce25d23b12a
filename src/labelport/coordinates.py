"""Geometry of one object on one frame, in pixels exactly as given (ints stay ints, floats keep every
digit), one small class per shape, and their JSON form both ways.

>>> BoundingBox(10, 20, 30, 40).normalised(100, 200)
{'top_left_x': 0.1, 'top_left_y': 0.1, 'width': 0.3, 'height': 0.2}
>>> coordinates_from_json(Shape.POINT, [3, 4])
Point(x=3, y=4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from labelport.errors import LabelError
from labelport.ontology import Shape
from labelport.plural import plural

Number = int | float


def _numbers(values: Any, what: str) -> tuple[Number, ...]:
    if not isinstance(values, (list, tuple)):
        raise LabelError(f"{what} must be a list of numbers.")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise LabelError(f"{what} must hold finite numbers only, not {v!r}.")
    return tuple(values)


@dataclass(frozen=True)
class BoundingBox:
    """An axis-aligned box in pixels: top-left corner, width and height."""

    x: Number
    y: Number
    w: Number
    h: Number
    shape: ClassVar[Shape] = Shape.BOUNDING_BOX

    def to_json(self) -> list[Number]:
        return [self.x, self.y, self.w, self.h]

    def normalised(self, width: int, height: int) -> dict[str, float]:
        return {
            "top_left_x": self.x / width,
            "top_left_y": self.y / height,
            "width": self.w / width,
            "height": self.h / height,
        }


@dataclass(frozen=True)
class RotatableBoundingBox:
    """A box in pixels turned by ``theta`` degrees clockwise about its centre."""

    x: Number
    y: Number
    w: Number
    h: Number
    theta: Number
    shape: ClassVar[Shape] = Shape.ROTATABLE_BOUNDING_BOX

    def to_json(self) -> list[Number]:
        return [self.x, self.y, self.w, self.h, self.theta]

    def normalised(self, width: int, height: int) -> dict[str, float]:
        box = BoundingBox(self.x, self.y, self.w, self.h).normalised(width, height)
        return {**box, "theta": float(self.theta)}


@dataclass(frozen=True)
class Polygon:
    """One or more rings, each a flat list ``[x1, y1, x2, y2, ...]`` in pixels."""

    rings: tuple[tuple[Number, ...], ...]
    shape: ClassVar[Shape] = Shape.POLYGON

    def to_json(self) -> list[list[Number]]:
        return [list(r) for r in self.rings]

    def normalised(self, width: int, height: int) -> list[list[dict[str, float]]]:
        return [
            [{"x": r[i] / width, "y": r[i + 1] / height} for i in range(0, len(r), 2)] for r in self.rings
        ]


@dataclass(frozen=True)
class Polyline:
    """An open line ``[x1, y1, x2, y2, ...]`` in pixels."""

    points: tuple[Number, ...]
    shape: ClassVar[Shape] = Shape.POLYLINE

    def to_json(self) -> list[Number]:
        return list(self.points)

    def normalised(self, width: int, height: int) -> list[dict[str, float]]:
        p = self.points
        return [{"x": p[i] / width, "y": p[i + 1] / height} for i in range(0, len(p), 2)]


@dataclass(frozen=True)
class Point:
    """A single point in pixels."""

    x: Number
    y: Number
    shape: ClassVar[Shape] = Shape.POINT

    def to_json(self) -> list[Number]:
        return [self.x, self.y]

    def normalised(self, width: int, height: int) -> dict[str, float]:
        return {"x": self.x / width, "y": self.y / height}


@dataclass(frozen=True)
class Skeleton:
    """Keypoints as COCO writes them: ``[x1, y1, v1, ...]``; v is 0 (absent), 1 (hidden) or 2 (visible)."""

    keypoints: tuple[Number, ...]
    shape: ClassVar[Shape] = Shape.SKELETON

    def to_json(self) -> list[Number]:
        return list(self.keypoints)

    def normalised(self, width: int, height: int) -> list[dict[str, float]]:
        k = self.keypoints
        return [
            {"x": k[i] / width, "y": k[i + 1] / height, "visibility": float(k[i + 2])}
            for i in range(0, len(k), 3)
        ]


@dataclass(frozen=True)
class Bitmask:
    """A mask as run-length encoding: ``size_hw`` and COCO counts (a compressed string or a list)."""

    size_hw: tuple[int, int]
    counts: str | tuple[int, ...]
    shape: ClassVar[Shape] = Shape.BITMASK

    def to_json(self) -> dict[str, Any]:
        counts = self.counts if isinstance(self.counts, str) else list(self.counts)
        return {"size": list(self.size_hw), "counts": counts}

    def normalised(self, width: int, height: int) -> dict[str, Any]:
        return self.to_json()


Coordinates = BoundingBox | RotatableBoundingBox | Polygon | Polyline | Point | Skeleton | Bitmask


def coordinates_from_json(shape: Shape, value: Any) -> Coordinates:
    """Rebuild coordinates of ``shape`` from their JSON form (``to_json``'s output).

    >>> coordinates_from_json(Shape.POINT, [3, 4])
    Point(x=3, y=4)
    """
    what = f"{shape.value} coordinates"
    if shape is Shape.BOUNDING_BOX:
        v = _numbers(value, what)
        if len(v) != 4:
            raise LabelError(f"{what} need 4 numbers [x, y, w, h], not {len(v)}.")
        return BoundingBox(*v)
    if shape is Shape.ROTATABLE_BOUNDING_BOX:
        v = _numbers(value, what)
        if len(v) != 5:
            raise LabelError(f"{what} need 5 numbers [x, y, w, h, theta], not {len(v)}.")
        return RotatableBoundingBox(*v)
    if shape is Shape.POLYGON:
        if not isinstance(value, list) or not value:
            raise LabelError(f"{what} need a list of rings.")
        if all(not isinstance(r, list) for r in value):
            value = [value]
        return Polygon(tuple(_numbers(r, what) for r in value))
    if shape is Shape.POLYLINE:
        return Polyline(_numbers(value, what))
    if shape is Shape.POINT:
        v = _numbers(value, what)
        if len(v) != 2:
            raise LabelError(f"{what} need 2 numbers [x, y], not {len(v)}.")
        return Point(*v)
    if shape is Shape.SKELETON:
        v = _numbers(value, what)
        if len(v) % 3:
            raise LabelError(
                f"{what} need [x, y, v] triples; {plural(len(v), 'number')} is not a multiple of 3."
            )
        return Skeleton(v)
    if not isinstance(value, dict) or "size" not in value or "counts" not in value:
        raise LabelError(f"{what} need an RLE object with 'size' and 'counts'.")
    h, w = value["size"]
    counts = value["counts"]
    return Bitmask((int(h), int(w)), counts if isinstance(counts, str) else tuple(counts))
