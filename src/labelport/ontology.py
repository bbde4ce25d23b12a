"""Ontologies: the objects (each with one shape), their attributes, and frame-level classifications.

An ontology is plain data: build it in code or from the platform's JSON form.

>>> person = Object(title="person", shape=Shape.BOUNDING_BOX)
>>> ontology = OntologyStructure(objects=[person])
>>> ontology.get_child_by_title("person") is person
True
>>> OntologyStructure.from_dict(ontology.to_dict()).objects[0].feature_node_hash == person.feature_node_hash
True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from labelport.errors import OntologyError
from labelport.hashing import new_feature_hash


class Shape(StrEnum):
    """The geometry an ontology object's instances carry."""

    BOUNDING_BOX = "bounding_box"
    ROTATABLE_BOUNDING_BOX = "rotatable_bounding_box"
    POLYGON = "polygon"
    POLYLINE = "polyline"
    POINT = "point"
    SKELETON = "skeleton"
    BITMASK = "bitmask"


class AttributeType(StrEnum):
    """The kinds of attribute a node can carry."""

    RADIO = "radio"
    CHECKLIST = "checklist"
    TEXT = "text"


@dataclass(eq=False)
class Option:
    """One choice of a radio or checklist attribute; radio options may nest further attributes."""

    label: str
    value: str = ""
    feature_node_hash: str = field(default_factory=new_feature_hash)
    attributes: list[Attribute] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.value:
            self.value = self.label.strip().lower().replace(" ", "_")

    @property
    def title(self) -> str:
        return self.label


@dataclass(eq=False)
class Attribute:
    """A question asked of an object or frame: radio (one option), checklist (several) or text."""

    name: str
    type: AttributeType
    options: list[Option] = field(default_factory=list)
    required: bool = False
    dynamic: bool = False
    feature_node_hash: str = field(default_factory=new_feature_hash)

    @property
    def title(self) -> str:
        return self.name

    def option(self, label: str) -> Option:
        """The option with this label (exact, then case- and space-insensitive)."""
        found: Option = _one(self.options, label, lambda o: o.label, f"option of attribute {self.name!r}")
        return found


@dataclass(eq=False)
class Object:
    """An ontology object: a title, one shape, nested attributes.

    Skeleton objects name their keypoints and the edges between them (1-based pairs, as COCO writes).
    ``extra`` keeps what a source format said of the node (e.g. a COCO category's id and
    supercategory) so that an export can give it back.
    """

    title: str
    shape: Shape
    feature_node_hash: str = field(default_factory=new_feature_hash)
    attributes: list[Attribute] = field(default_factory=list)
    keypoints: list[str] = field(default_factory=list)
    skeleton: list[tuple[int, int]] = field(default_factory=list)
    color: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.title


@dataclass(eq=False)
class Classification:
    """A frame-level classification: one top-level attribute answered per frame."""

    attribute: Attribute
    feature_node_hash: str = field(default_factory=new_feature_hash)

    @property
    def title(self) -> str:
        return self.attribute.name


Node = Object | Classification | Attribute | Option


