"""PNG files of an evaluation: precision/recall curves and the confusion matrix (matplotlib, Agg).

>>> # write_plots(evaluation, "plots/") -> [Path("plots/pr_curves.png"), ...]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from labelport.errors import LabelportError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise LabelportError("plots need matplotlib: pip install 'labelport[plots]'.") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(evaluation: Any, folder: str | Path) -> list[Path]:
    """Write ``pr_curves.png``, ``pr_per_category.png`` and ``confusion_matrix.png``; returns their paths."""
    out = Path(folder).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabelportError(f"{out} cannot be made ({exc.strerror or exc}).") from None
    plt = _pyplot()
    curves = evaluation.pr_curves
    written = []
    if curves.get("categories"):
        written.append(_mean_curves(plt, curves, out / "pr_curves.png", evaluation))
        written.append(_category_curves(plt, curves, out / "pr_per_category.png"))
    if evaluation.confusion_matrix.get("matrix"):
        written.append(_confusion(plt, evaluation.confusion_matrix, out / "confusion_matrix.png"))
    return written


def _at(curves: dict[str, Any], iou: float) -> int | None:
    found = [i for i, t in enumerate(curves["iou_thresholds"]) if abs(t - iou) < 1e-9]
    return found[0] if found else None


def _mean_curves(plt: Any, curves: dict[str, Any], path: Path, evaluation: Any) -> Path:
    recall = np.array(curves["recall"])
    blocks = np.array([c["precision"] for c in curves["categories"].values()])  # K, T, R
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for label, iou in (("IoU 0.50", 0.5), ("IoU 0.75", 0.75)):
        t = _at(curves, iou)
        if t is not None:
            ax.plot(recall, np.where(blocks[:, t] < 0, np.nan, blocks[:, t]).mean(axis=0), label=label)
    ax.plot(recall, np.where(blocks < 0, np.nan, blocks).mean(axis=(0, 1)), label="IoU 0.50:0.95", lw=2)
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
    cols = min(len(items), 8)
    rows = math.ceil(len(items) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.0 * cols, 1.8 * rows), dpi=90, squeeze=False, sharex=True, sharey=True
    )
    for ax, (title, block) in zip(axes.flat, items, strict=False):
        p = np.array(block["precision"])
        row = p[t] if t is not None else p.mean(axis=0)
        ax.plot(recall, np.where(row < 0, np.nan, row))
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


def _confusion(plt: Any, confusion: dict[str, Any], path: Path) -> Path:
    labels = confusion["labels"]
    matrix = np.array(confusion["matrix"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    n = len(labels)
    size = max(5.0, 0.16 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=max(4, 9 - n // 12))
    ax.set_yticks(range(n), labels, fontsize=max(4, 9 - n // 12))
    ax.set(
        xlabel="predicted",
        ylabel="ground truth",
        title="confusion at IoU 0.50 (share of each ground-truth row)",
    )
    if n <= 12:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
