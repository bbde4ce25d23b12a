"""Issue 10, the input side: a failed import or project creation changes nothing, no input gets a
traceback, a source cannot inflate past its cap, and a dry run tells the truth.

Inputs are table-driven: the one valid template of :mod:`coco_builders`, each case breaking one
field, asserting the exact code, JSON path and the CLI's exit status, and that the store file
reads back exactly as before.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from coco_builders import (
    DELETE,
    H,
    RawJson,
    W,
    coco_template,
    make_project,
    object_count,
    to_bytes,
    with_value,
)
from labelport import CocoError, ImportFailed, OntologyError, UserClient
from labelport.cli import cli
from labelport.ontology import Attribute, AttributeType, Object, OntologyStructure, Shape

HUGE = "1" + "0" * 400  # a whole number far past 64 bits and past float range
BIG = str(2**64)  # past 64 bits, within float range


def dump(home: Path) -> list[str]:
    """Every row of the store file, read outside labelport."""
    with closing(sqlite3.connect(home / "labelport.db")) as db:
        return list(db.iterdump())


def cli_run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """The CLI in-process; an exception that escapes it fails the test (it would be a traceback)."""
    return CliRunner(catch_exceptions=False).invoke(cli, [str(a) for a in args], env=env)


@pytest.fixture
def cli_env(tmp_path: Path, home: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LABELPORT_KEY", str(key_path))
    for name in ("LABELPORT_SERVER", "LABELPORT_KEY_PASSWORD", "LABELPORT_MAX_IMPORT_BYTES"):
        monkeypatch.delenv(name, raising=False)
    return home


# -- the table -----------------------------------------------------------------------------------


def _set(where: str, value: Any) -> Callable[[], bytes]:
    return lambda: to_bytes(with_value(coco_template(), where, value))


def _bytes(old: bytes, new: bytes) -> Callable[[], bytes]:
    """The template's bytes with the first ``old`` replaced by ``new`` (bytes JSON cannot say)."""

    def make() -> bytes:
        data = to_bytes(coco_template())
        assert old in data
        return data.replace(old, new, 1)

    return make


def _same_file_name() -> bytes:
    doc = coco_template()
    doc["images"][1]["file_name"] = "a.jpg"
    return to_bytes(doc)


def _new_image_without_name() -> bytes:
    doc = coco_template()
    doc["images"].append({"id": 9, "file_name": None, "width": W, "height": H})
    doc["annotations"].append({"id": 9, "image_id": 9, "category_id": 1, "bbox": [1, 1, 2, 2]})
    return to_bytes(doc)


def _same_new_video_frame() -> bytes:
    doc = coco_template()
    doc["images"].append(
        {"id": 9, "file_name": "new.mp4/4.jpg", "video_title": "new.mp4", "frame": 4, "width": W, "height": H}
    )
    doc["images"].append(
        {
            "id": 10,
            "file_name": "new.mp4/04.jpg",
            "video_title": "new.mp4",
            "frame": 4,
            "width": W,
            "height": H,
        }
    )
    doc["annotations"].append({"id": 10, "image_id": 10, "category_id": 1, "bbox": [1, 1, 2, 2]})
    return to_bytes(doc)


def _annotations_twice() -> bytes:
    data = to_bytes(coco_template())
    return data[:-1] + b', "annotations": []}'


def _deep() -> bytes:
    data = to_bytes(coco_template())
    return data.replace(b'"bbox": [2, 3, 10, 8]', b'"bbox": ' + b"[" * 200_000 + b"]" * 200_000, 1)


def _corrupt_gzip() -> bytes:
    data = gzip.compress(to_bytes(coco_template()))
    return data[:20] + bytes(b ^ 0x5A for b in data[20:40]) + data[40:]


@dataclass(frozen=True)
class Case:
    """A broken copy of the template; the import fails with ``code`` at ``path`` (a report error),
    or with a :class:`CocoError` naming ``path`` when ``code`` is None."""

    name: str
    make: Callable[[], bytes]
    code: str | None
    path: str
    options: tuple[str, ...] = ()
    gz: bool = False


