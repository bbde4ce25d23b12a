"""COCO export: deterministic, keeps every id and record that came in, and writes real COCO for the rest.

An annotation imported from COCO and not changed since is written back byte for byte (its ids
patched only if they would collide). Everything else is built from its geometry: ``area`` is the
rasterised pixel area for segmentations (as pycocotools computes it) and w x h for plain boxes;
skeletons become keypoints with ``num_keypoints``; rotated boxes their unrotated ``bbox`` plus
``attributes.rotation``; masks RLE (compressed unless asked otherwise). Video frames and group
members are images named ``<title>/<frame>.<ext>`` with ``video_title``/``image_title`` and ``frame``,
so the file imports back with no matching code.

``export_coco(store, project_hash)`` returns the bytes of a COCO file.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

import msgspec

from labelport import geometry
from labelport.data import DataType
from labelport.errors import LabelportError
from labelport.formats.coco import schema
from labelport.formats.coco.match import fold
from labelport.labels import MAIN_BRANCH
from labelport.ontology import Object, OntologyStructure, Shape
from labelport.progress import Progress
from labelport.store.base import DataUnitRecord, LabelStore, ObjectRecord
from labelport.stored.decode import stored_coordinates
from labelport.stored.encode import put_geometry
from labelport.stored.ids import Allocator, category_ids, numeric_id, same_id

_encode = schema.encoder.encode
_decode = schema.any_decoder.decode


class _Ids(msgspec.Struct):
    id: Any = msgspec.UNSET
    image_id: Any = None
    category_id: Any = None
    attributes: Any = None


_ids_decoder = msgspec.json.Decoder(_Ids)


def export_coco(store: LabelStore, project_hash: str, **options: Any) -> bytes:
    """The project's labels on a branch as COCO bytes (:func:`write_coco` into memory)."""
    out = io.BytesIO()
    write_coco(store, project_hash, out, **options)
    return out.getvalue()


def write_coco(
    store: LabelStore,
    project_hash: str,
    out: BinaryIO,
    *,
    progress: Progress | None = None,
    label_hashes: Sequence[str] | None = None,
    include_object_feature_hashes: Sequence[str] | None = None,
    branch_name: str | None = None,
    rle: str | None = None,
    results: bool = False,
) -> None:
    """Write the project's labels on a branch to ``out`` as COCO (a results list with ``results=True``).

    Annotations are written as they are read from the store, a megabyte at a time: memory does not
    grow with the project (see :meth:`_AnnotationWriter.write` for the one exception's bound).
    """
    if rle not in (None, "compressed", "uncompressed"):
        raise LabelportError(f"rle must be 'compressed' or 'uncompressed', not {rle!r}.")
    branch = branch_name or MAIN_BRANCH
    project = store.get_project(project_hash)
    ontology = store.get_ontology(project.ontology_hash).structure
    units: Iterable[DataUnitRecord] = store.iter_data_units(project_hash)
    if label_hashes is not None:
        wanted = set(label_hashes)
        keep = {r.data_hash for r in store.list_label_rows(project_hash, branch) if r.label_hash in wanted}
        units = (u for u in units if u.data_hash in keep)
    objects = [
        o
        for o in ontology.objects
        if include_object_feature_hashes is None or o.feature_node_hash in include_object_feature_hashes
    ]
    categories, cat_ids = _categories(objects)
    images, image_ids, sizes = _images(units)
    names = _attribute_names(ontology)
    writer = _AnnotationWriter(
        cat_ids, image_ids, sizes, {o.feature_node_hash: o for o in objects}, names, rle, results
    )
    total = 0 if progress is None else store.count_objects(project_hash, branch)
    if results:
        out.write(b"[")
        writer.write(store.iter_objects(project_hash, branch), out, progress, total)
        out.write(b"]")
        return
    kept = project.extra.get("coco", {})
    info = kept.get(
        "info",
        {
            "description": project.title,
            "contributor": "labelport",
            "version": "",
            "url": "",
            "year": "",
            "date_created": "",
        },
    )
    licenses = kept.get("licenses", [])
    out.write(b'{"info":' + _encode(info) + b',"licenses":' + _encode(licenses) + b',"images":[')
    array = _Array(out)
    for image in images:
        array.add(image)
    array.flush()
    del images
    out.write(b'],"annotations":[')
    writer.write(store.iter_objects(project_hash, branch), out, progress, total)
    out.write(b'],"categories":[' + b",".join(categories) + b"]}")


