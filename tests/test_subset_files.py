"""Subsets that arrive in separate files: Datumaro writes a CVAT export as one XML per subset (no
``subset`` on its images) and a COCO export as one file per subset (``instances_train.json``,
``instances_val.json``), both holding ``a.jpg``. Imported one after the other, val's ``a.jpg`` is a unit
of its own (``val/a.jpg``) when the import knows the file's subset (``subset=``, or a CVAT task's
``meta/task/subset``), and an image never lands on a unit whose kept image is of another subset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from labelport import UserClient
from labelport.cli import cli
from labelport.client import Project
from labelport.data import DataUnit
from labelport.errors import ImportFailed
from labelport.keys import Identity
from labelport.service import LocalService
from test_server import Team
from test_subsets import boxes, lefts

W, H = 40, 30
#: (subset, image id, the left edges of its boxes): a in both subsets, b in val only
ITEMS = [("train", "a", [1]), ("val", "a", [2, 5]), ("val", "b", [7])]
#: the units after importing train's file, then val's, knowing their subsets
SPLIT = {"a.jpg": [1], "val/a.jpg": [2, 5], "b.jpg": [7]}


def datumaro_export(root: Path, fmt: str) -> dict[str, Path]:
    """Datumaro's own export of ITEMS in ``fmt`` (cvat or coco_instances): subset -> its file."""
    import datumaro as dm
    import numpy as np
    from datumaro.components.media import Image as DmImage

    items = [
        dm.DatasetItem(
            id=name,
            subset=subset,
            media=DmImage.from_numpy(np.zeros((H, W, 3), dtype=np.uint8)),
            annotations=[dm.Bbox(x, 2, 3, 4, label=0) for x in xs],
        )
        for subset, name, xs in ITEMS
    ]
    dm.Dataset.from_iterable(items, categories=["car"]).export(str(root / fmt), fmt, save_media=False)
    if fmt == "cvat":
        return {s: root / fmt / f"{s}.xml" for s in ("train", "val")}
    return {s: root / fmt / "annotations" / f"instances_{s}.json" for s in ("train", "val")}


def as_task_export(path: Path, subset: str) -> Path:
    """Datumaro's per-subset CVAT XML with its subset named once in the meta, as a CVAT task export has it."""
    text = path.read_text()
    assert "<subset>" not in text and text.count("</task>") == 1
    out = path.with_name(f"task-{path.name}")
    out.write_text(text.replace("</task>", f"<subset>{subset}</subset></task>"))
    return out


#: case -> (format to import, Datumaro's writer, whether the import is told each file's subset, the
#: files made a CVAT task export)
CASES: dict[str, tuple[str, str, bool, bool]] = {
    "cvat per-subset XML, subset=": ("cvat", "cvat", True, False),
    "coco per-subset JSON, subset=": ("coco", "coco_instances", True, False),
    "cvat task export's meta subset": ("cvat", "cvat", False, True),
}


@pytest.fixture(params=["sqlite", "postgres"])
def embedded(request: pytest.FixtureRequest, tmp_path: Path, key_path: Path) -> Iterator[UserClient]:
    """An embedded client on each store."""
    if request.param == "sqlite":
        found = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path, home=tmp_path / "h")
    else:
        from labelport.store.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("pg_url"))
        identity = Identity.load(key_path)
        found = UserClient(
            LocalService.embedded(store, name="ada", fingerprint=identity.fingerprint), identity
        )
    yield found
    assert isinstance(found.service, LocalService)
    found.service.store.close()


def files_of(tmp_path: Path, case: str) -> list[tuple[Path, dict[str, Any]]]:
    """The case's two files, train's first, each with the options its import takes."""
    _, writer, told, task = CASES[case]
    files = datumaro_export(tmp_path, writer)
    if task:
        return [(as_task_export(files[s], s), {}) for s in ("train", "val")]
    return [(files[s], {"subset": s} if told else {}) for s in ("train", "val")]


def import_each(project: Project, case: str, files: list[tuple[Path, dict[str, Any]]], again: bool) -> None:
    """Import the files in turn, each image matched or created, every object new (or, ``again``, updated)."""
    fmt = CASES[case][0]
    for (path, options), created in zip(files, (1, 2), strict=True):
        report = project.import_labels(
            path, format=fmt, categories="create", create_missing_data_units=True, **options
        )
        assert report.errors == [] and report.ok, report.errors
        assert "image_subset_unknown" not in [w.code for w in report.warnings]
        assert report.counts.data_units_created == (0 if again else created)
        objects = 1 if path.name.startswith(("train", "task-train", "instances_train")) else 3
        assert (report.counts.created, report.counts.updated) == ((0, objects) if again else (objects, 0))


