"""Pure functions on boxes, polygons and masks. pycocotools does the RLE and mask maths.

Masks are ``uint8`` arrays of shape (height, width). RLE objects are COCO's: ``{"size": [h, w],
"counts": ...}``, counts either a compressed string or a list of run lengths (column-major).

>>> rle = rle_from_polygons([[0, 0, 4, 0, 4, 2, 0, 2]], height=5, width=6)
>>> rle_area(rle), rle_bbox(rle)
(8, [0.0, 0.0, 4.0, 2.0])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from labelport.errors import ImageError
from labelport.limits import MAX_IMAGE_PIXELS

Rle = dict[str, Any]


def _compressed(rle: Rle) -> Rle:
    """A compressed RLE (bytes counts, as pycocotools wants) from either form."""
    counts = rle["counts"]
    h, w = rle["size"]
    if isinstance(counts, list):
        return dict(mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w))
    return {"size": [h, w], "counts": counts.encode() if isinstance(counts, str) else counts}


def rle_to_json(rle: Rle) -> Rle:
    """An RLE with a text counts string, ready for JSON."""
    counts = rle["counts"]
    return {
        "size": [int(v) for v in rle["size"]],
        "counts": counts.decode() if isinstance(counts, bytes) else counts,
    }


#: how far outside the image (pixels) a polygon may reach before it is clipped for rasterising:
#: pycocotools walks every pixel of an edge's length (memory grows with it; far enough, it crashes)
RASTER_MARGIN = 1024


def rle_from_polygons(rings: Sequence[Sequence[float]], height: int, width: int) -> Rle:
    """Rasterise polygon rings (flat xy lists) into one compressed RLE, as pycocotools does.

    A ring reaching more than :data:`RASTER_MARGIN` pixels outside the image is first clipped to the
    image and that margin (what falls inside the image is the same), so a vertex at ``1e300`` costs
    what one at the margin does:

    >>> rle_area(rle_from_polygons([[0, 0, 1e300, 0, 1e300, 2, 0, 2]], height=5, width=6))
    12
    """
    clipped = [_clip_ring(list(map(float, r)), width, height) for r in rings]
    kept = [r for r in clipped if len(r) >= 6]
    if not kept:
        return rle_from_mask(np.zeros((height, width), dtype=np.uint8))
    return rle_to_json(mask_utils.merge(mask_utils.frPyObjects(kept, height, width)))


def _clip_ring(ring: list[float], width: int, height: int) -> list[float]:
    """The ring clipped (Sutherland-Hodgman) to the image and :data:`RASTER_MARGIN` around it; the ring
    itself when it lies within."""
    low_x, low_y = -RASTER_MARGIN, -RASTER_MARGIN
    high_x, high_y = width + RASTER_MARGIN, height + RASTER_MARGIN
    xs, ys = ring[0::2], ring[1::2]
    if not xs or (min(xs) >= low_x and max(xs) <= high_x and min(ys) >= low_y and max(ys) <= high_y):
        return ring
    points = list(zip(xs, ys, strict=False))
    for axis, bound, keep_below in (
        (0, low_x, False),
        (0, high_x, True),
        (1, low_y, False),
        (1, high_y, True),
    ):
        points = _clip_side(points, axis, bound, keep_below)
    return [v for point in points for v in point]


def _clip_side(
    points: list[tuple[float, float]], axis: int, bound: float, keep_below: bool
) -> list[tuple[float, float]]:
    """The polygon ``points`` cut by the line ``point[axis] == bound``, keeping the side it names."""

    def inside(p: tuple[float, float]) -> bool:
        return p[axis] <= bound if keep_below else p[axis] >= bound

    out: list[tuple[float, float]] = []
    for i, current in enumerate(points):
        previous = points[i - 1]
        if inside(current) != inside(previous):
            t = (bound - previous[axis]) / (current[axis] - previous[axis])
            other = previous[1 - axis] + t * (current[1 - axis] - previous[1 - axis])
            out.append((bound, other) if axis == 0 else (other, bound))
        if inside(current):
            out.append(current)
    return out


def rle_from_box(bbox_xywh: Sequence[float], height: int, width: int) -> Rle:
    """Rasterise an axis-aligned box into a compressed RLE."""
    x, y, w, h = map(float, bbox_xywh)
    return rle_from_polygons([[x, y, x + w, y, x + w, y + h, x, y + h]], height, width)


def rle_from_mask(mask: npt.NDArray[np.uint8]) -> Rle:
    """Compressed RLE of a (height, width) mask."""
    return rle_to_json(mask_utils.encode(np.asfortranarray(mask.astype(np.uint8))))


def rle_to_mask(rle: Rle) -> npt.NDArray[np.uint8]:
    """The (height, width) mask of an RLE in either form; an :class:`~labelport.errors.ImageError`
    (``image_pixels``) when it would be over :data:`~labelport.limits.MAX_IMAGE_PIXELS` pixels."""
    size = rle.get("size")
    if isinstance(size, (list, tuple)) and len(size) == 2 and int(size[0]) * int(size[1]) > MAX_IMAGE_PIXELS:
        raise ImageError(
            "image_pixels",
            f"a mask over a {int(size[1]):,}x{int(size[0]):,} image is not decoded: labelport decodes "
            f"masks of at most {MAX_IMAGE_PIXELS:,} pixels.",
        )
    with warnings.catch_warnings():
        # pycocotools' decode hands numpy an __array__ without the ``copy`` keyword (numpy 2 warns)
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return np.asarray(mask_utils.decode(_compressed(rle)), dtype=np.uint8)


def rle_compress(rle: Rle) -> Rle:
    """The compressed (string counts) form of an RLE."""
    return rle_to_json(_compressed(rle))


def rle_uncompress(rle: Rle) -> Rle:
    """The uncompressed (list counts) form of an RLE: column-major runs starting with zeros."""
    if isinstance(rle["counts"], list):
        return rle
    flat = rle_to_mask(rle).flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        runs = [0, *runs]
    return {"size": [int(v) for v in rle["size"]], "counts": runs}


def rle_area(rle: Rle) -> int:
    """Pixel area of an RLE, as pycocotools computes it."""
    return int(mask_utils.area(_compressed(rle)))


def rle_bbox(rle: Rle) -> list[float]:
    """[x, y, w, h] of an RLE's pixels, as pycocotools computes it."""
    return [float(v) for v in mask_utils.toBbox(_compressed(rle))]