class _Array:
    """The items of a JSON array, comma-separated, written to ``out`` about a megabyte at a time."""

    def __init__(self, out: BinaryIO, flush_bytes: int = 1 << 20) -> None:
        self.out = out
        self.flush_bytes = flush_bytes
        self.items: list[bytes] = []
        self.size = 0
        self.started = False

    def add(self, item: bytes) -> None:
        self.items.append(item)
        self.size += len(item)
        if self.size >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        if self.items:
            if self.started:
                self.out.write(b",")
            self.out.write(b",".join(self.items))
            self.started = True
            self.items, self.size = [], 0


def _categories(objects: list[Object]) -> tuple[list[bytes], dict[str, Any]]:
    ids = category_ids(objects)
    out = []
    for obj in objects:
        category = dict(obj.extra.get("coco") or {"supercategory": ""})
        category["id"] = ids[obj.feature_node_hash]
        category["name"] = obj.title
        if obj.shape is Shape.SKELETON:
            if "keypoints" not in category:
                category["keypoints"] = list(obj.keypoints)
            category.setdefault("skeleton", [list(e) for e in obj.skeleton])
        elif obj.shape is Shape.POINT:
            category.setdefault("keypoints", ["point"])
            category.setdefault("skeleton", [])
        out.append(_encode(category))
    return out, ids


class _UnitExtra(msgspec.Struct):
    coco_images: dict[str, msgspec.Raw] = {}


class _Member(msgspec.Struct):
    title: str
    width: int
    height: int


_extra_decoder = msgspec.json.Decoder(_UnitExtra)
_members_decoder = msgspec.json.Decoder(list[_Member])
ImageKey = tuple[str, int]


def _frame_file(title: str, members: list[_Member], frame: int) -> str:
    if members:
        member = members[frame]
        ext = member.title.rsplit(".", 1)[-1] if "." in member.title else "jpg"
        return f"{title}/{frame}.{ext}"
    return f"{title}/{frame}.jpg"


def _images(
    units: Iterable[DataUnitRecord],
) -> tuple[list[bytes], dict[ImageKey, Any], dict[ImageKey, tuple[int, int]]]:
    """Every frame's image record, its id and (width, height), in the units' order, read in one pass.

    Kept records (the file's own, stored with the unit) keep their ids when free and are given back
    as stored; the others (and kept ones whose id is taken) get fresh ids above every kept one, once
    all are known.
    """
    allocate = Allocator([])
    ids: dict[ImageKey, Any] = {}
    sizes: dict[ImageKey, tuple[int, int]] = {}
    out: list[bytes] = []
    later: list[tuple[int, ImageKey, DataUnitRecord, list[_Member], msgspec.Raw | None]] = []
    kept_max = 0
    for unit in units:
        members = _members_decoder.decode(unit.members) if unit.members else []
        kept = _extra_decoder.decode(unit.extra).coco_images if unit.extra else {}
        for frame in range(unit.frames):
            key = (unit.data_hash, frame)
            sizes[key] = (
                (members[frame].width, members[frame].height) if members else (unit.width, unit.height)
            )
            raw = kept.get(str(frame))
            out.append(b"")
            if raw is None:
                later.append((len(out) - 1, key, unit, members, None))
                continue
            wanted = _ids_decoder.decode(raw).id
            if type(number := numeric_id(wanted)) is int:
                kept_max = max(kept_max, number)
            if allocate.free(wanted):
                ids[key] = allocate.take(wanted)
                out[-1] = _encode(_decode(raw))  # its own id; written as the encoder writes it
            else:
                later.append((len(out) - 1, key, unit, members, raw))
    allocate.next = max(allocate.next, kept_max + 1)
    # kept records whose id was taken first (in order), then the new ones, as the ids were given before
    for index, key, unit, members, raw in sorted(later, key=lambda item: item[4] is None):
        ids[key] = allocate.take(None)
        out[index] = _encode(_new_image(key, unit, members, sizes[key], ids[key], raw))
    return out, ids, sizes


