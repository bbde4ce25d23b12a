"""globox, a second independent reader and writer: it reads labelport's YOLO, VOC and CVAT, and labelport reads its."""

from __future__ import annotations

import json
from pathlib import Path

import globox
import pytest
from PIL import Image

from labelport.convert import convert_labels
from labelport.formats import get_format
from test_convert import COCO, WANT, boxes


def _images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for image in COCO["images"]:
        Image.new("RGB", (image["width"], image["height"])).save(folder / image["file_name"])


def theirs(annotations: object) -> list[tuple[str, str, tuple[float, ...]]]:
    return sorted(
        (a.image_id, b.label, tuple(round(v, 3) for v in (b.xmin, b.ymin, b.width, b.height)))
        for a in annotations  # type: ignore[attr-defined]
        for b in a.boxes
    )


@pytest.fixture
def coco(tmp_path: Path) -> Path:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(COCO))
    return path


def test_globox_reads_labelport_yolo(tmp_path: Path, coco: Path) -> None:
    result = convert_labels(coco, tmp_path / "yolo", to_format="yolo")
    _images(tmp_path / "yolo" / "images" / "train")
    found = globox.AnnotationSet.from_yolo_v5(
        tmp_path / "yolo" / "labels" / "train", image_folder=tmp_path / "yolo" / "images" / "train"
    )
    names = {str(i): n for n, i in result.export_report.classes.items()}
    assert sorted((i, names[label], box) for i, label, box in theirs(found)) == WANT


def test_globox_reads_labelport_voc_and_cvat(tmp_path: Path, coco: Path) -> None:
    convert_labels(coco, tmp_path / "voc", to_format="voc")
    assert theirs(globox.AnnotationSet.from_pascal_voc(tmp_path / "voc" / "Annotations")) == WANT
    convert_labels(coco, tmp_path / "out.xml", to_format="cvat")
    assert theirs(globox.AnnotationSet.from_cvat(tmp_path / "out.xml")) == WANT


def test_labelport_reads_globox_files(tmp_path: Path, coco: Path) -> None:
    found = globox.AnnotationSet.from_coco(coco)
    found.save_cvat(tmp_path / "globox.xml")
    assert boxes(tmp_path / "globox.xml", "cvat") == WANT
    (tmp_path / "voc" / "Annotations").mkdir(parents=True)
    found.save_pascal_voc(tmp_path / "voc" / "Annotations")
    assert boxes(tmp_path / "voc", "voc") == WANT
    root = tmp_path / "yolo"
    (root / "labels" / "train").mkdir(parents=True)
    found.save_yolo_v5(root / "labels" / "train", label_to_id={"cat": 0, "dog": 1})
    _images(root / "images" / "train")
    (root / "data.yaml").write_text("train: images/train\nnames: [cat, dog]\n")
    assert boxes(root, "yolo") == WANT
    assert get_format("yolo").sniff(root)
