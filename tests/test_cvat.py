"""CVAT for images 1.1 and for video 1.1: real XML in and out, Datumaro's files, Datumaro's reader and writer."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelport import UserClient
from labelport.errors import FormatError
from labelport.formats import guess_format
from labelport.formats.cvat import read_cvat

DATA = Path(__file__).parent / "data" / "cvat"

IMAGES_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>t</name><labels>
    <label><name>car</name><type>any</type><attributes>
      <attribute><name>color</name><input_type>select</input_type><values>red
blue</values></attribute>
      <attribute><name>parked</name><input_type>checkbox</input_type><values>false
true</values></attribute>
    </attributes></label>
    <label><name>road</name><type>any</type><attributes/></label>
    <label><name>lane</name><type>any</type><attributes/></label>
    <label><name>sign</name><type>any</type><attributes/></label>
    <label><name>blob</name><type>any</type><attributes/></label>
    <label><name>person</name><type>skeleton</type><attributes/>
      <svg>&lt;line data-type="edge" data-node-from="1" data-node-to="2"&gt;&lt;/line&gt;&lt;circle data-type="element node" data-element-id="1" data-node-id="1" data-label-name="head"&gt;&lt;/circle&gt;&lt;circle data-type="element node" data-element-id="2" data-node-id="2" data-label-name="foot"&gt;&lt;/circle&gt;</svg>
    </label>
    <label><name>head</name><type>points</type><attributes/><parent>person</parent></label>
    <label><name>foot</name><type>points</type><attributes/><parent>person</parent></label>
  </labels></task></meta>
  <image id="3" name="street.jpg" width="40" height="30">
    <box label="car" source="manual" occluded="1" xtl="1.5" ytl="2" xbr="11.25" ybr="9" rotation="30" z_order="2" group_id="4">
      <attribute name="color">red</attribute>
      <attribute name="parked">true</attribute>
    </box>
    <polygon label="road" source="manual" occluded="0" points="0,20;39,20;39,29;0,29" z_order="0"/>
    <polyline label="lane" source="auto" occluded="0" points="1,25;20,26.5;38,27" z_order="1"/>
    <points label="sign" source="manual" occluded="0" points="30,5" z_order="0"/>
    <mask label="blob" source="manual" occluded="0" rle="1, 3, 2, 2, 1, 1" left="10" top="12" width="5" height="2" z_order="0"/>
    <skeleton label="person" source="manual" z_order="0">
      <points label="head" source="manual" outside="0" occluded="0" points="20,3"/>
      <points label="foot" source="manual" outside="0" occluded="1" points="21,12"/>
    </skeleton>
  </image>
  <image id="7" name="empty.jpg" width="16" height="8"/>
</annotations>
"""


