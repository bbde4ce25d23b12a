"""list-label-rows: ``project.list_label_rows_v2()`` of the project ours-import made at the same scale.

Opens ours-import's store, lists every label row (light handles: data unit metadata, label hash,
object count), then builds the brief's ``{lr.data_title: lr for lr in rows}``. Fails unless there is
a row per image and the rows' object counts add up to the input's annotations. The measured work is
the listing alone; the dictionary is a phase of its own.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.jobs._common import Phases, emit, expect, open_bench_project, parser


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    phases = Phases()
    with phases("import_module"):
        import labelport
    with phases("open_store"):
        project = open_bench_project(labelport, Path(args.workdir), "bench")
    start = time.perf_counter()
    with phases("list"):
        rows = project.list_label_rows_v2()
    work = time.perf_counter() - start
    with phases("brief_dict"):
        by_title = {lr.data_title: lr for lr in rows}
    objects = sum(r.object_count for r in rows)
    expect("objects counted", objects, args.expect_annotations)
    emit(work, phases, rows=len(rows), titles=len(by_title), annotations=objects)


if __name__ == "__main__":
    main()
