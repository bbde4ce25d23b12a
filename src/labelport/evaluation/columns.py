"""A branch's objects as the columns an evaluation needs, read from the store in one pass.

The images and categories are those an export of the project would write (the same COCO ids), so
that evaluating two branches here means what pycocotools' ``COCOeval`` means on their two exports.
Imported annotations not edited since are read from their stored records (one typed decode per
chunk); everything else from its geometry, as the exporter writes it.

``load_branch(store.iter_evaluation_rows(project_hash, "main"), frame, "bbox", False)`` returns a ``Branch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from labelport import geometry
from labelport.errors import LabelportError
from labelport.evaluation.engine import Side
from labelport.ontology import Object, OntologyStructure
from labelport.stored.decode import stored_coordinates
from labelport.stored.encode import put_geometry
from labelport.stored.ids import Allocator, category_ids

CHUNK = 50_000


class _Ann(msgspec.Struct):
    bbox: Any = None
    area: Any = None
    iscrowd: Any = 0


class _SegAnn(_Ann):
    segmentation: Any = None
    keypoints: Any = None
    num_keypoints: Any = None


_fast = msgspec.json.Decoder(list[_Ann])
_full = msgspec.json.Decoder(list[_SegAnn])
_one = msgspec.json.Decoder(_SegAnn)


@dataclass
class Frame:
    """What both branches are read against: images (sorted COCO ids) and categories (sorted ids)."""

    image_keys: list[tuple[str, int]]  # (data hash, frame) per image position
    image_ids: list[Any]
    sizes_hw: list[tuple[int, int]]
    category_hashes: list[str]  # feature hash per category position
    category_ids: list[Any]
    category_titles: list[str]
    objects: dict[str, Object]
    #: (data unit row id, frame) -> image position
    image_index: dict[tuple[int, int], int] = field(default_factory=dict)
    category_index: dict[str, int] = field(default_factory=dict)

    @classmethod
    def make(cls, units: Sequence[tuple[Any, ...]], ontology: OntologyStructure) -> Frame:
        """From ``evaluation_units`` rows: the images and their ids exactly as an export would number them."""
        ids, sizes, order = _image_ids(units)
        keys = sorted(order, key=lambda k: _sortable(ids[k]))
        hashes = {u[0]: u[1] for u in units}
        cat_ids = category_ids(ontology.objects)
        by_hash = {o.feature_node_hash: o for o in ontology.objects}
        cats = sorted(cat_ids, key=lambda h: _sortable(cat_ids[h]))
        frame = cls(
            [(hashes[k[0]], k[1]) for k in keys],
            [ids[k] for k in keys],
            [sizes[k] for k in keys],
            cats,
            [cat_ids[h] for h in cats],
            [by_hash[h].title for h in cats],
            by_hash,
        )
        frame.image_index = {k: i for i, k in enumerate(keys)}
        frame.category_index = {h: i for i, h in enumerate(cats)}
        return frame

    def signature(self) -> int:
        """Equal for equal frames (in one process and its forks): images, their ids and sizes, categories."""
        return hash(
            (
                tuple(self.image_index),
                tuple(self.image_ids),
                tuple(self.sizes_hw),
                tuple(self.category_hashes),
            )
        )


class _Kept(msgspec.Struct):
    id: Any = None


class _Extra(msgspec.Struct):
    coco_images: dict[str, _Kept] = {}


class _Member(msgspec.Struct):
    width: int
    height: int


_extra = msgspec.json.Decoder(_Extra)
_members = msgspec.json.Decoder(list[_Member])


def _image_ids(
    units: Sequence[tuple[Any, ...]],
) -> tuple[dict[tuple[int, int], Any], dict[tuple[int, int], tuple[int, int]], list[tuple[int, int]]]:
    """The exporter's image ids (kept ones first, then new ones above them) and (height, width) per frame."""
    kept_all: list[tuple[tuple[int, int], Any]] = []
    sizes: dict[tuple[int, int], tuple[int, int]] = {}
    order: list[tuple[int, int]] = []
    for unit_id, _, width, height, frames, members, extra in units:
        kept = _extra.decode(extra).coco_images if extra else {}
        group = _members.decode(members) if members else []
        for frame in range(frames):
            key = (unit_id, frame)
            order.append(key)
            sizes[key] = (group[frame].height, group[frame].width) if group else (height, width)
            record = kept.get(str(frame))
            if record is not None:
                kept_all.append((key, record.id))
    allocate = Allocator([i for _, i in kept_all])
    ids = {key: allocate.take(wanted) for key, wanted in kept_all}
    for key in order:
        if key not in ids:
            ids[key] = allocate.take(None)
    return ids, sizes, order


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, value) if type(value) is int else (1, str(value))


