"""Write a COCO-shaped dict as an Ultralytics YOLO dataset: ``data.yaml`` and one label file per image.

The task is chosen from what the labels hold (key points: pose; rotated boxes: obb; polygons or
masks: segment; else detect) unless given. Class ids follow the category records' ``yolo_id`` when
every category has one (a dataset that came from YOLO keeps its numbering), else the categories'
order, else ``classes``: an explicit order of names. Each image's split and label file are worked out
before anything is written (:func:`label_files`). An object of several polygons is one line, its
parts joined (:func:`labelport.geometry.join_rings`). Everything YOLO has no place for is counted in
the report's ``losses``.

``write_yolo(coco, "out/", classes=["cat", "dog"])`` returns an ``ExportReport`` whose classes are ``{"cat": 0, "dog": 1}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from labelport import geometry
from labelport.errors import FormatError
from labelport.formats.base import (
    ExportReport,
    Losses,
    inside_name,
    is_polyline,
    plain_attributes,
    rotation_of,
    subset_folder,
    subset_of,
    write_bytes,
)
from labelport.formats.subsets import SPLIT_NAMES
from labelport.formats.yolo.read import TASKS


def _num(value: float) -> str:
    """A fraction with 6 decimals, trailing zeros dropped (what Ultralytics writes).

    >>> _num(0.5), _num(1 / 3), _num(-0.0000001)
    ('0.5', '0.333333', '0')
    """
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def class_ids(categories: list[dict[str, Any]], classes: Sequence[str] | None) -> dict[Any, int]:
    """COCO category id -> YOLO class id.

    >>> class_ids([{"id": 5, "name": "b"}, {"id": 2, "name": "a"}], None)
    {2: 0, 5: 1}
    >>> class_ids([{"id": 5, "name": "b"}, {"id": 2, "name": "a"}], ["b", "a"])
    {5: 0, 2: 1}
    """
    if classes is not None:
        order = {name: i for i, name in enumerate(classes)}
        if len(order) != len(classes):
            raise FormatError("yolo_classes", "classes names a class twice.")
        return {c["id"]: order[c["name"]] for c in categories if c["name"] in order}
    kept = [c.get("yolo_id") for c in categories]
    if all(type(k) is int and k >= 0 for k in kept) and len(set(kept)) == len(kept):
        return {c["id"]: c["yolo_id"] for c in categories}
    ordered = sorted(
        categories, key=lambda c: (type(c["id"]) is not int, c["id"] if type(c["id"]) is int else 0)
    )
    return {c["id"]: i for i, c in enumerate(ordered)}


def guess_task(coco: dict[str, Any]) -> str:
    """pose, obb, segment or detect, from what the annotations hold."""
    anns = coco.get("annotations", [])
    if any(a.get("keypoints") and a.get("bbox") for a in anns):
        return "pose"
    if any(rotation_of(a) for a in anns):
        return "obb"
    if any(a.get("segmentation") for a in anns):
        return "segment"
    return "detect"


def write_yolo(
    coco: dict[str, Any],
    dest: str | Path,
    *,
    classes: Sequence[str] | None = None,
    task: str | None = None,
    split: str = "train",
) -> ExportReport:
    """Write ``coco`` under the folder ``dest``; see the module docstring."""
    out = Path(dest).expanduser()
    if out.exists() and not out.is_dir():
        raise FormatError("yolo_dest", "is a file; a YOLO dataset is a folder.", file=str(out))
    task = task or guess_task(coco)
    if task not in TASKS:
        raise FormatError("yolo_task", f"task must be one of {', '.join(TASKS)}, not {task!r}.")
    categories = list(coco.get("categories", []))
    ids = class_ids(categories, classes)
    names = {ids[c["id"]]: c["name"] for c in categories if c["id"] in ids}
    kpt = max((len(c.get("keypoints") or []) for c in categories), default=0) if task == "pose" else 0
    losses = Losses()
    report = ExportReport(format="yolo", path=str(out), classes={n: i for i, n in sorted(names.items())})
    images = {img["id"]: img for img in coco.get("images", [])}
    lines: dict[Any, list[str]] = {image_id: [] for image_id in images}
    for ann in coco.get("annotations", []):
        cls = ids.get(ann.get("category_id"))
        if cls is None:
            losses.add("class not in classes")
            continue
        image = images.get(ann.get("image_id"))
        if image is None:
            continue
        line = _line(ann, task, image["width"], image["height"], kpt, losses)
        if line is not None:
            lines[image["id"]].append(f"{cls} {line}")
            report.objects += 1
            _count_extras(ann, losses)
    places = label_files(coco.get("images", []), split)
    splits: set[str] = set()
    folders: set[Path] = set()
    for img in coco.get("images", []):
        where, name = places[img["id"]]
        if where not in splits:
            splits.add(where)
            (out / "images" / where).mkdir(parents=True, exist_ok=True)
        label = out / "labels" / where / name
        if label.parent not in folders:
            folders.add(label.parent)
            label.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(label, "".join(line + "\n" for line in lines[img["id"]]).encode())
        report.images += 1
        report.files += 1
    _write_yaml(out, sorted(splits) or [split], names, task, kpt)
    _write_meta(out, coco.get("images", []), places)
    report.files += 2
    report.losses = dict(losses)
    return report


def label_files(images: list[dict[str, Any]], split: str) -> dict[Any, tuple[str, PurePosixPath]]:
    """Image id -> (its split, its label file under ``labels/<split>/``), before anything is written.

    The split is the kept YOLO split, else the subset the image came with (CVAT's ``Train`` is
    ``train``), else ``split``. Two images never share a label file: images of one name in two
    subsets go to two splits, and two that would still share one (``a.jpg`` and ``a.png`` of one split)
    are refused, with both names, so the report's counts are the files on disk. No file name leads
    out of the folder (:func:`~labelport.formats.base.inside_name`).
    """
    places: dict[Any, tuple[str, PurePosixPath]] = {}
    taken: dict[tuple[str, PurePosixPath], Any] = {}
    for img in images:
        kept_split = img.get("yolo_split")
        subset = subset_of(img, named=True)
        where = (
            kept_split
            if isinstance(kept_split, str) and kept_split
            else SPLIT_NAMES.get(subset.lower(), subset)
            if subset
            else split
        )
        name = inside_name(str(img["file_name"])).with_suffix(".txt")
        place = (subset_folder(where, "yolo"), name)
        other = taken.setdefault(place, img)
        if other is not img:
            raise FormatError(
                "yolo_name_clash",
                f"images {other['file_name']!r} (id {other['id']}) and {img['file_name']!r} (id {img['id']}) "
                f"would both be labels/{place[0]}/{name}: YOLO names a label file after its image; "
                "rename one of them, or give them different splits.",
            )
        places[img["id"]] = place
    return places


def _write_meta(
    out: Path, images: list[dict[str, Any]], places: dict[Any, tuple[str, PurePosixPath]]
) -> None:
    """``images.meta`` (Datumaro's form: ``name height width`` a line): the sizes, for when the images are elsewhere."""
    import shlex

    lines = []
    for img in images:
        where, label = places[img["id"]]
        name = shlex.quote(f"{where}/{label.with_suffix(PurePosixPath(str(img['file_name'])).suffix)}")
        lines.append(f"{name} {img['height']} {img['width']}\n")
    (out / "images.meta").write_text("".join(lines), encoding="utf-8")


def _write_yaml(out: Path, splits: list[str], names: dict[int, str], task: str, kpt: int) -> None:
    import yaml

    doc: dict[str, Any] = {"path": "."}
    for name in splits:
        doc[name] = f"images/{name}"
    if "val" not in doc and "train" in doc:
        doc["val"] = "images/train"  # Ultralytics needs a val split; the train images serve
    doc["names"] = dict(sorted(names.items()))
    if task == "pose":
        doc["kpt_shape"] = [kpt, 3]
    if task in ("obb", "segment", "pose"):
        doc["task"] = task
    out.mkdir(parents=True, exist_ok=True)
    (out / "data.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _count_extras(ann: dict[str, Any], losses: Losses) -> None:
    if plain_attributes(ann):
        losses.add("attributes")
    if ann.get("score") is not None:
        losses.add("score")
    if ann.get("iscrowd") in (1, True, "true"):
        losses.add("iscrowd")
    if ann.get("track_id") is not None:
        losses.add("track_id")


def _line(ann: dict[str, Any], task: str, width: int, height: int, kpt: int, losses: Losses) -> str | None:
    """The numbers after the class id, or None (counted in losses) when the object cannot be written."""
    bbox = ann.get("bbox")
    seg = ann.get("segmentation")
    theta = rotation_of(ann)
    polyline = is_polyline(ann)
    rings: list[list[float]] = []
    if isinstance(seg, dict):
        if task == "segment":
            rings = geometry.mask_to_polygons(geometry.rle_to_mask(seg))
            losses.add("mask->polygon")
        else:
            losses.add("mask->" + ("oriented_box" if task == "obb" else "box"))
    elif isinstance(seg, list) and seg and isinstance(seg[0], list):
        rings = seg
    if not (isinstance(bbox, list) and len(bbox) == 4):
        if rings:
            bbox = geometry.polygons_bbox(rings)
        else:
            losses.add("point" if ann.get("keypoints") else "no_geometry")
            return None
    x, y, w, h = (float(v) for v in bbox)
    if task == "segment":
        if polyline:
            losses.add("polyline")
            return None
        if not rings:
            rings = [geometry.rotated_corners(x, y, w, h, theta)]
            losses.add("rotated_box->polygon" if theta else "box->polygon")
        elif theta:
            losses.add("rotation")
        ring = rings[0] if len(rings) == 1 else geometry.join_rings(rings)  # one polygon a line
        return " ".join(_num(v / (width if i % 2 == 0 else height)) for i, v in enumerate(ring))
    if task == "obb":
        corners = geometry.rotated_corners(x, y, w, h, theta)
        if rings and not isinstance(seg, dict):
            losses.add("polygon->oriented_box")
        return " ".join(_num(v / (width if i % 2 == 0 else height)) for i, v in enumerate(corners))
    if theta:
        losses.add("rotation")
    if rings and not isinstance(seg, dict):
        losses.add("polyline->box" if polyline else "polygon->box")
    box = f"{_num((x + w / 2) / width)} {_num((y + h / 2) / height)} {_num(w / width)} {_num(h / height)}"
    if task != "pose":
        if ann.get("keypoints"):
            losses.add("keypoints")
        return box
    points = list(ann.get("keypoints") or [])
    if len(points) > kpt * 3:
        losses.add("keypoints beyond kpt_shape", (len(points) - kpt * 3) // 3)
    points = (points + [0, 0, 0] * kpt)[: kpt * 3]
    kp = " ".join(
        f"{_num(points[i] / width)} {_num(points[i + 1] / height)} {int(points[i + 2])}"
        for i in range(0, len(points), 3)
    )
    return f"{box} {kp}".rstrip()
