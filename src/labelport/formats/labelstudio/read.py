"""Read a Label Studio JSON export (a list of tasks) into the neutral dataset.

Each task is an image (``data.image``; its size from the results' ``original_width`` and
``original_height``, else a data unit of that name); its ``annotations`` (or, with
``predictions=True``, its ``predictions``, with their scores) hold results: ``rectanglelabels``
(``rotation`` in degrees about the top-left corner, turned into the box's own rotation about its
centre), ``polygonlabels``, ``keypointlabels`` (one point each) and ``brushlabels`` (Label Studio's
RLE). Values are percent of the image. Other result types (choices, text...) are counted, not
imported. Label Studio's ids are kept in each record's ``labelstudio`` key.

>>> # read_labelstudio("export.json") -> Dataset; problems name a JSON path: $[0].annotations[0].result[1].value
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlparse

import msgspec

from labelport import geometry
from labelport.errors import FormatError
from labelport.formats.base import Dataset, Place, Sizes
from labelport.formats.labelstudio.rle import mask_from_rle
from labelport.formats.xml import plain, read_bytes
from labelport.imports.policy import ErrorPolicy

KINDS = ("rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels")
#: where a result's COCO fields are in its JSON (see :class:`Place`)
_RESULT = {f: ".value" for f in ("bbox", "segmentation", "keypoints", "area", "num_keypoints", "score")}


def image_name(url: str) -> str:
    """The file name in a task's image URL (``/data/upload/3/cat.jpg`` -> ``cat.jpg``; ``?d=a/b.png`` -> ``b.png``).

    >>> image_name("/data/local-files/?d=images/cat.jpg"), image_name("s3://bucket/x/dog.png")
    ('cat.jpg', 'dog.png')
    """
    parsed = urlparse(url)
    if parsed.query.startswith("d="):
        return unquote(parsed.query[2:]).rsplit("/", 1)[-1]
    return unquote(parsed.path).rsplit("/", 1)[-1] or url


def read_labelstudio(
    source: str | Path, *, on_error: str = "fail", sizes: Sizes | None = None, predictions: bool = False
) -> Dataset:
    """Read a Label Studio JSON export; see the module docstring."""
    path = Path(source).expanduser()
    file = str(path)
    tasks = _decode(read_bytes(path), file)
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise FormatError("ls_json", "must hold a list of tasks.", file=file, path="$")
    policy = ErrorPolicy.of(on_error)
    data = Dataset(name=path.name)
    key = "predictions" if predictions else "annotations"
    versions: set[str] = set()
    used: set[int] = set()
    for t, task in enumerate(tasks):
        versions |= _task(data, policy, file, f"$[{t}]", task, key, used, sizes, predictions)
    policy.finish()
    data.problems = policy.problems
    if predictions:
        data.branch = next(iter(versions)) if len(versions) == 1 and next(iter(versions)) else "predictions"
    return data


def _decode(data: bytes, file: str) -> Any:
    """The file's JSON (after a UTF-8 byte order mark, as Windows tools write one); a :class:`FormatError`
    when it is not JSON in UTF-8 or nests too deeply to read."""
    try:
        return msgspec.json.decode(data.removeprefix(b"\xef\xbb\xbf"))
    except msgspec.DecodeError as exc:
        raise FormatError("ls_json", f"is not valid JSON ({exc}).", file=file, path="$") from None
    except UnicodeDecodeError:
        try:  # where, in the file (msgspec counts within the string it was reading)
            data.decode("utf-8")
            line = None
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
        raise FormatError(
            "ls_json", "is not UTF-8 text: a byte cannot be decoded.", file=file, line=line
        ) from None
    except RecursionError:
        raise FormatError(
            "ls_json", "nests arrays or objects too deeply to read.", file=file, path="$"
        ) from None


def _task(
    data: Dataset,
    policy: ErrorPolicy,
    file: str,
    where: str,
    task: Any,
    key: str,
    used: set[int],
    sizes: Sizes | None,
    predictions: bool,
) -> set[str]:
    """Read one task (an image and its results); the model versions of its predictions."""
    versions: set[str] = set()
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        policy.problem("ls_task", file, "a task is an object with 'data'.", path=where)
        return versions
    url = next((v for k, v in task["data"].items() if k == "image" and isinstance(v, str)), None)
    url = url or next((v for v in task["data"].values() if isinstance(v, str)), None)
    if url is None:
        policy.problem("ls_task", file, "the task's 'data' names no image.", path=f"{where}.data")
        return versions
    given = task.get(key)
    if given is not None and not isinstance(given, list):
        policy.problem("ls_task", file, f"a task's {key!r} is a list.", path=f"{where}.{key}")
        return versions
    results = [  # (group, its index in the task's list, result index, result)
        (g, i, n, r)
        for i, g in enumerate(given or [])
        if isinstance(g, dict) and not g.get("was_cancelled") and isinstance(g.get("result") or [], list)
        for n, r in enumerate(g.get("result") or [])
        if isinstance(r, dict)
    ]
    size, size_path = _size(results, image_name(url), sizes, key)
    if size is None and not results:  # nothing to place: the task is counted, not refused
        data.dropped["labelstudio tasks with no results and no size"] = (
            data.dropped.get("labelstudio tasks with no results and no size", 0) + 1
        )
        return versions
    if size is None:
        policy.problem(
            "ls_size",
            file,
            f"no result gives original_width and original_height, and no data unit is named {image_name(url)!r}.",
            path=where,
        )
        return versions
    ident = task.get("id")
    image_id = ident if type(ident) is int and ident not in used else max(used, default=0) + 1
    used.add(image_id)
    sized = {"width": f"{size_path}.original_width", "height": f"{size_path}.original_height"}
    place = Place(file, path=where, fields={**sized, "file_name": ".data"})
    data.image(image_name(url), size[0], size[1], place=place, ident=image_id, labelstudio={"image": url})
    for group, g, r, result in results:
        versions.add(str(group.get("model_version") or ""))
        _result(
            data,
            policy,
            file,
            f"{where}.{key}[{g}].result[{r}]",
            image_id,
            size,
            group,
            result,
            predictions,
        )
    return versions


def _size(
    results: list[tuple[Any, int, int, dict[str, Any]]], name: str, sizes: Sizes | None, key: str
) -> tuple[tuple[int, int] | None, str]:
    """The image's (width, height) and the JSON path (under the task) of the result that gave it."""
    for _, g, r, result in results:
        w, h = result.get("original_width"), result.get("original_height")
        if type(w) is int and type(h) is int and w > 0 and h > 0:
            return (w, h), f".{key}[{g}].result[{r}]"
    found = sizes(name) if sizes is not None else None
    return ((found[1], found[2]) if found else None), ""


