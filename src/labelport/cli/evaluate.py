"""``labelport eval`` and ``labelport diff``: a prediction branch judged against ground truth, two branches compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from labelport.cli.base import State, json_option
from labelport.evaluation.kinds import error_kind


def _number(value: Any, width: int = 6) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, float):
        return ("-" if value < 0 else f"{value:.3f}").rjust(width)
    return str(value).rjust(width)


def category_table(rows: list[dict[str, Any]]) -> str:
    """The per-category rows as a fixed-width table."""
    name = max([len("category"), *(len(r["category"]) for r in rows)])
    head = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR100", "TP", "FP", "FN", "F1 thr"]
    lines = [f"{'category':<{name}} " + " ".join(h.rjust(6) for h in head)]
    for r in rows:
        f1 = r.get("best_f1") or {}
        cells = [r["AP"], r["AP50"], r["AP75"], r["AP_small"], r["AP_medium"], r["AP_large"], r["AR100"]]
        cells += [r["tp"], r["fp"], r["fn"], f1.get("score")]
        lines.append(f"{r['category']:<{name}} " + " ".join(_number(c) for c in cells))
    return "\n".join(lines)


def _error_lines(errors: list[dict[str, Any]], kind: str) -> str:
    if not errors:
        return f"no {'false positives' if kind == 'fp' else 'missed objects'}."
    out = []
    for e in errors:
        box = ", ".join(f"{v:g}" for v in e["bbox"])
        what = f"score {e['score']:.3f}, best IoU {e['iou']:.2f}" if kind == "fp" else f"area {e['area']:g}"
        tag = f"{kind.upper()} wrong class" if e.get("match") == "wrong_class" else kind.upper()
        out.append(
            f"{tag} {e['category']:<14} {what}  [{box}]  data {e['data_hash']}, frame {e['frame']}  object {e['object_hash']}"
        )
    return "\n".join(out)


@click.command("eval")
@click.argument("project_hash", metavar="PROJECT")
@click.option("--pred", "pred_branch", required=True, metavar="BRANCH", help="The branch of predictions.")
@click.option(
    "--gt", "gt_branch", default="main", show_default=True, metavar="BRANCH", help="The ground truth."
)
@click.option(
    "--iou-type", type=click.Choice(["bbox", "segm", "keypoints"]), default="bbox", show_default=True
)
@click.option(
    "--plots",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write PR curves and the confusion matrix as PNGs here.",
)
@click.option(
    "--errors",
    "errors_kind",
    type=click.Choice(["fp", "fn"]),
    help="List the worst false positives or missed objects.",
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many errors --errors lists (0 or more).",
)
@json_option
@click.pass_obj
def evaluate(
    state: State,
    project_hash: str,
    pred_branch: str,
    gt_branch: str,
    iou_type: str,
    plots: Path | None,
    errors_kind: str | None,
    limit: int,
) -> None:
    """Evaluate a prediction branch against ground truth: COCOeval's numbers, per category.

    \b
        labelport eval PROJECT --pred model-v2
        labelport eval PROJECT --pred model-v2 --iou-type segm --plots plots/ --errors fp --limit 10
    """
    project = state.client().get_project(project_hash)
    ev = project.evaluate(pred_branch, gt_branch=gt_branch, iou_type=iou_type)
    result = ev.to_dict()
    notes = []
    if plots is not None:
        from labelport.evaluation.plots import write_plots

        written = write_plots(ev, plots)
        result["plots"] = [str(p) for p in written]
        notes.append("plots: " + ", ".join(str(p) for p in written))
    if errors_kind is not None:
        result["errors"] = ev.errors(errors_kind, limit=limit)
        for error in result["errors"]:  # the viewer's words: an FP over a missed object of another class
            error["match"] = error_kind(ev, error, errors_kind)
    data = ev.data

    def text() -> str:
        head = f"{pred_branch} vs {gt_branch} ({iou_type}): {data['counts']['predictions']:,} predictions, {data['counts']['ground_truth']:,} ground truth"
        head += " (stored answer)." if ev.stored else f" ({data.get('seconds', 0):.2f} s)."
        parts = [head, ev.summary(), "", category_table(ev.per_category), *notes]
        if errors_kind is not None:
            parts += ["", _error_lines(result["errors"], errors_kind)]
        return "\n".join(parts)

    state.emit(result, text)


@click.command("diff")
@click.argument("project_hash", metavar="PROJECT")
@click.option("--a", "a", required=True, metavar="BRANCH", help="The first branch (e.g. a labeller's).")
@click.option("--b", "b", required=True, metavar="BRANCH", help="The second branch (e.g. a reviewer's).")
@click.option("--iou", default=0.5, show_default=True, help="The IoU at which two objects are the same.")
@json_option
@click.pass_obj
def diff(state: State, project_hash: str, a: str, b: str, iou: float) -> None:
    """Compare two label branches object by object: matched, another class, only in a, only in b.

    \b
        labelport diff PROJECT --a alice --b review --iou 0.5
    """
    result = state.client().get_project(project_hash).diff(a, b, iou=iou)

    def text() -> str:
        t = result["totals"]
        lines = [
            f"{a} vs {b} at IoU {iou:g}: {t['matched']} matched, {t['other_class']} with another class, "
            f"{t['only_a']} only in {a}, {t['only_b']} only in {b}.",
            "",
        ]
        rows = result["per_category"]
        name = max([len("category"), *(len(r["category"]) for r in rows)])
        lines.append(f"{'category':<{name}} {'matched':>8} {'other':>8} {'only a':>8} {'only b':>8}")
        for r in rows:
            lines.append(
                f"{r['category']:<{name}} {r['matched']:>8} {r['other_class']:>8} {r['only_a']:>8} {r['only_b']:>8}"
            )
        for pair in result["other_class_pairs"][:10]:
            lines.append(f"  {pair['a']} in {a} is {pair['b']} in {b}: {pair['count']}")
        return "\n".join(lines)

    state.emit(result, text)