def write(tmp_path: Path, text: str, name: str = "annotations.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def shapes(path: Path) -> list[dict[str, Any]]:
    """Every shape element of a CVAT file as (tag, attributes, attribute children), in file order."""
    root = ET.parse(path).getroot()
    out = []
    for parent in root:
        if parent.tag in ("image", "track"):
            for el in parent:
                children = {a.get("name"): a.text for a in el.findall("attribute")}
                nodes = [dict(p.attrib) for p in el.findall("points")]
                out.append(
                    {"parent": parent.tag, "tag": el.tag, **el.attrib, "attributes": children, "nodes": nodes}
                )
    return out


def test_read_every_shape(tmp_path: Path) -> None:
    data = read_cvat(write(tmp_path, IMAGES_XML))
    assert [(i["id"], i["file_name"]) for i in data.images] == [(3, "street.jpg"), (7, "empty.jpg")]
    by = {data.categories[a["category_id"] - 1]["name"]: a for a in data.annotations}
    assert by["car"]["bbox"] == [1.5, 2, 9.75, 7]
    assert by["car"]["attributes"] == {"color": "red", "parked": True, "rotation": 30}
    assert by["car"]["cvat"] == {
        "type": "box",
        "occluded": 1,
        "z_order": 2,
        "source": "manual",
        "group_id": 4,
    }
    assert by["road"]["segmentation"] == [[0, 20, 39, 20, 39, 29, 0, 29]]
    assert by["lane"]["cvat"]["type"] == "polyline"
    assert by["person"]["keypoints"] == [20, 3, 2, 21, 12, 1]
    assert data.categories[5]["keypoints"] == ["head", "foot"] and data.categories[5]["skeleton"] == [[1, 2]]
    mask = np.zeros((30, 40), dtype=np.uint8)
    mask[12:14, 10:15] = [[0, 1, 1, 1, 0], [0, 1, 1, 0, 1]]  # runs 1, 3, 2, 2, 1, 1, row by row
    from labelport import geometry

    assert np.array_equal(geometry.rle_to_mask(by["blob"]["segmentation"]), mask)
    assert guess_format(tmp_path / "annotations.xml") == "cvat"


def test_images_round_trip_field_for_field(tmp_path: Path, client: UserClient) -> None:
    source = write(tmp_path, IMAGES_XML)
    project = client.create_project("p")
    report = project.import_labels(source, format="cvat", categories="create", create_missing_data_units=True)
    assert report.counts.imported == 6 and not report.errors
    assert project.import_labels(source, format="cvat").counts.updated == 6  # idempotent
    out = project.export_labels(tmp_path / "out.xml", format="cvat")
    assert out.objects == 6 and out.images == 2
    assert out.losses == {}
    assert shapes(tmp_path / "out.xml") == [
        {**s, "source": s.get("source", "manual"), "occluded": s.get("occluded", "0")}
        if s["tag"] != "skeleton"
        else {**s, "occluded": "0"}
        for s in shapes(source)
    ]
    written = ET.parse(tmp_path / "out.xml").getroot()
    assert [(i.get("id"), i.get("name")) for i in written.iter("image")] == [
        ("3", "street.jpg"),
        ("7", "empty.jpg"),
    ]


ANY_XML = """<annotations><version>1.1</version>
  <meta><task><name>t</name><labels>
    <label><name>car</name><type>any</type><attributes/></label>
    <label><name>sign</name><type>any</type><attributes/></label>
    <label><name>sign (points)</name><type>any</type><attributes/></label>
  </labels></task></meta>
  <image id="0" name="a.jpg" width="40" height="30">
    <box label="car" occluded="0" xtl="1" ytl="2" xbr="11" ybr="9" z_order="0"/>
    <points label="car" occluded="0" points="30,5;31,6" z_order="0"/>
    <polyline label="car" occluded="0" points="1,25;20,26.5;38,27" z_order="0"/>
    <polygon label="car" occluded="0" points="0,20;39,20;39,29;0,29" z_order="0"/>
    <points label="car" occluded="0" points="3,4" z_order="0"/>
    <box label="sign" occluded="0" xtl="1" ytl="2" xbr="5" ybr="9" z_order="0"/>
    <points label="sign" occluded="0" points="7,8" z_order="0"/>
    <points label="sign (points)" occluded="0" points="9,9" z_order="0"/>
  </image>
</annotations>
"""


def test_a_label_drawn_as_points_and_as_other_shapes_is_kept_whole(
    tmp_path: Path, client: UserClient
) -> None:
    """CVAT lets a label of type any be drawn as points and as boxes, lines, polygons. A class has one
    shape, so its points become a class of their own that the CVAT writer gives back as the label."""
    source = write(tmp_path, ANY_XML)
    project = client.create_project("p")
    report = project.import_labels(source, format="cvat", categories="create", create_missing_data_units=True)
    assert report.counts.imported == 8 and not report.errors
    shapes_of = {o.title: o.shape.value for o in project.ontology_structure.objects}
    assert shapes_of == {
        "car": "polygon",
        "car (points)": "skeleton",
        "sign": "bounding_box",
        "sign (points)": "skeleton",  # the file's own label of that name keeps it
        "sign (points) 2": "skeleton",
    }
    out = project.export_labels(tmp_path / "out.xml", format="cvat")
    assert out.objects == 8 and out.losses == {}
    assert [
        (s["tag"], s["label"], s["points"] if "points" in s else s["xtl"])
        for s in shapes(tmp_path / "out.xml")
    ] == [(s["tag"], s["label"], s["points"] if "points" in s else s["xtl"]) for s in shapes(source)]
    labels = [el.findtext("name") for el in ET.parse(tmp_path / "out.xml").getroot().iter("label")]
    assert labels == ["car", "sign", "sign (points)"]  # one label for what was one
    back = client.create_project("q")
    again = back.import_labels(
        tmp_path / "out.xml", format="cvat", categories="create", create_missing_data_units=True
    )
    assert again.counts.imported == 8 and not again.errors


VIDEO_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>drive</name><labels><label><name>car</name><attributes/></label>
    <label><name>cone</name><attributes/></label></labels>
    <original_size><width>64</width><height>48</height></original_size></task>
    <source>drive.mp4</source></meta>
  <track id="0" label="car" source="manual">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="1" ytl="2" xbr="11" ybr="12" z_order="0"/>
    <box frame="1" keyframe="0" outside="0" occluded="0" xtl="2" ytl="2" xbr="12" ybr="12" z_order="0"/>
    <box frame="2" keyframe="1" outside="0" occluded="1" xtl="3" ytl="2" xbr="13" ybr="12" z_order="0"/>
    <box frame="3" keyframe="1" outside="1" occluded="1" xtl="3" ytl="2" xbr="13" ybr="12" z_order="0"/>
  </track>
  <track id="5" label="cone" source="manual">
    <polygon frame="4" keyframe="1" outside="0" occluded="0" points="1,1;5,1;3,6" z_order="0"/>
  </track>
</annotations>
"""


def test_video_tracks_round_trip(tmp_path: Path, client: UserClient) -> None:
    source = write(tmp_path, VIDEO_XML)
    data = read_cvat(source)
    assert [(i["video_title"], i["frame"]) for i in data.images] == [
        ("drive.mp4", f) for f in range(5) if f != 3
    ]
    assert [a["track_id"] for a in data.annotations] == [0, 0, 0, 5]
    project = client.create_project("p")
    project.import_labels(source, format="cvat", categories="create", create_missing_data_units=True)
    (unit,) = project.list_data_units()
    assert (unit.title, unit.frames, unit.width, unit.height) == ("drive.mp4", 5, 64, 48)
    row = project.list_label_rows_v2()[0]
    car = next(o for o in row.object_instances if o.ontology_item.title == "car")
    assert sorted(f.frame for f in car.get_annotations()) == [0, 1, 2]  # one object across frames
    project.export_labels(tmp_path / "out.xml", format="cvat")
    written = [
        (s["parent"], s["tag"], s["frame"], s["outside"], s["keyframe"], s.get("xtl"))
        for s in shapes(tmp_path / "out.xml")
    ]
    original = [
        (s["parent"], s["tag"], s["frame"], s["outside"], s["keyframe"], s.get("xtl")) for s in shapes(source)
    ]
    assert written == original
    root = ET.parse(tmp_path / "out.xml").getroot()
    assert [t.get("id") for t in root.iter("track")] == ["0", "5"]


def test_grouped_polygons_are_one_object_only_when_nothing_but_points_differs(tmp_path: Path) -> None:
    text = """<annotations><version>1.1</version>
      <image id="0" name="a.jpg" width="40" height="30">
        <polygon label="car" group_id="1" points="0,0;4,0;4,4"/>
        <polygon label="car" group_id="1" points="10,10;14,10;14,14"/>
        <polygon label="person" group_id="1" points="20,20;24,20;24,24"/>
        <polygon label="car" group_id="2" points="0,0;4,0;4,4"><attribute name="color">red</attribute></polygon>
        <polygon label="car" group_id="2" points="5,5;6,5;6,6"><attribute name="color">blue</attribute></polygon>
        <polygon label="car" points="1,1;2,1;2,2"/>
        <polygon label="car" points="3,3;4,3;4,4"/>
        <box label="car" group_id="1" xtl="1" ytl="1" xbr="3" ybr="3"/>
      </image></annotations>"""
    data = read_cvat(write(tmp_path, text))
    got = [
        (data.categories[a["category_id"] - 1]["name"], len(a.get("segmentation") or []), a["bbox"])
        for a in data.annotations
    ]
    assert got == [
        ("car", 2, [0, 0, 14, 14]),  # the two parts of group 1
        ("person", 1, [20, 20, 4, 4]),  # another label
        ("car", 1, [0, 0, 4, 4]),  # other attributes: two objects
        ("car", 1, [5, 5, 1, 1]),
        ("car", 1, [1, 1, 1, 1]),  # no group: two objects
        ("car", 1, [3, 3, 1, 1]),
        ("car", 0, [1, 1, 2, 2]),  # a box is no polygon part
    ]
    assert [a["id"] for a in data.annotations] == list(range(1, 8))


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        (
            '<image id="0" name="a.jpg" width="8" height="8"><box label="car" xtl="1" ytl="1" xbr="5"/></image>',
            "cvat_box",
            "/annotations/image[1]/box[1]",
        ),
        (
            '<image id="0" name="a.jpg" width="8" height="8"><box label="car" xtl="1" ytl="1" xbr="5" ybr="5"/><polygon label="car" points="1,1;2"/></image>',
            "cvat_points",
            "/annotations/image[1]/polygon[1]",
        ),
        (
            '<image id="0" name="a.jpg" width="8" height="8"/><image id="1" name="b.jpg" height="8"/>',
            "cvat_size",
            "/annotations/image[2]",
        ),
        (
            '<image id="0" name="a.jpg" width="8" height="8"><mask label="car" rle="3, 4" left="0" top="0" width="2" height="2"/></image>',
            "cvat_mask",
            "/annotations/image[1]/mask[1]",
        ),
        (
            '<image id="0" name="a.jpg" width="8" height="8"><box label="car" xtl="1" ytl="1" xbr="1e300" ybr="5"/></image>',
            "cvat_coordinate",
            "/annotations/image[1]/box[1]",
        ),
        (
            '<image id="0" name="a.jpg" width="8" height="8"><points label="car" points="1,1;-3e9,2"/></image>',
            "cvat_coordinate",
            "/annotations/image[1]/points[1]",
        ),
        # the same name twice (in one subset, or both with none) is two images that cannot both be kept
        (
            '<image id="0" name="a.jpg" width="8" height="8"/><image id="1" name="b.jpg" width="8" height="8"/>'
            '<image id="2" name="a.jpg" width="8" height="8"/>',
            "cvat_image_duplicate",
            "/annotations/image[3]",
        ),
        (
            '<image id="0" name="a.jpg" subset="train" width="8" height="8"/><image id="1" name="a.jpg" subset="val" width="8" height="8"/>'
            '<image id="2" name="a.jpg" subset="val" width="8" height="8"/>',
            "cvat_image_duplicate",
            "/annotations/image[3]",
        ),
    ],
)
def test_a_bad_element_names_its_path(
    tmp_path: Path, client: UserClient, text: str, code: str, where: str
) -> None:
    source = write(tmp_path, f"<annotations><version>1.1</version>{text}</annotations>")
    project = client.create_project("p")
    with pytest.raises(FormatError) as caught:
        project.import_labels(source, format="cvat", categories="create", create_missing_data_units=True)
    assert (caught.value.code, caught.value.path) == (code, where)
    assert where in str(caught.value)
    if code == "cvat_image_duplicate":  # both elements are named
        assert "as /annotations/image[" in str(caught.value)
    assert project.list_data_units() == []


def test_not_xml_and_xml_bombs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="line 2") as caught:
        read_cvat(write(tmp_path, "<annotations>\n<image></annotations>"))
    assert caught.value.code == "xml_syntax"
    bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><annotations>&b;</annotations>'
    with pytest.raises(FormatError, match="refuses") as caught:
        read_cvat(write(tmp_path, bomb, "bomb.xml"))
    assert caught.value.code == "xml_unsafe"


def test_coco_to_cvat_to_coco_keeps_image_ids_and_reports_the_rest(
    tmp_path: Path, client: UserClient
) -> None:
    coco = {
        "images": [
            {"id": 10, "file_name": "x.jpg", "width": 50, "height": 40},
            {"id": 11, "file_name": "y.jpg", "width": 50, "height": 40},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 10,
                "category_id": 1,
                "bbox": [1, 2, 10, 8],
                "attributes": {"color": "red"},
            },
            {"id": 2, "image_id": 11, "category_id": 2, "bbox": [5, 5, 10, 10], "score": 0.75},
            {
                "id": 3,
                "image_id": 11,
                "category_id": 2,
                "segmentation": [[1, 1, 9, 1, 9, 9], [20, 20, 30, 20, 30, 30]],
                "bbox": [1, 1, 29, 29],
            },
        ],
    }
    project = client.create_project("p")
    project.import_coco(coco, categories="create", create_missing_data_units=True)
    report = project.export_labels(tmp_path / "c.xml", format="cvat")
    assert report.losses == {"score": 1}  # the two rings are one group, read back as one object
    back = read_cvat(tmp_path / "c.xml")
    assert [i["id"] for i in back.images] == [10, 11]  # CVAT carries image ids
    assert [c["name"] for c in back.categories] == ["cat", "dog"] and [c["id"] for c in back.categories] == [
        1,
        2,
    ]
    assert back.annotations[0]["attributes"] == {"color": "red"}
    assert back.annotations[0]["bbox"] == [1, 2, 10, 8]
    assert Counter(a["category_id"] for a in back.annotations) == {1: 1, 2: 2}
    assert back.annotations[2]["segmentation"] == coco["annotations"][2]["segmentation"]
    assert back.annotations[2]["bbox"] == [1, 1, 29, 29] and [a["id"] for a in back.annotations] == [1, 2, 3]


def test_keypoints_beside_a_polygon_are_counted(tmp_path: Path) -> None:
    """A COCO person has a polygon and key points; a CVAT shape is of one kind: the points are counted."""
    from labelport.formats.cvat import write_cvat

    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 40}],
        "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "tail"], "skeleton": [[1, 2]]}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[1, 1, 9, 1, 9, 9]],
                "keypoints": [2, 2, 2, 0, 0, 0],
                "bbox": [1, 1, 8, 8],
            },
            {"id": 2, "image_id": 1, "category_id": 1, "keypoints": [2, 2, 2, 4, 5, 2], "bbox": [2, 2, 2, 3]},
        ],
    }
    report = write_cvat(coco, tmp_path / "out.xml")
    assert report.losses == {"keypoints of a polygon or mask (a CVAT shape is of one kind)": 1}
    assert [s["tag"] for s in shapes(tmp_path / "out.xml")] == ["polygon", "skeleton"]


def test_an_object_of_several_polygons_comes_back_as_one(tmp_path: Path, shared_fixtures: Path) -> None:
    """COCO val2014 has objects of several polygons; CVAT has a polygon a shape. The parts of one object
    share a group_id and are read back as one object: as many objects and the same rings come back."""
    import json

    from labelport import convert_labels

    source = shared_fixtures / "coco-val2014-100" / "instances_val2014_100.json"
    original = json.loads(source.read_text())
    parted = sum(
        1
        for a in original["annotations"]
        if isinstance(a["segmentation"], list) and len(a["segmentation"]) > 1
    )
    done = convert_labels(source, tmp_path / "c.xml", to_format="cvat")
    groups = Counter(
        (el.get("group_id"), image.get("id"))
        for image in ET.parse(tmp_path / "c.xml").getroot().iter("image")
        for el in image
        if el.get("group_id")
    )
    assert sum(1 for n in groups.values() if n > 1) == parted  # one group for the parts of each object
    back = convert_labels(tmp_path / "c.xml", tmp_path / "back.json", to_format="coco")
    assert back.import_report.counts.imported == done.export_report.objects == len(original["annotations"])
    again = json.loads((tmp_path / "back.json").read_text())
    name = {i["id"]: i["file_name"] for i in original["images"]}
    again_name = {i["id"]: i["file_name"] for i in again["images"]}

    def rings(doc: dict[str, Any], names: dict[Any, str]) -> Counter[tuple[str, int, tuple[float, ...]]]:
        return Counter(
            (names[a["image_id"]], len(a["segmentation"]), tuple(round(v, 2) for v in a["segmentation"][0]))
            for a in doc["annotations"]
            if isinstance(a["segmentation"], list)
        )

    assert rings(again, again_name) == rings(original, name)


# -- files from Datumaro, and Datumaro's reader and writer --------------------------------------------
# -- files from Datumaro, and Datumaro's reader and writer --------------------------------------------


def test_datumaro_test_assets_import(client: UserClient) -> None:
    project = client.create_project("p")
    report = project.import_labels(
        DATA / "for_images.xml",
        format="cvat",
        categories="create",
        create_missing_data_units=True,
        on_error="skip",
    )
    # the two shapes with an empty label are reported, by element and its line, and left out
    assert [e.path for e in report.errors] == [
        f"{DATA / 'for_images.xml'} line 50 /annotations/image[1]/polyline[1]",
        f"{DATA / 'for_images.xml'} line 53 /annotations/image[2]/polygon[1]",
    ]
    assert report.counts.imported == 2
    video = client.create_project("v")
    report = video.import_labels(
        DATA / "for_video.xml", format="cvat", categories="create", create_missing_data_units=True
    )
    assert report.counts.imported == 3 and not report.errors
    (unit,) = video.list_data_units()
    assert (unit.title, unit.width, unit.height) == ("t.mp4", 25, 20)


def test_datumaro_reads_labelport_cvat(tmp_path: Path, client: UserClient) -> None:
    import datumaro as dm
    from PIL import Image

    project = client.create_project("p")
    project.import_labels(
        write(tmp_path, IMAGES_XML), format="cvat", categories="create", create_missing_data_units=True
    )
    out = tmp_path / "dm" / "default.xml"
    out.parent.mkdir()
    project.export_labels(out, format="cvat")
    (tmp_path / "dm" / "images").mkdir()
    for name, size in (("street.jpg", (40, 30)), ("empty.jpg", (16, 8))):
        Image.new("RGB", size).save(tmp_path / "dm" / "images" / name)
    dataset = dm.Dataset.import_from(str(tmp_path / "dm"), "cvat")
    assert len(dataset) == 2
    labels = dataset.categories()[dm.AnnotationType.label]
    kinds = Counter(
        (labels[a.label].name, a.type.name)
        for item in dataset
        for a in item.annotations
        if a.label is not None and labels[a.label].parent == ""
    )
    # Datumaro 1.13 reads a rotated box as a rotated_bbox and a skeleton as its nodes' points
    assert kinds == {
        ("car", "rotated_bbox"): 1,
        ("road", "polygon"): 1,
        ("lane", "polyline"): 1,
        ("sign", "points"): 1,
        ("blob", "mask"): 1,
        ("head", "points"): 1,
        ("foot", "points"): 1,
    }
    car = next(a for item in dataset for a in item.annotations if a.type.name == "rotated_bbox")
    want = (1.5 + 9.75 / 2, 5.5, 9.75, 7, 30)  # within CVAT's 2 decimals (Datumaro rounds the centre)
    assert all(abs(g - w) <= 0.01 for g, w in zip((car.cx, car.cy, car.w, car.h, car.r), want, strict=True))
    assert car.attributes["color"] == "red" and car.attributes["occluded"] is True
    blob = next(a for item in dataset for a in item.annotations if a.type.name == "mask")
    with warnings.catch_warnings():  # pycocotools' decode and numpy 2 (inside Datumaro)
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        image = blob.image
    assert image[12:14, 10:15].tolist() == [[0, 1, 1, 1, 0], [0, 1, 1, 0, 1]] and int(image.sum()) == 6


def test_labelport_reads_datumaro_cvat(tmp_path: Path) -> None:
    import datumaro as dm

    items = [
        dm.DatasetItem(
            id="a",
            media=dm.Image.from_numpy(np.zeros((20, 30, 3), dtype=np.uint8)),
            annotations=[
                dm.Bbox(2, 3, 10, 5, label=0, attributes={"occluded": True}),
                dm.Polygon([1, 1, 8, 1, 8, 9], label=1, z_order=2),
                dm.PolyLine([0, 0, 5, 5, 9, 2], label=1),
            ],
        )
    ]
    dm.Dataset.from_iterable(items, categories=["car", "road"]).export(
        str(tmp_path / "dm"), "cvat", save_media=True
    )
    (xml,) = (tmp_path / "dm").glob("*.xml")
    data = read_cvat(xml)
    assert [(i["file_name"], i["width"], i["height"]) for i in data.images] == [("a.jpg", 30, 20)]
    got = [
        (data.categories[a["category_id"] - 1]["name"], a["cvat"]["type"], a.get("bbox"))
        for a in data.annotations
    ]
    assert got == [
        ("car", "box", [2, 3, 10, 5]),
        ("road", "polygon", [1, 1, 7, 8]),
        ("road", "polyline", [0, 0, 9, 5]),
    ]
    assert data.annotations[0]["cvat"]["occluded"] == 1 and data.annotations[1]["cvat"]["z_order"] == 2