def polygon_area(rings: Sequence[Sequence[float]], height: int, width: int) -> int:
    """Pixel area of polygon rings after rasterisation (what COCO tools report)."""
    return rle_area(rle_from_polygons(rings, height, width))


def polygons_bbox(rings: Sequence[Sequence[float]]) -> list[float]:
    """[x, y, w, h] of the points of polygon rings."""
    xs = [v for r in rings for v in r[0::2]]
    ys = [v for r in rings for v in r[1::2]]
    x0, y0 = min(xs), min(ys)
    return [x0, y0, max(xs) - x0, max(ys) - y0]


def join_rings(rings: Sequence[Sequence[float]]) -> list[float]:
    """One ring through every point of several: for formats with one polygon an object (YOLO segment).

    Each ring after the first is reached from the one before by the shortest segment between their
    points; the walk goes round a ring, out along that segment, round the next ring and back along the
    same segment, so every ring is kept whole and the connecting segments enclose no area (the idea
    of Ultralytics' COCO converter). The joined ring has every point of the parts, so its box is theirs.

    >>> join_rings([[0, 0, 2, 0, 2, 2], [5, 0, 7, 0, 7, 2]])
    [2, 0, 5, 0, 7, 0, 7, 2, 5, 0, 2, 0, 2, 2, 0, 0]
    """
    points = [np.asarray(ring, dtype=np.float64).reshape(-1, 2) for ring in rings]
    # ends[k] = (where ring k is entered, where it leaves for ring k + 1)
    enter, leave = [0] * len(points), [0] * len(points)
    for k in range(1, len(points)):
        leave[k - 1], enter[k] = _closest(points[k - 1], points[k])
    order: list[tuple[int, int]] = []  # (ring, point index) in walking order

    def walk(k: int) -> None:
        n = len(points[k])
        for step in range(n + 1):  # round the ring, back to where it was entered
            i = (enter[k] + step) % n
            order.append((k, i))
            if k + 1 < len(points) and i == leave[k] and step < n:
                walk(k + 1)
                order.append((k, i))  # back along the connecting segment

    if len(points) > 1:
        enter[0] = leave[0]  # start where the first ring leaves, so each part is closed once
        walk(0)
        order.pop()  # the last point is the first: a ring closes itself
    else:
        order = [(0, i) for i in range(len(points[0]))]
    return [v for k, i in order for v in rings[k][2 * i : 2 * i + 2]]


