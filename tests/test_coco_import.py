"""COCO import: every annotation form, matching, categories, branches, idempotency, atomicity.

Everything runs against a real embedded store (one SQLite file under ``tmp_path``); the COCO is built
in code (:mod:`coco_builders`) or read from ``../shared/fixtures``.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from coco_builders import (
    DATA,
    KEYPOINT_NAMES,
    SKELETON_EDGES,
    H,
    RawJson,
    W,
    box_ann,
    box_mask,
    coco_template,
    compressed_rle,
    image,
    keypoints_ann,
    make_project,
    object_count,
    objects_by_title,
    polygon_ann,
    rle_ann,
    segmentation_mask,
    store_rows,
    to_bytes,
    uncompressed_rle,
    with_value,
    write_json,
)
from labelport import (
    Bitmask,
    BoundingBox,
    DataUnit,
    ImportFailed,
    Object,
    ObjectInstance,
    OntologyStructure,
    Polygon,
    RotatableBoundingBox,
    Shape,
    Skeleton,
    UserClient,
)


def coordinates(project: Any, title: str, branch: str | None = None) -> list[Any]:
    """The coordinates of every object instance on data unit ``title``, frame by frame."""
    return [
        f.coordinates
        for instance in objects_by_title(project, branch)[title]
        for f in instance.get_annotations()
    ]


def single(project: Any, title: str) -> Any:
    (found,) = coordinates(project, title)
    return found


# -- every annotation form --------------------------------------------------------------------------


def test_every_annotation_form_imports_as_its_shape(client: UserClient) -> None:
    project = make_project(client)
    two_parts = [[1, 1, 9, 1, 9, 9], [20, 20, 30, 20, 30, 30, 20, 30]]
    brief_flat = [10, 10, 20, 10, 20, 15, 10, 15]
    rle_list = uncompressed_rle(box_mask(5, 15, 20, 40))
    rle_string = compressed_rle(box_mask(1, 4, 1, 4))
    coco = {
        "images": [image(i, f"{name}.jpg") for i, name in enumerate("abcdefgh", 1)],
        "categories": coco_template()["categories"],
        "annotations": [
            box_ann(1, 1, 1, [2.5, 3.25, 10, 8]),
            polygon_ann(2, 2, 2, two_parts),
            polygon_ann(3, 3, 2, brief_flat),
            rle_ann(4, 4, 3, rle_list),
            rle_ann(5, 5, 3, rle_string, iscrowd=0),
            {"id": 6, "image_id": 6, "category_id": 1, "bbox": [1, 1, 4, 4]},  # no segmentation
            box_ann(7, 7, 1, [1, 1, 4, 4], segmentation=[]),
            keypoints_ann(8, 8, 4, [10, 10, 2, 12, 8, 1, 0, 0, 0]),
        ],
    }
    project.add_data([(f"{name}.jpg", W, H) for name in "cdefgh"])
    report = project.import_coco(coco)
    assert report.ok, report.summary()
    assert report.warnings == []
    assert report.conversions == {}
    assert report.counts.imported == 8
    assert single(project, "a.jpg") == BoundingBox(2.5, 3.25, 10, 8)
    assert single(project, "b.jpg") == Polygon(tuple(tuple(r) for r in two_parts))
    assert single(project, "c.jpg") == Polygon((tuple(brief_flat),))
    assert single(project, "d.jpg") == Bitmask((H, W), tuple(rle_list["counts"]))
    assert single(project, "e.jpg") == Bitmask((H, W), rle_string["counts"])
    assert single(project, "f.jpg") == BoundingBox(1, 1, 4, 4)
    assert single(project, "g.jpg") == BoundingBox(1, 1, 4, 4)
    assert single(project, "h.jpg") == Skeleton((10, 10, 2, 12, 8, 1, 0, 0, 0))
    # the masks are the ones the file described, pixel for pixel
    mask = project.list_label_rows_v2(data_title_eq="d.jpg")[0].object_instances[0]
    rle = mask.get_annotation(0).coordinates.to_json()
    assert (segmentation_mask(rle, H, W) == box_mask(5, 15, 20, 40)).all()
    # and nothing was converted on the way in: the export gives each record back
    assert project.export_coco_labels()["annotations"] == coco["annotations"]


def test_keypoints_and_skeleton_make_a_skeleton_object(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure(), data=DATA)
    coco = coco_template()
    coco["annotations"] = [coco["annotations"][3]]
    report = project.import_coco(coco, categories="create")
    assert report.ok, report.summary()
    person = project.ontology_structure.get_child_by_title("person")
    assert person.shape is Shape.SKELETON
    assert person.keypoints == KEYPOINT_NAMES
    assert [list(e) for e in person.skeleton] == SKELETON_EDGES
    assert single(project, "b.jpg") == Skeleton((10, 10, 2, 12, 8, 2, 8, 8, 1))


def test_datumaro_style_keypoints_without_names_are_numbered(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure(), data=DATA)
    coco = {
        "images": [image(1, "a.jpg")],
        "categories": [{"id": 1, "name": "hand", "keypoints": [], "skeleton": [[1, 2], [2, 3]]}],
        "annotations": [keypoints_ann(1, 1, 1, [1, 2, 2, 3, 4, 2, 2, 3, 2])],
    }
    report = project.import_coco(coco, categories="create")
    assert report.ok, report.summary()
    hand = project.ontology_structure.get_child_by_title("hand")
    assert hand.shape is Shape.SKELETON
    assert hand.keypoints == ["1", "2", "3"]
    assert single(project, "a.jpg") == Skeleton((1, 2, 2, 3, 4, 2, 2, 3, 2))


def test_created_shapes_come_from_the_import_s_own_pass(client: UserClient, monkeypatch: Any) -> None:
    """categories="create" chooses each new object's shape from the annotations it imports, in the
    same pass: the file is read and its annotations validated once."""
    from labelport.formats.coco import annotations, importer

    calls = {"read": 0, "pass": 0}
    read, run = importer.read_coco, annotations.Pass.run

    def counted_read(source: Any) -> Any:
        calls["read"] += 1
        return read(source)

    def counted_run(self: Any, *args: Any) -> None:
        calls["pass"] += 1
        run(self, *args)

    monkeypatch.setattr(importer, "read_coco", counted_read)
    monkeypatch.setattr(annotations.Pass, "run", counted_run)
    project = make_project(client, ontology=OntologyStructure(), data=DATA)
    coco = coco_template()
    report = project.import_coco(coco, categories="create")
    assert report.ok and report.counts.imported == 5, report.summary()
    assert calls == {"read": 1, "pass": 1}
    shapes = {o.title: o.shape for o in project.ontology_structure.objects}
    assert shapes["poly"] is Shape.POLYGON and shapes["mask"] is Shape.BITMASK
    assert shapes["box"] is Shape.BOUNDING_BOX and shapes["person"] is Shape.SKELETON
    assert report.conversions == {}
    poly = [o for o in objects_by_title(project)["a.jpg"] if o.ontology_item.title == "poly"]
    assert [o.get_annotation(0).coordinates for o in poly] == [Polygon(((10, 10, 30, 10, 30, 20, 10, 20),))]


def test_a_created_skeleton_missing_keypoints_is_reported_as_before(client: UserClient) -> None:
    """A category that names no keypoints becomes a skeleton when its annotations carry some; one
    without them is then an error, exactly as when the shape was known up front."""
    project = make_project(client, ontology=OntologyStructure(), data=DATA)
    coco = {
        "images": [image(1, "a.jpg")],
        "categories": [{"id": 1, "name": "hand"}],
        "annotations": [
            keypoints_ann(1, 1, 1, [1, 2, 2, 3, 4, 2]),
            box_ann(2, 1, 1, [1, 1, 4, 4]),
            keypoints_ann(3, 1, 1, [1, 2, 2, 3, 4, 2, 5, 5, 2]),
        ],
    }
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(coco, categories="create")
    errors = [(e.code, e.path) for e in failed.value.report.errors]
    assert errors == [
        ("no_keypoints", "annotations[1].keypoints"),
        ("keypoints_length", "annotations[2].keypoints"),
    ]
    assert project.ontology_structure.objects == []  # nothing was stored by either attempt
    report = project.import_coco(coco, categories="create", on_error="skip")
    assert report.counts.imported == 1 and report.counts.skipped == 2
    hand = project.ontology_structure.get_child_by_title("hand")
    assert hand.shape is Shape.SKELETON and hand.keypoints == ["1", "2"]
    assert single(project, "a.jpg") == Skeleton((1, 2, 2, 3, 4, 2))


def test_a_created_rotatable_box_takes_one_pass_and_no_warning(client: UserClient, monkeypatch: Any) -> None:
    """Only rotation among a created category's attributes: the pass settles a rotatable box; the
    angle is geometry, so nothing is answered, nothing warned, and no second pass runs."""
    from labelport.formats.coco import annotations

    passes: list[int] = []
    run = annotations.Pass.run

    def counted(self: Any, *args: Any) -> None:
        passes.append(1)
        run(self, *args)

    monkeypatch.setattr(annotations.Pass, "run", counted)
    project = make_project(client, ontology=OntologyStructure())
    coco = {
        "images": [image(1, "a.jpg")],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [box_ann(1, 1, 1, [10, 12, 20, 8], attributes={"rotation": 30.5})],
    }
    report = project.import_coco(coco, categories="create")
    assert report.ok and report.warnings == [] and report.conversions == {}
    assert passes == [1]
    car = project.ontology_structure.get_child_by_title("car")
    assert car.shape is Shape.ROTATABLE_BOUNDING_BOX and car.attributes == []
    assert single(project, "a.jpg") == RotatableBoundingBox(10, 12, 20, 8, 30.5)


def test_rotated_boxes_land_on_a_rotatable_box_object(client: UserClient) -> None:
    ontology = OntologyStructure(objects=[Object("car", Shape.ROTATABLE_BOUNDING_BOX)])
    project = make_project(client, ontology=ontology)
    coco = {
        "images": [image(1, "a.jpg")],
        "categories": [{"id": 1, "name": "car"}],
        # CVAT writes the unrotated box and the angle in degrees
        "annotations": [box_ann(1, 1, 1, [10, 12, 20, 8], attributes={"rotation": 30.5, "occluded": False})],
    }
    report = project.import_coco(coco)
    assert report.ok and report.conversions == {}
    assert single(project, "a.jpg") == RotatableBoundingBox(10, 12, 20, 8, 30.5)
    # rotation is geometry, not an unknown attribute; "occluded" is unknown and reported once
    assert [(w.code, w.path) for w in report.warnings] == [
        ("attribute_unknown", "annotations[*].attributes.occluded")
    ]
    # categories="create" picks the rotatable shape from the rotation attribute
    fresh = make_project(client, "created", ontology=OntologyStructure())
    fresh.import_coco(coco, categories="create")
    car = fresh.ontology_structure.get_child_by_title("car")
    assert car.shape is Shape.ROTATABLE_BOUNDING_BOX
    assert [a.name for a in car.attributes] == ["occluded"]
    assert single(fresh, "a.jpg") == RotatableBoundingBox(10, 12, 20, 8, 30.5)


def test_attributes_become_answers_by_name(client: UserClient) -> None:
    project = make_project(client)
    box = project.ontology_structure.get_child_by_title("box")
    note, colour = box.attributes
    coco = coco_template()
    coco["annotations"] = [
        box_ann(1, 1, 1, [1, 1, 4, 4], attributes={"note": "half hidden", "colour": "Red"}),
        # names and option labels match case- and space-insensitively
        box_ann(2, 2, 1, [1, 1, 4, 4], attributes={"Note": 7, "COLOUR": "darkblue"}),
        box_ann(3, 2, 1, [2, 2, 4, 4], attributes={"colour": "green", "weather": "rain"}),
    ]
    report = project.import_coco(coco)
    assert report.ok
    assert sorted((w.code, w.path, w.annotation_id) for w in report.warnings) == [
        ("attribute_option", "annotations[2].attributes.colour", 3),
        ("attribute_unknown", "annotations[*].attributes.weather", None),
    ]
    (first,) = objects_by_title(project)["a.jpg"]
    assert first.get_answer(note) == "half hidden"
    assert first.get_answer(colour) == colour.option("Red").feature_node_hash
    second, third = objects_by_title(project)["b.jpg"]
    assert second.get_answer(note) == 7
    assert second.get_answer(colour) == colour.option("Dark Blue").feature_node_hash
    assert third.answers == {}
    # the records keep every attribute, answered or not
    assert project.export_coco_labels()["annotations"] == coco["annotations"]


def test_track_ids_follow_one_object_across_a_videos_frames(client: UserClient) -> None:
    project = make_project(client, data=(("clip.mp4", W, H, 10),))
    coco = {
        "images": [
            image(10, "frames/000.jpg", video_title="clip.mp4", frame=0),
            image(11, "frames/001.jpg", video_title="clip.mp4", frame=1),
            image(12, "clip.mp4/2.jpg"),  # no video_title: the file name says which frame
            image(13, "clip.mp4/3.jpg"),
        ],
        "categories": [{"id": 1, "name": "box"}],
        "annotations": [
            box_ann(1, 10, 1, [1, 1, 4, 4], track_id=7),
            box_ann(2, 11, 1, [2, 1, 4, 4], track_id=7),
            box_ann(3, 12, 1, [3, 1, 4, 4], track_id=7),
            box_ann(4, 13, 1, [4, 1, 4, 4], track_id=7),
            box_ann(5, 11, 1, [30, 30, 4, 4], track_id="other"),
            box_ann(6, 13, 1, [31, 30, 4, 4], track_id="other"),
            box_ann(7, 13, 1, [40, 40, 2, 2]),
        ],
    }
    report = project.import_coco(coco)
    assert report.ok, report.summary()
    assert report.image_matches == {"video_title": 2, "video_frame": 2}
    tracked, other, lone = objects_by_title(project)["clip.mp4"]
    assert sorted(tracked.frames) == [0, 1, 2, 3]
    assert [tracked.get_annotation(f).coordinates.x for f in range(4)] == [1, 2, 3, 4]
    assert sorted(other.frames) == [1, 3]
    assert sorted(lone.frames) == [3]
    # importing again keeps the same one instance per track
    again = project.import_coco(coco)
    assert again.counts.updated == 7
    assert [o.object_hash for o in objects_by_title(project)["clip.mp4"]] == [
        tracked.object_hash,
        other.object_hash,
        lone.object_hash,
    ]


@pytest.mark.parametrize("iscrowd", [0, 1, True, False, "false", "true", "0", "1"])
def test_iscrowd_forms_are_accepted_and_kept(client: UserClient, iscrowd: Any) -> None:
    project = make_project(client)
    coco = with_value(coco_template(), "annotations[0].iscrowd", iscrowd)
    report = project.import_coco(coco)
    assert report.ok
    assert project.export_coco_labels()["annotations"][0]["iscrowd"] == iscrowd


def test_score_becomes_confidence_and_area_is_kept(client: UserClient) -> None:
    project = make_project(client)
    coco = coco_template()
    coco["annotations"][0]["score"] = 0.25
    coco["annotations"][0]["area"] = 1234.56
    coco["annotations"][1]["score"] = 1
    report = project.import_coco(coco)
    assert report.ok
    box, poly = objects_by_title(project)["a.jpg"]
    assert box.get_annotation(0).confidence == 0.25
    assert not box.get_annotation(0).manual_annotation
    assert poly.get_annotation(0).confidence == 1.0
    assert not poly.get_annotation(0).manual_annotation
    mask, _ = objects_by_title(project)["b.jpg"]
    assert mask.get_annotation(0).confidence == 1.0 and mask.get_annotation(0).manual_annotation
    exported = project.export_coco_labels()["annotations"]
    assert exported[0]["area"] == 1234.56 and exported[0]["score"] == 0.25


def test_a_custom_confidence_field(client: UserClient) -> None:
    project = make_project(client)
    coco = with_value(coco_template(), "annotations[0].conf", 0.5)
    report = project.import_coco(coco, confidence_field="conf")
    assert report.ok
    assert objects_by_title(project)["a.jpg"][0].get_annotation(0).confidence == 0.5
    bad = with_value(coco_template(), "annotations[0].conf", 5)
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(bad, confidence_field="conf")
    assert [(p.code, p.path) for p in failed.value.report.errors] == [("score_range", "annotations[0].conf")]


def test_a_results_list_lands_on_a_branch(client: UserClient) -> None:
    project = make_project(client)
    assert project.import_coco(coco_template()).ok
    main_before = project.export_coco_bytes()
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 9], "score": 0.9},
        {"image_id": 2, "category_id": 2, "segmentation": [[1, 1, 9, 1, 9, 9]], "score": 0.4},
        {"image_id": 3, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.75},
    ]
    report = project.import_coco(results, branch_name="predictions")
    assert report.ok, report.summary()
    assert report.kind == "results" and report.branch == "predictions"
    assert report.counts.imported == 3
    assert project.export_coco_bytes() == main_before
    assert sorted(project.list_branches()) == ["main", "predictions"]
    predicted = objects_by_title(project, "predictions")
    assert [o.get_annotation(0).confidence for o in predicted["a.jpg"]] == [0.9]
    assert [o.get_annotation(0).confidence for o in predicted["b.jpg"]] == [0.4]
    assert [o.get_annotation(2).confidence for o in predicted["clip.mp4"]] == [0.75]
    assert all(
        not f.manual_annotation for rows in predicted.values() for o in rows for f in o.get_annotations()
    )
    assert object_count(project) == 5 and object_count(project, "predictions") == 3
    assert project.export_coco_labels(branch_name="predictions", results=True) == results
    # a results list has no ids: importing it again updates by position, never duplicates
    assert project.import_coco(results, branch_name="predictions").counts.updated == 3
    assert object_count(project, "predictions") == 3
    # a results entry needs a score
    with pytest.raises(ImportFailed) as failed:
        project.import_coco([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}], branch_name="x")
    assert [(p.code, p.path) for p in failed.value.report.errors] == [("score_missing", "[0].score")]


# -- shapes other than the record's form --------------------------------------------------------------


def test_a_polygon_onto_a_bounding_box_object_reads_as_its_box(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure(objects=[Object("poly", Shape.BOUNDING_BOX)]))
    coco = coco_template()
    ring = [10, 12, 30, 10, 25, 20]
    coco["annotations"] = [
        {"id": 1, "image_id": 1, "category_id": 2, "segmentation": [ring], "area": 100, "iscrowd": 0}
    ]
    report = project.import_coco(coco)
    assert report.ok
    assert report.conversions == {"polygon->bounding_box": 1}
    assert single(project, "a.jpg") == BoundingBox(10, 10, 20, 10)
    assert project.export_coco_labels()["annotations"] == coco["annotations"]


def test_an_rle_onto_a_polygon_object_reads_as_its_outline(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure(objects=[Object("mask", Shape.POLYGON)]))
    coco = coco_template()
    coco["annotations"] = [coco["annotations"][2]]
    report = project.import_coco(coco)
    assert report.ok
    assert report.conversions == {"rle->polygon": 1}
    polygon = single(project, "b.jpg")
    assert polygon == Polygon(((20.0, 5.0, 40.0, 5.0, 40.0, 15.0, 20.0, 15.0),))
    assert project.export_coco_labels()["annotations"] == coco["annotations"]


def test_a_polygon_onto_a_bitmask_object_is_rasterised(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure(objects=[Object("poly", Shape.BITMASK)]))
    coco = coco_template()
    coco["annotations"] = [coco["annotations"][1]]
    report = project.import_coco(coco)
    assert report.ok
    assert report.conversions == {"polygon->bitmask": 1}
    bitmask = single(project, "a.jpg")
    assert isinstance(bitmask, Bitmask) and bitmask.size_hw == (H, W)
    expected = segmentation_mask([[10, 10, 30, 10, 30, 20, 10, 20]], H, W)
    assert (segmentation_mask(bitmask.to_json(), H, W) == expected).all()


# -- matching images --------------------------------------------------------------------------------


MATCH_CASES = [
    ("video_title", image(1, "whatever.jpg", video_title="clip.mp4", frame=4), "clip.mp4", 4),
    ("image_title", image(1, "zzz/unrelated.png", image_title="b.jpg"), "b.jpg", 0),
    ("file_name", image(1, "a.jpg"), "a.jpg", 0),
    ("path_suffix", image(1, "train2017/images/a.jpg"), "a.jpg", 0),
    ("path_suffix", image(1, "val/x.jpg"), "x-from-location", 0),
    ("stem", image(1, "b.png"), "b.jpg", 0),
    ("video_frame", image(1, "clip.mp4/3.jpg"), "clip.mp4", 3),
    ("video_frame", image(1, "clip_frame_5.png"), "clip.mp4", 5),
]


@pytest.mark.parametrize(
    ("strategy", "coco_image", "title", "frame"),
    MATCH_CASES,
    ids=[f"{c[0]}:{c[1]['file_name']}" for c in MATCH_CASES],
)
def test_each_matching_strategy(
    client: UserClient, strategy: str, coco_image: dict[str, Any], title: str, frame: int
) -> None:
    project = make_project(client)
    project.add_data_units(
        [DataUnit.image("x-from-location", width=W, height=H, location="/data/coco/val/x.jpg")]
    )
    coco = {
        "images": [coco_image],
        "categories": [{"id": 1, "name": "box"}],
        "annotations": [box_ann(1, 1, 1, [1, 1, 4, 4])],
    }
    report = project.import_coco(coco, dry_run=True)
    assert report.ok, report.summary()
    assert report.image_matches == {strategy: 1}
    (example,) = report.matched_examples
    assert example.method == strategy and example.frame == frame
    report = project.import_coco(coco)
    assert report.ok
    (instance,) = objects_by_title(project)[title]
    assert sorted(instance.frames) == [frame]


def test_the_strategies_apply_in_order(client: UserClient) -> None:
    """An image_title wins over a file name that names another unit."""
    project = make_project(client)
    coco = {
        "images": [image(1, "a.jpg", image_title="b.jpg")],
        "categories": [{"id": 1, "name": "box"}],
        "annotations": [box_ann(1, 1, 1, [1, 1, 4, 4])],
    }
    report = project.import_coco(coco)
    assert report.image_matches == {"image_title": 1}
    assert len(objects_by_title(project)["b.jpg"]) == 1 and objects_by_title(project)["a.jpg"] == []


def test_an_ambiguous_image_is_reported_and_never_guessed(client: UserClient) -> None:
    project = make_project(client, data=(("cat.jpg", W, H), ("cat.png", W, H), ("dog.jpg", W, H)))
    coco = {
        "images": [image(1, "cat.gif"), image(2, "dog.jpg")],
        "categories": [{"id": 1, "name": "box"}],
        "annotations": [box_ann(1, 1, 1, [1, 1, 4, 4]), box_ann(2, 2, 1, [1, 1, 4, 4])],
    }
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(coco)
    report = failed.value.report
    assert [(p.code, p.path) for p in report.errors] == [("image_ambiguous", "images[0]")]
    assert report.counts.images_ambiguous == 1 and report.counts.images_unmatched == 0
    (ambiguous,) = report.ambiguous_images
    assert ambiguous.method == "stem" and sorted(ambiguous.candidates) == ["cat.jpg#0", "cat.png#0"]
    report = project.import_coco(coco, on_error="skip")
    assert report.counts.imported == 1
    rows = objects_by_title(project)
    assert rows["cat.jpg"] == [] and rows["cat.png"] == [] and len(rows["dog.jpg"]) == 1


def test_a_dry_run_shows_the_matching_and_writes_nothing(client: UserClient, home: Path) -> None:
    project = make_project(client, data=(*DATA, ("x.jpg", W, H), ("x.png", W, H)))
    coco = coco_template()
    coco["images"] += [image(4, "missing.jpg"), image(5, "x.gif")]
    coco["annotations"].append(box_ann(6, 4, 1, [1, 1, 2, 2]))
    coco["annotations"].append(box_ann(7, 5, 1, [1, 1, 2, 2]))
    before_rows, before_export = store_rows(home), project.export_coco_bytes()
    units_before = [u.extra for u in project.list_data_units()]
    # (under on_error="fail" the dry run fails as the real run would: see test_coco_trust.py)
    report = project.import_coco(coco, dry_run=True, on_error="skip")
    assert report.dry_run and not report.written
    c = report.counts
    assert (c.images, c.images_matched, c.images_unmatched, c.images_ambiguous) == (5, 3, 1, 1)
    assert (c.annotations, c.imported, c.skipped) == (7, 5, 2)
    assert report.image_matches == {"file_name": 2, "video_title": 1}
    assert [m.file_name for m in report.matched_examples] == ["a.jpg", "b.jpg", "clip.mp4/2.jpg"]
    assert [m.file_name for m in report.unmatched_images] == ["missing.jpg"]
    assert [m.file_name for m in report.ambiguous_images] == ["x.gif"]
    assert sorted((p.code, p.path) for p in report.errors) == [
        ("image_ambiguous", "images[4]"),
        ("image_unmatched", "images[3]"),
    ]
    assert "would import 5 of 7 annotations" in report.summary()
    assert store_rows(home) == before_rows
    assert project.export_coco_bytes() == before_export
    assert [u.extra for u in project.list_data_units()] == units_before
    # a dry run with categories="create" and create_missing_data_units writes nothing either
    empty = make_project(client, "empty", ontology=OntologyStructure(), data=())
    report = empty.import_coco(
        coco_template(), dry_run=True, categories="create", create_missing_data_units=True
    )
    assert report.ok and report.counts.categories_created == 4 and report.counts.data_units_created == 3
    assert (
        empty.list_data_units() == []
        and client.get_project(empty.project_hash).ontology_structure.objects == []
    )


# -- matching categories ----------------------------------------------------------------------------


def test_categories_match_by_exact_then_folded_name(client: UserClient) -> None:
    ontology = OntologyStructure(
        objects=[
            Object("box", Shape.BOUNDING_BOX),
            Object("Traffic Light", Shape.BOUNDING_BOX),
            Object("stop sign", Shape.BOUNDING_BOX),
        ]
    )
    project = make_project(client, ontology=ontology)
    coco = {
        "images": [image(1, "a.jpg")],
        "categories": [
            {"id": 1, "name": "box"},
            {"id": 2, "name": "traffic light"},
            {"id": 3, "name": "StopSign"},
            {"id": 4, "name": "zebra"},
        ],
        "annotations": [box_ann(i, 1, i, [1, 1, 2, 2]) for i in (1, 2, 3)],
    }
    report = project.import_coco(coco)
    assert report.ok
    assert [(m.category_id, m.method, m.title) for m in report.categories] == [
        (1, "exact", "box"),
        (2, "case_insensitive", "Traffic Light"),
        (3, "case_insensitive", "stop sign"),
        (4, "unmatched", None),
    ]
    assert report.counts.categories_unmatched == 1
    titles = sorted(o.ontology_item.title for o in objects_by_title(project)["a.jpg"])
    assert titles == ["Traffic Light", "box", "stop sign"]


def test_an_explicit_category_mapping_wins(client: UserClient) -> None:
    project = make_project(client)
    ontology = project.ontology_structure
    poly = ontology.get_child_by_title("poly")
    coco = coco_template()
    coco["annotations"] = [coco["annotations"][0], coco["annotations"][1]]
    # by id to a feature hash, and by name to a title (JSON keys are strings)
    report = project.import_coco(coco, categories={"1": poly.feature_node_hash, "poly": "poly"})
    assert report.ok
    assert [(m.category_id, m.method, m.title) for m in report.categories] == [
        (1, "mapping", "poly"),
        (2, "mapping", "poly"),
        (3, "unmatched", None),
        (4, "unmatched", None),
    ]
    assert report.conversions == {"bbox->polygon": 1}
    assert {o.ontology_item.title for o in objects_by_title(project)["a.jpg"]} == {"poly"}


def test_categories_create_builds_the_ontology(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure())
    coco = coco_template()
    coco["annotations"][0]["attributes"] = {"note": "x"}
    report = project.import_coco(coco, categories="create")
    assert report.ok, report.summary()
    assert report.counts.categories_created == 4
    shapes = {o.title: o.shape for o in project.ontology_structure.objects}
    assert shapes == {
        "box": Shape.BOUNDING_BOX,
        "poly": Shape.POLYGON,
        "mask": Shape.BITMASK,
        "person": Shape.SKELETON,
    }
    box = project.ontology_structure.get_child_by_title("box")
    assert [a.name for a in box.attributes] == ["note"]
    assert box.extra["coco"] == coco["categories"][0]
    (first, _) = objects_by_title(project)["a.jpg"]
    assert first.get_answer(box.attributes[0]) == "x"
    # a second import matches the created objects by name and creates nothing
    assert project.import_coco(coco, categories="create").counts.categories_created == 0
    assert len(project.ontology_structure.objects) == 4


def test_categories_create_is_not_misled_by_malformed_annotations(client: UserClient) -> None:
    """One bad record is the importer's to report; the shapes still come from all the others."""
    coco = coco_template()
    coco["annotations"].append(5)
    coco["annotations"][3]["keypoints"][0] = RawJson("1e999")
    source = to_bytes(coco)
    shapes = {"box": "bounding_box", "poly": "polygon", "mask": "bitmask", "person": "skeleton"}
    created = client.create_project("from coco", from_coco=source)
    assert {o.title: o.shape.value for o in created.ontology_structure.objects} == shapes
    project = make_project(client, ontology=OntologyStructure())
    report = project.import_coco(source, categories="create", on_error="skip")
    assert {o.title: o.shape.value for o in project.ontology_structure.objects} == shapes
    assert [(p.code, p.path) for p in report.errors] == [
        ("keypoints_type", "annotations[3].keypoints"),
        ("annotation_type", "annotations[5]"),
    ]
    assert report.counts.imported == 4


