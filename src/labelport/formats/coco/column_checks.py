"""The fast path of a COCO import's validation: prove a whole slice clean at once, with a strict
typed decode and numpy column checks, or send it to the exact, per-annotation path
(:func:`labelport.formats.coco.chunks.validate_chunk`)."""

from __future__ import annotations

from collections import Counter
from itertools import repeat
from typing import Any

import msgspec
import numpy as np

from labelport.formats.coco import schema
from labelport.formats.coco.flat_polygons import WHITESPACE, polygons
from labelport.formats.coco.read import join_raw
from labelport.formats.coco.slices import ChunkResult, Context
from labelport.formats.coco.validate import check_keypoints, check_rle
from labelport.stored.ids import ID_MAX, ID_MIN


class _Unusual(Exception):
    """Raised inside the fast path: this chunk needs the exact, per-annotation path."""


def _unusual(*_args: Any) -> None:
    raise _Unusual


def clean_chunk(
    ctx: Context, chunk: list[msgspec.Raw] | None, start: int, array: bytes | None = None
) -> ChunkResult | None:
    """The fast path: prove a whole slice clean with a strict typed decode and column checks, or
    return None.

    It accepts only what the exact path would accept with no error and no warning (ground truth
    without scores, tracks or attributes; every id, image and category known; every box and polygon
    inside its image; every geometry valid). Anything else, even a warning, sends the slice to
    :func:`validate_chunk`'s per-annotation path, which reports it precisely. Both paths import the
    same rows and count the same evidence.
    """
    if ctx.results or ctx.confidence_field != "score":
        return None
    data = join_raw(chunk) if chunk is not None else array
    assert data is not None, "a slice comes as its records or as their JSON"
    try:
        anns = schema.clean_annotations_decoder.decode(data)
    except schema.RECORD_ERRORS:
        return None
    if not anns:
        return None
    plan, missing = ctx.plan, schema.MISSING
    ids = [a.id for a in anns]
    if min(ids) < ID_MIN or max(ids) > ID_MAX:
        return None
    image_ids = [a.image_id for a in anns]
    cat_ids = [a.category_id for a in anns]
    try:
        images = list(map(plan.images.__getitem__, image_ids))
        cats = list(map(plan.cats.__getitem__, cat_ids))
    except KeyError:
        return None
    if (
        len(set(ids)) != len(ids)
        or not {a.iscrowd for a in anns} <= {0, 1}
        or any(
            a.score is not missing
            or a.track_id is not missing
            or (a.attributes is not missing and a.attributes is not None)
            for a in anns
        )
    ):
        return None
    width = np.fromiter((i.width for i in images), np.float64, len(images))
    height = np.fromiter((i.height for i in images), np.float64, len(images))
    box = np.array([a.bbox for a in anns], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # x + w beyond float range is not inside
        inside = (
            (box[:, 2] > 0)
            & (box[:, 3] > 0)
            & (box[:, 0] >= 0)
            & (box[:, 1] >= 0)
            & (box[:, 0] + box[:, 2] <= width)
            & (box[:, 1] + box[:, 3] <= height)
        )
    if not inside.all():
        return None
    geometry = _geometry(anns, images, cats, width, height)
    if geometry is None:
        return None
    forms, keypoint_counts = geometry
    evidence = Counter(zip(cat_ids, forms, keypoint_counts, repeat(True)))
    columns = (_compact(ids), _compact(image_ids), _compact(cat_ids))
    return ChunkResult(start, [], columns, [], [], 0, evidence, set(), Counter(), Counter())


def _compact(column: list[Any]) -> Any:
    """A column of ids as an int64 array when every id is a whole number, else as it is: a slice's
    result waits in the importing process until it is written (up to 64 of them), and travels there
    pickled; as arrays the three columns take a fraction of what lists of ints take."""
    if all(type(v) is int for v in column):
        try:
            return np.array(column, dtype=np.int64)
        except OverflowError:  # beyond 64 bits: an exact-path matter, but keep the column whole
            return column
    return column


def _geometry(
    anns: list[Any], images: list[Any], cats: list[Any], width: np.ndarray, height: np.ndarray
) -> tuple[list[str | None], list[int]] | None:
    """Each segmentation's form and each annotation's keypoint count, checking polygons, RLEs and
    keypoints on the way; None when any is unusual."""
    forms: list[str | None] = []
    keypoint_counts: list[int] = []
    polygon_at: list[int] = []
    polygon_json: list[msgspec.Raw] = []
    try:
        for i, (a, img, cat) in enumerate(zip(anns, images, cats, strict=True)):
            seg = a.segmentation
            view = memoryview(seg)
            lead = bytes(view[:1])
            form = None
            if lead == b"[":
                if len(view) > 8 or bytes(view).translate(None, WHITESPACE) != b"[]":
                    polygon_at.append(i)
                    polygon_json.append(seg)
                    form = "polygon"
            elif lead == b"{":
                rle = schema.any_decoder.decode(seg)
                check_rle(rle, img.width, img.height, _unusual)
                form = "rle_compressed" if type(rle.get("counts")) is str else "rle"
            elif lead != b"n":  # null
                return None
            forms.append(form)
            kp = a.keypoints
            if kp:
                check_keypoints(kp, cat.keypoints, img.width, img.height, _unusual, _unusual)
                keypoint_counts.append(len(kp) // 3)
            elif cat.skeleton:
                return None
            else:
                keypoint_counts.append(0)
    except _Unusual:
        return None
    if polygon_json and not _rings_inside(polygon_json, width[polygon_at], height[polygon_at]):
        return None
    return forms, keypoint_counts


def _rings_inside(segmentations: list[msgspec.Raw], width: np.ndarray, height: np.ndarray) -> bool:
    """Every segmentation is a list of rings, each an even count of at least 6 numbers that lies inside
    its image (``width`` and ``height`` given per segmentation); all at once."""
    read = polygons(segmentations)
    if read is None:
        return False
    values, lengths, per_segmentation = read
    if (lengths % 2).any() or (lengths < 6).any():
        return False
    # Every ring's length is even, so x and y alternate across the concatenation too.
    points = lengths // 2
    xs, ys = values[0::2], values[1::2]
    return bool(
        (values >= 0).all()
        and (xs <= np.repeat(np.repeat(width, per_segmentation), points)).all()
        and (ys <= np.repeat(np.repeat(height, per_segmentation), points)).all()
    )