@dataclass(eq=False)
class OntologyStructure:
    """The ontology of a project: its objects and classifications."""

    objects: list[Object] = field(default_factory=list)
    classifications: list[Classification] = field(default_factory=list)

    # -- lookups ---------------------------------------------------------------------------------

    def walk(self) -> Iterator[Node]:
        """Every node, depth first: objects, their attributes and options, then classifications."""

        def attrs(attributes: list[Attribute]) -> Iterator[Node]:
            for attribute in attributes:
                yield attribute
                for option in attribute.options:
                    yield option
                    yield from attrs(option.attributes)

        for obj in self.objects:
            yield obj
            yield from attrs(obj.attributes)
        for classification in self.classifications:
            yield classification
            yield from attrs([classification.attribute])

    def get_child_by_title(self, title: str, type_: type | None = None) -> Any:
        """The one node titled ``title`` (of class ``type_`` when given).

        Raises :class:`OntologyError` when there is none or more than one.

        >>> OntologyStructure().get_child_by_title("cat")
        Traceback (most recent call last):
        labelport.errors.OntologyError: No ontology node titled 'cat'.
        """
        found = [n for n in self.walk() if n.title == title and (type_ is None or isinstance(n, type_))]
        if not found:
            raise OntologyError(f"No ontology node titled {title!r}.")
        if len(found) > 1:
            raise OntologyError(f"{len(found)} ontology nodes are titled {title!r}; pass type_ to choose.")
        return found[0]

    def get_child_by_hash(self, feature_node_hash: str, type_: type | None = None) -> Any:
        """The node with this feature hash; :class:`OntologyError` when there is none."""
        for node in self.walk():
            if node.feature_node_hash == feature_node_hash and (type_ is None or isinstance(node, type_)):
                return node
        raise OntologyError(f"No ontology node with feature hash {feature_node_hash!r}.")

    def object_by_hash(self) -> dict[str, Object]:
        """Objects keyed by feature hash."""
        return {o.feature_node_hash: o for o in self.objects}

    def add_object(self, title: str, shape: Shape | str, **kwargs: Any) -> Object:
        """Add and return a new object."""
        obj = Object(title=title, shape=Shape(shape), **kwargs)
        self.objects.append(obj)
        return obj

    # -- JSON form -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The platform's JSON form (camelCase keys, as the brief's SDK writes)."""
        return {
            "objects": [_object_to_dict(i, o) for i, o in enumerate(self.objects, 1)],
            "classifications": [
                {
                    "id": str(i),
                    "featureNodeHash": c.feature_node_hash,
                    "attributes": [_attribute_to_dict(c.attribute)],
                }
                for i, c in enumerate(self.classifications, 1)
            ],
        }

    @classmethod
    def from_dict(cls, data: Any) -> OntologyStructure:
        """Read the JSON form; :class:`OntologyError` with a JSON path on anything malformed."""
        if not isinstance(data, dict):
            raise OntologyError(
                'the file must hold one JSON object, {"objects": [...], "classifications": [...]}, '
                f"not {_json_kind(data)} (see docs/ontology.md).",
                path="$",
            )
        objects = [_object_from_dict(o, f"objects[{i}]") for i, o in enumerate(_list(data, "objects", "$"))]
        classifications = []
        for i, c in enumerate(_list(data, "classifications", "$")):
            path = f"classifications[{i}]"
            if not isinstance(c, dict):
                raise OntologyError("a classification must be an object.", path=path)
            attributes = _list(c, "attributes", path)
            if len(attributes) != 1:
                raise OntologyError("a classification must have exactly one attribute.", path=path)
            classifications.append(
                Classification(
                    attribute=_attribute_from_dict(attributes[0], f"{path}.attributes[0]"),
                    feature_node_hash=_hash(c, path),
                )
            )
        structure = cls(objects=objects, classifications=classifications)
        seen: dict[str, str] = {}
        for node in structure.walk():
            if node.feature_node_hash in seen:
                raise OntologyError(
                    f"feature hash {node.feature_node_hash!r} is used by both {seen[node.feature_node_hash]!r} "
                    f"and {node.title!r}.",
                    path="$",
                )
            seen[node.feature_node_hash] = node.title
        return structure


def _one(items: list[Any], title: str, key: Any, what: str) -> Any:
    exact = [i for i in items if key(i) == title]
    if len(exact) == 1:
        return exact[0]
    folded = [i for i in items if _fold(key(i)) == _fold(title)]
    if len(folded) == 1 and not exact:
        return folded[0]
    if not exact and not folded:
        raise OntologyError(f"No {what} titled {title!r}.")
    raise OntologyError(f"More than one {what} is titled {title!r}.")


def _fold(text: str) -> str:
    """Case- and space-insensitive form of a title."""
    return "".join(text.split()).casefold()


def _json_kind(value: Any) -> str:
    """What a JSON value is, for messages: 'a list', 'a string'..."""
    names = {list: "a list", str: "a string", bool: "true or false", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), "an object")