def test_create_missing_data_units(client: UserClient) -> None:
    project = make_project(client, data=())
    report = project.import_coco(coco_template(), create_missing_data_units=True)
    assert report.ok, report.summary()
    assert report.counts.data_units_created == 3
    assert report.image_matches == {"created": 3}
    units = {u.title: u for u in project.list_data_units()}
    assert sorted(units) == ["a.jpg", "b.jpg", "clip.mp4"]
    assert (units["a.jpg"].width, units["a.jpg"].height, units["a.jpg"].frames) == (W, H, 1)
    assert units["clip.mp4"].data_type.value == "video" and units["clip.mp4"].frames == 3
    assert object_count(project) == 5
    # the next import matches the units it created
    again = project.import_coco(coco_template(), create_missing_data_units=True)
    assert again.counts.data_units_created == 0 and again.counts.updated == 5


# -- sources ------------------------------------------------------------------------------------------


def test_path_gz_bytes_and_dict_sources_import_alike(client: UserClient, tmp_path: Path) -> None:
    coco = coco_template()
    plain = write_json(tmp_path / "labels.json", coco)
    zipped = tmp_path / "labels.json.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    sources = {
        "path": plain,
        "str": str(plain),
        "gz": zipped,
        "bytes": plain.read_bytes(),
        "gz bytes": zipped.read_bytes(),
        "dict": coco,
    }
    exports = set()
    for name, source in sources.items():
        project = make_project(client, name)
        report = project.import_coco(source)
        assert report.ok and report.counts.imported == 5, name
        assert report.source == ("coco" if name in ("bytes", "gz bytes", "dict") else "labels.json"), name
        exported = project.export_coco_labels()
        exports.add(repr((exported["annotations"], exported["images"][:2])))
    assert len(exports) == 1


