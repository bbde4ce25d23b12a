"""Read a Pascal VOC folder into the neutral dataset.

``Annotations/<name>.xml`` per image (``filename``, ``size``, ``object`` with ``name``, ``bndbox``,
``pose``, ``truncated``, ``difficult``, ``occluded`` and, as Datumaro and CVAT write them,
``attributes``); ``ImageSets/Main/<split>.txt`` name the splits; ``SegmentationObject/<name>.png``
holds instance masks, instance k being the k-th object of the XML. Box corners are read as plain
pixel coordinates (w = xmax - xmin), as Datumaro reads them. VOC's own fields are kept in each
record's ``voc`` key; the split in the image's ``voc_split``.

``read_voc("VOC2012/")`` returns a ``Dataset``; a problem names its element: ``Annotations/a.xml /annotation/object[2]/bndbox``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from labelport import geometry
from labelport.errors import FormatError
from labelport.formats.base import Dataset, Place, Sizes, capped_bytes, far_coordinate, image_size, read_lines
from labelport.formats.reach import OUTSIDE, Reach
from labelport.formats.xml import (
    answer_value,
    element_path,
    numbered,
    parse_xml,
    plain,
    source_line,
    text_number,
)
from labelport.imports.policy import ErrorPolicy

SPLITS = ("train", "val", "trainval", "test")
#: where an image's and an object's COCO fields are in a VOC file (see :class:`Place`)
_IMAGE = {"width": "/size/width", "height": "/size/height", "file_name": "/filename"}
_OBJECT = {"bbox": "/bndbox", "area": "/bndbox"}
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


def _splits(root: Path, reach: Reach) -> dict[str, str]:
    """image stem -> split, from ImageSets/Main/<split>.txt (the first split that lists it): VOC's
    splits, then any other list but a class's (``<class>_<split>.txt``), as a subset of another tool."""
    found: dict[str, str] = {}
    main = root / "ImageSets" / "Main"
    others = sorted(
        p.stem
        for p in (main.glob("*.txt") if main.is_dir() else [])
        if p.stem not in SPLITS and not p.stem.endswith(tuple(f"_{s}" for s in SPLITS))
    )
    for split in (*SPLITS, *others):
        path = main / f"{split}.txt"
        if path.is_file() and reach.may_read(path):
            for line in read_lines(path, "voc_splits", "a VOC split list"):
                if line.split():
                    found.setdefault(line.split()[0], split)
    return found


def read_voc(
    source: str | Path, *, on_error: str = "fail", sizes: Sizes | None = None, confined: bool = False
) -> Dataset:
    """Read a VOC folder; see the module docstring. ``confined`` (a server): nothing outside the
    folder is read (:mod:`labelport.formats.reach`)."""
    path = Path(source).expanduser()
    root = voc_root(path)
    if root is None:
        raise FormatError(
            "voc_folder", "has no Annotations folder (Pascal VOC: Annotations/<name>.xml).", file=str(path)
        )
    policy = ErrorPolicy.of(on_error)
    data = Dataset(name=root.name)
    reach = Reach(root, confined=confined)
    splits = _splits(root, reach)
    for xml in sorted((root / "Annotations").rglob("*.xml")):
        stem = xml.relative_to(root / "Annotations").with_suffix("").as_posix()
        if not reach.may_read(xml):
            policy.problem(OUTSIDE, str(xml), "is a link to a file outside the dataset's folder; refused.")
            continue
        _read_file(data, policy, reach, xml, stem, splits.get(stem), sizes)
    policy.finish()
    data.problems = policy.problems
    data.outside = sorted(reach.outside)
    return data


