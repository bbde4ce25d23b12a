"""Write a COCO-shaped dict as CVAT for images 1.1 or CVAT for video 1.1 XML.

Images: one ``<image>`` per COCO image (its id kept), boxes (with ``rotation``), polygons (one per
ring, the rings of one object in one ``group_id``, which the reader joins again), polylines and
points as they came from CVAT, key points as skeletons (the category's ``keypoints`` and
``skeleton`` in the meta), masks as CVAT's RLE over their bounding region. An image's subset (CVAT's,
or a YOLO or VOC split) is written on it, with a project's meta naming the subsets (see
:func:`image_subsets`). Video (``mode="video"``, the default when the labels are on one video): one ``<track>`` per
``track_id`` (an annotation without one is a track of its own), a shape per frame with the kept
``keyframe``, and an ``outside`` shape where the track leaves. CVAT's own fields kept at import
(``occluded``, ``z_order``, ``group_id``, ``source``) are written back. What CVAT cannot carry is
counted: scores, ``iscrowd``, COCO annotation and category ids (CVAT numbers neither), a second video.

``write_cvat(coco, "annotations.xml")`` returns an ``ExportReport``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from labelport import geometry
from labelport.errors import FormatError
from labelport.formats.base import (
    ExportReport,
    Losses,
    is_polyline,
    kept,
    plain_attributes,
    rotation_of,
    subset_of,
)
from labelport.formats.xml import answer_text, fmt, write_xml


def write_cvat(coco: dict[str, Any], dest: str | Path, *, mode: str | None = None) -> ExportReport:
    """Write ``coco`` to the XML file ``dest``; see the module docstring."""
    out = Path(dest).expanduser()
    if out.is_dir():
        raise FormatError("cvat_dest", "is a folder; CVAT XML is one file.", file=str(out))
    images = list(coco.get("images", []))
    videos = sorted({str(i["video_title"]) for i in images if i.get("video_title")})
    mode = mode or (
        "video" if videos and len(videos) == 1 and all(i.get("video_title") for i in images) else "images"
    )
    if mode not in ("images", "video"):
        raise FormatError("cvat_mode", f"mode is 'images' or 'video', not {mode!r}.")
    losses = Losses()
    categories = sorted(
        coco.get("categories", []),
        key=lambda c: (type(c["id"]) is not int, str(c["id"]) if type(c["id"]) is not int else c["id"]),
    )
    if [c["id"] for c in categories] != list(range(1, len(categories) + 1)):
        losses.add("category ids (CVAT numbers labels in order)", len(categories))
    names = {c["id"]: _label(c) for c in categories}
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    meta = ET.SubElement(root, "meta")
    report = ExportReport(format="cvat", path=str(out), files=1)
    anns = list(coco.get("annotations", []))
    writer = _Shapes(names, {c["id"]: c for c in categories}, losses, anns)
    if [a.get("id") for a in anns] != list(range(1, len(anns) + 1)):
        losses.add("annotation ids (CVAT has none; they come back numbered in order)", len(anns))
    if mode == "video":
        if len(videos) != 1:
            raise FormatError(
                "cvat_video",
                f"CVAT for video holds one video; these labels are on {len(videos)} ({', '.join(videos[:3])}): write mode='images'.",
            )
        on_video = [i for i in images if i.get("video_title") == videos[0]]
        if len(on_video) < len(images):
            losses.add("images not on the video", len(images) - len(on_video))
        task = _meta(meta, categories, anns, names, name=videos[0])
        size = ET.SubElement(task, "original_size")
        ET.SubElement(size, "width").text = str(on_video[0]["width"])
        ET.SubElement(size, "height").text = str(on_video[0]["height"])
        ET.SubElement(meta, "source").text = videos[0]
        report.objects = _tracks(root, on_video, anns, writer)
        report.images = len(on_video)
    else:
        subsets = image_subsets(images)
        _meta(
            meta,
            categories,
            anns,
            names,
            name=str(coco.get("info", {}).get("description") or "labelport"),
            subsets=sorted({s for s in subsets.values() if s is not None}),
        )
        report.objects = _images(root, images, anns, writer, subsets)
        report.images = len(images)
    write_xml(root, out)
    report.losses = dict(losses)
    return report


def _label(category: dict[str, Any]) -> str:
    """The CVAT label a category is written as: its name, or the label it was split from at import
    (``cvat_label``: the points of a label that was drawn as other shapes too)."""
    given = category.get("cvat_label")
    return given if isinstance(given, str) and given else str(category["name"])


def _meta(
    meta: ET.Element,
    categories: list[dict[str, Any]],
    anns: list[dict[str, Any]],
    names: dict[Any, str],
    *,
    name: str,
    subsets: list[str] | None = None,
) -> ET.Element:
    """The meta's task: one ``<label>`` per label name (two categories written as one label share it).
    With ``subsets``, a project's meta as CVAT exports one: its labels, and a task per subset (the
    ``<subset>`` elements by which Datumaro reads the images of each)."""
    task = ET.SubElement(meta, "project" if subsets else "task")
    ET.SubElement(task, "name").text = name
    labels = ET.SubElement(task, "labels")
    if subsets:
        tasks = ET.SubElement(task, "tasks")
        for n, subset in enumerate(subsets, 1):
            one = ET.SubElement(tasks, "task")
            ET.SubElement(one, "id").text = str(n)
            ET.SubElement(one, "name").text = subset
            ET.SubElement(one, "subset").text = subset
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    kinds: dict[str, dict[str, str]] = defaultdict(dict)
    skeletons: set[Any] = set()
    for ann in anns:
        of = names.get(ann.get("category_id"), "")
        if ann.get("keypoints") and _kind(ann) != "points":
            skeletons.add(ann.get("category_id"))
        for key, value in plain_attributes(ann).items():
            values[of][key].add(answer_text(value))
            kind = (
                "checkbox"
                if isinstance(value, bool)
                else "number"
                if isinstance(value, (int, float))
                else "text"
            )
            kinds[of][key] = kind if kinds[of].get(key, kind) == kind else "text"
    written: set[str] = set()
    for category in categories:
        label_name = names[category["id"]]
        if label_name in written:
            continue
        written.add(label_name)
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = label_name
        nodes = category.get("keypoints") or []
        skeleton = bool(nodes) and category["id"] in skeletons
        ET.SubElement(label, "type").text = "skeleton" if skeleton else "any"
        attributes = ET.SubElement(label, "attributes")
        for key in sorted(values[label_name]):
            attribute = ET.SubElement(attributes, "attribute")
            ET.SubElement(attribute, "name").text = key
            ET.SubElement(attribute, "mutable").text = "False"
            ET.SubElement(attribute, "input_type").text = kinds[label_name][key]
            ET.SubElement(attribute, "default_value").text = ""
            ET.SubElement(attribute, "values").text = "\n".join(sorted(values[label_name][key]))
        if skeleton:
            ET.SubElement(label, "svg").text = _svg(nodes, category.get("skeleton") or [])
            for node in nodes:
                sub = ET.SubElement(labels, "label")
                ET.SubElement(sub, "name").text = node
                ET.SubElement(sub, "type").text = "points"
                ET.SubElement(sub, "attributes")
                ET.SubElement(sub, "parent").text = label_name
    return task


def _kind(ann: dict[str, Any]) -> Any:
    return kept(ann, "cvat").get("type")


def _svg(nodes: list[str], edges: list[list[int]]) -> str:
    lines = "".join(
        f'<line x1="0" y1="0" x2="0" y2="0" data-type="edge" data-node-from="{a}" data-node-to="{b}"></line>'
        for a, b in edges
    )
    circles = "".join(
        f'<circle r="1.5" cx="0" cy="0" data-type="element node" data-element-id="{i + 1}" data-node-id="{i + 1}" data-label-name="{n}"></circle>'
        for i, n in enumerate(nodes)
    )
    return lines + circles


def image_subsets(images: list[dict[str, Any]]) -> dict[Any, str | None]:
    """Image id -> the subset written on its ``<image>``: the one it came with (CVAT's, YOLO's or VOC's
    split); ``default`` (CVAT's name) for the others when some have one, as every image of a project
    is in a subset. Two images of one name in one subset are refused, with both, before anything is
    written: CVAT and Datumaro know an image by its name within its subset."""
    given = {image["id"]: subset_of(image) for image in images}
    if any(given.values()):
        given = {k: v or "default" for k, v in given.items()}
    taken: dict[tuple[str, str | None], dict[str, Any]] = {}
    for image in images:
        subset = given[image["id"]]
        other = taken.setdefault((str(image.get("file_name")), subset), image)
        if other is not image:
            raise FormatError(
                "cvat_image_duplicate",
                f"images {other['id']} and {image['id']} are both named {image.get('file_name')!r}"
                + (f" in subset {subset!r}" if subset else "")
                + ": CVAT names each image of a subset once; rename one of them or give them subsets.",
            )
    return given


def _images(
    root: ET.Element,
    images: list[dict[str, Any]],
    anns: list[dict[str, Any]],
    writer: _Shapes,
    subsets: dict[Any, str | None],
) -> int:
    by_image: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for ann in anns:
        by_image[ann.get("image_id")].append(ann)
    used: set[int] = set()
    wanted = [i["id"] if type(i["id"]) is int and i["id"] >= 0 else None for i in images]
    count = 0
    for image, want in zip(images, wanted, strict=True):
        ident = (
            want
            if want is not None and want not in used
            else max(used | {w for w in wanted if w is not None}, default=-1) + 1
        )
        used.add(ident)
        element = ET.SubElement(
            root,
            "image",
            id=str(ident),
            name=str(image.get("file_name") or ident),
            width=str(image["width"]),
            height=str(image["height"]),
        )
        subset = subsets[image["id"]]
        if subset:
            element.set("subset", subset)
        for ann in by_image.get(image["id"], []):
            if ann.get("track_id") is not None:
                writer.losses.add("track_id")
            count += writer.write(element, ann, image, frame=None)
    return count


def _tracks(
    root: ET.Element, images: list[dict[str, Any]], anns: list[dict[str, Any]], writer: _Shapes
) -> int:
    frames = {i["id"]: int(i.get("frame", 0)) for i in images}
    last = max(frames.values(), default=0)
    tracks: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for n, ann in enumerate(anns):
        if ann.get("image_id") in frames:
            tracks[ann["track_id"] if ann.get("track_id") is not None else f"#{n}"].append(ann)
    used = {t for t in tracks if type(t) is int}
    next_id = max(used, default=-1) + 1
    count = 0
    image_of = {i["id"]: i for i in images}
    for key in sorted(tracks, key=lambda t: (type(t) is not int, t if type(t) is int else 0, str(t))):
        shapes = sorted(tracks[key], key=lambda a: frames[a["image_id"]])
        ident = key if type(key) is int else next_id
        next_id += type(key) is not int
        category = {shape.get("category_id") for shape in shapes}
        if len(category) > 1:
            writer.losses.add("track with several classes (the first kept)")
        track = ET.SubElement(
            root, "track", id=str(ident), label=writer.names.get(shapes[0].get("category_id"), "")
        )
        group = (shapes[0].get("cvat") or {}).get("group_id")
        if group is not None:
            track.set("group_id", str(group))
        for i, ann in enumerate(shapes):
            frame = frames[ann["image_id"]]
            count += writer.write(track, ann, image_of[ann["image_id"]], frame=frame)
            following = frames[shapes[i + 1]["image_id"]] if i + 1 < len(shapes) else None
            if frame < last and following != frame + 1:  # the track leaves: an outside keyframe
                element = track[-1]
                ended = ET.SubElement(track, element.tag, dict(element.attrib))
                for child in element:
                    ended.append(child)
                ended.set("frame", str(frame + 1))
                ended.set("outside", "1")
                ended.set("keyframe", "1")
    return count


class _Shapes:
    def __init__(
        self,
        names: dict[Any, str],
        categories: dict[Any, dict[str, Any]],
        losses: Losses,
        anns: Iterable[dict[str, Any]] = (),
    ) -> None:
        self.names, self.categories, self.losses = names, categories, losses
        kept_groups = (kept(a, "cvat").get("group_id") for a in anns)
        #: the next group id no kept group uses (for the parts of one object)
        self.next_group = max((g for g in kept_groups if type(g) is int), default=0) + 1

    def write(
        self, parent: ET.Element, ann: dict[str, Any], image: dict[str, Any], *, frame: int | None
    ) -> int:
        """Write one annotation's shapes under ``parent``; how many objects were written (0 or 1)."""
        cvat = kept(ann, "cvat")
        label = self.names.get(ann.get("category_id"))
        if label is None:
            self.losses.add("unknown category")
            return 0
        common: dict[str, str] = {"label": label} if frame is None else {}
        if frame is not None:
            common |= {"frame": str(frame), "outside": "0", "keyframe": str(cvat.get("keyframe", 1))}
        common["occluded"] = str(cvat.get("occluded", 0))
        common["source"] = str(cvat.get("source", "manual"))
        common["z_order"] = str(cvat.get("z_order", 0))
        group = cvat.get("group_id")
        if group is not None and frame is None:
            common["group_id"] = str(group)
        if ann.get("score") is not None:
            self.losses.add("score")
        if ann.get("iscrowd") in (1, True) and not isinstance(ann.get("segmentation"), dict):
            self.losses.add("iscrowd")
        elements = self._elements(ann, cvat, image)
        if not elements:
            return 0
        if len(elements) > 1 and group is None and frame is None:  # parts of one object: one group
            common["group_id"] = str(self.next_group)
            self.next_group += 1
        for tag, attributes, children in elements:
            element = ET.SubElement(parent, tag, {**common, **attributes})
            for child_tag, child_attributes in children:
                ET.SubElement(element, child_tag, child_attributes)
            for key, value in plain_attributes(ann).items():
                ET.SubElement(element, "attribute", name=str(key)).text = answer_text(value)
        if len(elements) > 1 and frame is not None:
            self.losses.add("polygon parts (a track has one shape a frame)", len(elements) - 1)
        return 1

    def _elements(
        self, ann: dict[str, Any], cvat: dict[str, Any], image: dict[str, Any]
    ) -> list[tuple[str, dict[str, str], list[tuple[str, dict[str, str]]]]]:
        seg, bbox, kind = ann.get("segmentation"), ann.get("bbox"), cvat.get("type")
        polyline = is_polyline(ann)
        keypoints = ann.get("keypoints")
        if keypoints and seg:
            self.losses.add("keypoints of a polygon or mask (a CVAT shape is of one kind)")
        if isinstance(seg, dict):
            return [("mask", _mask(seg, cvat.get("region")), [])]
        if isinstance(seg, list) and seg and isinstance(seg[0], list):
            tag = "polyline" if polyline else "polygon"
            return [(tag, {"points": _points(ring)}, []) for ring in seg]
        if keypoints:
            nodes = self.categories[ann["category_id"]].get("keypoints") or []
            if kind == "points" or not bbox:
                visible = [
                    v for i in range(0, len(keypoints), 3) if keypoints[i + 2] for v in keypoints[i : i + 2]
                ]
                return [("points", {"points": _points(visible)}, [])] if visible else []
            children = []
            for i, node in enumerate(nodes):
                x, y, v = keypoints[3 * i : 3 * i + 3] if 3 * i + 2 < len(keypoints) else (0, 0, 0)
                children.append(
                    (
                        "points",
                        {
                            "label": node,
                            "source": "manual",
                            "outside": str(int(v == 0)),
                            "occluded": str(int(v == 1)),
                            "points": f"{fmt(x)},{fmt(y)}",
                        },
                    )
                )
            if isinstance(bbox, list) and len(bbox) == 4 and not _is_points_box(bbox, keypoints):
                self.losses.add("box of a skeleton (CVAT has none: it comes back as its points' box)")
            return [("skeleton", {}, children)]
        if isinstance(bbox, list) and len(bbox) == 4:
            x, y, w, h = (float(v) for v in bbox)
            attributes = {"xtl": fmt(x), "ytl": fmt(y), "xbr": fmt(x + w), "ybr": fmt(y + h)}
            theta = rotation_of(ann)
            if theta:
                attributes["rotation"] = fmt(theta)
            return [("box", attributes, [])]
        self.losses.add("no geometry")
        return []


def _is_points_box(bbox: list[Any], keypoints: list[Any]) -> bool:
    """Whether a box is the one a reader gives a skeleton: its visible points' extent, 1 pixel at least."""
    xs = [float(keypoints[i]) for i in range(0, len(keypoints) - 2, 3) if keypoints[i + 2]] or [0.0]
    ys = [float(keypoints[i + 1]) for i in range(0, len(keypoints) - 2, 3) if keypoints[i + 2]] or [0.0]
    points_box = [min(xs), min(ys), max(max(xs) - min(xs), 1), max(max(ys) - min(ys), 1)]
    return all(abs(float(a) - b) <= 1e-3 for a, b in zip(bbox, points_box, strict=True))


def _points(flat: list[Any]) -> str:
    return ";".join(f"{fmt(flat[i])},{fmt(flat[i + 1])}" for i in range(0, len(flat) - 1, 2))


def _mask(rle: dict[str, Any], region: Any = None) -> dict[str, str]:
    """CVAT's mask: the runs (background first) over the mask's region, row by row: the region it came
    with when that still holds every pixel of it, else its bounding box."""
    mask = geometry.rle_to_mask(rle)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return {"rle": "1", "left": "0", "top": "0", "width": "1", "height": "1"}
    left, top, right, bottom = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    if isinstance(region, list) and len(region) == 4 and all(type(v) is int for v in region):
        l0, t0, w0, h0 = region
        if (
            l0 <= left
            and t0 <= top
            and right < l0 + w0 <= mask.shape[1]
            and bottom < t0 + h0 <= mask.shape[0]
        ):
            left, top, right, bottom = l0, t0, l0 + w0 - 1, t0 + h0 - 1
    region = mask[top : bottom + 1, left : right + 1].ravel()
    changes = np.flatnonzero(np.diff(region)) + 1
    bounds = np.concatenate(([0], changes, [region.size]))
    runs = np.diff(bounds).tolist()
    if region[0] == 1:
        runs = [0, *runs]
    return {
        "rle": ", ".join(str(r) for r in runs),
        "left": str(left),
        "top": str(top),
        "width": str(right - left + 1),
        "height": str(bottom - top + 1),
    }
