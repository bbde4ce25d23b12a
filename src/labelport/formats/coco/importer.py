"""COCO import: one pass validates every annotation, matches images and categories, and writes rows.

The import is one store transaction (all of it lands or none), and it is idempotent: each annotation
is keyed by (branch, source name, COCO annotation id) — results lists, which have no ids, by their
1-based position — so importing the same file again updates the same objects. Nothing is converted
on the way in: each annotation's original bytes are stored, and an export gives them back.

>>> # import_coco(store, project_hash, "instances.json", user="ada") -> ImportReport
"""

from __future__ import annotations

import math
import queue
import secrets
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from labelport.data import DataType, DataUnit, Member
from labelport.errors import ImportFailed, LabelportError
from labelport.formats.coco import schema
from labelport.formats.coco.match import UnitIndex, fold, frame_number
from labelport.formats.coco.ontology import category_shapes, object_for_category
from labelport.formats.coco.read import ParsedCoco, join_raw, read_coco
from labelport.formats.coco.records import conversion
from labelport.formats.coco.report import CategoryMatch, ImageMatch, ImportReport
from labelport.formats.coco.validate import (
    check_bbox,
    check_keypoints,
    check_segmentation,
    iscrowd_ok,
    segmentation_form,
)
from labelport.labels import MAIN_BRANCH, now_iso
from labelport.ontology import Attribute, AttributeType, Object, OntologyStructure, Shape
from labelport.service import Progress
from labelport.store._json import dumps
from labelport.store.base import BulkRow, BulkSession, LabelStore

CHUNK = 20_000
EXAMPLES = 5
_POLYGON_FORMS = ("polygon", "flat_polygon", "other")
_RLE_FORMS = ("rle", "rle_compressed")


@dataclass
class _Cat:
    obj: Object
    attributes: dict[str, Attribute]
    keypoints: int | None


@dataclass
class _Img:
    unit: DataUnit
    frame: int
    width: int
    height: int
    row_id: int = 0


@dataclass
class _Plan:
    """What matching decided, before anything is written."""

    images: dict[Any, _Img] = field(default_factory=dict)
    known_images: dict[Any, int] = field(default_factory=dict)
    image_records: dict[Any, dict[str, Any]] = field(default_factory=dict)
    unmatched: dict[Any, int] = field(default_factory=dict)
    new_units: list[DataUnit] = field(default_factory=list)
    unit_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    cats: dict[Any, _Cat] = field(default_factory=dict)
    known_cats: dict[Any, int] = field(default_factory=dict)
    ontology_changed: bool = False
    unmatched_counts: Counter[Any] = field(default_factory=Counter)


