"""The evaluation overlay: a stored evaluation's matches on the drawn marks, its errors, its page.

A stored evaluation (``project.evaluate(pred_branch, gt_branch=...)`` keeps it) is *read*, never
computed, on a page view: :func:`stored_for` asks for the one of COCO's default parameters (bbox,
then segm, then keypoints) while both branches are unchanged since it was computed; when there is
none, the viewer colours by class as before and the evaluation page says how to make one.

- :func:`object_matches` gives each drawn object of one unit its match, ``tp`` / ``fp`` / ``fn`` /
  ``wrong_class`` (a false positive whose box overlaps a missed object of another class at IoU 0.5,
  and that missed object); ``routes.unit_json`` sends them as ``matches`` (ground truth) and
  ``compare_matches`` (predictions), and ``static/app.js`` colours each mark by them (``matchColour``)
  with a legend;
- :func:`error_units` orders the units with false positives (or negatives) by their worst error,
  the order of :meth:`Evaluation.errors`, for the grid's ``errors=fp|fn`` filter;
- :func:`evaluation_json` is the evaluation page's data (``/projects/{hash}/evaluation?branch=&compare=``):
  COCO's 12 numbers, the per-class table and the precision/recall curves, drawn as SVG in the page.

>>> error_units(None, "fp")
[]
"""

from __future__ import annotations

from typing import Any

from labelport.client import Project
from labelport.errors import NotFoundError
from labelport.evaluation import Evaluation
from labelport.evaluation.report import KEYPOINT_STAT_NAMES, STAT_NAMES

#: The kinds of match an evaluation gives a drawn object.
MATCH_KINDS = ("tp", "fp", "fn", "wrong_class")
_KIND = {"tp": "tp", "matched": "tp", "fp": "fp", "fn": "fn"}
IOU_TYPES = ("bbox", "segm", "keypoints")


def stored_for(project: Project, truth_branch: str, prediction_branch: str) -> Evaluation | None:
    """The stored, current evaluation of ``prediction_branch`` against ``truth_branch``, or None."""
    for iou_type in IOU_TYPES:
        found = project.stored_evaluation(prediction_branch, gt_branch=truth_branch, iou_type=iou_type)
        if found is not None:
            return found
    return None


def _iou(a: list[float], b: list[float]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def object_matches(
    evaluation: Evaluation, data_hash: str, frames: int = 1
) -> tuple[dict[str, str], dict[str, str]]:
    """(ground truth's, predictions') match per object hash on one unit's frames."""
    truth: dict[str, str] = {}
    predicted: dict[str, str] = {}
    for frame in range(frames):
        try:
            image = evaluation.image(data_hash, frame)
        except NotFoundError:
            continue
        missed = [g for g in image["ground_truth"] if g["status"] == "fn"]
        for p in image["predictions"]:
            if p["status"] in _KIND:
                predicted[p["object_hash"]] = _KIND[p["status"]]
            if p["status"] != "fp":
                continue
            for g in missed:
                if g["category"] != p["category"] and _iou(p["bbox"], g["bbox"]) >= 0.5:
                    predicted[p["object_hash"]] = truth[g["object_hash"]] = "wrong_class"
        for g in image["ground_truth"]:
            if g["status"] in _KIND:
                truth.setdefault(g["object_hash"], _KIND[g["status"]])
    return truth, predicted


def error_units(evaluation: Evaluation | None, kind: str) -> list[tuple[str, int]]:
    """(data hash, number of errors) of every unit with a false positive (``fp``) or negative
    (``fn``), the unit of the worst error first (highest-scoring false positive, largest miss)."""
    if evaluation is None:
        return []
    counts: dict[str, int] = {}
    for error in evaluation.errors(kind, limit=2**62):
        counts[error["data_hash"]] = counts.get(error["data_hash"], 0) + 1
    return list(counts.items())


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    """The evaluation page's data: its branches, the named stats, per-class rows and curves."""
    data = evaluation.data
    names = KEYPOINT_STAT_NAMES if data.get("iou_type") == "keypoints" else STAT_NAMES
    return {
        "evaluation_id": data.get("evaluation_id"),
        "gt_branch": data.get("gt_branch"),
        "pred_branch": data.get("pred_branch"),
        "iou_type": data.get("iou_type"),
        "stats": evaluation.stats,
        "stat_names": list(names),
        "summary": evaluation.summary().splitlines(),
        "per_category": evaluation.per_category,
        "pr_curves": evaluation.pr_curves,
    }
