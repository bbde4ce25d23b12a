"""``make bench`` end to end at a tiny scale: the harness runs each job as a process and reports them all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from labelport import UserClient

REPO = Path(__file__).resolve().parents[1]
MAKE_COCO = REPO.parent / "shared" / "tools" / "make_coco.py"


def test_bench_runs_every_job_at_a_tiny_scale(tmp_path: Path) -> None:
    assert MAKE_COCO.is_file(), f"{MAKE_COCO} is absent: the benchmark needs ../shared beside the repo"
    ours = ["ours-import", "ours-export", "list-label-rows", "brief-setup", "brief-import-py"]
    jobs = ["raw-limit", "raw-limit-orjson", "pycocotools-load", *ours]
    results = tmp_path / "results"
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "--images",
        "200",
        "--repeat",
        "1",
        "--quiet-wait",
        "0",
        "--jobs",
        ",".join(jobs),
    ]
    command += ["--cache", str(tmp_path / "cache"), "--results", str(results), "--scratch", str(tmp_path)]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]

    doc = json.loads((results / "latest.json").read_text())
    (scale,) = doc["scales"]
    assert scale["images"] == 200
    assert scale["annotations"] > 0
    rows = {row["job"]: row for row in scale["jobs"]}
    assert set(rows) == set(jobs)
    for job in jobs:
        row = rows[job]
        assert row["status"] == "ok", row
        assert row["wall_s"] > 0 and row["cpu_s"] > 0 and row["peak_rss_mib"] > 0 and row["work_s"] > 0, row
        assert job == "ours-export" or row["result"]["annotations"] == scale["annotations"], row
    assert {t["check"] for t in doc["targets"]} >= {
        "ours-import / pycocotools-load",
        "ours-import / raw-limit",
        "ours-import peak RSS (ru_maxrss)",
        "list-label-rows work_s (s)",
        "brief-import-py / ours-import (labelport_seconds)",
    }
    ratio = next(t for t in doc["targets"] if t["check"] == "ours-import / raw-limit")
    assert ratio["cpu_ratio"] == rows["ours-import"]["cpu_s"] / rows["raw-limit"]["cpu_s"]
    assert rows["brief-import-py"]["result"]["labelport_seconds"] < rows["brief-import-py"]["work_s"]

    markdown = (results / "latest.md").read_text()
    assert markdown == run.stdout
    table = markdown.split("## Scale 200 images", 1)[1].split("## Targets", 1)[0]
    for job in jobs:
        (line,) = [line for line in table.splitlines() if line.startswith(f"| {job} ")]
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[1] == "ok"
        assert all(float(cell) > 0 for cell in cells[2:5]), line
    assert list(tmp_path.glob("labelport-bench-*")) == []  # the scratch folder is cleaned up


def test_tile_repeats_a_coco_file_with_unique_ids_and_file_names(tmp_path: Path, client: UserClient) -> None:
    """The 10x scale is the full-scale file tiled: every copy's ids and file names are its own, the
    rest of each record is unchanged, and labelport imports the result whole."""
    from bench.tile import tile

    source = {
        "info": {"year": 2017},
        "licenses": [{"id": 1, "name": "x"}],
        "images": [
            {"id": 3, "file_name": "a.jpg", "width": 9, "height": 9},
            {"id": 7, "file_name": "b.jpg", "width": 9, "height": 9},
        ],
        "annotations": [
            {"id": 5, "image_id": 7, "category_id": 1, "bbox": [1, 1, 2, 2], "area": 4, "iscrowd": 0},
            {"id": 6, "image_id": 3, "category_id": 1, "bbox": [0.5, 1, 2, 3.25], "area": 6.5, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "box"}],
    }
    (tmp_path / "one.json").write_text(json.dumps(source))
    assert tile(tmp_path / "one.json", tmp_path / "three.json", 3) == (6, 6)
    tiled = json.loads((tmp_path / "three.json").read_text())
    assert [i["id"] for i in tiled["images"]] == [3, 7, 11, 15, 19, 23]
    assert [i["file_name"] for i in tiled["images"][2:4]] == ["tile1/a.jpg", "tile1/b.jpg"]
    assert [(a["id"], a["image_id"]) for a in tiled["annotations"]] == [
        (5, 7),
        (6, 3),
        (12, 15),
        (13, 11),
        (19, 23),
        (20, 19),
    ]
    assert [
        {k: v for k, v in a.items() if k not in ("id", "image_id")} for a in tiled["annotations"][4:]
    ] == [{k: v for k, v in a.items() if k not in ("id", "image_id")} for a in source["annotations"]]
    assert {k: tiled[k] for k in ("info", "licenses", "categories")} == {
        k: source[k] for k in ("info", "licenses", "categories")
    }
    report = client.create_project("tiled").import_coco(
        tmp_path / "three.json", categories="create", create_missing_data_units=True
    )
    assert report.ok and report.counts.imported == 6 and report.counts.data_units_created == 6


def test_the_floor_uses_labelports_page_size(tmp_path: Path) -> None:
    """The raw-limit floor writes its own copy of labelport's SQLite settings; they must agree, and a
    new store's file must really have that page size."""
    import sqlite3

    from bench.jobs import raw_limit

    from labelport.store.sqlite import PAGE_SIZE, SqliteStore

    assert raw_limit.PAGE_SIZE == PAGE_SIZE
    SqliteStore(tmp_path / "new.db")
    (size,) = sqlite3.connect(tmp_path / "new.db").execute("PRAGMA page_size").fetchone()
    assert size == PAGE_SIZE