CASES = [
    # numbers past 64 bits: ids, sizes, coordinates
    Case(
        "annotation_id_past_64_bits", _set("annotations[0].id", RawJson(BIG)), "id_range", "annotations[0].id"
    ),
    Case("image_id_past_64_bits", _set("images[0].id", RawJson(HUGE)), "image_id", "images[0].id"),
    Case(
        "category_id_past_64_bits", _set("categories[0].id", RawJson(BIG)), "category_id", "categories[0].id"
    ),
    Case("width_past_int32", _set("images[0].width", RawJson(BIG)), "image_size", "images[0].width"),
    Case(
        "bbox_past_float_range",
        _set("annotations[0].bbox[2]", RawJson(HUGE)),
        "bbox_nonfinite",
        "annotations[0].bbox",
    ),
    Case(
        "polygon_past_float_range",
        _set("annotations[1].segmentation[0][2]", RawJson(HUGE)),
        "polygon_nonfinite",
        "annotations[1].segmentation[0][2]",
    ),
    Case(
        "keypoint_past_float_range",
        _set("annotations[3].keypoints[0]", RawJson(HUGE)),
        "keypoints_type",
        "annotations[3].keypoints",
    ),
    Case(
        "area_past_float_range",
        _set("annotations[0].area", RawJson(HUGE)),
        "area_type",
        "annotations[0].area",
    ),
    # bytes that are not UTF-8, in a name, an image, an annotation, a mask's counts
    Case("file_name_not_utf8", _bytes(b'"a.jpg"', b'"a\xff.jpg"'), None, "images[0]"),
    Case("category_name_not_utf8", _bytes(b'"poly"', b'"po\xc3\x28ly"'), None, "categories[1]"),
    Case(
        "annotation_not_utf8",
        _bytes(b'"iscrowd": 0', b'"note": "\xfe", "iscrowd": 0'),
        None,
        "annotations[0]",
    ),
    Case("info_not_utf8", _bytes(b'"template"', b'"tem\xffplate"'), None, "info"),
    # nesting, gzip, the top level
    Case("nested_200000_deep", _deep, None, "$"),
    Case("corrupt_gzip", _corrupt_gzip, None, "gzip", gz=True),
    Case("cut_gzip", lambda: gzip.compress(to_bytes(coco_template()))[:-9], None, "gzip", gz=True),
    Case("annotations_twice", _annotations_twice, None, "annotations"),
    # accepted silently before
    Case("width_zero", _set("images[0].width", 0), "image_size", "images[0].width"),
    Case("height_negative", _set("images[1].height", -5), "image_size", "images[1].height"),
    Case("width_text", _set("images[0].width", "64"), "image_size", "images[0].width"),
    Case("two_images_one_unit", _same_file_name, "image_shared_unit", "images[1]"),
    Case(
        "two_images_one_new_video_frame",
        _same_new_video_frame,
        "image_shared_unit",
        "images[4]",
        options=("--create-missing",),
    ),
    Case(
        "keypoints_a_string",
        _set("categories[3].keypoints", "nose"),
        "category_keypoints",
        "categories[3].keypoints",
    ),
    Case(
        "skeleton_edge_a_string",  # (an edge naming no keypoint is kept: test_coco_wild.py)
        _set("categories[3].skeleton", [[1, 2], [1, "7"]]),
        "category_skeleton",
        "categories[3].skeleton[1]",
    ),
    Case(
        "skeleton_not_pairs",
        _set("categories[3].skeleton", [[1, 2, 3]]),
        "category_skeleton",
        "categories[3].skeleton[0]",
    ),
    Case(
        "new_image_file_name_null",
        _new_image_without_name,
        "image_file_name",
        "images[3].file_name",
        options=("--create-missing",),
    ),
    Case("file_name_a_number", _set("images[0].file_name", 5), "image_file_name", "images[0].file_name"),
]
IDS = [c.name for c in CASES]


def _write(case: Case, folder: Path) -> Path:
    path = folder / ("broken.json.gz" if case.gz else "broken.json")
    path.write_bytes(case.make())
    return path


