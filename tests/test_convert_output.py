"""``convert``'s destination and options: a destination that exists is refused unless --overwrite,
the output is renamed into place only when whole (a writer that fails midway leaves nothing), a
destination that cannot be written is one sentence, and convert takes the reader's and the writer's
options (as ``labelport import``/``export`` take them), refusing one the format does not take.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from format_templates import TEMPLATES, write
from labelport.cli import cli
from labelport.convert import convert_labels
from labelport.errors import FormatError, LabelportError

COCO: dict[str, Any] = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 8], "iscrowd": 0},
        {
            "id": 2,
            "image_id": 1,
            "category_id": 2,
            "bbox": [20, 5, 10, 20],
            "segmentation": [[20, 5, 30, 5, 30, 25]],
            "iscrowd": 0,
            "score": 0.9,
        },
    ],
}


def _coco(tmp_path: Path, **changed: Any) -> Path:
    path = tmp_path / "in.json"
    path.write_text(json.dumps({**COCO, **changed}))
    return path


def _run(*args: str | Path) -> Any:
    return CliRunner().invoke(cli, ["convert", *(str(a) for a in args)])


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.endswith(".partial")]


def test_a_destination_that_exists_is_refused_unless_overwrite(tmp_path: Path) -> None:
    source = _coco(tmp_path)
    out = write({"data.yaml": b"names: [mine]\n", "notes.txt": b"kept\n"}, tmp_path / "out")
    before = _tree(out)
    result = _run(source, out, "--to", "yolo")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: {out}: already exists and is not empty; give --overwrite" in result.output
    assert _tree(out) == before  # the data.yaml that was there is as it was
    with pytest.raises(FormatError) as refused:
        convert_labels(source, out, to_format="yolo")
    assert (refused.value.code, refused.value.file) == ("convert_dest", str(out))

    result = _run(source, out, "--to", "yolo", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "notes.txt" not in _tree(out)  # replaced whole, not mixed with what was there
    assert yaml.safe_load((out / "data.yaml").read_text())["names"] == {0: "cat", 1: "dog"}
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "to", "made"),
    [("out.xml", "cvat", "file"), ("tasks.json", "labelstudio", "file"), ("out", "voc", "folder")],
)
def test_files_and_empty_folders(tmp_path: Path, name: str, to: str, made: str) -> None:
    source, out = _coco(tmp_path), tmp_path / name
    if made == "folder":
        out.mkdir()  # an empty folder takes the output
    assert _run(source, out, "--to", to).exit_code == 0
    result = _run(source, out, "--to", to)  # now it holds the first output
    assert result.exit_code == 1 and "already exists" in result.output
    assert _run(source, out, "--to", to, "--overwrite").exit_code == 0
    assert _leftovers(tmp_path) == []


def test_a_writer_that_fails_midway_leaves_nothing_written(tmp_path: Path) -> None:
    # the second image's label file has a name longer than the file system takes: a real failure,
    # after the first image's label file was written
    images = [*COCO["images"], {"id": 2, "file_name": "b" * 300 + ".jpg", "width": 40, "height": 30}]
    extra = {**COCO["annotations"][0], "id": 3, "image_id": 2}
    source = _coco(tmp_path, images=images, annotations=[*COCO["annotations"], extra])
    out = tmp_path / "out"
    result = _run(source, out, "--to", "yolo")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(
        rf"Error: {re.escape(str(out))}: cannot be written: File name too long \(labels/train/b+\.txt\)\.",
        result.output,
    )
    assert not out.exists() and _leftovers(tmp_path) == []

    write({"data.yaml": b"names: [mine]\n"}, out)
    before = _tree(out)
    result = _run(source, out, "--to", "yolo", "--overwrite")
    assert result.exit_code == 1 and _tree(out) == before and _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("dest", "to"),
    [("/proc/out", "yolo"), ("/proc/out.xml", "cvat"), ("/proc/version/out", "voc"), ("/proc/self", "voc")],
)
def test_a_destination_that_cannot_be_written_is_one_sentence(tmp_path: Path, dest: str, to: str) -> None:
    result = _run(_coco(tmp_path), dest, "--to", to)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("Error: ") == 1 and f"Error: {dest}: " in result.output


def _names(out: Path) -> Any:
    return yaml.safe_load((out / "data.yaml").read_text())["names"]


def _label_lines(out: Path) -> list[str]:
    return (out / "labels" / "val" / "a.txt").read_text().split("\n")


#: (options, target, a check of what the writer wrote)
WRITE_OPTIONS: list[tuple[list[str], str, Callable[[Path], Any]]] = [
    (["--classes", "dog,cat"], "yolo", lambda out: _names(out) == {0: "dog", 1: "cat"}),
    (["--split", "val"], "yolo", lambda out: (out / "labels" / "val" / "a.txt").is_file()),
    (["--task", "detect", "--split", "val"], "yolo", lambda out: all(len(line.split()) == 5 for line in _label_lines(out) if line)),
    (["--task", "segment", "--split", "val"], "yolo", lambda out: sorted(len(line.split()) for line in _label_lines(out) if line) == [7, 9]),
    (["--mode", "images"], "cvat", lambda out: ET.parse(out).getroot().find("image") is not None),
    (["--predictions"], "labelstudio", lambda out: "predictions" in json.loads(out.read_text())[0]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "to", "check"), WRITE_OPTIONS, ids=[" ".join(o[0]) for o in WRITE_OPTIONS]
)
def test_the_writers_options_reach_the_writer(
    tmp_path: Path, options: list[str], to: str, check: Callable[[Path], Any]
) -> None:
    out = tmp_path / {"cvat": "out.xml", "labelstudio": "tasks.json"}.get(to, "out")
    result = _run(_coco(tmp_path), out, "--to", to, *options)
    assert result.exit_code == 0, result.output
    assert check(out)


def test_the_readers_options_reach_the_reader(tmp_path: Path) -> None:
    files = {**TEMPLATES["yolo"](), "labels/train/a.txt": b"0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5\n"}
    source = write(files, tmp_path / "in")
    result = _run(source, tmp_path / "out.xml", "--from-task", "obb")
    assert result.exit_code == 0, result.output
    assert [b.get("rotation") for b in ET.parse(tmp_path / "out.xml").getroot().iter("box")] == [None]
    # without it, 8 numbers are a polygon
    assert _run(source, tmp_path / "poly.xml").exit_code == 0
    assert len(list(ET.parse(tmp_path / "poly.xml").getroot().iter("polygon"))) == 1
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"data": {"image": "a.png"}, "predictions": [], "annotations": []}]))
    result = _run(tasks, tmp_path / "p.json", "--from-predictions", "--on-error", "skip")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--to", "yolo", "--mode", "video"], "'mode' is not an option of yolo's writer (it takes classes, task, split)."),
        (["--to", "cvat", "--classes", "a,b"], "'classes' is not an option of cvat's writer (it takes mode)."),
        (["--to", "yolo", "--from-task", "obb"], "'task' is not an option of coco's reader (it takes none)."),
    ],
)  # fmt: skip
def test_an_option_the_format_does_not_take_is_refused(tmp_path: Path, options: list[str], said: str) -> None:
    out = tmp_path / "out"
    result = _run(_coco(tmp_path), out, *options)
    assert result.exit_code == 1 and f"Error: {said}" in result.output
    assert not out.exists()
    with pytest.raises(LabelportError, match="is not an option of"):
        convert_labels(_coco(tmp_path), out, to_format="yolo", mode="video")


@pytest.mark.parametrize(
    ("dest", "to"), [("/proc/out", "yolo"), ("/proc/out.xml", "cvat"), ("/proc/out.json", "labelstudio")]
)
def test_an_export_that_cannot_be_written_is_one_sentence(
    tmp_path: Path, client: Any, dest: str, to: str
) -> None:
    project = client.create_project("p")
    project.import_labels(_coco(tmp_path), categories="create", create_missing_data_units=True)
    with pytest.raises(FormatError) as failed:
        project.export_labels(dest, to)
    assert (failed.value.code, failed.value.file) == ("dest_unwritable", dest)
    assert str(failed.value).startswith(f"{dest}: cannot be written: ")


def test_a_polygon_reaching_far_outside_is_rasterised_clipped() -> None:
    from pycocotools import mask as mask_utils

    from labelport import geometry

    # pycocotools walks each pixel of an edge: a vertex at 1e7 costs it 800 MiB, at 1e9 it dies
    far = geometry.rle_from_polygons([[4, 3, 1e300, 3, 16, 15]], 30, 40)
    margin = 40 + geometry.RASTER_MARGIN  # where the clipped ring meets the margin
    clipped = mask_utils.frPyObjects([[4.0, 3.0, margin, 3.0, margin, 15.0, 16.0, 15.0]], 30, 40)
    assert (
        geometry.rle_to_mask(far) == geometry.rle_to_mask(geometry.rle_to_json(mask_utils.merge(clipped)))
    ).all()
    inside = [[1.5, 2.0, 30.25, 4.0, 20.0, 25.5]]  # within the margin: pycocotools' own answer, bit for bit
    ours = geometry.rle_to_mask(geometry.rle_from_polygons(inside, 30, 40))
    reference = mask_utils.merge(mask_utils.frPyObjects(inside, 30, 40))
    assert (ours == geometry.rle_to_mask(geometry.rle_to_json(reference))).all()
    gone = geometry.rle_from_polygons([[1e300, 1e300, 2e300, 1e300, 2e300, 2e300]], 30, 40)
    assert geometry.rle_area(gone) == 0 and gone["size"] == [30, 40]


def test_a_polygon_at_the_coordinate_limit_converts_to_voc_in_its_own_process(tmp_path: Path) -> None:
    """A vertex 2 * 10^9 pixels out (5 * 10^7 widths of the 40-pixel image: inside the coordinate
    limit, so the reader keeps it) is rasterised clipped, in memory and time a mask of the image takes."""
    import subprocess
    import sys

    files = {
        **TEMPLATES["yolo"](),
        "labels/train/a.txt": b"0 0.5 0.5 0.25 0.5\n1 0.1 0.1 5e7 0.1 0.4 0.5\n",
    }
    source = write(files, tmp_path / "in")
    # its own process: the old rasterising crashed the interpreter (a segmentation fault)
    done = subprocess.run(
        [sys.executable, "-c", "from labelport.cli import cli; cli()", "convert", str(source), str(tmp_path / "out"),
         "--to", "voc"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "polygon->mask 1" in done.stdout


@pytest.mark.parametrize("where", ["itself", "inside", "around"])
def test_a_destination_that_is_the_source_is_refused(tmp_path: Path, where: str) -> None:
    source = write(TEMPLATES["yolo"](), tmp_path / "ds")
    before = _tree(source)
    dest = {"itself": source, "inside": source / "out", "around": tmp_path}[where]
    result = _run(source, dest, "--to", "yolo", "--overwrite")
    assert result.exit_code == 1 and f"Error: {dest}: is or holds the source {source}" in result.output
    assert _tree(source) == before  # its image and labels are still there
