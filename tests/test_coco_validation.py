"""COCO validation, table-driven: one valid template, each case breaks one thing.

Every case asserts the exact error code, JSON path and annotation id; under ``on_error="fail"`` the
import raises :class:`labelport.ImportFailed` and leaves the store as it was, under ``on_error="skip"``
it imports the rest and lists what it skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coco_builders import (
    DELETE,
    H,
    RawJson,
    W,
    box_mask,
    coco_template,
    compressed_rle,
    make_project,
    object_count,
    objects_by_title,
    store_rows,
    to_bytes,
    uncompressed_rle,
    with_value,
    write_json,
)
from labelport import CocoError, ImportFailed, Polygon, UserClient

TEMPLATE_ANNOTATIONS = len(coco_template()["annotations"])


@dataclass(frozen=True)
class Case:
    """Set ``where`` to ``value`` in the template; expect one error ``code`` at ``path``."""

    name: str
    where: str
    value: Any
    code: str
    path: str
    annotation_id: int | str | None
    #: annotations that cannot be imported because of it
    skipped: int = 1


MASK = box_mask(5, 15, 20, 40)
CASES = [
    Case("unknown_image", "annotations[0].image_id", 99, "image_unknown", "annotations[0].image_id", 1),
    Case(
        "unknown_category",
        "annotations[0].category_id",
        99,
        "category_unknown",
        "annotations[0].category_id",
        1,
    ),
    Case("duplicate_id", "annotations[1].id", 1, "id_duplicate", "annotations[1].id", 1),
    Case("missing_id", "annotations[0].id", DELETE, "id_missing", "annotations[0].id", None),
    Case("string_id", "annotations[0].id", "one", "id_type", "annotations[0].id", "one"),
    Case("float_id", "annotations[0].id", 1.5, "id_type", "annotations[0].id", None),
    Case("bbox_negative_width", "annotations[0].bbox[2]", -10, "bbox_size", "annotations[0].bbox", 1),
    Case("bbox_zero_height", "annotations[0].bbox[3]", 0, "bbox_size", "annotations[0].bbox", 1),
    Case(
        "bbox_infinite",
        "annotations[0].bbox[2]",
        RawJson("1e999"),
        "bbox_nonfinite",
        "annotations[0].bbox",
        1,
    ),
    Case("bbox_three_numbers", "annotations[0].bbox", [2, 3, 10], "bbox_type", "annotations[0].bbox", 1),
    Case("bbox_text", "annotations[0].bbox[1]", "3", "bbox_type", "annotations[0].bbox", 1),
    Case(
        "polygon_odd",
        "annotations[1].segmentation",
        [[10, 10, 30, 10, 30, 20, 10]],
        "polygon_odd",
        "annotations[1].segmentation[0]",
        2,
    ),
    Case(
        "polygon_odd_second_ring",
        "annotations[1].segmentation",
        [[10, 10, 30, 10, 30, 20], [1, 1, 5, 1, 5, 5, 1]],
        "polygon_odd",
        "annotations[1].segmentation[1]",
        2,
    ),
    Case(
        "flat_polygon_odd",
        "annotations[1].segmentation",
        [10, 10, 30, 10, 30, 20, 10],
        "polygon_odd",
        "annotations[1].segmentation",
        2,
    ),
    Case(
        "polygon_two_points",
        "annotations[1].segmentation",
        [[10, 10, 30, 10]],
        "polygon_short",
        "annotations[1].segmentation[0]",
        2,
    ),
    Case(
        "polygon_text",
        "annotations[1].segmentation[0][3]",
        "ten",
        "polygon_type",
        "annotations[1].segmentation[0][3]",
        2,
    ),
    Case(
        "rle_size",
        "annotations[2].segmentation.size",
        [H, W + 1],
        "rle_size",
        "annotations[2].segmentation.size",
        3,
    ),
    Case(
        "rle_counts_list",
        "annotations[2].segmentation.counts",
        [*uncompressed_rle(MASK)["counts"], 5],
        "rle_counts",
        "annotations[2].segmentation.counts",
        3,
    ),
    Case(
        "rle_counts_compressed",
        "annotations[2].segmentation",
        # a mask one column wider than the image, claiming the image's size
        {"size": [H, W], "counts": compressed_rle(box_mask(5, 15, 20, 40, width=W + 1))["counts"]},
        "rle_counts",
        "annotations[2].segmentation.counts",
        3,
    ),
    Case(
        "keypoints_fewer_than_names",
        "annotations[3].keypoints",
        [10, 10, 2, 12, 8, 2],
        "keypoints_length",
        "annotations[3].keypoints",
        4,
    ),
    Case(
        "keypoints_not_triples",
        "annotations[3].keypoints",
        [10, 10, 2, 12, 8, 2, 8, 8],
        "keypoints_length",
        "annotations[3].keypoints",
        4,
    ),
    Case(
        "keypoints_visibility",
        "annotations[3].keypoints[8]",
        3,
        "keypoints_visibility",
        "annotations[3].keypoints",
        4,
    ),
    Case("iscrowd_two", "annotations[0].iscrowd", 2, "iscrowd_type", "annotations[0].iscrowd", 1),
    Case("iscrowd_word", "annotations[0].iscrowd", "yes", "iscrowd_type", "annotations[0].iscrowd", 1),
    Case("score_above_one", "annotations[0].score", 1.5, "score_range", "annotations[0].score", 1),
    Case("score_negative", "annotations[0].score", -0.1, "score_range", "annotations[0].score", 1),
    Case("score_text", "annotations[0].score", "high", "score_range", "annotations[0].score", 1),
    Case(
        "attributes_list",
        "annotations[0].attributes",
        ["occluded"],
        "attributes_type",
        "annotations[0].attributes",
        1,
    ),
    Case(
        "attributes_text",
        "annotations[0].attributes",
        "occluded",
        "attributes_type",
        "annotations[0].attributes",
        1,
    ),
    Case("no_geometry", "annotations[0].bbox", DELETE, "no_geometry", "annotations[0].bbox", 1),
    Case("area_text", "annotations[0].area", "big", "area_type", "annotations[0].area", 1),
    Case("area_infinite", "annotations[0].area", RawJson("1e999"), "area_type", "annotations[0].area", 1),
    Case(
        "polygon_infinite",
        "annotations[1].segmentation[0][3]",
        RawJson("-1e999"),
        "polygon_nonfinite",
        "annotations[1].segmentation[0][3]",
        2,
    ),
    Case(
        "keypoint_infinite",
        "annotations[3].keypoints[0]",
        RawJson("1e999"),
        "keypoints_type",
        "annotations[3].keypoints",
        4,
    ),
    Case("keypoints_text", "annotations[3].keypoints", "x", "keypoints_type", "annotations[3].keypoints", 4),
    Case(
        "segmentation_text",
        "annotations[1].segmentation",
        "abc",
        "segmentation_type",
        "annotations[1].segmentation",
        2,
    ),
    Case(
        "rle_without_counts",
        "annotations[2].segmentation.counts",
        DELETE,
        "rle_type",
        "annotations[2].segmentation.counts",
        3,
    ),
    Case(
        "rle_corrupt_string",
        "annotations[2].segmentation",
        {"size": [H, W], "counts": "!!"},
        "rle_counts",
        "annotations[2].segmentation.counts",
        3,
    ),
    Case("track_id_list", "annotations[0].track_id", [1], "track_id_type", "annotations[0].track_id", 1),
    Case("annotation_not_an_object", "annotations[0]", 5, "annotation_type", "annotations[0]", None),
    # image-level: the video has 10 frames (0..9); the one annotation on that image cannot land
    Case("frame_beyond_video", "images[2].frame", 10, "frame_range", "images[2]", None),
]


@pytest.fixture
def project(client: UserClient) -> Any:
    return make_project(client)


def test_the_template_is_valid(project: Any) -> None:
    report = project.import_coco(coco_template(), dry_run=True)
    assert report.ok, report.summary()
    assert report.warnings == []
    assert report.counts.imported == TEMPLATE_ANNOTATIONS


def _problems(report: Any) -> list[tuple[str, str, Any]]:
    return [(p.code, p.path, p.annotation_id) for p in report.errors]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fail_reports_the_exact_problem_and_writes_nothing(case: Case, project: Any, home: Path) -> None:
    before_export = project.export_coco_bytes()
    before_rows = store_rows(home)
    source = to_bytes(with_value(coco_template(), case.where, case.value))
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(source, on_error="fail")
    report = failed.value.report
    assert _problems(report) == [(case.code, case.path, case.annotation_id)]
    assert report.counts.errors == 1
    assert not report.written
    assert case.path in str(failed.value)
    # the store is as it was: no objects, no label rows, no import recorded
    assert all(not objects for objects in objects_by_title(project).values())
    assert store_rows(home) == before_rows
    assert project.export_coco_bytes() == before_export


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_skip_imports_the_rest_and_lists_what_it_skipped(case: Case, project: Any) -> None:
    source = to_bytes(with_value(coco_template(), case.where, case.value))
    report = project.import_coco(source, on_error="skip")
    assert _problems(report) == [(case.code, case.path, case.annotation_id)]
    assert report.written
    assert report.counts.skipped == case.skipped
    assert report.counts.imported == TEMPLATE_ANNOTATIONS - case.skipped
    assert object_count(project) == TEMPLATE_ANNOTATIONS - case.skipped
    kept_ids = {a["id"] for a in project.export_coco_labels()["annotations"]}
    if isinstance(case.annotation_id, int) and case.code != "id_duplicate":
        assert case.annotation_id not in kept_ids


STRUCTURE_CASES = [
    (
        "categories[1].id",
        1,
        [
            ("category_duplicate", "categories[1].id", None),
            ("category_unknown", "annotations[1].category_id", 2),
        ],
    ),
    (
        "categories[0].name",
        "",
        [
            ("category_name", "categories[0].name", None),
            ("category_unknown", "annotations[0].category_id", 1),
            ("category_unknown", "annotations[4].category_id", 5),
        ],
    ),
    (
        "categories[0].id",
        1.5,  # ("one" is a category id as it is an image id)
        [
            ("category_id", "categories[0].id", None),
            ("category_unknown", "annotations[0].category_id", 1),
            ("category_unknown", "annotations[4].category_id", 5),
        ],
    ),
    (
        "images[1].id",
        1,
        [
            ("image_duplicate", "images[1].id", None),
            ("image_unknown", "annotations[2].image_id", 3),
            ("image_unknown", "annotations[3].image_id", 4),
        ],
    ),
    (
        "images[0]",
        "a.jpg",
        [
            ("image_type", "images[0]", None),
            ("image_unknown", "annotations[0].image_id", 1),
            ("image_unknown", "annotations[1].image_id", 2),
        ],
    ),
]


@pytest.mark.parametrize(
    ("where", "value", "expected"),
    STRUCTURE_CASES,
    ids=["category_duplicate", "category_name", "category_id", "image_duplicate", "image_type"],
)
def test_a_broken_image_or_category_is_reported_with_the_annotations_it_strands(
    project: Any, where: str, value: Any, expected: list[tuple[str, str, Any]]
) -> None:
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(with_value(coco_template(), where, value))
    assert _problems(failed.value.report) == expected
    assert object_count(project) == 0


def test_one_pass_finds_every_problem(project: Any) -> None:
    coco = coco_template()
    coco = with_value(coco, "annotations[0].bbox[2]", 0)
    coco = with_value(coco, "annotations[1].segmentation", [[10, 10, 30, 10, 30]])
    coco = with_value(coco, "annotations[2].segmentation.size", [1, 1])
    coco = with_value(coco, "annotations[3].keypoints[2]", 7)
    coco = with_value(coco, "annotations[4].category_id", 42)
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(coco)
    assert _problems(failed.value.report) == [
        ("bbox_size", "annotations[0].bbox", 1),
        ("polygon_odd", "annotations[1].segmentation[0]", 2),
        ("rle_size", "annotations[2].segmentation.size", 3),
        ("keypoints_visibility", "annotations[3].keypoints", 4),
        ("category_unknown", "annotations[4].category_id", 5),
    ]
    assert "(and 4 more problems)" in str(failed.value)
    assert object_count(project) == 0


def test_one_annotation_with_several_problems_reports_each(project: Any) -> None:
    coco = with_value(coco_template(), "annotations[0].image_id", 99)
    coco = with_value(coco, "annotations[0].bbox", [1, 2, 3])
    coco = with_value(coco, "annotations[0].iscrowd", "maybe")
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(coco)
    assert _problems(failed.value.report) == [
        ("image_unknown", "annotations[0].image_id", 1),
        ("bbox_type", "annotations[0].bbox", 1),
        ("iscrowd_type", "annotations[0].iscrowd", 1),
    ]


def test_the_briefs_polygon_outside_the_image_is_kept_as_given(project: Any) -> None:
    """The brief's polygon has y values beyond the 480-pixel height: a warning, never clamped."""
    ring = [508, 559, 512, 555, 517, 554, 520, 548, 527, 542, 531, 540, 538, 540, 553, 562]
    coco = coco_template()
    coco["images"].append({"id": 9, "file_name": "big.jpg", "width": 640, "height": 480})
    # the brief's record as written: a flat list, no bbox, iscrowd as a boolean
    brief = {
        "id": 6,
        "image_id": 9,
        "category_id": 2,
        "segmentation": ring,
        "area": 1234.56,
        "iscrowd": False,
    }
    coco["annotations"].append(brief)
    project.add_data([("big.jpg", 640, 480)])
    report = project.import_coco(coco, on_error="fail")
    assert report.ok
    assert [(p.code, p.path, p.annotation_id) for p in report.warnings] == [
        ("outside_image", "annotations[5].segmentation", 6)
    ]
    (instance,) = objects_by_title(project)["big.jpg"]
    assert instance.get_annotation(0).coordinates == Polygon((tuple(ring),))
    exported = {a["id"]: a for a in project.export_coco_labels()["annotations"]}
    assert exported[6] == brief


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        ("annotations[0].bbox", [-2, 3, 10, 8], "annotations[0].bbox"),
        ("annotations[0].bbox", [60, 40, 10, 10], "annotations[0].bbox"),
        ("annotations[3].keypoints", [10, 10, 2, 99, 8, 2, 8, 8, 1], "annotations[3].keypoints"),
    ],
    ids=["bbox_left_of_image", "bbox_past_corner", "keypoint_right_of_image"],
)
def test_other_coordinates_outside_the_image_warn_and_are_kept(
    project: Any, where: str, value: Any, path: str
) -> None:
    coco = with_value(coco_template(), where, value)
    report = project.import_coco(coco)
    assert report.ok
    assert [(p.code, p.path) for p in report.warnings] == [("outside_image", path)]
    exported = project.export_coco_labels()["annotations"]
    assert exported == coco["annotations"]


