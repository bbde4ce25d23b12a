"""Images of different subsets that share a name (a CVAT project's Train and Validation both hold
``a.jpg``), and images of one name in one file: each is its own data unit, found again by a re-import,
and kept on its own unit through an export in every format and an import into a new project."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pycocotools.coco import COCO

from labelport import UserClient
from labelport.client import Project
from labelport.errors import FormatError
from test_server import Team

W, H = 40, 30

#: (subset, file name, the left edge of its one box): a.jpg in three subsets, b.jpg in one
IMAGES = [("Train", "a.jpg", 1), ("Validation", "a.jpg", 2), ("Test", "a.jpg", 3), ("Validation", "b.jpg", 4)]
#: CVAT's subset names as Ultralytics' and VOC's splits
SPLITS = {"Train": "train", "Validation": "val", "Test": "test"}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (W, H)).save(out, "JPEG")
    return out.getvalue()


def _cvat(root: Path) -> Path:
    tasks = "".join(
        f"<task><id>{n}</id><name>{s}</name><subset>{s}</subset></task>"
        for n, s in enumerate(dict.fromkeys(s for s, _, _ in IMAGES), 1)
    )
    images = "".join(
        f'<image id="{n}" name="{name}" subset="{s}" width="{W}" height="{H}">'
        f'<box label="car" xtl="{x}" ytl="2" xbr="{x + 10}" ybr="9"/></image>'
        for n, (s, name, x) in enumerate(IMAGES)
    )
    path = root / "annotations.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><meta><project><name>p</name>'
        f"<labels><label><name>car</name><type>rectangle</type><attributes/></label></labels><tasks>{tasks}</tasks>"
        f"</project></meta>{images}</annotations>"
    )
    return path


def _yolo(root: Path) -> Path:
    (root / "data.yaml").write_text("names: [car]\ntrain: images/train\nval: images/val\ntest: images/test\n")
    for subset, name, x in IMAGES:
        split = SPLITS[subset]
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        (root / "images" / split / name).write_bytes(_jpeg())
        box = f"0 {(x + 5) / W} {5.5 / H} {10 / W} {7 / H}\n"
        (root / "labels" / split / name).with_suffix(".txt").write_text(box)
    return root


def _voc(root: Path) -> Path:
    for subset, name, x in IMAGES:
        split, stem = SPLITS[subset], name.removesuffix(".jpg")
        (root / "Annotations" / split).mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / split / f"{stem}.xml").write_text(
            f"<annotation><filename>{name}</filename><size><width>{W}</width><height>{H}</height></size>"
            f"<object><name>car</name><bndbox><xmin>{x}</xmin><ymin>2</ymin><xmax>{x + 10}</xmax>"
            "<ymax>9</ymax></bndbox></object></annotation>"
        )
        (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        with (root / "ImageSets" / "Main" / f"{split}.txt").open("a") as lists:
            lists.write(f"{split}/{stem}\n")
    return root


def _labelstudio(root: Path) -> Path:
    """Label Studio has no subsets: the tasks' images are /data/upload/<subset>/<name>, one name thrice."""
    tasks = [
        {
            "id": 10 + n,
            "data": {"image": f"/data/upload/{s}/{name}"},
            "annotations": [
                {
                    "result": [
                        {
                            "type": "rectanglelabels",
                            "from_name": "label",
                            "to_name": "image",
                            "original_width": W,
                            "original_height": H,
                            "value": {
                                "x": x / W * 100,
                                "y": 2 / H * 100,
                                "width": 10 / W * 100,
                                "height": 7 / H * 100,
                                "rectanglelabels": ["car"],
                            },
                        }
                    ]
                }
            ],
        }
        for n, (s, name, x) in enumerate(IMAGES)
    ]
    path = root / "tasks.json"
    path.write_text(json.dumps(tasks))
    return path