@pytest.mark.parametrize("case", list(CASES))
def test_each_subsets_file_puts_its_objects_on_its_own_units(
    embedded: UserClient, tmp_path: Path, case: str
) -> None:
    """Three units and four objects, each on its own image's unit; importing both files again changes nothing."""
    files = files_of(tmp_path, case)
    project = embedded.create_project("p")
    import_each(project, case, files, again=False)
    first = boxes(project)
    assert lefts(first) == SPLIT
    units = project.list_data_units()
    import_each(project, case, files, again=True)
    assert boxes(project) == first  # the same objects, by hash, on the same units
    assert project.list_data_units() == units


@pytest.mark.parametrize("spelling", ["Validation", "VAL", "val"])
def test_a_subset_spelled_another_way_finds_its_unit(
    client: UserClient, tmp_path: Path, spelling: str
) -> None:
    """val's file imported again as CVAT's Validation (or VAL): the same unit val/a.jpg, its objects updated."""
    files = files_of(tmp_path, "cvat per-subset XML, subset=")
    project = client.create_project("p")
    import_each(project, "cvat per-subset XML, subset=", files, again=False)
    first = boxes(project)
    report = project.import_labels(
        files[1][0], format="cvat", create_missing_data_units=True, subset=spelling
    )
    assert report.errors == [] and report.counts.data_units_created == 0
    assert (report.counts.created, report.counts.updated) == (0, 3)
    assert boxes(project) == first


