"""Label rows to marks (what to draw, in image pixels), and marks to pixels with Pillow.

Every shape kind becomes one of five marks: ``polygon`` (boxes, rotated boxes and polygons, one
ring or several), ``polyline``, ``point``, ``skeleton`` (keypoints with visibility, the ontology's
edges) and ``mask`` (an RLE decoded to the pixels it covers). The browser draws the marks' JSON as
SVG; :func:`draw_marks` draws the same marks on an image for thumbnails and ``labelport render``.

>>> from labelport.ontology import Object, Shape
>>> from labelport.labels import BoundingBox
>>> box = Object("car", Shape.BOUNDING_BOX, feature_node_hash="f1")
>>> mark = mark_of(box, "o1", BoundingBox(1, 2, 3, 4))
>>> mark.kind, mark.rings
('polygon', [[1.0, 2.0, 4.0, 2.0, 4.0, 6.0, 1.0, 6.0]])
"""

from __future__ import annotations

import base64
import colorsys
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from labelport import geometry
from labelport.errors import ImageError, LabelportError
from labelport.labels import (
    Bitmask,
    BoundingBox,
    Coordinates,
    LabelRow,
    ObjectFrame,
    Point,
    Polygon,
    Polyline,
    RotatableBoundingBox,
    Skeleton,
)
from labelport.ontology import AttributeType, Object, OntologyStructure

#: The neutral canvas a unit is drawn on when its image cannot be shown.
NEUTRAL = (58, 62, 70)


#: Distinct colours for the first classes of an ontology, in its order (objects are only appended).
PALETTE = (
    "#ff7043",
    "#4fc3f7",
    "#9ccc65",
    "#ffca28",
    "#ba68c8",
    "#26a69a",
    "#f06292",
    "#7986cb",
    "#d4e157",
    "#ff8a65",
    "#4dd0e1",
    "#aed581",
    "#ffb74d",
    "#9575cd",
    "#e57373",
    "#64b5f6",
)


def class_color(obj: Object, index: int | None = None) -> str:
    """The class's colour: the ontology's own when it has one, else the palette's at the class's
    ``index`` in the ontology, else (past the palette) one derived from its feature hash.

    >>> class_color(Object("car", "bounding_box", feature_node_hash="abc", color="#112233"))
    '#112233'
    >>> class_color(Object("car", "bounding_box"), 1)
    '#4fc3f7'
    """
    if obj.color.startswith("#") and len(obj.color) == 7:
        return obj.color.lower()
    if index is not None and 0 <= index < len(PALETTE):
        return PALETTE[index]
    digest = hashlib.sha256(obj.feature_node_hash.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    lightness = 0.52 + (digest[2] % 3) * 0.06
    r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.78)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def rgb(color: str) -> tuple[int, int, int]:
    """``#rrggbb`` as a tuple.

    >>> rgb("#ff8000")
    (255, 128, 0)
    """
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@dataclass(frozen=True)
class MaskPatch:
    """The pixels of a mask inside its box: ``pixels[y, x]`` covers image pixel ``(x0 + x, y0 + y)``."""

    x0: int
    y0: int
    pixels: npt.NDArray[np.bool_]


@dataclass
class Mark:
    """One object on one frame, as it is drawn. Coordinates are image pixels."""

    object_hash: str
    feature_hash: str
    title: str
    shape: str
    color: str
    kind: str
    rings: list[list[float]] = field(default_factory=list)
    keypoints: list[tuple[float, float, int]] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    mask: MaskPatch | None = None
    card: dict[str, Any] = field(default_factory=dict)
    #: the object's attribute answers as stored (feature hashes), for filters
    answers: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The browser's form: a mask travels as a PNG of its box, in the class colour."""
        data: dict[str, Any] = {
            "object_hash": self.object_hash,
            "feature_hash": self.feature_hash,
            "title": self.title,
            "shape": self.shape,
            "color": self.color,
            "kind": self.kind,
            "card": self.card,
        }
        if self.rings:
            data["rings"] = self.rings
        if self.kind in ("point", "skeleton"):
            data["keypoints"] = [list(k) for k in self.keypoints]
            data["edges"] = [list(e) for e in self.edges]
        if self.mask is not None:
            h, w = self.mask.pixels.shape
            data["mask"] = {"x": self.mask.x0, "y": self.mask.y0, "w": w, "h": h, "png": _mask_png(self)}
        return data


