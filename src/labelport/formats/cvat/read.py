"""Read CVAT for images 1.1 and CVAT for video 1.1 XML into the neutral dataset.

Images: ``<image id name width height>`` holding ``box`` (with ``rotation``), ``polygon``,
``polyline``, ``points``, ``mask`` (CVAT's RLE over its ``left top width height`` region),
``skeleton`` (``points`` children, one per node) and ``tag``. Video: ``<track id label>`` holding one
shape per frame, with ``keyframe`` and ``outside``; the frames become images of a video titled after
``meta/source`` (else the task's name), and each track one object (``track_id``) across frames.
CVAT's own fields (``occluded``, ``z_order``, ``group_id``, ``source``, ``keyframe``, the shape
type) are kept in each record's ``cvat`` key; attributes go to ``attributes``; rotation to
``attributes.rotation`` in degrees. The image id is kept as the COCO image id. Polygons of one
``group_id`` and label that differ only in their points are one object of several parts.

``read_cvat("annotations.xml")`` returns a ``Dataset``; problems name an element: ``/annotations/image[2]/box[1]``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from labelport import geometry
from labelport.formats.base import COORDINATE_LIMIT, Dataset, Place, Sizes, capped_bytes, far_coordinate
from labelport.formats.xml import (
    answer_value,
    element_path,
    numbered,
    parse_xml,
    plain,
    source_line,
    text_number,
    whole_number,
)
from labelport.imports.policy import ErrorPolicy
from labelport.limits import MAX_DOCUMENT_BYTES, MAX_IMAGE_PIXELS, READ_WHOLE
from labelport.plural import plural

SHAPES = ("box", "polygon", "polyline", "points", "mask", "skeleton")
#: where an image's COCO fields are in a CVAT file (see :class:`Place`)
_IMAGE = {"width": "/@width", "height": "/@height", "file_name": "/@name", "id": "/@id"}


class _Labels:
    """The meta's labels: attribute input types, skeleton node names and edges."""

    def __init__(self, root: ET.Element) -> None:
        self.types: dict[str, str] = {}
        self.nodes: dict[str, list[str]] = {}
        self.edges: dict[str, list[list[int]]] = {}
        self.order: list[str] = []
        #: each top-level label's line in the file
        self.lines: dict[str, int | None] = {}
        skeletons: list[tuple[str, str]] = []
        for label in root.iter("label"):
            name = label.findtext("name")
            if name is None:
                continue
            for attribute in label.iter("attribute"):
                attr_name = attribute.findtext("name")
                if attr_name is not None:
                    self.types[attr_name] = attribute.findtext("input_type") or "text"
            parent = label.findtext("parent")
            if parent:
                self.nodes.setdefault(parent, []).append(name)
                continue
            self.order.append(name)
            self.lines.setdefault(name, source_line(label))
            svg = label.findtext("svg")
            if label.findtext("type") == "skeleton" and svg:
                skeletons.append((name, svg))
        for name, svg in skeletons:  # after every label: the nodes are labels of their own
            self._skeleton(name, svg)

    def _skeleton(self, name: str, svg: str) -> None:
        ids = {
            m.group(1): m.group(2)
            for m in re.finditer(r'data-node-id="(\d+)"[^>]*?data-label-name="([^"]*)"', svg)
        }
        edges = re.findall(r'data-node-from="(\d+)"[^>]*?data-node-to="(\d+)"', svg)
        order = {node: i + 1 for i, node in enumerate(self.nodes.get(name, []))}
        self.edges[name] = [
            [order[ids[a]], order[ids[b]]] for a, b in edges if ids.get(a) in order and ids.get(b) in order
        ]