def _coco(root: Path) -> Path:
    """A COCO file with one file name thrice (three folders' a.jpg, as a COCO export of them gives)."""
    coco = {
        "images": [
            {"id": 10 + n, "file_name": name, "width": W, "height": H}
            for n, (_, name, _) in enumerate(IMAGES)
        ],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {
                "id": n + 1,
                "image_id": 10 + n,
                "category_id": 1,
                "bbox": [x, 2, 10, 7],
                "area": 70,
                "iscrowd": 0,
            }
            for n, (_, _, x) in enumerate(IMAGES)
        ],
    }
    path = root / "coco.json"
    path.write_text(json.dumps(coco))
    return path


#: format -> (its source, the titles of its data units, in IMAGES' order)
SOURCES: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "cvat": (_cvat, [f"{s}/{n}" for s, n, _ in IMAGES]),
    "yolo": (_yolo, [f"{SPLITS[s]}/{n}" for s, n, _ in IMAGES]),
    "voc": (_voc, [f"{SPLITS[s]}/{n}" for s, n, _ in IMAGES]),
    # no subsets: the second and third a.jpg are told apart by their image (task) ids
    "labelstudio": (_labelstudio, ["a.jpg", "a.jpg#11", "a.jpg#12", "b.jpg"]),
    "coco": (_coco, ["a.jpg", "a.jpg#11", "a.jpg#12", "b.jpg"]),
}


def source(tmp_path: Path, fmt: str) -> Path:
    root = tmp_path / f"in-{fmt}"
    root.mkdir()
    return SOURCES[fmt][0](root)


def boxes(project: Project) -> dict[str, list[tuple[int, str]]]:
    """Data unit title -> (its boxes' left edges in pixels, object hash); every unit, with or without labels."""
    found: dict[str, list[tuple[int, str]]] = {u.title: [] for u in project.list_data_units()}
    for row in project.list_label_rows_v2():
        for obj in row.get_object_instances():
            box = obj.get_annotation(0).coordinates
            found[row.data_title].append((round(box.x), obj.object_hash))
    return found


def lefts(found: dict[str, list[tuple[int, str]]]) -> dict[str, list[int]]:
    return {title: sorted(x for x, _ in objects) for title, objects in found.items()}


def imported(
    project: Project, path: Path, fmt: str, *, created: int | None = None, again: bool = False, **options: Any
) -> dict[str, list[tuple[int, str]]]:
    """Import without an error, each image matched; ``created`` units made, and the objects new (or,
    ``again``, all updated in place); the boxes after."""
    report = project.import_labels(
        path, format=fmt, categories="create", create_missing_data_units=True, **options
    )
    assert report.errors == [] and report.ok, report.errors
    assert report.counts.images_matched == len(IMAGES) == report.counts.annotations
    if created is not None:
        assert report.counts.data_units_created == created
        assert (report.counts.created, report.counts.updated) == ((0, 4) if again else (4, 0))
    return boxes(project)


@pytest.mark.parametrize("fmt", list(SOURCES))
def test_one_name_in_several_subsets_is_one_unit_each_found_again(
    client: UserClient, tmp_path: Path, fmt: str
) -> None:
    """Each image is a unit titled by its subset (or id); a second import updates the same objects."""
    path, titles = source(tmp_path, fmt), SOURCES[fmt][1]
    project = client.create_project("p")
    first = imported(project, path, fmt, created=len(IMAGES))
    assert lefts(first) == {t: [x] for t, (_, _, x) in zip(titles, IMAGES, strict=True)}
    units = project.list_data_units()
    again = imported(project, path, fmt, created=0, again=True)
    assert again == first  # the same objects, by hash, on the same units
    assert project.list_data_units() == units


# a source of no subsets holds one name three times: YOLO, VOC and CVAT write an image's file by its
# name within its subset, so they refuse it (with both names) rather than write one over another
REFUSED = {"yolo": "yolo_name_clash", "voc": "voc_name_clash", "cvat": "cvat_image_duplicate"}
EXPORTS = ["coco", "yolo", "voc", "cvat", "labelstudio"]


