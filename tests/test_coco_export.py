"""COCO export: keeps what came in, writes real COCO for the rest, and real tools accept it.

Every shared fixture goes through import and export and comes back equal field by field (ints stay
ints), mask for mask, and byte for byte on a second round; pycocotools, faster-coco-eval and Datumaro
read the exports; labels made in code export with fresh ids and COCO's own areas.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import uuid
import warnings
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from coco_builders import (
    DATA,
    KEYPOINT_NAMES,
    SKELETON_EDGES,
    H,
    W,
    box_mask,
    coco_template,
    compressed_rle,
    make_project,
    objects_by_title,
    segmentation_mask,
    template_ontology,
    write_json,
)
from labelport import (
    Bitmask,
    BoundingBox,
    DataUnit,
    Member,
    Object,
    ObjectInstance,
    OntologyStructure,
    Point,
    Polygon,
    Polyline,
    RotatableBoundingBox,
    Shape,
    Skeleton,
    UserClient,
)

FIXTURE_FILES = [
    "seed/bounding_box.json",
    "seed/polygon.json",
    "coco-val2014-100/instances_val2014_100.json",
    "keypoints/person_keypoints_gt.json",
    "datumaro/instances_val.json",
    "datumaro/person_keypoints_val.json",
    "label-studio/coco_import_input.json",
]
VAL2014 = "coco-val2014-100/instances_val2014_100.json"


def strict(value: Any) -> str:
    """A canonical text of a JSON value, so that 1 and 1.0 (and True and 1) compare different."""
    return json.dumps(value, sort_keys=True)


def round_trip(client: UserClient, path: Path, title: str = "round trip") -> tuple[Any, bytes]:
    """Create a project from a COCO file, import it with its data units, and export."""
    project = client.create_project(title, from_coco=path)
    report = project.import_coco(path, create_missing_data_units=True)
    assert report.ok, report.summary()
    return project, project.export_coco_bytes()


@pytest.fixture(scope="module")
def val2014_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The val2014 fixture after import and export, written once for the real-client tests."""
    from conftest import SHARED_FIXTURES, write_key

    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"the shared fixtures folder {SHARED_FIXTURES} is absent")
    folder = tmp_path_factory.mktemp("val2014")
    client = UserClient.create_with_ssh_private_key(
        ssh_private_key_path=write_key(folder / "id_ed25519"), home=folder / "home"
    )
    _, data = round_trip(client, SHARED_FIXTURES / VAL2014)
    path = folder / "export.json"
    path.write_bytes(data)
    return path


# -- every fixture file -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_export_gives_back_every_field(client: UserClient, shared_fixtures: Path, name: str) -> None:
    path = shared_fixtures / name
    original = json.loads(path.read_text())
    _, data = round_trip(client, path)
    exported = json.loads(data)
    for section in ("info", "licenses"):
        if section in original:
            assert strict(exported[section]) == strict(original[section]), section
    assert [strict(c) for c in exported["categories"]] == [strict(c) for c in original["categories"]]
    assert sorted(strict(i) for i in exported["images"]) == sorted(strict(i) for i in original["images"])
    assert len(exported["annotations"]) == len(original["annotations"])
    sizes = {i["id"]: (i["height"], i["width"]) for i in original["images"]}
    by_id = {a["id"]: a for a in exported["annotations"]}
    # every annotation record is in the export byte for byte, whitespace and all
    records = msgspec.json.decode(path.read_bytes(), type=dict[str, msgspec.Raw])["annotations"]
    for raw in msgspec.json.decode(records, type=list[msgspec.Raw]):
        assert bytes(raw) in data
    for source in original["annotations"]:
        written = by_id[source["id"]]
        assert sorted(written) == sorted(source), source["id"]
        for key, value in source.items():
            # ids, category ids, bbox, segmentation (same form and values), keypoints, iscrowd, attributes
            assert strict(written[key]) == strict(value), (source["id"], key)
        segmentation = source.get("segmentation")
        if segmentation and isinstance(segmentation, (list, dict)):
            height, width = sizes[source["image_id"]]
            before = segmentation_mask(segmentation, height, width)
            after = segmentation_mask(written["segmentation"], height, width)
            assert np.array_equal(before, after), source["id"]


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_export_import_export_gives_the_same_bytes(
    client: UserClient, shared_fixtures: Path, tmp_path: Path, name: str
) -> None:
    _, first = round_trip(client, shared_fixtures / name, "first")
    path = tmp_path / "first.json"
    path.write_bytes(first)
    _, second = round_trip(client, path, "second")
    assert second == first
    # and exporting twice without changes is deterministic
    project, again = round_trip(client, path, "third")
    assert again == first and project.export_coco_bytes() == first


