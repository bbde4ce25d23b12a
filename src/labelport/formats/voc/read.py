"""Read a Pascal VOC folder into the neutral dataset.

``Annotations/<name>.xml`` per image (``filename``, ``size``, ``object`` with ``name``, ``bndbox``,
``pose``, ``truncated``, ``difficult``, ``occluded`` and, as Datumaro and CVAT write them,
``attributes``); ``ImageSets/Main/<split>.txt`` name the splits; ``SegmentationObject/<name>.png``
holds instance masks, instance k being the k-th object of the XML. Box corners are read as plain
pixel coordinates (w = xmax - xmin), as Datumaro reads them. VOC's own fields are kept in each
record's ``voc`` key; the split in the image's ``voc_split``.

>>> # read_voc("VOC2012/") -> Dataset; a problem names its element: Annotations/a.xml /annotation/object[2]/bndbox
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from labelport import geometry
from labelport.errors import FormatError
from labelport.formats.base import Dataset, Sizes, capped_bytes, image_size
from labelport.formats.xml import (
    answer_value,
    element_path,
    numbered,
    parse_xml,
    plain,
    text_number,
)
from labelport.imports.policy import ErrorPolicy

SPLITS = ("train", "val", "trainval", "test")
FLAGS = ("truncated", "difficult", "occluded")


def voc_colour(index: int) -> tuple[int, int, int]:
    """The colour of palette index ``index`` in VOC's colour map.

    >>> voc_colour(1), voc_colour(15)
    ((128, 0, 0), (192, 128, 128))
    """
    r = g = b = 0
    for shift in range(8):
        r |= ((index >> 0) & 1) << (7 - shift)
        g |= ((index >> 1) & 1) << (7 - shift)
        b |= ((index >> 2) & 1) << (7 - shift)
        index >>= 3
    return r, g, b


def _indices(image: Any) -> npt.NDArray[np.uint8]:
    """Palette indices of a mask PNG: a palette or grey image as it is, an RGB one through VOC's colours."""
    if image.mode in ("P", "L"):
        return np.asarray(image, dtype=np.uint8)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    lookup = {(r << 16) | (g << 8) | b: i for i in range(256) for r, g, b in [voc_colour(i)]}
    flat = np.array([lookup.get(int(v), 0) for v in np.unique(packed)], dtype=np.uint8)
    return flat[np.searchsorted(np.unique(packed), packed)]


def voc_root(source: Path) -> Path | None:
    """The VOC folder: the source, or its parent when the source is its ``Annotations`` folder."""
    if (source / "Annotations").is_dir():
        return source
    if source.name == "Annotations" and source.is_dir():
        return source.parent
    return None


def _splits(root: Path) -> dict[str, str]:
    """image stem -> split, from ImageSets/Main/<split>.txt (the first split that lists it)."""
    found: dict[str, str] = {}
    for split in SPLITS:
        path = root / "ImageSets" / "Main" / f"{split}.txt"
        if path.is_file():
            for line in capped_bytes(path, "a VOC split list").decode("utf-8", "replace").splitlines():
                if line.split():
                    found.setdefault(line.split()[0], split)
    return found


def read_voc(source: str | Path, *, on_error: str = "fail", sizes: Sizes | None = None) -> Dataset:
    """Read a VOC folder; see the module docstring."""
    path = Path(source).expanduser()
    root = voc_root(path)
    if root is None:
        raise FormatError(
            "voc_folder", "has no Annotations folder (Pascal VOC: Annotations/<name>.xml).", file=str(path)
        )
    policy = ErrorPolicy.of(on_error)
    data = Dataset(name=root.name)
    splits = _splits(root)
    for xml in sorted((root / "Annotations").rglob("*.xml")):
        stem = xml.relative_to(root / "Annotations").with_suffix("").as_posix()
        _read_file(data, policy, root, xml, stem, splits.get(stem), sizes)
    policy.finish()
    data.problems = policy.problems
    return data


