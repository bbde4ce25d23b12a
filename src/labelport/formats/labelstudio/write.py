"""Write a COCO-shaped dict as a Label Studio JSON import (a list of tasks with annotations or predictions).

One task per image (its kept ``data.image`` URL, else its file name), results in percent of the
image: boxes as ``rectanglelabels`` (rotation turned back to Label Studio's top-left pivot),
polygons as ``polygonlabels`` (one per ring), masks as ``brushlabels`` (Label Studio's RLE), points
as ``keypointlabels``; skeletons as one key point per visible node (labelled with the node's name).
With ``predictions=True`` the results go under ``predictions`` with their scores. What Label Studio
cannot carry in these results is counted.

``write_labelstudio(coco, "tasks.json")`` returns an ``ExportReport``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from labelport import geometry
from labelport.errors import FormatError
from labelport.formats.base import ExportReport, Losses, is_polyline, kept, plain_attributes, rotation_of
from labelport.formats.labelstudio.rle import rle_from_mask

_CONTROLS = {
    "rectanglelabels": "label",
    "polygonlabels": "polygon",
    "keypointlabels": "keypoint",
    "brushlabels": "brush",
}


def write_labelstudio(coco: dict[str, Any], dest: str | Path, *, predictions: bool = False) -> ExportReport:
    """Write ``coco`` to the JSON file ``dest``; see the module docstring."""
    out = Path(dest).expanduser()
    if out.is_dir():
        raise FormatError("ls_dest", "is a folder; a Label Studio export is one JSON file.", file=str(out))
    names = {c["id"]: c for c in coco.get("categories", [])}
    by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for ann in coco.get("annotations", []):
        by_image[ann.get("image_id")].append(ann)
    losses = Losses()
    report = ExportReport(format="labelstudio", path=str(out), files=1)
    tasks = []
    for n, image in enumerate(coco.get("images", []), 1):
        results: list[dict[str, Any]] = []
        scores = []
        for ann in by_image.get(image["id"], []):
            category = names.get(ann.get("category_id"))
            if category is None:
                losses.add("unknown category")
                continue
            made = _results(ann, category, image, losses)
            if made:
                report.objects += 1
            if ann.get("score") is not None:
                scores.append(float(ann["score"]))
                if predictions:
                    for result in made:
                        result["score"] = ann["score"]
                else:
                    losses.add("score (write predictions=True to keep it)")
            results += made
        url = kept(image, "labelstudio").get("image") or str(image.get("file_name"))
        task: dict[str, Any] = {"id": image["id"] if type(image["id"]) is int else n, "data": {"image": url}}
        group: dict[str, Any] = {"id": n, "result": results}
        if predictions:
            group = {
                "id": n,
                "model_version": "labelport",
                "score": sum(scores) / len(scores) if scores else 1.0,
                "result": results,
            }
            task |= {"annotations": [], "predictions": [group]}
        else:
            task |= {"annotations": [group], "predictions": []}
        tasks.append(task)
        report.images += 1
    out.write_bytes(msgspec.json.format(msgspec.json.encode(tasks), indent=2))
    report.losses = dict(losses)
    return report


def _base(
    kind: str, ann: dict[str, Any], image: dict[str, Any], value: dict[str, Any], n: int = 0
) -> dict[str, Any]:
    ls = kept(ann, "labelstudio")
    ident = ls.get("id") if n == 0 and ls.get("id") else f"lp{ann.get('id')}" + (f"-{n}" if n else "")
    return {
        "id": ident,
        "type": kind,
        "from_name": ls.get("from_name") or _CONTROLS[kind],
        "to_name": ls.get("to_name") or "image",
        "original_width": image["width"],
        "original_height": image["height"],
        "image_rotation": 0,
        "value": value,
    }


def _results(
    ann: dict[str, Any], category: dict[str, Any], image: dict[str, Any], losses: Losses
) -> list[dict[str, Any]]:
    width, height = float(image["width"]), float(image["height"])
    name = category["name"]
    seg, bbox = ann.get("segmentation"), ann.get("bbox")
    if ann.get("iscrowd") not in (None, 0, False):
        losses.add("iscrowd")
    if ann.get("track_id") is not None:  # track 0 is a track too
        losses.add("track_id")
    if plain_attributes(ann):
        losses.add("attributes")
    if isinstance(seg, dict):
        mask = geometry.rle_to_mask(seg)
        return [
            _base(
                "brushlabels",
                ann,
                image,
                {"format": "rle", "rle": rle_from_mask(mask), "brushlabels": [name]},
            )
        ]
    if isinstance(seg, list) and seg and isinstance(seg[0], list):
        if is_polyline(ann):
            losses.add("polyline->polygon")
        if len(seg) > 1:
            losses.add("polygon parts (written as separate polygons)", len(seg) - 1)
        return [
            _base(
                "polygonlabels",
                ann,
                image,
                {
                    "points": [
                        [ring[i] / width * 100, ring[i + 1] / height * 100]
                        for i in range(0, len(ring) - 1, 2)
                    ],
                    "polygonlabels": [name],
                    "closed": True,
                },
                n,
            )
            for n, ring in enumerate(seg)
        ]
    keypoints = ann.get("keypoints")
    if keypoints and (not bbox or len(category.get("keypoints") or []) > 1):
        if bbox:
            losses.add("box of a skeleton (written as its points only)")
        return _keypoints(ann, category, image, keypoints, losses)
    if isinstance(bbox, list) and len(bbox) == 4:
        x, y, w, h = (float(v) for v in bbox)
        theta = rotation_of(ann)
        t = math.radians(theta)
        cx, cy = x + w / 2, y + h / 2
        left = cx - (w / 2) * math.cos(t) + (h / 2) * math.sin(t)  # the top-left corner, turned
        top = cy - (w / 2) * math.sin(t) - (h / 2) * math.cos(t)
        value = {
            "x": left / width * 100,
            "y": top / height * 100,
            "width": w / width * 100,
            "height": h / height * 100,
            "rotation": theta,
            "rectanglelabels": [name],
        }
        if keypoints:
            losses.add("keypoints")
        return [_base("rectanglelabels", ann, image, value)]
    losses.add("no geometry")
    return []


def _keypoints(
    ann: dict[str, Any], category: dict[str, Any], image: dict[str, Any], keypoints: list[Any], losses: Losses
) -> list[dict[str, Any]]:
    """One ``keypointlabels`` result per visible point: a point is of its class, a skeleton's of its node."""
    width, height = float(image["width"]), float(image["height"])
    name = category["name"]
    nodes = category.get("keypoints") or []
    single = len(keypoints) == 3
    if not single:
        losses.add("skeleton->points (one key point per node)")
    return [
        _base(
            "keypointlabels",
            ann,
            image,
            {
                "x": keypoints[i] / width * 100,
                "y": keypoints[i + 1] / height * 100,
                "width": 0.5,
                "keypointlabels": [name if single else str(nodes[i // 3] if i // 3 < len(nodes) else i // 3)],
            },
            i // 3,
        )
        for i in range(0, len(keypoints), 3)
        if keypoints[i + 2]
    ]