def _read_file(
    data: Dataset,
    policy: ErrorPolicy,
    reach: Reach,
    xml: Path,
    stem: str,
    split: str | None,
    sizes: Sizes | None,
) -> None:
    file, root = str(xml), reach.root
    try:
        doc = parse_xml(capped_bytes(xml, "a VOC annotation file"), file)
    except FormatError as exc:
        policy.problem(exc.code, file, exc.detail, line=exc.line)
        return
    if doc.tag != "annotation":
        policy.problem(
            "voc_root",
            file,
            f"the root element is <{doc.tag}>, not <annotation>.",
            line=source_line(doc),
            path=f"/{doc.tag}",
        )
        return
    file_name = (doc.findtext("filename") or "").strip() or f"{stem}.jpg"
    if "/" in stem and "/" not in file_name:
        file_name = f"{stem.rsplit('/', 1)[0]}/{file_name}"
    try:
        size = _size(doc, reach, file_name, sizes)
    except FormatError as exc:  # a <filename> that leads out of the folder, on a server
        policy.problem(exc.code, file, exc.detail, path="/annotation/filename")
        return
    size_element = doc.find("size")  # the line of what an image's problem most likely is in
    size_line = source_line(doc if size_element is None else size_element)
    if size is None:
        policy.problem(
            "voc_size",
            file,
            f"no <size> with width and height, no image file {file_name!r} and no data unit of that name.",
            line=size_line,
            path="/annotation/size",
        )
        return
    extra: dict[str, Any] = {"voc_split": split} if split else {}
    place = Place(file, size_line, "/annotation", _IMAGE)
    image_id = data.image(file_name, size[0], size[1], place=place, **extra)
    masks = _instances(reach, stem, size, policy)
    objects = [(el, n) for el, n in numbered(doc) if el.tag == "object"]
    for index, (element, n) in enumerate(objects, 1):
        ann = _object(
            element,
            element_path(("annotation", None), ("object", n)),
            _reporter(policy, file, source_line(element)),
        )
        if ann is None:
            continue
        name = ann.pop("name")
        if index in masks:
            ann["segmentation"] = masks.pop(index)
        place = Place(file, source_line(element), f"/annotation/object[{n}]", _OBJECT)
        category = data.category(name, place=Place(file, place.line, f"{place.path}/name"))
        data.annotation(image_id, category, place=place, **ann)
    if masks:
        policy.problem(
            "voc_mask",
            str(root / "SegmentationObject" / f"{stem}.png"),
            f"instances {sorted(masks)} have no <object> in {xml.name} (instance k is the k-th object).",
        )


def _reporter(policy: ErrorPolicy, file: str, line: int | None) -> Any:
    """``problem(code, message, where)`` for an element of ``file`` that starts on ``line``."""
    return lambda code, message, where: policy.problem(code, file, message, line=line, path=where)


def _size(doc: ET.Element, reach: Reach, file_name: str, sizes: Sizes | None) -> tuple[int, int] | None:
    w, h = text_number(doc.findtext("size/width")), text_number(doc.findtext("size/height"))
    if w and h and w >= 1 and h >= 1:
        return int(w), int(h)
    image = reach.named(reach.root / "JPEGImages" / file_name, file_name, file="", key="filename")
    found = image_size(image) if image.is_file() and reach.may_read(image) else None
    if found is None and sizes is not None:
        named = sizes(file_name)
        found = (named[1], named[2]) if named else None
    return found


def _instances(
    reach: Reach, stem: str, size: tuple[int, int], policy: ErrorPolicy
) -> dict[int, dict[str, Any]]:
    """Instance index -> RLE, from SegmentationObject/<stem>.png (0 is background, 255 the void border)."""
    path = reach.root / "SegmentationObject" / f"{stem}.png"
    if not path.is_file():
        return {}
    if not reach.may_read(path):
        policy.problem(OUTSIDE, str(path), "is a link to a file outside the dataset's folder; refused.")
        return {}
    indices = _mask_indices(path, size, policy)
    if indices is None:
        return {}
    return {
        int(k): geometry.rle_from_mask((indices == k).astype(np.uint8))
        for k in np.unique(indices)
        if 0 < k < 255
    }


def _mask_indices(path: Path, size: tuple[int, int], policy: ErrorPolicy) -> npt.NDArray[np.uint8] | None:
    """A mask PNG's palette indices; None, with a problem reported, when it is no PNG of the image's size."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format != "PNG":
                    policy.problem("voc_mask", str(path), f"is not a PNG image but {image.format}.")
                    return None
                if image.size != size:
                    policy.problem(
                        "voc_mask",
                        str(path),
                        f"the mask is {image.size[0]}x{image.size[1]}, the image {size[0]}x{size[1]}.",
                    )
                    return None
                return _indices(image)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        limit = Image.MAX_IMAGE_PIXELS or 0
        policy.problem(
            "voc_mask",
            str(path),
            f"the mask's header declares more than {limit:,} pixels, which labelport does not decode.",
        )
    except UnidentifiedImageError:
        policy.problem("voc_mask", str(path), "is not an image labelport can read (a PNG is expected).")
    except (OSError, ValueError, SyntaxError) as exc:  # a truncated or corrupt PNG
        policy.problem("voc_mask", str(path), f"cannot be decoded as a PNG ({exc}).")
    return None


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
    far = far_coordinate(dict(zip(("xmin", "ymin", "xmax", "ymax"), (x1, y1, x2, y2), strict=True)))
    if far is not None:
        problem("voc_coordinate", f"<bndbox>'s {far}", f"{where}/bndbox")
        return None
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