# -- idempotency ------------------------------------------------------------------------------------


def test_importing_twice_updates_and_never_duplicates(client: UserClient, tmp_path: Path) -> None:
    project = make_project(client)
    path = write_json(tmp_path / "labels.json", coco_template())
    first = project.import_coco(path)
    assert (first.counts.created, first.counts.updated) == (5, 0)
    hashes = {t: [o.object_hash for o in objs] for t, objs in objects_by_title(project).items()}
    export = project.export_coco_bytes()
    second = project.import_coco(path)
    assert (second.counts.created, second.counts.updated) == (0, 5)
    assert {t: [o.object_hash for o in objs] for t, objs in objects_by_title(project).items()} == hashes
    assert object_count(project) == 5
    assert project.export_coco_bytes() == export
    # a changed file updates its annotations in place
    moved = with_value(coco_template(), "annotations[0].bbox", [5, 5, 5, 5])
    write_json(path, moved)
    third = project.import_coco(path)
    assert third.counts.updated == 5 and object_count(project) == 5
    assert objects_by_title(project)["a.jpg"][0].object_hash == hashes["a.jpg"][0]
    assert single_box(project) == BoundingBox(5, 5, 5, 5)


def single_box(project: Any) -> Any:
    (box,) = [o for o in objects_by_title(project)["a.jpg"] if o.ontology_item.title == "box"]
    return box.get_annotation(0).coordinates