def _result(
    data: Dataset,
    policy: ErrorPolicy,
    file: str,
    where: str,
    image_id: int,
    size: tuple[int, int],
    group: dict[str, Any],
    result: dict[str, Any],
    predictions: bool,
) -> None:
    kind = result.get("type")
    value = result.get("value")
    if kind not in KINDS:
        data.dropped[f"labelstudio {kind} results"] = data.dropped.get(f"labelstudio {kind} results", 0) + 1
        return
    labels = value.get(str(kind)) if isinstance(value, dict) else None
    if not isinstance(labels, list) or not labels or not all(isinstance(n, str) for n in labels):
        policy.problem(
            "ls_labels",
            file,
            f"a {kind} result needs value.{kind}, a list of label names.",
            path=f"{where}.value.{kind}",
        )
        return
    assert isinstance(value, dict)
    try:
        ann = _geometry(str(kind), value, size)
    except FormatError as exc:
        policy.problem(exc.code, file, exc.detail, path=f"{where}.value{exc.path or ''}")
        return
    ids: dict[str, Any] = {k: result[k] for k in ("id", "from_name", "to_name") if k in result}
    if group.get("id") is not None:
        ids["group"] = group["id"]
    extra = {"labelstudio": ids}
    score = result.get("score", group.get("score"))
    if predictions and isinstance(score, (int, float)) and not isinstance(score, bool):
        ann["score"] = score
    if len(labels) > 1:
        data.dropped["labelstudio labels beyond the first of a result"] = (
            data.dropped.get("labelstudio labels beyond the first of a result", 0) + len(labels) - 1
        )
    point = {"keypoints": ["point"], "skeleton": []} if kind == "keypointlabels" else {}
    category = data.category(labels[0], place=Place(file, path=f"{where}.value.{kind}[0]"), **point)
    data.annotation(image_id, category, place=Place(file, path=where, fields=_RESULT), **ann, **extra)


def _is_number(number: Any) -> bool:
    return isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number)


def _number(value: dict[str, Any], key: str, unit: str = "percent of the image") -> float:
    number = value.get(key)
    if not _is_number(number):
        raise FormatError(
            "ls_value",
            f"value.{key} must be a number ({unit}), not {number!r}.",
            path=f".{key}",
        )
    return float(cast(float, number))


def _geometry(kind: str, value: dict[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    width, height = size
    if kind == "rectanglelabels":
        x, y = _number(value, "x") * width / 100, _number(value, "y") * height / 100
        w, h = _number(value, "width") * width / 100, _number(value, "height") * height / 100
        if w <= 0 or h <= 0:
            raise FormatError(
                "ls_value", f"a rectangle's width and height must be > 0, not {w:g} x {h:g}.", path=".width"
            )
        theta = _number(value, "rotation", "degrees") if value.get("rotation") is not None else 0.0
        # Label Studio turns the box about its top-left corner; the centre is where that puts it
        t = math.radians(theta)
        cx = x + (w / 2) * math.cos(t) - (h / 2) * math.sin(t)
        cy = y + (w / 2) * math.sin(t) + (h / 2) * math.cos(t)
        ann: dict[str, Any] = {"bbox": [plain(cx - w / 2), plain(cy - h / 2), plain(w), plain(h)]}
        if theta:
            ann["attributes"] = {"rotation": plain(theta)}
        return ann
    if kind == "polygonlabels":
        points = value.get("points")
        if (
            not isinstance(points, list)
            or len(points) < 3
            or not all(isinstance(p, list) and len(p) == 2 and all(map(_is_number, p)) for p in points)
        ):
            raise FormatError(
                "ls_value", "value.points must be 3 or more [x, y] pairs of numbers.", path=".points"
            )
        ring = [plain(float(p[i]) * (width if i == 0 else height) / 100) for p in points for i in (0, 1)]
        return {"segmentation": [ring], "bbox": [plain(v) for v in geometry.polygons_bbox([ring])]}
    if kind == "keypointlabels":
        return {
            "keypoints": [
                plain(_number(value, "x") * width / 100),
                plain(_number(value, "y") * height / 100),
                2,
            ],
            "num_keypoints": 1,
        }
    rle = value.get("rle")
    if value.get("format") != "rle" or not isinstance(rle, list):
        raise FormatError(
            "ls_value", "a brush result needs value.format 'rle' and value.rle, a list of bytes.", path=".rle"
        )
    mask = mask_from_rle(rle, height, width)
    coco_rle = geometry.rle_from_mask(mask)
    return {
        "segmentation": coco_rle,
        "bbox": [plain(v) for v in geometry.rle_bbox(coco_rle)],
        "area": geometry.rle_area(coco_rle),
    }
