"""Turn the measurements into the targets' verdicts, a linearity check, Markdown and JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.datasets import LARGE
from bench.jobs import JOBS

LINEARITY_TARGET_PCT = 15.0


@dataclass(frozen=True)
class Target:
    """``numerator / denominator <= limit`` (wall time, or the rows' ``key``), the numerator's memory
    (a row key) <= limit MiB, or with ``seconds`` the numerator's ``key`` <= limit seconds."""

    numerator: str
    denominator: str | None
    limit: float
    memory: str = "peak_rss_mib"
    #: judges the scales beyond train2017 (``datasets.LARGE``) instead of train2017's fractions
    large: bool = False
    #: what a ratio divides (a row key, or ``result.<name>`` of the job's own result), both sides
    key: str = "wall_s"
    #: an absolute time: the numerator's ``key`` in seconds
    seconds: bool = False

    @property
    def label(self) -> str:
        shown = "" if self.key == "wall_s" else f" ({self.key.removeprefix('result.')})"
        if self.seconds:
            return f"{self.numerator} {self.key.removeprefix('result.')} (s)"
        if self.denominator is None:
            return f"{self.numerator} {MEMORY_LABELS[self.memory]}"
        return f"{self.numerator} / {self.denominator}{shown}"


MEMORY_LABELS = {
    "peak_rss_mib": "peak RSS (ru_maxrss)",
    "tree_pss_mib": "peak memory of all its processes (tree PSS)",
    "work_s": "in-process seconds",
}
UNITS = {"peak_rss_mib": " MiB", "tree_pss_mib": " MiB", "work_s": " s"}

TARGETS = (
    Target("ours-import", "pycocotools-load", 0.5),
    Target("ours-import", "raw-limit", 1.5),
    Target("ours-import", None, 1024.0),
    Target("ours-import", None, 1024.0, memory="tree_pss_mib"),
    Target("ours-export", "pycocotools-load-export", 1.0),
    Target("ours-import-http-pg", "ours-import", 2.0),
    Target("ours-eval", "hotcoco-eval", 1.0),
    Target("ours-eval", None, 1024.0),
    Target("ours-eval-stored", None, 0.2, memory="work_s"),
    # ten times train2017 must still import on this machine's 24 GiB
    Target("ours-import", None, 24 * 1024.0, memory="tree_pss_mib", large=True),
    Target("list-label-rows", None, 0.5, key="work_s", seconds=True),
    Target("list-label-rows", None, 150.0),
    # the whole script, its json.loads included; and the part labelport answers for (without it)
    Target("brief-import-py", "ours-import", 1.2),
    Target("brief-import-py", "ours-import", 1.2, key="result.labelport_seconds"),
    Target("ours-export", "pycocotools-load-export", 0.5),
    Target("ours-export", None, 300.0),
    Target("ours-import-http-pg", "ours-import", 1.5),
    # ten times train2017: all processes within 2 GiB
    Target("ours-import", None, 2048.0, memory="tree_pss_mib", large=True),
)


def value_of(row: dict[str, Any], key: str) -> Any:
    """A row's measurement: a row key, or ``result.<name>`` from the job's own result (work s for
    the other side of a ratio when the job has no such result)."""
    if key.startswith("result."):
        return (row.get("result") or {}).get(key.removeprefix("result."), row.get("work_s"))
    return row.get(key)


def verdict(value: float, limit: float, unit: str = "") -> str:
    """``met (0.31 ≤ 0.5, 38% under)`` or ``NOT met (0.74 > 0.5, 48% over)``."""
    pct = abs(value / limit - 1) * 100
    shown = f"{value:.0f}" if value >= 100 else f"{value:.3g}"
    by = f"{pct:.0f}%" if pct >= 10 else f"{pct:.1f}%"
    if value <= limit:
        return f"met ({shown}{unit} ≤ {limit:g}{unit}, {by} under)"
    return f"NOT met ({shown}{unit} > {limit:g}{unit}, {by} over)"


def _ok(scale: dict[str, Any], job: str) -> dict[str, Any] | None:
    for row in scale["jobs"]:
        if row["job"] == job:
            return row if row["status"] == "ok" else None
    return None


DISTURBED_SHARE = 0.25


def disturbed(row: dict[str, Any] | None) -> bool:
    """Whether the rest of the machine used over a quarter of a CPU, on average, while the job ran."""
    if not row or row.get("others_cpu_s") is None or not row.get("wall_s"):
        return False
    return bool(row["others_cpu_s"] > DISTURBED_SHARE * row["wall_s"])


def _status(scale: dict[str, Any], job: str) -> str:
    for row in scale["jobs"]:
        if row["job"] == job:
            return str(row["status"])
    return "not run"


def targets(scales: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target and scale: the value (wall-time ratio or peak RSS), in-process ratio, verdict."""
    rows = []
    for t in TARGETS:
        for scale in scales:
            if (scale["name"] in LARGE) != t.large:
                continue
            row: dict[str, Any] = {"check": t.label, "scale": scale["name"], "limit": t.limit}
            num = _ok(scale, t.numerator)
            den = _ok(scale, t.denominator) if t.denominator else num
            if num is None or den is None:
                missing = t.numerator if num is None else t.denominator
                row.update(value=None, met=None, verdict=f"n/a ({missing}: {_status(scale, str(missing))})")
            elif t.seconds:
                value = value_of(num, t.key)
                row.update(value=value, met=value <= t.limit, verdict=verdict(value, t.limit, " s"))
            elif t.denominator is None:
                value = num.get(t.memory)
                if value is None:
                    row.update(value=None, met=None, verdict="n/a (not measured)")
                else:
                    unit = UNITS[t.memory]
                    row.update(value=value, met=value <= t.limit, verdict=verdict(value, t.limit, unit))
            else:
                value = value_of(num, t.key) / value_of(den, t.key)
                row.update(value=value, met=value <= t.limit, verdict=verdict(value, t.limit))
                if t.key == "wall_s" and num.get("cpu_s") and den.get("cpu_s"):
                    row["cpu_ratio"] = num["cpu_s"] / den["cpu_s"]
                if t.key == "wall_s" and num.get("work_s") and den.get("work_s"):
                    row["in_process"] = num["work_s"] / den["work_s"]
            if disturbed(num) or (t.denominator and disturbed(den)):
                row.update(disturbed=True, verdict=row["verdict"] + " ⚠ disturbed")
            rows.append(row)
    return rows


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares ``y = a + b x``."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - b * mx, b


def max_deviation_pct(points: list[tuple[float, float]]) -> float:
    """The largest distance of a point from the fitted line, in % of the line's value there."""
    a, b = fit_line(points)
    return max(abs(y - (a + b * x)) / abs(a + b * x) * 100 for x, y in points)


def linearity(scales: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each of our jobs: a line through (annotations, wall s) over the scales, and its worst point."""
    rows = []
    for job in (j.name for j in JOBS.values() if j.ours):
        used = [(s, r) for s in scales if (r := _ok(s, job))]
        points = [(float(s["annotations"]), r["wall_s"]) for s, r in used]
        row: dict[str, Any] = {"job": job, "points": points}
        if len({x for x, _ in points}) < 3:
            row.update(
                max_deviation_pct=None, met=None, verdict=f"n/a ({len(points)} of the 3 points needed)"
            )
        else:
            dev = max_deviation_pct(points)
            a, b = fit_line(points)
            row.update(
                max_deviation_pct=dev,
                intercept_s=a,
                us_per_annotation=b * 1e6,
                met=dev <= LINEARITY_TARGET_PCT,
                verdict=verdict(dev, LINEARITY_TARGET_PCT, "%"),
            )
            if any(disturbed(r) for _, r in used):
                row.update(disturbed=True, verdict=row["verdict"] + " ⚠ disturbed")
        rows.append(row)
    return rows


# -- Markdown ----------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A Markdown table padded to line up in a terminal too; ``right`` holds the numeric columns."""
    right = right or set()
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths))
        + "|"
    )
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "" if value is None else format(value, fmt)