def test_replace_clears_the_touched_data_units_first(client: UserClient) -> None:
    project = make_project(client, data=(*DATA, ("untouched.jpg", W, H)))
    box = project.ontology_structure.get_child_by_title("box")
    for title in ("a.jpg", "untouched.jpg"):
        row = project.list_label_rows_v2(data_title_eq=title)[0]
        drawn = ObjectInstance(box)
        drawn.set_for_frames(BoundingBox(30, 30, 3, 3))
        row.add_object_instance(drawn)
        row.save()
    assert project.import_coco(coco_template()).counts.created == 5
    assert len(objects_by_title(project)["a.jpg"]) == 3
    report = project.import_coco(coco_template(), replace=True)
    assert report.ok
    assert report.counts.replaced == 6  # five imported, one drawn on a.jpg
    assert report.counts.created == 5
    rows = objects_by_title(project)
    assert len(rows["a.jpg"]) == 2 and BoundingBox(30, 30, 3, 3) not in coordinates(project, "a.jpg")
    assert coordinates(project, "untouched.jpg") == [BoundingBox(30, 30, 3, 3)]
    assert object_count(project) == 6


# -- the brief's scripts ----------------------------------------------------------------------------


BRIEF_IMPORTS = {
    "from encord.utilities.coco.datastructure import FrameIndex": "from labelport import FrameIndex",
    "from encord import EncordUserClient": "from labelport import EncordUserClient",
    "from encord.exceptions import OntologyError": "from labelport import OntologyError",
}


