"""ours-export: ``project.export_coco(out_path)`` of the project ours-import made at the same scale.

Opens the store ours-import left (same LABELPORT_HOME and key; its one project, "bench") and writes
``<workdir>/export.json``. The harness then counts the file's annotations (unmeasured) and fails the job
unless they match the input's.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.jobs._common import Phases, emit, open_bench_project, parser


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--output", required=True, help="where to write the exported COCO file")
    args = ap.parse_args()
    phases = Phases()
    with phases("import_module"):
        import labelport
    with phases("open_store"):
        project = open_bench_project(labelport, Path(args.workdir), "bench")
    out = Path(args.output)
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    with phases("export"):
        project.export_coco(out)
    work = time.perf_counter() - start
    emit(work, phases, output=str(out), output_mib=round(out.stat().st_size / 2**20, 1))


if __name__ == "__main__":
    main()
