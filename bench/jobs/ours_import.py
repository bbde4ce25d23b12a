"""ours-import: labelport's COCO import into a fresh embedded store (a new LABELPORT_HOME).

Creates an Ed25519 key, ``UserClient.create_with_ssh_private_key(ssh_private_key_path=key)``,
``client.create_project("bench")`` (an empty ontology), then ``project.import_coco(path,
categories="create", create_missing_data_units=True)``: decode, validate, match, create the ontology's
objects (each shape chosen from its annotations in the same pass) and the data units, write. The
harness measures the whole process; the job reports each phase, and fails unless the report says every
annotation was imported. The store is kept for ours-export.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench.jobs._common import Phases, emit, expect, fail, parser, write_ed25519_key


def check_report(report: Any) -> Any:
    """The report's counts; the job fails unless it wrote and imported every annotation without errors."""
    if isinstance(report, dict):
        from labelport import ImportReport

        report = ImportReport.from_dict(report)
    counts = report.counts
    if not report.ok or not report.written or counts.imported != counts.annotations:
        fail(f"the import did not import every annotation:\n{report.summary()}")
    return counts


def timed_import(client: Any, phases: Phases, args: Any) -> tuple[Any, Any, Any, float]:
    """The measured part, the same embedded and over HTTP: a new empty project, then one import that
    creates its objects and data units. Returns the project, the report, its counts (checked) and
    the import's seconds."""
    with phases("create_project"):
        project = client.create_project("bench")
    start = time.perf_counter()
    with phases("import"):
        report = project.import_coco(args.input, categories="create", create_missing_data_units=True)
    work = time.perf_counter() - start
    counts = check_report(report)
    expect("annotations imported", counts.imported, args.expect_annotations)
    return project, report, counts, work


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    workdir = Path(args.workdir)
    home = Path(os.environ.get("LABELPORT_HOME", ""))
    if not os.environ.get("LABELPORT_HOME") or (home.exists() and any(home.iterdir())):
        fail(f"LABELPORT_HOME must name a fresh folder, not {str(home)!r}")
    phases = Phases()
    with phases("import_module"):
        import labelport
    with phases("open_store"):
        key = write_ed25519_key(workdir / "id_ed25519")
        client = labelport.UserClient.create_with_ssh_private_key(ssh_private_key_path=key)
    project, report, counts, work = timed_import(client, phases, args)
    emit(
        work,
        phases,
        annotations=counts.imported,
        images=counts.images,
        data_units_created=counts.data_units_created,
        report_seconds=round(report.seconds, 4),
        project_hash=project.project_hash,
        store_mib=round(sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) / 2**20, 1),
    )


if __name__ == "__main__":
    main()
