"""Read a Label Studio JSON export (a list of tasks) into the neutral dataset.

Each task is an image (``data.image``; its size from the results' ``original_width`` and
``original_height``, else a data unit of that name); its ``annotations`` (or, with
``predictions=True``, its ``predictions``, with their scores) hold results: ``rectanglelabels``
(``rotation`` in degrees about the top-left corner, turned into the box's own rotation about its
centre), ``polygonlabels``, ``keypointlabels`` (one point each) and ``brushlabels`` (Label Studio's
RLE). Values are percent of the image. Other result types (choices, text...) are counted, not
imported. Label Studio's ids are kept in each record's ``labelstudio`` key.

``read_labelstudio("export.json")`` returns a ``Dataset``; problems name a JSON path: ``$[0].annotations[0].result[1].value``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlparse

import msgspec

from labelport import geometry
from labelport.errors import FormatError
from labelport.formats.base import COORDINATE_LIMIT, Dataset, Place, Sizes, capped_bytes, far_coordinate
from labelport.formats.labelstudio.rle import mask_from_rle
from labelport.formats.xml import plain
from labelport.imports.policy import ErrorPolicy
from labelport.limits import MAX_DOCUMENT_BYTES, READ_WHOLE

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
    source: str | Path,
    *,
    on_error: str = "fail",
    sizes: Sizes | None = None,
    predictions: bool = False,
    confined: bool = False,
) -> Dataset:
    """Read a Label Studio JSON export; see the module docstring. Its image URLs are names to match
    data units by, never read, so ``confined`` (a server) changes nothing."""
    path = Path(source).expanduser()
    file = str(path)
    tasks = _decode(capped_bytes(path, "a Label Studio export", MAX_DOCUMENT_BYTES, why=READ_WHOLE), file)
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
    results = _results(policy, file, f"{where}.{key}", task.get(key))
    if results is None:
        return versions
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


def _results(
    policy: ErrorPolicy, file: str, where: str, groups: Any
) -> list[tuple[dict[str, Any], int, int, dict[str, Any]]] | None:
    """(group, its index, the result's index, the result) for each result of the groups not cancelled.
    Groups that are not a list of objects (None: the task is left out), a ``result`` that is not a list,
    or a result that is not an object are refused at their JSON path: Label Studio writes none of them."""
    if groups is None:
        return []
    if not isinstance(groups, list):
        policy.problem("ls_result", file, f"must be a list of objects, not {_kind(groups)}.", path=where)
        return None
    bad = next((j for j, g in enumerate(groups) if not isinstance(g, dict)), None)
    if bad is not None:
        policy.problem(
            "ls_result",
            file,
            f"must be an object with a 'result' list, not {_kind(groups[bad])}.",
            path=f"{where}[{bad}]",
        )
        return None
    out = []
    for i, group in enumerate(groups):
        found = group.get("result")
        if group.get("was_cancelled") or found is None:
            continue
        if not isinstance(found, list):
            policy.problem(
                "ls_result",
                file,
                f"must be a list of result objects, not {_kind(found)}.",
                path=f"{where}[{i}].result",
            )
            continue
        for n, result in enumerate(found):
            if isinstance(result, dict):
                out.append((group, i, n, result))
            else:
                policy.problem(
                    "ls_result",
                    file,
                    f"a result must be an object, not {_kind(result)}.",
                    path=f"{where}[{i}].result[{n}]",
                )
    return out


def _kind(value: Any) -> str:
    """What a JSON value is, for a sentence.

    >>> _kind({}), _kind([[1]]), _kind(None)
    ('an object', 'a list', 'null')
    """
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


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


def _pixels(number: Any, where: str, side: int) -> float:
    """The pixels that ``value{where}``, a percent of the image's ``side``, stands for: a finite number
    that puts no pixel past :data:`COORDINATE_LIMIT`."""
    if not isinstance(number, (int, float)) or isinstance(number, bool) or not math.isfinite(number):
        raise FormatError(
            "ls_value", f"value{where} must be a number (percent of the image), not {number!r}.", path=where
        )
    pixels = float(number) * side / 100
    if abs(pixels) > COORDINATE_LIMIT:
        far = far_coordinate({f"value{where} ({number:g}% of {side})": pixels})
        raise FormatError("ls_coordinate", str(far), path=where)
    return pixels


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
        x, y = _pixels(value.get("x"), ".x", width), _pixels(value.get("y"), ".y", height)
        w, h = _pixels(value.get("width"), ".width", width), _pixels(value.get("height"), ".height", height)
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
            or not all(isinstance(p, list) and len(p) == 2 for p in points)
        ):
            raise FormatError(
                "ls_value", "value.points must be 3 or more [x, y] pairs of numbers.", path=".points"
            )
        ring = [
            plain(_pixels(p[i], f".points[{n}][{i}]", width if i == 0 else height))
            for n, p in enumerate(points)
            for i in (0, 1)
        ]
        return {"segmentation": [ring], "bbox": [plain(v) for v in geometry.polygons_bbox([ring])]}
    if kind == "keypointlabels":
        return {
            "keypoints": [
                plain(_pixels(value.get("x"), ".x", width)),
                plain(_pixels(value.get("y"), ".y", height)),
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