def _read_file(
    data: Dataset,
    policy: ErrorPolicy,
    root: Path,
    xml: Path,
    stem: str,
    split: str | None,
    sizes: Sizes | None,
) -> None:
    file = str(xml)
    try:
        doc = parse_xml(capped_bytes(xml, "a VOC annotation file"), file)
    except FormatError as exc:
        policy.problem(exc.code, file, exc.detail, line=exc.line)
        return
    if doc.tag != "annotation":
        policy.problem(
            "voc_root", file, f"the root element is <{doc.tag}>, not <annotation>.", path=f"/{doc.tag}"
        )
        return
    file_name = (doc.findtext("filename") or "").strip() or f"{stem}.jpg"
    if "/" in stem and "/" not in file_name:
        file_name = f"{stem.rsplit('/', 1)[0]}/{file_name}"
    size = _size(doc, root, file_name, sizes)
    if size is None:
        policy.problem(
            "voc_size",
            file,
            f"no <size> with width and height, no image file {file_name!r} and no data unit of that name.",
            path="/annotation/size",
        )
        return
    extra: dict[str, Any] = {"voc_split": split} if split else {}
    image_id = data.image(file_name, size[0], size[1], **extra)
    masks = _instances(root, stem, size, policy)
    objects = [(el, n) for el, n in numbered(doc) if el.tag == "object"]
    for index, (element, n) in enumerate(objects, 1):
        ann = _object(
            element,
            element_path(("annotation", None), ("object", n)),
            lambda code, message, where: policy.problem(code, file, message, path=where),
        )
        if ann is None:
            continue
        name = ann.pop("name")
        if index in masks:
            ann["segmentation"] = masks.pop(index)
        data.annotation(image_id, data.category(name), **ann)
    if masks:
        policy.problem(
            "voc_mask",
            str(root / "SegmentationObject" / f"{stem}.png"),
            f"instances {sorted(masks)} have no <object> in {xml.name} (instance k is the k-th object).",
        )


def _size(doc: ET.Element, root: Path, file_name: str, sizes: Sizes | None) -> tuple[int, int] | None:
    w, h = text_number(doc.findtext("size/width")), text_number(doc.findtext("size/height"))
    if w and h and w >= 1 and h >= 1:
        return int(w), int(h)
    found = image_size(root / "JPEGImages" / file_name)
    if found is None and sizes is not None:
        named = sizes(file_name)
        found = (named[1], named[2]) if named else None
    return found


def _instances(
    root: Path, stem: str, size: tuple[int, int], policy: ErrorPolicy
) -> dict[int, dict[str, Any]]:
    """Instance index -> RLE, from SegmentationObject/<stem>.png (0 is background, 255 the void border)."""
    path = root / "SegmentationObject" / f"{stem}.png"
    if not path.is_file():
        return {}
    from PIL import Image

    with Image.open(path) as image:
        if image.size != size:
            policy.problem(
                "voc_mask",
                str(path),
                f"the mask is {image.size[0]}x{image.size[1]}, the image {size[0]}x{size[1]}.",
            )
            return {}
        indices = _indices(image)
    return {
        int(k): geometry.rle_from_mask((indices == k).astype(np.uint8))
        for k in np.unique(indices)
        if 0 < k < 255
    }


def _object(element: ET.Element, where: str, problem: Any) -> dict[str, Any] | None:
    name = (element.findtext("name") or "").strip()
    if not name:
        problem("voc_name", "an <object> needs a <name> (its class).", f"{where}/name")
        return None
    box = element.find("bndbox")
    if box is None:
        problem(
            "voc_bndbox", "an <object> needs a <bndbox> with xmin, ymin, xmax and ymax.", f"{where}/bndbox"
        )
        return None
    values = [text_number(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
    missing = [k for k, v in zip(("xmin", "ymin", "xmax", "ymax"), values, strict=True) if v is None]
    if missing:
        problem(
            "voc_bndbox",
            f"<bndbox> needs numbers xmin, ymin, xmax and ymax; {', '.join(missing)} is missing or not a number.",
            f"{where}/bndbox",
        )
        return None
    x1, y1, x2, y2 = (float(v) for v in values if v is not None)
    if x2 <= x1 or y2 <= y1:
        problem(
            "voc_bndbox",
            f"<bndbox> needs xmax > xmin and ymax > ymin, not ({x1:g}, {y1:g}) to ({x2:g}, {y2:g}).",
            f"{where}/bndbox",
        )
        return None
    voc: dict[str, Any] = {}
    pose = element.findtext("pose")
    if pose is not None:
        voc["pose"] = pose.strip()
    for flag in FLAGS:
        value = text_number(element.findtext(flag))
        if value is not None:
            voc[flag] = int(value)
    ann: dict[str, Any] = {
        "name": name,
        "bbox": [plain(x1), plain(y1), plain(x2 - x1), plain(y2 - y1)],
        "voc": voc,
    }
    attributes = {
        (a.findtext("name") or "").strip(): answer_value(a.findtext("value"), None)
        for a in element.findall("attributes/attribute")
    }
    if attributes:
        ann["attributes"] = attributes
    actions = element.find("actions")
    if actions is not None:
        voc["actions"] = {a.tag: int(text_number(a.text) or 0) for a in actions}
    parts = element.findall("part")
    if parts:
        voc["parts"] = [
            {
                "name": p.findtext("name"),
                "bndbox": [text_number(p.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")],
            }
            for p in parts
        ]
    return ann
