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
