"""``labelport convert`` and ``convert_labels``: every pair of formats, through a temporary store."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labelport.cli import cli
from labelport.convert import convert_labels
from labelport.errors import FormatError, LabelportError
from labelport.formats import FORMATS, get_format

COCO: dict[str, Any] = {
    "images": [
        {"id": 1, "file_name": "a.jpg", "width": 640, "height": 480},
        {"id": 2, "file_name": "b.jpg", "width": 320, "height": 240},
    ],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 100, 50], "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [300, 200, 40, 60], "iscrowd": 0},
        {"id": 3, "image_id": 2, "category_id": 2, "bbox": [0, 0, 320, 240], "iscrowd": 0},
    ],
}


def target(folder: Path, name: str) -> Path:
    return folder / {"coco": "out.json", "cvat": "out.xml", "labelstudio": "tasks.json"}.get(name, "out")


def boxes(path: Path, name: str) -> list[tuple[str, str, tuple[float, ...]]]:
    """(image file, class, box rounded to 1/1000 px) of every object, read back with the format's reader."""
    data = get_format(name).read(path)
    files = {i["id"]: i["file_name"].rsplit("/", 1)[-1] for i in data.images}
    classes = {c["id"]: c["name"] for c in data.categories}
    return sorted(
        (files[a["image_id"]], classes[a["category_id"]], tuple(round(float(v), 3) for v in a["bbox"]))
        for a in data.annotations
    )


WANT = sorted(
    (img["file_name"], cat["name"], tuple(float(v) for v in a["bbox"]))
    for a in COCO["annotations"]
    for img in COCO["images"]
    if img["id"] == a["image_id"]
    for cat in COCO["categories"]
    if cat["id"] == a["category_id"]
)


@pytest.mark.parametrize(("first", "second"), [(a, b) for a, b in product(FORMATS, FORMATS) if a != "coco"])
def test_every_pair(tmp_path: Path, first: str, second: str) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps(COCO))
    middle = target(tmp_path / "1", first)
    middle.parent.mkdir()
    one = convert_labels(source, middle, from_format="coco", to_format=first)
    assert one.import_report.counts.imported == 3 and one.export_report.losses == {}
    out = target(tmp_path / "2", second)
    out.parent.mkdir()
    two = convert_labels(middle, out, to_format=second)  # the source's format is guessed
    assert two.guessed == ["from"] and two.from_format == first
    assert two.import_report.counts.imported == 3
    assert boxes(out, second) == WANT


def test_the_cli_says_its_guesses(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps(COCO))
    result = CliRunner().invoke(cli, ["convert", str(source), str(tmp_path / "out.xml")])
    assert result.exit_code == 0, result.output
    assert "guessed --from coco." in result.stderr and "guessed --to cvat." in result.stderr
    assert "imported 3 of 3" in result.stdout and "Wrote" in result.stdout
    result = CliRunner().invoke(
        cli, ["convert", str(tmp_path / "out.xml"), str(tmp_path / "yolo"), "--to", "yolo"]
    )
    assert result.exit_code == 0, result.output
    assert "class ids: 0 cat, 1 dog." in result.stdout
    assert boxes(tmp_path / "yolo", "yolo") == WANT