def _new_image(
    key: ImageKey,
    unit: DataUnitRecord,
    members: list[_Member],
    size: tuple[int, int],
    image_id: Any,
    raw: msgspec.Raw | None,
) -> dict[str, Any]:
    """An image record: a kept one with a new id, or one written for a frame that came with none."""
    if raw is not None:
        image = dict(_decode(raw))
        image["id"] = image_id
        return image
    frame = key[1]
    width, height = size
    image = {"id": image_id, "width": width, "height": height}
    if unit.data_type == DataType.IMAGE.value:
        image |= {"file_name": unit.title, "image_title": unit.title}
    elif members:
        image |= {
            "file_name": _frame_file(unit.title, members, frame),
            "image_title": members[frame].title,
            "data_title": unit.title,
            "data_type": unit.data_type,
            "frame": frame,
        }
    else:
        image |= {
            "file_name": _frame_file(unit.title, members, frame),
            "video_title": unit.title,
            "frame": frame,
        }
    return image


def _attribute_names(ontology: OntologyStructure) -> dict[str, tuple[str, dict[str, str]]]:
    """attribute hash -> (name, option hash -> label)."""
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for obj in ontology.objects:
        stack = list(obj.attributes)
        while stack:
            attribute = stack.pop()
            out[attribute.feature_node_hash] = (
                attribute.name,
                {o.feature_node_hash: o.label for o in attribute.options},
            )
            for option in attribute.options:
                stack.extend(option.attributes)
    return out


class _AnnotationWriter:
    def __init__(
        self,
        cat_ids: dict[str, Any],
        image_ids: dict[tuple[str, int], Any],
        sizes: dict[tuple[str, int], tuple[int, int]],
        objects: dict[str, Object],
        names: dict[str, tuple[str, dict[str, str]]],
        rle: str | None,
        results: bool,
    ) -> None:
        self.cat_ids = cat_ids
        self.image_ids = image_ids
        self.sizes = sizes
        self.objects = objects
        self.names = names
        self.rle = rle
        self.results = results

    def write(
        self, records: Iterator[ObjectRecord], out: BinaryIO, progress: Progress | None, total: int = 0
    ) -> None:
        """Write the annotations of ``records`` to ``out``, comma-separated, in the records' order.

        An annotation kept as it came (its record, unedited, its ids free and still pointing at its
        image and category) is written at once. Any other needs an id, and ids are handed out only
        once every kept id is known (kept ones win): so from the first such annotation on, the rest
        is spooled to a temporary file (kept records as they are, others as their stored rows) and
        written from there after the pass. Memory holds one id per annotation either way.
        """
        array = _Array(out)
        spool: _Spool | None = None
        pending: list[tuple[Any, bool]] = []  # (wanted id, came with a record) of each spooled row
        used: set[Any] = set()
        kept_max = 0
        cat_ids, image_ids = self.cat_ids, self.image_ids
        fast_ok = self.rle is None and not self.results
        for n, o in enumerate(records, 1):
            if progress is not None and n % 100_000 == 0:
                progress(n, total)
            cat_id = cat_ids.get(o.feature_hash)
            image_id = image_ids.get((o.data_hash, o.frame))
            if cat_id is None or image_id is None:
                continue
            wanted = o.source_key if o.source is not None else None
            if o.record is not None:
                ids = _ids_decoder.decode(o.record)
                if (
                    fast_ok
                    and not o.edited
                    and o.answers is None
                    and ids.id not in used
                    and (ids.image_id == image_id or same_id(ids.image_id, image_id))
                    and (ids.category_id == cat_id or same_id(ids.category_id, cat_id))
                    and type(ids.id) is int
                ):
                    used.add(ids.id)
                    kept_max = max(kept_max, ids.id)
                    if spool is None:
                        array.add(o.record)
                    else:
                        spool.add_kept(o.record)
                    continue
                if ids.id is not msgspec.UNSET:
                    wanted = ids.id
            if spool is None:
                spool = _Spool()
            spool.add_row(o)
            pending.append((wanted, o.record is not None))
        if progress is not None and total:
            progress(total, total)
        if spool is None:
            array.flush()
            return
        # Ids for the spooled rows: first those that came in (edited, answered) take their own,
        # then new annotations get fresh ones above every kept id.
        allocate = Allocator([kept_max, *(w for w, came in pending if came)])
        allocate.used = used
        given: list[Any] = [None] * len(pending)
        if not self.results:
            for index in sorted(range(len(pending)), key=lambda i: not pending[i][1]):
                given[index] = allocate.take(pending[index][0])
        pending.clear()
        given.reverse()
        with spool:
            for kept, item in spool.read():
                if kept is not None:
                    array.add(kept)
                    continue
                assert item is not None
                ann = None if item.record is None else _decode(item.record)
                written = _encode(self._annotation(item, ann, given.pop()))
                if item.record is not None and not item.edited and written == _encode(_decode(item.record)):
                    written = item.record  # unchanged (its answers say what the file said): byte for byte
                array.add(written)
        array.flush()

    def _annotation(self, o: ObjectRecord, ann: dict[str, Any] | None, new_id: Any) -> dict[str, Any]:
        obj = self.objects[o.feature_hash]
        width, height = self.sizes[(o.data_hash, o.frame)]
        if ann is None:
            ann = {}
            fresh = True
        else:
            fresh = False
        if not self.results and not same_id(ann.get("id"), new_id):  # ("7" for 7 stays as it came)
            ann["id"] = new_id
        image_id = self.image_ids[(o.data_hash, o.frame)]
        if not same_id(ann.get("image_id"), image_id):  # (2299 for an image "2299" stays as it came)
            ann["image_id"] = image_id
        if not same_id(ann.get("category_id"), self.cat_ids[o.feature_hash]):
            ann["category_id"] = self.cat_ids[o.feature_hash]
        if fresh or o.edited:
            assert o.geometry is not None
            put_geometry(ann, stored_coordinates(obj.shape, o.geometry, None, width, height), width, height)
            ann.setdefault("iscrowd", 0)
        if o.answers:
            attributes = dict(ann.get("attributes") or {})
            # the record's own key for each attribute (imports match names case- and space-insensitively)
            keys = {fold(str(k)): k for k in attributes}
            for attr_hash, value in msgspec.json.decode(o.answers).items():
                name, options = self.names.get(attr_hash, (attr_hash, {}))
                if isinstance(value, list):
                    answer: Any = [options.get(v, v) for v in value]
                else:
                    answer = (
                        options.get(value, value) if isinstance(value, str) and value in options else value
                    )
                key = keys.get(fold(name), name)
                if key not in attributes or not _same_answer(attributes[key], answer, bool(options)):
                    attributes[key] = answer  # an answer the record does not already give
            ann["attributes"] = attributes
        if (not o.manual or o.confidence != 1.0) and "score" not in ann:
            ann["score"] = o.confidence
        if self.rle is not None and isinstance(ann.get("segmentation"), dict):
            seg = ann["segmentation"]
            ann["segmentation"] = (
                geometry.rle_compress(seg) if self.rle == "compressed" else geometry.rle_uncompress(seg)
            )
        if self.results:
            ann.pop("id", None)
            ann.setdefault("score", o.confidence)
            keep = (
                "image_id",
                "category_id",
                "bbox",
                "segmentation",
                "keypoints",
                "score",
                "attributes",
                "area",
                "iscrowd",
            )
            ann = {k: ann[k] for k in keep if k in ann}
        return ann