def _phases(row: dict[str, Any]) -> str:
    phases = row.get("phases") or {}
    text = ", ".join(
        f"{k.removesuffix('_seconds')} {v:.2f}"
        for k, v in phases.items()
        if not k.startswith("import_module")
    )
    if "server_cpu_s" in row:
        rss = _num(row.get("server_peak_rss_mib"), ".0f")
        text += (
            f"; CPU: client {row['client_cpu_s']:.2f}, server {row['server_cpu_s']:.2f}, "
            f"postgres {row.get('postgres_cpu_s', 0):.2f}; server peak RSS {rss} MiB"
        )
    return text


COLUMNS = (
    "**wall s**: from spawn to exit, interpreter start and imports included (ratios use it)",
    "**CPU s**: user + system time of the job's process and of the children it reaped (`os.wait4`)",
    "**peak RSS**: `ru_maxrss` from `os.wait4`, the largest single process",
    "**tree PSS**: the peak of the summed PSS of all the job's processes (forked workers included), sampled "
    "every 0.2 s; in brackets, how many processes when more than one",
    "**work s**: the job's core operation, timed inside the process",
    "**others' CPU s**: CPU time the rest of the machine used while the job ran (`/proc/stat` minus the job's "
    "and the harness's own); ⚠ marks runs where that averaged over a quarter of a CPU (others' CPU > 0.25 × "
    "wall s): on this machine's cores the job then competed for CPU, so its times are too high, and "
    "verdicts built on them carry ⚠ too",
    "**phases**: the job's own timings in seconds",
)