# -- real clients -----------------------------------------------------------------------------------


def _quiet(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a COCO tool that prints as it works, keeping the test output clean."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return call(*args, **kwargs)


def test_pycocotools_loads_the_export(val2014_export: Path, shared_fixtures: Path) -> None:
    from pycocotools.coco import COCO

    coco = _quiet(COCO, str(val2014_export))
    original = json.loads((shared_fixtures / VAL2014).read_text())
    assert len(coco.getImgIds()) == 100 and len(coco.getAnnIds()) == 839 and len(coco.getCatIds()) == 80
    for ann in coco.loadAnns(coco.getAnnIds()[:50]):
        mask = _quiet(coco.annToMask, ann)
        assert mask.sum() > 0
    assert sorted(coco.getAnnIds()) == sorted(a["id"] for a in original["annotations"])


def test_faster_coco_eval_loads_the_export(val2014_export: Path) -> None:
    from faster_coco_eval import COCO

    coco = COCO(str(val2014_export))
    assert len(coco.getImgIds()) == 100 and len(coco.getAnnIds()) == 839 and len(coco.getCatIds()) == 80


def _detections(export: Path) -> list[dict[str, Any]]:
    return [dict(a, score=1.0) for a in json.loads(export.read_text())["annotations"]]


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_cocoeval_of_the_export_against_the_original_is_perfect(
    val2014_export: Path, shared_fixtures: Path, iou_type: str
) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ground_truth = _quiet(COCO, str(shared_fixtures / VAL2014))
    detections = _quiet(ground_truth.loadRes, _detections(val2014_export))
    evaluation = COCOeval(ground_truth, detections, iou_type)
    _quiet(evaluation.evaluate)
    _quiet(evaluation.accumulate)
    _quiet(evaluation.summarize)
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP @ IoU 0.50:0.95
    assert evaluation.stats[1] == pytest.approx(1.0)  # AP @ IoU 0.50


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_faster_coco_eval_of_the_export_against_the_original_is_perfect(
    val2014_export: Path, shared_fixtures: Path, iou_type: str
) -> None:
    from faster_coco_eval import COCO, COCOeval_faster

    ground_truth = COCO(str(shared_fixtures / VAL2014))
    detections = ground_truth.loadRes(_detections(val2014_export))
    evaluation = COCOeval_faster(ground_truth, detections, iou_type, print_function=lambda *a: None)
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)
    assert evaluation.stats[1] == pytest.approx(1.0)