def read_cvat(
    source: str | Path, *, on_error: str = "fail", sizes: Sizes | None = None, confined: bool = False
) -> Dataset:
    """Read a CVAT 1.1 XML file (for images or for video); see the module docstring. It names no
    other file to read, so ``confined`` (a server) changes nothing."""
    path = Path(source).expanduser()
    file = str(path)
    root = parse_xml(capped_bytes(path, "a CVAT XML file", MAX_DOCUMENT_BYTES, why=READ_WHOLE), file)
    policy = ErrorPolicy.of(on_error)
    if root.tag != "annotations":
        policy.problem(
            "cvat_root",
            file,
            f"the root element is <{root.tag}>, not <annotations> (CVAT 1.1).",
            path=f"/{root.tag}",
        )
        policy.finish()
    meta = root.find("meta")
    labels = _Labels(root if meta is None else meta)
    data = Dataset(name=path.name)
    for name in labels.order:
        extra: dict[str, Any] = {}
        if name in labels.nodes:
            extra = {"keypoints": labels.nodes[name], "skeleton": labels.edges.get(name, [])}
        place = Place(file, labels.lines.get(name), f"/annotations/meta//label[name={name!r}]")
        data.category(name, place=place, **extra)
    reader = _Reader(data, policy, labels, file, _task_subset(meta))
    tracks = [(el, n) for el, n in numbered(root) if el.tag == "track"]
    if tracks:
        reader.video(root, tracks, path.stem, sizes)
    for element, n in numbered(root):
        if element.tag == "image":
            reader.image(element, n)
    policy.finish()
    data.problems = policy.problems
    _join_groups(data)
    _points_as_keypoints(data)
    return data


def _task_subset(meta: ET.Element | None) -> str | None:
    """The subset a task export names once in its meta (``meta/task/subset``), the subset of each of its
    images that names none; None when it names none (a project export names it on each image)."""
    subset = (meta.findtext("task/subset") or "").strip() if meta is not None else ""
    return subset or None


def _join_groups(data: Dataset) -> None:
    """Polygons (or polylines) of one image, label and ``group_id`` that differ in nothing but their
    points are the parts of one object (how CVAT, Datumaro and labelport write an object of several
    polygons): they become one record with a ring each. Ids are given again in order."""
    first: dict[tuple[Any, ...], dict[str, Any]] = {}
    kept = []
    for ann in data.annotations:
        cvat = ann["cvat"]
        if cvat["type"] in ("polygon", "polyline") and "group_id" in cvat and "track_id" not in ann:
            key = (ann["image_id"], ann["category_id"], repr(cvat), repr(ann.get("attributes")))
            whole = first.setdefault(key, ann)
            if whole is not ann:
                whole["segmentation"].append(ann["segmentation"][0])
                whole["bbox"] = [plain(v) for v in geometry.polygons_bbox(whole["segmentation"])]
                continue
        kept.append(ann)
    for n, ann in enumerate(kept, 1):
        ann["id"] = n
    data.annotations = kept


