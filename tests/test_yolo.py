"""YOLO (Ultralytics layout) in and out: real files, the embedded store, a server on PostgreSQL, Datumaro.

Every dataset here is written to disk as Ultralytics lays it out (data.yaml, images/<split>/ with real
image files, labels/<split>/*.txt) and read back by labelport and by Datumaro's own importer.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from labelport import UserClient
from labelport.cli import cli
from labelport.errors import FormatError, NotFoundError
from labelport.formats import FORMATS, get_format, guess_format
from labelport.formats.yolo import read_yolo, write_yolo
from test_server import ServerProcess, Team

NAMES = ["cat", "dog", "bird"]


def make_yolo(
    root: Path,
    items: dict[str, tuple[str, tuple[int, int] | None, list[str]]],
    *,
    names: Any = None,
    extra: str = "",
) -> Path:
    """A YOLO folder: items are {stem: (split, image size or None for no image file, label lines)}."""
    names = NAMES if names is None else names
    splits = sorted({split for split, _, _ in items.values()})
    yaml = "path: .\n" + "".join(f"{s}: images/{s}\n" for s in splits)
    if isinstance(names, dict):
        yaml += "names:\n" + "".join(f"  {k}: {v}\n" for k, v in names.items())
    else:
        yaml += "names: [" + ", ".join(names) + "]\n"
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(yaml + extra)
    for stem, (split, size, lines) in items.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        if size is not None:
            Image.new("RGB", size, (20, 30, 40)).save(root / "images" / split / f"{stem}.jpg")
        (root / "labels" / split / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
    return root


DETECT = {
    "a": ("train", (640, 480), ["0 0.5 0.5 0.25 0.5", "1 0.125 0.25 0.0625 0.125"]),
    "b": ("train", (320, 240), ["2 0.75 0.5 0.5 0.25"]),
    "c": ("val", (100, 50), ["0 0.5 0.5 1 1", "0 0.25 0.5 0.5 1"]),
    "d": ("val", (100, 50), []),
}


def label_lines(root: Path) -> dict[str, list[str]]:
    return {
        p.relative_to(root / "labels").as_posix(): p.read_text().splitlines()
        for p in sorted((root / "labels").rglob("*.txt"))
    }


def numbers_close(a: list[str], b: list[str], tol: float = 2e-6) -> bool:
    if len(a) != len(b):
        return False
    for la, lb in zip(a, b, strict=True):
        pa, pb = la.split(), lb.split()
        if len(pa) != len(pb) or pa[0] != pb[0]:
            return False
        if any(abs(float(x) - float(y)) > tol for x, y in zip(pa[1:], pb[1:], strict=True)):
            return False
    return True


def corners(line: str) -> list[tuple[float, float]]:
    values = [float(v) for v in line.split()[1:]]
    return sorted(zip(values[0::2], values[1::2], strict=True))


def test_the_table_names_the_formats() -> None:
    assert {"coco", "yolo"} <= set(FORMATS)
    assert get_format("yolo").name == "yolo"
    with pytest.raises(Exception, match="unknown format 'darknet'"):
        get_format("darknet")


def test_read_detect_sizes_from_image_headers(tmp_path: Path) -> None:
    data = read_yolo(make_yolo(tmp_path / "ds", DETECT))
    assert [(i["file_name"], i["width"], i["height"], i["yolo_split"]) for i in data.images] == [
        ("a.jpg", 640, 480, "train"),
        ("b.jpg", 320, 240, "train"),
        ("c.jpg", 100, 50, "val"),
        ("d.jpg", 100, 50, "val"),
    ]
    assert [c["name"] for c in data.categories] == NAMES
    assert [a["id"] for a in data.annotations] == [1, 2, 3, 4, 5]
    assert data.annotations[0]["bbox"] == [240, 120, 160, 240]
    assert data.annotations[1]["bbox"] == [60, 90, 40, 60]
    assert guess_format(tmp_path / "ds") == "yolo"


def test_names_as_a_map_keep_their_ids(tmp_path: Path) -> None:
    root = make_yolo(
        tmp_path / "ds", {"a": ("train", (10, 10), ["7 0.5 0.5 0.2 0.2"])}, names={3: "x", 7: "y"}
    )
    data = read_yolo(root)
    assert [(c["name"], c["yolo_id"]) for c in data.categories] == [("x", 3), ("y", 7)]
    out = write_yolo(data.to_coco(), tmp_path / "out")
    assert out.classes == {"x": 3, "y": 7}
    assert label_lines(tmp_path / "out") == {"train/a.txt": ["7 0.5 0.5 0.2 0.2"]}


@pytest.mark.parametrize(
    ("line", "code", "words"),
    [
        ("0 0.5 0.5 0.25", "yolo_fields", "has 3 numbers"),
        ("5 0.5 0.5 0.25 0.25", "yolo_class", "class id 5 is not in names"),
        ("x 0.5 0.5 0.25 0.25", "yolo_class", "whole number"),
        ("0 0.5 abc 0.25 0.25", "yolo_number", "'abc' is not a number"),
        ("0 0.5 0.5 0 0.25", "yolo_box_size", "must be > 0"),
        ("0 0.5 nan 0.2 0.2", "yolo_number", "finite"),
        ("0 0.5 1e300 0.2 0.2", "yolo_coordinate", "'1e300' is 6.4e+301, not a pixel coordinate"),
        ("0 0.5 0.5 0.2 -4e7", "yolo_coordinate", "'-4e7' is -2.56e+09, not a pixel coordinate"),
    ],
)
def test_a_bad_line_is_one_sentence_with_file_and_line(
    tmp_path: Path, client: UserClient, line: str, code: str, words: str
) -> None:
    root = make_yolo(tmp_path / "ds", {"a": ("train", (64, 64), ["0 0.5 0.5 0.5 0.5", line])})
    project = client.create_project("p")
    with pytest.raises(FormatError) as caught:
        project.import_labels(root, format="yolo", categories="create", create_missing_data_units=True)
    error = caught.value
    assert (error.code, error.line) == (code, 2)
    assert error.file is not None and error.file.endswith("labels/train/a.txt")
    assert words in str(error) and "line 2" in str(error)
    assert project.list_data_units() == []  # nothing changed


def test_skip_leaves_out_the_bad_line_and_reports_it(tmp_path: Path, client: UserClient) -> None:
    root = make_yolo(tmp_path / "ds", {"a": ("train", (64, 64), ["0 0.5 0.5 0.5 0.5", "0 1 2 3"])})
    project = client.create_project("p")
    report = project.import_labels(
        root, format="yolo", categories="create", create_missing_data_units=True, on_error="skip"
    )
    assert report.counts.imported == 1 and report.counts.skipped == 1
    assert report.errors[0].code == "yolo_fields" and report.errors[0].path.endswith("a.txt line 2")


def test_missing_image_takes_the_data_unit_size_or_is_refused(tmp_path: Path, client: UserClient) -> None:
    root = make_yolo(tmp_path / "ds", {"a": ("train", None, ["1 0.5 0.5 0.5 0.5"])})
    project = client.create_project("p")
    with pytest.raises(FormatError, match="no readable image file for 'a'") as caught:
        project.import_labels(root, format="yolo", categories="create")
    assert caught.value.code == "yolo_image_size"
    project.add_data([("a.png", 200, 100)])
    report = project.import_labels(root, format="yolo", categories="create")
    assert report.counts.imported == 1
    row = project.list_label_rows_v2()[0]
    box = row.object_instances[0].get_annotation(0).coordinates
    assert (box.x, box.y, box.w, box.h) == (50, 25, 100, 50)


def test_import_export_round_trip_and_idempotent(tmp_path: Path, client: UserClient) -> None:
    root = make_yolo(tmp_path / "ds", DETECT)
    project = client.create_project("p")
    first = project.import_labels(root, format="yolo", categories="create", create_missing_data_units=True)
    assert (first.counts.imported, first.counts.created, first.counts.data_units_created) == (5, 5, 4)
    again = project.import_labels(root, format="yolo")
    assert (again.counts.created, again.counts.updated) == (0, 5)
    report = project.export_labels(tmp_path / "out", format="yolo")
    assert report.losses == {} and report.objects == 5 and report.images == 4
    assert report.classes == {"cat": 0, "dog": 1, "bird": 2}
    assert label_lines(tmp_path / "out") == label_lines(root)
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == ["train", "val"]


def test_explicit_class_order_on_export(tmp_path: Path, client: UserClient) -> None:
    project = client.create_project("p")
    project.import_labels(
        make_yolo(tmp_path / "ds", DETECT), format="yolo", categories="create", create_missing_data_units=True
    )
    report = project.export_labels(tmp_path / "out", format="yolo", classes=["bird", "cat"])
    assert report.classes == {"bird": 0, "cat": 1}
    assert report.losses == {"class not in classes": 1}  # the one dog
    lines = label_lines(tmp_path / "out")
    assert lines["train/b.txt"] == ["0 0.75 0.5 0.5 0.25"]
    assert lines["train/a.txt"] == ["1 0.5 0.5 0.25 0.5"]


SEGMENT = {"a": ("train", (200, 100), ["0 0.1 0.2 0.5 0.2 0.5 0.8 0.1 0.8", "1 0.25 0.5 0.3 0.2 0.9 0.9"])}
POSE = {"a": ("train", (200, 100), ["0 0.5 0.5 0.4 0.6 0.4 0.3 2 0.5 0.5 1 0 0 0"])}
OBB = {
    "a": ("train", (200, 100), ["0 0.4 0.3 0.6 0.3 0.6 0.7 0.4 0.7", "1 0.5 0.2 0.65 0.5 0.5 0.8 0.35 0.5"])
}


@pytest.mark.parametrize(
    ("items", "extra", "task"),
    [(SEGMENT, "", "segment"), (POSE, "kpt_shape: [3, 3]\n", "pose"), (OBB, "task: obb\n", "obb")],
)
def test_segment_pose_obb_round_trip(
    tmp_path: Path, client: UserClient, items: Any, extra: str, task: str
) -> None:
    root = make_yolo(tmp_path / "ds", items, extra=extra)
    project = client.create_project("p")
    report = project.import_labels(root, format="yolo", categories="create", create_missing_data_units=True)
    assert report.counts.imported == len(items["a"][2]) and not report.errors
    out = project.export_labels(tmp_path / "out", format="yolo")
    assert out.losses == {}
    written = label_lines(tmp_path / "out")["train/a.txt"]
    original = items["a"][2]
    if task == "obb":  # the same rectangle, maybe from another corner: compare the corner sets
        for got, want in zip(written, original, strict=True):
            g, w = corners(got), corners(want)
            assert all(math.dist(p, q) < 1e-5 for p, q in zip(g, w, strict=True)), (got, want)
    else:
        assert numbers_close(written, original), (written, original)
    assert (tmp_path / "out" / "data.yaml").read_text().count(f"task: {task}") == 1
    kinds = {o.ontology_item.shape.value for r in project.list_label_rows_v2() for o in r.object_instances}
    assert kinds == {"segment": {"polygon"}, "pose": {"skeleton"}, "obb": {"rotatable_bounding_box"}}[task]


def test_a_pose_box_that_cvat_cannot_carry_is_counted(tmp_path: Path, client: UserClient) -> None:
    """A CVAT skeleton has no box: a YOLO pose object's box comes back as its points' box, so the
    export counts each box that differs from it (and not the ones it equals)."""
    lines = [
        "0 0.5 0.5 0.4 0.6 0.4 0.3 2 0.5 0.5 1 0 0 0",  # a box wider than its points
        "0 0.45 0.4 0.1 0.2 0.4 0.3 2 0.5 0.5 2 0 0 0",  # its points' box exactly
    ]
    root = make_yolo(tmp_path / "ds", {"a": ("train", (200, 100), lines)}, extra="kpt_shape: [3, 3]\n")
    project = client.create_project("p")
    project.import_labels(root, format="yolo", categories="create", create_missing_data_units=True)
    out = project.export_labels(tmp_path / "out.xml", format="cvat")
    assert out.objects == 2
    assert out.losses == {"box of a skeleton (CVAT has none: it comes back as its points' box)": 1}
    from labelport.formats.cvat import read_cvat

    back = read_cvat(tmp_path / "out.xml")
    assert [a["bbox"] for a in back.annotations] == [[80, 30, 20, 20], [80, 30, 20, 20]]


def test_coco_to_yolo_to_coco_reports_what_yolo_cannot_carry(tmp_path: Path, client: UserClient) -> None:
    coco = {
        "images": [{"id": 10, "file_name": "x.jpg", "width": 100, "height": 100}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {
                "id": 5,
                "image_id": 10,
                "category_id": 1,
                "bbox": [10, 10, 20, 20],
                "attributes": {"color": "red"},
            },
            {"id": 6, "image_id": 10, "category_id": 2, "bbox": [50, 50, 10, 10], "score": 0.5},
            {
                "id": 7,
                "image_id": 10,
                "category_id": 2,
                "bbox": [5, 5, 10, 10],
                "iscrowd": 1,
                "segmentation": {"size": [100, 100], "counts": [505, 10, 90, 10, 9385]},
            },
        ],
    }
    project = client.create_project("p")
    project.import_coco(coco, categories="create", create_missing_data_units=True)
    report = project.export_labels(tmp_path / "yolo", format="yolo", task="detect")
    assert report.losses == {"attributes": 1, "score": 1, "iscrowd": 1, "mask->box": 1}
    assert report.classes == {"cat": 0, "dog": 1}
    back = read_yolo(tmp_path / "yolo", sizes=lambda name: (name, 100, 100))
    assert Counter(a["category_id"] for a in back.annotations) == {1: 1, 2: 2}
    assert [c["id"] for c in back.categories] == [1, 2]  # the category ids come back (class k is id k + 1)
    assert back.annotations[0]["bbox"] == [10, 10, 20, 20]


def _unmatched(want: list[list[float]], got: list[list[float]], tol: float) -> list[list[float]]:
    """The boxes of ``want`` that no box of ``got`` equals within ``tol`` (each box of ``got`` used once)."""
    left = list(got)
    missed = []
    for box in want:
        found = next((g for g in left if max(abs(a - b) for a, b in zip(box, g, strict=True)) <= tol), None)
        if found is None:
            missed.append(box)
        else:
            left.remove(found)
    return missed


def test_multi_part_polygons_are_joined_so_no_object_shrinks(tmp_path: Path, shared_fixtures: Path) -> None:
    """COCO val2014 holds objects of several polygons; YOLO has one polygon a line. Every part is kept
    (joined along connecting segments), so COCO to YOLO to COCO gives every box back."""
    import json

    from pycocotools import mask as mask_utils

    from labelport import convert_labels

    source = shared_fixtures / "coco-val2014-100" / "instances_val2014_100.json"
    original = json.loads(source.read_text())
    parted = [
        a
        for a in original["annotations"]
        if isinstance(a["segmentation"], list) and len(a["segmentation"]) > 1
    ]
    assert len(parted) > 50  # the file's own objects of several parts
    done = convert_labels(source, tmp_path / "yolo", to_format="yolo")
    assert done.export_report.objects == len(original["annotations"])
    assert "polygon_parts" not in done.export_report.losses
    back = convert_labels(tmp_path / "yolo", tmp_path / "back.json", to_format="coco")
    assert back.import_report.counts.imported == len(original["annotations"])
    again = json.loads((tmp_path / "back.json").read_text())
    name = {i["id"]: Path(i["file_name"]).name for i in original["images"]}
    size = {i["id"]: (i["height"], i["width"]) for i in original["images"]}
    again_name = {i["id"]: Path(i["file_name"]).name for i in again["images"]}
    for image_id, file_name in name.items():
        want = []
        for a in original["annotations"]:
            if a["image_id"] != image_id:
                continue
            if a["iscrowd"]:  # a crowd mask is traced along pixel borders: its box is the mask's extent
                rle = mask_utils.frPyObjects(a["segmentation"], *size[image_id])
                want.append(mask_utils.toBbox(rle).tolist())
            else:
                want.append(a["bbox"])
        got = [a["bbox"] for a in again["annotations"] if again_name[a["image_id"]] == file_name]
        assert len(got) == len(want)
        assert _unmatched(want, got, 1e-3) == [], file_name
    # every point of every part is on the object's one line
    lines = {p.stem: p.read_text().splitlines() for p in (tmp_path / "yolo" / "labels").rglob("*.txt")}
    for a in parted:
        height, width = size[a["image_id"]]
        points = [
            [(float(v) * (width if i % 2 == 0 else height)) for i, v in enumerate(line.split()[1:])]
            for line in lines[Path(name[a["image_id"]]).stem]
        ]
        line = np.array(next(p for p in points if not _unmatched([a["bbox"]], [_extent(p)], 1e-3)))
        have = line.reshape(-1, 2)
        for ring in a["segmentation"]:
            wanted = np.array(ring, dtype=float).reshape(-1, 2)
            gaps = np.abs(wanted[:, None, :] - have[None, :, :]).max(axis=2).min(axis=1)
            assert gaps.max() <= 1e-3, a["id"]  # each point of the part is a point of the line


def _extent(flat: list[float]) -> list[float]:
    xs, ys = flat[0::2], flat[1::2]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


# -- the CLI and a server -------------------------------------------------------------------------


def test_cli_import_and_export_yolo(tmp_path: Path, home: Path, key_path: Path) -> None:
    runner = CliRunner()
    base = ["--home", str(home), "--key", str(key_path)]
    made = runner.invoke(cli, [*base, "project", "create", "p"])
    assert made.exit_code == 0, made.output
    project = made.output.strip().split()[-1]
    root = make_yolo(tmp_path / "ds", DETECT)
    result = runner.invoke(
        cli, [*base, "import", "yolo", project, str(root), "--categories", "create", "--create-missing"]
    )
    assert result.exit_code == 0, result.output
    assert "imported 5 of 5" in result.output
    bad = make_yolo(tmp_path / "bad", {"a": ("train", (8, 8), ["0 1 2"])})
    result = runner.invoke(cli, [*base, "import", "yolo", project, str(bad)])
    assert result.exit_code == 1 and "line 1" in result.output and "Traceback" not in result.output
    result = runner.invoke(
        cli, [*base, "export", "yolo", project, "-o", str(tmp_path / "out"), "--classes", "dog,cat,bird"]
    )
    assert result.exit_code == 0, result.output
    assert "class ids: 0 dog, 1 cat, 2 bird." in result.output
    assert label_lines(tmp_path / "out")["train/b.txt"] == ["2 0.75 0.5 0.5 0.25"]
    assert label_lines(tmp_path / "out")["train/a.txt"][0].startswith("1 ")


@pytest.fixture(scope="module")
def team(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    folder = tmp_path_factory.mktemp("yolo-team")
    db = postgres_server.create_database()
    server = ServerProcess(db, folder / "server.log")
    yield Team(db, server, folder)
    server.stop()


def test_yolo_and_cvat_through_the_server_on_postgresql(tmp_path: Path, team: Team) -> None:
    remote, viewer = team.client("ada"), team.client("bob")
    try:
        project = remote.create_project("p")
        root = make_yolo(tmp_path / "ds", DETECT)
        report = project.import_labels(
            root, format="yolo", categories="create", create_missing_data_units=True
        )
        assert report.counts.imported == 5 and report.source == "ds"
        assert project.import_labels(root, format="yolo").counts.updated == 5
        project.export_labels(tmp_path / "out", format="yolo")
        assert label_lines(tmp_path / "out") == label_lines(root)
        bad = make_yolo(tmp_path / "bad", {"a": ("train", (8, 8), ["9 0.5 0.5 0.5 0.5"])})
        with pytest.raises(FormatError, match="class id 9 is not in names") as caught:
            project.import_labels(bad, format="yolo")
        assert caught.value.line == 1
        # a one-file format goes as it is; an element path comes back in the same error type
        from test_cvat import IMAGES_XML

        (tmp_path / "a.xml").write_text(IMAGES_XML)
        cvat = remote.create_project("c")
        report = cvat.import_labels(
            tmp_path / "a.xml", format="cvat", categories="create", create_missing_data_units=True
        )
        assert report.counts.imported == 6 and report.source == "a.xml"
        (tmp_path / "bad.xml").write_text(IMAGES_XML.replace('xbr="11.25"', ""))
        with pytest.raises(FormatError) as bad_xml:
            cvat.import_labels(tmp_path / "bad.xml", format="cvat")
        assert bad_xml.value.path == "/annotations/image[1]/box[1]"
        # the route takes ?format= too (for clients that send no options)
        import gzip

        from labelport.server import wire_format

        service = remote.service
        uploads = f"/projects/{cvat.project_hash}/uploads"
        upload = service._call("POST", uploads, wire_format.StartUpload("q.xml"), into=wire_format.Upload)  # type: ignore[attr-defined]
        target = f"{uploads}/{upload.upload_id}"
        service._send(
            "PUT", f"{target}/chunks/0", gzip.compress(IMAGES_XML.encode()), "application/octet-stream"
        )  # type: ignore[attr-defined]
        answer = service._call(
            # (the same annotations as a.xml's: replaced, as they are not imported twice)
            "POST",
            f"{target}/import?format=cvat",
            wire_format.RunImport(1, {"replace": True}),
            into=dict,
            wait=True,
        )  # type: ignore[attr-defined]
        assert answer["source"] == "q.xml" and answer["counts"]["imported"] == 6
        with pytest.raises(NotFoundError):  # not a member: the project does not exist for bob
            viewer.service.import_labels(project.project_hash, root, "yolo", {})
    finally:
        for c in (remote, viewer):
            c.service.close()  # type: ignore[attr-defined]


# -- Datumaro reads what labelport writes, and labelport reads what Datumaro writes ----------------


def test_datumaro_reads_labelport_yolo(tmp_path: Path, client: UserClient) -> None:
    import datumaro as dm

    root = make_yolo(tmp_path / "ds", DETECT)
    project = client.create_project("p")
    project.import_labels(root, format="yolo", categories="create", create_missing_data_units=True)
    out = tmp_path / "out"
    project.export_labels(out, format="yolo")
    for split in ("train", "val"):  # labelport writes labels; the images are the user's to place
        for image in (root / "images" / split).iterdir():
            (out / "images" / split / image.name).write_bytes(image.read_bytes())
    dataset = dm.Dataset.import_from(str(out), "yolo")
    names = [c.name for c in dataset.categories()[dm.AnnotationType.label]]
    assert names == NAMES
    ours = read_yolo(root)
    assert len(dataset) == len(ours.images)
    theirs = Counter(names[a.label] for item in dataset for a in item.annotations)
    assert theirs == Counter(NAMES[a["category_id"] - 1] for a in ours.annotations)
    boxes = {
        (item.id, tuple(round(v, 3) for v in a.get_bbox())) for item in dataset for a in item.annotations
    }
    file_of = {i["id"]: i["file_name"].rsplit(".", 1)[0] for i in ours.images}
    assert boxes == {
        (file_of[a["image_id"]], tuple(round(float(v), 3) for v in a["bbox"])) for a in ours.annotations
    }


def test_labelport_reads_datumaro_yolo(tmp_path: Path) -> None:
    import datumaro as dm
    import numpy as np

    items = [
        dm.DatasetItem(
            id="one",
            subset="train",
            media=dm.Image.from_numpy(np.zeros((40, 80, 3), dtype=np.uint8)),
            annotations=[dm.Bbox(8, 4, 16, 20, label=1), dm.Bbox(0, 0, 80, 40, label=0)],
        ),
        dm.DatasetItem(
            id="two",
            subset="val",
            media=dm.Image.from_numpy(np.zeros((30, 60, 3), dtype=np.uint8)),
            annotations=[dm.Bbox(30, 15, 12, 9, label=2)],
        ),
    ]
    dataset = dm.Dataset.from_iterable(items, categories=NAMES)
    dataset.export(str(tmp_path / "dm"), "yolo_ultralytics", save_media=True)
    data = read_yolo(tmp_path / "dm")
    assert [c["name"] for c in data.categories] == NAMES
    assert sorted((i["file_name"], i["width"], i["height"]) for i in data.images) == [
        ("one.jpg", 80, 40),
        ("two.jpg", 60, 30),
    ]
    got = sorted((data.categories[a["category_id"] - 1]["name"], tuple(a["bbox"])) for a in data.annotations)
    want = sorted((NAMES[a.label], tuple(a.get_bbox())) for item in items for a in item.annotations)
    assert len(got) == len(want)
    for (gn, gb), (wn, wb) in zip(got, want, strict=True):
        assert gn == wn and all(abs(g - w) < 1e-3 for g, w in zip(gb, wb, strict=True))


def test_datumaro_test_asset_roboflow_yolo(client: UserClient) -> None:
    """Datumaro's Roboflow YOLO asset: ``train: ../train/images`` read as Ultralytics reads it, and its
    ``val: ../valid/images`` (the folder is ``val``) reported as a split that does not exist."""
    root = Path(__file__).parent / "data" / "yolo"
    project = client.create_project("p")
    report = project.import_labels(root, format="yolo", categories="create", create_missing_data_units=True)
    data = read_yolo(root)
    assert [(i["file_name"], i["yolo_split"]) for i in data.images] == [
        ("train_001.jpg", "train"),
        ("train_002.jpg", "train"),
    ]
    assert report.counts.imported == len(data.annotations) == 2
    assert [c["name"] for c in data.categories] == ["label_0", "label_1"]
    assert [w.message for w in report.warnings if w.code == "not_imported"] == [
        "not imported: yolo splits named in data.yaml that do not exist (1)."
    ]
