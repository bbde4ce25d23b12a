"""The ``labelport`` command on real stores: every command, --json, errors as one sentence, nothing half-done."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from conftest import write_key
from labelport import BoundingBox, ObjectInstance, UserClient
from labelport.cli import cli, progress_bar, read_data_list
from labelport.errors import DataError
from labelport.formats import FORMATS
from labelport.keys import Identity
from labelport.store.sqlite import SqliteStore

CLI_PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"

ONTOLOGY = {
    "objects": [
        {
            "name": "cat",
            "shape": "bounding_box",
            "attributes": [
                {"name": "colour", "type": "radio", "options": [{"label": "black"}, {"label": "white"}]}
            ],
        },
        {"name": "road", "shape": "polygon"},
    ],
    "classifications": [{"attributes": [{"name": "weather", "type": "text"}]}],
}


# -- plumbing ----------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, home: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LABELPORT_HOME and LABELPORT_KEY set; HOME is an empty folder so no real ~/.ssh key is found."""
    user_home = tmp_path / "user"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("LABELPORT_KEY", str(key_path))
    for name in ("LABELPORT_SERVER", "LABELPORT_KEY_PASSWORD", "LABELPORT_DB"):
        monkeypatch.delenv(name, raising=False)
    return home


def run(*args: str | Path, code: int = 0) -> Result:
    """Invoke the CLI in-process; unexpected exceptions propagate to the test instead of becoming exit 1."""
    result = CliRunner(catch_exceptions=False).invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, (
        f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def run_json(*args: str | Path) -> Any:
    return json.loads(run("--json", *args).stdout)


def assert_one_sentence_error(result: Result, *words: str) -> None:
    """Exit 1, one line on stderr that starts 'Error: ', no traceback, nothing on stdout."""
    assert result.exit_code == 1
    err = result.stderr
    assert "Traceback" not in err and "Traceback" not in result.stdout
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("Error: ")
    assert result.stdout == ""
    for word in words:
        assert word in err, err


def dump(home: Path) -> list[str]:
    """Every row of the store file, read outside labelport."""
    connection = sqlite3.connect(home / "labelport.db")
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def snapshot(home: Path, project_hash: str | None = None) -> tuple[Any, ...]:
    """What the store holds: its raw rows, and what `project list` / `data list` say."""
    units = run("--json", "data", "list", project_hash).stdout if project_hash else None
    return dump(home), run("--json", "project", "list").stdout, units


def make_images(folder: Path, *sizes: tuple[int, int], fmt: str = "PNG") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, size in enumerate(sizes):
        path = folder / f"img{i}.{fmt.lower()}"
        Image.new("RGB", size, (i * 40, 100, 200)).save(path, format=fmt)
        paths.append(path)
    return paths


@pytest.fixture
def ontology_file(tmp_path: Path) -> Path:
    path = tmp_path / "ontology.json"
    path.write_text(json.dumps(ONTOLOGY))
    return path


@pytest.fixture
def project(env: Path, ontology_file: Path) -> str:
    """A project with the test ontology, made through the CLI."""
    return run("project", "create", "pets", "--ontology-file", ontology_file).stdout.strip()


# -- init and keys -----------------------------------------------------------------------------------


def test_init_makes_the_store_and_a_key_once(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELPORT_KEY")
    result = run("init")
    key = env / "id_ed25519"
    fingerprint = Identity.load(key).fingerprint
    assert f"store: {env / 'labelport.db'}" in result.stdout
    assert fingerprint in result.stdout and "(new)" in result.stdout
    assert (env / "labelport.db").is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (env / "id_ed25519.pub").read_text().startswith(Identity.load(key).public_text)

    again = run_json("init")
    assert again == {
        "home": str(env),
        "store": str(env / "labelport.db"),
        "key": str(key),
        "public_key": str(env / "id_ed25519.pub"),
        "key_created": False,
        "fingerprint": fingerprint,
        "config": str(env / "config.json"),
    }
    assert "Every command uses this key unless --key or $LABELPORT_KEY names another" in result.stdout
    # later commands find the key without --key
    assert run_json("project", "list") == []


def test_the_key_init_chose_stays_when_one_appears_in_ssh(
    env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LABELPORT_KEY")
    chosen = run_json("init")
    ssh = tmp_path / "user" / ".ssh"
    ssh.mkdir()
    write_key(ssh / "id_ed25519")  # e.g. the user runs ssh-keygen later
    created = run_json("project", "create", "p")
    assert run_json("init")["fingerprint"] == chosen["fingerprint"]
    (member,) = run_json("project", "members", created["project_hash"])
    assert member["fingerprint"] == chosen["fingerprint"]
    # the Python API makes the same choice
    assert UserClient.create_with_ssh_private_key(home=env).identity.fingerprint == chosen["fingerprint"]  # type: ignore[union-attr]
    # a recorded key that is gone is named, not replaced by another
    Path(chosen["key"]).unlink()
    assert_one_sentence_error(run("project", "list", code=1), chosen["key"], "no such key file")


def test_init_uses_a_key_it_finds(env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LABELPORT_KEY")
    ssh = tmp_path / "user" / ".ssh"
    ssh.mkdir()
    found = write_key(ssh / "id_ed25519")
    result = run_json("init")
    assert result["key"] == str(found) and result["key_created"] is False
    assert result["fingerprint"] == Identity.load(found).fingerprint
    assert not (env / "id_ed25519").exists()


def test_key_option_beats_the_environment(env: Path, tmp_path: Path) -> None:
    other = write_key(tmp_path / "other", "rsa", "pem")
    assert run_json("--key", other, "init")["fingerprint"] == Identity.load(other).fingerprint


def test_no_key_anywhere(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELPORT_KEY")
    result = run("project", "list", code=1)
    assert_one_sentence_error(result, "no SSH key found", "labelport init")
    assert not (env / "labelport.db").exists()


def test_home_option_beats_the_environment(env: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    run("--home", other, "project", "create", "p")
    assert len(json.loads(run("--home", other, "--json", "project", "list").stdout)) == 1
    assert run_json("project", "list") == []


# -- ontology and project ----------------------------------------------------------------------------


def test_ontology_create_and_show(env: Path, ontology_file: Path) -> None:
    ontology_hash = run("ontology", "create", "animals", "--file", ontology_file).stdout.strip()
    shown = run_json("ontology", "show", ontology_hash)
    assert shown["ontology_hash"] == ontology_hash and shown["title"] == "animals"
    assert [o["name"] for o in shown["objects"]] == ["cat", "road"]
    assert [o["shape"] for o in shown["objects"]] == ["bounding_box", "polygon"]
    text = run("ontology", "show", ontology_hash).stdout
    cat_hash = shown["objects"][0]["featureNodeHash"]
    assert "cat   bounding_box" in text and cat_hash in text
    assert "radio 'colour'" in text and "- black" in text and "weather" in text
    created = run_json("ontology", "create", "again", "--file", ontology_file)
    assert set(created) == {"ontology_hash", "title"} and created["ontology_hash"] != ontology_hash


def test_project_create_list_show(env: Path, ontology_file: Path) -> None:
    first = run("project", "create", "pets", "--ontology-file", ontology_file, "--description", "my pets")
    project_hash = first.stdout.strip()
    ontology_hash = run("ontology", "create", "animals", "--file", ontology_file).stdout.strip()
    second = run_json("project", "create", "more pets", "--ontology", ontology_hash)
    assert second["ontology_hash"] == ontology_hash and second["title"] == "more pets"
    empty = run_json("project", "create", "empty")

    listed = run_json("project", "list")
    assert [p["project_hash"] for p in listed] == [
        project_hash,
        second["project_hash"],
        empty["project_hash"],
    ]
    assert listed[0]["description"] == "my pets"
    assert {"project_hash", "title", "description", "ontology_hash", "created_by", "created_at"} <= set(
        listed[0]
    )
    text = run("project", "list").stdout
    assert project_hash in text and "more pets" in text

    shown = run_json("project", "show", project_hash)
    assert shown["title"] == "pets" and shown["data_units"] == 0 and shown["branches"] == []
    assert [o["shape"] for o in shown["ontology"]["objects"]] == ["bounding_box", "polygon"]
    text = run("project", "show", project_hash).stdout
    assert "pets" in text and "my pets" in text and "data units: 0" in text and "branches: none" in text
    assert shown["ontology"]["objects"][1]["featureNodeHash"] in text
    assert run_json("project", "show", empty["project_hash"])["ontology"]["objects"] == []


def test_json_flag_works_on_the_group_and_on_the_command(project: str) -> None:
    assert run("--json", "project", "list").stdout == run("project", "list", "--json").stdout
    assert json.loads(run("project", "show", project, "--json").stdout)["project_hash"] == project


def test_project_create_takes_one_ontology_source(env: Path, ontology_file: Path) -> None:
    result = run("project", "create", "p", "--ontology", "x", "--ontology-file", ontology_file, code=2)
    assert "give one of" in result.stderr
    assert run_json("project", "list") == []


def test_project_member_says_the_embedded_store_has_one_owner(
    project: str, env: Path, tmp_path: Path
) -> None:
    """Every key holder administers the embedded store, so a role would do nothing: refused, exit 1."""
    other = write_key(tmp_path / "bea", "ecdsa", "openssh")
    fingerprint = run_json("--key", other, "init")["fingerprint"]
    result = run("project", "member", project, fingerprint, "--role", "annotator", code=1)
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "Error: The embedded store has a single owner (whoever holds a key administers every project), so a "
        "role would change nothing; to share a project, serve the store with `labelport serve` and add "
        "members there."
    )
    store = SqliteStore(env / "labelport.db")
    try:
        user = store.user_by_fingerprint(fingerprint)
        assert user is not None and store.role(project, user.id) is None
    finally:
        store.close()
    assert (
        "Invalid value for '--role'"
        in run("project", "member", project, fingerprint, "--role", "boss", code=2).stderr
    )


# -- data and labels ---------------------------------------------------------------------------------


def test_data_add_images_group_and_list(project: str, tmp_path: Path) -> None:
    pngs = make_images(tmp_path / "png", (64, 48), (30, 20))
    jpgs = make_images(tmp_path / "jpg", (17, 9), fmt="JPEG")
    added = run_json("data", "add", project, *pngs, *jpgs)
    assert [(u["title"], u["width"], u["height"], u["data_type"]) for u in added] == [
        ("img0.png", 64, 48, "image"),
        ("img1.png", 30, 20, "image"),
        ("img0.jpeg", 17, 9, "image"),
    ]
    group = run_json("data", "add", project, *pngs, "--group", "scan", "--type", "dicom")
    assert [(u["title"], u["data_type"], u["frames"]) for u in group] == [("scan", "dicom", 2)]
    assert [m["title"] for m in group[0]["members"]] == ["img0.png", "img1.png"]
    text = run("data", "add", project, *pngs, "--group", "seq").stdout
    assert text.startswith("Added 1 data unit.\n") and "seq  img_group  64x48  2 frames" in text

    listed = run_json("data", "list", project)
    assert [u["title"] for u in listed] == ["img0.png", "img1.png", "img0.jpeg", "scan", "seq"]
    text = run("data", "list", project).stdout
    assert all(u["data_hash"] in text for u in listed)
    assert run_json("project", "show", project)["data_units"] == 5


def test_data_add_list_file(project: str, tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text("title,width,height,frames\nstreet.jpg,640,480\n\nclip.mp4,1920,1080,250\n")
    added = run_json("data", "add", project, "--list", units)
    assert [(u["title"], u["data_type"], u["frames"]) for u in added] == [
        ("street.jpg", "image", 1),
        ("clip.mp4", "video", 250),
    ]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("a.jpg,640\n", "line 1: expected title,width,height[,frames], got 2 fields"),
        ("a.jpg,640,480\nb.jpg,wide,480\n", "line 2: width must be a whole number, not 'wide'"),
        ("title,width,height\n", "has no rows"),
    ],
)
def test_read_data_list_errors_name_file_and_line(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "units.csv"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        read_data_list(path)
    assert caught.value.file == str(path)
    assert words in str(caught.value)


def test_data_add_usage_errors(project: str, tmp_path: Path) -> None:
    [png] = make_images(tmp_path, (4, 4))
    units = tmp_path / "u.csv"
    units.write_text("a,1,1\n")
    assert "give image files" in run("data", "add", project, code=2).stderr
    assert "not both" in run("data", "add", project, png, "--list", units, code=2).stderr
    assert "--type needs --group" in run("data", "add", project, png, "--type", "dicom", code=2).stderr
    assert "does not exist" in run("data", "add", project, tmp_path / "absent.png", code=2).stderr
    assert run_json("data", "list", project) == []


def test_labels_show(project: str, env: Path, key_path: Path) -> None:
    run("data", "add", project, "--list", write_csv(env.parent / "u.csv", "a.png,100,50\nb.png,10,10\n"))
    empty = run_json("labels", "show", project)
    assert [(r["data_title"], r["objects"]) for r in empty] == [("a.png", []), ("b.png", [])]

    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)
    target = client.get_project(project)
    [row] = target.list_label_rows_v2(data_title_eq="a.png")
    cat = ObjectInstance(target.ontology_structure.get_child_by_title("cat"))
    cat.set_for_frames(BoundingBox(10, 5, 20.5, 10), frames=0, confidence=0.5)
    cat.set_answer("white")
    row.add_object_instance(cat)
    row.save()
    expected = target.list_label_rows_v2(data_title_eq="a.png")[0].to_dict()

    assert run_json("labels", "show", project, "--title", "a.png") == [expected]
    assert run_json("labels", "show", project, "--data-hash", row.data_hash) == [expected]
    nosuch = run("labels", "show", project, "--title", "a.png", "--branch", "other", code=1)
    assert nosuch.stderr == "Error: No branch with name other (the project's branches: main).\n"
    text = run("labels", "show", project, "--title", "a.png").stdout
    assert "a.png" in text and "1 object, 0 classifications" in text
    assert f"cat  {cat.object_hash}  frame 0  [10, 5, 20.5, 10]  confidence 0.5" in text
    assert run("labels", "show", project, "--title", "nothing").stdout == "No label rows.\n"
    assert_one_sentence_error(run("labels", "show", project, "--data-hash", "nope", code=1), "No data unit")


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- COCO import and export --------------------------------------------------------------------------


def tiny_coco(folder: Path) -> tuple[Path, list[Path]]:
    """Two images on disk and a COCO file labelling them with a box and a polygon each."""
    images = make_images(folder / "images", (64, 48), (32, 32))
    coco = {
        "info": {"description": "tiny"},
        "images": [
            {"id": 1, "file_name": "img0.png", "width": 64, "height": 48},
            {"id": 2, "file_name": "img1.png", "width": 32, "height": 32},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 20], "area": 600, "iscrowd": 0},
            {
                "id": 11,
                "image_id": 1,
                "category_id": 2,
                "segmentation": [[0, 40, 63, 40, 63, 47, 0, 47]],
                "bbox": [0, 40, 63, 7],
                "area": 441.0,
                "iscrowd": 0,
            },
            {
                "id": 12,
                "image_id": 2,
                "category_id": 1,
                "bbox": [4.5, 4.25, 10, 10],
                "area": 100,
                "iscrowd": 0,
            },
        ],
        "categories": [{"id": 1, "name": "cat", "supercategory": "animal"}, {"id": 2, "name": "road"}],
    }
    path = folder / "tiny.json"
    path.write_text(json.dumps(coco))
    return path, images


@pytest.fixture
def coco_project(env: Path, tmp_path: Path) -> tuple[str, Path]:
    path, images = tiny_coco(tmp_path)
    project_hash = run("project", "create", "from coco", "--from-coco", path).stdout.strip()
    run("data", "add", project_hash, *images)
    return project_hash, path


def test_project_from_coco(coco_project: tuple[str, Path]) -> None:
    project_hash, _ = coco_project
    objects = run_json("project", "show", project_hash)["ontology"]["objects"]
    assert [(o["name"], o["shape"]) for o in objects] == [("cat", "bounding_box"), ("road", "polygon")]


def test_import_coco_then_labels_show(coco_project: tuple[str, Path], tmp_path: Path) -> None:
    project_hash, path = coco_project
    report_file = tmp_path / "report.json"
    result = run("import", "coco", project_hash, path, "--report", report_file)
    assert "imported 3 of 3 annotations (3 new, 0 updated, 0 skipped)" in result.stdout
    report = json.loads(report_file.read_text())
    assert report["ok"] is True and report["counts"]["created"] == 3

    rows = run_json("labels", "show", project_hash)
    boxes = {
        r["data_title"]: [(o["title"], o["frames"][0]["coordinates"]) for o in r["objects"]] for r in rows
    }
    assert boxes == {
        "img0.png": [("cat", [1, 2, 30, 20]), ("road", [[0, 40, 63, 40, 63, 47, 0, 47]])],
        "img1.png": [("cat", [4.5, 4.25, 10, 10])],
    }

    again = run_json("import", "coco", project_hash, path)
    assert again["ok"] is True
    assert (again["counts"]["created"], again["counts"]["updated"]) == (0, 3)
    assert sum(len(r["objects"]) for r in run_json("labels", "show", project_hash)) == 3


def test_import_dry_run_writes_nothing(coco_project: tuple[str, Path], env: Path) -> None:
    project_hash, path = coco_project
    before = snapshot(env, project_hash)
    report = run_json("import", "coco", project_hash, path, "--dry-run")
    assert report["dry_run"] is True and report["counts"]["imported"] == 3
    assert snapshot(env, project_hash) == before


def test_import_onto_a_branch_with_a_confidence_field(coco_project: tuple[str, Path], tmp_path: Path) -> None:
    project_hash, path = coco_project
    coco = json.loads(path.read_text())
    for annotation in coco["annotations"]:
        annotation["score"] = 0.25
    scored = tmp_path / "scored.json"
    scored.write_text(json.dumps(coco))
    run("import", "coco", project_hash, scored, "--branch", "model", "--confidence-field", "score")
    rows = run_json("labels", "show", project_hash, "--branch", "model")
    assert {f["confidence"] for r in rows for o in r["objects"] for f in o["frames"]} == {0.25}
    assert run_json("labels", "show", project_hash)[0]["objects"] == []
    assert run_json("project", "show", project_hash)["branches"] == ["main", "model"]


def test_import_with_map_files(env: Path, tmp_path: Path, ontology_file: Path) -> None:
    path, images = tiny_coco(tmp_path)
    project_hash = run("project", "create", "mapped", "--ontology-file", ontology_file).stdout.strip()
    units = run_json("data", "add", project_hash, *images)
    features = {
        o["name"]: o["featureNodeHash"]
        for o in run_json("project", "show", project_hash)["ontology"]["objects"]
    }
    match = tmp_path / "match.json"
    match.write_text(json.dumps({"1": [units[1]["data_hash"], 0], "2": units[0]["data_hash"]}))
    categories = tmp_path / "categories.json"
    categories.write_text(json.dumps({"1": features["cat"], "2": features["road"]}))
    report = run_json("import", "coco", project_hash, path, "--match", match, "--categories", categories)
    assert report["ok"] is True and report["counts"]["images_matched"] == 2
    rows = {r["data_title"]: len(r["objects"]) for r in run_json("labels", "show", project_hash)}
    assert rows == {"img0.png": 1, "img1.png": 2}  # the map swapped the images


def test_import_create_missing_and_categories_create(env: Path, tmp_path: Path) -> None:
    path, _ = tiny_coco(tmp_path)
    project_hash = run("project", "create", "empty").stdout.strip()
    report = run_json("import", "coco", project_hash, path, "--create-missing", "--categories", "create")
    assert report["ok"] is True
    assert report["counts"]["data_units_created"] == 2 and report["counts"]["categories_created"] == 2
    assert [u["title"] for u in run_json("data", "list", project_hash)] == ["img0.png", "img1.png"]


def test_import_failure_changes_nothing(coco_project: tuple[str, Path], env: Path, tmp_path: Path) -> None:
    project_hash, path = coco_project
    coco = json.loads(path.read_text())
    coco["annotations"][1]["bbox"] = [0, 0, -5, 3]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(coco))
    before = snapshot(env, project_hash)
    report_file = tmp_path / "report.json"

    result = run("import", "coco", project_hash, bad, "--report", report_file, code=1)
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "annotations[1].bbox" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: ")
    report = json.loads(report_file.read_text())
    assert report["ok"] is False and report["written"] is False
    assert report["errors"][0]["path"].startswith("annotations[1].bbox")
    assert snapshot(env, project_hash) == before

    as_json = run("--json", "import", "coco", project_hash, bad, code=1)
    assert json.loads(as_json.stdout)["ok"] is False
    assert snapshot(env, project_hash) == before

    skipped = run_json("import", "coco", project_hash, bad, "--on-error", "skip")
    assert skipped["counts"]["imported"] == 2 and skipped["counts"]["skipped"] == 1


def test_import_a_file_that_is_not_coco(coco_project: tuple[str, Path], env: Path, tmp_path: Path) -> None:
    project_hash, _ = coco_project
    bad = tmp_path / "nonsense.json"
    bad.write_text("{not json")
    before = snapshot(env, project_hash)
    assert_one_sentence_error(run("import", "coco", project_hash, bad, code=1), "nonsense.json", "JSON")
    assert snapshot(env, project_hash) == before


def test_export_coco(coco_project: tuple[str, Path], tmp_path: Path) -> None:
    project_hash, path = coco_project
    run("import", "coco", project_hash, path)
    out = tmp_path / "out" / "export.json"
    out.parent.mkdir()
    result = run("export", "coco", project_hash, "-o", out)
    size = out.stat().st_size
    assert result.stdout == f"Wrote {out} ({size:,} bytes).\n"
    exported = json.loads(out.read_text())
    original = json.loads(path.read_text())
    assert exported["annotations"] == original["annotations"]
    assert exported["images"] == original["images"]
    assert [c["name"] for c in exported["categories"]] == ["cat", "road"]

    assert run_json("export", "coco", project_hash, "-o", out) == {"path": str(out), "bytes": size}
    results = tmp_path / "results.json"
    run("export", "coco", project_hash, "-o", results, "--results", "--rle", "uncompressed")
    detections = json.loads(results.read_text())
    assert isinstance(detections, list) and len(detections) == 3
    empty = tmp_path / "branch.json"
    nosuch = run("export", "coco", project_hash, "-o", empty, "--branch", "nothing-here", code=1)
    assert nosuch.stderr == "Error: No branch with name nothing-here (the project's branches: main).\n"
    assert not empty.exists()


def test_export_into_a_missing_folder(project: str, tmp_path: Path) -> None:
    result = run("export", "coco", project, "-o", tmp_path / "absent" / "x.json", code=1)
    assert_one_sentence_error(result, "cannot be written")


# -- failures: one sentence, exit 1, nothing changed ----------------------------------------------------


def test_failures_are_one_sentence_and_change_nothing(project: str, env: Path, tmp_path: Path) -> None:
    good = make_images(tmp_path / "ok", (8, 8))
    run("data", "add", project, *good)
    bad_image = tmp_path / "notes.png"
    bad_image.write_text("just text")
    bad_ontology = tmp_path / "bad-ontology.json"
    bad_ontology.write_text(json.dumps({"objects": [{"name": "cat", "shape": "square"}]}))
    not_json = tmp_path / "not-json.json"
    not_json.write_text("{")
    garbage_key = tmp_path / "garbage-key"
    garbage_key.write_text("not a key")
    bad_csv = write_csv(tmp_path / "bad.csv", "a.png,ten,10\n")
    out = tmp_path / "never.json"
    cases: list[tuple[list[str | Path], list[str]]] = [
        (["project", "show", "nope"], ["No project with hash or title nope."]),
        (["data", "list", "nope"], ["No project with hash or title nope."]),
        (["data", "add", "nope", *good], ["No project with hash or title nope."]),
        (["labels", "show", "nope"], ["No project with hash or title nope."]),
        (
            ["project", "member", "nope", "SHA256:x", "--role", "viewer"],
            ["No project with hash or title nope."],
        ),
        (
            ["project", "member", project, "SHA256:x", "--role", "viewer"],
            ["The embedded store has a single owner"],
        ),
        (["ontology", "show", "nope"], ["No ontology with hash nope."]),
        (["project", "create", "p", "--ontology", "nope"], ["No ontology with hash nope."]),
        (
            ["ontology", "create", "bad", "--file", bad_ontology],
            ["objects[0].shape", "unknown shape 'square'"],
        ),
        (["project", "create", "p", "--ontology-file", bad_ontology], ["objects[0].shape"]),
        (["ontology", "create", "bad", "--file", not_json], ["not-json.json is not valid JSON"]),
        (["data", "add", project, *good, bad_image], ["notes.png: is not an image"]),
        (["data", "add", project, *good, bad_image, "--group", "g"], ["notes.png: is not an image"]),
        (["data", "add", project, "--list", bad_csv], ["bad.csv: line 1: width must be a whole number"]),
        (["--key", garbage_key, "project", "list"], ["garbage-key", "is not an SSH private key"]),
        (["--key", tmp_path / "no-such-key", "data", "list", project], ["no-such-key: no such key file."]),
        (["--key", tmp_path, "project", "create", "p"], ["cannot read the key file"]),
        (["--home", garbage_key / "sub", "project", "create", "p"], ["cannot open the store"]),
    ]
    cases.append((["import", "coco", "nope", bad_ontology], ["No project with hash or title nope."]))
    cases.append((["export", "coco", "nope", "-o", out], ["No project with hash or title nope."]))
    before = snapshot(env, project)
    for args, words in cases:
        for prefix in ([], ["--json"]):
            result = run(*prefix, *args, code=1)
            assert_one_sentence_error(result, *words)
            assert snapshot(env, project) == before, args
    assert not out.exists()


def test_an_encrypted_key_needs_its_password(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = write_key(tmp_path / "locked", "ecdsa", "pem", password=b"s3cret")
    assert_one_sentence_error(
        run("--key", key, "project", "list", code=1),
        "encrypted; give its password",
        "$LABELPORT_KEY_PASSWORD",
    )
    monkeypatch.setenv("LABELPORT_KEY_PASSWORD", "wrong")
    assert_one_sentence_error(run("--key", key, "project", "list", code=1), "password is wrong")
    public = tmp_path / "locked.pub"
    public.write_text(Identity.load(key, password="s3cret").public_text + "\n")
    assert_one_sentence_error(run("--key", public, "project", "list", code=1), "is a public key")
    monkeypatch.setenv("LABELPORT_KEY_PASSWORD", "s3cret")
    assert run_json("--key", key, "init")["fingerprint"] == Identity.load(key, password="s3cret").fingerprint


# -- the team server ---------------------------------------------------------------------------------


def test_server_commands_check_their_options(env: Path, tmp_path: Path) -> None:
    assert "Missing option '--db'" in run("serve", code=2).stderr
    assert (
        "Invalid value for '--port'" in run("serve", "--db", "postgresql://x", "--port", "0", code=2).stderr
    )
    public = tmp_path / "ada.pub"
    public.write_text(Identity.load(write_key(tmp_path / "ada")).public_text)
    assert "Missing option '--db'" in run("user", "add", "ada", "--key", public, code=2).stderr


def test_user_add(env: Path, tmp_path: Path, pg_url: str) -> None:
    public = tmp_path / "ada.pub"
    identity = Identity.load(write_key(tmp_path / "ada"))
    public.write_text(identity.public_text + " ada@laptop\n")
    url = pg_url
    added = run_json("user", "add", "ada", "--key", public, "--admin", "--db", url)
    assert (
        added["name"] == "ada" and added["fingerprint"] == identity.fingerprint and added["is_admin"] is True
    )
    text = run("user", "add", "ada", "--key", public, "--db", url).stdout
    assert identity.fingerprint in text


# -- docs, help, the real executable ---------------------------------------------------------------------


def commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    context = click.Context(group)  # (the import and export groups make a command per format when asked)
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        assert command is not None, name
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


def test_every_command_has_help_and_is_on_the_docs_cli_page() -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    leaves = [(path, command) for path, command in commands(cli) if not isinstance(command, click.Group)]
    assert {" ".join(path) for path, _ in leaves} >= {
        "init",
        "ontology create",
        "ontology show",
        "project create",
        "project list",
        "project show",
        "project member",
        "data add",
        "data list",
        "labels show",
        "import coco",
        "export coco",
        "eval",
        "diff",
        "user add",
        "user list",
        "serve",
        "project rename",
        "project delete",
        "project members",
        "project remove-member",
        "data delete",
        "labels delete",
        "branch list",
        "branch copy",
        "branch delete",
        "stats",
        "convert",
        "view",
        "render",
        "login",
    } | {f"{verb} {name}" for verb in ("import", "export") for name in FORMATS}
    for path, command in commands(cli):
        assert command.help and command.help.strip(), path
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage: " in result.stdout and " ".join(path) in result.stdout
        assert " ".join(command.help.split()[:4]) in " ".join(result.stdout.split())  # help wraps
    for path, _ in leaves:
        assert f"`labelport {' '.join(path)}`" in page, (
            f"docs/cli.md does not list `labelport {' '.join(path)}`"
        )


def test_every_leaf_command_takes_json() -> None:
    for path, command in commands(cli):
        if not isinstance(command, click.Group):
            assert any("--json" in p.opts for p in command.params), path


def labelport_executable() -> str:
    beside = Path(sys.executable).parent / "labelport"
    found = str(beside) if beside.is_file() else shutil.which("labelport")
    if found is None:
        pytest.skip("the labelport script is not installed (pip install -e .)")
    return found


def test_the_installed_script(env: Path, tmp_path: Path) -> None:
    exe = labelport_executable()
    environ = {**os.environ}
    created = subprocess.run(
        [exe, "--json", "project", "create", "real"], capture_output=True, text=True, env=environ
    )
    assert created.returncode == 0, created.stderr
    project_hash = json.loads(created.stdout)["project_hash"]
    listed = subprocess.run([exe, "project", "list", "--json"], capture_output=True, text=True, env=environ)
    assert listed.returncode == 0 and [p["project_hash"] for p in json.loads(listed.stdout)] == [project_hash]

    before = dump(env)
    bad = tmp_path / "bad.png"
    bad.write_text("text")
    failed = subprocess.run(
        [exe, "data", "add", project_hash, str(bad)], capture_output=True, text=True, env=environ
    )
    assert failed.returncode == 1
    assert failed.stderr == f"Error: {bad}: is not an image that labelport can read.\n"
    assert failed.stdout == ""
    assert dump(env) == before

    usage = subprocess.run([exe, "project", "create"], capture_output=True, text=True, env=environ)
    assert usage.returncode == 2 and "Missing argument 'TITLE'" in usage.stderr
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, env=environ)
    assert version.returncode == 0 and "labelport" in version.stdout


def test_progress_bar_draws_and_stays_off_when_disabled() -> None:
    from rich.console import Console

    with progress_bar("importing", enabled=False) as off:
        assert off is None
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80)
    threads = threading.active_count()
    with progress_bar("importing", enabled=True, console=console) as callback:
        assert callback is not None
        callback(5, 10)
        # no refresh thread: an import under the bar may still fork its validation workers
        assert threading.active_count() == threads
        callback(10, 10)
    assert "importing" in buffer.getvalue() and "5/10" in buffer.getvalue()


def test_progress_bar_counts_bytes_with_a_unit_and_names_other_units() -> None:
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with progress_bar("uploading", enabled=True, unit="bytes", console=console) as callback:
        assert callback is not None
        callback(3_000_000, 12_000_000)
    assert "3.0/12.0 MB" in buffer.getvalue()
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with progress_bar("importing", enabled=True, unit="annotations", console=console) as callback:
        assert callback is not None
        callback(5, 10)
    assert re.search(r"5/10\S* annotations", buffer.getvalue())


def test_export_keeps_each_mask_in_the_form_it_came_in(
    env: Path, tmp_path: Path, shared_fixtures: Path
) -> None:
    """Without --rle the CLI writes masks as the library does: as they came (here, uncompressed)."""
    source = shared_fixtures / "coco-val2014-100" / "instances_val2014_100.json"
    project_hash = run("project", "create", "val", "--from-coco", source).stdout.strip()
    run("import", "coco", project_hash, source, "--create-missing")
    out = tmp_path / "out.json"
    run("export", "coco", project_hash, "-o", out)
    original = json.loads(source.read_text())
    assert json.loads(out.read_text())["annotations"] == original["annotations"]