def test_datumaro_reads_the_export(val2014_export: Path, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Datumaro's own imports warn about their dependencies
        from datumaro.components.dataset import Dataset

        annotations = tmp_path / "dataset" / "annotations"
        annotations.mkdir(parents=True)
        (tmp_path / "dataset" / "images" / "val").mkdir(parents=True)  # Datumaro insists on the folder
        (annotations / "instances_val.json").write_bytes(val2014_export.read_bytes())
        dataset = Dataset.import_from(str(tmp_path / "dataset"), "coco_instances")
        items = list(dataset)
    assert len(items) == 100
    # Datumaro splits a polygon of several parts into several shapes of one group: count by id
    regions = {(item.id, ann.id) for item in items for ann in item.annotations}
    assert len(regions) == 839


# -- labels made in code ------------------------------------------------------------------------------


def _code_ontology() -> OntologyStructure:
    ontology = template_ontology()
    ontology.objects.append(Object("turned", Shape.ROTATABLE_BOUNDING_BOX))
    return ontology


def _draw(project: Any, title: str, obj: str, coordinates: Any, frame: int = 0, **kwargs: Any) -> Any:
    row = project.list_label_rows_v2(data_title_eq=title)[0]
    instance = ObjectInstance(project.ontology_structure.get_child_by_title(obj, Object))
    instance.set_for_frames(coordinates, frames=frame, **kwargs)
    row.add_object_instance(instance)
    row.save()
    return instance


@pytest.fixture
def drawn(client: UserClient) -> Any:
    """The template imported, then one label of each shape drawn in code on a.jpg."""
    project = make_project(client, ontology=_code_ontology(), data=(*DATA, ("empty.jpg", W, H)))
    assert project.import_coco(coco_template()).ok
    box = _draw(project, "a.jpg", "box", BoundingBox(1, 2, 3, 4), confidence=0.8, manual_annotation=False)
    note, colour = box.ontology_item.attributes
    row = project.list_label_rows_v2(data_title_eq="a.jpg")[0]
    (stored,) = [o for o in row.object_instances if o.object_hash == box.object_hash]
    stored.set_answer("drawn", note)
    stored.set_answer("Dark Blue", colour)
    row.save()
    _draw(
        project,
        "a.jpg",
        "poly",
        Polygon(((0.5, 0.5, 20.5, 0.5, 20.5, 10.5, 0.5, 10.5), (30, 30, 40, 30, 35, 40))),
    )
    _draw(project, "a.jpg", "mask", Bitmask((H, W), compressed_rle(box_mask(2, 6, 3, 9))["counts"]))
    _draw(project, "a.jpg", "person", Skeleton((1, 1, 2, 5, 5, 1, 0, 0, 0)))
    _draw(project, "a.jpg", "turned", RotatableBoundingBox(10, 10, 20, 10, 45))
    return project


def _by_category(export: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    names = {c["id"]: c["name"] for c in export["categories"]}
    out: dict[str, list[dict[str, Any]]] = {}
    for ann in export["annotations"]:
        out.setdefault(names[ann["category_id"]], []).append(ann)
    return out


def test_labels_made_in_code_export_as_coco(drawn: Any) -> None:
    export = drawn.export_coco_labels()
    template = coco_template()
    ids = [a["id"] for a in export["annotations"]]
    assert len(ids) == len(set(ids)) == 10
    # the imported annotations come back as they were; the drawn ones get ids above every kept id
    by_id = {a["id"]: a for a in export["annotations"]}
    assert [by_id[a["id"]] for a in template["annotations"]] == template["annotations"]
    assert sorted(ids) == list(range(1, 11))
    images = {i["id"]: i for i in export["images"]}
    a_jpg = next(i["id"] for i in export["images"] if i["file_name"] == "a.jpg")
    drawn_anns = _by_category({**export, "annotations": [by_id[i] for i in range(6, 11)]})
    assert all(a["image_id"] == a_jpg and a["iscrowd"] == 0 for anns in drawn_anns.values() for a in anns)

    (box,) = drawn_anns["box"]
    assert box["bbox"] == [1, 2, 3, 4] and box["area"] == 12
    assert box["score"] == 0.8
    assert box["attributes"] == {"note": "drawn", "colour": "Dark Blue"}

    (poly,) = drawn_anns["poly"]
    rings = [[0.5, 0.5, 20.5, 0.5, 20.5, 10.5, 0.5, 10.5], [30, 30, 40, 30, 35, 40]]
    assert poly["segmentation"] == rings
    assert poly["bbox"] == [0.5, 0.5, 39.5, 39.5]
    assert poly["area"] == int(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(rings, H, W))))
    assert "score" not in poly

    (mask,) = drawn_anns["mask"]
    assert mask["segmentation"] == compressed_rle(box_mask(2, 6, 3, 9))
    assert mask["area"] == 24 and mask["bbox"] == [3.0, 2.0, 6.0, 4.0]

    (person,) = drawn_anns["person"]
    assert person["keypoints"] == [1, 1, 2, 5, 5, 1, 0, 0, 0] and person["num_keypoints"] == 2
    categories = {c["name"]: c for c in export["categories"]}
    assert categories["person"]["keypoints"] == KEYPOINT_NAMES
    assert categories["person"]["skeleton"] == SKELETON_EDGES

    (turned,) = drawn_anns["turned"]
    assert turned["bbox"] == [10, 10, 20, 10] and turned["attributes"] == {"rotation": 45}
    assert turned["area"] == 200
    # a category made in code gets an id above the kept ones
    assert categories["turned"]["id"] == 5
    assert [c["id"] for c in export["categories"]] == [1, 2, 3, 4, 5]

    # every image is listed, labelled or not; the video's frames as <title>/<frame>.jpg
    assert "empty.jpg" in {i["file_name"] for i in images.values()}
    frames = sorted((i["frame"], i["file_name"], i["video_title"]) for i in images.values() if "frame" in i)
    assert frames == [(n, f"clip.mp4/{n}.jpg", "clip.mp4") for n in range(10)]
    assert len(set(images)) == len(export["images"]) == 13