@dataclass
class Branch:
    """A branch's objects as columns (``side``) and who each is (``object_hashes``, bytes)."""

    side: Side
    object_hashes: Any


#: a stored COCO record that opens with a polygon list (validated on import: numbers only), whose
#: end is the first ``]],``; a box evaluation decodes only what follows it
_POLYGON_PREFIX = b'{"segmentation":[['


def _tail(rec: bytes) -> bytes:
    if rec.startswith(_POLYGON_PREFIX):
        end = rec.find(b"]],")
        if end > 0:
            return b"{" + rec[end + 3 :]
    return rec


def _decode(records: Sequence[bytes], kind: str) -> list[Any]:
    if kind != "bbox":
        return list(_full.decode(b"[" + b",".join(records) + b"]"))
    whole = b"[" + b",".join(records) + b"]"
    if whole.find(_POLYGON_PREFIX) < 0:  # no polygons here (predictions, boxes): nothing to cut
        return list(_fast.decode(whole))
    try:
        return list(_fast.decode(b"[" + b",".join([_tail(r) for r in records]) + b"]"))
    except msgspec.DecodeError:  # a record the cut does not fit: read these ones whole
        return list(_fast.decode(whole))


@dataclass
class _Chunk:
    """One batch of rows as arrays, and the objects that need more than their record's numbers."""

    image: Any
    category: Any
    score: Any
    ids: Any
    hashes: Any
    anns: list[Any]


def _chunk(batch: list[tuple[Any, ...]], frame: Frame, kind: str) -> _Chunk:
    units, frames, hashes, features, scores, _, records, edited, ids = zip(*batch, strict=True)
    image_index, category_index = frame.image_index, frame.category_index
    images = [image_index.get(k) for k in zip(units, frames, strict=True)]
    cats = [category_index.get(f) for f in features]
    keep = None
    if None in images or None in cats:
        keep = [
            i for i, (im, c) in enumerate(zip(images, cats, strict=True)) if im is not None and c is not None
        ]
        batch = [batch[i] for i in keep]
        if not batch:
            ints = np.zeros(0, np.int64)
            return _Chunk(ints, ints, np.zeros(0), ints, np.zeros(0, "S1"), [])
        units, frames, hashes, features, scores, _, records, edited, ids = zip(*batch, strict=True)
        images = [images[i] for i in keep]
        cats = [cats[i] for i in keep]
    if None not in records and not any(edited):
        anns = _decode(records, kind)
    else:
        plain = [i for i, (r, e) in enumerate(zip(records, edited, strict=True)) if r is not None and not e]
        decoded = iter(_decode([records[i] for i in plain], kind)) if plain else iter(())
        wanted = set(plain)
        anns = [next(decoded) if i in wanted else _from_geometry(row, frame) for i, row in enumerate(batch)]
    return _Chunk(
        np.array(images, np.int64),
        np.array(cats, np.int64),
        np.array(scores, np.float64),
        np.array(ids, np.int64),
        np.array(hashes, dtype="S"),
        anns,
    )


def load_branch(
    batches: Iterable[list[tuple[Any, ...]]], frame: Frame, kind: str, prediction: bool
) -> Branch:
    """Read a branch's objects (batches of ``iter_evaluation_rows``) into columns for ``kind``."""
    chunks = [_chunk(batch, frame, kind) for batch in batches if batch]
    sides = [_side(c.anns, c.image, c.category, c.score, frame, kind, prediction) for c in chunks]
    if sides:
        joined = {f: np.concatenate([getattr(x, f) for x in sides]) for f in _ARRAYS}
        side = Side(**joined, geometry=[g for x in sides for g in x.geometry])
        ids = np.concatenate([c.ids for c in chunks])
        hashes = np.concatenate([c.hashes for c in chunks])
    else:
        side = Side.make(image=[], category=[], bbox=np.zeros((0, 4)), area=[])
        ids, hashes = np.zeros(0, np.int64), np.zeros(0, "S1")
    order = np.argsort(ids, kind="stable")
    if len(order) and np.any(order != np.arange(len(order))):
        side = side.take(order)
        hashes = hashes[order]
    return Branch(side, hashes)


_ARRAYS = ("image", "category", "bbox", "area", "score", "crowd", "ignore")


def _from_geometry(row: Sequence[Any], frame: Frame) -> _SegAnn:
    unit_id, frame_no, _, feature_hash, _, geometry_json, record, _, _ = row
    if geometry_json is None:
        return _one.decode(record)
    obj = frame.objects[feature_hash]
    height, width = frame.sizes_hw[frame.image_index[(unit_id, frame_no)]]
    ann: dict[str, Any] = {}
    put_geometry(ann, stored_coordinates(obj.shape, geometry_json, None, width, height), width, height)
    return _SegAnn(
        ann.get("bbox"),
        ann.get("area"),
        0,
        ann.get("segmentation"),
        ann.get("keypoints"),
        ann.get("num_keypoints"),
    )


