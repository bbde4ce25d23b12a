"""Labels: instances on frames, geometry checks, normalised views, exact numbers, attribute answers."""

from __future__ import annotations

from typing import Any

import pytest

from labelport import (
    Attribute,
    AttributeType,
    Bitmask,
    BoundingBox,
    Classification,
    ClassificationInstance,
    LabelError,
    Object,
    ObjectInstance,
    OntologyError,
    OntologyStructure,
    Option,
    Point,
    Polygon,
    Polyline,
    RotatableBoundingBox,
    Shape,
    Skeleton,
    UserClient,
)
from labelport.labels import LabelRow, coordinates_from_json


def test_set_for_frames_on_one_and_many_frames() -> None:
    car = ObjectInstance(Object("car", Shape.BOUNDING_BOX))
    car.set_for_frames(BoundingBox(1, 2, 3, 4), frames=0)
    car.set_for_frames(BoundingBox(5, 6, 7, 8), frames=range(3, 6), confidence=0.5, manual_annotation=False)
    assert sorted(car.frames) == [0, 3, 4, 5]
    assert car.get_annotation(0).coordinates == BoundingBox(1, 2, 3, 4)
    assert car.get_annotation(4).confidence == 0.5 and car.get_annotation(4).manual_annotation is False
    assert [f.frame for f in car.get_annotations()] == [0, 3, 4, 5]
    car.remove_from_frames([3, 4])
    assert sorted(car.frames) == [0, 5]
    with pytest.raises(LabelError, match="not on frame 3"):
        car.get_annotation(3)


def test_set_for_frames_refuses_overwrite_when_asked() -> None:
    point = ObjectInstance(Object("p", Shape.POINT))
    point.set_for_frames(Point(1, 1), frames=0)
    with pytest.raises(LabelError, match="already on frame 0"):
        point.set_for_frames(Point(2, 2), frames=0, overwrite=False)
    point.set_for_frames(Point(2, 2), frames=0)
    assert point.get_annotation(0).coordinates == Point(2, 2)


@pytest.mark.parametrize(
    ("shape", "coordinates"),
    [
        (Shape.BOUNDING_BOX, Polygon(((0, 0, 1, 0, 1, 1),))),
        (Shape.POLYGON, BoundingBox(0, 0, 1, 1)),
        (Shape.SKELETON, Point(1, 2)),
        (Shape.BITMASK, Polyline((0, 0, 1, 1))),
    ],
)
def test_shape_mismatch_is_a_label_error(shape: Shape, coordinates: Any) -> None:
    instance = ObjectInstance(Object("thing", shape))
    with pytest.raises(LabelError) as caught:
        instance.set_for_frames(coordinates, frames=0)
    assert f"is a {shape.value}" in str(caught.value)
    assert f"cannot take {coordinates.shape.value}" in str(caught.value)
    assert instance.frames == {}


@pytest.mark.parametrize(("frames", "confidence"), [(-1, 1.0), (0, 1.5), (0, -0.1)])
def test_bad_frame_or_confidence(frames: int, confidence: float) -> None:
    instance = ObjectInstance(Object("box", Shape.BOUNDING_BOX))
    with pytest.raises(LabelError):
        instance.set_for_frames(BoundingBox(0, 0, 1, 1), frames=frames, confidence=confidence)