@pytest.mark.parametrize("to", EXPORTS)
@pytest.mark.parametrize("fmt", list(SOURCES))
def test_an_export_imported_into_a_new_project_keeps_each_object_on_its_unit(
    client: UserClient, tmp_path: Path, fmt: str, to: str
) -> None:
    """Export, import into a new project (units and objects counted), import that again (nothing
    changes), and into the project it came from: each object on its own image's unit throughout."""
    project = client.create_project("p")
    original = lefts(imported(project, source(tmp_path, fmt), fmt))
    out = tmp_path / "out" / ("export.json" if to in ("coco", "labelstudio") else "annotations.xml")
    out = out if to in ("coco", "labelstudio", "cvat") else tmp_path / "out"
    out.parent.mkdir(exist_ok=True)
    if fmt in ("coco", "labelstudio") and to in REFUSED:
        with pytest.raises(FormatError) as caught:
            project.export_labels(out, format=to)
        assert caught.value.code == REFUSED[to] and "'a.jpg'" in str(caught.value)
        assert not out.exists()  # nothing written
        return
    report = project.export_labels(out, format=to)
    assert report.images == len(IMAGES) == report.objects
    if to == "coco":  # pycocotools reads it; a subset's images have file names of their own
        names = [image["file_name"] for image in COCO(str(out)).dataset["images"]]
        assert len(set(names)) == (len(IMAGES) if fmt in ("cvat", "yolo", "voc") else 2)
    fresh = client.create_project("q")
    back = imported(fresh, out, to, created=len(IMAGES))
    if to == "labelstudio":  # it names an image by its URL's file name: units told apart by task id
        assert sorted(lefts(back).values()) == sorted(original.values())
        return
    expected = original
    if (fmt, to) == ("cvat", "yolo"):  # Ultralytics' splits: CVAT's Train is train
        expected = {f"{SPLITS[t.split('/')[0]]}/{t.split('/')[1]}": x for t, x in original.items()}
    assert lefts(back) == expected
    # and that export, imported again, changes nothing
    assert imported(fresh, out, to, created=0, again=True) == back
    # into the project it came from, in place of its labels: each image finds its own unit again
    units = project.list_data_units()
    assert lefts(imported(project, out, to, replace=True)) == original
    assert project.list_data_units() == units


def test_units_an_older_import_named_by_image_id_are_found_again(client: UserClient, tmp_path: Path) -> None:
    """An older import made a.jpg, a.jpg#1 and a.jpg#2 of the three subsets' a.jpg (by CVAT image id):
    importing the file again updates their objects in place, with no new unit and no error."""
    older_coco = json.loads(_coco(tmp_path).read_text())  # what older imports made of the CVAT file
    for n, image in enumerate(older_coco["images"]):
        image["id"] = older_coco["annotations"][n]["image_id"] = n
    (tmp_path / "older.json").write_text(json.dumps(older_coco))
    project = client.create_project("p")
    project.import_labels(
        tmp_path / "older.json",
        format="coco",
        categories="create",
        create_missing_data_units=True,
        source_name="annotations.xml",
    )
    older = boxes(project)
    assert lefts(older) == {"a.jpg": [1], "a.jpg#1": [2], "a.jpg#2": [3], "b.jpg": [4]}
    units = project.list_data_units()
    assert imported(project, _cvat(tmp_path), "cvat", created=0, again=True) == older
    assert project.list_data_units() == units
    # their COCO export names a.jpg thrice, with the image ids kept: a re-import tells them apart by id
    out = Path(project.export_labels(tmp_path / "export.json", format="coco").path)
    assert [i["file_name"] for i in COCO(str(out)).dataset["images"]] == ["a.jpg", "a.jpg", "a.jpg", "b.jpg"]
    assert lefts(imported(project, out, "coco", created=0, replace=True)) == lefts(older)
    fresh = client.create_project("q")
    assert lefts(imported(fresh, out, "coco", created=len(IMAGES))) == lefts(older)
    assert project.list_data_units() == units