def _crowd(value: Any) -> bool:
    return value is True or value == 1 or value == "true"


def _floats(values: list[Any], width: int) -> tuple[Any, Any]:
    """(array, usable mask) of numbers (``width`` 0) or boxes (``width`` 4), whatever some entries are."""
    n = len(values)
    shape = (n, width) if width else (n,)
    try:
        out = np.array(values, np.float64)
        if out.shape == shape:
            return out, np.ones(n, bool)
    except (TypeError, ValueError):
        pass
    out = np.zeros(shape)
    good = np.zeros(n, bool)
    for i, v in enumerate(values):
        if (width and type(v) is list and len(v) == 4 and all(type(c) in (int, float) for c in v)) or (
            not width and type(v) in (int, float)
        ):
            out[i], good[i] = v, True
    return out, good


def _side(
    anns: list[Any],
    images: Any,
    cats: Any,
    scores: Any,
    frame: Frame,
    kind: str,
    prediction: bool,
) -> Side:
    n = len(anns)
    bbox, has_box = _floats([a.bbox for a in anns], 4)
    area, has_area = _floats([a.area for a in anns], 0)
    crowd = np.zeros(n, bool)
    ignore = np.zeros(n, bool)
    if not prediction:
        flags = [a.iscrowd for a in anns]
        try:
            crowd = np.array(flags, np.int64) == 1
        except (TypeError, ValueError):
            crowd = np.array([_crowd(v) for v in flags], bool)
    geometry_out: list[Any] = [None] * n if kind != "bbox" else []
    todo: Iterable[int] = range(n)
    if kind == "bbox":
        todo = np.flatnonzero(~has_box | (~has_area if not prediction else False)).tolist()
    for i in todo:
        _fill(
            i,
            anns[i],
            frame.sizes_hw[int(images[i])],
            kind,
            prediction,
            bool(has_box[i]),
            bbox,
            area,
            ignore,
            geometry_out,
        )
    if prediction:  # as pycocotools' loadRes: a given box's area (else what _fill found)
        area = np.where(has_box, bbox[:, 2] * bbox[:, 3], area)
    ignore |= crowd
    return Side(images, cats, bbox, area, scores, crowd, ignore, geometry_out)


def _fill(
    i: int,
    a: Any,
    size_hw: tuple[int, int],
    kind: str,
    prediction: bool,
    has_box: bool,
    bbox: Any,
    area: Any,
    ignore: Any,
    out: list[Any],
) -> None:
    """One object the columns could not take as they came: masks, keypoints, missing boxes or areas."""
    height, width = size_hw
    seg = getattr(a, "segmentation", None)
    kp = getattr(a, "keypoints", None)
    need_mask = kind == "segm" or not has_box or (not prediction and type(a.area) not in (int, float))
    rle = _rle(seg, height, width) if seg and need_mask else None
    if not has_box:
        if rle is not None:
            bbox[i] = geometry.rle_bbox(rle)
        elif kp:
            xs, ys = np.array(kp[0::3], np.float64), np.array(kp[1::3], np.float64)
            bbox[i] = [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
        else:
            raise LabelportError("an object to evaluate has no bbox, segmentation or keypoints.")
    if prediction:
        # as pycocotools' loadRes: a box's area, else the mask's, else the keypoints' extent
        if has_box or (rle is None and not kp):
            area[i] = bbox[i][2] * bbox[i][3]
        elif rle is not None:
            area[i] = geometry.rle_area(rle)
        else:
            assert kp
            xs, ys = np.array(kp[0::3], np.float64), np.array(kp[1::3], np.float64)
            area[i] = (xs.max() - xs.min()) * (ys.max() - ys.min())
    elif type(a.area) not in (int, float):
        area[i] = geometry.rle_area(rle) if rle is not None else bbox[i][2] * bbox[i][3]
    if kind == "segm":
        if rle is None:
            rle = geometry.rle_from_box(bbox[i], height, width)
        out[i] = rle
    elif kind == "keypoints":
        if not kp:
            out[i] = None
            if not prediction:
                ignore[i] = True
            return
        points = np.array(kp, np.float64)
        out[i] = points
        if not prediction:
            visible = (
                a.num_keypoints if type(a.num_keypoints) is int else int(np.count_nonzero(points[2::3] > 0))
            )
            ignore[i] = visible == 0


def _rle(seg: Any, height: int, width: int) -> dict[str, Any]:
    """pycocotools' ``annToRLE``: polygons merged into one mask, an uncompressed RLE compressed."""
    if isinstance(seg, list):
        rings = seg if isinstance(seg[0], list) else [seg]
        return geometry.rle_from_polygons(rings, height, width)
    return geometry.rle_compress(seg)
