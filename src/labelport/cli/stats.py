"""``labelport stats``: a branch in numbers."""

from __future__ import annotations

from typing import Any

import click

from labelport.cli.base import State, json_option
from labelport.plural import plural


def _range(d: dict[str, float] | None) -> str:
    if d is None:
        return "-"
    return f"{d['min']:g} / {d['median']:g} / {d['max']:g}"


def stats_text(stats: dict[str, Any]) -> str:
    """The stats as a table: one row per class, then the totals."""
    lines = [
        f"branch {stats['branch']}: {plural(stats['objects'], 'object')} "
        f"({plural(stats['annotations'], 'annotation')}); "
        f"{plural(stats['units_with_objects'], 'data unit')} with objects, "
        f"{stats['units_without_objects']:,} without (of {stats['data_units']:,}).",
    ]
    if stats["shapes"]:
        lines.append("shapes: " + ", ".join(f"{k} {v:,}" for k, v in stats["shapes"].items()) + ".")
    header = ("class", "shape", "objects", "area min/median/max", "box w min/median/max", "h", "S/M/L")
    rows = [
        (
            c["title"],
            c["shape"],
            f"{c['objects']:,}",
            _range(c["area"]),
            _range(c["width"]),
            _range(c["height"]),
            "{small}/{medium}/{large}".format(**c["sizes"]),
        )
        for c in stats["classes"]
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    lines.append("S/M/L: COCO's sizes, area under 32x32, under 96x96, and larger.")
    return "\n".join(lines)


@click.command()
@click.argument("project_hash", metavar="PROJECT")
@click.option(
    "--branch-name", "--branch", "branch", metavar="NAME", help="The branch to count. [default: main]"
)
@json_option
@click.pass_obj
def stats(state: State, project_hash: str, branch: str | None) -> None:
    """Objects per class and shape, data units with and without objects, per-class area and box sizes.

    \b
        labelport stats PROJECT --branch model-v2
    """
    found = state.client().get_project(project_hash).stats(branch)
    state.emit(found, lambda: stats_text(found))
