"""IoU of masks and OKS of keypoints for candidate pairs, as pycocotools computes them.

Boxes are in :func:`labelport.evaluation.engine.box_iou` (vectorised over all pairs); masks go to
pycocotools' own ``iou`` one detection at a time, and keypoints follow ``COCOeval.computeOks`` pair
by pair, with its operations in its order.

>>> import numpy as np
>>> g = np.array([10.0, 10, 2, 20, 20, 2]); d = np.array([10.0, 10, 1, 20, 20, 1])
>>> float(oks(d, g, np.array([10.0, 10, 10, 10]), 100.0, np.array([0.1, 0.1])))
1.0
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from labelport.errors import LabelportError
from labelport.evaluation.engine import Side
from labelport.evaluation.params import COCO_PERSON_SIGMAS
from labelport.plural import plural

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def mask_ious(gt: Side, dt: Side) -> Callable[[Ints, Ints], Floats]:
    """pycocotools' ``iou(dt_rles, gt_rles, iscrowd)`` for pairs, per run of one detection."""

    def ious(d: Ints, g: Ints) -> Floats:
        out = np.zeros(len(d))
        if not len(d):
            return out
        starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1], True])
        for s, e in itertools.pairwise(starts):
            rles = [_bytes_rle(gt.geometry[j]) for j in g[s:e]]
            crowd = [int(c) for c in gt.crowd[g[s:e]]]
            out[s:e] = np.asarray(mask_utils.iou([_bytes_rle(dt.geometry[d[s]])], rles, crowd)).reshape(-1)
        return out

    return ious


def _bytes_rle(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {"size": rle["size"], "counts": counts.encode() if isinstance(counts, str) else counts}


def sigmas_for(gt: Side, dt: Side, given: tuple[float, ...] | None) -> Floats:
    """The keypoint sigmas: the caller's, or COCO's person sigmas for a 17-point skeleton."""
    lengths = {len(k) // 3 for k in (*gt.geometry, *dt.geometry) if k is not None}
    if given is not None:
        sigmas = np.array(given, np.float64)
        if lengths - {len(sigmas)}:
            raise LabelportError(
                f"keypoint_sigmas gives {plural(len(sigmas), 'sigma')}; the objects' keypoint counts are "
                f"{', '.join(str(n) for n in sorted(lengths))}."
            )
        return sigmas
    if lengths <= {17}:
        return np.asarray(COCO_PERSON_SIGMAS, np.float64)
    raise LabelportError(
        f"the skeleton's keypoint counts are {', '.join(str(n) for n in sorted(lengths))}, not COCO's 17 "
        "person keypoints; give keypoint_sigmas, one per keypoint."
    )


def oks(d: Floats, g: Floats, bbox: Floats, area: float, sigmas: Floats) -> float:
    """``COCOeval.computeOks`` for one detection and one ground-truth object."""
    variances = (sigmas * 2) ** 2
    k = len(sigmas)
    xg, yg, vg = g[0::3], g[1::3], g[2::3]
    k1 = np.count_nonzero(vg > 0)
    x0, x1 = bbox[0] - bbox[2], bbox[0] + bbox[2] * 2
    y0, y1 = bbox[1] - bbox[3], bbox[1] + bbox[3] * 2
    xd, yd = d[0::3], d[1::3]
    if k1 > 0:
        dx = xd - xg
        dy = yd - yg
    else:
        z = np.zeros(k)
        dx = np.max((z, x0 - xd), axis=0) + np.max((z, xd - x1), axis=0)
        dy = np.max((z, y0 - yd), axis=0) + np.max((z, yd - y1), axis=0)
    e = (dx**2 + dy**2) / variances / (area + np.spacing(1)) / 2
    if k1 > 0:
        e = e[vg > 0]
    return float(np.sum(np.exp(-e)) / e.shape[0])


def keypoint_ious(gt: Side, dt: Side, sigmas: Floats) -> Callable[[Ints, Ints], Floats]:
    def ious(d: Ints, g: Ints) -> Floats:
        out = np.zeros(len(d))
        for n, (i, j) in enumerate(zip(d.tolist(), g.tolist(), strict=True)):
            dk, gk = dt.geometry[i], gt.geometry[j]
            if dk is None or gk is None:
                continue
            out[n] = oks(dk, gk, gt.bbox[j], float(gt.area[j]), sigmas)
        return out

    return ious