@pytest.mark.parametrize("fmt", ["cvat", "yolo", "voc", "coco"])
def test_through_the_server_on_postgresql(
    team: Team,
    closing: list[UserClient],
    tmp_path: Path,
    fmt: str,
) -> None:
    """An upload to a server (a folder goes as a zip) gives the same units, found again; and its COCO
    export, imported into a new project, puts each object on its own unit."""
    remote = team.client(f"subsets-{fmt}")
    closing.append(remote)
    project = remote.create_project(f"subsets-{fmt}")
    path = source(tmp_path, fmt)
    first = imported(project, path, fmt, created=len(IMAGES))
    assert sorted(lefts(first)) == sorted(SOURCES[fmt][1])
    assert imported(project, path, fmt, created=0, again=True) == first
    out = project.export_labels(tmp_path / "export.json", format="coco").path
    fresh = remote.create_project(f"subsets-{fmt}-back")
    assert lefts(imported(fresh, Path(out), "coco", created=len(IMAGES))) == lefts(first)


def test_units_added_from_each_subsets_folder_take_their_own_images(
    client: UserClient, tmp_path: Path
) -> None:
    """Units of the subsets' images (train's a.jpg added by file, so titled a.jpg; the others under
    titles of their own) take the labels of the image at their own path: a location that ends with
    the file name wins over a title that is its base name."""
    from labelport.data import image_from_file

    root = _yolo(tmp_path)
    project = client.create_project("p")
    units = []
    for subset, name, _ in IMAGES:
        unit = image_from_file(root / "images" / SPLITS[subset] / name)
        unit.title = name if subset == "Train" or name == "b.jpg" else f"{SPLITS[subset]}-{name}"
        units.append(unit)
    project.add_data_units(units)
    imported(project, root, "yolo", created=0)
    where = {u.data_hash: u.location.split("/images/")[1] for u in project.list_data_units()}
    got = {
        where[row.data_hash]: [round(o.get_annotation(0).coordinates.x) for o in row.get_object_instances()]
        for row in project.list_label_rows_v2()
    }
    assert got == {f"{SPLITS[s]}/{n}": [x] for s, n, x in IMAGES}


def _named(*images: tuple[str | None, str]) -> list[dict[str, Any]]:
    """Image records of (CVAT subset or None, file name)."""
    return [
        {"id": n, "file_name": name, **({} if subset is None else {"cvat": {"subset": subset}})}
        for n, (subset, name) in enumerate(images)
    ]


@pytest.mark.parametrize(
    ("images", "names"),
    [
        # one name in two subsets: every image with a subset keeps it, the others as they are
        (
            [("Train", "a.jpg"), ("Test", "a.jpg"), ("Test", "b.jpg")],
            ["Train/a.jpg", "Test/a.jpg", "Test/b.jpg"],
        ),
        ([("Train", "a.jpg"), (None, "a.jpg")], ["Train/a.jpg", "a.jpg"]),
        ([("Train", "a.jpg"), ("default", "a.jpg")], ["Train/a.jpg", "a.jpg"]),  # CVAT's no subset
        ([("Batch 2", "x/a.jpg"), ("Batch 3", "x/a.jpg")], ["Batch 2/x/a.jpg", "Batch 3/x/a.jpg"]),
        # no name shared by two subsets: nothing changes
        ([("Train", "a.jpg"), ("Test", "b.jpg")], ["a.jpg", "b.jpg"]),
        ([(None, "a.jpg"), (None, "a.jpg")], ["a.jpg", "a.jpg"]),  # told apart by image id
        # a subset that cannot name a folder is no folder of a title
        ([("../up", "a.jpg"), ("Train", "a.jpg")], ["a.jpg", "Train/a.jpg"]),
        ([("a/b", "a.jpg"), ("Train", "a.jpg")], ["a.jpg", "Train/a.jpg"]),
        ([("..", "a.jpg"), (" ", "a.jpg"), ("x\0y", "a.jpg")], ["a.jpg", "a.jpg", "a.jpg"]),
        ([("é" * 128, "a.jpg"), ("Train", "a.jpg")], ["a.jpg", "Train/a.jpg"]),
        ([("", "a.jpg"), ("Train", "a.jpg")], ["a.jpg", "Train/a.jpg"]),
        ([("a\nb", "a.jpg"), ("a\tb", "a.jpg"), ("\x7f", "a.jpg")], ["a.jpg", "a.jpg", "a.jpg"]),
    ],
)
def test_a_subset_is_kept_in_names_only_where_two_subsets_share_one(
    images: list[tuple[str | None, str]], names: list[str]
) -> None:
    """The import's names, and a writer's: the names within their subsets come back as they were."""
    from labelport.formats.subsets import names_with_subsets, names_within_subsets

    records = _named(*images)
    names_with_subsets(records)
    assert [r["file_name"] for r in records] == names
    assert [r["file_name"] for r in names_within_subsets(records)] == [name for _, name in images]
    assert [r["file_name"] for r in records] == names  # (a writer's copy; the records stay)


