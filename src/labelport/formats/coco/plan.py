"""The matching plan: which data unit and frame each COCO image goes to, which ontology object each
category becomes, and the data units to create. Made before anything is written, so a dry run can
show it and a real run can act on it. This module holds the plan and its categories half;
:mod:`labelport.formats.coco.images` makes its images half.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from labelport.data import DataUnit
from labelport.formats.coco import schema
from labelport.formats.coco.match import fold, load_mapping, lookup
from labelport.formats.coco.ontology import object_for_category, shape_for
from labelport.formats.coco.read import ParsedCoco
from labelport.formats.coco.validate import category_problem, short, skeleton_out_of_range
from labelport.imports.report import CategoryMatch, ImportReport
from labelport.ontology import Attribute, Object, OntologyStructure, Shape, name_problem
from labelport.stored.ids import id_fits, other_form, whole_id

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
        _plan_result_categories(ontology, mapping, plan)
        return
    records = [_category_record(raw) for raw in parsed.categories]
    # The names the file gives: a category matches an object case-insensitively only when no other
    # category of the file has that object's name (Butterfly and butterfly stay two).
    taken = {c["name"] for c in records if isinstance(c, dict) and isinstance(c.get("name"), str)}
    names: dict[str, tuple[Any, int]] = {}  # name -> (id, index) of the first category so named
    for i, category in enumerate(records):
        path = f"categories[{i}]"
        if not isinstance(category, dict):
            report.error("category_type", path, "a category must be a JSON object.")
            continue
        cat_id = whole_id(category.get("id"))
        refused = _refusal(plan, category, cat_id)
        if refused is not None:
            report.error(refused[0], f"{path}.{refused[1]}", refused[2])
            continue
        name: str = category["name"]
        loose = skeleton_out_of_range(category)
        if loose is not None:
            report.warning("skeleton_out_of_range", f"{path}.{loose[0]}", loose[1])
        plan.known_cats[cat_id] = i
        report.counts.categories += 1
        if name in names:
            first_id, first_at = names[name]
            report.warning(
                "category_same_name",
                f"{path}.name",
                f"categories {first_id} (categories[{first_at}]) and {cat_id} are both named {name!r}: "
                "their annotations go to one object.",
            )
        names.setdefault(name, (cat_id, i))
        method = "mapping"
        obj: Object | None
        if mapping is not None:
            target = lookup(mapping, cat_id, name)
            obj = None if target is None else _object_for(ontology, target)
        else:
            obj, method = _object_by_name(ontology, name, taken)
        if obj is None and categories == "create":
            obj, method = _create_object(ontology, plan, report, cat_id, category, learned), "created"
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


def _refusal(plan: Plan, category: dict[str, Any], cat_id: Any) -> tuple[str, str, str] | None:
    """Why a category cannot be imported, as (code, field, message); None when it can. Its id is a
    whole number of at most 64 bits or a string, as an image's (``1``, ``1.0`` and ``"1"`` are one
    id, used once); its name is a string that is neither blank nor holds a NUL."""
    if not id_fits(cat_id):
        kind = "a whole number of at most 64 bits or a string"
        return "category_id", "id", f"a category id must be {kind}, not {short(cat_id)}."
    first = plan.known_cats.get(cat_id)
    if first is None:
        first = plan.known_cats.get(other_form(cat_id))
    if first is not None:
        return (
            "category_duplicate",
            "id",
            f"category id {cat_id!r} is used again (first at categories[{first}]).",
        )
    name = category.get("name")
    if not isinstance(name, str) or not name:
        return "category_name", "name", "a category needs a non-empty name."
    unusable = name_problem(name)
    if unusable is not None:
        return "category_name", "name", f"a category name {unusable}, not {short(name)}."
    return category_problem(category)


def _plan_result_categories(ontology: OntologyStructure, mapping: dict[Any, Any] | None, plan: Plan) -> None:
    """A results list's category ids: those kept from the ground truth's import, or a mapping's."""
    kept = {o.extra.get("coco", {}).get("id"): o for o in ontology.objects if "coco" in o.extra}
    ids = mapping.keys() if mapping is not None else kept.keys()
    for cat_id in ids:
        key = int(cat_id) if isinstance(cat_id, str) and cat_id.lstrip("-").isdigit() else cat_id
        found = _object_for(ontology, mapping[cat_id]) if mapping is not None else kept[cat_id]
        if found is not None:
            plan.cats[key] = category_target(found)
            plan.known_cats[key] = -1


def _create_object(
    ontology: OntologyStructure,
    plan: Plan,
    report: ImportReport,
    cat_id: Any,
    category: dict[str, Any],
    learned: Learned | None,
) -> Object:
    """The ontology object a category creates: a box for now (see :func:`settle_created`), or the
    shape ``learned`` from a first attempt."""
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
    return obj


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


def _category_record(raw: Any) -> Any:
    try:
        return schema.any_decoder.decode(raw)
    except schema.RECORD_ERRORS:  # (read_coco has checked the bytes: a safety net)
        return None


def _object_by_name(ontology: OntologyStructure, name: str, taken: set[str]) -> tuple[Object | None, str]:
    """The object titled ``name``, else the one titled so but for case and spaces, unless that
    title is one of ``taken`` (the exact name of another category of the file)."""
    exact = [o for o in ontology.objects if o.title == name]
    if len(exact) == 1:
        return exact[0], "exact"
    folded = [o for o in ontology.objects if fold(o.title) == fold(name) and o.title not in taken]
    if len(folded) == 1:
        return folded[0], "case_insensitive"
    return None, "unmatched"
