"""``make bench``: generate the inputs, run every job as its own process at each scale, report.

    python -m bench.run                          # all jobs at 1/8, 1/2 and full scale
    python -m bench.run --scales 1/8 --repeat 1  # a quick run
    python -m bench.run --jobs ours-import,raw-limit --images 2000

Writes ``bench/results/latest.md`` and ``latest.json`` (``--results`` elsewhere) and prints the Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import datasets, machine, report
from bench.datasets import REPO, Dataset, Scale
from bench.http_pg import HttpPgFixture
from bench.jobs import JOBS, Job
from bench.measure import Measurement, run_child, wait_for_quiet

DEFAULT_RESULTS = REPO / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--scales",
        help=f"comma-separated: {', '.join(datasets.SCALES)} or all (default: all); also "
        f"{', '.join(datasets.LARGE)}, run only when named (with --jobs ours-import)",
    )
    ap.add_argument(
        "--images",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="a custom scale of N images (repeatable)",
    )
    ap.add_argument("--jobs", default=",".join(JOBS), help=f"comma-separated, from: {', '.join(JOBS)}")
    ap.add_argument("--cache", type=Path, default=datasets.DEFAULT_CACHE, help="where the inputs are kept")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where latest.md/.json are written")
    ap.add_argument(
        "--timeout", type=float, default=1800, help="seconds before a job is killed (default 1800)"
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="run each job N times, keep the fastest (default 3)",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        metavar="S",
        help="before each run, wait up to S seconds for the machine's other CPU use to settle (default 30)",
    )
    ap.add_argument(
        "--scratch", type=Path, default=None, help="parent folder for the run's stores and exports"
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder (stores, exports, job logs)")
    return ap.parse_args(argv)


def select_jobs(text: str) -> tuple[list[Job], list[str]]:
    """The named jobs plus the jobs they need, in the registry's order; and notes on what was added."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in JOBS]
    if unknown:
        raise SystemExit(f"unknown job {unknown[0]!r}; choose from {', '.join(JOBS)}")
    wanted, notes = set(names), []
    for name in names:
        stack = list(JOBS[name].needs)
        while stack:
            need = stack.pop()
            if need not in wanted:
                wanted.add(need)
                notes.append(f"{need} added: {name} needs it")
                stack.extend(JOBS[need].needs)
    return [job for job in JOBS.values() if job.name in wanted], notes


def job_command(job: Job, data: Dataset, workdir: Path, preds: Path | None = None) -> list[str]:
    source = workdir / job.reads if job.reads else data.path
    argv = [
        sys.executable,
        "-m",
        f"bench.jobs.{job.module}",
        "--input",
        str(source),
        "--workdir",
        str(workdir),
    ]
    argv += ["--expect-annotations", str(data.annotations)]
    if job.name == "ours-export":
        argv += ["--output", str(workdir / "export.json")]
    if job.preds and preds is not None:
        argv += ["--preds", str(preds)]
    return argv + list(job.args)