def _scale_table(scale: dict[str, Any]) -> str:
    rows = []
    for r in scale["jobs"]:
        tree = _num(r.get("tree_pss_mib"), ".0f")
        if r.get("tree_processes", 0) > 1:
            tree += f" ({r['tree_processes']})"
        rows.append(
            [
                r["job"],
                r["status"],
                _num(r.get("wall_s")),
                _num(r.get("cpu_s")),
                _num(r.get("peak_rss_mib"), ".0f"),
                tree,
                _num(r.get("work_s")),
                _num(r.get("others_cpu_s")) + (" ⚠" if disturbed(r) else ""),
                r.get("note") or _phases(r),
            ]
        )
    headers = ["job", "status", "wall s", "CPU s", "peak RSS MiB", "tree PSS MiB", "work s", "others' CPU s"]
    return table([*headers, "phases / note"], rows, {2, 3, 4, 5, 6, 7})


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    how = "Each job runs alone, one after another, as its own process (`python -m bench.jobs.<job>`)."
    if doc.get("repeat", 1) > 1:
        how += f" Each ran {doc['repeat']} times; the tables show its fastest run (every run's wall s is in the JSON)."
    if doc.get("quiet_wait_s"):
        how += (
            f" Before each run the harness waited (up to {doc['quiet_wait_s']:g} s) until the rest of the machine "
            "used under 0.2 CPU."
        )
    out = [
        "# labelport benchmark: COCO import and export at train2017 scale",
        "",
        f"- date: {m['date']}; command: `{doc['command']}`; commit: {m['commit'] or 'unknown'}",
        f"- machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['memory_gib']} GiB memory, {m['os']}",
        f"- Python {m['python']}, SQLite {m['sqlite']}; {versions}",
        "- input: synthetic train2017-shaped files from `../shared/tools/make_coco.py --images N` (seed 0)",
        "",
        how,
        "",
        *(f"- {column}" for column in COLUMNS),
    ]
    for scale in doc["scales"]:
        out += [
            "",
            f"## Scale {scale['name']}: {scale['images']:,} images, {scale['annotations']:,} annotations "
            f"({scale['mib']:,.0f} MiB)",
            "",
            _scale_table(scale),
        ]
    out += ["", "## Targets", ""]
    rows = [
        [t["check"], t["scale"], t["verdict"], _num(t.get("cpu_ratio")), _num(t.get("in_process"))]
        for t in doc["targets"]
    ]
    headers = ["check", "scale", "verdict (wall-time ratio, time or memory)", "CPU-s ratio", "work-s ratio"]
    out.append(table(headers, rows, {3, 4}))
    out += [
        "",
        f"## Linearity (straight line through (annotations, wall s); target ≤ {LINEARITY_TARGET_PCT:g}%)",
        "",
    ]
    rows = [
        [
            r["job"],
            "; ".join(f"{x:,.0f} → {y:.2f} s" for x, y in r["points"]),
            _num(r.get("us_per_annotation"), ".1f"),
            _num(r.get("intercept_s")),
            r["verdict"],
        ]
        for r in doc["linearity"]
    ]
    out.append(table(["job", "points", "µs / annotation", "intercept s", "max deviation"], rows, {2, 3}))
    out += ["", "## What each job does", ""]
    out += [f"- **{name}**: {summary}" for name, summary in doc["jobs"].items()]
    failures = [
        (s["name"], r) for s in doc["scales"] for r in s["jobs"] if r["status"] in ("failed", "timeout")
    ]
    if failures:
        out += ["", "## Failures", ""]
        for name, r in failures:
            tail = r.get("stderr_tail") or "(no stderr)"
            out += [f"### {r['job']} at {name}: {r['status']}", "", "```", tail, "```", ""]
    return "\n".join(out).rstrip() + "\n"
