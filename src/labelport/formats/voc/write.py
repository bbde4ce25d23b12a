"""Write a COCO-shaped dict as a Pascal VOC folder.

``Annotations/<name>.xml`` per image, ``ImageSets/Main/<split>.txt`` (the kept ``voc_split``, else
the image's subset, else ``split``; ``Annotations/<split>/<name>.xml`` when two splits share a name), ``labelmap.txt`` (background first, then the classes, with VOC's colour map), and when any
object has a segmentation ``SegmentationObject/`` and ``SegmentationClass/`` PNGs (palette images:
instance k is the k-th object; class c the c-th line of the label map) with
``ImageSets/Segmentation/<split>.txt``. Polygons become mask pixels (VOC has no polygons: counted as
``polygon->mask``); everything else VOC cannot carry is counted too.

>>> _palette()[3:6]
[128, 0, 0]
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from labelport import geometry
from labelport.errors import FormatError, ImageError
from labelport.formats.base import (
    ExportReport,
    Losses,
    inside_name,
    kept,
    plain_attributes,
    rotation_of,
    subset_folder,
    subset_of,
)
from labelport.formats.voc.read import FLAGS, voc_colour
from labelport.formats.xml import answer_text, fmt, write_xml
from labelport.limits import MAX_IMAGE_PIXELS


def _palette() -> list[int]:
    return [v for i in range(256) for v in voc_colour(i)]


def write_voc(coco: dict[str, Any], dest: str | Path, *, split: str = "train") -> ExportReport:
    """Write ``coco`` under the folder ``dest``; see the module docstring."""
    out = Path(dest).expanduser()
    if out.exists() and not out.is_dir():
        raise FormatError("voc_dest", "is a file; a VOC dataset is a folder.", file=str(out))
    categories = sorted(
        coco.get("categories", []),
        key=lambda c: (type(c["id"]) is not int, c["id"] if type(c["id"]) is int else 0),
    )
    names = {c["id"]: c["name"] for c in categories}
    class_index = {c["id"]: i + 1 for i, c in enumerate(categories)}
    by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for ann in coco.get("annotations", []):
        by_image[ann.get("image_id")].append(ann)
    losses = Losses()
    report = ExportReport(format="voc", path=str(out))
    lists: dict[str, list[str]] = defaultdict(list)
    segmented: dict[str, list[str]] = defaultdict(list)
    places = item_ids(coco.get("images", []), split)
    for image in coco.get("images", []):
        where, stem = places[image["id"]]
        given = by_image.get(image["id"], [])
        anns = [a for a in given if a.get("category_id") in names]
        if len(anns) < len(given):
            losses.add("unknown category", len(given) - len(anns))
        has_masks = any(a.get("segmentation") for a in anns)
        root = _annotation(image, anns, names, has_masks, losses)
        write_xml(root, out / "Annotations" / f"{stem}.xml")
        report.objects += len(anns)
        lists[where].append(stem)
        if has_masks:
            _masks(out, stem, image, anns, class_index, losses)
            segmented[where].append(stem)
            report.files += 2
        report.images += 1
        report.files += 1
    (out / "JPEGImages").mkdir(parents=True, exist_ok=True)
    for folder, entries in (("Main", lists), ("Segmentation", segmented)):
        for name, stems in entries.items():
            path = out / "ImageSets" / folder / f"{name}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{s}\n" for s in stems), encoding="utf-8")
            report.files += 1
    labelmap = ["# label:color_rgb:parts:actions", "background:0,0,0::"] + [
        f"{c['name']}:{','.join(str(v) for v in voc_colour(class_index[c['id']]))}::" for c in categories
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "labelmap.txt").write_text("\n".join(labelmap) + "\n", encoding="utf-8")
    report.files += 1
    report.losses = dict(losses)
    return report


def item_ids(images: list[dict[str, Any]], split: str) -> dict[Any, tuple[str, str]]:
    """Image id -> (its split, its VOC id: ``Annotations/<id>.xml``), before anything is written.

    The split is the kept VOC split, else the subset the image came with, else ``split``; the id is
    the file name without its extension. When images of two splits share an id (a CVAT project's
    train and val), every id takes its split as a folder (``train/a``), as VOC ids may have folders;
    two images that would still share one (``a.jpg`` and ``a.png`` of one split) are refused, with
    both names, so the report's counts are the files on disk. No id leads out of the folder
    (:func:`~labelport.formats.base.inside_name`).
    """
    found: dict[Any, tuple[str, str]] = {}
    for image in images:
        kept_split, subset = image.get("voc_split"), subset_of(image, named=True)
        where = kept_split if isinstance(kept_split, str) and kept_split else subset or split
        stem = inside_name(str(image["file_name"])).with_suffix("").as_posix()
        found[image["id"]] = (subset_folder(where, "voc"), stem)
    splits_of: dict[str, set[str]] = defaultdict(set)
    for where, stem in found.values():
        splits_of[stem].add(where)
    if any(len(s) > 1 for s in splits_of.values()):
        spaced = sorted({where for where, _ in found.values() if len(where.split()) != 1})
        if spaced:
            raise FormatError(
                "voc_subset",
                f"images of two subsets share names, so each id takes its subset as a folder, but the "
                f"subset {spaced[0]!r} holds a space, which ends an id in VOC's ImageSets lists.",
            )
        found = {k: (where, f"{where}/{stem}") for k, (where, stem) in found.items()}
    taken: dict[str, dict[str, Any]] = {}
    for image in images:
        other = taken.setdefault(found[image["id"]][1], image)
        if other is not image:
            raise FormatError(
                "voc_name_clash",
                f"images {other['file_name']!r} (id {other['id']}) and {image['file_name']!r} (id {image['id']}) "
                f"would both be Annotations/{found[image['id']][1]}.xml: VOC names an image's file after it "
                "without its extension; rename one of them.",
            )
    return found


def _annotation(
    image: dict[str, Any], anns: list[dict[str, Any]], names: dict[Any, str], segmented: bool, losses: Losses
) -> ET.Element:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "VOC"
    ET.SubElement(root, "filename").text = inside_name(str(image["file_name"])).name
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "labelport"
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(image["width"])
    ET.SubElement(size, "height").text = str(image["height"])
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "1" if segmented else "0"
    for ann in anns:
        element = ET.SubElement(root, "object")
        ET.SubElement(element, "name").text = names[ann["category_id"]]
        voc = kept(ann, "voc")
        attributes = plain_attributes(ann)
        ET.SubElement(element, "pose").text = str(voc.get("pose", attributes.pop("pose", "Unspecified")))
        for flag in FLAGS:
            given = voc.get(flag, attributes.pop(flag, 0))
            ET.SubElement(element, flag).text = "1" if given in (1, True, "1", "true") else "0"
        bbox = _bbox(ann, losses)
        box = ET.SubElement(element, "bndbox")
        for key, value in zip(
            ("xmin", "ymin", "xmax", "ymax"),
            (bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]),
            strict=True,
        ):
            ET.SubElement(box, key).text = fmt(value)
        for part in voc.get("parts") or []:
            node = ET.SubElement(element, "part")
            ET.SubElement(node, "name").text = str(part.get("name"))
            part_box = ET.SubElement(node, "bndbox")
            for key, value in zip(("xmin", "ymin", "xmax", "ymax"), part.get("bndbox") or [], strict=False):
                ET.SubElement(part_box, key).text = fmt(value)
        if voc.get("actions"):
            actions = ET.SubElement(element, "actions")
            for action, value in voc["actions"].items():
                ET.SubElement(actions, str(action)).text = str(value)
        if attributes:
            holder = ET.SubElement(element, "attributes")
            for key, value in attributes.items():
                attribute = ET.SubElement(holder, "attribute")
                ET.SubElement(attribute, "name").text = str(key)
                ET.SubElement(attribute, "value").text = answer_text(value)
        if ann.get("score") is not None:
            losses.add("score")
        if ann.get("iscrowd") in (1, True):
            losses.add("iscrowd")
        if ann.get("track_id") is not None:
            losses.add("track_id")
    return root


def _bbox(ann: dict[str, Any], losses: Losses) -> list[float]:
    bbox = ann.get("bbox")
    seg = ann.get("segmentation")
    if rotation_of(ann):
        losses.add("rotation")
    if ann.get("keypoints"):
        losses.add("keypoints")
    if isinstance(bbox, list) and len(bbox) == 4:
        return [float(v) for v in bbox]
    if isinstance(seg, dict):
        return geometry.rle_bbox(seg)
    if isinstance(seg, list) and seg:
        return geometry.polygons_bbox(seg)
    points = ann.get("keypoints") or [0, 0, 0]
    xs, ys = points[0::3], points[1::3]
    losses.add("point as a 1-pixel box")
    return [min(xs), min(ys), max(max(xs) - min(xs), 1), max(max(ys) - min(ys), 1)]


def _masks(
    out: Path,
    stem: str,
    image: dict[str, Any],
    anns: list[dict[str, Any]],
    class_index: dict[Any, int],
    losses: Losses,
) -> None:
    from PIL import Image

    height, width = int(image["height"]), int(image["width"])
    if height * width > MAX_IMAGE_PIXELS:
        raise ImageError(
            "image_pixels",
            f"a mask over a {width:,}x{height:,} image is not decoded: labelport decodes masks of at most "
            f"{MAX_IMAGE_PIXELS:,} pixels (image {image.get('file_name')!r}).",
        )
    instances = np.zeros((height, width), dtype=np.uint8)
    classes = np.zeros((height, width), dtype=np.uint8)
    for k, ann in enumerate(anns, 1):
        seg = ann.get("segmentation")
        if isinstance(seg, dict):
            mask = geometry.rle_to_mask(seg).astype(bool)
        elif isinstance(seg, list) and seg and isinstance(seg[0], list):
            mask = geometry.rle_to_mask(geometry.rle_from_polygons(seg, height, width)).astype(bool)
            losses.add("polygon->mask")
        else:
            continue
        if k > 254:
            losses.add("instances beyond 254 in one image")
            continue
        overlap = int((instances[mask] != 0).sum())
        if overlap:
            losses.add("mask pixels under a later object", overlap)
        instances[mask] = k
        classes[mask] = min(class_index[ann["category_id"]], 254)
    for folder, array in (("SegmentationObject", instances), ("SegmentationClass", classes)):
        path = out / folder / f"{stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        png = Image.fromarray(array, mode="P")
        png.putpalette(_palette())
        png.save(path)
