"""Ontologies: lookups by title, the platform JSON form both ways, and errors that name a JSON path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from labelport import (
    Attribute,
    AttributeType,
    Classification,
    Object,
    OntologyError,
    OntologyStructure,
    Option,
    Shape,
)


def rich_ontology() -> OntologyStructure:
    """Objects of several shapes with nested radio/checklist/text attributes, and two classifications."""
    note = Attribute("note", AttributeType.TEXT)
    colour = Attribute(
        "colour",
        AttributeType.RADIO,
        options=[Option("black"), Option("other colour", attributes=[note])],
        required=True,
    )
    parts = Attribute(
        "visible parts", AttributeType.CHECKLIST, options=[Option("head"), Option("tail")], dynamic=True
    )
    cat = Object("cat", Shape.BOUNDING_BOX, attributes=[colour, parts], color="#ff0000")
    person = Object(
        "person",
        Shape.SKELETON,
        keypoints=["head", "hip", "foot"],
        skeleton=[(1, 2), (2, 3)],
        extra={"coco": {"id": 1, "supercategory": "person"}},
    )
    road = Object("road", Shape.POLYGON)
    weather = Classification(
        Attribute("weather", AttributeType.CHECKLIST, options=[Option("rain"), Option("fog")])
    )
    caption = Classification(Attribute("caption", AttributeType.TEXT))
    return OntologyStructure(objects=[cat, person, road], classifications=[weather, caption])


def test_get_child_by_title_finds_each_kind_of_node() -> None:
    ontology = rich_ontology()
    assert ontology.get_child_by_title("cat") is ontology.objects[0]
    assert ontology.get_child_by_title("colour") is ontology.objects[0].attributes[0]
    assert ontology.get_child_by_title("other colour") is ontology.objects[0].attributes[0].options[1]
    assert ontology.get_child_by_title("note").type is AttributeType.TEXT
    assert ontology.get_child_by_title("caption", Classification) is ontology.classifications[1]


def test_get_child_by_title_none_raises_ontology_error() -> None:
    with pytest.raises(OntologyError, match="No ontology node titled 'dog'"):
        rich_ontology().get_child_by_title("dog")


def test_get_child_by_title_ambiguous_raises_and_type_chooses() -> None:
    ontology = rich_ontology()
    # "weather" titles both a classification and its one attribute.
    with pytest.raises(OntologyError, match="2 ontology nodes are titled 'weather'"):
        ontology.get_child_by_title("weather")
    assert ontology.get_child_by_title("weather", Classification) is ontology.classifications[0]
    assert ontology.get_child_by_title("weather", Attribute) is ontology.classifications[0].attribute


def test_brief_script_category_loop_works() -> None:
    """The brief's loop: OntologyError for unknown names is catchable by that exact name."""
    ontology = rich_ontology()
    found, missing = {}, []
    for category in [{"id": 1, "name": "cat"}, {"id": 2, "name": "unicorn"}]:
        try:
            found[category["id"]] = ontology.get_child_by_title(category["name"]).feature_node_hash
        except OntologyError:
            missing.append(category["name"])
    assert found == {1: ontology.objects[0].feature_node_hash}
    assert missing == ["unicorn"]


def test_round_trip_keeps_everything() -> None:
    ontology = rich_ontology()
    data = ontology.to_dict()
    again = OntologyStructure.from_dict(data)
    assert again.to_dict() == data
    cat = again.objects[0]
    assert [a.name for a in cat.attributes] == ["colour", "visible parts"]
    assert cat.attributes[0].required is True and cat.attributes[1].dynamic is True
    assert cat.attributes[0].options[1].attributes[0].name == "note"
    assert cat.attributes[0].options[1].attributes[0].type is AttributeType.TEXT
    assert cat.color == "#ff0000"
    person = again.objects[1]
    assert person.keypoints == ["head", "hip", "foot"] and person.skeleton == [(1, 2), (2, 3)]
    assert person.extra == {"coco": {"id": 1, "supercategory": "person"}}
    hashes = [n.feature_node_hash for n in ontology.walk()]
    assert [n.feature_node_hash for n in again.walk()] == hashes
    assert len(set(hashes)) == len(hashes)


