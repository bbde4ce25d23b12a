"""A problem in a YOLO, VOC, CVAT or Label Studio file names that file and its line, element or JSON
path, never the COCO record the reader made of it (``images[0].width``, ``annotations[0].bbox``).

Table-driven: each format's valid template (tests/format_templates.py), one broken field per case,
the exact code, place and exit status, through the library, the CLI and (for Label Studio) a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from format_templates import CVAT_XML, TEMPLATES, VOC_XML, labelstudio_tasks, source, write
from labelport import UserClient
from labelport.cli import cli
from labelport.errors import FormatError, ImportFailed
from test_server import Team

Files = dict[str, bytes]
#: a path into the COCO records a reader made (a Label Studio path's ``.annotations[0]`` is not one)
COCO_PATH = re.compile(r"(?<![.\w])(images|annotations|categories)\[\d")


def _yolo(**changed: bytes) -> Callable[[], Files]:
    return lambda: {**TEMPLATES["yolo"](), **changed}


def _replaced(text: str, changes: tuple[str, ...]) -> bytes:
    for old, new in zip(changes[::2], changes[1::2], strict=True):
        text = text.replace(old, new, 1)
    return text.encode()


def _voc(*changes: str) -> Callable[[], Files]:
    # without the instance mask (whose size check would speak first)
    return lambda: {"Annotations/a.xml": _replaced(VOC_XML, changes)}


def _cvat(*changes: str) -> Callable[[], Files]:
    return lambda: {"annotations.xml": _replaced(CVAT_XML, changes)}


def _ls(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[], Files]:
    def make() -> Files:
        tasks = labelstudio_tasks()
        change(tasks)
        return {"tasks.json": json.dumps(tasks, indent=1).encode()}

    return make


def _value(**changed: Any) -> Callable[[list[dict[str, Any]]], None]:
    return lambda tasks: tasks[0]["annotations"][0]["result"][0]["value"].update(changed)


def _sized(width: int) -> Callable[[list[dict[str, Any]]], None]:
    def change(tasks: list[dict[str, Any]]) -> None:
        for result in tasks[0]["annotations"][0]["result"]:
            result["original_width"] = width

    return change


#: (case, format, files, code, place under the folder: "file[ line N][ path]")
CASES = [
    ("yolo-empty-name", "yolo", _yolo(**{"data.yaml": b"names: ['', dog]\ntrain: images/train\n"}),
     "category_name", "data.yaml line 1 names[0]"),
    ("yolo-empty-name-in-a-block", "yolo", _yolo(**{"data.yaml": b"train: images/train\nnames:\n  - cat\n  - ''\n"}),
     "category_name", "data.yaml line 4 names[1]"),
    ("yolo-empty-name-in-a-map", "yolo", _yolo(**{"data.yaml": b"train: images/train\nnames:\n  0: cat\n  1: ''\n"}),
     "category_name", "data.yaml line 4 names[1]"),
    ("voc-width", "voc", _voc("<width>40", "<width>1000000000000"),
     "image_size", "Annotations/a.xml line 3 /annotation/size/width"),
    ("cvat-width", "cvat", _cvat('width="40"', 'width="1e12"'),
     "image_size", "annotations.xml line 12 /annotations/image[1]/@width"),
    ("cvat-empty-label", "cvat", _cvat("<name>dog</name>", "<name></name>"),
     "category_name", "annotations.xml line 8 /annotations/meta//label[name='']"),
    ("ls-empty-label", "labelstudio", _ls(_value(rectanglelabels=[""])),
     "category_name", "tasks.json $[0].annotations[0].result[0].value.rectanglelabels[0]"),
]  # fmt: skip
IDS = [case[0] for case in CASES]

#: problems the reader itself refuses (a coordinate no image can have): a FormatError naming the place
READER_CASES = [
    ("yolo-box-overflows", "yolo", _yolo(**{"labels/train/a.txt": b"0 0.5 0.5 0.25 0.5\n1 1e308 0.1 0.4 0.1\n"}),
     "yolo_coordinate", "labels/train/a.txt line 2"),
    ("voc-box-overflows", "voc", _voc("<xmin>20<", "<xmin>-1e308<", "<xmax>30<", "<xmax>1e308<"),
     "voc_coordinate", "Annotations/a.xml line 13 /annotation/object[2]/bndbox"),
    ("cvat-box-overflows", "cvat", _cvat('xtl="2"', 'xtl="-1e308"', 'xbr="12"', 'xbr="1e308"'),
     "cvat_coordinate", "annotations.xml line 13 /annotations/image[1]/box[1]"),
    ("ls-width", "labelstudio", _ls(_sized(10**12)),
     "ls_coordinate", "tasks.json $[0].annotations[0].result[0].value.x"),
    ("ls-box-overflows", "labelstudio", _ls(_value(x=-1e308)),
     "ls_coordinate", "tasks.json $[0].annotations[0].result[0].value.x"),
]  # fmt: skip


def _import(project: Any, fmt: str, folder: Path) -> Any:
    return project.import_labels(
        source(fmt, folder), fmt, categories="create", create_missing_data_units=True
    )


@pytest.mark.parametrize(("case", "fmt", "make", "code", "place"), CASES, ids=IDS)
def test_the_library_names_the_source_place(
    tmp_path: Path, client: UserClient, case: str, fmt: str, make: Callable[[], Files], code: str, place: str
) -> None:
    folder = write(make(), tmp_path / case)
    with pytest.raises(ImportFailed) as failed:
        _import(client.create_project("p"), fmt, folder)
    first = failed.value.report.errors[0]
    assert (first.code, first.path) == (code, f"{folder}/{place}")
    assert first.annotation_id is None  # the reader's numbering is in no file of the user's
    assert str(failed.value).startswith(
        f"Nothing was imported from {failed.value.report.source}: {folder}/{place}"
    )
    assert not COCO_PATH.search(str(failed.value))


@pytest.mark.parametrize(
    ("case", "fmt", "make", "code", "place"), READER_CASES, ids=[c[0] for c in READER_CASES]
)
def test_the_reader_names_the_source_place(
    tmp_path: Path, client: UserClient, case: str, fmt: str, make: Callable[[], Files], code: str, place: str
) -> None:
    folder = write(make(), tmp_path / case)
    project = client.create_project("p")
    with pytest.raises(FormatError) as failed:
        _import(project, fmt, folder)
    assert failed.value.code == code
    assert str(failed.value).startswith(f"{folder}/{place}: ")
    assert not COCO_PATH.search(str(failed.value))
    assert project.list_data_units() == []


def test_a_label_studio_file_with_a_byte_order_mark_is_read(tmp_path: Path, client: UserClient) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(labelstudio_tasks()).encode())
    report = _import(client.create_project("p"), "labelstudio", tmp_path)
    assert report.ok and report.counts.imported == 3


def test_warnings_name_the_source_place_too(tmp_path: Path, client: UserClient) -> None:
    files = {**TEMPLATES["yolo"](), "labels/train/a.txt": b"0 0.5 0.5 0.25 0.5\n0 0.9 0.5 0.5 0.5\n"}
    report = _import(client.create_project("p"), "yolo", write(files, tmp_path))
    assert [(w.code, w.path) for w in report.warnings] == [
        ("outside_image", f"{tmp_path}/labels/train/a.txt line 2")
    ]


@pytest.fixture
def cli_env(tmp_path: Path, home: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch) -> UserClient:
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("LABELPORT_KEY", str(key_path))
    return UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)


@pytest.mark.parametrize(("case", "fmt", "make", "code", "place"), CASES, ids=IDS)
def test_the_cli_names_the_source_place(
    tmp_path: Path, cli_env: UserClient, case: str, fmt: str, make: Callable[[], Files], code: str, place: str
) -> None:
    folder = write(make(), tmp_path / case)
    project = cli_env.create_project("p")
    args = ["import", fmt, project.project_hash, str(source(fmt, folder)), "--categories", "create",
            "--create-missing-data-units", "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert (report["errors"][0]["code"], report["errors"][0]["path"]) == (code, f"{folder}/{place}")
    assert f"Error: Nothing was imported from {report['source']}: {folder}/{place}" in result.stderr


LS_CASES = [case for case in CASES if case[1] == "labelstudio"]


@pytest.mark.parametrize(("case", "fmt", "make", "code", "place"), LS_CASES, ids=[c[0] for c in LS_CASES])
def test_a_server_names_the_source_place(
    tmp_path: Path,
    team: Team,
    closing: list[UserClient],
    case: str,
    fmt: str,
    make: Callable[[], Files],
    code: str,
    place: str,
) -> None:
    folder = write(make(), tmp_path / case)
    closing.append(team.client(f"places-{case}"))
    project = closing[-1].create_project("p")
    with pytest.raises(ImportFailed) as failed:
        _import(project, fmt, folder)
    first = failed.value.report.errors[0]
    # the file is named as it was sent, never by the server's copy of the upload
    assert (first.code, first.path) == (code, place)
    assert not COCO_PATH.search(str(failed.value))
    assert project.list_data_units() == []  # nothing was written


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` grey pixels and holds none."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (40, 30)).save(out, "JPEG")
    return out.getvalue()


def _voc_mask(data: bytes) -> Callable[[], Files]:
    return lambda: {**TEMPLATES["voc"](), "SegmentationObject/a.png": data}


#: files a reader cannot read at all: (case, format, files, code, "file[ line N][ path]", sentence)
UNREADABLE = [
    ("ls-nested-deep", "labelstudio", lambda: {"tasks.json": b"[" * 100_000},
     "ls_json", "tasks.json", "nests arrays or objects too deeply to read."),
    ("ls-not-utf8", "labelstudio", lambda: {"tasks.json": b'[\n{"data": {"image": "\xff.png"}}]'},
     "ls_json", "tasks.json line 2", "is not UTF-8 text: a byte cannot be decoded."),
    ("voc-mask-jpeg", "voc", _voc_mask(_jpeg()),
     "voc_mask", "SegmentationObject/a.png", "is not a PNG image but JPEG."),
    ("voc-mask-not-an-image", "voc", _voc_mask(b"not an image"),
     "voc_mask", "SegmentationObject/a.png", "is not an image labelport can read (a PNG is expected)."),
    ("voc-mask-100000-square", "voc", _voc_mask(_png_header(100_000, 100_000)),
     "voc_mask", "SegmentationObject/a.png", "the mask's header declares more than"),
    ("voc-splits-not-utf8", "voc", lambda: {**TEMPLATES["voc"](), "ImageSets/Main/train.txt": b"a\n\xe9\n"},
     "voc_splits", "ImageSets/Main/train.txt line 2", "is not UTF-8 text: a byte cannot be decoded."),
    ("yolo-yaml-nested-deep", "yolo", _yolo(**{"data.yaml": b"[" * 100_000 + b"]" * 100_000}),
     "yolo_yaml", "data.yaml", "nests lists or mappings too deeply to read."),
]  # fmt: skip
UNREADABLE_IDS = [case[0] for case in UNREADABLE]


@pytest.mark.parametrize(("case", "fmt", "make", "code", "place", "said"), UNREADABLE, ids=UNREADABLE_IDS)
def test_a_file_that_cannot_be_read_is_one_sentence(
    tmp_path: Path,
    cli_env: UserClient,
    case: str,
    fmt: str,
    make: Callable[[], Files],
    code: str,
    place: str,
    said: str,
) -> None:
    folder = write(make(), tmp_path / case)
    project = cli_env.create_project("p")
    with pytest.raises(FormatError) as failed:
        _import(project, fmt, folder)
    assert failed.value.code == code and str(failed.value).startswith(f"{folder}/{place}: {said}")
    args = ["import", fmt, project.project_hash, str(source(fmt, folder)), "--categories", "create",
            "--create-missing-data-units"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: {folder}/{place}: {said}" in result.output
    assert project.list_data_units() == []
