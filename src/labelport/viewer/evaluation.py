"""The evaluation overlay: a stored evaluation's matches on the drawn marks, its errors, its page.

A stored evaluation (``project.evaluate(pred_branch, gt_branch=...)`` keeps it) is *read*, never
computed, on a page view: :func:`stored_for` asks for the one of COCO's default parameters (bbox,
then segm, then keypoints) while both branches are unchanged since it was computed; when there is
none, the viewer colours by class as before and the evaluation page says how to make one.

- :func:`object_matches` (:mod:`labelport.evaluation.kinds`) gives each drawn object of one unit its match, ``tp`` / ``fp`` / ``fn`` /
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
from labelport.evaluation import Evaluation
from labelport.evaluation.kinds import MATCH_KINDS as MATCH_KINDS
from labelport.evaluation.kinds import object_matches as object_matches
from labelport.evaluation.report import KEYPOINT_STAT_NAMES, STAT_NAMES

IOU_TYPES = ("bbox", "segm", "keypoints")


def stored_for(project: Project, truth_branch: str, prediction_branch: str) -> Evaluation | None:
    """The stored, current evaluation of ``prediction_branch`` against ``truth_branch``, or None."""
    for iou_type in IOU_TYPES:
        found = project.stored_evaluation(prediction_branch, gt_branch=truth_branch, iou_type=iou_type)
        if found is not None:
            return found
    return None


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
