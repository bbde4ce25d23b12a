"""How an evaluation's matches are named and coloured on every face, defined once.

The CLI's error lines, the viewer's legends and curves, and the PNG plots all take their words and
colours from here: a false positive that covers a missed object of another class at IoU 0.5 is
*wrong class* everywhere (COCOeval counts it as one FP and one FN), and the precision/recall curves
have the same colour on the evaluation page as in ``pr_curves.png``.

>>> MATCH_NAMES["wrong_class"]
'wrong class (FP + FN)'
>>> [label for label, _iou, _colour in CURVES]
['IoU 0.50', 'IoU 0.75', 'IoU 0.50:0.95']
"""

from __future__ import annotations

from typing import Any

from labelport.errors import NotFoundError

#: The kinds of match an evaluation gives a drawn object.
MATCH_KINDS = ("tp", "fp", "fn", "wrong_class")
MATCH_NAMES = {
    "tp": "true positive (TP)",
    "fp": "false positive (FP)",
    "fn": "missed (FN)",
    "wrong_class": "wrong class (FP + FN)",
}
MATCH_COLOURS = {"tp": "#4caf50", "fp": "#ff5252", "fn": "#ffb300", "wrong_class": "#ba68c8"}
#: The precision/recall curves drawn, mean over classes: label, IoU threshold (None: the mean over
#: 0.50:0.95) and colour.
CURVES: tuple[tuple[str, float | None, str], ...] = (
    ("IoU 0.50", 0.5, "#2e7d32"),
    ("IoU 0.75", 0.75, "#1e88e5"),
    ("IoU 0.50:0.95", None, "#e65100"),
)
_KIND = {"tp": "tp", "matched": "tp", "fp": "fp", "fn": "fn"}


def palette() -> dict[str, Any]:
    """The words and colours as JSON for the viewer's pages."""
    return {
        "match_names": MATCH_NAMES,
        "match_colours": MATCH_COLOURS,
        "curves": [{"label": label, "iou": iou, "colour": colour} for label, iou, colour in CURVES],
    }


def _iou(a: list[float], b: list[float]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def object_matches(evaluation: Any, data_hash: str, frames: int = 1) -> tuple[dict[str, str], dict[str, str]]:
    """(ground truth's, predictions') match kind per object hash on one unit's frames: one of
    :data:`MATCH_KINDS` (``wrong_class``: a false positive whose box overlaps a missed object of
    another class at IoU 0.5, and that missed object)."""
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


def error_kind(evaluation: Any, error: dict[str, Any], kind: str) -> str:
    """``kind`` (``fp`` or ``fn``) of one of :meth:`Evaluation.errors`, or ``wrong_class`` when it is one."""
    truth, predicted = object_matches(evaluation, error["data_hash"], error["frame"] + 1)
    found = (predicted if kind == "fp" else truth).get(error["object_hash"], kind)
    return "wrong_class" if found == "wrong_class" else kind
