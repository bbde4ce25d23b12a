"""The README's tours run as written, from an empty home, with the files of ``examples/``.

The Python tour and its continuation on the docs' "Everyday operations" page run in this process;
the CLI tour and its continuation run in bash with the installed ``labelport`` script; the team
server page's snippet runs against a real server process on an SQLite file. The README stays short
and, like every docs page, speaks of the product only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import write_key
from labelport.cli import cli
from labelport.keys import Identity
from labelport.server.admin import add_user
from test_server import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"


def page(name: str) -> str:
    """A docs page's text (``docs/NAME.md``)."""
    return (DOCS / f"{name}.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README's text from the heading ``## title`` to the next ``## `` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME, no labelport variables, and a working folder holding a copy of examples/."""
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in (
        "LABELPORT_HOME",
        "LABELPORT_KEY",
        "LABELPORT_KEY_PASSWORD",
        "LABELPORT_SERVER",
        "LABELPORT_DB",
    ):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    monkeypatch.chdir(work)
    return work


def test_the_examples_are_the_files_the_tours_name() -> None:
    texts = [README, *(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))]
    named = {name for text in texts for name in re.findall(r"examples/([\w.-]+\.\w+)", text)}
    shipped = {p.name for p in (ROOT / "examples").iterdir()} - {"README.md"}
    assert named and named <= shipped, named - shipped


def test_the_python_tour_runs_from_an_empty_home(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init = CliRunner(catch_exceptions=False).invoke(cli, ["init"])
    assert init.exit_code == 0, init.stderr
    tour = blocks(section("The Python API"), "python")[0]
    namespace: dict[str, Any] = {}
    exec(compile(tour, "README: the Python tour", "exec"), namespace)
    project, report = namespace["project"], namespace["report"]
    assert report.counts.imported == 2 and report.counts.created == 2
    assert "imported 2 of 2 annotations" in capsys.readouterr().out
    assert (clean / "export.json").is_file()
    assert {u.title for u in project.list_data_units()} == {"cat.jpg", "dog.png", "clip.mp4", "scan-7"}
    assert sum(len(r.object_instances) for r in project.list_label_rows_v2()) == 3
    # the key is the one init chose, in the home it made under the empty HOME
    assert namespace["client"].identity.fingerprint in init.stdout
    assert (Path(os.environ["HOME"]) / ".labelport" / "config.json").is_file()

    operations = blocks(page("operations"), "python")[0]
    exec(compile(operations, "docs: everyday operations", "exec"), namespace)
    assert namespace["client"].list_projects() == []


def test_the_cli_tour_runs_from_an_empty_home(clean: Path) -> None:
    tour = blocks(section("The `labelport` command"), "sh")
    script = next(b for b in tour if b.startswith("labelport init"))
    operations = blocks(page("operations"), "sh")[0]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script + operations],
        cwd=clean,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    out = done.stdout
    assert "Every command uses this key" in out
    assert "instances.json -> branch main: imported 2 of 2 annotations (2 new, 0 updated, 0 skipped)." in out
    assert "detections.json -> branch model-v2: imported 2 of 2 annotations" in out
    assert "main      " in out and "model-v2  2 objects on 2 data units" in out
    assert "Deleted branch model-v2:" in out and "Deleted project " in out
    assert (clean / "labels.json").is_file() and (clean / "report.json").is_file()


def test_the_team_server_snippet_runs_against_a_server(clean: Path, tmp_path: Path) -> None:
    key = write_key(tmp_path / "ada")
    db = tmp_path / "team.db"
    add_user(str(db), "ada", Identity.load(key).public_text)
    server = ServerProcess(str(db), tmp_path / "server.log")
    try:
        snippet = blocks(page("server"), "python")[0]
        snippet = (
            snippet.replace("http://labels.example:8800", server.url)
            .replace("~/.ssh/id_ed25519", str(key))
            .replace("instances_train2017.json", "examples/instances.json")
        )
        namespace: dict[str, Any] = {}
        try:
            exec(compile(snippet, "docs: the team server", "exec"), namespace)
        finally:
            if "client" in namespace:
                namespace["client"].service.close()
        assert namespace["report"].counts.imported == 2
        assert len(namespace["images"]) == 2
    finally:
        server.stop()


def test_the_readme_is_short() -> None:
    lines = README.count("\n")
    assert lines <= 300, f"README.md has {lines} lines; the reference belongs in docs/"


INTERNAL = re.compile(
    r"issue \d+|\b(this|last|first|second|earlier) rounds?\b|this session|\bhelpers?\b|\bthe brief\b",
    flags=re.I,
)


@pytest.mark.parametrize("path", [ROOT / "README.md", *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_no_page_speaks_of_how_the_project_was_built(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [
        f"{path.name} line {text.count(chr(10), 0, m.start()) + 1}: {m.group()!r}"
        for m in INTERNAL.finditer(text)
    ]
    assert not found, found


def test_the_docs_include_the_readme_tours_by_marker() -> None:
    """Each ``--8<-- "README.md:NAME"`` of a page has its start and end marker in the README."""
    included = {
        name for p in DOCS.glob("*.md") for name in re.findall(r'--8<-- "README\.md:([\w-]+)"', p.read_text())
    }
    assert {"intro", "python-tour", "cli-options", "cli-tour"} <= included
    for name in included:
        start, end = f"--8<-- [start:{name}]", f"--8<-- [end:{name}]"
        assert README.count(start) == 1 and README.count(end) == 1, name
        assert README.index(start) < README.index(end), name