def test_normalised_views() -> None:
    w, h = 200, 100
    assert BoundingBox(20, 10, 100, 50).normalised(w, h) == {
        "top_left_x": 0.1,
        "top_left_y": 0.1,
        "width": 0.5,
        "height": 0.5,
    }
    assert RotatableBoundingBox(0, 0, 200, 100, 30).normalised(w, h) == {
        "top_left_x": 0.0,
        "top_left_y": 0.0,
        "width": 1.0,
        "height": 1.0,
        "theta": 30.0,
    }
    assert Polygon(((0, 0, 100, 50, 200, 100),)).normalised(w, h) == [
        [{"x": 0.0, "y": 0.0}, {"x": 0.5, "y": 0.5}, {"x": 1.0, "y": 1.0}]
    ]
    assert Polyline((50, 25, 150, 75)).normalised(w, h) == [{"x": 0.25, "y": 0.25}, {"x": 0.75, "y": 0.75}]
    assert Point(100, 50).normalised(w, h) == {"x": 0.5, "y": 0.5}
    assert Skeleton((20, 10, 2, 0, 0, 0)).normalised(w, h) == [
        {"x": 0.1, "y": 0.1, "visibility": 2.0},
        {"x": 0.0, "y": 0.0, "visibility": 0.0},
    ]
    assert Bitmask((100, 200), "abc").normalised(w, h) == {"size": [100, 200], "counts": "abc"}


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        (Shape.BOUNDING_BOX, [1, 2.5, 0.30000000000000004, 7]),
        (Shape.ROTATABLE_BOUNDING_BOX, [1, 2, 3, 4, -12.75]),
        (Shape.POLYGON, [[0, 0, 10.125, 0, 10, 10], [1, 1, 2, 1, 2, 2]]),
        (Shape.POLYLINE, [0, 0, 1e-9, 123456789.123456]),
        (Shape.POINT, [9007199254740993, 0.1]),
        (Shape.SKELETON, [1, 2, 2, 3.5, 4.25, 1]),
        (Shape.BITMASK, {"size": [4, 5], "counts": [3, 2, 15]}),
    ],
)
def test_json_round_trip_is_exact(shape: Shape, value: Any) -> None:
    coordinates = coordinates_from_json(shape, value)
    assert coordinates.shape is shape
    again = coordinates.to_json()
    assert again == value
    assert [type(v) for v in _flat(again)] == [type(v) for v in _flat(value)]


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return _flat(value["size"]) + _flat(value["counts"])
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    return [value]


@pytest.mark.parametrize(
    ("shape", "value", "words"),
    [
        (Shape.BOUNDING_BOX, [1, 2, 3], "need 4 numbers"),
        (Shape.POINT, [1, float("nan")], "finite numbers"),
        (Shape.POINT, [True, 1], "finite numbers"),
        (Shape.SKELETON, [1, 2, 2, 3], "multiple of 3"),
        (Shape.BITMASK, [1, 2], "RLE object"),
        (Shape.POLYGON, [], "list of rings"),
    ],
)
def test_bad_coordinates_json(shape: Shape, value: Any, words: str) -> None:
    with pytest.raises(LabelError, match=words):
        coordinates_from_json(shape, value)


def answer_ontology() -> OntologyStructure:
    colour = Attribute("colour", AttributeType.RADIO, options=[Option("red"), Option("blue")])
    parts = Attribute(
        "parts", AttributeType.CHECKLIST, options=[Option("wheel"), Option("door"), Option("roof")]
    )
    note = Attribute("note", AttributeType.TEXT)
    car = Object("car", Shape.BOUNDING_BOX, attributes=[colour, parts, note])
    sign = Object("sign", Shape.POINT, attributes=[Attribute("kind", AttributeType.TEXT)])
    time = Classification(Attribute("time", AttributeType.RADIO, options=[Option("day"), Option("night")]))
    return OntologyStructure(objects=[car, sign], classifications=[time])