def test_made_in_code_areas_match_pycocotools(drawn: Any, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    export = drawn.export_coco_labels()
    coco = _quiet(COCO, str(write_json(tmp_path / "export.json", export)))
    for ann in (a for a in export["annotations"] if a["id"] > 5):
        if ann.get("segmentation"):
            assert ann["area"] == int(mask_utils.area(_quiet(coco.annToRLE, ann))), ann["id"]
        else:
            assert ann["area"] == ann["bbox"][2] * ann["bbox"][3], ann["id"]


def test_a_video_exported_imports_back_with_no_matching_code(client: UserClient, tmp_path: Path) -> None:
    project = make_project(client, data=(("clip.mp4", W, H, 10),))
    _draw(project, "clip.mp4", "box", BoundingBox(1, 2, 3, 4), frame=4)
    path = write_json(tmp_path / "video.json", project.export_coco_labels())
    other = make_project(client, "other", data=(("clip.mp4", W, H, 10),))
    report = other.import_coco(path)
    assert report.ok
    assert report.image_matches == {"video_title": 10}
    (instance,) = objects_by_title(other)["clip.mp4"]
    assert sorted(instance.frames) == [4]
    assert instance.get_annotation(4).coordinates == BoundingBox(1, 2, 3, 4)


def test_results_export_is_a_list_with_scores_and_no_ids(drawn: Any) -> None:
    results = drawn.export_coco_labels(results=True)
    assert isinstance(results, list) and len(results) == 10
    assert all("id" not in r and "score" in r for r in results)
    assert sorted(r["score"] for r in results) == [0.8] + [1.0] * 9
    assert {r["image_id"] for r in results} <= {i["id"] for i in drawn.export_coco_labels()["images"]}


def test_rle_uncompressed_writes_counts_lists(drawn: Any) -> None:
    compressed = drawn.export_coco_labels(rle="compressed")
    uncompressed = drawn.export_coco_labels(rle="uncompressed")
    sizes = {i["id"]: (i["height"], i["width"]) for i in compressed["images"]}
    pairs = [
        (c, u)
        for c, u in zip(compressed["annotations"], uncompressed["annotations"], strict=True)
        if isinstance(c.get("segmentation"), dict)
    ]
    assert len(pairs) == 2  # the imported crowd region and the drawn mask
    for c, u in pairs:
        assert isinstance(c["segmentation"]["counts"], str)
        assert isinstance(u["segmentation"]["counts"], list)
        assert c["id"] == u["id"]
        height, width = sizes[c["image_id"]]
        assert np.array_equal(
            segmentation_mask(c["segmentation"], height, width),
            segmentation_mask(u["segmentation"], height, width),
        )


def test_label_hash_and_object_filters(drawn: Any) -> None:
    rows = {r.data_title: r for r in drawn.list_label_rows_v2()}
    only_b = drawn.export_coco_labels(label_hashes=[rows["b.jpg"].label_hash])
    assert [i["file_name"] for i in only_b["images"]] == ["b.jpg"]
    assert [a["id"] for a in only_b["annotations"]] == [3, 4]
    box = drawn.ontology_structure.get_child_by_title("box", Object)
    only_boxes = drawn.export_coco_labels(include_object_feature_hashes=[box.feature_node_hash])
    assert [c["name"] for c in only_boxes["categories"]] == ["box"]
    assert {a["category_id"] for a in only_boxes["annotations"]} == {1}
    assert sorted(a["id"] for a in only_boxes["annotations"]) == [1, 5, 6]


def test_an_edited_import_keeps_its_id_and_extra_fields(client: UserClient) -> None:
    project = make_project(client)
    coco = coco_template()
    coco["annotations"][0] |= {"attributes": {"note": "kept"}, "source_tool": "cvat", "occluded": True}
    assert project.import_coco(coco).ok
    row = project.list_label_rows_v2(data_title_eq="a.jpg")[0]
    box = next(o for o in row.object_instances if o.ontology_item.title == "box")
    box.set_for_frames(BoundingBox(5, 6, 7, 8), frames=0)
    row.save()
    exported = {a["id"]: a for a in project.export_coco_labels()["annotations"]}
    edited = exported[1]
    assert edited["bbox"] == [5, 6, 7, 8] and edited["area"] == 56
    assert edited["image_id"] == 1 and edited["category_id"] == 1
    assert edited["source_tool"] == "cvat" and edited["occluded"] is True
    assert edited["attributes"] == {"note": "kept"}
    assert edited["iscrowd"] == 0
    # the others are untouched
    assert [exported[i] for i in (2, 3, 4, 5)] == coco["annotations"][1:]
    # and the edit survives a re-read: the label row view shows the new box
    (again,) = [o for o in objects_by_title(project)["a.jpg"] if o.ontology_item.title == "box"]
    assert again.get_annotation(0).coordinates == BoundingBox(5, 6, 7, 8)


def test_a_project_with_no_coco_origin_exports_default_info(client: UserClient) -> None:
    project = make_project(client, "plain", data=(("a.jpg", W, H),))
    _draw(project, "a.jpg", "box", BoundingBox(1, 1, 2, 2))
    export = project.export_coco_labels()
    assert export["info"]["description"] == "plain"
    assert export["licenses"] == []
    assert export["images"] == [
        {"id": 1, "width": W, "height": H, "file_name": "a.jpg", "image_title": "a.jpg"}
    ]
    assert export["annotations"] == [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [1, 1, 2, 2],
            "area": 4,
            "segmentation": [],
            "iscrowd": 0,
        }
    ]


