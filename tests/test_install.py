"""What a new user installs: `make demo` gives a .venv in which every command the README shows runs,
`eval --plots` included, and the extras install from the checkout (labelport is not on PyPI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from evaluation_helpers import project_with
from labelport import UserClient

ROOT = Path(__file__).resolve().parents[1]


def test_make_demo_installs_the_plots_extra_from_the_checkout(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    planned = subprocess.run(
        [make, "--no-print-directory", "-n", "-B", "demo", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{tmp_path / 'venv'}/bin/pip install -q -e '.[plots]'" in planned
    assert planned.rstrip().endswith("-m labelport.demo")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pinned = [r for r in extras["plots"] if r.startswith("matplotlib==")]
    assert pinned and pinned[0] in extras["test"]  # the version the tests draw with


def test_the_readme_installs_extras_from_the_checkout() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"pip install (-q )?'?labelport\[", readme) is None  # not published
    assert "pip install -e '.[plots]'" in readme


def test_plots_without_matplotlib_are_one_sentence_naming_the_install(
    client: UserClient, home: Path, key_path: Path, tmp_path: Path
) -> None:
    gt = {
        "images": [{"id": 1, "file_name": "a.png", "width": 200, "height": 150}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [40, 40, 100, 60], "area": 6000}],
        "categories": [{"id": 1, "name": "car"}],
    }
    project = project_with(
        client, gt, [{"image_id": 1, "category_id": 1, "bbox": [40, 40, 90, 60], "score": 0.9}]
    )
    client.close()
    code = "import sys; sys.modules['matplotlib'] = None; from labelport.cli import main; main()"
    args = [
        "--key",
        str(key_path),
        "eval",
        project.project_hash,
        "--pred",
        "pred",
        "--plots",
        str(tmp_path / "p"),
    ]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=os.environ, timeout=120
    )
    assert done.returncode == 1 and not (tmp_path / "p").exists()
    assert done.stderr == (
        "Error: plots need matplotlib: from labelport's checkout, pip install -e '.[plots]'.\n"
    )
