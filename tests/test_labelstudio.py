"""Label Studio JSON in and out, predictions onto a branch, and label-studio-converter as an independent reader."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelport import UserClient, geometry
from labelport.errors import FormatError
from labelport.formats import guess_format
from labelport.formats.labelstudio import read_labelstudio, write_labelstudio
from labelport.formats.labelstudio.rle import mask_from_rle, rle_from_mask

W, H = 200, 100


def _mask() -> np.ndarray:
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[10:20, 30:60] = 1
    mask[50, 5:9] = 1
    return mask


def result(kind: str, value: dict[str, Any], ident: str, **extra: Any) -> dict[str, Any]:
    control = {
        "rectanglelabels": "label",
        "polygonlabels": "polygon",
        "keypointlabels": "kp",
        "brushlabels": "brush",
    }
    return {
        "id": ident,
        "type": kind,
        "from_name": control.get(kind, "c"),
        "to_name": "image",
        "original_width": W,
        "original_height": H,
        "image_rotation": 0,
        "value": value,
        **extra,
    }


def tasks() -> list[dict[str, Any]]:
    brush = rle_from_mask(_mask())
    return [
        {
            "id": 7,
            "data": {"image": "/data/upload/1/cat.jpg"},
            "annotations": [
                {
                    "id": 70,
                    "result": [
                        result(
                            "rectanglelabels",
                            {
                                "x": 10,
                                "y": 20,
                                "width": 25,
                                "height": 50,
                                "rotation": 0,
                                "rectanglelabels": ["cat"],
                            },
                            "r1",
                        ),
                        result(
                            "rectanglelabels",
                            {
                                "x": 50,
                                "y": 10,
                                "width": 20,
                                "height": 40,
                                "rotation": 30,
                                "rectanglelabels": ["dog"],
                            },
                            "r2",
                        ),
                        result(
                            "polygonlabels",
                            {
                                "points": [[10, 10], [50, 10], [30, 60]],
                                "polygonlabels": ["road"],
                                "closed": True,
                            },
                            "r3",
                        ),
                        result(
                            "keypointlabels",
                            {"x": 75, "y": 25, "width": 0.5, "keypointlabels": ["nose"]},
                            "r4",
                        ),
                        result("brushlabels", {"format": "rle", "rle": brush, "brushlabels": ["blob"]}, "r5"),
                        result("choices", {"choices": ["outdoor"]}, "r6"),
                    ],
                }
            ],
            "predictions": [
                {
                    "id": 71,
                    "model_version": "yolo-v8",
                    "score": 0.5,
                    "result": [
                        result(
                            "rectanglelabels",
                            {
                                "x": 11,
                                "y": 21,
                                "width": 24,
                                "height": 49,
                                "rotation": 0,
                                "rectanglelabels": ["cat"],
                            },
                            "p1",
                            score=0.875,
                        ),
                    ],
                }
            ],
        },
        {"id": 8, "data": {"image": "/data/upload/1/empty.jpg"}, "annotations": [], "predictions": []},
    ]


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    return path


def test_brush_rle_agrees_with_label_studio_converter() -> None:
    from label_studio_converter import brush

    mask = _mask()
    ours = rle_from_mask(mask)
    decoded = brush.decode_rle(ours).reshape(H, W, 4)[:, :, 3]
    assert np.array_equal(decoded > 0, mask > 0)
    theirs = brush.mask2rle(mask * 255)
    assert np.array_equal(mask_from_rle(theirs, H, W), mask)


def test_read(tmp_path: Path) -> None:
    path = write(tmp_path, tasks())
    data = read_labelstudio(path)
    assert [(i["id"], i["file_name"], i.get("width")) for i in data.images] == [(7, "cat.jpg", 200)]
    assert [p.code for p in data.problems] == []
    by = {data.categories[a["category_id"] - 1]["name"]: a for a in data.annotations}
    assert by["cat"]["bbox"] == [20, 20, 50, 50]
    cx, cy = (
        100 + 20 * math.cos(math.radians(30)) - 20 * math.sin(math.radians(30)),
        10 + 20 * math.sin(math.radians(30)) + 20 * math.cos(math.radians(30)),
    )
    x, y, w, h = by["dog"]["bbox"]
    assert (round(x + w / 2, 4), round(y + h / 2, 4), w, h) == (round(cx, 4), round(cy, 4), 40, 40)
    assert by["dog"]["attributes"] == {"rotation": 30}
    assert by["road"]["segmentation"] == [[20, 10, 100, 10, 60, 60]]
    assert by["nose"]["keypoints"] == [150, 25, 2]
    assert np.array_equal(geometry.rle_to_mask(by["blob"]["segmentation"]), _mask())
    assert data.dropped == {
        "labelstudio choices results": 1,
        "labelstudio tasks with no results and no size": 1,
    }
    assert guess_format(path) == "labelstudio"


def test_a_task_without_sizes_takes_the_data_unit_size_or_is_refused(
    tmp_path: Path, client: UserClient
) -> None:
    data = tasks()
    for r in data[0]["annotations"][0]["result"]:
        del r["original_width"], r["original_height"]
    path = write(tmp_path, data)
    project = client.create_project("p")
    with pytest.raises(FormatError) as caught:
        project.import_labels(path, format="labelstudio", categories="create", create_missing_data_units=True)
    assert (caught.value.code, caught.value.path) == ("ls_size", "$[0]")
    assert project.list_data_units() == []
    project.add_data([("cat.jpg", W, H)])
    report = project.import_labels(path, format="labelstudio", categories="create")
    assert report.counts.imported == 5
    assert sorted(w.message for w in report.warnings if w.code == "not_imported") == [
        "not imported: labelstudio choices results (1).",
        "not imported: labelstudio tasks with no results and no size (1).",
    ]


def test_round_trip_and_predictions_on_a_branch(tmp_path: Path, client: UserClient) -> None:
    path = write(tmp_path, tasks())
    project = client.create_project("p")
    project.add_data([("empty.jpg", 64, 32)])
    report = project.import_labels(
        path, format="labelstudio", categories="create", create_missing_data_units=True
    )
    assert report.counts.imported == 5
    assert project.import_labels(path, format="labelstudio").counts.updated == 5
    predicted = project.import_labels(path, format="labelstudio", predictions=True)
    assert predicted.branch == "yolo-v8" and predicted.counts.imported == 1
    row = project.list_label_rows_v2(data_title_eq="cat.jpg", branch_name="yolo-v8")[0]
    assert [f.confidence for o in row.object_instances for f in o.get_annotations()] == [0.875]
    out = project.export_labels(tmp_path / "out.json", format="labelstudio")
    assert out.losses == {} and out.objects == 5
    written = json.loads((tmp_path / "out.json").read_text())
    original = {r["id"]: r for r in tasks()[0]["annotations"][0]["result"] if r["type"] != "choices"}
    cat_task = next(t for t in written if t["data"]["image"] == "/data/upload/1/cat.jpg")
    for got in cat_task["annotations"][0]["result"]:
        want = original[got["id"]]
        assert (got["type"], got["from_name"]) == (want["type"], want["from_name"])
        for key, value in want["value"].items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                assert abs(got["value"][key] - value) < 1e-5, (key, got, want)  # pixels kept to 1e-5
            elif key == "points":
                assert np.allclose(got["value"][key], value)
            elif key != "rle":
                assert got["value"][key] == value
    blob = next(r for r in cat_task["annotations"][0]["result"] if r["type"] == "brushlabels")
    assert np.array_equal(mask_from_rle(blob["value"]["rle"], H, W), _mask())
    preds = project.export_labels(
        tmp_path / "pred.json", format="labelstudio", branch_name="yolo-v8", predictions=True
    )
    assert preds.losses == {}
    pred_task = next(
        t for t in json.loads((tmp_path / "pred.json").read_text()) if t["predictions"][0]["result"]
    )
    assert pred_task["predictions"][0]["result"][0]["score"] == 0.875


@pytest.mark.parametrize(
    ("broken", "code", "where"),
    [
        (
            lambda t: t[0]["annotations"][0]["result"][0]["value"].pop("x"),
            "ls_value",
            "$[0].annotations[0].result[0].value.x",
        ),
        (
            lambda t: t[0]["annotations"][0]["result"][2]["value"].update(points=[[1, 2]]),
            "ls_value",
            "$[0].annotations[0].result[2].value.points",
        ),
        (
            lambda t: t[0]["annotations"][0]["result"][1]["value"].update(rectanglelabels=[]),
            "ls_labels",
            "$[0].annotations[0].result[1].value.rectanglelabels",
        ),
        (
            lambda t: t[0]["annotations"][0]["result"][4]["value"].update(rle=[1, 2, 3]),
            "ls_rle",
            "$[0].annotations[0].result[4].value.rle",
        ),
        # a result list that is an object, or nested lists: garbage, not a task without results
        (
            lambda t: t[0]["annotations"][0].update(result=t[0]["annotations"][0]["result"][0]),
            "ls_result",
            "$[0].annotations[0].result",
        ),
        (
            lambda t: t[0]["annotations"][0].update(result=[t[0]["annotations"][0]["result"]]),
            "ls_result",
            "$[0].annotations[0].result[0]",
        ),
        (
            lambda t: t[0]["annotations"][0]["result"].insert(1, "r9"),
            "ls_result",
            "$[0].annotations[0].result[1]",
        ),
        (lambda t: t[0].update(annotations={"result": []}), "ls_result", "$[0].annotations"),
        (
            lambda t: t[0]["annotations"][0]["result"][0]["value"].update(x=1e300),
            "ls_coordinate",
            "$[0].annotations[0].result[0].value.x",
        ),
        (
            lambda t: t[0]["annotations"][0]["result"][2]["value"]["points"][1].__setitem__(0, "12"),
            "ls_value",
            "$[0].annotations[0].result[2].value.points[1][0]",
        ),
        (
            lambda t: t[0]["annotations"][0]["result"][1]["value"].update(rotation="a lot"),
            "ls_value",
            "$[0].annotations[0].result[1].value.rotation",
        ),
        (lambda t: t[0]["annotations"].append([]), "ls_result", "$[0].annotations[1]"),
    ],
)
def test_a_bad_result_names_its_json_path(tmp_path: Path, broken: Any, code: str, where: str) -> None:
    data = tasks()[:1]
    broken(data)
    with pytest.raises(FormatError) as caught:
        read_labelstudio(write(tmp_path, data))
    assert (caught.value.code, caught.value.path) == (code, where)


def test_a_result_that_is_no_list_fails_the_cli(tmp_path: Path, home: Path) -> None:
    from click.testing import CliRunner

    from labelport.cli import cli

    data = tasks()[:1]
    data[0]["annotations"][0]["result"] = data[0]["annotations"][0]["result"][0]
    source = write(tmp_path, data)
    run = CliRunner().invoke(cli, ["convert", str(source), str(tmp_path / "out.json"), "--to", "coco"])
    assert run.exit_code == 1, run.output
    assert (
        f"{source} $[0].annotations[0].result: must be a list of result objects, not an object." in run.output
    )
    assert not (tmp_path / "out.json").exists()


def test_coco_to_labelstudio_counts_what_it_cannot_carry(tmp_path: Path) -> None:
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}],
        "categories": [
            {"id": 1, "name": "a"},
            {"id": 2, "name": "person", "keypoints": ["nose", "tail"], "skeleton": [[1, 2]]},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [1, 2, 3, 4],
                "attributes": {"color": "red"},
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 2,
                "bbox": [0, 0, 50, 50],
                "keypoints": [10, 10, 2, 0, 0, 0],
                "iscrowd": 0,
            },
        ],
    }
    coco["annotations"][0]["track_id"] = 0  # track 0 is a track: counted like any other
    report = write_labelstudio(coco, tmp_path / "t.json")
    assert report.losses == {
        "attributes": 1,
        "skeleton->points (one key point per node)": 1,
        "box of a skeleton (written as its points only)": 1,
        "track_id": 1,
    }
    back = read_labelstudio(tmp_path / "t.json")
    assert [
        (back.categories[a["category_id"] - 1]["name"], a.get("bbox") or a.get("keypoints"))
        for a in back.annotations
    ] == [
        ("a", [1, 2, 3, 4]),
        ("nose", [10, 10, 2]),
    ]


def test_label_studio_converter_reads_labelport_output(tmp_path: Path) -> None:
    from label_studio_converter import Converter

    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "road"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 5, 30, 20], "iscrowd": 0},
            {
                "id": 2,
                "image_id": 1,
                "category_id": 2,
                "segmentation": [[0, 0, 50, 0, 50, 25]],
                "bbox": [0, 0, 50, 25],
                "iscrowd": 0,
            },
        ],
    }
    write_labelstudio(coco, tmp_path / "t.json")
    config = """<View><Image name="image" value="$image"/>
      <RectangleLabels name="label" toName="image"><Label value="cat"/></RectangleLabels>
      <PolygonLabels name="polygon" toName="image"><Label value="road"/></PolygonLabels></View>"""
    converter = Converter(config, str(tmp_path), download_resources=False)
    converter.convert_to_coco(str(tmp_path / "t.json"), str(tmp_path / "coco"), is_dir=False)
    theirs = json.loads((tmp_path / "coco" / "result.json").read_text())
    names = {c["id"]: c["name"] for c in theirs["categories"]}
    got = sorted((names[a["category_id"]], [round(v, 6) for v in a["bbox"]]) for a in theirs["annotations"])
    assert got == [("cat", [10, 5, 30, 20]), ("road", [0, 0, 50, 25])]
    assert [(i["width"], i["height"]) for i in theirs["images"]] == [(100, 50)]
