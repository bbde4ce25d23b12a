"""The demo that `make demo` runs: it finishes, re-imports without duplicates, and fails in one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from pycocotools import mask as mask_utils

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
    assert len(out.splitlines()) <= 25
    written = json.loads((home / "images" / "street.json").read_text())
    exported = json.loads((home / "export.json").read_text())
    assert exported["annotations"] == written["annotations"]
    assert sorted(p.name for p in (home / "images").glob("*.png")) == [
        "street-1.png",
        "street-2.png",
        "street-3.png",
    ]


def test_demo_fails_in_one_sentence(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    home.mkdir()
    (home / "labelport.db").write_bytes(b"not a database" * 100)
    result = CliRunner(catch_exceptions=False).invoke(main, ["--home", str(home)])
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: cannot open the store") and result.stderr.count("\n") == 1


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
