"""PNG files of an evaluation: precision/recall curves and the confusion matrix (matplotlib, Agg).

The curves take their colours from :data:`labelport.evaluation.kinds.CURVES`, as the viewer's page
does. The confusion matrix PNG shows the classes most confused with another (at most
:data:`CONFUSED_SHOWN`, each cell its count); ``confusion_matrix.csv`` beside it holds every class.

``write_plots(evaluation, "plots/")`` returns the paths written, ``plots/pr_curves.png`` first.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from labelport.errors import LabelportError
from labelport.evaluation.kinds import CURVES

#: How many classes the confusion matrix PNG shows at most (the CSV holds them all).
CONFUSED_SHOWN = 15


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise LabelportError(
            "plots need matplotlib: from labelport's checkout, pip install -e '.[plots]'."
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(evaluation: Any, folder: str | Path) -> list[Path]:
    """Write ``pr_curves.png``, ``pr_per_category.png``, ``confusion_matrix.png`` and
    ``confusion_matrix.csv``; returns their paths."""
    plt = _pyplot()  # before the folder is made: without matplotlib nothing is written
    out = Path(folder).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabelportError(f"{out} cannot be made ({exc.strerror or exc}).") from None
    curves = evaluation.pr_curves
    written = []
    if curves.get("categories"):
        written.append(_mean_curves(plt, curves, out / "pr_curves.png", evaluation))
        written.append(_category_curves(plt, curves, out / "pr_per_category.png"))
    if evaluation.confusion_matrix.get("matrix"):
        written.append(_confusion(plt, evaluation.confusion_matrix, out / "confusion_matrix.png"))
        written.append(confusion_csv(evaluation.confusion_matrix, out / "confusion_matrix.csv"))
    return written


def _at(curves: dict[str, Any], iou: float) -> int | None:
    found = [i for i, t in enumerate(curves["iou_thresholds"]) if abs(t - iou) < 1e-9]
    return found[0] if found else None


def _mean_curves(plt: Any, curves: dict[str, Any], path: Path, evaluation: Any) -> Path:
    recall = np.array(curves["recall"])
    blocks = np.array([c["precision"] for c in curves["categories"].values()])  # K, T, R
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    valid = np.where(blocks < 0, np.nan, blocks)  # a class without ground truth is left out, as on the page
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a recall no class reaches: nothing drawn there
        for label, iou, colour in CURVES:
            t = None if iou is None else _at(curves, iou)
            if iou is None:
                ax.plot(recall, np.nanmean(valid, axis=(0, 1)), label=label, color=colour, lw=2)
            elif t is not None:
                ax.plot(recall, np.nanmean(valid[:, t], axis=0), label=label, color=colour, lw=2)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    data = evaluation.data
    ax.set_title(
        f"{data.get('pred_branch')} vs {data.get('gt_branch')}: mean over categories (AP {evaluation.stats[0]:.3f})"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _category_curves(plt: Any, curves: dict[str, Any], path: Path) -> Path:
    recall = np.array(curves["recall"])
    t = _at(curves, 0.5)
    items = list(curves["categories"].items())
    colour = next(c for _label, iou, c in CURVES if iou == 0.5)  # the IoU 0.50 curve's colour
    cols = min(len(items), 8)
    rows = math.ceil(len(items) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.0 * cols, 1.8 * rows), dpi=90, squeeze=False, sharex=True, sharey=True
    )
    for ax, (title, block) in zip(axes.flat, items, strict=False):
        p = np.array(block["precision"])
        row = p[t] if t is not None else p.mean(axis=0)
        ax.plot(recall, np.where(row < 0, np.nan, row), color=colour)
        ax.set_title(title, fontsize=8)
        ax.set(xlim=(0, 1), ylim=(0, 1.05))
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(items) :]:
        ax.axis("off")
    fig.suptitle("precision / recall at IoU 0.50, per category", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path)
    plt.close(fig)
    return path


def most_confused(matrix: Any, shown: int = CONFUSED_SHOWN) -> list[int]:
    """The indices of at most ``shown`` classes (the last row and column, background, left out)
    with the most objects counted as another class, either way; then those with most errors
    against the background; in their order in the matrix.

    >>> most_confused(np.array([[5, 2, 0, 1], [0, 4, 0, 0], [0, 0, 9, 3], [0, 0, 1, 0]]), 2)
    [0, 1]
    """
    counts = np.asarray(matrix)
    n = counts.shape[0] - 1
    classes = counts[:n, :n]
    other = classes.sum(axis=0) + classes.sum(axis=1) - 2 * np.diag(classes)
    background = counts[:n, n] + counts[n, :n]
    order = sorted(range(n), key=lambda i: (-int(other[i]), -int(background[i]), i))
    return sorted(order[:shown])


def confusion_csv(confusion: dict[str, Any], path: Path) -> Path:
    """Every class's row and column of the confusion matrix as CSV: rows ground truth, columns predictions."""
    labels = confusion["labels"]
    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\n")
    writer.writerow(["ground truth \\ predicted", *labels])
    for label, row in zip(labels, confusion["matrix"], strict=True):
        writer.writerow([label, *row])
    try:
        path.write_text(lines.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise LabelportError(f"{path} cannot be written ({exc.strerror or exc}).") from None
    return path


def _confusion(plt: Any, confusion: dict[str, Any], path: Path) -> Path:
    full = np.array(confusion["matrix"], dtype=np.int64)
    n_classes = full.shape[0] - 1
    keep = [*most_confused(full), n_classes]  # and the background
    labels = [confusion["labels"][i] for i in keep]
    matrix = full[np.ix_(keep, keep)]
    rows = full[keep].sum(axis=1, keepdims=True)  # each row's share of all its ground truth
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    n = len(labels)
    size = max(5.0, 0.55 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size), dpi=100)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=45, ha="right", rotation_mode="anchor", fontsize=9)
    ax.set_yticks(range(n), labels, fontsize=9)
    which = (
        "every class" if n_classes <= CONFUSED_SHOWN else f"the {n - 1} most confused of {n_classes} classes"
    )
    ax.set(xlabel="predicted", ylabel="ground truth")
    ax.set_title(
        f"confusion at IoU 0.50: {which}\n(counts; colour: share of the row; all in {path.stem}.csv)",
        fontsize=10,
    )
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, f"{int(matrix[i, j]):,}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