def test_new_ids_never_take_a_kept_id(client: UserClient) -> None:
    """A kept annotation that must be rewritten (it has answers) keeps its id over a newer drawn one."""
    project = make_project(client)
    assert project.import_coco(coco_template()).ok
    _draw(project, "a.jpg", "box", BoundingBox(1, 1, 2, 2))
    later = coco_template()
    later["annotations"] = [
        {"id": 6, "image_id": 2, "category_id": 1, "bbox": [3, 3, 3, 3], "attributes": {"note": "later"}}
    ]
    assert project.import_coco(later, source_name="later.json").ok
    export = project.export_coco_labels()
    by_id = {a["id"]: a for a in export["annotations"]}
    assert sorted(by_id) == [1, 2, 3, 4, 5, 6, 7]
    assert by_id[6] == later["annotations"][0]
    assert by_id[7]["bbox"] == [1, 1, 2, 2]


# -- property: whatever valid annotations go in come back out --------------------------------------

_coordinate = st.one_of(st.integers(-20, 100), st.floats(-20, 100, allow_nan=False, allow_infinity=False))
_size = st.one_of(st.integers(1, 60), st.floats(0.01, 60, allow_nan=False, allow_infinity=False))
_box = st.tuples(_coordinate, _coordinate, _size, _size).map(list)
_ring = st.lists(st.tuples(_coordinate, _coordinate), min_size=3, max_size=8).map(
    lambda points: [v for p in points for v in p]
)


