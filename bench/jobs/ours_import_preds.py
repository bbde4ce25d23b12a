"""ours-import-preds: the predictions (make_preds.py) imported onto branch ``pred`` of ours-import's project.

The setup of ours-eval, measured like any job: ``project.import_coco(preds, branch_name="pred")``.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.jobs._common import Phases, emit, fail
from bench.jobs._eval import eval_parser


def bench_project(workdir: str) -> object:
    import labelport

    key = Path(workdir) / "id_ed25519"
    client = labelport.UserClient.create_with_ssh_private_key(ssh_private_key_path=key)
    projects = [p for p in client.list_projects() if p.title == "bench"]
    if len(projects) != 1:
        fail(f"expected one project titled 'bench' in the store, found {len(projects)}")
    return client.get_project(projects[0].project_hash)


def main() -> None:
    args = eval_parser(__doc__ or "").parse_args()
    phases = Phases()
    with phases("open_store"):
        project = bench_project(args.workdir)
    start = time.perf_counter()
    with phases("import"):
        report = project.import_coco(args.preds, branch_name="pred", replace=True)  # type: ignore[attr-defined]
    emit(time.perf_counter() - start, phases, imported=report.counts.imported)


if __name__ == "__main__":
    main()