def _check_failure(case: Case, raised: pytest.ExceptionInfo[Exception]) -> None:
    if case.code is None:
        assert isinstance(raised.value, CocoError), raised.value
        text = str(raised.value)
        assert "\n" not in text and text.endswith("."), text
        if case.path == "$":  # the whole document: the message names the file, not "$"
            assert raised.value.path == "$" and "$" not in text, text
        else:
            assert case.path in text, text
    else:
        assert isinstance(raised.value, ImportFailed), raised.value
        problems = [(p.code, p.path) for p in raised.value.report.errors]
        assert (case.code, case.path) in problems, problems


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_broken_input_fails_naming_the_place_and_changes_nothing(
    case: Case, client: UserClient, home: Path, tmp_path: Path
) -> None:
    project = make_project(client)
    path = _write(case, tmp_path)
    before = dump(home)
    create = "--create-missing" in case.options
    with pytest.raises((CocoError, ImportFailed)) as raised:
        project.import_coco(path, create_missing_data_units=create)
    _check_failure(case, raised)
    assert dump(home) == before
    # the same bytes in memory, and the same file in a dry run: the same failure, nothing written
    with pytest.raises((CocoError, ImportFailed)) as again:
        project.import_coco(path.read_bytes(), create_missing_data_units=create, dry_run=True)
    _check_failure(case, again)
    assert dump(home) == before


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_cli_exits_1_naming_the_place(case: Case, cli_env: Path, tmp_path: Path) -> None:
    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=Path(cli_env.parent / "id_ed25519"))
    project = make_project(client)
    path = _write(case, tmp_path)
    before = dump(cli_env)
    result = cli_run("import", "coco", project.project_hash, path, *case.options)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    err = result.stderr
    assert "Traceback" not in err
    last = err.rstrip("\n").rsplit("\n", 1)[-1]
    assert last.startswith("Error: ") and last.endswith("."), err
    if case.code is None:
        assert err.count("\n") == 1 and (case.path if case.path != "$" else path.name) in err, err
    else:
        assert f"error: {case.path}" in err, err
    assert dump(cli_env) == before


# -- warnings, and valid files once refused ----------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value", "code", "path"),
    [
        ("images[0].width", DELETE, "image_size_missing", "images[0]"),
        ("images[1].height", None, "image_size_missing", "images[1]"),
        ("images[0].width", 2 * W, "size_mismatch", "images[0]"),
        ("images[2].height", H + 1, "size_mismatch", "images[2]"),  # a video's frame
    ],
    ids=["width_missing", "height_null", "width_other", "video_frame_height_other"],
)
def test_a_size_missing_or_other_than_the_data_units_is_a_warning(
    client: UserClient, where: str, value: Any, code: str, path: str
) -> None:
    project = make_project(client)
    report = project.import_coco(with_value(coco_template(), where, value))
    assert report.ok and [(p.code, p.path) for p in report.warnings] == [(code, path)]
    assert object_count(project) == 5


def _encoded(encoding: str, bom: bytes = b"") -> Callable[[], bytes]:
    return lambda: bom + to_bytes(coco_template()).decode().encode(encoding)


VALID = {
    "leading_whitespace": lambda: b" \n\t\r" * 100 + to_bytes(coco_template()),
    "utf8_bom": lambda: b"\xef\xbb\xbf" + to_bytes(coco_template()),
    "utf16_bom": _encoded("utf-16"),
    "utf16_be": _encoded("utf-16-be"),
    "utf16_le_bom": _encoded("utf-16-le", b"\xff\xfe"),
    "utf32_bom": _encoded("utf-32"),
    "utf32_be_bom": _encoded("utf-32-be", b"\x00\x00\xfe\xff"),
    "utf32_le": _encoded("utf-32-le"),
    "gzip_members": lambda: b"".join(gzip.compress(part) for part in _halves(to_bytes(coco_template()))),
}


