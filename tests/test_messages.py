"""Every message with a count agrees in number, and none names an internal marker.

Two checks: the source never puts a bare number before a counted noun (it goes through
:func:`labelport.plural.plural`), and a CLI session that makes counts of 0, 1 and 2 of everything
prints no "1 objects" and no "2 object".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from labelport.cli import cli
from labelport.plural import plural

SRC = Path(__file__).resolve().parents[1] / "src" / "labelport"

NOUNS = (
    "object",
    "annotation",
    "error",
    "warning",
    "problem",
    "data unit",
    "label row",
    "classification",
    "image",
    "line",
    "number",
    "frame",
    "byte",
    "chunk",
    "field",
    "keypoint",
    "member",
    "user",
)
NUMBER = r"(?<![\w.,:/-])(\d{1,3}(?:,\d{3})+|\d+)"
#: "1 objects", "1 more problems", "1 categories"
ONE_MANY = re.compile(rf"(?<![\w.,:/-])1 (?:more )?(?:{'|'.join(n + 's' for n in NOUNS)}|categories)\b")
#: "2 object", "0 error", "3 category"
MANY_ONE = re.compile(rf"{NUMBER} (?:more )?(?:{'|'.join(NOUNS)}|category)(?![\w])")


def disagreements(text: str) -> list[str]:
    """The counted nouns in ``text`` whose number disagrees with their count.

    >>> disagreements("1 objects, 2 object, 1 object, 3 objects, 1 more problems, image 2 (")
    ['1 objects', '1 more problems', '2 object']
    """
    found = [m.group(0) for m in ONE_MANY.finditer(text)]
    found += [m.group(0) for m in MANY_ONE.finditer(text) if m.group(1) != "1"]
    return found


def test_plural() -> None:
    assert [plural(n, "object") for n in (0, 1, 2, 1000)] == [
        "0 objects",
        "1 object",
        "2 objects",
        "1,000 objects",
    ]
    assert (
        plural(1, "category", "categories") == "1 category"
        and plural(3, "category", "categories") == "3 categories"
    )


def test_the_source_counts_through_plural() -> None:
    """No f-string puts a number right before a counted noun; a count goes through plural()."""
    # (a size such as {width}x{height} is not a count)
    bare = re.compile(rf"(?<!x)\{{[^{{}}]+\}} (?:{'|'.join(n + 's?' for n in NOUNS)}|categories|category)\b")
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line)
    ]
    assert offenders == []


def test_no_message_names_the_json_root_marker(tmp_path: Path) -> None:
    for text in ("[1, 2]", '{"objects": 3}', "not json", '{"objects": [{"name": "a"}]}'):
        (tmp_path / "o.json").write_text(text)
        result = CliRunner().invoke(
            cli,
            ["--home", str(tmp_path / "h"), "ontology", "create", "x", "--file", str(tmp_path / "o.json")],
        )
        assert result.exit_code == 1
        assert "$:" not in result.stderr and "`$" not in result.stderr, result.stderr
        assert str(tmp_path / "o.json") in result.stderr, result.stderr


@pytest.fixture
def session(tmp_path: Path, home: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Everything a session with counts of 0, 1 and 2 prints, stdout and stderr."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LABELPORT_KEY", str(key_path))
    outputs: list[str] = []

    def run(*args: object, code: int | None = 0) -> str:
        result = CliRunner().invoke(cli, [str(a) for a in args])
        if code is not None:
            assert result.exit_code == code, (args, result.stdout, result.stderr)
        outputs.append(result.stdout + result.stderr)
        return result.stdout

    def write(name: str, data: object) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data))
        return path

    images = [{"id": i + 1, "file_name": f"img{i}.jpg", "width": 64, "height": 48} for i in range(3)]
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    one = write(
        "one.json",
        {
            "images": images[:1],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
            "categories": cats,
        },
    )
    two = write(
        "two.json",
        {
            "images": images,
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
                {"id": 2, "image_id": 2, "category_id": 2, "bbox": [60, 40, 10, 10]},  # one warning: outside
            ],
            "categories": cats,
        },
    )
    bad_one = write(
        "bad1.json",
        {
            "images": images,
            "annotations": [{"id": 1, "image_id": 9, "category_id": 1, "bbox": [1, 1, 5, 5]}],
            "categories": cats,
        },
    )
    bad_two = write(
        "bad2.json",
        {
            "images": images,
            "annotations": [
                {"id": 1, "image_id": 9, "category_id": 1, "bbox": [1, 1, 5, 5]},
                {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 1, -5, 5]},
            ],
            "categories": cats,
        },
    )
    preds = write("preds.json", [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4], "score": 0.5}])

    project = run("project", "create", "p", "--from-coco", two).strip()
    run("import", "coco", project, one, "--create-missing", "--dry-run")
    run("import", "coco", project, one, "--create-missing")
    run("import", "coco", project, two, "--create-missing", "--replace")
    run("import", "coco", project, bad_one, code=1)
    run("import", "coco", project, bad_two, code=1)
    run("import", "coco", project, bad_two, "--on-error", "skip")
    run("import", "coco", project, preds, "--branch", "preds")
    unmatched = write(
        "unmatched.json",
        {
            "images": [{"id": 7, "file_name": "new.jpg", "width": 64, "height": 48}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 1, 5, 5]}],
            "categories": cats,
        },
    )
    run("import", "coco", project, unmatched, code=1)
    run("labels", "show", project)
    run("data", "list", project)
    run("data", "add", project, "--list", _csv(tmp_path))
    run("branch", "list", project)
    run("stats", project)
    run("stats", project, "--branch", "preds")
    run("branch", "copy", project, "preds", "main")
    run("export", "coco", project, "-o", tmp_path / "out.json")
    units = json.loads(run("--json", "data", "list", project))
    run("labels", "delete", project, "--data-hash", units[0]["data_hash"], "--yes")
    run("data", "delete", project, units[1]["data_hash"], "--yes")
    run("branch", "delete", project, "preds", "--yes")
    run("project", "members", project)
    run("project", "delete", project, "--yes")
    return outputs


def _csv(folder: Path) -> Path:
    path = folder / "units.csv"
    path.write_text("clip.mp4,640,480,2\n")
    return path


def test_every_cli_count_agrees_in_number(session: list[str]) -> None:
    text = "\n".join(session)
    # the session did make counts of one (so the check below can fail)
    assert (
        "1 warning" in text and "1 object" in text and "(and 1 more problem)" in text and "1 error," in text
    )
    assert (
        "matches no data unit; its 1 annotation was not imported; --create-missing makes a data unit "
        "for it (create_missing_data_units=True in Python)."
    ) in text
    # --replace says what it removed; a results list says how its images were found
    assert "replaced (--replace): 1 earlier object of the matched data units removed first." in text
    assert "images: a results list names none; its image ids were resolved through the ids kept" in text
    assert disagreements(text) == []