@st.composite
def _annotation(draw: st.DrawFn, ann_id: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["box", "polygon", "flat", "rle"]))
    ann: dict[str, Any] = {"id": ann_id, "image_id": draw(st.sampled_from([1, 2]))}
    if kind == "box":
        ann |= {"category_id": 1, "bbox": draw(_box)}
    elif kind == "rle":
        y0, x0 = draw(st.integers(0, H - 2)), draw(st.integers(0, W - 2))
        mask = box_mask(y0, draw(st.integers(y0 + 1, H)), x0, draw(st.integers(x0 + 1, W)))
        ann |= {"category_id": 3, "segmentation": compressed_rle(mask), "iscrowd": 1}
    else:
        rings = draw(st.lists(_ring, min_size=1, max_size=3))
        ann |= {"category_id": 2, "segmentation": rings if kind == "polygon" else rings[0]}
    if draw(st.booleans()):
        ann["score"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        ann["extra"] = draw(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5)))
    return ann


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=8, unique=True))
    coco = coco_template()
    coco["annotations"] = [draw(_annotation(i)) for i in ids]
    return coco


@settings(
    max_examples=30,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(coco=_documents())
def test_any_valid_annotations_export_as_they_came(client: UserClient, coco: dict[str, Any]) -> None:
    project = make_project(client, f"property-{uuid.uuid4().hex}")  # one project per example
    report = project.import_coco(coco)
    assert report.ok, report.summary()
    exported = project.export_coco_labels()
    assert [strict(a) for a in exported["annotations"]] == [strict(a) for a in coco["annotations"]]


def test_a_project_made_in_code_round_trips_byte_for_byte(
    client: UserClient, drawn: Any, tmp_path: Path
) -> None:
    """Labels drawn on an image group's member and a video frame too: export, import, export."""
    drawn.add_data_units([DataUnit.group("scan", [Member("s0.png", 32, 24), Member("s1.png", 40, 30)])])
    _draw(drawn, "scan", "box", BoundingBox(1, 1, 2, 2), frame=1)
    _draw(drawn, "clip.mp4", "turned", RotatableBoundingBox(1, 1, 2, 2, 10), frame=5)
    first = drawn.export_coco_bytes()
    members = [i for i in json.loads(first)["images"] if i.get("data_title") == "scan"]
    assert members == [
        {"id": 14, "width": 32, "height": 24, "file_name": "scan/0.png", "image_title": "s0.png"}
        | {"data_title": "scan", "data_type": "img_group", "frame": 0},
        {"id": 15, "width": 40, "height": 30, "file_name": "scan/1.png", "image_title": "s1.png"}
        | {"data_title": "scan", "data_type": "img_group", "frame": 1},
    ]
    path = tmp_path / "first.json"
    path.write_bytes(first)
    # into the same data units, matched with no code ...
    same_data = make_project(
        client, "same data", ontology=_code_ontology(), data=(*DATA, ("empty.jpg", W, H))
    )
    same_data.add_data_units([DataUnit.group("scan", [Member("s0.png", 32, 24), Member("s1.png", 40, 30)])])
    report = same_data.import_coco(path)
    assert report.ok and report.counts.images_matched == 15
    assert [o.frames.keys() for o in objects_by_title(same_data)["scan"]] == [{1}]
    # ... and into a project that creates them: the export is the same bytes
    created, second = round_trip(client, path, "created")
    assert second == first
    assert {u.title: u.data_type.value for u in created.list_data_units()}["scan"] == "img_group"


def test_every_shape_drawn_in_code_exports_a_file_that_imports_back(client: UserClient) -> None:
    """Degenerate extents (a point, a flat line, one visible keypoint) must not export 0-size boxes,
    which the importer rightly refuses."""
    ontology = _code_ontology()
    ontology.objects += [Object("dot", Shape.POINT), Object("line", Shape.POLYLINE)]
    project = make_project(client, ontology=ontology, data=DATA)
    _draw(project, "a.jpg", "dot", Point(3, 4))
    _draw(project, "a.jpg", "line", Polyline((1, 5, 9, 5, 12, 5)))
    _draw(project, "a.jpg", "person", Skeleton((1, 1, 2, 5, 5, 0, 0, 0, 0)))
    _draw(project, "a.jpg", "turned", RotatableBoundingBox(10, 10, 20, 10, 45))
    exported = project.export_coco_bytes()
    for ann in msgspec.json.decode(exported)["annotations"]:
        if "bbox" in ann:
            assert ann["bbox"][2] > 0 and ann["bbox"][3] > 0, ann
    again = client.create_project("again", from_coco=exported)
    report = again.import_coco(exported, create_missing_data_units=True)
    assert report.ok and report.counts.imported == 4, report.summary()
    assert again.export_coco_bytes().count(b'"image_id"') == exported.count(b'"image_id"')


def test_a_streamed_export_keeps_the_records_order_around_an_edit(client: UserClient, tmp_path: Path) -> None:
    """From an edited annotation on, the export is spooled until every kept id is known: the file
    written as it is read is the same bytes as the export in memory, in the stored order."""
    project = make_project(client)
    coco = coco_template()
    assert project.import_coco(coco).ok
    row = project.list_label_rows_v2(data_title_eq="a.jpg")[0]
    first = next(
        o for o in row.object_instances if o.get_annotation(0).origin.key == coco["annotations"][0]["id"]
    )
    first.set_for_frames(BoundingBox(5, 6, 7, 8), frames=0)
    row.save()
    _draw(project, "a.jpg", "box", BoundingBox(1, 1, 2, 2))  # a new one, after every kept one
    in_memory = project.export_coco_bytes()
    path = project.export_coco(tmp_path / "out.json")
    assert path.read_bytes() == in_memory
    gz = project.export_coco(tmp_path / "out.json.gz")
    assert gzip.decompress(gz.read_bytes()) == in_memory
    annotations = json.loads(in_memory)["annotations"]
    # saving a.jpg's row stored its objects again, after the others: the edit, then a kept one
    # that is spooled behind it, then the new box with the next free id
    by_id = {a["id"]: a for a in annotations}
    assert [a["id"] for a in annotations][-1] == 6 and sorted(by_id) == [1, 2, 3, 4, 5, 6]
    assert by_id[1]["bbox"] == [5, 6, 7, 8]
    assert [by_id[a["id"]] for a in coco["annotations"][1:]] == coco["annotations"][1:]
    assert not list(tmp_path.glob("*.tmp"))


def test_kept_image_records_are_written_compact_whatever_the_file_looked_like(
    client: UserClient, tmp_path: Path
) -> None:
    coco = coco_template()
    coco["images"][0]["note"] = "é"  # written as \\u00e9 below, as the encoder never writes it
    source = tmp_path / "spaced.json"
    source.write_text(json.dumps(coco, indent=2, ensure_ascii=True))
    project = make_project(client)
    assert project.import_coco(source).ok
    exported = project.export_coco_bytes()
    for image in coco["images"]:
        assert msgspec.json.encode(image) in exported
    assert json.loads(exported)["images"][0] == coco["images"][0]
