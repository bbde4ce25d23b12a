"""``make bench`` end to end at a tiny scale: the harness runs each job as a process and reports them all."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAKE_COCO = REPO.parent / "shared" / "tools" / "make_coco.py"


def _labelport_coco() -> bool:
    return all(
        importlib.util.find_spec(f"labelport.formats.coco.{name}") is not None
        for name in ("importer", "exporter")
    )


def test_bench_runs_every_job_at_a_tiny_scale(tmp_path: Path) -> None:
    if not MAKE_COCO.is_file():
        pytest.skip(f"{MAKE_COCO} is absent")
    jobs = ["raw-limit", "pycocotools-load"] + (["ours-import", "ours-export"] if _labelport_coco() else [])
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
        "ours-import peak RSS (ru_maxrss)",
    }

    markdown = (results / "latest.md").read_text()
    assert markdown == run.stdout
    table = markdown.split("## Scale 200 images", 1)[1].split("## Targets", 1)[0]
    for job in jobs:
        (line,) = [line for line in table.splitlines() if line.startswith(f"| {job} ")]
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[1] == "ok"
        assert all(float(cell) > 0 for cell in cells[2:5]), line
    assert list(tmp_path.glob("labelport-bench-*")) == []  # the scratch folder is cleaned up