#: case -> (format, Datumaro's writer, the place the problem names in val's file)
REFUSED: dict[str, tuple[str, str, str]] = {
    "cvat": ("cvat", "cvat", "/annotations/image[1]"),
    "coco": ("coco", "coco_instances", "images[0]"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_image_of_another_subset_is_never_put_on_a_unit(
    embedded: UserClient, tmp_path: Path, case: str
) -> None:
    """val's a.jpg, told its subset but not to create units, has only train's a.jpg to go to: the import
    fails with image_other_subset at the image and stores nothing (on_error="skip": the rest lands)."""
    fmt, writer, place = REFUSED[case]
    files = datumaro_export(tmp_path, writer)
    project = embedded.create_project("p")
    project.import_labels(
        files["train"], format=fmt, categories="create", create_missing_data_units=True, subset="train"
    )
    project.add_data_units(
        [DataUnit.image("b.jpg", width=W, height=H)]
    )  # (a unit of no subset, for val's b.jpg)
    before = boxes(project)
    with pytest.raises(ImportFailed) as caught:
        project.import_labels(files["val"], format=fmt, subset="val")
    report = caught.value.report
    assert report is not None
    assert [(p.code, p.path) for p in report.errors] == [("image_other_subset", _place(place, files["val"]))]
    assert "'a.jpg'" in report.errors[0].message and "'val/a.jpg'" in report.errors[0].message
    assert boxes(project) == before
    skipped = project.import_labels(files["val"], format=fmt, subset="val", on_error="skip")
    assert [p.code for p in skipped.errors] == ["image_other_subset"]
    assert lefts(boxes(project)) == {"a.jpg": [1], "b.jpg": [7]}


#: (train's subset= option, val's) -> whether val's import warns image_subset_unknown. With one side
#: unnamed val's a.jpg goes to train's a.jpg by name (said once); with neither named no file tells them
#: apart, and with both they are two units
UNSURE: dict[tuple[str | None, str | None], bool] = {
    ("train", None): True,
    (None, "val"): True,
    (None, None): False,
}


@pytest.mark.parametrize("told", list(UNSURE))
@pytest.mark.parametrize("case", list(REFUSED))
def test_a_subset_named_on_one_side_only_is_said_once(
    client: UserClient, tmp_path: Path, case: str, told: tuple[str | None, str | None]
) -> None:
    fmt, writer, place = REFUSED[case]
    files = datumaro_export(tmp_path, writer)
    project = client.create_project("p")
    for subset, path in zip(told, (files["train"], files["val"]), strict=True):
        report = project.import_labels(
            path, format=fmt, categories="create", create_missing_data_units=True, subset=subset
        )
        assert report.errors == []
    unsure = [(w.path, w.message) for w in report.warnings if w.code == "image_subset_unknown"]
    named = (
        "the data unit's kept image names a subset ('train')"
        if told[0]
        else "the image names a subset ('val')"
    )
    message = (
        f"image 'a.jpg' went to data unit 'a.jpg' by its name, though only {named}; to keep files of "
        "different subsets apart, give each file's import --subset NAME."
    )
    assert unsure == ([(_place(place, files["val"]), message)] if UNSURE[told] else [])
    assert lefts(boxes(project)) == {"a.jpg": [1, 2, 5], "b.jpg": [7]}


def _place(place: str, path: Path) -> str:
    """The place a problem names: the JSON path into a COCO file; else the XML file, the line of its
    first <image> element, and the element's path."""
    if place.startswith("images["):
        return place
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "<image " in text)
    return f"{path} line {line} {place}"


def test_the_cli_exits_1_naming_the_image(
    client: UserClient, tmp_path: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``labelport import cvat P val.xml --subset val`` onto train's a.jpg: exit 1, the code and the image named."""
    files = datumaro_export(tmp_path, "cvat")
    project = client.create_project("p")
    project.import_labels(
        files["train"], format="cvat", categories="create", create_missing_data_units=True, subset="train"
    )
    monkeypatch.setenv("LABELPORT_KEY", str(key_path))
    args = ["import", "cvat", project.project_hash, str(files["val"]), "--subset", "val"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    first_image = f"{_place('/annotations/image[1]', files['val'])}: the image of subset 'val' has the name"
    assert f"error: {first_image} of data unit 'a.jpg', whose image is of subset 'train'" in result.stderr
    assert lefts(boxes(project)) == {"a.jpg": [1]}
    result = CliRunner().invoke(cli, [*args, "--create-missing"])
    assert result.exit_code == 0, result.output
    assert lefts(boxes(project)) == SPLIT


@pytest.mark.parametrize("subset", ["", "  ", "a\nb", "x" * 256])
def test_a_subset_option_that_names_nothing_is_refused(
    client: UserClient, tmp_path: Path, subset: str
) -> None:
    from labelport.errors import LabelportError

    files = datumaro_export(tmp_path, "coco_instances")
    project = client.create_project("p")
    with pytest.raises(LabelportError, match="subset option"):
        project.import_labels(files["val"], format="coco", subset=subset, categories="create")
    assert project.list_data_units() == []


@pytest.mark.parametrize("case", ["cvat per-subset XML, subset=", "coco per-subset JSON, subset="])
def test_through_the_server_on_postgresql(
    team: Team,
    closing: list[UserClient],
    tmp_path: Path,
    case: str,
) -> None:
    remote = team.client(f"subset-files-{case[:4]}")
    closing.append(remote)
    project = remote.create_project(f"subset-files-{case[:4]}")
    files = files_of(tmp_path, case)
    import_each(project, case, files, again=False)
    first = boxes(project)
    assert lefts(first) == SPLIT
    import_each(project, case, files, again=True)
    assert boxes(project) == first
    # val's file onto a project of train's alone, creating nothing: refused at the image, nothing stored
    alone = remote.create_project(f"subset-files-{case[:4]}-alone")
    fmt, (train, told), (val, _) = CASES[case][0], *files
    alone.import_labels(train, format=fmt, categories="create", create_missing_data_units=True, **told)
    before = boxes(alone)
    with pytest.raises(ImportFailed) as caught:
        alone.import_labels(val, format=fmt, subset="val")
    assert caught.value.report is not None
    assert "image_other_subset" in [p.code for p in caught.value.report.errors]
    assert boxes(alone) == before


#: case -> (the meta's <subset> text, a.jpg's subset attribute, the subsets a.jpg and b.jpg are read with)
META: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "the task's subset": ("val", None, "val", "val"),
    "no <subset>": (None, None, None, None),
    "an empty <subset>": ("", None, None, None),
    "a blank <subset>": ("  ", None, None, None),
    "the image's own subset wins": ("val", "Train", "Train", "val"),
    "a subset that names no folder is still its subset": ("../x", None, "../x", "../x"),
}


@pytest.mark.parametrize("case", list(META))
def test_a_cvat_task_exports_meta_subset_is_its_images_subset(tmp_path: Path, case: str) -> None:
    from labelport.formats.cvat.read import read_cvat
    from labelport.formats.subsets import subset_of

    meta, own, a, b = META[case]
    text = datumaro_export(tmp_path, "cvat")["val"].read_text()
    if meta is not None:
        text = text.replace("</task>", f"<subset>{meta}</subset></task>")
    if own is not None:
        text = text.replace('<image id="0"', f'<image id="0" subset="{own}"')
    path = tmp_path / "task.xml"
    path.write_text(text)
    assert [(image["file_name"], subset_of(image)) for image in read_cvat(path).images] == [
        ("a.jpg", a),
        ("b.jpg", b),
    ]


def test_an_explicit_map_is_followed_across_subsets(client: UserClient, tmp_path: Path) -> None:
    """--match MAP.json puts val's a.jpg on train's a.jpg as asked (no image_other_subset); val's b.jpg,
    which the map does not name, is created under --create-missing."""
    files = datumaro_export(tmp_path, "coco_instances")
    project = client.create_project("p")
    project.import_labels(
        files["train"], format="coco", categories="create", create_missing_data_units=True, subset="train"
    )
    (unit,) = project.list_data_units()
    report = project.import_labels(
        files["val"],
        format="coco",
        match={"a.jpg": unit.data_hash},
        create_missing_data_units=True,
        subset="val",
    )
    assert report.errors == [] and report.counts.data_units_created == 1
    assert [w.code for w in report.warnings if "subset" in w.code] == []
    assert lefts(boxes(project)) == {"a.jpg": [1, 2, 5], "b.jpg": [7]}
