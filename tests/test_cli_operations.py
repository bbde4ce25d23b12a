"""The everyday commands on a real embedded store: branches, copying, stats, deletions, renames, members."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from labelport.cli import cli
from test_cli import assert_one_sentence_error, run, run_json

COCO = {
    "images": [{"id": i + 1, "file_name": f"img{i}.jpg", "width": 640, "height": 480} for i in range(3)],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40]},
        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 12]},
    ],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
}


@pytest.fixture
def env(tmp_path: Path, home: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    user_home = tmp_path / "user"
    user_home.mkdir()
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("LABELPORT_KEY", str(key_path))
    for name in ("LABELPORT_SERVER", "LABELPORT_KEY_PASSWORD", "LABELPORT_DB"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def project(env: Path, tmp_path: Path) -> str:
    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps(COCO))
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [2, 2, 8, 8], "score": 0.9}]))
    project_hash = run("project", "create", "pets", "--from-coco", coco).stdout.strip()
    run("import", "coco", project_hash, coco, "--create-missing")
    run("import", "coco", project_hash, preds, "--branch", "preds")
    return project_hash


def test_branch_list_copy_and_delete(project: str) -> None:
    listed = run_json("branch", "list", project)
    assert [(b["name"], b["objects"], b["labelled_rows"]) for b in listed] == [
        ("main", 2, 2),
        ("preds", 1, 1),
    ]
    text = run("branch", "list", project).stdout
    assert "main   2 objects on 2 data units (of 3 label rows)" in text
    assert "preds  1 object on 1 data unit (of 3 label rows)" in text

    copied = run("branch", "copy", project, "preds", "main").stdout
    assert (
        copied
        == "Copied 1 object and 0 classifications from preds onto 1 label row of main; 0 objects of main replaced.\n"
    )
    again = run_json("branch", "copy", project, "preds", "main", "--replace")
    assert (again["objects"], again["replaced"]) == (1, 2)

    assert_one_sentence_error(run("branch", "delete", project, "main", "--yes", code=1), "main branch")
    assert_one_sentence_error(
        run("branch", "delete", project, "nosuch", "--yes", code=1),
        "No branch with name nosuch (the project's branches: main, preds).",
    )
    assert run("branch", "delete", project, "preds", "--yes").stdout == (
        "Deleted branch preds: 3 label rows, 1 object, 0 classifications.\n"
    )
    declined = CliRunner().invoke(cli, ["branch", "delete", project, "main"], input="n\n")
    assert declined.exit_code == 1 and declined.stdout.startswith("Delete the branch and all its labels?")


def test_stats_table_and_json(project: str) -> None:
    stats = run_json("stats", project)
    assert (stats["objects"], stats["units_with_objects"], stats["units_without_objects"]) == (2, 2, 1)
    cat = stats["classes"][0]
    assert (cat["title"], cat["shape"], cat["area"]["max"], cat["sizes"]["medium"]) == (
        "cat",
        "bounding_box",
        1200,
        1,
    )
    text = run("stats", project).stdout
    assert (
        text.splitlines()[0]
        == "branch main: 2 objects (2 annotations); 2 data units with objects, 1 without (of 3)."
    )
    assert any(line.split()[:3] == ["cat", "bounding_box", "1"] for line in text.splitlines())
    assert run_json("stats", project, "--branch", "preds")["objects"] == 1
    assert_one_sentence_error(run("stats", project, "--branch", "x", code=1), "No branch with name x")


def test_delete_labels_units_and_project(project: str) -> None:
    units = run_json("data", "list", project)
    first = units[0]["data_hash"]
    assert run("labels", "delete", project, "--data-hash", first, "--yes").stdout == (
        f"Deleted the labels of {first} on main: 1 object, 0 classifications.\n"
    )
    assert run_json("labels", "show", project, "--data-hash", first)[0]["objects"] == []
    assert_one_sentence_error(
        run("data", "delete", project, first, "nope", "--yes", code=1), "No data unit with hash nope"
    )
    assert len(run_json("data", "list", project)) == 3
    out = run("data", "delete", project, first, "--yes").stdout
    assert out == "Deleted: 1 data unit, 2 label rows, 1 object, 0 classifications.\n"

    renamed = run_json("project", "rename", project, "--title", "pets 2", "--description", "now")
    assert (renamed["title"], renamed["description"]) == ("pets 2", "now")
    assert run("project", "rename", project, code=2).stderr.endswith("give --title, --description or both.\n")
    (member,) = run_json("project", "members", project)
    assert member["role"] == "admin"
    assert_one_sentence_error(
        run("project", "remove-member", project, member["fingerprint"], code=1), "last admin"
    )
    assert [u["fingerprint"] for u in run_json("user", "list")] == [member["fingerprint"]]

    gone = run("project", "delete", project, "--yes").stdout
    assert gone == f"Deleted project {project}: 2 data units, 4 label rows, 1 object, 0 classifications.\n"
    assert run("project", "list").stdout == "No projects.\n"


def test_adding_an_image_twice_is_refused(env: Path, tmp_path: Path) -> None:
    from test_cli import make_images

    (image,) = make_images(tmp_path / "imgs", (8, 6))
    project = run("project", "create", "p").stdout.strip()
    run("data", "add", project, image)
    again = run("data", "add", project, image, code=1)
    assert_one_sentence_error(again, "has a data unit titled 'img0.png' already", "Nothing was added.")
    assert len(run_json("data", "list", project)) == 1


def test_user_add_says_what_key_it_expected(env: Path, tmp_path: Path, key_path: Path) -> None:
    db = tmp_path / "server.db"
    private = run("user", "add", "ada", "--key", key_path, "--db", db, code=1)
    assert_one_sentence_error(private, str(key_path), "is a private key; give its public half, KEY.pub")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\nworld\n")
    wrong = run("user", "add", "ada", "--key", notes, "--db", db, code=1)
    assert_one_sentence_error(wrong, str(notes), "expected one OpenSSH public key line", "found 2 lines.")
    notes.write_text("hello world\n")
    assert_one_sentence_error(
        run("user", "add", "ada", "--key", notes, "--db", db, code=1),
        str(notes),
        "is not an OpenSSH public key",
    )


def test_serve_help_names_both_databases() -> None:
    text = " ".join(run("serve", "--help").stdout.split())
    assert "on a PostgreSQL database or an SQLite store file" in text
    assert "A PostgreSQL URL (postgresql://...), or the path of an SQLite store file." in text
