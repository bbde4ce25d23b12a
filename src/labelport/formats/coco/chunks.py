"""The exact path of a COCO import's validation: each annotation of a slice checked by itself.

:func:`validate_chunk` is pure: given a slice of raw annotations and the matching plan it returns
the rows it would write, the evidence of what each imported annotation carried (from which created
objects get their shapes and conversions are counted) and every problem it found, touching nothing
shared. A clean slice is proven clean at once by :func:`labelport.formats.coco.column_checks.clean_chunk`;
any other goes annotation by annotation. :class:`SliceTask` is what the import's worker pass
(:mod:`labelport.imports.workers`) runs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import msgspec

from labelport.formats.coco import column_checks, schema
from labelport.formats.coco.match import fold
from labelport.formats.coco.plan import CategoryTarget
from labelport.formats.coco.read import join_raw
from labelport.formats.coco.slices import (
    CHUNK,
    ChunkResult,
    Context,
    Evidence,
    PendingRow,
    Problem,
    SentContext,
)
from labelport.formats.coco.validate import (
    check_bbox,
    check_keypoints,
    check_segmentation,
    finite,
    iscrowd_ok,
    segmentation_form,
    short,
)
from labelport.ontology import AttributeType, Shape
from labelport.stored.codec import dumps
from labelport.stored.ids import ID_MAX, ID_MIN, numeric_id, other_form, whole_id

_POLYGON_FORMS = ("polygon", "flat_polygon", "other")
_RLE_FORMS = ("rle", "rle_compressed")
_NUMBERS = (int, float)


class SliceTask:
    """A COCO file's validation as the worker pass runs it (:class:`labelport.imports.workers.Task`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def validate(self, start: int, data: bytes | None) -> ChunkResult:
        ctx = self.ctx
        if data is None and ctx.spans is not None:
            # read from the shared buffer, leaving the inherited list of records untouched
            first, end = ctx.spans[start // CHUNK]
            return validate_chunk(ctx, start, array=b"[" + ctx.buffer[first:end] + b"]")
        chunk = None if data is None else schema.raw_list.decode(data)
        return validate_chunk(ctx, start, chunk)

    def release(self) -> None:
        self.ctx.release()

    def slice_bytes(self, start: int) -> bytes:
        return join_raw(self.ctx.raws[start : start + CHUNK])

    def for_spawned_workers(self) -> SentSliceTask:
        return SentSliceTask(self.ctx.for_spawned_workers())


class SentSliceTask(NamedTuple):
    """A :class:`SliceTask` as sent to a worker started by a fork server."""

    sent: SentContext

    def task(self) -> SliceTask:
        return SliceTask(self.sent.context())


def validate_chunk(
    ctx: Context, start: int, chunk: list[msgspec.Raw] | None = None, array: bytes | None = None
) -> ChunkResult:
    """Validate the annotations from index ``start`` (``chunk``, the slice as a JSON ``array``, or
    ``ctx.raws[start:start + CHUNK]``); return the rows to write and every problem found."""
    if chunk is None and array is None:
        chunk = ctx.raws[start : start + CHUNK]
    problems: list[Problem] = []
    here: list[Any] = [0, None]  # current index and annotation id, for fail/warn

    def fail(code: str, where: str, message: str) -> None:
        problems.append((here[0], code, where, message, True, here[1]))

    def warn(code: str, where: str, message: str) -> None:
        problems.append((here[0], code, where, message, False, here[1]))

    clean = column_checks.clean_chunk(ctx, chunk, start, array)
    if clean is not None:
        return clean
    if chunk is None:
        assert array is not None, "a slice comes as its records or as their JSON"
        chunk = schema.raw_list.decode(array)
    anns = _decode(chunk, start, problems, ctx.results)
    plan = ctx.plan
    missing = schema.MISSING
    images_get, cats_get = plan.images.get, plan.cats.get
    known_images, known_cats = plan.known_images, plan.known_cats
    mixed: tuple[int, Any] | None = None
    mixed_count = 0
    results, confidence_field = ctx.results, ctx.confidence_field
    custom_confidence = confidence_field != "score"
    evidence: Counter[Evidence] = Counter()
    attribute_keys: set[tuple[Any, str]] = set()
    unmatched: Counter[Any] = Counter()
    unknown_attributes: Counter[tuple[str, str]] = Counter()
    rows: list[PendingRow] = []
    ids: list[tuple[int, int]] = []
    skipped = 0
    for j, a in enumerate(anns):
        if a is None:
            skipped += 1
            continue
        i = start + j
        mark = len(problems)
        ann_id = a.id
        here[0], here[1] = i, ann_id if type(ann_id) is int or type(ann_id) is str else None
        if type(ann_id) is not int:
            ann_id = numeric_id(ann_id)  # 7.0 and "7" are annotation 7 (the record keeps its form)
        if results:
            key = i + 1
        elif type(ann_id) is int and ID_MIN <= ann_id <= ID_MAX:
            key = ann_id
            ids.append((j, ann_id))
        else:
            key = 0
            if type(ann_id) is int:
                fail("id_range", "id", f"annotation id {short(ann_id)} does not fit in 64 bits.")
            elif ann_id is missing:
                fail("id_missing", "id", "the annotation has no 'id'.")
            else:
                fail("id_type", "id", f"an annotation id must be a whole number, not {ann_id!r}.")
        image_id = whole_id(a.image_id)  # (2299.0 is the JSON number 2299)
        hashable = type(image_id) is int or type(image_id) is str
        img = images_get(image_id) if hashable else None
        if img is None and hashable and (other := other_form(image_id)) in known_images:
            image_id, img = other, images_get(other)  # 2299 for "2299": the same image
            mixed_count += 1
            mixed = mixed or (i, a.image_id)
        if img is None:
            if hashable and image_id in known_images:
                unmatched[image_id] += 1
                skipped += 1
                continue
            fail("image_unknown", "image_id", f"image id {short(image_id)} is not among the file's images.")
            width = height = 1 << 30
        else:
            width, height = img.width, img.height
        cat_id = whole_id(a.category_id)
        hashable = type(cat_id) is int or type(cat_id) is str
        cat = cats_get(cat_id) if hashable else None
        if cat is None and hashable and (other := other_form(cat_id)) in known_cats:
            cat_id, cat = other, cats_get(other)  # 3 for "3": the same category
            mixed_count += 1
            mixed = mixed or (i, a.category_id)
        if cat is None:
            if hashable and (cat_id in known_cats or other_form(cat_id) in known_cats):
                fail("category_unmatched", "category_id", f"category {cat_id} matches no ontology object.")
            else:
                fail(
                    "category_unknown",
                    "category_id",
                    f"category id {short(cat_id)} is not among the file's categories.",
                )
        seg = a.segmentation
        seg_form = segmentation_form(seg)
        good_form = None
        # An RLE can only be checked against a known image's size.
        if (
            seg_form in _POLYGON_FORMS or (seg_form in _RLE_FORMS and img is not None)
        ) and check_segmentation(seg, seg_form or "", width, height, fail, warn):
            good_form = seg_form
        kp = a.keypoints
        good_keypoints = (
            kp is not missing
            and kp is not None
            and kp != []
            and check_keypoints(
                kp, cat.keypoints if cat else None, width, height, fail, warn, results=results
            )
        )
        bbox = a.bbox
        good_bbox = False
        if bbox is not missing and bbox is not None:
            good_bbox = check_bbox(bbox, width, height, fail, warn)
        elif good_form is None and not good_keypoints and not _has_error(problems, mark):
            fail("no_geometry", "bbox", "the annotation has no bbox, segmentation or keypoints.")
        if cat is not None and cat.skeleton and not good_keypoints and not _has_error(problems, mark):
            fail(
                "no_keypoints",
                "keypoints",
                f"object {cat.obj.title!r} is a skeleton; the annotation has no keypoints.",
            )
        iscrowd = a.iscrowd
        if iscrowd is not missing and iscrowd != 0 and iscrowd != 1 and not iscrowd_ok(iscrowd):
            fail("iscrowd_type", "iscrowd", f"iscrowd must be 0, 1, true or false, not {iscrowd!r}.")
        area = a.area
        if area is not missing and area is not None and (type(area) not in _NUMBERS or not finite(area)):
            fail("area_type", "area", f"area must be a number, not {area!r}.")
        confidence = 1.0
        score = a.score if not custom_confidence else _field(chunk[j], confidence_field)
        if score is not missing and score is not None:
            if type(score) not in _NUMBERS or not 0.0 <= score <= 1.0:
                fail(
                    "score_range",
                    confidence_field,
                    f"{confidence_field} must be a number from 0 to 1, not {score!r}.",
                )
            else:
                confidence = float(score)
        elif results:
            fail("score_missing", "score", "a results entry needs a 'score'.")
        track = a.track_id
        if track is not missing and type(track) is not int and type(track) is not str:
            fail("track_id_type", "track_id", f"track_id must be a number or a string, not {track!r}.")
        answers = None
        attributes = a.attributes
        if attributes is not missing and attributes is not None:
            if type(attributes) is not dict:
                fail("attributes_type", "attributes", "attributes must be a JSON object.")
            elif cat is not None and attributes:
                attribute_keys.update((cat_id, str(k)) for k in attributes)
                answers = _answers(cat, attributes, warn, unknown_attributes)
        if len(problems) > mark and _has_error(problems, mark):
            skipped += 1
            continue
        assert img is not None and cat is not None
        evidence[(cat_id, good_form, len(kp) // 3 if good_keypoints else 0, good_bbox)] += 1
        rows.append(
            (
                j,
                key,
                image_id,
                cat_id,
                confidence,
                0 if score is not missing else 1,
                answers,
                None if track is missing else track,
            )
        )
    return ChunkResult(
        start,
        rows,
        None,
        ids,
        problems,
        skipped,
        evidence,
        attribute_keys,
        unmatched,
        unknown_attributes,
        mixed,
        mixed_count,
    )


def _has_error(problems: list[Problem], since: int) -> bool:
    return any(p[4] for p in problems[since:])


def _decode(chunk: list[msgspec.Raw], start: int, problems: list[Problem], results: bool) -> list[Any]:
    try:
        return list(schema.annotations_decoder.decode(join_raw(chunk)))
    except schema.RECORD_ERRORS:
        out: list[Any] = []
        for j, raw in enumerate(chunk):
            try:
                out.append(schema.annotation_decoder.decode(raw))
            except schema.RECORD_ERRORS:
                problems.append(
                    (start + j, "annotation_type", "", "an annotation must be a JSON object.", True, None)
                )
                out.append(None)
        return out


def _field(raw: msgspec.Raw, name: str) -> Any:
    try:
        record = schema.any_decoder.decode(raw)
    except schema.RECORD_ERRORS:  # (in the segmentation: reported there)
        return schema.MISSING
    return record.get(name, schema.MISSING) if isinstance(record, dict) else schema.MISSING


def _answers(
    cat: CategoryTarget, attributes: dict[str, Any], warn: Any, unknown: Counter[tuple[str, str]]
) -> bytes | None:
    answers: dict[str, Any] = {}
    for name, value in attributes.items():
        attribute = cat.attributes.get(name) or cat.attributes.get(fold(str(name)))
        if attribute is None:
            if not (name == "rotation" and cat.obj.shape is Shape.ROTATABLE_BOUNDING_BOX):
                unknown[(cat.obj.title, str(name))] += 1
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