def test_errors_are_one_sentence(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(json.dumps(COCO))
    with pytest.raises(LabelportError, match=r"cannot tell the format of .*out\.bin"):
        convert_labels(source, tmp_path / "out.bin")
    (tmp_path / "odd.txt").write_text("hello")
    with pytest.raises(FormatError, match="looks like none of"):
        convert_labels(tmp_path / "odd.txt", tmp_path / "out.json")
    result = CliRunner().invoke(cli, ["convert", str(tmp_path / "odd.txt"), str(tmp_path / "o.json")])
    assert result.exit_code == 1 and "Traceback" not in result.output and "name the format" in result.output


# -- images of different subsets that share a name (a CVAT project export) -----------------------------

PROJECT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
  <meta><project><name>p</name><labels><label><name>car</name><type>any</type><attributes/></label></labels>
    <tasks><task><id>1</id><name>a</name><subset>Train</subset></task>
      <task><id>2</id><name>b</name><subset>Validation</subset></task>
      <task><id>3</id><name>c</name><subset>Test</subset></task></tasks></project></meta>
  <image id="0" name="a.jpg" subset="Train" task_id="1" width="40" height="30">
    <box label="car" xtl="1" ytl="2" xbr="11" ybr="9"/></image>
  <image id="1" name="a.jpg" subset="Validation" task_id="2" width="40" height="30">
    <box label="car" xtl="2" ytl="2" xbr="12" ybr="9"/></image>
  <image id="2" name="a.jpg" subset="Test" task_id="3" width="40" height="30">
    <box label="car" xtl="3" ytl="2" xbr="13" ybr="9"/></image>
  <image id="3" name="b.jpg" subset="Validation" task_id="2" width="40" height="30">
    <box label="car" xtl="4" ytl="2" xbr="14" ybr="9"/></image>
</annotations>
"""
#: (subset, name, box x) of each image
PROJECT = [
    ("Train", "a.jpg", 1),
    ("Validation", "a.jpg", 2),
    ("Test", "a.jpg", 3),
    ("Validation", "b.jpg", 4),
]


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_subsets_sharing_names_are_separate_yolo_files(tmp_path: Path) -> None:
    source = tmp_path / "annotations.xml"
    source.write_text(PROJECT_XML)
    done = convert_labels(source, tmp_path / "yolo", to_format="yolo")
    report = done.export_report
    on_disk = files_under(tmp_path / "yolo")
    assert on_disk == [
        "data.yaml",
        "images.meta",
        "labels/test/a.txt",
        "labels/train/a.txt",
        "labels/val/a.txt",
        "labels/val/b.txt",
    ]
    assert report.files == len(on_disk) and report.images == len(PROJECT) == report.objects
    # each file holds its own image's box (x = 1..4 pixels of 40: the centre moves by 1/40 each)
    centres = {
        f: float((tmp_path / "yolo" / f).read_text().split()[1]) * 40 for f in on_disk if f.endswith(".txt")
    }
    assert centres == {
        "labels/train/a.txt": 6,
        "labels/val/a.txt": 7,
        "labels/test/a.txt": 8,
        "labels/val/b.txt": 9,
    }
    back = get_format("yolo").read(tmp_path / "yolo")
    assert sorted((i["yolo_split"], i["file_name"]) for i in back.images) == [
        ("test", "a.jpg"),
        ("train", "a.jpg"),
        ("val", "a.jpg"),
        ("val", "b.jpg"),
    ]


def test_subsets_sharing_names_are_separate_voc_files_that_datumaro_reads(tmp_path: Path) -> None:
    import datumaro as dm

    source = tmp_path / "annotations.xml"
    source.write_text(PROJECT_XML)
    report = convert_labels(source, tmp_path / "voc", to_format="voc").export_report
    on_disk = files_under(tmp_path / "voc")
    assert [f for f in on_disk if f.startswith("Annotations/")] == [
        "Annotations/Test/a.xml",
        "Annotations/Train/a.xml",
        "Annotations/Validation/a.xml",
        "Annotations/Validation/b.xml",
    ]
    assert report.files == len(on_disk) and report.images == len(PROJECT) == report.objects
    dataset = dm.Dataset.import_from(str(tmp_path / "voc"), "voc_detection")
    got = sorted((item.subset, item.id, a.x) for item in dataset for a in item.annotations)
    assert got == sorted((s, f"{s}/{n[:-4]}", x) for s, n, x in PROJECT)
    back = get_format("voc").read(tmp_path / "voc")
    assert sorted((i["voc_split"], i["file_name"]) for i in back.images) == sorted(
        (s, f"{s}/{n}") for s, n, _ in PROJECT
    )


def test_subsets_sharing_names_are_a_cvat_file_that_datumaro_reads(tmp_path: Path) -> None:
    import datumaro as dm
    from PIL import Image

    source = tmp_path / "annotations.xml"
    source.write_text(PROJECT_XML)
    out = tmp_path / "dm" / "annotations.xml"
    out.parent.mkdir()
    for subset, name, _ in PROJECT:  # Datumaro reads CVAT only beside its images
        (out.parent / "images" / subset).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30)).save(out.parent / "images" / subset / name)
    report = convert_labels(source, out, to_format="cvat").export_report
    assert report.images == len(PROJECT) == report.objects
    dataset = dm.Dataset.import_from(str(out.parent), "cvat")
    got = sorted((item.subset, item.id, a.x) for item in dataset for a in item.annotations)
    assert got == sorted((s, n[:-4], x) for s, n, x in PROJECT)


def test_yolo_subsets_of_other_names_come_back(tmp_path: Path) -> None:
    source = tmp_path / "annotations.xml"
    source.write_text(PROJECT_XML.replace('"Test"', '"Batch 2"').replace(">Test<", ">Batch 2<"))
    convert_labels(source, tmp_path / "yolo", to_format="yolo")
    assert (tmp_path / "yolo" / "labels" / "Batch 2" / "a.txt").is_file()
    back = get_format("yolo").read(tmp_path / "yolo")
    assert sorted(i["yolo_split"] for i in back.images) == ["Batch 2", "train", "val", "val"]


@pytest.mark.parametrize(
    ("to", "code", "names"),
    [
        ("yolo", "yolo_name_clash", "labels/train/a.txt"),
        ("voc", "voc_name_clash", "Annotations/Train/a.xml"),
    ],
)
def test_two_images_that_would_share_a_file_are_refused(
    tmp_path: Path, to: str, code: str, names: str
) -> None:
    """a.jpg and a.png of one subset would share a label file: refused with both names, nothing written."""
    source = tmp_path / "annotations.xml"
    source.write_text(
        PROJECT_XML.replace(
            '<image id="3" name="b.jpg" subset="Validation"', '<image id="3" name="a.png" subset="Train"'
        )
    )
    with pytest.raises(FormatError) as caught:
        convert_labels(source, tmp_path / "out", to_format=to)
    assert caught.value.code == code
    assert "'a.jpg'" in str(caught.value) and "'a.png'" in str(caught.value) and names in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("images", "code"),
    [
        ([{"file_name": "a.jpg"}, {"file_name": "a.jpg"}], "cvat_image_duplicate"),
        (
            [{"file_name": "a.jpg", "yolo_split": "val"}, {"file_name": "a.jpg", "voc_split": "val"}],
            "cvat_image_duplicate",
        ),
        ([{"file_name": "a.jpg", "cvat": {"subset": "../up"}}, {"file_name": "b.jpg"}], None),
    ],
)
def test_cvat_writes_one_name_once_a_subset(
    tmp_path: Path, images: list[dict[str, Any]], code: str | None
) -> None:
    from labelport.formats.cvat import read_cvat, write_cvat

    coco = {
        "images": [{"id": n, "width": 8, "height": 8, **image} for n, image in enumerate(images, 1)],
        "categories": [],
        "annotations": [],
    }
    if code is None:  # a subset is an attribute in CVAT, not a folder: any name is kept
        write_cvat(coco, tmp_path / "out.xml")
        assert [i.get("cvat", {}).get("subset") for i in read_cvat(tmp_path / "out.xml").images] == [
            "../up",
            "default",
        ]
        return
    with pytest.raises(FormatError) as caught:
        write_cvat(coco, tmp_path / "out.xml")
    assert caught.value.code == code and "images 1 and 2 are both named 'a.jpg'" in str(caught.value)
    assert not (tmp_path / "out.xml").exists()


@pytest.mark.parametrize("subset", ["../up", "a/b", "..", " ", "x\\y"])
@pytest.mark.parametrize("to", ["yolo", "voc"])
def test_a_subset_that_cannot_name_a_folder_is_refused(tmp_path: Path, to: str, subset: str) -> None:
    source = tmp_path / "annotations.xml"
    source.write_text(PROJECT_XML.replace('subset="Test"', f'subset="{subset}"'))
    with pytest.raises(FormatError) as caught:
        convert_labels(source, tmp_path / "out", to_format=to)
    assert caught.value.code == f"{to}_subset" and repr(subset) in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("to", ["yolo", "voc"])
def test_no_file_name_leads_out_of_the_export(tmp_path: Path, to: str) -> None:
    """A COCO file's absolute file names, and titles such as ../../x.jpg, are written inside the folder."""
    coco = {
        "images": [
            {"id": 1, "file_name": "/data/images/a.jpg", "width": 40, "height": 30},
            {"id": 2, "file_name": "../../../b.jpg", "width": 40, "height": 30},
            {"id": 3, "file_name": "..\\..\\c.jpg", "width": 40, "height": 30},
        ],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": n, "image_id": n, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0} for n in (1, 2, 3)
        ],
    }
    source = tmp_path / "in" / "coco.json"
    source.parent.mkdir()
    source.write_text(json.dumps(coco))
    out = tmp_path / "a" / "b" / "c" / "out"
    report = convert_labels(source, out, to_format=to).export_report
    everything = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    written = [f for f in everything if f != "in/coco.json"]
    assert all(f.startswith("a/b/c/out/") for f in written), written
    assert report.files == len(written) and report.images == 3
    back = get_format(to).read(out)
    assert sorted(i["file_name"] for i in back.images) == ["b.jpg", "c.jpg", "data/images/a.jpg"]
    assert len(back.annotations) == 3