def _points_as_keypoints(data: Dataset) -> None:
    """CVAT ``points`` of a class become key points named 1..n (n the most any shape has), padded unseen.

    A label of type ``any`` may be drawn as points and as other shapes in one file. A class has one
    shape (key points need a skeleton whose every object has them), so the points of such a label go
    to a class of their own, ``<label> (points)``, which keeps the label's name (``cvat_label``) for the
    writer to give back; the label's other shapes keep its name.
    """
    split_off: dict[int, int] = {}
    for category_id in sorted({a["category_id"] for a in data.annotations if a["cvat"]["type"] == "points"}):
        category = data.categories[category_id - 1]
        others = any(
            a["category_id"] == category_id and a["cvat"]["type"] != "points" for a in data.annotations
        )
        if others and not category.get("keypoints"):
            split_off[category_id] = data.category(_unused(data, f"{category['name']} (points)"))
            data.categories[split_off[category_id] - 1]["cvat_label"] = category["name"]
    most: dict[int, int] = {}
    for ann in data.annotations:
        if ann["cvat"]["type"] == "points":
            ann["category_id"] = split_off.get(ann["category_id"], ann["category_id"])
            most[ann["category_id"]] = max(most.get(ann["category_id"], 0), len(ann["keypoints"]) // 3)
    for category_id, n in most.items():
        data.categories[category_id - 1].setdefault("keypoints", [str(i + 1) for i in range(n)])
        data.categories[category_id - 1].setdefault("skeleton", [])
    for ann in data.annotations:
        if ann["category_id"] in most and ann["cvat"]["type"] == "points":
            ann["keypoints"] += [0, 0, 0] * (most[ann["category_id"]] - len(ann["keypoints"]) // 3)


def _unused(data: Dataset, name: str) -> str:
    """``name``, or ``name 2``, ``name 3``... when the file has a label of that name already."""
    taken = {c["name"] for c in data.categories}
    found, n = name, 1
    while found in taken:
        n += 1
        found = f"{name} {n}"
    return found


def _video_length(meta: ET.Element | None) -> int | None:
    """The video's frame count from the meta (``task/size``; ``stop_frame`` + 1 when that is more,
    as a track may number its frames from the video's start), or None when it gives none."""
    task = meta.find("task") if meta is not None else None
    if task is None:
        return None
    size, stop = text_number(task.findtext("size")), text_number(task.findtext("stop_frame"))
    found = ([int(size)] if size is not None and size > 0 else []) + (
        [int(stop) + 1] if stop is not None and stop >= 0 else []
    )
    return max(found) if found else None


class _Reader:
    def __init__(
        self, data: Dataset, policy: ErrorPolicy, labels: _Labels, file: str, subset: str | None = None
    ) -> None:
        self.data, self.policy, self.labels, self.file = data, policy, labels, file
        #: the task's subset (its meta's), for the images that name none
        self.subset = subset
        self.image_ids: set[int] = set()
        #: (name, subset) -> the element that gave it first
        self.names: dict[tuple[str, str | None], str] = {}
        #: the line of the element being read (an image, a shape), for its problems
        self.line: int | None = None

    def problem(self, code: str, message: str, where: str) -> None:
        self.policy.problem(code, self.file, message, line=self.line, path=where)

    def image(self, element: ET.Element, n: int) -> None:
        where = element_path(("annotations", None), ("image", n))
        self.line = source_line(element)
        width, height = text_number(element.get("width")), text_number(element.get("height"))
        ident = element.get("id")
        if width is None or height is None or width < 1 or height < 1:
            self.problem("cvat_size", "an image needs whole-number 'width' and 'height' > 0.", where)
            return
        name, subset = element.get("name"), element.get("subset") or self.subset
        if name is not None:
            first = self.names.setdefault((name, subset), where)
            if first != where:
                self.problem(
                    "cvat_image_duplicate",
                    f"names the image {name!r}{'' if subset is None else f' of subset {subset!r}'} as {first} "
                    "does: CVAT names each image of a subset once, and the two cannot both be kept.",
                    where,
                )
                return
        image_id = whole_number(ident)
        image_id = None if image_id is None or image_id < 0 else image_id
        if image_id is None or image_id in self.image_ids:  # CVAT's ids are kept when they can be
            image_id = max(self.image_ids, default=-1) + 1
        self.image_ids.add(image_id)
        extra = {k: element.get(k) for k in ("subset", "task_id") if element.get(k) is not None}
        if subset is not None:
            extra["subset"] = subset
        self.data.image(
            element.get("name") or f"{image_id}.jpg",
            int(width),
            int(height),
            place=Place(self.file, source_line(element), where, _IMAGE),
            ident=image_id,
            **({"cvat": extra} if extra else {}),
        )
        for child, k in numbered(element):
            if child.tag in SHAPES:
                shape_where = element_path(("annotations", None), ("image", n), (child.tag, k))
                self.line = source_line(child)
                ann = self.shape(child, shape_where, (int(width), int(height)))
                if ann is not None:
                    self._add(image_id, child, ann, child.get("group_id"), shape_where)
            elif child.tag == "tag":
                self.data.dropped["cvat tag (a frame classification)"] = (
                    self.data.dropped.get("cvat tag (a frame classification)", 0) + 1
                )

    def video(
        self, root: ET.Element, tracks: list[tuple[ET.Element, int]], stem: str, sizes: Sizes | None
    ) -> None:
        meta = root.find("meta")
        task = meta.find("task") if meta is not None else None
        title = (
            (meta.findtext("source") if meta is not None else None)
            or (task.findtext("name") if task is not None else None)
            or stem
        )
        size = None
        original = root.find("meta/task/original_size")
        if original is not None:
            w, h = text_number(original.findtext("width")), text_number(original.findtext("height"))
            size = (int(w), int(h)) if w and h else None
        if size is None and sizes is not None:
            found = sizes(title)
            size = (found[1], found[2]) if found else None
        if size is None:
            self.line = None if task is None else source_line(task)
            self.problem(
                "cvat_size",
                f"the video {title!r} has no meta/task/original_size and no data unit of that name.",
                "/annotations/meta/task",
            )
            return
        length = _video_length(meta)
        frames: dict[int, int] = {}
        for track, n in tracks:
            track_id = track.get("id")
            for child, k in numbered(track):
                if child.tag not in SHAPES:
                    continue
                where = element_path(("annotations", None), ("track", n), (child.tag, k))
                self.line = source_line(child)
                frame = text_number(child.get("frame"))
                if frame is None or frame < 0 or not frame.is_integer():
                    self.problem(
                        "cvat_frame",
                        f"a track's shape needs a whole-number 'frame', not {child.get('frame')!r}.",
                        where,
                    )
                    continue
                if length is not None and frame >= length:
                    self.problem(
                        "frame_range",
                        f"frame {int(frame):,} is beyond the video {title!r}, which has "
                        f"{plural(length, 'frame')} (meta/task/size).",
                        where,
                    )
                    continue
                if child.get("outside") == "1":
                    continue  # the track is not on this frame (its end, or a gap)
                image_id = frames.get(int(frame))
                if image_id is None:
                    image_id = frames[int(frame)] = len(self.data.images) + 1
                    self.image_ids.add(image_id)
                    self.data.image(
                        f"{title}/{int(frame)}.jpg",
                        size[0],
                        size[1],
                        place=Place(self.file, source_line(child), where, {"frame": "/@frame"}),
                        ident=image_id,
                        video_title=title,
                        frame=int(frame),
                    )
                child.set("label", track.get("label", ""))
                ann = self.shape(child, where, size)
                if ann is not None:
                    number = whole_number(track_id)
                    ann["track_id"] = number if number is not None and number >= 0 else track_id
                    ann["cvat"]["keyframe"] = int(child.get("keyframe", "1") == "1")
                    self._add(image_id, child, ann, track.get("group_id"), where)

    def _add(
        self, image_id: int, element: ET.Element, ann: dict[str, Any], group: str | None, where: str
    ) -> None:
        label = element.get("label") or ""
        place = Place(self.file, source_line(element), where)
        category = self.data.category(label, place=Place(self.file, place.line, f"{where}/@label"))
        if group not in (None, "0"):
            number = whole_number(group)
            ann["cvat"]["group_id"] = number if number is not None and number >= 0 else group
        self.data.annotation(image_id, category, place=place, **ann)

    def shape(self, element: ET.Element, where: str, size: tuple[int, int]) -> dict[str, Any] | None:
        cvat: dict[str, Any] = {"type": element.tag}
        for key in ("occluded", "z_order", "source"):
            value = element.get(key)
            if value is not None:
                number = None if key == "source" else whole_number(value)
                cvat[key] = value if number is None else number
        attributes = {
            a.get("name", ""): answer_value(a.text, self.labels.types.get(a.get("name", "")))
            for a in element.findall("attribute")
        }
        ann: dict[str, Any] | None
        if not element.get("label"):
            self.problem(
                "cvat_label", f"a <{element.tag}> needs a 'label' naming its class; this one has none.", where
            )
            return None
        if element.tag == "box":
            ann = self._box(element, where, attributes)
        elif element.tag == "mask":
            ann = self._mask(element, where, size)
        elif element.tag == "skeleton":
            ann = self._skeleton(element, where)
        else:
            ann = self._points(element, where)
        if ann is None:
            return None
        if "region" in ann:  # the mask's own region, written back when it still holds the mask
            cvat["region"] = ann.pop("region")
        if attributes:
            ann["attributes"] = {**attributes, **ann.get("attributes", {})}
        ann["cvat"] = cvat
        return ann

    def _box(self, element: ET.Element, where: str, attributes: dict[str, Any]) -> dict[str, Any] | None:
        values = [text_number(element.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
        if any(v is None for v in values):
            missing = [k for k, v in zip(("xtl", "ytl", "xbr", "ybr"), values, strict=True) if v is None]
            self.problem(
                "cvat_box",
                f"a box needs numbers xtl, ytl, xbr and ybr; {', '.join(missing)} is missing or not a number.",
                where,
            )
            return None
        x1, y1, x2, y2 = (float(v) for v in values if v is not None)
        far = far_coordinate(dict(zip(("xtl", "ytl", "xbr", "ybr"), (x1, y1, x2, y2), strict=True)))
        if far is not None:
            self.problem("cvat_coordinate", f"the box's {far}", where)
            return None
        if x2 <= x1 or y2 <= y1:
            self.problem(
                "cvat_box",
                f"a box needs xbr > xtl and ybr > ytl, not ({x1:g}, {y1:g}) to ({x2:g}, {y2:g}).",
                where,
            )
            return None
        ann: dict[str, Any] = {"bbox": [plain(x1), plain(y1), plain(x2 - x1), plain(y2 - y1)]}
        rotation = text_number(element.get("rotation"))
        if rotation:
            ann["attributes"] = {"rotation": plain(rotation)}
        return ann

    def _flat_points(self, element: ET.Element, where: str) -> list[int | float] | None:
        text = element.get("points")
        out: list[int | float] = []
        for pair in (text or "").split(";"):
            xy = [text_number(v) for v in pair.split(",")]
            if len(xy) != 2 or xy[0] is None or xy[1] is None:
                self.problem("cvat_points", f"'points' is x,y pairs joined by ';', not {text!r}.", where)
                return None
            if max(abs(xy[0]), abs(xy[1])) > COORDINATE_LIMIT:
                self.problem(
                    "cvat_coordinate", f"in 'points', {far_coordinate({'x': xy[0], 'y': xy[1]})}", where
                )
                return None
            out += [plain(xy[0]), plain(xy[1])]
        return out

    def _points(self, element: ET.Element, where: str) -> dict[str, Any] | None:
        flat = self._flat_points(element, where)
        if flat is None:
            return None
        if element.tag == "points":
            return {
                "keypoints": [v for i in range(0, len(flat), 2) for v in (flat[i], flat[i + 1], 2)],
                "num_keypoints": len(flat) // 2,
            }
        if element.tag == "polygon" and len(flat) < 6:
            self.problem("cvat_points", f"a polygon needs 3 or more points, not {len(flat) // 2}.", where)
            return None
        if element.tag == "polyline" and len(flat) < 6:
            self.problem(
                "cvat_polyline",
                f"a polyline of {len(flat) // 2} points cannot be kept: labelport stores lines as point lists of 3 or more.",
                where,
            )
            return None
        return {"segmentation": [flat], "bbox": [plain(v) for v in geometry.polygons_bbox([flat])]}

    def _mask(self, element: ET.Element, where: str, size: tuple[int, int]) -> dict[str, Any] | None:
        box = [text_number(element.get(k)) for k in ("left", "top", "width", "height")]
        try:
            counts = [int(c) for c in (element.get("rle") or "").split(",")]
        except ValueError:
            counts = []
        if any(v is None for v in box) or not counts:
            self.problem(
                "cvat_mask",
                "a mask needs 'rle' (comma-separated run lengths) and whole-number left, top, width and height.",
                where,
            )
            return None
        left, top, w, h = (int(v) for v in box if v is not None)
        if size[0] * size[1] > MAX_IMAGE_PIXELS:
            self.problem(
                "cvat_mask",
                f"a mask is decoded over its {size[0]:,}x{size[1]:,} image, and labelport decodes "
                f"masks of at most {MAX_IMAGE_PIXELS:,} pixels.",
                where,
            )
            return None
        if sum(counts) != w * h or left + w > size[0] or top + h > size[1] or min(counts) < 0:
            self.problem(
                "cvat_mask",
                f"the mask's runs add up to {sum(counts)}, not its {w}x{h} region inside the {size[0]}x{size[1]} image.",
                where,
            )
            return None
        region = np.repeat(np.arange(len(counts)) % 2, counts).astype(np.uint8).reshape(h, w)
        mask = np.zeros((size[1], size[0]), dtype=np.uint8)
        mask[top : top + h, left : left + w] = region
        rle = geometry.rle_from_mask(mask)
        return {
            "region": [left, top, w, h],
            "segmentation": rle,
            "bbox": [plain(v) for v in geometry.rle_bbox(rle)],
            "area": geometry.rle_area(rle),
        }

    def _skeleton(self, element: ET.Element, where: str) -> dict[str, Any] | None:
        label = element.get("label") or ""
        names = self.labels.nodes.get(label, [])
        if not names:
            self.problem(
                "cvat_skeleton",
                f"skeleton label {label!r} has no nodes in the meta (labels with <parent>{label}</parent>).",
                where,
            )
            return None
        points: dict[str, list[int | float]] = {}
        for child, k in numbered(element):
            if child.tag == "points":
                flat = self._flat_points(child, f"{where}/points[{k}]")
                if flat is None:
                    return None
                v = 0 if child.get("outside") == "1" else 1 if child.get("occluded") == "1" else 2
                points[child.get("label") or ""] = [flat[0], flat[1], v]
        keypoints = [v for name in names for v in points.get(name, [0, 0, 0])]
        visible = [(keypoints[i], keypoints[i + 1]) for i in range(0, len(keypoints), 3) if keypoints[i + 2]]
        xs, ys = [p[0] for p in visible] or [0], [p[1] for p in visible] or [0]
        bbox = [min(xs), min(ys), max(max(xs) - min(xs), 1), max(max(ys) - min(ys), 1)]
        return {"keypoints": keypoints, "num_keypoints": len(visible), "bbox": [plain(v) for v in bbox]}