class _Spool:
    """A temporary file of an export's annotations that cannot be written yet, in order: kept records
    as their bytes, other rows as their stored fields (msgpack). Read back once, then deleted."""

    _KEPT, _ROW = b"K", b"R"

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="labelport-export-", buffering=1 << 20)  # noqa: SIM115 (closed by __exit__)
        self.encode = msgspec.msgpack.Encoder().encode

    def add_kept(self, record: bytes) -> None:
        self.file.write(self._KEPT + len(record).to_bytes(4, "little") + record)

    def add_row(self, row: ObjectRecord) -> None:
        data = self.encode(tuple(row))
        self.file.write(self._ROW + len(data).to_bytes(4, "little") + data)

    def read(self) -> Iterator[tuple[bytes | None, ObjectRecord | None]]:
        """(kept record, None) or (None, stored row), in the order they were added."""
        self.file.seek(0)
        reader = self.file
        decode = msgspec.msgpack.Decoder().decode
        while head := reader.read(5):
            data = reader.read(int.from_bytes(head[1:], "little"))
            if head[:1] == self._KEPT:
                yield data, None
            else:
                yield None, ObjectRecord(*decode(data))

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def _same_answer(given: Any, answer: Any, options: bool) -> bool:
    """Whether a record's attribute value already says ``answer`` (option labels compare folded)."""
    if options and isinstance(given, list) and isinstance(answer, list):
        return len(given) == len(answer) and all(
            _same_answer(g, a, options) for g, a in zip(given, answer, strict=True)
        )
    if options and isinstance(given, str) and isinstance(answer, str):
        return fold(given) == fold(answer)
    return bool(given == answer and type(given) is type(answer))