def test_a_name_that_comes_to_be_shared_is_a_new_unit(client: UserClient, tmp_path: Path) -> None:
    """A dataset imported with train's a.jpg, then again with val's a.jpg too: train's image finds
    its unit a.jpg, and val's, which has its name but not its subset, is a unit of its own."""
    root = _yolo(tmp_path)
    moved = tmp_path / "later"
    moved.mkdir()
    for split in ("val", "test"):  # the first import has train's a.jpg and val's b.jpg only
        (root / "images" / split / "a.jpg").rename(moved / f"{split}.jpg")
        (root / "labels" / split / "a.txt").rename(moved / f"{split}.txt")
    project = client.create_project("p")
    project.import_labels(root, format="yolo", categories="create", create_missing_data_units=True)
    assert lefts(boxes(project)) == {"a.jpg": [1], "b.jpg": [4]}
    for split in ("val", "test"):
        (moved / f"{split}.jpg").rename(root / "images" / split / "a.jpg")
        (moved / f"{split}.txt").rename(root / "labels" / split / "a.txt")
    report = project.import_labels(root, format="yolo", create_missing_data_units=True)
    assert report.errors == [] and report.counts.data_units_created == 2
    assert (report.counts.created, report.counts.updated) == (2, 2)
    assert lefts(boxes(project)) == {"a.jpg": [1], "b.jpg": [4], "val/a.jpg": [2], "test/a.jpg": [3]}


def test_subsets_that_cannot_be_a_folder_keep_plain_names(client: UserClient, tmp_path: Path) -> None:
    """A CVAT subset such as ../up or one with a line break names no folder of a title: its image
    keeps its name (the second of one name told apart by image id), here and after a CVAT round trip."""
    xml = _cvat(tmp_path).read_text()
    xml = xml.replace('subset="Validation"', 'subset="../up"').replace('subset="Test"', 'subset="a&#10;b"')
    path = tmp_path / "hostile.xml"
    path.write_text(xml)
    project = client.create_project("p")
    first = imported(project, path, "cvat", created=len(IMAGES))
    titles = {"Train/a.jpg": [1], "a.jpg": [2], "a.jpg#2": [3], "b.jpg": [4]}
    assert lefts(first) == titles
    assert imported(project, path, "cvat", created=0, again=True) == first
    out = tmp_path / "out" / "annotations.xml"
    out.parent.mkdir()
    project.export_labels(out, format="cvat")
    assert lefts(imported(client.create_project("q"), out, "cvat", created=len(IMAGES))) == titles


def test_an_ultralytics_dataset_datumaro_writes_is_one_unit_an_image(
    client: UserClient, tmp_path: Path
) -> None:
    """Datumaro's yolo_ultralytics writer (split lists of ./images/<split>/<name>): the same units."""
    import datumaro as dm
    import numpy as np
    from datumaro.components.media import Image as DmImage

    items = [
        dm.DatasetItem(
            id=name.removesuffix(".jpg"),
            subset=SPLITS[subset],
            media=DmImage.from_numpy(np.zeros((H, W, 3), dtype=np.uint8)),
            annotations=[dm.Bbox(x, 2, 10, 7, label=0)],
        )
        for subset, name, x in IMAGES
    ]
    dm.Dataset.from_iterable(items, categories=["car"]).export(
        str(tmp_path / "yolo"), "yolo_ultralytics", save_media=True
    )
    project = client.create_project("p")
    first = imported(project, tmp_path / "yolo", "yolo", created=len(IMAGES))
    assert lefts(first) == {f"{SPLITS[s]}/{n}": [x] for s, n, x in IMAGES}
    assert imported(project, tmp_path / "yolo", "yolo", created=0, again=True) == first