@pytest.mark.parametrize("to", ["yolo", "voc"])
def test_cvat_default_subset_is_no_subset(tmp_path: Path, to: str) -> None:
    """CVAT and Datumaro call the images of no subset 'default': they go to the export's split."""
    source = tmp_path / "annotations.xml"
    source.write_text(PROJECT_XML.replace('subset="Test"', 'subset="default"'))
    convert_labels(source, tmp_path / "out", to_format=to, split="test")
    back = get_format(to).read(tmp_path / "out")
    splits = sorted(i["yolo_split" if to == "yolo" else "voc_split"] for i in back.images)
    assert splits == (
        ["test", "train", "val", "val"] if to == "yolo" else ["Train", "Validation", "Validation", "test"]
    )


def _voc_far(root: Path) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>40</width><height>30</height></size>"
        "<object><name>car</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>1e300</xmax><ymax>12</ymax>"
        "</bndbox></object></annotation>"
    )
    return root


def _cvat_twice(root: Path) -> Path:
    root.mkdir()
    path = root / "annotations.xml"
    path.write_text(
        '<annotations><version>1.1</version><image id="0" name="a.jpg" width="8" height="8"/>'
        '<image id="1" name="a.jpg" width="8" height="8"/></annotations>'
    )
    return path


def _yolo_far(root: Path) -> Path:
    from PIL import Image

    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    Image.new("RGB", (64, 48)).save(root / "images" / "train" / "a.jpg")
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n0 1e300 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [cat]\n")
    return root


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (
            _voc_far,
            "Annotations/a.xml line 1 /annotation/object[1]/bndbox: <bndbox>'s xmax is 1e+300, not a pixel coordinate",
        ),
        (
            _cvat_twice,
            "annotations.xml line 1 /annotations/image[2]: names the image 'a.jpg' as /annotations/image[1] does",
        ),
        (_yolo_far, "labels/train/a.txt line 2: as pixels of this 64x48 image, '1e300' is 6.4e+301"),
    ],
)
def test_garbage_as_coordinates_or_images_fails_the_cli(tmp_path: Path, make: Any, where: str) -> None:
    source = make(tmp_path / "in")
    run = CliRunner().invoke(cli, ["convert", str(source), str(tmp_path / "out.json"), "--to", "coco"])
    assert run.exit_code == 1 and "Traceback" not in run.output
    assert where in run.output, run.output
    assert not (tmp_path / "out.json").exists()