def _closest(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> tuple[int, int]:
    """(i, j): the closest pair of a point a[i] and a point b[j], compared in slices of a few million
    pairs at a time (memory stays flat for rings of any length)."""
    best, found = math.inf, (0, 0)
    step = max(1, (1 << 22) // len(b))
    for start in range(0, len(a), step):
        gaps = ((a[start : start + step, None, :] - b[None, :, :]) ** 2).sum(axis=2)
        flat = int(gaps.argmin())
        i, j = divmod(flat, len(b))
        if gaps[i, j] < best:
            best, found = float(gaps[i, j]), (start + i, j)
    return found


def compressed_counts_total(counts: str) -> int:
    """Sum of the run lengths in a compressed RLE counts string (pycocotools' LEB128-like code).

    >>> compressed_counts_total(rle_from_polygons([[0, 0, 2, 0, 2, 2]], 4, 4)["counts"])
    16
    """
    total = 0
    index = 0
    previous: list[int] = []
    data = counts.encode()
    n = len(data)
    while index < n:
        value = 0
        shift = 0
        more = True
        while more:
            if index >= n:
                raise ValueError("the counts string ends in the middle of a run")
            c = data[index] - 48
            if c < 0 or c > 63:
                raise ValueError(f"byte {index} of the counts string is not an RLE character")
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            index += 1
            shift += 1
            if not more and (c & 0x10):
                value |= -1 << (5 * shift)
        if len(previous) > 2:
            value += previous[-2]
        previous.append(value)
        if value < 0:
            raise ValueError("the counts string decodes to a negative run")
        total += value
    return total


def rotated_corners(x: float, y: float, w: float, h: float, theta_degrees: float) -> list[float]:
    """The four corners (flat xy) of a box turned by theta degrees clockwise about its centre."""
    cx, cy = x + w / 2, y + h / 2
    t = math.radians(theta_degrees)
    cos_t, sin_t = math.cos(t), math.sin(t)
    out: list[float] = []
    for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)):
        out += [cx + dx * cos_t - dy * sin_t, cy + dx * sin_t + dy * cos_t]
    return out


def mask_to_polygons(mask: npt.NDArray[np.uint8]) -> list[list[float]]:
    """Outline polygons of a mask: one ring per 4-connected region, tracing pixel borders.

    Each ring follows the outer border of a region along pixel edges, so rasterising it again gives
    the region back (holes are not represented: a polygon cannot carry them; the report says so).

    >>> m = np.zeros((4, 4), np.uint8); m[1:3, 1:3] = 1
    >>> mask_to_polygons(m)
    [[1.0, 1.0, 3.0, 1.0, 3.0, 3.0, 1.0, 3.0]]
    """
    binary = np.pad(mask.astype(bool), 1)
    labels = _label_regions(binary)
    rings = []
    for region in range(1, int(labels.max()) + 1):
        ring = _trace(labels == region)
        if len(ring) >= 6:
            rings.append(ring)
    return rings


def _label_regions(binary: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """4-connected component labels (a small flood fill; masks here are object-sized)."""
    labels = np.zeros(binary.shape, np.int32)
    current = 0
    ys, xs = np.nonzero(binary)
    for y0, x0 in zip(ys.tolist(), xs.tolist(), strict=True):
        if labels[y0, x0]:
            continue
        current += 1
        stack = [(y0, x0)]
        labels[y0, x0] = current
        while stack:
            y, x = stack.pop()
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if binary[ny, nx] and not labels[ny, nx]:
                    labels[ny, nx] = current
                    stack.append((ny, nx))
    return labels


def _trace(region: npt.NDArray[np.bool_]) -> list[float]:
    """Walk the outer border of one region along pixel edges (padded coordinates, shifted back)."""
    ys, xs = np.nonzero(region)
    start_y, start_x = int(ys.min()), int(xs[ys == ys.min()].min())

    def filled(y: int, x: int) -> bool:
        return bool(region[y, x])

    # Corner coordinates: pixel (y, x) spans corners (x, y)..(x+1, y+1). Walk with the region on the right.
    x, y = start_x, start_y
    direction = (1, 0)
    points: list[tuple[int, int]] = [(x, y)]
    turns = {
        (1, 0): ((0, -1), (0, 1)),
        (0, 1): ((1, 0), (-1, 0)),
        (-1, 0): ((0, 1), (0, -1)),
        (0, -1): ((-1, 0), (1, 0)),
    }
    for _ in range(4 * region.size + 4):
        dx, dy = direction
        # Pixels ahead-left and ahead-right of the edge we stand on, in walking direction.
        if direction == (1, 0):
            left, right = filled(y - 1, x), filled(y, x)
        elif direction == (0, 1):
            left, right = filled(y, x), filled(y, x - 1)
        elif direction == (-1, 0):
            left, right = filled(y, x - 1), filled(y - 1, x - 1)
        else:
            left, right = filled(y - 1, x - 1), filled(y - 1, x)
        if left:
            direction = turns[direction][0]
        elif not right:
            direction = turns[direction][1]
        dx, dy = direction
        x, y = x + dx, y + dy
        if (x, y) == points[0]:
            break
        points.append((x, y))
    simplified = [p for i, p in enumerate(points) if _is_corner(points, i)]
    return [float(v - 1) for p in simplified for v in p]


def _is_corner(points: list[tuple[int, int]], i: int) -> bool:
    a, b, c = points[i - 1], points[i], points[(i + 1) % len(points)]
    return (b[0] - a[0], b[1] - a[1]) != (c[0] - b[0], c[1] - b[1])
