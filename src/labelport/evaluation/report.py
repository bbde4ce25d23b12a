"""From COCOeval's arrays to what a person reads: per-category rows, curves, a confusion matrix, matches.

Object-level statuses are taken at IoU 0.5 (the first threshold when 0.5 is not among them), over
the area range ``all`` (the first range otherwise) and ``max_dets[-1]``, as COCOeval matched them.

>>> STAT_NAMES[0], STAT_NAMES[11], KEYPOINT_STAT_NAMES[9]
('AP', 'AR_large', 'AR_large')
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from labelport.evaluation.columns import Branch, Frame
from labelport.evaluation.engine import Accumulated, Matching, Side, match, select, view_indices
from labelport.evaluation.params import Params

STAT_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
              "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")  # fmt: skip
KEYPOINT_STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "AP_medium",
    "AP_large",
    "AR",
    "AR50",
    "AR75",
    "AR_medium",
    "AR_large",
)

#: prediction statuses and ground-truth statuses, as stored
PRED_STATUS = ("tp", "fp", "ignored", "beyond_max_dets")
GT_STATUS = ("matched", "fn", "ignored")


def indices(m: Matching) -> tuple[int, int]:
    """(threshold index, area index) of the object-level view: IoU 0.5 and area ``all`` when present."""
    return m.view[1], m.view[0]


def object_status(
    m: Matching, n_gt: int, n_dt: int, ious: Callable[[Any, Any], Any] | None = None
) -> dict[str, npt.NDArray[Any]]:
    """Per object of each side: its status, its match, and the match's IoU (or the best IoU for an FP).

    ``ious`` is the matching's IoU of object pairs (masks, keypoints); boxes need none.
    """
    t, a = indices(m)
    pred_status = np.full(n_dt, 3, np.int8)
    pred_gt = np.full(n_dt, -1, np.int64)
    pred_iou = np.zeros(n_dt)
    dtm, dt_ig = m.det_gt, m.dt_ignore[a, t]
    matched = dtm >= 0
    pred_status[m.dets] = np.where(dt_ig, 2, np.where(matched, 0, 1))
    if m.params.use_categories:
        # a category without ground truth (in this area range) is left out by COCOeval: so are its predictions
        counted = np.bincount(m.gt_category[~m.gt_ignore[a]], minlength=m.n_categories) > 0
        pred_status[m.dets[~counted[m.dt.category[m.dets]]]] = 2
    pred_gt[m.dets[matched]] = m.gts[dtm[matched]]
    pred_iou[m.dets] = m.best_iou
    gt_status = np.full(n_gt, 2, np.int8)
    gt_pred = np.full(n_gt, -1, np.int64)
    gtm = m.gt_det
    ign = m.gt_ignore[a]
    gt_status[m.gts] = np.where(ign, 2, np.where(gtm >= 0, 0, 1))
    has = gtm >= 0
    gt_pred[m.gts[has]] = m.dets[gtm[has]]
    if matched.any():
        pred_iou[m.dets[matched]] = _match_ious(m, dtm, matched, ious)
    return {
        "pred_status": pred_status,
        "pred_gt": pred_gt,
        "pred_iou": pred_iou,
        "gt_status": gt_status,
        "gt_pred": gt_pred,
    }


def _match_ious(
    m: Matching,
    dtm: npt.NDArray[np.int32],
    matched: npt.NDArray[np.bool_],
    ious: Callable[[Any, Any], Any] | None,
) -> npt.NDArray[np.float64]:
    """The IoU of each matched pair, as the matching computed it."""
    from labelport.evaluation.engine import box_iou

    d = m.dets[matched]
    g = m.gts[dtm[matched]]
    if ious is None:
        return box_iou(m.dt.bbox[d], m.gt.bbox[g], m.gt.crowd[g])
    return np.asarray(ious(d, g), np.float64)


def per_category(acc: Accumulated, frame: Frame, status: dict[str, Any]) -> list[dict[str, Any]]:
    m = acc.matching
    p = m.params
    t, a = indices(m)
    last = p.max_dets[-1]
    wanted = sorted(set(m.gt.category[m.gts].tolist()) | set(m.dt.category[m.dets].tolist()))
    if p.categories is not None:
        wanted = [k for k in range(len(frame.category_titles)) if frame.category_titles[k] in p.categories]
    rows = []
    for k in wanted:
        cat = k if p.use_categories else None
        kp = p.iou_type == "keypoints"
        in_pred = m.dt.category == k
        in_gt = m.gt.category == k
        tp = int(np.count_nonzero(in_pred & (status["pred_status"] == 0)))
        fp = int(np.count_nonzero(in_pred & (status["pred_status"] == 1)))
        fn = int(np.count_nonzero(in_gt & (status["gt_status"] == 1)))
        rows.append(
            {
                "category": frame.category_titles[k],
                "category_id": frame.category_ids[k],
                "AP": select(acc, True, max_dets=last, category=cat) if cat is not None else None,
                "AP50": select(acc, True, 0.5, max_dets=last, category=cat) if cat is not None else None,
                "AP75": select(acc, True, 0.75, max_dets=last, category=cat) if cat is not None else None,
                "AP_small": None
                if kp or cat is None
                else select(acc, True, area="small", max_dets=last, category=cat),
                "AP_medium": None
                if cat is None
                else select(acc, True, area="medium", max_dets=last, category=cat),
                "AP_large": None
                if cat is None
                else select(acc, True, area="large", max_dets=last, category=cat),
                "AR100": None if cat is None else select(acc, False, max_dets=last, category=cat),
                "ground_truth": int(np.count_nonzero(in_gt & (status["gt_status"] != 2))),
                "predictions": int(np.count_nonzero(in_pred)),
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "best_f1": _best_f1(m, k, t, a, tp + fn),
            }
        )
    return rows


def _best_f1(m: Matching, k: int, t: int, a: int, npig: int) -> dict[str, Any] | None:
    """The score threshold of highest F1 at IoU 0.5 (ties between equal scores kept together)."""
    sel = np.flatnonzero(m.dt.category[m.dets] == k)
    keep = ~m.dt_ignore[a, t, sel]
    sel = sel[keep]
    if npig == 0:
        return None
    score = m.dt.score[m.dets[sel]]
    order = np.lexsort((m.det_rank[sel], m.dt.image[m.dets[sel]], -score))
    sel, score = sel[order], score[order]
    tp = np.cumsum(m.dt_matched[a, t, sel])
    fp = np.arange(1, len(sel) + 1) - tp
    if not len(sel):
        return {"score": None, "tp": 0, "fp": 0, "fn": npig, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    ends = np.flatnonzero(np.r_[score[1:] != score[:-1], True])
    f1 = 2 * tp[ends] / np.maximum(2 * tp[ends] + fp[ends] + (npig - tp[ends]), 1)
    best = ends[int(np.argmax(f1))]
    tpb, fpb = int(tp[best]), int(fp[best])
    return {
        "score": float(score[best]),
        "tp": tpb,
        "fp": fpb,
        "fn": npig - tpb,
        "precision": tpb / max(tpb + fpb, 1),
        "recall": tpb / npig if npig else 0.0,
        "f1": float(f1.max()),
    }


def pr_curves(acc: Accumulated, frame: Frame) -> dict[str, Any]:
    """Precision at each recall threshold per category, at every IoU threshold, area all, max_dets[-1]."""
    p = acc.params
    _, a = indices(acc.matching)
    out: dict[str, Any] = {
        "recall": list(p.rec_thresholds),
        "iou_thresholds": list(p.iou_thresholds),
        "categories": {},
    }
    if not p.use_categories:
        return out
    for k, title in enumerate(frame.category_titles):
        block = acc.precision[:, :, k, a, -1]
        if (block > -1).any():
            out["categories"][title] = {
                "precision": block.tolist(),
                "scores": acc.scores[:, :, k, a, -1].tolist(),
            }
    return out


def confusion_matrix(
    gt: Side,
    dt: Side,
    params: Params,
    frame: Frame,
    categories: list[int] | None,
    ious: Callable[[Any, Any], Any] | None,
) -> dict[str, Any]:
    """Class-agnostic matching at IoU 0.5 (area all, max_dets[-1]): rows ground truth, columns predictions."""
    area = params.area_ranges[view_indices(params)[0]]
    p = replace(
        params, iou_thresholds=(0.5,), area_labels=("all",), area_ranges=(area,), use_categories=False
    )
    n = len(frame.category_titles)
    agn = match(gt, dt, p, n_images=len(frame.image_keys), n_categories=n, categories=categories, ious=ious)
    matrix = np.zeros((n + 1, n + 1), np.int64)
    dtm, dt_ig = agn.det_gt, agn.dt_ignore[0, 0]
    pred_cat = dt.category[agn.dets]
    ok = (dtm >= 0) & ~dt_ig
    np.add.at(matrix, (gt.category[agn.gts[dtm[ok]]], pred_cat[ok]), 1)
    lone = (dtm < 0) & ~dt_ig
    np.add.at(matrix, (n, pred_cat[lone]), 1)
    missed = (agn.gt_det < 0) & ~agn.gt_ignore[0]
    np.add.at(matrix, (gt.category[agn.gts[missed]], n), 1)
    return {"labels": [*frame.category_titles, "background"], "matrix": matrix.tolist()}


def pack_matches(gt: Branch, dt: Branch, frame: Frame, status: dict[str, Any]) -> memoryview:
    """The object-level matches as one ``.npz`` (no pickles): read back in milliseconds."""
    buffer = io.BytesIO()
    small = {k: v.astype(np.int32) if v.dtype == np.int64 else v for k, v in status.items()}
    np.savez(
        buffer,
        pred_hash=np.asarray(dt.object_hashes, dtype="S"),
        pred_image=dt.side.image.astype(np.int32),
        pred_category=dt.side.category.astype(np.int32),
        pred_score=dt.side.score,
        pred_bbox=dt.side.bbox,
        gt_hash=np.asarray(gt.object_hashes, dtype="S"),
        gt_image=gt.side.image.astype(np.int32),
        gt_category=gt.side.category.astype(np.int32),
        gt_bbox=gt.side.bbox,
        gt_area=gt.side.area,
        image_hash=np.array([k[0] for k in frame.image_keys], dtype="S"),
        image_frame=np.array([k[1] for k in frame.image_keys], np.int64),
        category_title=np.array(frame.category_titles, dtype=str),
        **small,
    )
    return buffer.getbuffer()
