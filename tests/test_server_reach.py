"""A server's import reads only its upload, and its answers name none of the server's own folders.

A real server process on each store (PostgreSQL, SQLite) with a temporary folder and a working
directory of its own, and a signed-in user who is not an admin sending YOLO and VOC folders (as zip
archives) whose paths lead out of the upload: to a second user's dataset on the server's disk. Each
is refused with one sentence naming the user's own file and the key or line, nothing is stored, and
no answer quotes a line of the other dataset or names a server folder.
"""

from __future__ import annotations

import gzip
import io
import json
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from conftest import write_key
from labelport.keys import Identity
from labelport.server.admin import add_user
from test_server import ServerProcess, _send, _signed

#: a line of the other user's label file: no answer may quote it
SECRET_LINE = "0 0.123456 0.654321 0.111111 0.222222"


@dataclass
class Site:
    url: str
    identity: Identity
    project: str
    secret: Path  # another user's YOLO dataset on the server's disk
    tmp: Path  # the server's temporary folder
    cwd: Path  # the server's working directory


def _png(path: Path, size: tuple[int, int] = (64, 48)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 30)).save(path)


def _secret_dataset(root: Path) -> Path:
    _png(root / "images" / "train" / "s.png")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "s.txt").write_text(SECRET_LINE + "\n")
    (root / "data.yaml").write_text("names: [secret]\ntrain: images/train\n")
    (root / "train.txt").write_text(f"{root}/images/train/s.png\n")
    return root


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp(f"reach-{request.param}")
    if request.param == "postgres":
        db = request.getfixturevalue("postgres_server").create_database()
    else:
        db = str(folder / "labelport.db")
    tmp, cwd = folder / "server-tmp", folder / "server-cwd"
    tmp.mkdir()
    cwd.mkdir()
    secret = _secret_dataset(folder / "other-user" / "ds")
    prelude = f"import os, tempfile; os.chdir({str(cwd)!r}); tempfile.tempdir = {str(tmp)!r}"
    server = ServerProcess(db, folder / "server.log", prelude)
    identity = Identity.load(write_key(folder / "mallory"))
    add_user(db, "mallory", identity.public_text)
    created = call(identity, "POST", f"{server.url}/projects", {"title": "mine"})
    assert created.status_code == 200, created.text
    try:
        yield Site(server.url, identity, created.json()["hash"], secret, tmp, cwd)
    finally:
        server.stop()


def call(identity: Identity, method: str, url: str, payload: Any = None) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else b"" if payload is None else json.dumps(payload).encode()
    return _send(_signed(identity, method, url, body))