def test_from_dict_accepts_the_platform_form_without_hashes() -> None:
    ontology = OntologyStructure.from_dict(
        {
            "objects": [
                {
                    "name": "car",
                    "shape": "rotatable_bounding_box",
                    "attributes": [{"name": "make", "type": "radio", "options": [{"label": "Other Make"}]}],
                }
            ]
        }
    )
    car = ontology.objects[0]
    assert car.shape is Shape.ROTATABLE_BOUNDING_BOX
    assert len(car.feature_node_hash) == 8
    assert car.attributes[0].options[0].value == "other_make"
    assert car.attributes[0].option("other make") is car.attributes[0].options[0]


VALID: dict[str, Any] = {
    "objects": [
        {
            "name": "cat",
            "shape": "bounding_box",
            "attributes": [
                {
                    "name": "colour",
                    "type": "radio",
                    "options": [{"label": "black", "options": [{"name": "n", "type": "text"}]}],
                }
            ],
        }
    ],
    "classifications": [{"attributes": [{"name": "weather", "type": "text"}]}],
}


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        (broken(lambda d: d["objects"][0].update(shape="box")), "objects[0].shape", "unknown shape 'box'"),
        (broken(lambda d: d["objects"][0].pop("shape")), "objects[0].shape", "'shape' is missing"),
        (broken(lambda d: d["objects"][0].pop("name")), "objects[0]", "'name' must be a non-empty string"),
        (
            broken(lambda d: d.update(objects={"a": 1})),
            "$",
            "the file's 'objects' must be a list, not an object",
        ),
        (broken(lambda d: d["objects"].append(3)), "objects[1]", "an object must be a JSON object"),
        (
            broken(lambda d: d["objects"][0]["attributes"][0].update(type="slider")),
            "objects[0].attributes[0].type",
            "unknown attribute type 'slider'",
        ),
        (
            broken(lambda d: d["objects"][0]["attributes"][0]["options"][0]["options"][0].update(type="x")),
            "objects[0].attributes[0].options[0].options[0].type",
            "unknown attribute type 'x'",
        ),
        (
            broken(lambda d: d["objects"][0].update(skeleton=[[1, 2, 3]])),
            "objects[0].skeleton",
            "'skeleton' must be a list",
        ),
        (
            broken(lambda d: d["classifications"][0]["attributes"].append({"name": "b", "type": "text"})),
            "classifications[0]",
            "exactly one attribute",
        ),
        ([1, 2], "$", "the file must hold one JSON object"),
    ],
)
def test_malformed_json_names_the_path(data: Any, path: str, words: str) -> None:
    with pytest.raises(OntologyError) as caught:
        OntologyStructure.from_dict(data)
    assert caught.value.path == path
    # a path inside the document leads the sentence; the document itself is "the file", never "$"
    assert str(caught.value).startswith(f"{path}: " if path != "$" else "the file")
    assert words in str(caught.value)


def test_wrong_shape_message_lists_the_shapes() -> None:
    with pytest.raises(OntologyError) as caught:
        OntologyStructure.from_dict({"objects": [{"name": "cat", "shape": "square"}]})
    assert caught.value.path == "objects[0].shape"
    for shape in Shape:
        assert shape.value in str(caught.value)


def test_duplicate_feature_hash_is_refused() -> None:
    data = {
        "objects": [
            {"name": "a", "shape": "point", "featureNodeHash": "aaaa0000"},
            {"name": "b", "shape": "point", "featureNodeHash": "aaaa0000"},
        ]
    }
    with pytest.raises(OntologyError, match="'aaaa0000' is used by both 'a' and 'b'"):
        OntologyStructure.from_dict(data)


def test_add_object_and_lookups_by_hash() -> None:
    ontology = OntologyStructure()
    box = ontology.add_object("box", "bounding_box")
    assert ontology.get_child_by_hash(box.feature_node_hash) is box
    assert ontology.object_by_hash() == {box.feature_node_hash: box}
    with pytest.raises(OntologyError):
        ontology.get_child_by_hash("ffffffff")
    with pytest.raises(ValueError):
        ontology.add_object("bad", "cube")


def test_option_lookup_is_exact_then_folded_and_refuses_ambiguity() -> None:
    attribute = Attribute(
        "size", AttributeType.RADIO, options=[Option("Big"), Option("big"), Option("Small One")]
    )
    assert attribute.option("big") is attribute.options[1]
    assert attribute.option("smallone") is attribute.options[2]
    with pytest.raises(OntologyError, match="More than one"):
        attribute.option("BIG")
    with pytest.raises(OntologyError, match="No option"):
        attribute.option("huge")
