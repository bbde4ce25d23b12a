"""The demo that `make demo` runs: it finishes, re-imports without duplicates, and fails in one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools import mask as mask_utils

from labelport.cli import cli
from labelport.demo import main, polygon_area, rle_counts


def test_demo_runs_and_reimports_without_duplicates(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    result = CliRunner(catch_exceptions=False).invoke(main, ["--home", str(home)])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "(6 new, 0 updated, 0 skipped)" in out
    assert "(0 new, 6 updated, 0 skipped)" in out
    assert "No duplicates: 0 new, 6 updated; 6 objects before and after." in out
    assert "sign (bounding_box), roof (polygon), puddle (bitmask), person (skeleton)" in out
    assert len(out.splitlines()) <= 30
    written = json.loads((home / "images" / "street.json").read_text())
    exported = json.loads((home / "export.json").read_text())
    assert exported["annotations"] == written["annotations"]
    assert sorted(p.name for p in (home / "images").glob("*.png")) == [
        "street-1.png",
        "street-2.png",
        "street-3.png",
    ]


def test_demo_keeps_its_folder_and_a_second_run_starts_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = CliRunner(catch_exceptions=False).invoke(main, [])
    assert first.exit_code == 0, first.stderr
    folder = tmp_path / "demo-output"
    assert first.stdout.splitlines()[0] == "labelport demo in demo-output/"
    assert "Everything is kept in demo-output/ (the next run starts it afresh):" in first.stdout
    last = first.stdout.splitlines()[-1]
    assert last.startswith("Look inside:  labelport --home demo-output stats ")
    for name in ("labelport.db", "id_ed25519", "export.json", "images/street.json", "images/street-1.png"):
        assert (folder / name).is_file(), name
        assert name.split("/")[-1] in first.stdout
    pictures = sorted((folder / "pictures").glob("*.png"))
    assert len(pictures) == 3 and "pictures/" in first.stdout and "view" in first.stdout
    key = (folder / "id_ed25519").read_bytes()
    (folder / "stray.txt").write_text("left from before")
    second = CliRunner(catch_exceptions=False).invoke(main, [])
    assert second.exit_code == 0, second.stderr
    assert not (folder / "stray.txt").exists() and (folder / "id_ed25519").read_bytes() != key
    assert "(6 new, 0 updated, 0 skipped)" in second.stdout  # a fresh store, not a third import
    # the command the demo prints works as printed
    project = second.stdout.splitlines()[-1].split()[-1]
    shown = CliRunner(catch_exceptions=False).invoke(
        cli, ["--home", "demo-output", "--json", "stats", project]
    )
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["objects"] == 6


def test_the_pictures_show_what_the_labels_describe(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    assert CliRunner(catch_exceptions=False).invoke(main, ["--home", str(home)]).exit_code == 0
    coco = json.loads((home / "images" / "street.json").read_text())
    colours = {1: (220, 40, 40), 2: (120, 70, 40), 3: (60, 90, 160), 4: (0, 0, 0)}
    for ann in coco["annotations"]:
        image = next(i for i in coco["images"] if i["id"] == ann["image_id"])
        pixels = np.asarray(Image.open(home / "images" / image["file_name"]).convert("RGB"))
        x, y, w, h = (int(v) for v in ann["bbox"])
        inside = pixels[y : y + h, x : x + w].reshape(-1, 3)
        share = (inside == colours[ann["category_id"]]).all(axis=1).mean()
        assert share > 0.05, (ann["id"], share)  # the label's shape is drawn where the label says


def test_demo_fails_in_one_sentence(tmp_path: Path) -> None:
    home = tmp_path / "mine"
    home.mkdir()
    (home / "thesis.tex").write_text("not the demo's")
    result = CliRunner(catch_exceptions=False).invoke(main, ["--home", str(home)])
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert (
        result.stderr
        == f"Error: {home} holds files the demo did not make; give --home a new or empty folder.\n"
    )
    assert (home / "thesis.tex").is_file()


def test_rle_counts_agree_with_pycocotools() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        mask = rng.random((9, 13)) < 0.4
        ours = mask_utils.frPyObjects({"size": [9, 13], "counts": rle_counts(mask)}, 9, 13)
        theirs = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert ours["counts"] == theirs["counts"]
    assert rle_counts(np.ones((2, 2), dtype=bool)) == [0, 4]


def test_polygon_area() -> None:
    assert polygon_area([0, 0, 10, 0, 10, 5, 0, 5]) == 50.0