def zipped(files: dict[str, bytes | str], links: dict[str, str] | None = None) -> bytes:
    """A zip archive of ``files``; ``links`` are symbolic-link members (name -> target)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return out.getvalue()


def send_folder(site: Site, archive: bytes, fmt: str, name: str = "ds.zip") -> httpx.Response:
    """A folder as the remote client sends it: a zip archive, imported with ``archive``."""
    base = f"{site.url}/projects/{site.project}/uploads"
    started = call(site.identity, "POST", base, {"filename": name})
    assert started.status_code == 200, started.text
    upload = f"{base}/{started.json()['upload_id']}"
    assert call(site.identity, "PUT", f"{upload}/chunks/0", gzip.compress(archive)).status_code == 200
    options = {"format": fmt, "archive": True, "create_missing_data_units": True, "categories": "create"}
    return call(site.identity, "POST", f"{upload}/import", {"chunks": 1, "options": options})


def _image() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


def yolo(yaml: str, **extra: bytes | str) -> dict[str, bytes | str]:
    """The valid template (one image, one box) with its data.yaml replaced, plus ``extra`` files."""
    return {
        "data.yaml": yaml,
        "images/train/a.png": _image(),
        "labels/train/a.txt": "0 0.5 0.5 0.25 0.25\n",
        **extra,
    }


def _yolo_cases(secret: Path) -> list[tuple[dict[str, bytes | str], str, int | None, str | None]]:
    """(files, the user's file named, its line, its key): one path that leaves the upload each."""
    up = "../" * 12 + str(secret).lstrip("/")  # enough ".." to reach / from any temporary folder
    names = "names: [cat]\n"
    return [
        (yolo(f"{names}path: {secret}\ntrain: images/train\n"), "ds/data.yaml", None, "path"),
        (yolo(f"{names}path: {up}\ntrain: images/train\n"), "ds/data.yaml", None, "path"),
        (yolo(f"{names}train: {secret}/images/train\n"), "ds/data.yaml", None, "train"),
        (yolo(f"{names}train: {up}/images/train\n"), "ds/data.yaml", None, "train"),
        (yolo(f"{names}train: [images/train, {secret}/images/train]\n"), "ds/data.yaml", None, "train[1]"),
        (yolo(f"{names}val: {secret}/train.txt\n"), "ds/data.yaml", None, "val"),
        (
            yolo(
                f"{names}train: train.txt\n",
                **{"train.txt": f"images/train/a.png\n{secret}/images/train/s.png\n"},
            ),
            "ds/train.txt",
            2,
            None,
        ),
        (
            yolo(f"{names}train: train.txt\n", **{"train.txt": f"{up}/images/train/s.png\n"}),
            "ds/train.txt",
            1,
            None,
        ),
        (
            yolo(f"{names}train: lists/train.txt\n", **{"lists/train.txt": "../" * 12 + "etc/passwd\n"}),
            "ds/lists/train.txt",
            1,
            None,
        ),
    ]


def _no_leak(site: Site, response: httpx.Response) -> None:
    text = response.text
    for leak in (SECRET_LINE, "0.123456", str(site.tmp), str(site.cwd), "server-tmp", "server-cwd"):
        assert leak not in text, (leak, text)


def test_a_yolo_upload_whose_paths_leave_it_is_refused_naming_the_users_file(site: Site) -> None:
    for files, file, line, key in _yolo_cases(site.secret):
        answer = send_folder(site, zipped(files), "yolo")
        assert answer.status_code == 400, (files["data.yaml"], answer.text)
        body = answer.json()
        assert (body["error"], body["code"], body["file"], body["line"], body["path"]) == (
            "FormatError",
            "path_outside",
            file,
            line,
            key,
        ), body
        assert "outside the dataset's folder" in body["message"]
        _no_leak(site, answer)


def test_nothing_of_a_refused_upload_is_stored_and_a_valid_one_imports(site: Site) -> None:
    before = call(site.identity, "GET", f"{site.url}/projects/{site.project}/data-units").json()
    send_folder(site, zipped(yolo(f"names: [cat]\npath: {site.secret}\n")), "yolo")
    assert call(site.identity, "GET", f"{site.url}/projects/{site.project}/data-units").json() == before
    # Roboflow's "../train/images" (read inside the upload, as Ultralytics does) is no way out
    roboflow = {
        "data.yaml": "names: [cat]\ntrain: ../train/images\n",
        "train/images/r.png": _image(),
        "train/labels/r.txt": "0 0.5 0.5 0.25 0.25\n",
    }
    answer = send_folder(site, zipped(roboflow), "yolo", "rf.zip")
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["imported"] == 1
    assert answer.json()["outside_files"] == []


def test_a_link_in_an_archive_is_unpacked_as_a_file_and_never_followed(site: Site) -> None:
    files = yolo("names: [cat]\ntrain: images/train\n")
    del files["labels/train/a.txt"]
    links = {"labels/train/a.txt": f"{site.secret}/labels/train/s.txt", "images/val": f"{site.secret}/images"}
    answer = send_folder(site, zipped(files, links), "yolo", "links.zip")
    _no_leak(site, answer)
    if answer.status_code == 200:  # the "link" is a label file holding a path: not a YOLO line
        assert answer.json()["counts"]["imported"] == 0
    else:
        assert answer.json()["code"] == "yolo_class", answer.text
        assert answer.json()["file"] == "links/labels/train/a.txt"


def _voc(filename: str) -> dict[str, bytes | str]:
    xml = (
        f"<annotation><filename>{filename}</filename><object><name>cat</name>"
        "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"
    )
    return {"Annotations/a.xml": xml, "JPEGImages/a.png": _image()}


def test_a_voc_upload_whose_image_path_leaves_it_is_refused(site: Site) -> None:
    for filename in (
        f"{site.secret}/images/train/s.png",
        "../" * 12 + str(site.secret).lstrip("/") + "/images/train/s.png",
    ):
        answer = send_folder(site, zipped(_voc(filename)), "voc", "voc.zip")
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert (body["code"], body["file"], body["path"]) == (
            "path_outside",
            "voc/Annotations/a.xml",
            "/annotation/filename",
        ), body
        _no_leak(site, answer)
    answer = send_folder(site, zipped(_voc("a.png")), "voc", "voc.zip")
    assert answer.status_code == 200, answer.text


def send_file(site: Site, data: bytes, fmt: str, name: str, **options: Any) -> httpx.Response:
    """A file as the remote client sends it (``archive=True`` among ``options``: as a folder's zip)."""
    base = f"{site.url}/projects/{site.project}/uploads"
    started = call(site.identity, "POST", base, {"filename": name})
    assert started.status_code == 200, started.text
    upload = f"{base}/{started.json()['upload_id']}"
    assert call(site.identity, "PUT", f"{upload}/chunks/0", gzip.compress(data)).status_code == 200
    wanted = {"format": fmt, "create_missing_data_units": True, "categories": "create", **options}
    return call(site.identity, "POST", f"{upload}/import", {"chunks": 1, "options": wanted})


#: (what is sent, format, file name, options): uploads that every reader refuses, one way each
BAD_UPLOADS: list[tuple[bytes, str, str, dict[str, Any]]] = [
    (b"{not json", "coco", "c.json", {}),
    (b"[1, 2]", "coco", "c.json", {}),
    (b'{"images": 3}', "coco", "c.json", {}),
    (b"\x1f\x8b\x08\x00broken", "coco", "c.json.gz", {}),
    (b"not a zip", "yolo", "ds.zip", {"archive": True}),
    (zipped({"readme.txt": "no yaml"}), "yolo", "ds.zip", {"archive": True}),
    (zipped({"data.yaml": "names: [a\n"}), "yolo", "ds.zip", {"archive": True}),
    (zipped({"data.yaml": b"names: \xff\xfe"}), "yolo", "ds.zip", {"archive": True}),
    (
        zipped(yolo("names: [cat]\ntrain: images/train\n", **{"labels/train/a.txt": "x y z\n"})),
        "yolo",
        "ds.zip",
        {"archive": True},
    ),
    (
        zipped(yolo("names: [cat]\ntrain: t.txt\n", **{"t.txt": b"\xff\xfe\n"})),
        "yolo",
        "ds.zip",
        {"archive": True},
    ),
    (zipped({"readme.txt": "no Annotations"}), "voc", "voc.zip", {"archive": True}),
    (zipped({"Annotations/a.xml": "<annotation><oops>"}), "voc", "voc.zip", {"archive": True}),
    (zipped({"Annotations/a.xml": "<other/>"}), "voc", "voc.zip", {"archive": True}),
    (b"<annotations><image", "cvat", "a.xml", {}),
    (zipped({"a.xml": "<annotations/>"}), "cvat", "a.zip", {"archive": True}),
    (b"{not json", "labelstudio", "ls.json", {}),
    (zipped({"ls.json": "[]"}), "labelstudio", "ls.zip", {"archive": True}),
    (zipped({"c.json": "{}"}), "coco", "c.zip", {"archive": True}),
    (b"{}", "nosuchformat", "c.json", {}),
    (zipped({"a" * 300 + ".txt": "x"}), "yolo", "ds.zip", {"archive": True}),
    (zipped({"data.yaml": 'names: [a]\ntrain: "a\\0b"\n'}), "yolo", "ds.zip", {"archive": True}),
    (
        zipped(yolo("names: [a]\ntrain: t.txt\n", **{"t.txt": "images/\x00a.png\n"})),
        "yolo",
        "ds.zip",
        {"archive": True},
    ),
    (zipped({"a": "x", "a/b": "y"}), "yolo", "ds.zip", {"archive": True}),
    (zipped({"a/": "", "a": "x"}), "voc", "ds.zip", {"archive": True}),
]


def test_no_refusal_of_a_bad_upload_names_a_server_folder(site: Site) -> None:
    for data, fmt, name, options in BAD_UPLOADS:
        answer = send_file(site, data, fmt, name, **options)
        assert 400 <= answer.status_code < 500, (fmt, name, data[:40], answer.text)
        body = answer.json()
        assert body["message"] and "Traceback" not in answer.text
        _no_leak(site, answer)
        assert "labelport-import-" not in answer.text and "/unpacked/" not in answer.text, answer.text
