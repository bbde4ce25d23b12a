"""The answer of ``project.evaluate()``: COCO's numbers, per-category rows, curves, and every match.

The summary comes with the call; the object-level matches are read when first asked for
(:meth:`Evaluation.errors`, :meth:`Evaluation.image`), from the stored evaluation.

>>> ev = Evaluation({"iou_type": "bbox", "stats": [0.5] * 12, "per_category": []})
>>> ev.stats[0], ev.summary().splitlines()[0]
(0.5, ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.500')
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np

from labelport.errors import FieldError, LabelportError, NotFoundError
from labelport.evaluation.report import GT_STATUS, PRED_STATUS

_DET_LINES = (
    (1, "0.50:0.95", "all", 100),
    (1, "0.50", "all", 100),
    (1, "0.75", "all", 100),
    (1, "0.50:0.95", "small", 100),
    (1, "0.50:0.95", "medium", 100),
    (1, "0.50:0.95", "large", 100),
    (0, "0.50:0.95", "all", 1),
    (0, "0.50:0.95", "all", 10),
    (0, "0.50:0.95", "all", 100),
    (0, "0.50:0.95", "small", 100),
    (0, "0.50:0.95", "medium", 100),
    (0, "0.50:0.95", "large", 100),
)
_KP_LINES = (
    (1, "0.50:0.95", "all", 20),
    (1, "0.50", "all", 20),
    (1, "0.75", "all", 20),
    (1, "0.50:0.95", "medium", 20),
    (1, "0.50:0.95", "large", 20),
    (0, "0.50:0.95", "all", 20),
    (0, "0.50", "all", 20),
    (0, "0.75", "all", 20),
    (0, "0.50:0.95", "medium", 20),
    (0, "0.50:0.95", "large", 20),
)


class Evaluation:
    """One evaluation of a prediction branch against a ground-truth branch."""

    def __init__(self, summary: dict[str, Any], matches: Callable[[], bytes | None] | None = None) -> None:
        self.data = summary
        self._load = matches

    def __repr__(self) -> str:
        ap = self.stats[0] if self.stats else float("nan")
        return f"Evaluation({self.data.get('pred_branch')!r} vs {self.data.get('gt_branch')!r}, AP={ap:.3f})"

    @property
    def stats(self) -> list[float]:
        """COCOeval's ``stats``: 12 numbers (10 for keypoints), in its order."""
        return list(self.data["stats"])

    @property
    def per_category(self) -> list[dict[str, Any]]:
        return list(self.data["per_category"])

    @property
    def pr_curves(self) -> dict[str, Any]:
        return dict(self.data.get("pr_curves", {}))

    @property
    def confusion_matrix(self) -> dict[str, Any]:
        """``labels`` (the categories, then ``background``) and ``matrix`` (rows ground truth, columns predictions)."""
        return dict(self.data.get("confusion", {}))

    @property
    def stored(self) -> bool:
        """Whether this answer was the stored one (both branches unchanged since it was computed)."""
        return bool(self.data.get("stored"))

    def to_dict(self, *, matches: bool = False) -> dict[str, Any]:
        """The JSON form (``stats`` a list at the top level); ``matches=True`` adds every object's match."""
        out = dict(self.data)
        if matches:
            out["matches"] = self.matches()
        return out

    def summary(self) -> str:
        """COCOeval's familiar summary lines."""
        lines = _KP_LINES if self.data.get("iou_type") == "keypoints" else _DET_LINES
        out = []
        for (ap, iou, area, dets), value in zip(lines, self.stats, strict=False):
            name, short = ("Average Precision", "(AP)") if ap else ("Average Recall", "(AR)")
            out.append(
                f" {name:<18} {short} @[ IoU={iou:<9} | area={area:>6s} | maxDets={dets:>3d} ] = {value:0.3f}"
            )
        return "\n".join(out)

    # -- object-level matches --------------------------------------------------------------------

    @cached_property
    def _arrays(self) -> dict[str, Any]:
        data = self._load() if self._load is not None else None
        if data is None:
            raise LabelportError("this evaluation carries no object-level matches.")
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def _pred(self, i: int) -> dict[str, Any]:
        z = self._arrays
        g = int(z["pred_gt"][i])
        return {
            "kind": "prediction",
            "object_hash": z["pred_hash"][i].decode(),
            "data_hash": z["image_hash"][z["pred_image"][i]].decode(),
            "frame": int(z["image_frame"][z["pred_image"][i]]),
            "category": str(z["category_title"][z["pred_category"][i]]),
            "score": float(z["pred_score"][i]),
            "bbox": [float(v) for v in z["pred_bbox"][i]],
            "status": PRED_STATUS[int(z["pred_status"][i])],
            "iou": float(z["pred_iou"][i]),
            "matched": None if g < 0 else z["gt_hash"][g].decode(),
        }

    def _gt(self, i: int) -> dict[str, Any]:
        z = self._arrays
        d = int(z["gt_pred"][i])
        return {
            "kind": "ground_truth",
            "object_hash": z["gt_hash"][i].decode(),
            "data_hash": z["image_hash"][z["gt_image"][i]].decode(),
            "frame": int(z["image_frame"][z["gt_image"][i]]),
            "category": str(z["category_title"][z["gt_category"][i]]),
            "bbox": [float(v) for v in z["gt_bbox"][i]],
            "area": float(z["gt_area"][i]),
            "status": GT_STATUS[int(z["gt_status"][i])],
            "matched": None if d < 0 else z["pred_hash"][d].decode(),
            "score": None if d < 0 else float(z["pred_score"][d]),
        }

    def matches(self) -> dict[str, list[dict[str, Any]]]:
        """Every prediction (tp, fp, ignored, beyond_max_dets) and ground-truth object (matched, fn, ignored)."""
        z = self._arrays
        return {
            "predictions": [self._pred(i) for i in range(len(z["pred_hash"]))],
            "ground_truth": [self._gt(i) for i in range(len(z["gt_hash"]))],
        }

    def errors(self, kind: str = "fp", category: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The worst errors first: false positives by score (highest first), or missed objects by area
        (largest first), at IoU 0.5 over all areas; ``category`` narrows them to one category."""
        z = self._arrays
        if kind not in ("fp", "fn"):
            raise LabelportError(f"kind must be 'fp' or 'fn', not {kind!r}.")
        if type(limit) is not int or limit < 0:
            raise FieldError("limit", f"how many errors to list is a whole number, 0 or more, not {limit!r}")
        titles = [str(t) for t in z["category_title"]]
        cat = None
        if category is not None:
            if category not in titles:
                raise LabelportError(f"category {category!r} is not in the project's ontology.")
            cat = titles.index(category)
        if kind == "fp":
            mask = z["pred_status"] == 1
            if cat is not None:
                mask &= z["pred_category"] == cat
            idx = np.flatnonzero(mask)
            idx = idx[np.argsort(-z["pred_score"][idx], kind="stable")][:limit]
            return [self._pred(int(i)) for i in idx]
        mask = z["gt_status"] == 1
        if cat is not None:
            mask &= z["gt_category"] == cat
        idx = np.flatnonzero(mask)
        idx = idx[np.argsort(-z["gt_area"][idx], kind="stable")][:limit]
        return [self._gt(int(i)) for i in idx]

    def image(self, data_hash: str, frame: int = 0) -> dict[str, Any]:
        """One image's predictions and ground truth with their matches."""
        z = self._arrays
        hashes = z["image_hash"]
        found = np.flatnonzero((hashes == data_hash.encode()) & (z["image_frame"] == frame))
        if not len(found):
            raise NotFoundError("image", data_hash, key="data hash")
        pos = int(found[0])
        return {
            "data_hash": data_hash,
            "frame": frame,
            "predictions": [self._pred(int(i)) for i in np.flatnonzero(z["pred_image"] == pos)],
            "ground_truth": [self._gt(int(i)) for i in np.flatnonzero(z["gt_image"] == pos)],
        }