def test_hidden_keypoints_outside_the_image_do_not_warn(project: Any) -> None:
    coco = with_value(coco_template(), "annotations[3].keypoints", [10, 10, 2, 12, 8, 2, -50, -50, 0])
    report = project.import_coco(coco)
    assert report.ok and report.warnings == []


def test_unmatched_category_is_an_error_naming_the_category(client: UserClient) -> None:
    ontology = make_project(client).ontology_structure
    ontology.objects = [o for o in ontology.objects if o.title != "poly"]
    project = make_project(client, "without poly", ontology=ontology)
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(coco_template())
    assert _problems(failed.value.report) == [("category_unmatched", "annotations[1].category_id", 2)]
    report = project.import_coco(coco_template(), on_error="skip")
    assert report.counts.categories_unmatched == 1
    assert report.counts.imported == TEMPLATE_ANNOTATIONS - 1


def test_an_image_no_data_unit_matches_is_an_error_when_it_has_annotations(client: UserClient) -> None:
    project = make_project(client, data=(("a.jpg", W, H), ("clip.mp4", W, H, 10)))
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(coco_template())
    assert _problems(failed.value.report) == [("image_unmatched", "images[1]", None)]
    report = project.import_coco(coco_template(), on_error="skip")
    assert report.counts.images_unmatched == 1
    assert report.counts.skipped == 2  # the mask and the keypoints on b.jpg
    assert [m.file_name for m in report.unmatched_images] == ["b.jpg"]


