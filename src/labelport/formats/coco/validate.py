"""Checks on one COCO annotation's fields, each problem reported with its JSON path.

The functions take a field's value and return nothing; they call ``fail(code, field_path, message)``
for errors and ``warn(...)`` for warnings, and return whether the field is usable.
:func:`labelport.formats.coco.chunks.validate_chunk` runs them over every annotation of a slice that
the fast path (:mod:`labelport.formats.coco.column_checks`, which uses :func:`check_rle` and
:func:`check_keypoints` with a ``fail`` that raises) could not prove clean.

Rules (see README "Validation"): bbox is 4 finite numbers with width and height > 0; a polygon ring
has an even number of numbers and at least 3 points; an RLE's size equals the image's [height, width]
and its counts sum to height x width; keypoints are [x, y, v] triples (v in 0, 1, 2), as many as the
category names; coordinates outside the image are *kept* and warned about (never clamped: clamping
would change what the file said).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec

from labelport.formats.coco.schema import MISSING
from labelport.geometry import compressed_counts_total
from labelport.plural import plural

Report = Callable[[str, str, str], None]

_rings = msgspec.json.Decoder(list[list[float]])
_flat = msgspec.json.Decoder(list[float])
_any = msgspec.json.Decoder()
#: numbers beyond float range read as infinity (not refused), so that they can be named
_any_float = msgspec.json.Decoder(float_hook=float)
_WS = b" \t\r\n"
ISCROWD_VALUES = (0, 1, "0", "1", "true", "false")


def _number(v: Any) -> bool:
    return type(v) is int or type(v) is float


def finite(value: Any) -> bool:
    """A number that is not infinite or NaN; a whole number too large for a float is not finite.

    >>> finite(3), finite(10**400), finite(float("nan"))
    (True, False, False)
    """
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _first_not_a_number(raw: msgspec.Raw, nested: bool) -> tuple[str, str]:
    """(code, index path) of the first value of a polygon that a typed decode refused: the first that
    is not a number (``polygon_type``) or not finite (``polygon_nonfinite``), in file order.

    >>> _first_not_a_number(msgspec.Raw(b'[[1, 2, 1e999, "x"]]'), True)
    ('polygon_nonfinite', '[0][2]')
    >>> _first_not_a_number(msgspec.Raw(b'[1, 2, true]'), False)
    ('polygon_type', '[2]')
    """
    value = _any_float.decode(raw)
    for r, ring in enumerate(value if nested else [value]):
        prefix = f"[{r}]" if nested else ""
        if type(ring) is not list:
            return "polygon_type", prefix
        for k, number in enumerate(ring):
            if type(number) is not int and type(number) is not float:
                return "polygon_type", f"{prefix}[{k}]"
            if not finite(number):
                return "polygon_nonfinite", f"{prefix}[{k}]"
    return "polygon_type", ""


_NUMBER = (int, float)


def check_bbox(bbox: Any, width: int, height: int, fail: Report, warn: Report) -> bool:
    """True when ``bbox`` is usable."""
    if type(bbox) is not list or len(bbox) != 4:
        fail("bbox_type", "bbox", f"bbox must be 4 numbers [x, y, width, height], not {short(bbox)}.")
        return False
    x, y, w, h = bbox
    if type(x) not in _NUMBER or type(y) not in _NUMBER or type(w) not in _NUMBER or type(h) not in _NUMBER:
        fail("bbox_type", "bbox", f"bbox must be 4 numbers [x, y, width, height], not {short(bbox)}.")
        return False
    if not finite(x + y + w + h):
        fail("bbox_nonfinite", "bbox", f"bbox must hold finite numbers, not {short(bbox)}.")
        return False
    if w <= 0 or h <= 0:
        fail("bbox_size", "bbox", f"bbox width and height must be > 0, not {w} x {h}.")
        return False
    if x < 0 or y < 0 or x + w > width or y + h > height:
        warn(
            "outside_image",
            "bbox",
            f"bbox {short(bbox)} reaches outside the {width}x{height} image; kept as given.",
        )
    return True


def segmentation_form(raw: msgspec.Raw) -> str | None:
    """polygon, flat_polygon, rle (counts list), rle_compressed, empty, null, or None when absent."""
    if not len(raw):
        return None
    view = memoryview(raw)
    if view[0] == 91 and len(view) > 1:  # "[", the common case: no space after the bracket
        after = view[1]
        if after == 91:
            return "polygon"
        if 48 <= after <= 57 or after == 45:
            return "flat_polygon"
    head = bytes(view[:24]).translate(None, _WS)
    first = head[:1]
    if first == b"[":
        inner = head[1:2]
        if inner == b"]":
            return "empty"
        return "polygon" if inner == b"[" else "flat_polygon"
    if first == b"{":
        return "rle_compressed" if b'"counts":"' in bytes(memoryview(raw)).translate(None, _WS) else "rle"
    if head == b"null":
        return "null"
    return "other"


def check_segmentation(
    raw: msgspec.Raw, form: str, width: int, height: int, fail: Report, warn: Report
) -> bool:
    """True when the segmentation (already known to be of ``form``) is usable."""
    if form in ("polygon", "flat_polygon"):
        try:
            rings = _rings.decode(raw) if form == "polygon" else [_flat.decode(raw)]
        except msgspec.ValidationError:
            code, where = _first_not_a_number(raw, form == "polygon")
            if code == "polygon_nonfinite":
                fail(code, f"segmentation{where}", "a polygon must hold finite numbers.")
            else:
                fail(code, f"segmentation{where}", "a polygon must hold numbers only.")
            return False
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            fail("polygon_type", "segmentation", "the polygon is not valid JSON.")
            return False
        ok = True
        outside = False
        for r, ring in enumerate(rings):
            where = f"segmentation[{r}]" if form == "polygon" else "segmentation"
            n = len(ring)
            if n % 2:
                fail("polygon_odd", where, f"a polygon needs x, y pairs; {plural(n, 'number')} is odd.")
                ok = False
            elif n < 6:
                fail("polygon_short", where, f"a polygon needs at least 3 points, not {n // 2}.")
                ok = False
            else:
                lo, hi_x, hi_y = min(ring), max(ring[0::2]), max(ring[1::2])
                if not math.isfinite(lo + hi_x + hi_y):
                    fail("polygon_nonfinite", where, "a polygon must hold finite numbers.")
                    ok = False
                elif lo < 0 or hi_x > width or hi_y > height:
                    outside = True
        if outside and ok:
            warn(
                "outside_image",
                "segmentation",
                f"the polygon reaches outside the {width}x{height} image; kept as given.",
            )
        return ok
    if form in ("rle", "rle_compressed"):
        try:
            rle = _any.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            fail("rle_type", "segmentation", "the RLE is not valid JSON.")
            return False
        return check_rle(rle, width, height, fail)
    if form == "other":
        fail(
            "segmentation_type", "segmentation", "segmentation must be a polygon list, an RLE object, or []."
        )
        return False
    return True


def check_rle(rle: dict[str, Any], width: int, height: int, fail: Report) -> bool:
    """True when a decoded RLE object fits a ``width`` x ``height`` image."""
    size = rle.get("size")
    counts = rle.get("counts")
    if type(size) is not list or len(size) != 2 or not all(type(v) is int for v in size):
        fail("rle_type", "segmentation.size", f"an RLE needs 'size': [height, width], not {short(size)}.")
        return False
    if size != [height, width]:
        fail(
            "rle_size",
            "segmentation.size",
            f"RLE size {size} differs from the image's [height, width] [{height}, {width}].",
        )
        return False
    if type(counts) is list:
        if not all(type(v) is int and v >= 0 for v in counts):
            fail("rle_counts", "segmentation.counts", "RLE counts must be whole numbers >= 0.")
            return False
        total = sum(counts)
    elif type(counts) is str:
        try:
            total = compressed_counts_total(counts)
        except ValueError as exc:
            fail("rle_counts", "segmentation.counts", f"the compressed RLE counts are corrupt: {exc}.")
            return False
    else:
        fail(
            "rle_type",
            "segmentation.counts",
            "RLE counts must be a list of numbers or a compressed string.",
        )
        return False
    if total != height * width:
        fail(
            "rle_counts",
            "segmentation.counts",
            f"RLE counts sum to {total}, not height x width = {height * width}.",
        )
        return False
    return True


def check_keypoints(
    keypoints: Any,
    expected: int | None,
    width: int,
    height: int,
    fail: Report,
    warn: Report,
    *,
    results: bool = False,
) -> bool:
    """True when keypoints are usable; ``expected`` is the category's keypoint count when it names them.

    In a results list (``results``) the third number of each point is a detector's confidence, not a
    visibility: any finite number is kept (COCOeval ignores it for detections).
    """
    if type(keypoints) is not list or not all(_number(v) for v in keypoints) or not finite(sum(keypoints)):
        fail("keypoints_type", "keypoints", "keypoints must be a list of finite numbers [x1, y1, v1, ...].")
        return False
    n = len(keypoints)
    if n % 3:
        fail(
            "keypoints_length",
            "keypoints",
            f"keypoints come in [x, y, v] triples; {plural(n, 'number')} is not a multiple of 3.",
        )
        return False
    if expected and n != 3 * expected:
        fail(
            "keypoints_length",
            "keypoints",
            f"the category names {plural(expected, 'keypoint')}, so 3 x {expected} = {plural(3 * expected, 'number')} are needed, not {n}.",
        )
        return False
    if not results and not set(keypoints[2::3]) <= {0, 1, 2}:
        fail("keypoints_visibility", "keypoints", "keypoint visibility must be 0, 1 or 2.")
        return False
    visible = [i for i in range(0, n, 3) if keypoints[i + 2]]
    if any(
        keypoints[i] < 0 or keypoints[i] > width or keypoints[i + 1] < 0 or keypoints[i + 1] > height
        for i in visible
    ):
        warn(
            "outside_image",
            "keypoints",
            f"keypoints reach outside the {width}x{height} image; kept as given.",
        )
    return True


def category_problem(category: dict[str, Any]) -> tuple[str, str, str] | None:
    """The first problem of a category's ``keypoints`` and ``skeleton``: (code, field path, message).

    >>> category_problem({"id": 1, "name": "p", "keypoints": "nose"})[0]
    'category_keypoints'
    >>> category_problem({"id": 1, "name": "p", "keypoints": ["a", "b"], "skeleton": [[1, "c"]]})[1]
    'skeleton[0]'
    """
    names = category.get("keypoints")
    if names is not None and (type(names) is not list or not all(type(n) is str and n for n in names)):
        return "category_keypoints", "keypoints", "a category's keypoints must be a list of names."
    edges = category.get("skeleton")
    if edges is None:
        return None
    if type(edges) is not list:
        return "category_skeleton", "skeleton", "a skeleton must be a list of [a, b] keypoint numbers."
    for j, edge in enumerate(edges):
        if type(edge) is not list or len(edge) != 2 or not all(type(v) is int for v in edge):
            return (
                "category_skeleton",
                f"skeleton[{j}]",
                f"a skeleton edge must be two keypoint numbers, not {short(edge)}.",
            )
    return None


def skeleton_out_of_range(category: dict[str, Any]) -> tuple[str, str] | None:
    """(field path, message) naming the first edge of a category's skeleton that names a keypoint
    the category does not have, and how many do; None when every edge fits (or nothing is named).

    Such skeletons are found in the wild (COCO's 17-point skeleton copied onto fewer keypoints):
    they are kept as given, and whatever draws or measures a skeleton ignores those edges.
    Without names, keypoints are only numbered (Datumaro writes such skeletons from 0): nothing to
    check against. Call after :func:`category_problem` found nothing.

    >>> skeleton_out_of_range({"keypoints": ["a", "b"], "skeleton": [[1, 2], [16, 14], [2, 3]]})
    ('skeleton[1]', 'the skeleton has 2 edges naming a keypoint the category does not have (the first is [16, 14]; it names 2 keypoints, from 1); kept as given, and not drawn.')
    """
    names, edges = category.get("keypoints"), category.get("skeleton")
    if not names or not edges:
        return None
    outside = [j for j, edge in enumerate(edges) if not all(1 <= v <= len(names) for v in edge)]
    if not outside:
        return None
    first = outside[0]
    return (
        f"skeleton[{first}]",
        f"the skeleton has {plural(len(outside), 'edge')} naming a keypoint the category does not have "
        f"(the first is {edges[first]}; it names {plural(len(names), 'keypoint')}, from 1); kept as given, "
        "and not drawn.",
    )


#: The largest width or height an image may have: PostgreSQL's integer (both stores agree).
MAX_SIDE = 2**31 - 1


def image_problem(image: Any) -> tuple[str, str, str] | None:
    """The first problem of a typed image's ``file_name``, ``width`` and ``height``: (code, field,
    message). An absent size is no problem here: the matched data unit's is used (a warning).

    >>> from labelport.formats.coco.schema import Image
    >>> image_problem(Image(id=1, file_name="a.jpg", width=0, height=4))[:2]
    ('image_size', 'width')
    """
    name = image.file_name
    if name is not None and name is not MISSING and type(name) is not str:
        return "image_file_name", "file_name", f"file_name must be a string, not {short(name)}."
    if type(name) is str and "\x00" in name:  # (it may become a data unit's title: no store takes it)
        return "image_file_name", "file_name", "file_name must not contain a NUL character (\\x00)."
    for side in ("width", "height"):
        value = getattr(image, side)
        if not (value is MISSING or value is None or (type(value) is int and 0 < value <= MAX_SIDE)):
            return (
                "image_size",
                side,
                f"an image's {side} must be a whole number from 1 to {MAX_SIDE:,}, not {short(value)}.",
            )
    return None


def iscrowd_ok(value: Any) -> bool:
    """iscrowd as 0/1, true/false, or their strings (some tools write "false")."""
    return value is True or value is False or (type(value) in (int, str) and value in ISCROWD_VALUES)


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