def port(script: str, key_path: Path, project_hash: str, coco_path: Path) -> str:
    """The brief's script with only its import lines (and its placeholders) changed."""
    for old, new in BRIEF_IMPORTS.items():
        assert script.count(old) == 1, old
        script = script.replace(old, new)
    placeholders = {
        '"<private_key_path>"': repr(str(key_path)),
        '"<project_id>"': repr(project_hash),
        "Path('COCOimportfile.json')": f"Path({str(coco_path)!r})",
    }
    for old, new in placeholders.items():
        assert script.count(old) == 1, old
        script = script.replace(old, new)
    assert "encord" not in script.replace("Encord", "")
    return script


def run_script(script: str, tmp_path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "ported.py"
    path.write_text(script)
    env = {**os.environ, "LABELPORT_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def brief_project(client: UserClient, shape: Shape) -> Any:
    ontology = OntologyStructure(objects=[Object("Cat", shape), Object("Dog", shape)])
    return make_project(
        client, "brief", ontology=ontology, data=(("cutekitty.jpg", 640, 480), ("cutepuppy.jpg", 640, 480))
    )


@pytest.mark.parametrize(
    ("name", "shape"), [("bounding_box", Shape.BOUNDING_BOX), ("polygon", Shape.POLYGON)]
)
def test_the_briefs_import_script_runs_with_its_imports_changed(
    client: UserClient,
    shared_fixtures: Path,
    key_path: Path,
    home: Path,
    tmp_path: Path,
    name: str,
    shape: Shape,
) -> None:
    project = brief_project(client, shape)
    original = json.loads((shared_fixtures / "seed" / f"{name}.json").read_text())
    # The script looks images up by image_title, which the platform's own export writes; the brief's
    # examples predate it, so each image gets the title of the data unit it belongs to.
    exported_by_platform = json.loads(json.dumps(original))
    for img in exported_by_platform["images"]:
        img["image_title"] = img["file_name"]
    coco_path = write_json(tmp_path / f"{name}.json", exported_by_platform)
    script = port(
        (shared_fixtures / "seed" / "import.py").read_text(), key_path, project.project_hash, coco_path
    )
    done = run_script(script, tmp_path, home)
    assert "Could not match" not in done.stdout
    rows = objects_by_title(project)
    (kitty,) = rows["cutekitty.jpg"]
    (puppy,) = rows["cutepuppy.jpg"]
    assert (kitty.ontology_item.title, puppy.ontology_item.title) == ("Cat", "Dog")
    if shape is Shape.BOUNDING_BOX:
        assert kitty.get_annotation(0).coordinates == BoundingBox(246, 251, 153, 159)
    else:
        ring = tuple(original["annotations"][0]["segmentation"])
        assert kitty.get_annotation(0).coordinates == Polygon((ring,))
    # nothing the file said was lost
    assert project.export_coco_labels()["annotations"] == original["annotations"]


def test_the_briefs_filename_mismatch_variant_runs(
    client: UserClient, shared_fixtures: Path, key_path: Path, home: Path, tmp_path: Path
) -> None:
    project = brief_project(client, Shape.BOUNDING_BOX)
    seed = shared_fixtures / "seed"
    script = seed.joinpath("import.py").read_text()
    # The variant replaces the script's image loop with its own, matching data titles to file names.
    start = script.index("data_title_to_label_row = ")
    end = script.index("# Import the COCO labels into Encord")
    script = script[:start] + seed.joinpath("filename_mismatch.py").read_text() + "\n\n" + script[end:]
    script = port(script, key_path, project.project_hash, seed / "bounding_box.json")
    run_script(script, tmp_path, home)
    rows = objects_by_title(project)
    assert [o.get_annotation(0).coordinates for o in rows["cutekitty.jpg"]] == [
        BoundingBox(246, 251, 153, 159)
    ]
    assert [o.get_annotation(0).coordinates for o in rows["cutepuppy.jpg"]] == [BoundingBox(220, 236, 76, 64)]


def test_the_briefs_script_reads_a_labelport_export_with_videos(
    client: UserClient, shared_fixtures: Path, key_path: Path, home: Path, tmp_path: Path
) -> None:
    """labelport's export writes image_title and video_title, so the script's both branches work."""
    source = make_project(client, "drawn")
    box = source.ontology_structure.get_child_by_title("box")
    for title, frame in (("a.jpg", 0), ("clip.mp4", 7)):
        row = source.list_label_rows_v2(data_title_eq=title)[0]
        instance = ObjectInstance(box)
        instance.set_for_frames(BoundingBox(1, 2, 3, 4 + frame), frames=frame)
        row.add_object_instance(instance)
        row.save()
    exported = write_json(tmp_path / "export.json", source.export_coco_labels())
    target = make_project(client, "target")
    script = port(
        (shared_fixtures / "seed" / "import.py").read_text(), key_path, target.project_hash, exported
    )
    run_script(script, tmp_path, home)
    rows = objects_by_title(target)
    assert [(o.ontology_item.title, sorted(o.frames)) for o in rows["clip.mp4"]] == [("box", [7])]
    assert coordinates(target, "clip.mp4") == [BoundingBox(1, 2, 3, 11)]
    assert coordinates(target, "a.jpg") == [BoundingBox(1, 2, 3, 4)]


def test_the_brief_files_match_without_any_script(client: UserClient, shared_fixtures: Path) -> None:
    project = brief_project(client, Shape.BOUNDING_BOX)
    report = project.import_coco(shared_fixtures / "seed" / "bounding_box.json")
    assert report.ok and report.image_matches == {"file_name": 2} and report.counts.imported == 2


# -- atomicity ------------------------------------------------------------------------------------------


BIG_ANNOTATIONS = 200_000
BIG_IMAGES = 2_000


@pytest.fixture(scope="session")
def big_coco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200,000-annotation file over 2,000 images, written once per session."""
    path = tmp_path_factory.mktemp("big") / "big.json"
    images = ",".join(
        f'{{"id":{i},"file_name":"img{i}.jpg","width":{W},"height":{H}}}' for i in range(1, BIG_IMAGES + 1)
    )
    annotations = ",".join(
        f'{{"id":{i},"image_id":{i % BIG_IMAGES + 1},"category_id":1,"bbox":[1,2,3,{i % 7 + 1}],'
        f'"area":{3 * (i % 7 + 1)},"iscrowd":0}}'
        for i in range(1, BIG_ANNOTATIONS + 1)
    )
    path.write_text(
        f'{{"images":[{images}],"annotations":[{annotations}],"categories":[{{"id":1,"name":"box"}}]}}'
    )
    return path


IMPORTER = textwrap.dedent(
    """
    import sys
    from labelport import UserClient

    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=sys.argv[1])
    project = client.get_project(sys.argv[2])

    def progress(done, total):
        print(done, total, flush=True)

    project.import_coco(sys.argv[3], progress=progress)
    print("committed", flush=True)
    """
)


@pytest.mark.parametrize("when", ["while_validating", "while_committing"])
def test_a_killed_import_leaves_the_store_as_it_was(
    client: UserClient, key_path: Path, home: Path, big_coco: Path, when: str
) -> None:
    project = make_project(client, data=(*DATA, *((f"img{i}.jpg", W, H) for i in range(1, BIG_IMAGES + 1))))
    assert project.import_coco(coco_template()).ok
    before_rows, before_export = store_rows(home), project.export_coco_bytes()
    wal = home / "labelport.db-wal"
    wal_before = wal.stat().st_size
    env = {**os.environ, "LABELPORT_HOME": str(home)}
    child = subprocess.Popen(
        [sys.executable, "-c", IMPORTER, str(key_path), project.project_hash, str(big_coco)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill reaches any worker it forked
    )
    try:
        assert child.stdout is not None
        if when == "while_validating":
            # the transaction is open and half the rows are written when the second half is still to come
            for line in child.stdout:
                done, total = map(int, line.split())
                if total and done >= total // 2:
                    break
            else:
                pytest.fail(f"the import ended before the kill: {child.wait()} {child.communicate()[1]}")
        else:
            # the commit is under way: pages are landing in the WAL
            deadline = time.monotonic() + 60
            while wal.stat().st_size < wal_before + (1 << 20):
                assert child.poll() is None, "the import ended before the kill"
                assert time.monotonic() < deadline, "the WAL never grew"
                time.sleep(0.001)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
        if child.stderr is not None:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    # a new client on the same file finds the store exactly as before the import
    fresh = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)
    reopened = fresh.get_project(project.project_hash)
    assert store_rows(home) == before_rows
    assert reopened.export_coco_bytes() == before_export
    assert object_count(reopened) == 5
    # and it is not locked: the next import works
    assert reopened.import_coco(coco_template()).counts.updated == 5


# -- every shared fixture -----------------------------------------------------------------------------


FIXTURE_FILES = [
    "seed/bounding_box.json",
    "seed/polygon.json",
    "coco-val2014-100/instances_val2014_100.json",
    "keypoints/person_keypoints_gt.json",
    "datumaro/instances_val.json",
    "datumaro/person_keypoints_val.json",
    "label-studio/coco_import_input.json",
]
CONVERSIONS = {"coco-val2014-100/instances_val2014_100.json": {"rle->polygon": 9}}
RESULTS_FILE = "predictions/instances_val2014_fakebbox100_results.json"


def test_the_fixture_list_covers_the_folder(shared_fixtures: Path) -> None:
    found = sorted(str(p.relative_to(shared_fixtures)) for p in shared_fixtures.rglob("*.json"))
    assert found == sorted([*FIXTURE_FILES, RESULTS_FILE])


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_every_fixture_file_imports(client: UserClient, shared_fixtures: Path, name: str) -> None:
    path = shared_fixtures / name
    original = json.loads(path.read_text())
    project = client.create_project(name, from_coco=path)
    report = project.import_coco(path, create_missing_data_units=True)
    assert report.ok, report.summary()
    assert report.counts.imported == len(original["annotations"])
    assert report.counts.images_matched == len(original["images"])
    # crowd regions (RLE) in a category of polygons read as polygons; the records stay as they were
    assert report.conversions == CONVERSIONS.get(name, {})
    assert object_count(project) == len(original["annotations"])
    warned = {w.code for w in report.warnings}
    assert warned <= {"outside_image"}, report.summary()


def test_the_results_fixture_lands_on_a_branch(client: UserClient, shared_fixtures: Path) -> None:
    ground_truth = shared_fixtures / "coco-val2014-100" / "instances_val2014_100.json"
    project = client.create_project("val2014", from_coco=ground_truth)
    assert project.import_coco(ground_truth, create_missing_data_units=True).ok
    main_before = project.export_coco_bytes()
    results = shared_fixtures / RESULTS_FILE
    report = project.import_coco(results, branch_name="predictions")
    assert report.ok, report.summary()
    expected = json.loads(results.read_text())
    assert report.counts.imported == len(expected) == 734
    assert object_count(project, "predictions") == 734
    assert project.export_coco_bytes() == main_before
    scores = sorted(
        f.confidence
        for rows in objects_by_title(project, "predictions").values()
        for o in rows
        for f in o.get_annotations()
    )
    assert scores == sorted(r["score"] for r in expected)
    # and the branch exports as the results list it came from
    assert project.export_coco_labels(branch_name="predictions", results=True) == expected


def test_a_dict_orjson_refuses_is_written_by_msgspec() -> None:
    """A COCO dict is written by orjson; keys that are not strings and integers beyond 64 bits, which
    orjson refuses, are written by msgspec, so such a dict imports as before."""
    from labelport.formats.coco.read import encode_document

    doc = {"images": [], "info": {1: "one", "big": 2**70}}
    assert json.loads(encode_document(doc)) == {"images": [], "info": {"1": "one", "big": 2**70}}
    plain = {"images": [{"id": 1, "width": 2.5}], "annotations": []}
    assert json.loads(encode_document(plain)) == plain