def _load_mapping(value: Any, what: str) -> dict[Any, Any]:
    if isinstance(value, dict):
        return value
    path = Path(str(value)).expanduser()
    try:
        data = schema.any_decoder.decode(path.read_bytes())
    except FileNotFoundError:
        raise LabelportError(f"{path}: no such {what} mapping file.") from None
    except (OSError, msgspec.DecodeError) as exc:
        raise LabelportError(f"{path}: the {what} mapping is not readable JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise LabelportError(f"{path}: the {what} mapping must be a JSON object.")
    return data


def _lookup(mapping: dict[Any, Any], *keys: Any) -> Any:
    for key in keys:
        if key in mapping:
            return mapping[key]
        if str(key) in mapping:
            return mapping[str(key)]
    return None


def import_coco(
    store: LabelStore,
    project_hash: str,
    source: Any,
    *,
    user: str,
    progress: Progress | None = None,
    match: Any = "auto",
    categories: Any = "by-name",
    on_error: str = "fail",
    dry_run: bool = False,
    branch_name: str | None = None,
    confidence_field: str | None = None,
    create_missing_data_units: bool = False,
    replace: bool = False,
    source_name: str | None = None,
) -> ImportReport:
    """Import a COCO source into a project; see the module docstring and README "Importing COCO"."""
    started = time.perf_counter()
    if on_error not in ("fail", "skip"):
        raise LabelportError(f"on_error must be 'fail' or 'skip', not {on_error!r}.")
    parsed = read_coco(source)
    branch = branch_name or MAIN_BRANCH
    report = ImportReport(
        source=source_name or parsed.name, branch=branch, kind=parsed.kind, dry_run=dry_run, on_error=on_error
    )
    project = store.get_project(project_hash)
    ontology = store.get_ontology(project.ontology_hash).structure
    units = store.list_data_units(project_hash)
    plan = _Plan()
    _plan_categories(parsed, ontology, categories, plan, report)
    _plan_images(parsed, units, match, create_missing_data_units, plan, report)
    importer = _Annotations(parsed, plan, report, user, confidence_field)
    if dry_run:
        importer.run(None, progress)
        _image_problems(parsed, plan, report)
    else:
        with store.bulk(project_hash, branch, report.source, user) as session:
            if plan.new_units:
                session.add_data_units(plan.new_units)
            row_ids = session.label_row_ids(sorted({img.unit.data_hash for img in plan.images.values()}))
            for img in plan.images.values():
                img.row_id = row_ids[img.unit.data_hash]
            if replace:
                report.counts.replaced = session.clear(sorted(set(row_ids.values())))
            importer.run(session, progress)
            _image_problems(parsed, plan, report)
            if report.errors and on_error == "fail":
                report.seconds = round(time.perf_counter() - started, 3)
                raise ImportFailed(_failure(report), report)
            if plan.unit_extras:
                session.set_data_unit_extra(plan.unit_extras)
            if plan.ontology_changed:
                session.save_ontology(ontology)
            if "coco" not in project.extra and parsed.kind == "instances":
                session.set_project_extra({**project.extra, "coco": _dataset_records(parsed)})
            report.written = True
            report.seconds = round(time.perf_counter() - started, 3)
            session.commit(report.to_json())
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _dataset_records(parsed: ParsedCoco) -> dict[str, Any]:
    """The file's ``info`` and ``licenses``, kept so that an export can give them back."""
    kept: dict[str, Any] = {}
    if parsed.info is not None:
        kept["info"] = schema.any_decoder.decode(parsed.info)
    if parsed.licenses is not None:
        kept["licenses"] = schema.any_decoder.decode(parsed.licenses)
    return kept


def _failure(report: ImportReport) -> str:
    first = report.errors[0]
    more = f" (and {len(report.errors) - 1:,} more problems)" if len(report.errors) > 1 else ""
    return f"Nothing was imported from {report.source}: {first}{more}."


# -- categories ----------------------------------------------------------------------------------


def _plan_categories(
    parsed: ParsedCoco, ontology: OntologyStructure, categories: Any, plan: _Plan, report: ImportReport
) -> None:
    mapping = None if categories in ("by-name", "create") else _load_mapping(categories, "category")
    if parsed.kind == "results":
        kept = {o.extra.get("coco", {}).get("id"): o for o in ontology.objects if "coco" in o.extra}
        ids = mapping.keys() if mapping is not None else kept.keys()
        for cat_id in ids:
            key = int(cat_id) if isinstance(cat_id, str) and cat_id.lstrip("-").isdigit() else cat_id
            found = _object_for(ontology, mapping[cat_id]) if mapping is not None else kept[cat_id]
            if found is not None:
                plan.cats[key] = _cat(found)
                plan.known_cats[key] = -1
        return
    shapes: dict[Any, Shape] | None = None
    for i, raw in enumerate(parsed.categories):
        path = f"categories[{i}]"
        category = schema.any_decoder.decode(raw)
        if not isinstance(category, dict):
            report.error("category_type", path, "a category must be a JSON object.")
            continue
        cat_id, name = category.get("id"), category.get("name")
        if type(cat_id) is not int:
            report.error(
                "category_id", f"{path}.id", f"a category id must be a whole number, not {cat_id!r}."
            )
            continue
        if cat_id in plan.known_cats:
            report.error(
                "category_duplicate",
                f"{path}.id",
                f"category id {cat_id} is used again (first at categories[{plan.known_cats[cat_id]}]).",
            )
            continue
        if not isinstance(name, str) or not name:
            report.error("category_name", f"{path}.name", "a category needs a non-empty name.")
            continue
        plan.known_cats[cat_id] = i
        report.counts.categories += 1
        method = "mapping"
        obj: Object | None
        if mapping is not None:
            target = _lookup(mapping, cat_id, name)
            obj = None if target is None else _object_for(ontology, target)
        else:
            obj, method = _object_by_name(ontology, name)
        if obj is None and categories == "create":
            if shapes is None:
                shape_map, attribute_keys, kp_counts = category_shapes(parsed)
                shapes = shape_map
            obj = object_for_category(
                category,
                shapes.get(cat_id, Shape.BOUNDING_BOX),
                attribute_keys.get(cat_id, []),
                kp_counts.get(cat_id),
            )
            ontology.objects.append(obj)
            plan.ontology_changed = True
            report.counts.categories_created += 1
            method = "created"
        if obj is None:
            report.counts.categories_unmatched += 1
            report.categories.append(CategoryMatch(cat_id, name, "unmatched"))
            continue
        if "coco" not in obj.extra:
            obj.extra["coco"] = category
            plan.ontology_changed = True
        report.counts.categories_matched += 1
        report.categories.append(CategoryMatch(cat_id, name, method, obj.feature_node_hash, obj.title))
        plan.cats[cat_id] = _cat(obj)


def _cat(obj: Object) -> _Cat:
    return _Cat(
        obj,
        {a.name: a for a in obj.attributes} | {fold(a.name): a for a in obj.attributes},
        len(obj.keypoints) or None,
    )


def _object_for(ontology: OntologyStructure, target: Any) -> Object | None:
    for obj in ontology.objects:
        if target in (obj.feature_node_hash, obj.title):
            return obj
    return None


def _object_by_name(ontology: OntologyStructure, name: str) -> tuple[Object | None, str]:
    exact = [o for o in ontology.objects if o.title == name]
    if len(exact) == 1:
        return exact[0], "exact"
    folded = [o for o in ontology.objects if fold(o.title) == fold(name)]
    if len(folded) == 1:
        return folded[0], "case_insensitive"
    return None, "unmatched"


# -- images --------------------------------------------------------------------------------------


def _plan_images(
    parsed: ParsedCoco, units: list[DataUnit], match: Any, create: bool, plan: _Plan, report: ImportReport
) -> None:
    by_hash = {u.data_hash: u for u in units}
    if parsed.kind == "results":
        for unit in units:
            for frame, image in unit.extra.get("coco_images", {}).items():
                plan.images[image.get("id")] = _Img(unit, int(frame), *unit.frame_size(int(frame)))
                plan.known_images[image.get("id")] = -1
        if not isinstance(match, str):
            for image_id, target in _load_mapping(match, "image").items():
                mapped, frame = _target(by_hash, target)
                if mapped is not None:
                    key = int(image_id) if isinstance(image_id, str) and image_id.isdigit() else image_id
                    plan.images[key] = _Img(mapped, frame, *mapped.frame_size(frame))
                    plan.known_images[key] = -1
        return
    mapping = None if match == "auto" else _load_mapping(match, "image")
    index = UnitIndex(units) if mapping is None else None
    images = schema.any_decoder.decode(join_raw(parsed.images))
    creating: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for i, image in enumerate(images):
        path = f"images[{i}]"
        if not isinstance(image, dict):
            report.error("image_type", path, "an image must be a JSON object.")
            continue
        image_id, width, height = image.get("id"), image.get("width"), image.get("height")
        if type(image_id) is not int and type(image_id) is not str:
            report.error(
                "image_id", f"{path}.id", f"an image id must be a number or a string, not {image_id!r}."
            )
            continue
        if image_id in plan.known_images:
            report.error(
                "image_duplicate",
                f"{path}.id",
                f"image id {image_id} is used again (first at images[{plan.known_images[image_id]}]).",
            )
            continue
        plan.known_images[image_id] = i
        report.counts.images += 1
        plan.image_records[image_id] = image
        sized = type(width) is int and type(height) is int and width > 0 and height > 0
        if mapping is not None:
            target = _lookup(mapping, image_id, image.get("file_name"))
            mapped, frame = _target(by_hash, target) if target is not None else (None, 0)
            method, found = ("mapping", [(mapped, frame)]) if mapped is not None else ("unmatched", [])
        else:
            assert index is not None
            method, found = index.match(image)
        if len(found) > 1:
            report.counts.images_ambiguous += 1
            plan.unmatched[image_id] = i
            if len(report.ambiguous_images) < 1000:
                report.ambiguous_images.append(
                    ImageMatch(
                        image_id,
                        str(image.get("file_name")),
                        method,
                        candidates=[f"{u.title}#{f}" for u, f in found],
                    )
                )
            continue
        if not found:
            if create and sized:
                key = (
                    ("video", image["video_title"])
                    if isinstance(image.get("video_title"), str)
                    else (
                        ("group", image["data_title"])
                        if isinstance(image.get("data_title"), str)
                        else ("image", str(image.get("file_name") or image_id))
                    )
                )
                creating[key].append((i, image))
                continue
            plan.unmatched[image_id] = i
            if not sized:
                report.error("image_size", path, "an image needs whole-number 'width' and 'height' > 0.")
            continue
        unit, frame = found[0]
        if frame >= unit.frames or frame < 0:
            report.error(
                "frame_range",
                path,
                f"frame {frame} is beyond {unit.data_type.value} {unit.title!r}, which has {unit.frames} frames.",
            )
            plan.unmatched[image_id] = i
            continue
        uw, uh = unit.frame_size(frame)
        if sized and (width, height) != (uw, uh):
            report.warning(
                "size_mismatch",
                path,
                f"the image is {width}x{height} but data unit {unit.title!r} is {uw}x{uh}; checked against the COCO size.",
            )
        _matched(
            plan,
            report,
            image_id,
            image,
            unit,
            frame,
            method,
            (width, height) if sized else (uw, uh),  # type: ignore[arg-type]
        )
    for (kind, title), members in creating.items():
        _create_unit(plan, report, kind, title, members)
    report.counts.images_unmatched = len(plan.unmatched) - report.counts.images_ambiguous


def _target(by_hash: dict[str, DataUnit], target: Any) -> tuple[DataUnit | None, int]:
    if isinstance(target, str):
        return by_hash.get(target), 0
    if isinstance(target, (list, tuple)) and len(target) == 2:
        return by_hash.get(str(target[0])), int(target[1])
    data_hash = getattr(target, "data_hash", None)
    return (by_hash.get(data_hash), int(getattr(target, "frame", 0))) if data_hash else (None, 0)


def _matched(
    plan: _Plan,
    report: ImportReport,
    image_id: Any,
    image: dict[str, Any],
    unit: DataUnit,
    frame: int,
    method: str,
    size: tuple[int, int],
) -> None:
    plan.images[image_id] = _Img(unit, frame, size[0], size[1])
    report.counts.images_matched += 1
    report.image_matches[method] = report.image_matches.get(method, 0) + 1
    if len(report.matched_examples) < EXAMPLES:
        report.matched_examples.append(
            ImageMatch(image_id, str(image.get("file_name")), method, unit.data_hash, frame)
        )
    kept = unit.extra.setdefault("coco_images", {})
    if str(frame) not in kept:
        kept[str(frame)] = image
        if method != "created":
            plan.unit_extras[unit.data_hash] = unit.extra


def _create_unit(
    plan: _Plan, report: ImportReport, kind: str, title: str, members: list[tuple[int, dict[str, Any]]]
) -> None:
    first = members[0][1]
    if kind == "image":
        units = [
            (
                DataUnit.image(title, width=first["width"], height=first["height"], location=title),
                0,
                members[0],
            )
        ]
        for extra in members[1:]:  # the same file name twice: one unit each, told apart by image id
            units.append(
                (
                    DataUnit.image(
                        f"{title}#{extra[1]['id']}",
                        width=extra[1]["width"],
                        height=extra[1]["height"],
                        location=title,
                    ),
                    0,
                    extra,
                )
            )
    elif kind == "video":
        frames = [frame_number(m) or 0 for _, m in members]
        unit = DataUnit.video(title, width=first["width"], height=first["height"], frames=max(frames) + 1)
        units = [(unit, f, m) for f, m in zip(frames, members, strict=True)]
    else:
        ordered = sorted(members, key=lambda m: frame_number(m[1]) or 0)
        unit = DataUnit.group(
            title,
            [
                Member(str(m.get("image_title") or m.get("file_name") or i), m["width"], m["height"])
                for i, m in ordered
            ],
            DataType(str(first.get("data_type")))
            if first.get("data_type") in ("img_group", "img_sequence", "dicom")
            else DataType.IMG_GROUP,
        )
        units = [(unit, n, m) for n, m in enumerate(ordered)]
    seen: set[str] = set()
    for unit, frame, (_i, image) in units:
        if unit.data_hash not in seen:
            seen.add(unit.data_hash)
            plan.new_units.append(unit)
            report.counts.data_units_created += 1
        _matched(plan, report, image["id"], image, unit, frame, "created", (image["width"], image["height"]))


def _image_problems(parsed: ParsedCoco, plan: _Plan, report: ImportReport) -> None:
    """One problem per image that matched no data unit: an error when annotations needed it."""
    images = plan.image_records
    for image_id, i in plan.unmatched.items():
        count = plan.unmatched_counts.get(image_id, 0)
        image = images.get(image_id, {})
        name = image.get("file_name")
        ambiguous = any(m.image_id == image_id for m in report.ambiguous_images)
        why = "matches more than one data unit" if ambiguous else "matches no data unit"
        if count:
            report.error(
                "image_ambiguous" if ambiguous else "image_unmatched",
                f"images[{i}]",
                f"image {image_id} ({name!r}) {why}; its {count} annotations were not imported.",
            )
        else:
            report.warning(
                "image_ambiguous" if ambiguous else "image_unmatched",
                f"images[{i}]",
                f"image {image_id} ({name!r}) {why}; it has no annotations.",
            )
        if not ambiguous and len(report.unmatched_images) < 1000:
            report.unmatched_images.append(ImageMatch(image_id, str(name), "unmatched"))


# -- annotations ---------------------------------------------------------------------------------


class _Writer:
    """Writes row batches on a second thread, so the store works while the next batch is validated.

    The store's driver releases the GIL while it writes, so this overlaps on two cores. At most two
    batches wait, which bounds memory. The first failure stops the writer and is raised by the caller.
    """

    def __init__(self, session: BulkSession) -> None:
        self.session = session
        self.queue: queue.Queue[list[BulkRow] | None] = queue.Queue(maxsize=2)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="labelport-import-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (rows := self.queue.get()) is not None:
            if self.failure is None:
                try:
                    self.session.write(rows)
                except BaseException as exc:  # handed to the importing thread, raised there
                    self.failure = exc

    def put(self, rows: list[BulkRow]) -> None:
        if self.failure is not None:
            raise self.failure
        self.queue.put(rows)

    def close(self) -> BaseException | None:
        self.queue.put(None)
        self.thread.join()
        return self.failure


class _Annotations:
    """The one pass over annotations: validate, then build a row for each good one."""

    def __init__(
        self, parsed: ParsedCoco, plan: _Plan, report: ImportReport, user: str, confidence_field: str | None
    ) -> None:
        self.parsed = parsed
        self.plan = plan
        self.report = report
        self.user = user
        self.confidence_field = confidence_field or "score"
        self.results = parsed.kind == "results"
        self.unknown_attributes: Counter[tuple[str, str]] = Counter()

    def run(self, session: BulkSession | None, progress: Progress | None) -> None:
        report = self.report
        existing = session.existing_keys() if session is not None else {}
        raws = self.parsed.annotations
        total = len(raws)
        report.counts.annotations = total
        now = now_iso()
        seen_ids: dict[int, int] = {}
        tracks: dict[Any, str] = {}
        prefix = "" if self.results else "annotations"
        custom_confidence = self.confidence_field != "score"
        problems: list[tuple[str, str, str, bool]] = []

        def fail(code: str, where: str, message: str) -> None:
            problems.append((code, where, message, True))

        def warn(code: str, where: str, message: str) -> None:
            problems.append((code, where, message, False))

        writer = _Writer(session) if session is not None else None
        try:
            self._pass(
                writer,
                existing,
                now,
                seen_ids,
                tracks,
                prefix,
                custom_confidence,
                problems,
                fail,
                warn,
                progress,
            )
        finally:
            failure = writer.close() if writer is not None else None
        if failure is not None:
            raise failure
        for (title, name), count in sorted(self.unknown_attributes.items()):
            report.warning(
                "attribute_unknown",
                f"annotations[*].attributes.{name}",
                f"object {title!r} has no attribute {name!r}; {count} answers kept only in the source records.",
            )

    def _pass(
        self,
        writer: _Writer | None,
        existing: dict[int, tuple[str, int]],
        now: str,
        seen_ids: dict[int, int],
        tracks: dict[Any, str],
        prefix: str,
        custom_confidence: bool,
        problems: list[tuple[str, str, str, bool]],
        fail: Any,
        warn: Any,
        progress: Progress | None,
    ) -> None:
        report, plan = self.report, self.plan
        raws = self.parsed.annotations
        total = len(raws)
        for start in range(0, total, CHUNK):
            chunk = raws[start : start + CHUNK]
            anns = self._decode(chunk, start, prefix)
            pool = secrets.token_hex(4 * len(chunk))
            rows: list[BulkRow] = []
            for j, a in enumerate(anns):
                if a is None:
                    report.counts.skipped += 1
                    continue
                i = start + j
                if problems:
                    problems.clear()
                ann_id = a.id
                if self.results:
                    key = i + 1
                elif type(ann_id) is not int:
                    key = 0
                    if ann_id is schema.MISSING:
                        fail("id_missing", "id", "the annotation has no 'id'.")
                    else:
                        fail("id_type", "id", f"an annotation id must be a whole number, not {ann_id!r}.")
                elif ann_id in seen_ids:
                    key = 0
                    fail(
                        "id_duplicate",
                        "id",
                        f"annotation id {ann_id} is used again (first at annotations[{seen_ids[ann_id]}]).",
                    )
                else:
                    key = seen_ids[ann_id] = ann_id
                image_id = a.image_id
                img = plan.images.get(image_id) if type(image_id) in (int, str) else None
                if img is None:
                    if type(image_id) in (int, str) and image_id in plan.known_images:
                        plan.unmatched_counts[image_id] += 1
                        self._emit(problems, prefix, i, ann_id)
                        report.counts.skipped += 1
                        continue
                    fail(
                        "image_unknown", "image_id", f"image id {image_id!r} is not among the file's images."
                    )
                cat_id = a.category_id
                cat = plan.cats.get(cat_id) if type(cat_id) in (int, str) else None
                if cat is None:
                    if type(cat_id) is int and cat_id in plan.known_cats:
                        fail(
                            "category_unmatched",
                            "category_id",
                            f"category {cat_id} matches no ontology object.",
                        )
                    else:
                        fail(
                            "category_unknown",
                            "category_id",
                            f"category id {cat_id!r} is not among the file's categories.",
                        )
                width, height = (img.width, img.height) if img is not None else (1 << 30, 1 << 30)
                forms: list[str] = []
                seg_form = segmentation_form(a.segmentation)
                # An RLE can only be checked against a known image's size.
                checkable = seg_form in _POLYGON_FORMS or (seg_form in _RLE_FORMS and img is not None)
                if checkable and check_segmentation(a.segmentation, seg_form or "", width, height, fail, warn):
                    forms.append(seg_form or "")
                kp = a.keypoints
                has_keypoints = kp is not schema.MISSING and kp is not None and kp != []
                if has_keypoints and check_keypoints(
                    kp, cat.keypoints if cat else None, width, height, fail, warn
                ):
                    forms.append("keypoints")
                bbox = a.bbox
                if bbox is not schema.MISSING and bbox is not None:
                    if check_bbox(bbox, width, height, fail, warn):
                        forms.append("bbox")
                elif not forms and not any(p[3] for p in problems):
                    fail("no_geometry", "bbox", "the annotation has no bbox, segmentation or keypoints.")
                if (
                    cat is not None
                    and cat.obj.shape is Shape.SKELETON
                    and "keypoints" not in forms
                    and not any(p[3] for p in problems)
                ):
                    fail(
                        "no_keypoints",
                        "keypoints",
                        f"object {cat.obj.title!r} is a skeleton; the annotation has no keypoints.",
                    )
                if a.iscrowd is not schema.MISSING and not iscrowd_ok(a.iscrowd):
                    fail(
                        "iscrowd_type", "iscrowd", f"iscrowd must be 0, 1, true or false, not {a.iscrowd!r}."
                    )
                if (
                    a.area is not schema.MISSING
                    and a.area is not None
                    and (type(a.area) not in (int, float) or not math.isfinite(a.area))
                ):
                    fail("area_type", "area", f"area must be a number, not {a.area!r}.")
                confidence = 1.0
                score = a.score if not custom_confidence else self._field(chunk[j], self.confidence_field)
                if score is not schema.MISSING and score is not None:
                    if type(score) not in (int, float) or not 0.0 <= score <= 1.0:
                        fail(
                            "score_range",
                            self.confidence_field,
                            f"{self.confidence_field} must be a number from 0 to 1, not {score!r}.",
                        )
                    else:
                        confidence = float(score)
                elif self.results:
                    fail("score_missing", "score", "a results entry needs a 'score'.")
                track = a.track_id
                if track is not schema.MISSING and type(track) not in (int, str):
                    fail(
                        "track_id_type", "track_id", f"track_id must be a number or a string, not {track!r}."
                    )
                answers = None
                attributes = a.attributes
                if attributes is not schema.MISSING and attributes is not None:
                    if type(attributes) is not dict:
                        fail("attributes_type", "attributes", "attributes must be a JSON object.")
                    elif cat is not None and attributes:
                        answers = self._answers(cat, attributes, warn)
                if problems:
                    self._emit(problems, prefix, i, ann_id)
                    if any(p[3] for p in problems):
                        report.counts.skipped += 1
                        continue
                assert img is not None and cat is not None
                shape = cat.obj.shape
                converted = conversion(shape, forms)
                if converted is not None:
                    report.converted(converted)
                if key in existing:
                    object_hash = existing[key][0]
                    report.counts.updated += 1
                else:
                    object_hash = pool[8 * j : 8 * j + 8]
                    report.counts.created += 1
                if track is not schema.MISSING:
                    object_hash = tracks.setdefault(track, object_hash)
                rows.append(
                    (
                        img.row_id,
                        img.frame,
                        object_hash,
                        cat.obj.feature_node_hash,
                        None,
                        confidence,
                        0 if score is not schema.MISSING else 1,
                        self.user,
                        now,
                        answers,
                        key,
                        chunk[j],
                    )
                )
            report.counts.imported += len(rows)
            if writer is not None and rows and not (report.errors and report.on_error == "fail"):
                writer.put(rows)
            if progress is not None:
                progress(min(start + CHUNK, total), total)

    def _decode(self, chunk: list[msgspec.Raw], start: int, prefix: str) -> list[schema.Annotation | None]:
        try:
            return list(schema.annotations_decoder.decode(join_raw(chunk)))
        except (msgspec.ValidationError, msgspec.DecodeError):
            out: list[schema.Annotation | None] = []
            for j, raw in enumerate(chunk):
                try:
                    out.append(msgspec.json.decode(raw, type=schema.Annotation))
                except (msgspec.ValidationError, msgspec.DecodeError):
                    self.report.error(
                        "annotation_type", f"{prefix}[{start + j}]", "an annotation must be a JSON object."
                    )
                    out.append(None)
            return out

    def _field(self, raw: msgspec.Raw, name: str) -> Any:
        record = schema.any_decoder.decode(raw)
        return record.get(name, schema.MISSING) if isinstance(record, dict) else schema.MISSING

    def _emit(self, problems: list[tuple[str, str, str, bool]], prefix: str, i: int, ann_id: Any) -> None:
        ident = ann_id if type(ann_id) in (int, str) else None
        for code, where, message, is_error in problems:
            path = f"{prefix}[{i}].{where}"
            if is_error:
                self.report.error(code, path, message, annotation_id=ident)
            else:
                self.report.warning(code, path, message, annotation_id=ident)

    def _answers(self, cat: _Cat, attributes: dict[str, Any], warn: Any) -> bytes | None:
        answers: dict[str, Any] = {}
        for name, value in attributes.items():
            attribute = cat.attributes.get(name) or cat.attributes.get(fold(str(name)))
            if attribute is None:
                if not (name == "rotation" and cat.obj.shape is Shape.ROTATABLE_BOUNDING_BOX):
                    self.unknown_attributes[(cat.obj.title, str(name))] += 1
                continue
            if attribute.type is AttributeType.TEXT:
                answers[attribute.feature_node_hash] = value
                continue
            labels = value if isinstance(value, list) else [value]
            hashes = []
            for label in labels:
                options = [
                    o for o in attribute.options if o.label == str(label) or fold(o.label) == fold(str(label))
                ]
                if options:
                    hashes.append(options[0].feature_node_hash)
                else:
                    warn(
                        "attribute_option",
                        f"attributes.{name}",
                        f"attribute {name!r} has no option {label!r}; kept only in the source record.",
                    )
            if hashes:
                answers[attribute.feature_node_hash] = (
                    hashes if attribute.type is AttributeType.CHECKLIST else hashes[0]
                )
        return dumps(answers) if answers else None