def test_answers_radio_checklist_text() -> None:
    ontology = answer_ontology()
    car = ontology.objects[0]
    colour, parts, note = car.attributes
    instance = ObjectInstance(car)
    instance.set_answer("blue", colour)
    instance.set_answer([parts.options[2], "wheel"], parts)
    instance.set_answer("dented near the back", note)
    assert instance.get_answer(colour) == colour.options[1].feature_node_hash
    assert instance.get_answer(parts) == [
        parts.options[2].feature_node_hash,
        parts.options[0].feature_node_hash,
    ]
    assert instance.get_answer(note) == "dented near the back"
    with pytest.raises(OntologyError, match="No option of attribute 'colour' titled 'green'"):
        instance.set_answer("green", colour)
    with pytest.raises(LabelError, match="takes a list"):
        instance.set_answer("wheel", parts)
    with pytest.raises(LabelError, match="takes text"):
        instance.set_answer(["a"], note)
    with pytest.raises(LabelError, match="has 3 attributes"):
        instance.set_answer("red")
    sign = ObjectInstance(ontology.objects[1])
    sign.set_answer("stop")
    assert sign.get_answer(ontology.objects[1].attributes[0]) == "stop"

    time = ClassificationInstance(ontology.classifications[0])
    time.set_for_frames([0, 2])
    time.set_answer("night")
    assert time.get_answer() == ontology.classifications[0].attribute.options[1].feature_node_hash
    assert time.frames == {0, 2}


def test_label_row_checks_frames_and_duplicates() -> None:
    row = LabelRow("", "d", "clip", "video", 100, 100, number_of_frames=3)
    car = Object("car", Shape.BOUNDING_BOX)
    late = ObjectInstance(car)
    late.set_for_frames(BoundingBox(0, 0, 1, 1), frames=3)
    with pytest.raises(LabelError, match="frame 3 is beyond 'clip'"):
        row.add_object_instance(late)
    instance = ObjectInstance(car)
    instance.set_for_frames(BoundingBox(0, 0, 1, 1), frames=2)
    row.add_object_instance(instance)
    with pytest.raises(LabelError, match="already in this label row"):
        row.add_object_instance(instance)
    assert row.get_object_instances(car) == [instance]
    row.remove_object(instance)
    assert row.get_object_instances() == []
    with pytest.raises(LabelError, match="not attached"):
        row.save()


def test_numbers_and_answers_survive_the_store(client: UserClient) -> None:
    """Save through a real SQLite store and read back: ints stay ints, floats keep every digit, answers stay."""
    project = client.create_project("exact", ontology=answer_ontology())
    project.add_data([("a.png", 640, 480), ("clip", 640, 480, 5)])
    ontology = project.ontology_structure
    car = ontology.get_child_by_title("car", Object)
    colour, parts, note = car.attributes
    row = project.list_label_rows_v2(data_title_eq="clip")[0]
    instance = ObjectInstance(car)
    values = (1, 2.5, 0.30000000000000004, 2.0)
    instance.set_for_frames(BoundingBox(*values), frames=[0, 4], confidence=0.25, created_by="ada")
    instance.set_answer("red", colour)
    instance.set_answer(["door", "roof"], parts)
    instance.set_answer("ünïcode ✓", note)
    row.add_object_instance(instance)
    time = ClassificationInstance(ontology.classifications[0])
    time.set_for_frames([1, 3])
    time.set_answer("day")
    row.add_classification_instance(time)
    row.save()

    again = project.list_label_rows_v2(data_title_eq="clip")[0]
    assert again.label_hash == row.label_hash
    [loaded] = again.object_instances
    assert loaded.object_hash == instance.object_hash
    assert sorted(loaded.frames) == [0, 4]
    box = loaded.get_annotation(4).coordinates
    assert box == BoundingBox(*values)
    assert [type(v) for v in box.to_json()] == [int, float, float, float]
    assert loaded.get_annotation(0).confidence == 0.25
    assert loaded.get_annotation(0).created_by == "ada"
    assert loaded.get_answer(colour) == colour.options[0].feature_node_hash
    assert loaded.get_answer(parts) == [
        parts.options[1].feature_node_hash,
        parts.options[2].feature_node_hash,
    ]
    assert loaded.get_answer(note) == "ünïcode ✓"
    [loaded_time] = again.classification_instances
    assert loaded_time.frames == {1, 3}
    assert loaded_time.get_answer() == ontology.classifications[0].attribute.options[0].feature_node_hash
    assert again.to_dict() == row.to_dict()
    # the other data unit was not touched
    assert project.list_label_rows_v2(data_title_eq="a.png")[0].object_instances == []