def _halves(data: bytes) -> tuple[bytes, bytes]:
    return data[: len(data) // 2], data[len(data) // 2 :]


@pytest.mark.parametrize("name", list(VALID))
def test_valid_files_once_refused_import(client: UserClient, tmp_path: Path, name: str) -> None:
    project = make_project(client)
    path = tmp_path / ("x.json.gz" if name.startswith("gzip") else "x.json")
    path.write_bytes(VALID[name]())
    report = project.import_coco(path)
    assert report.ok and report.warnings == [] and report.counts.imported == 5, report.summary()
    assert project.export_coco_labels()["annotations"] == coco_template()["annotations"]


def test_ids_as_numbers_and_numeric_strings_are_one_id(client: UserClient) -> None:
    """faster-coco-eval's test data writes ``"id": "2299"`` for an image and ``"image_id": 2299``
    in its annotations: the same image, warned once, each exported as it came."""
    coco = coco_template()
    coco["images"][0]["id"] = "1"
    coco["annotations"][1]["image_id"] = "1"  # this one as its image has it
    coco["annotations"][2]["image_id"] = "2"  # image 2 is a number: written the other way too
    coco["annotations"][3]["category_id"] = "4"
    project = make_project(client)
    report = project.import_coco(coco)
    assert report.ok and report.counts.imported == 5, report.summary()
    assert [(p.code, p.path) for p in report.warnings] == [("id_mixed_types", "annotations[0]")]
    assert "3 references" in report.warnings[0].message
    exported = project.export_coco_labels()
    assert [i["id"] for i in exported["images"] if i["file_name"] == "a.jpg"] == ["1"]
    assert {a["id"]: (a["image_id"], a["category_id"]) for a in exported["annotations"]} == {
        1: (1, 1),
        2: ("1", 2),
        3: ("2", 3),
        4: (2, "4"),
        5: (3, 1),
    }
    # an image id given both ways is one id given twice
    twice = with_value(coco_template(), "images[1].id", "1")
    with pytest.raises(ImportFailed) as failed:
        make_project(client, "twice").import_coco(twice)
    assert ("image_duplicate", "images[1].id") in [(p.code, p.path) for p in failed.value.report.errors]


def test_ids_of_faster_coco_evals_own_data(client: UserClient, shared_fixtures: Path) -> None:
    source = shared_fixtures / "coco-val2014-100" / "instances_val2014_100.json"
    doc = json.loads(source.read_text())
    for image in doc["images"][:10]:
        image["id"] = str(image["id"])  # as faster-coco-eval's tests write some of them
    project = client.create_project("val", from_coco=doc)
    report = project.import_coco(doc, create_missing_data_units=True)
    assert report.ok and report.counts.imported == len(doc["annotations"])
    assert [p.code for p in report.warnings] == ["id_mixed_types"]
    exported = project.export_coco_labels()
    assert sorted(map(str, (i["id"] for i in exported["images"]))) == sorted(
        str(i["id"]) for i in doc["images"]
    )
    assert exported["annotations"] == doc["annotations"]


# -- a failed command commits nothing ------------------------------------------------------------------


def _empty_key() -> dict[str, Any]:
    coco = coco_template()
    coco["annotations"][0]["attributes"] = {"": 1}
    return coco


def test_an_empty_attribute_key_with_create_leaves_a_readable_project(client: UserClient) -> None:
    """Before: the import exited 1 yet committed, and the stored ontology no longer read back."""
    project = make_project(client, ontology=OntologyStructure())
    report = project.import_coco(_empty_key(), categories="create")
    assert report.written and report.counts.imported == 5
    assert [(p.code, p.path) for p in report.warnings] == [
        ("attribute_unknown", 'annotations[*].attributes[""]')
    ]
    again = client.get_project(project.project_hash)
    assert [a.name for a in again.ontology_structure.get_child_by_title("box").attributes] == []
    assert project.export_coco_labels()["annotations"][0]["attributes"] == {"": 1}


def test_project_create_from_coco_with_an_empty_key_and_cli(cli_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_bytes(to_bytes(_empty_key()))
    made = cli_run("project", "create", "z", "--from-coco", path)
    assert made.exit_code == 0, made.stderr
    project_hash = made.stdout.strip()
    assert cli_run("project", "show", project_hash).exit_code == 0
    assert cli_run("data", "add", project_hash, "--list", _units_csv(tmp_path)).exit_code == 0
    imported = cli_run("import", "coco", project_hash, path, "--categories", "create")
    assert imported.exit_code == 0, imported.stderr
    assert cli_run("export", "coco", project_hash, "-o", tmp_path / "out.json").exit_code == 0


def _units_csv(folder: Path) -> Path:
    path = folder / "units.csv"
    path.write_text(f"a.jpg,{W},{H}\nb.jpg,{W},{H}\nclip.mp4,{W},{H},10\n")
    return path


def test_a_project_whose_ontology_would_not_read_back_is_not_created(client: UserClient, home: Path) -> None:
    """The service checks what it stores: the project and its ontology land together or not at all."""
    bad = OntologyStructure(
        objects=[Object("box", Shape.BOUNDING_BOX, attributes=[Attribute(name="", type=AttributeType.TEXT)])]
    )
    client.list_projects()
    before = dump(home)
    with pytest.raises(OntologyError, match=r"objects\[0\]\.attributes\[0\]"):
        client.create_project("z", ontology=bad)
    with pytest.raises(OntologyError):
        client.create_ontology("z", bad)
    assert client.list_projects() == [] and dump(home) == before


def test_a_failed_project_create_from_coco_leaves_no_project(cli_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(to_bytes(with_value(coco_template(), "categories[3].keypoints", "nose")))
    cli_run("project", "list")
    before = dump(cli_env)
    result = cli_run("project", "create", "z", "--from-coco", path)
    assert result.exit_code == 1 and "categories[3].keypoints" in result.stderr
    assert result.stderr.count("\n") == 1
    assert dump(cli_env) == before and cli_run("project", "list").stdout == "No projects.\n"


# -- dry runs tell the truth ------------------------------------------------------------------------


def _comparable(report: Any) -> dict[str, Any]:
    data = report.to_dict()
    for key in ("dry_run", "written", "seconds"):
        data.pop(key)
    return data


def test_a_dry_run_reports_what_the_real_run_does(client: UserClient, home: Path) -> None:
    project = make_project(client)
    first = project.import_coco(coco_template())
    assert first.counts.created == 5
    for options in ({}, {"replace": True}):
        before = dump(home)
        dry = project.import_coco(coco_template(), dry_run=True, **options)
        assert dump(home) == before
        real = project.import_coco(coco_template(), **options)
        assert _comparable(dry) == _comparable(real)
        if options:  # the earlier objects go first: all are new again
            assert (dry.counts.replaced, dry.counts.created, dry.counts.updated) == (5, 5, 0)
        else:  # before, a dry run counted 5 new here where the real run said 5 updated
            assert (dry.counts.created, dry.counts.updated) == (0, 5)


def test_a_dry_run_fails_as_the_real_run_fails(client: UserClient, home: Path) -> None:
    project = make_project(client)
    broken = with_value(coco_template(), "annotations[1].image_id", 99)
    with pytest.raises(ImportFailed) as dry:
        project.import_coco(broken, dry_run=True)
    with pytest.raises(ImportFailed) as real:
        project.import_coco(broken)
    assert _comparable(dry.value.report) == _comparable(real.value.report)
    assert "would import nothing" in dry.value.report.summary()
    assert str(dry.value).startswith("Nothing would be imported from coco: annotations[1].image_id")


def test_a_cli_dry_run_exits_as_the_real_run(cli_env: Path, tmp_path: Path) -> None:
    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=Path(cli_env.parent / "id_ed25519"))
    project = make_project(client)
    path = tmp_path / "three.json"
    coco = coco_template()
    coco["annotations"] = coco["annotations"][:3]
    coco = with_value(coco, "annotations[1].image_id", 99)
    coco = with_value(coco, "annotations[2].bbox", [1, 2, 3])
    path.write_bytes(to_bytes(coco))
    dry = cli_run("import", "coco", project.project_hash, path, "--dry-run")
    real = cli_run("import", "coco", project.project_hash, path)
    assert dry.exit_code == real.exit_code == 1
    assert "would import nothing (on_error='fail'); 3 annotations checked" in dry.stderr
    assert "would import 1 of 3" not in dry.stderr
    skip = cli_run("import", "coco", project.project_hash, path, "--dry-run", "--on-error", "skip")
    assert skip.exit_code == 0 and "would import 1 of 3 annotations (1 new" in skip.stdout


# -- what a source may inflate to ---------------------------------------------------------------------

_MEMORY_PROBE = """
import resource, sys
from pathlib import Path
from labelport import UserClient, CocoError
client = UserClient.create_with_ssh_private_key(ssh_private_key_path=sys.argv[2])
project = client.create_project("p")
source = Path(sys.argv[1])
project.import_coco(b"[]", on_error="skip")  # warm: every module the import needs is loaded
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    project.import_coco(source if sys.argv[3] == "path" else source.read_bytes())
except CocoError as exc:
    print(str(exc))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def _bomb(path: Path, inflated: int, *, members: bool = True) -> Path:
    """A gzip file of ``inflated`` bytes of JSON whitespace: one member, or (quick to make, and as
    ``gzip -d`` reads it) one member per MiB, the same few hundred bytes each."""
    block = b" " * (1 << 20)
    head, tail = b'{"images": [', b'], "annotations": [], "categories": []}'
    if members:
        packed = gzip.compress(block, 9)
        path.write_bytes(gzip.compress(head) + packed * (inflated >> 20) + gzip.compress(tail))
        return path
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        out.write(packer.compress(head))
        for _ in range(inflated >> 20):
            out.write(packer.compress(block))
        out.write(packer.compress(tail))
        out.write(packer.flush())
    return path


@pytest.mark.parametrize(
    ("form", "inflated", "members"),
    [("path", 1 << 30, True), ("bytes", 1 << 30, True), ("path", 256 << 20, False)],
    ids=["path_1GiB_members", "bytes_1GiB_members", "path_256MiB_one_member"],
)
def test_a_gzip_bomb_is_refused_at_the_cap_with_memory_flat(
    tmp_path: Path,
    home: Path,
    key_path: Path,
    form: str,
    inflated: int,
    members: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = _bomb(tmp_path / "bomb.json.gz", inflated, members=members)
    assert bomb.stat().st_size < 2 << 20
    monkeypatch.setenv("LABELPORT_MAX_IMPORT_BYTES", str(64 << 20))
    probe = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(bomb), str(key_path), form],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    message, grown_mib = probe.stdout.strip().split("\n")
    assert "holds more than 67,108,864 bytes of JSON" in message and "LABELPORT_MAX_IMPORT_BYTES" in message
    assert int(grown_mib) < 40, f"the import grew by {grown_mib} MiB"


def test_under_the_cap_a_gzip_file_streams_in(
    client: UserClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _bomb(tmp_path / "spaces.json.gz", 8 << 20, members=False)
    monkeypatch.setenv("LABELPORT_MAX_IMPORT_BYTES", str(16 << 20))
    report = client.create_project("p").import_coco(path)
    assert report.ok and report.counts.annotations == 0
    # a plain file is as large as it is: mapped, it costs no memory (the cap is on inflating)
    plain = tmp_path / "plain.json"
    plain.write_bytes(b" " * (17 << 20) + to_bytes(coco_template()))
    assert client.create_project("q").import_coco(plain, on_error="skip").counts.annotations == 5
    with pytest.raises(CocoError, match="holds more than 16,777,216 bytes"):
        client.create_project("q-gz").import_coco(gzip.compress(plain.read_bytes(), 1))
    monkeypatch.setenv("LABELPORT_MAX_IMPORT_BYTES", "lots")
    with pytest.raises(Exception, match=r"\$LABELPORT_MAX_IMPORT_BYTES must be a whole number"):
        client.create_project("r").import_coco(path)


def test_dev_zero_is_refused_at_the_cap(cli_env: Path) -> None:
    project_hash = cli_run("project", "create", "p").stdout.strip()
    before = dump(cli_env)
    result = cli_run(
        "import", "coco", project_hash, "/dev/zero", env={"LABELPORT_MAX_IMPORT_BYTES": str(32 << 20)}
    )
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: zero: holds more than 33,554,432 bytes")
    assert dump(cli_env) == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"1": ["HASH", "x"]}', "names frame 'x' of 'clip.mp4'"),
        (b'{"1": ["HASH", 18446744073709551616]}', "names frame 18446744073709551616"),
        (b'{"1": "\xff"}', "the image mapping is not readable JSON"),
        (b"[" * 100_000, "the image mapping is not readable JSON"),
    ],
    ids=["frame_text", "frame_past_64_bits", "not_utf8", "nested"],
)
def test_a_broken_image_mapping_is_one_sentence(
    cli_env: Path, tmp_path: Path, content: bytes, words: str
) -> None:
    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=Path(cli_env.parent / "id_ed25519"))
    project = make_project(client)
    clip = next(u.data_hash for u in project.list_data_units() if u.title == "clip.mp4")
    mapping = tmp_path / "map.json"
    mapping.write_bytes(content.replace(b"HASH", clip.encode()))
    source = tmp_path / "x.json"
    source.write_bytes(to_bytes(coco_template()))
    before = dump(cli_env)
    result = cli_run("import", "coco", project.project_hash, source, "--match", mapping)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and words in result.stderr, result.stderr
    assert dump(cli_env) == before


def test_an_image_sharing_a_data_unit_without_annotations_is_a_warning(client: UserClient) -> None:
    coco = coco_template()
    coco["images"].append({"id": 9, "file_name": "a.jpg", "width": W, "height": H})
    report = make_project(client).import_coco(coco)
    assert report.ok and report.counts.imported == 5
    assert [(p.code, p.path) for p in report.warnings] == [("image_shared_unit", "images[3]")]


def test_a_results_list_finds_images_whose_ids_came_the_other_way(client: UserClient) -> None:
    coco = coco_template()
    coco["images"][0]["id"] = "1"
    coco["annotations"][:2] = [dict(a, image_id="1") for a in coco["annotations"][:2]]
    project = make_project(client)
    assert project.import_coco(coco).ok
    results = [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4], "score": 0.5}]
    report = project.import_coco(results, branch_name="preds")
    assert report.ok and report.counts.imported == 1, report.summary()
    assert [p.code for p in report.warnings] == ["id_mixed_types"]
    # exported as it came (a number), beside the image "1"
    exported = project.export_coco_labels(branch_name="preds")
    assert exported["annotations"][0]["image_id"] == 1
    assert "1" in [i["id"] for i in exported["images"]]