def _list(data: dict[str, Any], key: str, path: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        where = "the file's" if path == "$" else "its"
        raise OntologyError(f"{where} '{key}' must be a list, not {_json_kind(value)}.", path=path)
    return value


def _hash(data: dict[str, Any], path: str) -> str:
    value = data.get("featureNodeHash") or data.get("feature_node_hash") or new_feature_hash()
    if not isinstance(value, str):
        raise OntologyError("'featureNodeHash' must be a string.", path=path)
    return value


def _title(data: dict[str, Any], path: str, *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            problem = name_problem(value)
            if problem is not None:
                raise OntologyError(f"'{key}' {problem}.", path=path)
            return value
    raise OntologyError(f"'{keys[0]}' must be a non-empty string.", path=path)


def name_problem(name: str) -> str | None:
    """What makes a name (of an object, attribute, option or classification) unusable, or None: only
    spaces (garbage that no one can tell apart or type), or a NUL character (PostgreSQL's text
    cannot hold one, so neither store takes it).

    >>> name_problem("cat"), name_problem("   "), name_problem("c\\x00t")
    (None, 'must not be blank', 'must not contain a NUL character (\\\\x00)')
    """
    if not name.strip():
        return "must not be blank"
    if "\x00" in name:
        return "must not contain a NUL character (\\x00)"
    return None


def _object_to_dict(index: int, obj: Object) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(index),
        "name": obj.title,
        "color": obj.color,
        "shape": obj.shape.value,
        "featureNodeHash": obj.feature_node_hash,
        "attributes": [_attribute_to_dict(a) for a in obj.attributes],
    }
    if obj.shape is Shape.SKELETON:
        data["keypoints"] = list(obj.keypoints)
        data["skeleton"] = [list(edge) for edge in obj.skeleton]
    if obj.extra:
        data["extra"] = obj.extra
    return data


def _object_from_dict(data: Any, path: str) -> Object:
    if not isinstance(data, dict):
        raise OntologyError("an object must be a JSON object.", path=path)
    shape_name = data.get("shape")
    try:
        shape = Shape(str(shape_name))
    except ValueError:
        names = ", ".join(s.value for s in Shape)
        raise OntologyError(
            ("'shape' is missing" if shape_name is None else f"unknown shape {shape_name!r}")
            + f"; expected one of {names}.",
            path=f"{path}.shape",
        ) from None
    keypoints = data.get("keypoints", [])
    if not isinstance(keypoints, list) or not all(isinstance(k, str) for k in keypoints):
        raise OntologyError("'keypoints' must be a list of names.", path=f"{path}.keypoints")
    edges = data.get("skeleton", [])
    if not isinstance(edges, list) or not all(
        isinstance(e, list) and len(e) == 2 and all(isinstance(v, int) for v in e) for e in edges
    ):
        raise OntologyError("'skeleton' must be a list of [a, b] keypoint numbers.", path=f"{path}.skeleton")
    extra = data.get("extra", {})
    if not isinstance(extra, dict):
        raise OntologyError("'extra' must be an object.", path=f"{path}.extra")
    return Object(
        title=_title(data, path, "name", "title"),
        shape=shape,
        feature_node_hash=_hash(data, path),
        attributes=[
            _attribute_from_dict(a, f"{path}.attributes[{i}]")
            for i, a in enumerate(_list(data, "attributes", path))
        ],
        keypoints=list(keypoints),
        skeleton=[(e[0], e[1]) for e in edges],
        color=str(data.get("color", "")),
        extra=extra,
    )


def _attribute_to_dict(attribute: Attribute) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": attribute.name,
        "type": attribute.type.value,
        "featureNodeHash": attribute.feature_node_hash,
        "required": attribute.required,
        "dynamic": attribute.dynamic,
    }
    if attribute.type is not AttributeType.TEXT:
        data["options"] = [
            {
                "label": o.label,
                "value": o.value,
                "featureNodeHash": o.feature_node_hash,
                "options": [_attribute_to_dict(a) for a in o.attributes],
            }
            for o in attribute.options
        ]
    return data


def _attribute_from_dict(data: Any, path: str) -> Attribute:
    if not isinstance(data, dict):
        raise OntologyError("an attribute must be a JSON object.", path=path)
    try:
        kind = AttributeType(str(data.get("type")))
    except ValueError:
        names = ", ".join(t.value for t in AttributeType)
        raise OntologyError(
            f"unknown attribute type {data.get('type')!r}; expected one of {names}.", path=f"{path}.type"
        ) from None
    options = []
    for i, o in enumerate(_list(data, "options", path)):
        opath = f"{path}.options[{i}]"
        if not isinstance(o, dict):
            raise OntologyError("an option must be a JSON object.", path=opath)
        options.append(
            Option(
                label=_title(o, opath, "label", "name"),
                value=str(o.get("value", "")),
                feature_node_hash=_hash(o, opath),
                attributes=[
                    _attribute_from_dict(a, f"{opath}.options[{j}]")
                    for j, a in enumerate(_list(o, "options", opath))
                ],
            )
        )
    return Attribute(
        name=_title(data, path, "name", "title"),
        type=kind,
        options=options,
        required=bool(data.get("required", False)),
        dynamic=bool(data.get("dynamic", False)),
        feature_node_hash=_hash(data, path),
    )
