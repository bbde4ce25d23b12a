"""ours-eval / ours-eval-stored: ``labelport eval bench --pred pred --json`` on the store holding both branches.

ours-eval first deletes the stored evaluations (so that each run computes one from the store:
both branches read, matched, accumulated, stored) and times the command; its JSON goes to
``<workdir>/eval.json`` and its stats into the result line. ours-eval-stored asks again, unchanged,
and times the library call that answers (``project.evaluate("pred")``, the stored answer) apart
from the command's printing.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

from bench.jobs._common import Phases, emit
from bench.jobs._eval import eval_parser


def main() -> None:
    ap = eval_parser(__doc__ or "")
    ap.add_argument(
        "--stored", action="store_true", help="keep the stored evaluation (measure the stored answer)"
    )
    args = ap.parse_args()
    phases = Phases()
    with phases("import_module"):
        from labelport.cli import cli

        if args.stored:  # a process's one-time imports are not the answer's time
            import labelport.evaluation.result
            import labelport.evaluation.run  # noqa: F401
    key = Path(args.workdir) / "id_ed25519"
    if not args.stored:
        with phases("forget_stored"):
            import sqlite3

            from labelport.home import default_home

            db = sqlite3.connect(default_home() / "labelport.db")
            with db:
                db.execute("DELETE FROM evaluations")
            db.close()
    with phases("project_hash"):
        from bench.jobs.ours_import_preds import bench_project

        project_hash = bench_project(args.workdir).project_hash  # type: ignore[attr-defined]
    if args.stored:
        with phases("open_project"):
            project = bench_project(args.workdir)
        start = time.perf_counter()
        with phases("evaluate"):
            ev = project.evaluate("pred")  # type: ignore[attr-defined]
        emit(time.perf_counter() - start, phases, stats=ev.stats, stored=ev.stored)
        return
    out = Path(args.workdir) / "eval.json"
    start = time.perf_counter()
    with phases("eval"), out.open("w") as sink, contextlib.redirect_stdout(sink):
        try:
            cli.main(
                ["--key", str(key), "eval", project_hash, "--pred", "pred", "--json"], standalone_mode=False
            )
        except SystemExit as exc:  # pragma: no cover - the command failed
            print(f"FAILED: labelport eval exited {exc.code}", file=sys.stderr)
            raise
    work = time.perf_counter() - start
    data = json.loads(out.read_text())
    emit(work, phases, stats=data["stats"], stored=data["stored"], seconds_inside=data.get("seconds"))


if __name__ == "__main__":
    main()
