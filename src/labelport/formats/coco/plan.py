"""The matching plan: which data unit and frame each COCO image goes to, which ontology object each
category becomes, and the data units to create. Made before anything is written, so a dry run can
show it and a real run can act on it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from labelport.data import DataType, DataUnit, Member
from labelport.formats.coco import schema
from labelport.formats.coco.match import (
    UnitIndex,
    fold,
    frame_number,
    id_fits,
    load_mapping,
    lookup,
    mapped_target,
    other_form,
)
from labelport.formats.coco.ontology import object_for_category, shape_for
from labelport.formats.coco.read import ParsedCoco, join_raw
from labelport.formats.coco.validate import MAX_SIDE, category_problem, image_problem, short
from labelport.hashing import new_uuids
from labelport.imports.report import CategoryMatch, ImageMatch, ImportReport
from labelport.ontology import Attribute, Object, OntologyStructure, Shape
from labelport.words import plural

EXAMPLES = 5


@dataclass
class CategoryTarget:
    obj: Object
    attributes: dict[str, Attribute]
    keypoints: int | None
    feature_hash: str = ""
    skeleton: bool = False

    def __post_init__(self) -> None:
        self.feature_hash = self.obj.feature_node_hash
        self.skeleton = self.obj.shape is Shape.SKELETON


@dataclass(slots=True)
class ImageTarget:
    """Where one COCO image's annotations go. Holds the data unit's hash, not the unit: at train
    scale the 120k units created by an import can then be freed once they are stored."""

    data_hash: str
    frame: int
    width: int
    height: int
    row_id: int = 0


@dataclass
class Plan:
    """What matching decided, before anything is written."""

    images: dict[Any, ImageTarget] = field(default_factory=dict)
    known_images: dict[Any, int] = field(default_factory=dict)
    image_names: dict[Any, Any] = field(default_factory=dict)
    unmatched: dict[Any, int] = field(default_factory=dict)
    new_units: list[DataUnit] = field(default_factory=list)
    unit_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    cats: dict[Any, CategoryTarget] = field(default_factory=dict)
    known_cats: dict[Any, int] = field(default_factory=dict)
    ontology_changed: bool = False
    unmatched_counts: Counter[Any] = field(default_factory=Counter)
    #: categories whose objects this import creates, by id: their shapes wait for the annotations
    created: dict[Any, dict[str, Any]] = field(default_factory=dict)
    #: (data hash, frame) -> the index of the image that landed there first
    landed: dict[tuple[str, int], int] = field(default_factory=dict)
    #: images not imported because another one landed on their data unit's frame first: why
    shared: dict[Any, str] = field(default_factory=dict)
    #: an image id that is a string has been seen (from then on, ids are looked up both ways)
    string_ids: bool = False


#: What a first attempt learned of the created categories: per category id, the shape, the
#: attribute keys and the keypoint count (as :func:`~labelport.formats.coco.ontology.category_shapes`).
Learned = tuple[dict[Any, Shape], dict[Any, list[str]], dict[Any, int]]


class ShapesLearned(Exception):
    """The pass found that a created object's shape or attributes change how its annotations are
    read (answers to attributes, keypoints a skeleton requires): the import runs again knowing them."""

    def __init__(self, learned: Learned) -> None:
        super().__init__("created categories need a second pass")
        self.learned = learned


# -- categories ----------------------------------------------------------------------------------


def plan_categories(
    parsed: ParsedCoco,
    ontology: OntologyStructure,
    categories: Any,
    plan: Plan,
    report: ImportReport,
    learned: Learned | None = None,
) -> None:
    """Match each category to an ontology object, or create one (``categories="create"``).

    A created object's shape is chosen from its annotations, which only the pass over them sees:
    it starts as a bounding box (a skeleton when the category names keypoints) and
    :func:`settle_created` fixes it afterwards, or, given ``learned`` from a first attempt, it is
    made with its final shape at once.
    """
    mapping = None if categories in ("by-name", "create") else load_mapping(categories, "category")
    if parsed.kind == "results":
        kept = {o.extra.get("coco", {}).get("id"): o for o in ontology.objects if "coco" in o.extra}
        ids = mapping.keys() if mapping is not None else kept.keys()
        for cat_id in ids:
            key = int(cat_id) if isinstance(cat_id, str) and cat_id.lstrip("-").isdigit() else cat_id
            found = _object_for(ontology, mapping[cat_id]) if mapping is not None else kept[cat_id]
            if found is not None:
                plan.cats[key] = category_target(found)
                plan.known_cats[key] = -1
        return
    for i, raw in enumerate(parsed.categories):
        path = f"categories[{i}]"
        try:
            category = schema.any_decoder.decode(raw)
        except schema.RECORD_ERRORS:  # (read_coco has checked the bytes: a safety net)
            category = None
        if not isinstance(category, dict):
            report.error("category_type", path, "a category must be a JSON object.")
            continue
        cat_id, name = category.get("id"), category.get("name")
        if type(cat_id) is not int or not id_fits(cat_id):
            report.error(
                "category_id",
                f"{path}.id",
                f"a category id must be a whole number of at most 64 bits, not {short(cat_id)}.",
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
        problem = category_problem(category)
        if problem is not None:
            report.error(problem[0], f"{path}.{problem[1]}", problem[2])
            continue
        plan.known_cats[cat_id] = i
        report.counts.categories += 1
        method = "mapping"
        obj: Object | None
        if mapping is not None:
            target = lookup(mapping, cat_id, name)
            obj = None if target is None else _object_for(ontology, target)
        else:
            obj, method = _object_by_name(ontology, name)
        if obj is None and categories == "create":
            shapes, attribute_keys, kp_counts = learned or ({}, {}, {})
            obj = object_for_category(
                category,
                shapes.get(cat_id, Shape.BOUNDING_BOX),
                attribute_keys.get(cat_id, []),
                kp_counts.get(cat_id),
            )
            if learned is None:
                plan.created[cat_id] = category
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
        plan.cats[cat_id] = category_target(obj)


def settle_created(
    plan: Plan, evidence: Counter[tuple[Any, str | None, int, bool]], attribute_keys: set[tuple[Any, str]]
) -> None:
    """Give each object this import created the shape its imported annotations call for.

    ``evidence`` counts (category id, segmentation form, keypoint count, bbox usable) over the
    annotations imported; ``attribute_keys`` holds (category id, key) of their attributes. Raises
    :class:`ShapesLearned` when reading the annotations depends on what was learned (attributes to
    answer; a skeleton that some annotations lack keypoints for, or with differing keypoint counts).
    """
    if not plan.created:
        return
    forms: dict[Any, Counter[str]] = defaultdict(Counter)
    keypoint_counts: dict[Any, dict[int, None]] = defaultdict(dict)
    for (cat_id, form, keypoints, _bbox), n in evidence.items():
        if cat_id in plan.created:
            if form is not None:
                forms[cat_id]["rle" if form in ("rle", "rle_compressed") else "polygon"] += n
            if keypoints:
                forms[cat_id]["keypoints"] += n
                keypoint_counts[cat_id][keypoints] = None
            else:
                forms[cat_id]["no_keypoints"] += n
    keys: dict[Any, list[str]] = defaultdict(list)
    for cat_id, key in sorted(attribute_keys, key=lambda k: (str(k[0]), k[1])):
        if cat_id in plan.created and key:  # ("" names no attribute: see object_for_category)
            keys[cat_id].append(key)
            if key == "rotation":
                forms[cat_id]["rotation"] += 1
    shapes = {cat_id: shape_for(forms[cat_id]) for cat_id in plan.created}
    counts = {cat_id: next(iter(found)) for cat_id, found in keypoint_counts.items()}  # the first seen
    again = False
    for cat_id, category in plan.created.items():
        target = plan.cats[cat_id]
        shape = shapes[cat_id]
        if target.skeleton:
            continue  # named keypoints: a skeleton from the start, checked as one
        if shape is Shape.SKELETON and (forms[cat_id]["no_keypoints"] or len(keypoint_counts[cat_id]) > 1):
            again = True
        if any(k != "rotation" or shape is not Shape.ROTATABLE_BOUNDING_BOX for k in keys[cat_id]):
            again = True
        final = object_for_category(category, shape, keys[cat_id], counts.get(cat_id))
        target.obj.shape, target.obj.keypoints = final.shape, final.keypoints
        target.obj.skeleton, target.obj.attributes = final.skeleton, final.attributes
    if again:
        raise ShapesLearned((shapes, dict(keys), counts))


def category_target(obj: Object) -> CategoryTarget:
    return CategoryTarget(
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


def plan_images(
    parsed: ParsedCoco, units: list[DataUnit], match: Any, create: bool, plan: Plan, report: ImportReport
) -> None:
    by_hash = {u.data_hash: u for u in units}
    if parsed.kind == "results":
        for unit in units:
            for frame, image in unit.extra.get("coco_images", {}).items():
                plan.images[image.get("id")] = ImageTarget(
                    unit.data_hash, int(frame), *unit.frame_size(int(frame))
                )
                plan.known_images[image.get("id")] = -1
        if not isinstance(match, str):
            for image_id, target in load_mapping(match, "image").items():
                mapped, frame = mapped_target(by_hash, target)
                if mapped is not None:
                    key = int(image_id) if isinstance(image_id, str) and image_id.isdigit() else image_id
                    plan.images[key] = ImageTarget(mapped.data_hash, frame, *mapped.frame_size(frame))
                    plan.known_images[key] = -1
        return
    mapping = None if match == "auto" else load_mapping(match, "image")
    index = UnitIndex(units) if mapping is None else None
    # Each image is kept as its raw record (a slice of the file, written back verbatim); matching
    # reads only the typed fields it needs. At train scale (120k images) full dicts cost ~200 MB.
    creating: dict[tuple[str, str], list[tuple[int, schema.Image, msgspec.Raw]]] = defaultdict(list)
    no_units = index is not None and not units  # a new project: nothing to match, skip the work
    for i, (raw, typed) in enumerate(zip(parsed.images, _typed_images(parsed.images), strict=True)):
        path = f"images[{i}]"
        if typed is None:
            report.error("image_type", path, "an image must be a JSON object.")
            continue
        if not _register(plan, report, i, typed):
            continue
        image_id = typed.id
        width, height = typed.width, typed.height
        file_name = None if typed.file_name is schema.MISSING else typed.file_name
        plain = (
            type(width) is int and type(height) is int and 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE
        )
        problem = None if plain and type(file_name) is str else image_problem(typed)
        if problem is not None:
            report.error(problem[0], f"{path}.{problem[1]}", problem[2])
            plan.unmatched[image_id] = i
            continue
        sized = type(width) is int and type(height) is int
        if mapping is not None:
            target = lookup(mapping, image_id, file_name)
            mapped, frame = mapped_target(by_hash, target) if target is not None else (None, 0)
            method, found = ("mapping", [(mapped, frame)]) if mapped is not None else ("unmatched", [])
        elif no_units:
            method, found = "unmatched", []
        else:
            assert index is not None
            method, found = index.match(typed.fields())
        if len(found) > 1:
            report.counts.images_ambiguous += 1
            plan.unmatched[image_id] = i
            if len(report.ambiguous_images) < 1000:
                report.ambiguous_images.append(
                    ImageMatch(
                        image_id,
                        str(file_name),
                        method,
                        candidates=[f"{u.title}#{f}" for u, f in found],
                    )
                )
            continue
        if not found:
            if create and sized:
                video, group = typed.video_title, typed.data_title
                key = (
                    ("video", video)
                    if isinstance(video, str)
                    else ("group", group)
                    if isinstance(group, str)
                    else ("image", file_name or "")
                )
                if key[1]:
                    creating[key].append((i, typed, raw))
                    continue
                report.error(
                    "image_file_name",
                    f"{path}.file_name",
                    "the image matches no data unit, and a new one needs a file name to be created from.",
                )
                plan.unmatched[image_id] = i
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
                f"frame {frame} is beyond {unit.data_type.value} {unit.title!r}, which has {plural(unit.frames, 'frame')}.",
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
        elif not sized:
            report.warning(
                "image_size_missing",
                path,
                f"the image gives no width or height; the size of data unit {unit.title!r} ({uw}x{uh}) is used.",
            )
        if not _lands(plan, i, image_id, unit, frame):
            continue
        _matched(
            plan,
            report,
            image_id,
            file_name,
            raw,
            unit,
            frame,
            method,
            (width, height) if sized else (uw, uh),
        )
    hashes = iter(new_uuids(sum(len(m) if kind == "image" else 1 for (kind, _), m in creating.items())))
    for (kind, title), members in creating.items():
        _create_unit(plan, report, kind, title, members, hashes)
    report.counts.images_unmatched = len(plan.unmatched) - report.counts.images_ambiguous


def _register(plan: Plan, report: ImportReport, i: int, typed: schema.Image) -> bool:
    """Count image ``i`` in, by its id; False (an error) when the id is no good or used before.

    The id written the other way (``"2299"`` for ``2299``) is the same id: only strings need
    that look-up until the first string id is seen.
    """
    image_id, path = typed.id, f"images[{i}]"
    if not id_fits(image_id):
        kind = "a number of at most 64 bits" if type(image_id) is int else "a number or a string"
        shown = None if image_id is schema.MISSING else image_id
        report.error("image_id", f"{path}.id", f"an image id must be {kind}, not {short(shown)}.")
        return False
    first = plan.known_images.get(image_id)
    if first is None and (plan.string_ids or type(image_id) is str):
        plan.string_ids = True
        first = plan.known_images.get(other_form(image_id))
    if first is not None:
        report.error(
            "image_duplicate",
            f"{path}.id",
            f"image id {image_id!r} is used again (first at images[{first}]).",
        )
        return False
    plan.known_images[image_id] = i
    report.counts.images += 1
    plan.image_names[image_id] = None if typed.file_name is schema.MISSING else typed.file_name
    return True


def _typed_images(raws: list[msgspec.Raw]) -> list[schema.Image | None]:
    try:
        return list(schema.images_decoder.decode(join_raw(raws)))
    except schema.RECORD_ERRORS:
        out: list[schema.Image | None] = []
        for raw in raws:
            try:
                out.append(msgspec.json.decode(raw, type=schema.Image))
            except schema.RECORD_ERRORS:
                out.append(None)
        return out


def _lands(plan: Plan, i: int, image_id: Any, unit: DataUnit, frame: int) -> bool:
    """Record that image ``i`` lands on this data unit's frame; False when another image did (it
    is then not imported: :func:`image_problems` says why, as for an image that matched nothing)."""
    first = plan.landed.setdefault((unit.data_hash, frame), i)
    if first == i:
        return True
    at = f" frame {frame}" if unit.frames > 1 else ""
    plan.shared[image_id] = f"lands on data unit {unit.title!r}{at}, as images[{first}] does"
    plan.unmatched[image_id] = i
    return False


def _matched(
    plan: Plan,
    report: ImportReport,
    image_id: Any,
    file_name: Any,
    raw: msgspec.Raw,
    unit: DataUnit,
    frame: int,
    method: str,
    size: tuple[int, int],
) -> None:
    plan.images[image_id] = ImageTarget(unit.data_hash, frame, size[0], size[1])
    report.counts.images_matched += 1
    report.image_matches[method] = report.image_matches.get(method, 0) + 1
    if len(report.matched_examples) < EXAMPLES:
        report.matched_examples.append(ImageMatch(image_id, str(file_name), method, unit.data_hash, frame))
    kept = unit.extra.setdefault("coco_images", {})
    if str(frame) not in kept:
        kept[str(frame)] = raw  # the record as the file wrote it
        if method != "created":
            plan.unit_extras[unit.data_hash] = unit.extra


Member_ = tuple[int, dict[str, Any], msgspec.Raw]


def _create_unit(
    plan: Plan,
    report: ImportReport,
    kind: str,
    title: str,
    typed: list[tuple[int, schema.Image, msgspec.Raw]],
    hashes: Iterator[str],
) -> None:
    if kind == "image":
        # the same file name twice: one unit each, the second on told apart by image id
        for n, (_i, image, raw) in enumerate(typed):
            unit = DataUnit(
                title if n == 0 else f"{title}#{image.id}",
                DataType.IMAGE,
                image.width,
                image.height,
                location=title,
                data_hash=next(hashes),
            )
            plan.new_units.append(unit)
            report.counts.data_units_created += 1
            name = None if image.file_name is schema.MISSING else image.file_name
            _matched(plan, report, image.id, name, raw, unit, 0, "created", (unit.width, unit.height))
        return
    members = [(i, image.fields(), raw) for i, image, raw in typed]
    first = members[0][1]
    units: list[tuple[DataUnit, int, Member_]]
    if kind == "video":
        frames = [frame_number(m[1]) or 0 for m in members]
        unit = DataUnit.video(title, width=first["width"], height=first["height"], frames=max(frames) + 1)
        unit.data_hash = next(hashes)
        units = [(unit, f, m) for f, m in zip(frames, members, strict=True)]
    else:
        ordered = sorted(members, key=lambda m: frame_number(m[1]) or 0)
        unit = DataUnit.group(
            title,
            [
                Member(
                    str(m[1].get("image_title") or m[1].get("file_name") or m[0]),
                    m[1]["width"],
                    m[1]["height"],
                )
                for m in ordered
            ],
            DataType(str(first.get("data_type")))
            if first.get("data_type") in ("img_group", "img_sequence", "dicom")
            else DataType.IMG_GROUP,
        )
        unit.data_hash = next(hashes)
        units = [(unit, n, m) for n, m in enumerate(ordered)]
    seen: set[str] = set()
    for unit, frame, (i, member, raw) in units:
        if unit.data_hash not in seen:
            seen.add(unit.data_hash)
            plan.new_units.append(unit)
            report.counts.data_units_created += 1
        if not _lands(plan, i, member["id"], unit, frame):
            continue  # (two images of one new video at the same frame)
        size = (member["width"], member["height"])
        _matched(plan, report, member["id"], member.get("file_name"), raw, unit, frame, "created", size)


def image_problems(parsed: ParsedCoco, plan: Plan, report: ImportReport) -> None:
    """One problem per image that matched no data unit: an error when annotations needed it."""
    # An image already reported at its own path (frame out of range, no size) is not reported twice.
    reported = {p.path.split(".", 1)[0] for p in report.errors}
    for image_id, i in plan.unmatched.items():
        if f"images[{i}]" in reported:
            continue
        count = plan.unmatched_counts.get(image_id, 0)
        name = plan.image_names.get(image_id)
        if image_id in plan.shared:
            # an export could give back only one of the two: the second is not imported
            fix = "give each image its own data unit, or map them with --match"
            (report.error if count else report.warning)(
                "image_shared_unit",
                f"images[{i}]",
                f"image {image_id!r} ({name!r}) {plan.shared[image_id]}; "
                + (
                    f"its {plural(count, 'annotation')} were not imported ({fix})."
                    if count
                    else f"it has no annotations ({fix})."
                ),
            )
            continue
        ambiguous = any(m.image_id == image_id for m in report.ambiguous_images)
        why = "matches more than one data unit" if ambiguous else "matches no data unit"
        fix = (
            "--match MAP.json chooses one (match= in Python)"
            if ambiguous
            else "--create-missing makes a data unit for it (create_missing_data_units=True in Python)"
        )
        if count:
            were = "annotation was" if count == 1 else "annotations were"
            report.error(
                "image_ambiguous" if ambiguous else "image_unmatched",
                f"images[{i}]",
                f"image {image_id} ({name!r}) {why}; its {count:,} {were} not imported; {fix}.",
            )
        else:
            report.warning(
                "image_ambiguous" if ambiguous else "image_unmatched",
                f"images[{i}]",
                f"image {image_id} ({name!r}) {why}; it has no annotations.",
            )
        if not ambiguous and len(report.unmatched_images) < 1000:
            report.unmatched_images.append(ImageMatch(image_id, str(name), "unmatched"))
