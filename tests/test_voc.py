"""Pascal VOC in and out: XML per image, instance masks as PNGs, Datumaro's files, reader and writer."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelport import UserClient, geometry
from labelport.errors import FormatError
from labelport.formats import guess_format
from labelport.formats.voc import read_voc

DATA = Path(__file__).parent / "data" / "voc"

XML = """<annotation>
  <folder>VOC</folder>
  <filename>{name}.jpg</filename>
  <size><width>40</width><height>30</height><depth>3</depth></size>
  <segmented>0</segmented>
  {objects}
</annotation>
"""
OBJECT = """<object><name>{cls}</name><pose>{pose}</pose><truncated>{t}</truncated><difficult>{d}</difficult>
  <occluded>0</occluded><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>{extra}</object>"""


def make_voc(
    root: Path, files: dict[str, list[tuple[str, int, int, int, int]]], *, split: str = "train"
) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for name, objects in files.items():
        text = "\n".join(
            OBJECT.format(
                cls=c,
                pose="Left" if i == 0 else "Unspecified",
                t=int(i == 0),
                d=0,
                x1=x1,
                y1=y1,
                x2=x2,
                y2=y2,
                extra="<attributes><attribute><name>color</name><value>red</value></attribute></attributes>"
                if c == "car"
                else "",
            )
            for i, (c, x1, y1, x2, y2) in enumerate(objects)
        )
        (root / "Annotations" / f"{name}.xml").write_text(XML.format(name=name, objects=text))
    (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{n}\n" for n in files))
    return root


FILES = {"a": [("car", 1, 2, 11, 12), ("person", 20, 5, 30, 25)], "b": [("car", 0, 0, 40, 30)], "c": []}


def objects_of(root: Path) -> dict[str, list[dict[str, str]]]:
    out = {}
    for xml in sorted((root / "Annotations").glob("*.xml")):
        doc = ET.parse(xml).getroot()
        out[xml.stem] = [
            {el.tag: (el.text or "").strip() for el in obj.iter() if el is not obj and len(el) == 0}
            for obj in doc.findall("object")
        ]
    return out


def test_read(tmp_path: Path) -> None:
    data = read_voc(make_voc(tmp_path / "voc", FILES))
    assert [(i["file_name"], i["width"], i["height"], i["voc_split"]) for i in data.images] == [
        ("a.jpg", 40, 30, "train"),
        ("b.jpg", 40, 30, "train"),
        ("c.jpg", 40, 30, "train"),
    ]
    first = data.annotations[0]
    assert first["bbox"] == [1, 2, 10, 10] and first["attributes"] == {"color": "red"}
    assert first["voc"] == {"pose": "Left", "truncated": 1, "difficult": 0, "occluded": 0}
    assert guess_format(tmp_path / "voc") == "voc"


def test_round_trip_field_for_field(tmp_path: Path, client: UserClient) -> None:
    root = make_voc(tmp_path / "voc", FILES)
    project = client.create_project("p")
    report = project.import_labels(root, format="voc", categories="create", create_missing_data_units=True)
    assert report.counts.imported == 3 and not report.errors
    assert project.import_labels(root, format="voc").counts.updated == 3
    out = project.export_labels(tmp_path / "out", format="voc")
    assert out.losses == {} and out.images == 3 and out.objects == 3
    assert objects_of(tmp_path / "out") == objects_of(root)
    assert (tmp_path / "out" / "ImageSets" / "Main" / "train.txt").read_text().split() == ["a", "b", "c"]


def test_a_missing_bndbox_is_named_by_its_element(tmp_path: Path, client: UserClient) -> None:
    root = make_voc(tmp_path / "voc", {"a": [("car", 1, 2, 11, 12)]})
    xml = root / "Annotations" / "a.xml"
    xml.write_text(
        xml.read_text().replace("</annotation>", "<object><name>dog</name></object>\n</annotation>")
    )
    line = xml.read_text().splitlines().index("<object><name>dog</name></object>") + 1
    project = client.create_project("p")
    with pytest.raises(FormatError) as caught:
        project.import_labels(root, format="voc", categories="create", create_missing_data_units=True)
    assert (caught.value.code, caught.value.path) == ("voc_bndbox", "/annotation/object[2]/bndbox")
    assert caught.value.line == line
    assert str(caught.value).startswith(
        f"{xml} line {line} /annotation/object[2]/bndbox: an <object> needs a <bndbox>"
    )
    assert project.list_data_units() == []
    report = project.import_labels(
        root, format="voc", categories="create", create_missing_data_units=True, on_error="skip"
    )
    assert report.counts.imported == 1 and report.counts.skipped == 1


@pytest.mark.parametrize(
    ("box", "code", "words"),
    [
        ((1, 2, "1e300", 12), "voc_coordinate", "xmax is 1e+300, not a pixel coordinate"),
        (("-3e9", 2, 11, 12), "voc_coordinate", "xmin is -3e+09, not a pixel coordinate"),
        ((1, 2, "inf", 12), "voc_bndbox", "xmax is missing or not a number"),
        ((1, 2, 11, "nan"), "voc_bndbox", "ymax is missing or not a number"),
        ((11, 2, 1, 12), "voc_bndbox", "xmax > xmin"),
    ],
)
def test_a_box_that_is_no_coordinate_is_refused(
    tmp_path: Path, client: UserClient, box: tuple[object, ...], code: str, words: str
) -> None:
    root = make_voc(tmp_path / "voc", {"a": [("car", 1, 2, 11, 12), ("dog", *box)]})  # type: ignore[list-item]
    project = client.create_project("p")
    with pytest.raises(FormatError) as caught:
        project.import_labels(root, format="voc", categories="create", create_missing_data_units=True)
    assert (caught.value.code, caught.value.path) == (code, "/annotation/object[2]/bndbox")
    assert words in str(caught.value) and str(caught.value).startswith(str(root / "Annotations" / "a.xml"))
    assert project.list_data_units() == []


def test_instance_masks_in_and_out(tmp_path: Path, client: UserClient) -> None:
    root = make_voc(tmp_path / "voc", {"a": [("car", 1, 2, 11, 12), ("person", 20, 5, 30, 25)]})
    instances = np.zeros((30, 40), dtype=np.uint8)
    instances[2:12, 1:11] = 1
    instances[5:25, 20:30] = 2
    instances[5, 20] = 255  # the void border is nobody's
    (root / "SegmentationObject").mkdir()
    png = Image.fromarray(instances, mode="P")
    png.putpalette([v for i in range(256) for v in (i, i, i)])
    png.save(root / "SegmentationObject" / "a.png")
    data = read_voc(root)
    assert int(geometry.rle_to_mask(data.annotations[0]["segmentation"]).sum()) == 100
    assert int(geometry.rle_to_mask(data.annotations[1]["segmentation"]).sum()) == 199
    project = client.create_project("p")
    project.import_labels(root, format="voc", categories="create", create_missing_data_units=True)
    report = project.export_labels(tmp_path / "out", format="voc")
    assert report.losses == {}
    written = np.asarray(Image.open(tmp_path / "out" / "SegmentationObject" / "a.png"))
    assert np.array_equal(written, np.where(instances == 255, 0, instances))
    classes = np.asarray(Image.open(tmp_path / "out" / "SegmentationClass" / "a.png"))
    assert set(np.unique(classes)) == {0, 1, 2}


def test_coco_polygons_and_points_are_counted(tmp_path: Path, client: UserClient) -> None:
    coco = {
        "images": [{"id": 1, "file_name": "x.jpg", "width": 20, "height": 20}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[1, 1, 10, 1, 10, 10]],
                "bbox": [1, 1, 9, 9],
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 2,
                "bbox": [2, 2, 5, 5],
                "score": 0.5,
                "attributes": {"rotation": 15},
            },
        ],
    }
    project = client.create_project("p")
    project.import_coco(coco, categories="create", create_missing_data_units=True)
    report = project.export_labels(tmp_path / "out", format="voc")
    assert report.losses == {"polygon->mask": 1, "score": 1, "rotation": 1}
    back = read_voc(tmp_path / "out")
    assert [a["bbox"] for a in back.annotations] == [[1, 1, 9, 9], [2, 2, 5, 5]]
    assert "segmentation" in back.annotations[0] and "segmentation" not in back.annotations[1]


def test_datumaro_asset_imports(client: UserClient) -> None:
    project = client.create_project("p")
    report = project.import_labels(DATA, format="voc", categories="create", create_missing_data_units=True)
    assert report.counts.imported == 2 and not report.errors
    data = read_voc(DATA)
    assert [data.categories[a["category_id"] - 1]["name"] for a in data.annotations] == ["cat", "person"]
    person = data.annotations[1]
    assert person["voc"]["parts"] == [{"name": "head", "bndbox": [5.5, 6, 7.5, 8]}]
    assert person["voc"]["actions"]["jumping"] == 0 and person["voc"]["actions"]["phoning"] == 1
    cat = data.annotations[0]
    assert cat["voc"]["truncated"] == 1 and int(geometry.rle_to_mask(cat["segmentation"]).sum()) == 200


def test_datumaro_reads_labelport_voc(tmp_path: Path, client: UserClient) -> None:
    import datumaro as dm

    project = client.create_project("p")
    project.import_labels(
        make_voc(tmp_path / "voc", FILES), format="voc", categories="create", create_missing_data_units=True
    )
    project.export_labels(tmp_path / "out", format="voc")
    for name in FILES:
        Image.new("RGB", (40, 30)).save(tmp_path / "out" / "JPEGImages" / f"{name}.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = dm.Dataset.import_from(str(tmp_path / "out"), "voc_detection")
    labels = dataset.categories()[dm.AnnotationType.label]
    assert len(dataset) == 3
    got = Counter(labels[a.label].name for item in dataset for a in item.annotations)
    assert got == {"car": 2, "person": 1}
    car = next(
        a for item in dataset if item.id == "a" for a in item.annotations if labels[a.label].name == "car"
    )
    assert car.get_bbox() == [1, 2, 10, 10]
    assert (
        car.attributes["truncated"] is True
        and car.attributes["color"] == "red"
        and car.attributes["pose"] == "Left"
    )


def test_labelport_reads_datumaro_voc(tmp_path: Path) -> None:
    import datumaro as dm

    items = [
        dm.DatasetItem(
            id="one",
            subset="train",
            media=dm.Image.from_numpy(np.zeros((20, 30, 3), dtype=np.uint8)),
            annotations=[
                dm.Bbox(2, 3, 10, 5, label=0, attributes={"difficult": True}),
                dm.Bbox(1, 1, 4, 4, label=1),
            ],
        )
    ]
    dataset = dm.Dataset.from_iterable(items, categories=["car", "dog"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset.export(str(tmp_path / "dm"), "voc_detection", save_media=True)
    data = read_voc(tmp_path / "dm")
    assert [(i["file_name"], i["width"], i["height"], i.get("voc_split")) for i in data.images] == [
        ("one.jpg", 30, 20, "train")
    ]
    got = [
        (data.categories[a["category_id"] - 1]["name"], a["bbox"], a["voc"]["difficult"])
        for a in data.annotations
    ]
    assert got == [("car", [2, 3, 10, 5], 1), ("dog", [1, 1, 4, 4], 0)]