def test_an_unmatched_image_without_annotations_is_only_a_warning(project: Any) -> None:
    coco = coco_template()
    coco["images"].append({"id": 7, "file_name": "nowhere.jpg", "width": W, "height": H})
    report = project.import_coco(coco)
    assert report.ok
    assert [(p.code, p.path) for p in report.warnings] == [("image_unmatched", "images[3]")]


# -- files that are not COCO at all ------------------------------------------------------------------


def _one_sentence(error: CocoError) -> str:
    text = str(error)
    assert "\n" not in text and text.endswith("."), text
    return text


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"{ not json", "is not valid JSON"),
        (b"", "must hold a JSON object"),
        (b"42", "must hold a JSON object"),
        (b'"a string"', "must hold a JSON object"),
        (b'{"annotations": [], "categories": []}', "'images'"),
        (b'{"images": {}, "annotations": [], "categories": []}', "'images' must be a list"),
    ],
    ids=["not_json", "empty", "number", "string", "missing_images", "images_not_a_list"],
)
def test_a_file_that_is_not_coco_is_one_sentence(
    project: Any, tmp_path: Path, data: bytes, words: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(data)
    with pytest.raises(CocoError) as raised:
        project.import_coco(path)
    text = _one_sentence(raised.value)
    assert words in text
    assert text.startswith("broken.json")
    with pytest.raises(CocoError):
        project.import_coco(data)


def test_a_missing_file_is_a_coco_error_naming_it(project: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "instances.json"
    with pytest.raises(CocoError) as raised:
        project.import_coco(missing)
    assert raised.value.file == str(missing)
    assert str(missing) in _one_sentence(raised.value)


def test_a_file_on_disk_reports_the_same_problems(project: Any, tmp_path: Path) -> None:
    path = write_json(tmp_path / "x.json", with_value(coco_template(), "annotations[0].bbox[2]", 0))
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(path)
    assert failed.value.report.source == "x.json"
    assert _problems(failed.value.report) == [("bbox_size", "annotations[0].bbox", 1)]


def test_an_image_size_other_than_the_data_units_is_a_warning(project: Any) -> None:
    coco = with_value(coco_template(), "images[0].width", 2 * W)
    report = project.import_coco(coco)
    assert report.ok
    assert [(p.code, p.path) for p in report.warnings] == [("size_mismatch", "images[0]")]


def test_empty_lists_are_a_coco_file_absent_ones_are_not(project: Any, client: UserClient) -> None:
    """``"annotations": []`` (a file of images only) imports nothing and fails nothing; a file
    without the key is not COCO."""
    coco = coco_template()
    coco["annotations"] = []
    report = project.import_coco(coco)
    assert report.ok and report.counts.annotations == 0 and report.counts.images == 3
    empty = {"images": [], "annotations": [], "categories": [{"id": 3, "name": "cat"}]}
    assert [o.title for o in client.create_project("cats", from_coco=empty).ontology_structure.objects] == [
        "cat"
    ]
    del coco["annotations"]
    with pytest.raises(CocoError, match="has no 'annotations' list"):
        project.import_coco(coco)


def test_an_image_without_an_id_is_named_in_plain_words(project: Any) -> None:
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(with_value(coco_template(), "images[0].id", DELETE))
    first = failed.value.report.errors[0]
    assert (first.code, first.path) == ("image_id", "images[0].id")
    assert first.message == "an image id must be a whole number or a string, not None."
