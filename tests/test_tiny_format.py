"""Adding a format is one module and one line in the table: a tiny format defined here, added to
``labelport.formats.FORMATS`` for the test's duration, imports and exports through the CLI (embedded)
and through a real server (its process adds the same line), with the import's matching, error
policy, report and idempotent re-import, and nothing else registered anywhere.

"csv-boxes": one box a line, ``file name,width,height,label,x,y,w,h``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import write_key
from labelport.cli import cli
from labelport.formats import FORMATS
from labelport.formats.base import Dataset, ExportReport, Format, Sizes, number
from labelport.imports.policy import ErrorPolicy
from labelport.keys import Identity
from labelport.server.admin import add_user
from test_server import ServerProcess

NAME = "csv-boxes"
TESTS = Path(__file__).resolve().parent


def read_csv_boxes(source: Any, *, on_error: str = "fail", sizes: Sizes | None = None) -> Dataset:
    """The file's boxes as the neutral dataset; each bad line is reported to the error policy."""
    path = Path(source)
    policy = ErrorPolicy.of(on_error)
    data = Dataset(name=path.name)
    images: dict[str, int] = {}
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = text.split(",")
        if len(fields) != 8:
            policy.problem("csv_fields", path.name, f"needs 8 fields, not {len(fields)}.", line=line)
            continue
        file_name, label = fields[0], fields[3]
        try:
            width, height, *box = (float(v) for v in (fields[1], fields[2], *fields[4:]))
        except ValueError:
            policy.problem("csv_number", path.name, "width, height and the box are numbers.", line=line)
            continue
        if file_name not in images:
            images[file_name] = data.image(file_name, int(width), int(height))
        data.annotation(images[file_name], data.category(label), bbox=[number(v) for v in box])
    policy.finish()
    data.problems = policy.problems
    return data


def write_csv_boxes(coco: dict[str, Any], dest: str | Path) -> ExportReport:
    """A project's boxes, one a line, sorted."""
    images = {i["id"]: i for i in coco["images"]}
    names = {c["id"]: c["name"] for c in coco["categories"]}
    lines = sorted(
        ",".join(
            str(v)
            for v in (
                images[a["image_id"]]["file_name"],
                images[a["image_id"]]["width"],
                images[a["image_id"]]["height"],
                names[a["category_id"]],
                *(number(v) for v in a["bbox"]),
            )
        )
        for a in coco["annotations"]
    )
    out = Path(dest)
    out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return ExportReport(format=NAME, path=str(out), images=len(images), objects=len(lines), files=1)


CSV_BOXES = Format(
    NAME, "CSV boxes: one box a line", read_csv_boxes, write_csv_boxes, lambda p: p.suffix == ".csv"
)


def register() -> None:
    """The one line a new format adds to the table (run in the server's process too)."""
    FORMATS[NAME] = CSV_BOXES


LINES = ["a.jpg,64,48,cat,1,2,10,20", "a.jpg,64,48,dog,30,5,4.5,6", "b.jpg,32,32,cat,0,0,32,32"]


@pytest.fixture
def csv_boxes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The format in the table for this test, and a file of it."""
    assert NAME not in FORMATS and NAME not in CliRunner().invoke(cli, ["import", "--help"]).stdout
    monkeypatch.setitem(FORMATS, NAME, CSV_BOXES)
    source = tmp_path / "boxes.csv"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    yield source


def run(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    return result


def round_trip(base: list[str], source: Path, tmp_path: Path) -> None:
    """Import, re-import, refuse a bad file (writing nothing), skip its bad line, export: through the CLI."""
    project = run(*base, "project", "create", "tiny").stdout.strip().split()[-1]
    imported = run(
        *base, "import", NAME, project, source, "--categories", "create", "--create-missing-data-units"
    )
    assert "imported 3 of 3 annotations (3 new" in imported.output
    again = json.loads(run(*base, "--json", "import", NAME, project, source).stdout)
    assert again["counts"]["updated"] == 3 and again["counts"]["created"] == 0  # keyed by the file's order
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{LINES[0]}\nb.jpg,32,32,cat,0,0\n{LINES[2]}\n", encoding="utf-8")
    refused = run(*base, "import", NAME, project, bad, code=1)
    assert "line 2" in refused.output and "needs 8 fields, not 6" in refused.output
    assert "Traceback" not in refused.output
    out = tmp_path / "out.csv"
    run(*base, "export", NAME, project, "-o", out)
    assert out.read_text(encoding="utf-8").splitlines() == sorted(LINES)  # the refused file changed nothing
    skipped = json.loads(run(*base, "--json", "import", NAME, project, bad, "--on-error", "skip").stdout)
    assert skipped["counts"]["skipped"] == 1 and skipped["counts"]["imported"] == 2
    assert [p["path"] for p in skipped["errors"]] == ["bad.csv line 2"]


def test_a_format_added_to_the_table_imports_and_exports_through_the_cli(
    csv_boxes: Path, tmp_path: Path, home: Path, key_path: Path
) -> None:
    round_trip(["--home", home, "--key", key_path], csv_boxes, tmp_path)


def test_a_format_added_to_the_table_imports_and_exports_through_a_server(
    csv_boxes: Path, tmp_path: Path, home: Path
) -> None:
    db = str(tmp_path / "server.db")
    key = write_key(tmp_path / "ada")
    add_user(db, "ada", Identity.load(key).public_text, admin=True)
    prelude = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_tiny_format; test_tiny_format.register()"
    server = ServerProcess(db, tmp_path / "server.log", prelude=prelude)
    try:
        round_trip(["--server", server.url, "--key", key], csv_boxes, tmp_path)
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "server.log").read_text()