def _mask_png(mark: Mark) -> str:
    assert mark.mask is not None
    pixels = mark.mask.pixels
    rgba = np.zeros((*pixels.shape, 4), np.uint8)
    rgba[pixels] = (*rgb(mark.color), 150)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG", optimize=False, compress_level=3)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _box_ring(x: float, y: float, w: float, h: float) -> list[float]:
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def mark_of(obj: Object, object_hash: str, coordinates: Coordinates, color: str | None = None) -> Mark:
    """The mark of one object's coordinates (see the module's table of kinds)."""
    color = color or class_color(obj)
    mark = Mark(object_hash, obj.feature_node_hash, obj.title, obj.shape.value, color, "polygon")
    c = coordinates
    if isinstance(c, BoundingBox):
        mark.rings = [[float(v) for v in _box_ring(c.x, c.y, c.w, c.h)]]
    elif isinstance(c, RotatableBoundingBox):
        mark.rings = [geometry.rotated_corners(c.x, c.y, c.w, c.h, c.theta)]
    elif isinstance(c, Polygon):
        mark.rings = [[float(v) for v in ring] for ring in c.rings]
    elif isinstance(c, Polyline):
        mark.kind, mark.rings = "polyline", [[float(v) for v in c.points]]
    elif isinstance(c, Point):
        mark.kind, mark.keypoints = "point", [(float(c.x), float(c.y), 2)]
    elif isinstance(c, Skeleton):
        k = c.keypoints
        mark.kind = "skeleton"
        mark.keypoints = [(float(k[i]), float(k[i + 1]), int(k[i + 2])) for i in range(0, len(k), 3)]
        n = len(mark.keypoints)  # (an edge naming a keypoint the skeleton lacks is not drawn)
        mark.edges = [(a - 1, b - 1) for a, b in obj.skeleton if 1 <= a <= n and 1 <= b <= n]
    elif isinstance(c, Bitmask):
        mark.kind, mark.mask = "mask", _patch(c)
    return mark


def _patch(mask: Bitmask) -> MaskPatch | None:
    """The mask's pixels inside its box; None when it has none, or is over the pixel limit."""
    try:
        pixels = geometry.rle_to_mask(mask.to_json()).astype(bool)
    except ImageError:
        return None
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    if not rows.size:
        return None
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return MaskPatch(x0, y0, pixels[y0:y1, x0:x1])


def _answers(obj: Object, answers: dict[str, Any]) -> dict[str, str]:
    """Attribute answers by attribute name, options by their labels (nested attributes included)."""
    shown: dict[str, str] = {}
    structure = OntologyStructure(objects=[obj])
    for attribute_hash, value in answers.items():
        try:
            attribute = structure.get_child_by_hash(attribute_hash)
        except LabelportError:
            shown[attribute_hash] = str(value)
            continue
        if getattr(attribute, "type", None) is AttributeType.TEXT:
            shown[attribute.name] = str(value)
            continue
        labels = {o.feature_node_hash: o.label for o in attribute.options}
        values = value if isinstance(value, list) else [value]
        shown[attribute.name] = ", ".join(labels.get(str(v), str(v)) for v in values)
    return shown


def _card(obj: Object, answers: dict[str, Any], f: ObjectFrame) -> dict[str, Any]:
    origin = f.origin
    return {
        "class": obj.title,
        "shape": obj.shape.value,
        "answers": _answers(obj, answers),
        "confidence": f.confidence,
        "manual": f.manual_annotation,
        "created_by": f.created_by,
        "created_at": f.created_at,
        "source": None if origin is None else origin.source,
        "annotation_id": None if origin is None else origin.key,
    }


def class_colors(structure: OntologyStructure) -> dict[str, str]:
    """Every object class's colour by feature hash."""
    return {o.feature_node_hash: class_color(o, i) for i, o in enumerate(structure.objects)}