def job_env(job: Job, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LABELPORT_HOME"}
    env["PYTHONUNBUFFERED"] = "1"
    if job.uses_home:
        env["LABELPORT_HOME"] = str(workdir / job.home)
    return env


def measure_job(
    job: Job,
    data: Dataset,
    workdir: Path,
    done: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    fixtures: dict[str, HttpPgFixture],
) -> dict[str, Any]:
    """Run one job ``repeat`` times (or say why not) and return the row of its fastest run."""
    reason = job.available()
    if reason:
        return {"job": job.name, "status": "not available", "note": reason}
    if job.max_images is not None and data.images > job.max_images:
        return {"job": job.name, "status": "skipped", "note": f"run up to {job.max_images:,} images only"}
    blocked = [n for n in job.needs if done.get(n, {}).get("status") != "ok"]
    if blocked:
        return {"job": job.name, "status": "skipped", "note": f"{blocked[0]} did not succeed"}
    rows = []
    repeat = 1 if job.once else max(1, args.repeat)
    for _ in range(repeat):
        if job.fresh_home:
            shutil.rmtree(workdir / job.home, ignore_errors=True)
            if job.home_from:
                shutil.copytree(workdir / job.home_from, workdir / job.home)
        waited = wait_for_quiet(args.quiet_wait) if args.quiet_wait > 0 else 0.0
        row = measure_once(job, data, workdir, args.timeout, fixtures.get(job.fixture or ""))
        row["quiet_wait_s"] = round(waited, 1)
        if row["status"] != "ok":
            return row
        rows.append(row)
    best = min(rows, key=lambda r: r["wall_s"])
    if repeat > 1:
        best["runs_wall_s"] = [r["wall_s"] for r in rows]
    return best


def measure_once(
    job: Job, data: Dataset, workdir: Path, timeout_s: float, fixture: HttpPgFixture | None
) -> dict[str, Any]:
    """Run the job once (its fixture set up around it) and return its row: status, measurements, output."""
    row: dict[str, Any] = {"job": job.name}
    extra: list[str] = []
    stats: dict[str, Any] = {}
    if fixture is not None:
        try:
            extra = fixture.before(workdir, workdir / "logs")
        except Exception as exc:
            fixture.stop_server()
            reason = f"setting up {job.fixture} failed: {str(exc).splitlines()[0] if str(exc) else exc!r}"
            return {**row, "status": "failed", "note": reason[:200], "stderr_tail": str(exc)}
    try:
        m: Measurement = run_child(
            job_command(job, data, workdir, datasets.preds_path(data)) + extra,
            cwd=REPO,
            env=job_env(job, workdir),
            timeout_s=timeout_s,
            log_dir=workdir / "logs",
            name=job.name,
        )
    finally:
        if fixture is not None:
            stats = fixture.after()
    row.update(
        wall_s=round(m.wall_s, 3),
        cpu_s=round(m.cpu_s, 3),
        user_s=round(m.user_s, 3),
        sys_s=round(m.sys_s, 3),
        peak_rss_mib=round(m.peak_rss_mib, 1),
        tree_pss_mib=None if m.tree_pss_mib is None else round(m.tree_pss_mib, 1),
        tree_processes=m.tree_processes,
        others_cpu_s=None if m.others_cpu_s is None else round(m.others_cpu_s, 2),
        work_s=m.result.get("work_seconds"),
        phases=m.result.get("phases", {}),
        result=m.result,
    )
    if stats:  # the server's and PostgreSQL's share: in CPU s, and no longer among the others
        server_cpu = stats.get("server_cpu_s", 0.0) + stats.get("postgres_cpu_s", 0.0)
        row.update(stats, client_cpu_s=row["cpu_s"], cpu_s=round(m.cpu_s + server_cpu, 3))
        if m.others_cpu_s is not None:
            row["others_cpu_s"] = round(max(0.0, m.others_cpu_s - server_cpu), 2)
    if m.timed_out:
        return {
            **row,
            "status": "timeout",
            "note": f"killed after {timeout_s:g} s",
            "stderr_tail": m.stderr_tail,
        }
    if m.returncode != 0 or not m.result:
        return {**row, "status": "failed", "note": failure_reason(m), "stderr_tail": m.stderr_tail}
    if job.name == "ours-export":
        exported = datasets.count(workdir / "export.json")["annotations"]
        if exported != data.annotations:
            note = f"export has {exported:,} annotations, the input {data.annotations:,}"
            return {**row, "status": "failed", "note": note, "stderr_tail": note}
    return {**row, "status": "ok"}


def failure_reason(m: Measurement) -> str:
    """The job's own ``FAILED:`` line, else the last line of its stderr, else how it exited."""
    lines = m.stderr_tail.splitlines()
    reasons = [line for line in lines if line.startswith("FAILED: ")] or lines[-1:]
    if not reasons:
        return f"exit code {m.returncode}" if m.returncode >= 0 else f"killed by signal {-m.returncode}"
    return reasons[-1].removeprefix("FAILED: ")[:200]


def progress(scale: Scale, row: dict[str, Any]) -> None:
    if row["status"] == "ok":
        detail = f"{row['wall_s']:.2f} s wall, {row['cpu_s']:.2f} s CPU, {row['peak_rss_mib']:.0f} MiB"
        if row.get("others_cpu_s"):
            detail += f", others used {row['others_cpu_s']:.2f} s CPU meanwhile"
        if row.get("runs_wall_s"):
            detail += f" (fastest of {', '.join(f'{w:.2f}' for w in row['runs_wall_s'])})"
    else:
        detail = row.get("note", "")
    print(f"[{scale.name}] {row['job']}: {row['status']} {detail}", file=sys.stderr, flush=True)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (the JSON is committed)."""
    try:
        return str(path.absolute().relative_to(REPO))
    except ValueError:
        return str(path)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scales = datasets.parse_scales(args.scales) if args.scales else []
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    scales += [Scale(f"{n:,} images", n) for n in args.images]
    if not scales:
        scales = list(datasets.SCALES.values())
    jobs, notes = select_jobs(args.jobs)
    for note in notes:
        print(note, file=sys.stderr)

    inputs = [datasets.ensure(scale, args.cache, args.timeout) for scale in scales]
    if any(job.preds for job in jobs):
        for data in inputs:
            datasets.ensure_preds(data, args.timeout)
    scratch = Path(tempfile.mkdtemp(prefix="labelport-bench-", dir=args.scratch))
    fixtures = {"http-pg": HttpPgFixture(scratch)}
    doc: dict[str, Any] = {
        "command": " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])]).strip(),
        "machine": machine.describe(REPO),
        "repeat": max(1, args.repeat),
        "quiet_wait_s": args.quiet_wait,
        "jobs": {job.name: job.summary for job in jobs},
        "scales": [],
    }
    try:
        for data in inputs:
            workdir = scratch / data.scale.slug
            workdir.mkdir()
            datasets.warm(data.path)
            done: dict[str, dict[str, Any]] = {}
            for job in jobs:
                done[job.name] = measure_job(job, data, workdir, done, args, fixtures)
                progress(data.scale, done[job.name])
            doc["scales"].append(
                {
                    "name": data.scale.name,
                    "images": data.images,
                    "annotations": data.annotations,
                    "mib": data.mib,
                    "file": _shown(data.path),
                    "jobs": list(done.values()),
                }
            )
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    finally:
        for fixture in fixtures.values():
            fixture.close()
        if args.keep:
            print(f"kept the scratch folder {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    doc["targets"] = report.targets(doc["scales"])
    doc["linearity"] = report.linearity(doc["scales"])
    text = report.markdown(doc)
    print(text, end="")
    args.results.mkdir(parents=True, exist_ok=True)
    write_atomic(args.results / "latest.md", text)
    write_atomic(args.results / "latest.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.results / 'latest.md'} and latest.json", file=sys.stderr)
    failed = [r for s in doc["scales"] for r in s["jobs"] if r["status"] in ("failed", "timeout")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
