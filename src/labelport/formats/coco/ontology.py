"""Build an ontology from a COCO file's categories, each object's shape chosen from its annotations.

A category whose annotations carry keypoints (or that names keypoints) becomes a skeleton with the
category's keypoint names and edges; one with polygons a polygon; masks only a bitmask; boxes with
``attributes.rotation`` a rotatable box; otherwise a bounding box. Keys of ``attributes`` become text
attributes. Each object keeps its category (``extra["coco"]``) so an export gives it back.

>>> doc = {"images": [], "annotations": [], "categories": [{"id": 3, "name": "cat"}]}
>>> obj = ontology_from_coco(doc).objects[0]
>>> obj.title, obj.shape.value, obj.extra["coco"]["id"]
('cat', 'bounding_box', 3)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import msgspec

from labelport.errors import CocoError
from labelport.formats.coco import schema
from labelport.formats.coco.read import ParsedCoco, join_raw, read_coco
from labelport.formats.coco.validate import category_problem, short
from labelport.ontology import Attribute, AttributeType, Object, OntologyStructure, Shape, name_problem

CHUNK = 50_000


class _Form(msgspec.Struct):
    """Only what choosing a shape needs; msgspec skips the rest of each annotation unparsed."""

    category_id: Any = None
    segmentation: msgspec.Raw = msgspec.Raw(b"")
    keypoints: msgspec.Raw = msgspec.Raw(b"")
    attributes: Any = None


_forms = msgspec.json.Decoder(list[_Form])
_form = msgspec.json.Decoder(_Form)


def _one_form(raw: msgspec.Raw) -> _Form | None:
    try:
        return _form.decode(raw)
    except schema.RECORD_ERRORS:
        return None


def _segmentation_form(raw: msgspec.Raw) -> str | None:
    head = bytes(memoryview(raw)[:16]).lstrip()
    if head.startswith(b"{"):
        return "rle"
    if head.startswith(b"[") and head[1:].lstrip()[:1] not in (b"]", b""):
        return "polygon"
    return None


def category_shapes(parsed: ParsedCoco) -> tuple[dict[Any, Shape], dict[Any, list[str]], dict[Any, int]]:
    """Per category id: the shape its annotations call for, the attribute keys seen, the keypoint count."""
    forms: dict[Any, Counter[str]] = defaultdict(Counter)
    attribute_keys: dict[Any, dict[str, None]] = defaultdict(dict)
    keypoint_counts: dict[Any, int] = {}
    for start in range(0, len(parsed.annotations), CHUNK):
        chunk = parsed.annotations[start : start + CHUNK]
        try:
            anns = _forms.decode(join_raw(chunk))
        except schema.RECORD_ERRORS:
            # malformed annotations are the importer's to report; shapes come from the rest
            anns = [a for a in map(_one_form, chunk) if a is not None]
        for a in anns:
            counter = forms[a.category_id] if not isinstance(a.category_id, (list, dict)) else Counter()
            if len(a.keypoints) > 2 and bytes(memoryview(a.keypoints)[:1]) == b"[":
                try:
                    values = schema.any_decoder.decode(a.keypoints)
                except schema.RECORD_ERRORS:  # (a number out of range...: the importer reports it)
                    values = None
                if values:
                    counter["keypoints"] += 1
                    keypoint_counts.setdefault(a.category_id, len(values) // 3)
            form = _segmentation_form(a.segmentation) if len(a.segmentation) else None
            if form is not None:
                counter[form] += 1
            if isinstance(a.attributes, dict):
                if "rotation" in a.attributes:
                    counter["rotation"] += 1
                for key in a.attributes:
                    attribute_keys[a.category_id].setdefault(str(key), None)
            counter["any"] += 1
    shapes = {cat_id: shape_for(counter) for cat_id, counter in forms.items()}
    return shapes, {k: list(v) for k, v in attribute_keys.items()}, keypoint_counts


def shape_for(forms: Counter[str]) -> Shape:
    """The shape a category's annotations call for, from how many carried each form of geometry
    (``keypoints``, ``polygon``, ``rle``, ``rotation``): the richest one any of them has.

    >>> shape_for(Counter({"polygon": 3, "rle": 1})).value
    'polygon'
    """
    if forms["keypoints"]:
        return Shape.SKELETON
    if forms["polygon"]:
        return Shape.POLYGON
    if forms["rle"]:
        return Shape.BITMASK
    if forms["rotation"]:
        return Shape.ROTATABLE_BOUNDING_BOX
    return Shape.BOUNDING_BOX


def object_for_category(
    category: dict[str, Any], shape: Shape, attribute_keys: list[str], keypoint_count: int | None
) -> Object:
    """The ontology object for one COCO category."""
    given = category.get("keypoints")
    names: list[str] = []
    if shape is Shape.SKELETON or (isinstance(given, list) and given):
        shape = Shape.SKELETON
        names = [str(n) for n in given] if isinstance(given, list) else []
        if not names:
            edges = category.get("skeleton") or []
            count = keypoint_count or max((max(e) for e in edges if isinstance(e, list) and e), default=0)
            names = [str(i) for i in range(1, count + 1)]
    skeleton = [
        (int(a), int(b))
        for a, b in (category.get("skeleton") or [])
        if isinstance(a, int) and isinstance(b, int)
    ]
    # "" cannot name an attribute: its answers stay in the source records, as unknown ones do
    skip = {"rotation", ""} if shape is Shape.ROTATABLE_BOUNDING_BOX else {""}
    return Object(
        title=str(category["name"]),
        shape=shape,
        attributes=[Attribute(name=k, type=AttributeType.TEXT) for k in attribute_keys if k not in skip],
        keypoints=names if shape is Shape.SKELETON else [],
        skeleton=skeleton if shape is Shape.SKELETON else [],
        color=str(category.get("color") or ""),
        extra={"coco": category},
    )


def ontology_from_coco(source: Any) -> OntologyStructure:
    """An ontology with one object per category of a COCO file (path, bytes or dict)."""
    parsed = source if isinstance(source, ParsedCoco) else read_coco(source)
    if parsed.kind == "results":
        raise CocoError(
            "a COCO results list has no categories; build the ontology from the ground-truth file."
        )
    shapes, attribute_keys, keypoint_counts = category_shapes(parsed)
    objects = []
    seen: set[str] = set()
    for i, raw in enumerate(parsed.categories):
        try:
            category = schema.any_decoder.decode(raw)
        except schema.RECORD_ERRORS:  # (read_coco has checked the bytes: a safety net)
            category = None
        if (
            not isinstance(category, dict)
            or not isinstance(category.get("name"), str)
            or not category["name"]
        ):
            raise CocoError("a category needs a non-empty 'name'.", path=f"categories[{i}]")
        unusable = name_problem(category["name"])
        if unusable is not None:
            raise CocoError(
                f"a category name {unusable}, not {short(category['name'])}.", path=f"categories[{i}].name"
            )
        problem = category_problem(category)
        if problem is not None:
            raise CocoError(problem[2], path=f"categories[{i}].{problem[1]}")
        if category["name"] in seen:
            continue  # one object for both: an import says so (category_same_name)
        seen.add(category["name"])
        cat_id = category.get("id")
        objects.append(
            object_for_category(
                category,
                shapes.get(cat_id, Shape.BOUNDING_BOX),
                attribute_keys.get(cat_id, []),
                keypoint_counts.get(cat_id),
            )
        )
    return OntologyStructure(objects=objects)