def marks_of_row(row: LabelRow, frame: int | None = 0, colors: dict[str, str] | None = None) -> list[Mark]:
    """The marks of a label row on one frame (every frame with ``frame=None``), in the row's order.

    An imported mask is drawn as the mask it is, whatever shape its class reads it as
    (:func:`~labelport.client.stored_mask`). An object whose coordinates cannot be read (a stored record the reader refuses) is a mark of
    kind ``none`` whose card carries the error; so is an empty mask.
    """
    marks: list[Mark] = []
    for instance in row.object_instances:
        frames = instance.get_annotations() if frame is None else [instance.frames.get(frame)]
        for f in frames:
            if f is None:
                continue
            obj = instance.ontology_item
            try:
                mark = mark_of(
                    obj, instance.object_hash, f.coordinates, (colors or {}).get(obj.feature_node_hash)
                )
            except LabelportError as exc:  # drawn as nothing, said in the card (the page lists it)
                mark = Mark(
                    instance.object_hash, obj.feature_node_hash, obj.title, obj.shape.value, "", "none"
                )
                mark.card["error"] = str(exc)
            if mark.kind == "mask" and mark.mask is None:
                mark.kind = "none"
            mark.card.update(_card(obj, instance.answers, f), frame=f.frame)
            mark.answers = instance.answers
            marks.append(mark)
    return marks


#: The order marks are drawn in, as the browser does: nothing small hides under something large.
DRAW_ORDER = {"mask": 0, "polygon": 1, "polyline": 2, "skeleton": 3, "point": 4}


def draw_marks(image: Image.Image, marks: list[Mark], scale: float = 1.0) -> Image.Image:
    """The image (RGB) with the marks drawn on it, coordinates multiplied by ``scale``."""
    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    width = max(1, round(2 * min(1.0, max(scale, 0.5))))
    radius = max(2.0, 3.0 * min(scale, 1.5))
    for mark in sorted(marks, key=lambda m: DRAW_ORDER.get(m.kind, 5)):  # areas, lines, then points
        color = rgb(mark.color)
        if mark.kind == "mask" and mark.mask is not None:
            _paste_mask(overlay, mark.mask, color, scale)
        for ring in mark.rings:
            points = [(ring[i] * scale, ring[i + 1] * scale) for i in range(0, len(ring) - 1, 2)]
            if len(points) < 2:
                continue
            if mark.kind == "polygon" and len(points) >= 3:
                pen.polygon(points, fill=(*color, 60))
                pen.line([*points, points[0]], fill=(*color, 255), width=width)
            else:
                pen.line(points, fill=(*color, 255), width=width + 1)
        for a, b in mark.edges:
            if 0 <= a < len(mark.keypoints) and 0 <= b < len(mark.keypoints):
                (xa, ya, va), (xb, yb, vb) = mark.keypoints[a], mark.keypoints[b]
                if va and vb:
                    pen.line(
                        [(xa * scale, ya * scale), (xb * scale, yb * scale)], fill=(*color, 230), width=width
                    )
        for x, y, v in mark.keypoints:
            if v:
                box = (x * scale - radius, y * scale - radius, x * scale + radius, y * scale + radius)
                pen.ellipse(
                    box, fill=(*color, 255) if v == 2 else None, outline=(255, 255, 255, 255), width=1
                )
    return Image.alpha_composite(base, overlay).convert("RGB")


def _paste_mask(overlay: Image.Image, patch: MaskPatch, color: tuple[int, int, int], scale: float) -> None:
    h, w = patch.pixels.shape
    alpha = Image.fromarray(patch.pixels.astype(np.uint8) * 150, "L")
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != (w, h):
        alpha = alpha.resize(size, Image.Resampling.NEAREST)
    layer = Image.new("RGBA", size, (*color, 0))
    layer.putalpha(alpha)
    overlay.alpha_composite(layer, (round(patch.x0 * scale), round(patch.y0 * scale)))


def neutral_canvas(width: int, height: int) -> Image.Image:
    """A plain canvas of the unit's size, for units whose image cannot be read."""
    return Image.new("RGB", (width, height), NEUTRAL)
