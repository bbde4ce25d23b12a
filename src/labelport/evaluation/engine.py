"""COCOeval's matching and accumulation over columns of numbers, for every image at once.

pycocotools loops over each (image, category, area range) in Python; here the greedy matching runs
once per detection *rank* over all groups together (two detections of one rank are never in the same
group, so they never compete for a ground-truth object), as numpy operations on the candidate pairs.
The order of every step is COCOeval's: detections by score with its stable sort, ground truth with
ignored objects last, ties in IoU going to the later ground-truth object, crowd regions matched any
number of times. The results equal pycocotools' to the last bit on the tests' files.

>>> import numpy as np
>>> from labelport.evaluation.params import Params
>>> box = np.array([[0.0, 0.0, 10.0, 10.0]])
>>> gt = Side.make(image=[0], category=[0], bbox=box, area=[100.0])
>>> dt = Side.make(image=[0], category=[0], bbox=box, area=[100.0], score=[0.9])
>>> m = match(gt, dt, Params.make("bbox"), n_images=1, n_categories=1)
>>> round(float(summarize(accumulate(m))[0]), 3)
1.0
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from labelport.evaluation.params import Params

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: most candidate pairs built at once (bounds the memory of a train-scale evaluation)
PAIR_CHUNK = 1_000_000


@dataclass
class Side:
    """One branch as columns, in the order its objects were stored (a COCO file's order).

    ``image`` and ``category`` are positions in the sorted image and category ids; ``ignore`` is
    COCOeval's own flag (crowd, or a keypoint object without visible keypoints); ``geometry`` holds
    what ``segm`` and ``keypoints`` need (RLEs, keypoint arrays), per object.
    """

    image: Ints
    category: Ints
    bbox: Floats
    area: Floats
    score: Floats
    crowd: Bools
    ignore: Bools
    geometry: list[Any] = field(default_factory=list)

    @classmethod
    def make(
        cls,
        *,
        image: Sequence[int] | Ints,
        category: Sequence[int] | Ints,
        bbox: Any,
        area: Sequence[float] | Floats,
        score: Sequence[float] | Floats | None = None,
        crowd: Sequence[bool] | Bools | None = None,
        ignore: Sequence[bool] | Bools | None = None,
        geometry: list[Any] | None = None,
    ) -> Side:
        n = len(image)
        crowd_a = np.zeros(n, bool) if crowd is None else np.asarray(crowd, bool)
        return cls(
            np.asarray(image, np.int64),
            np.asarray(category, np.int64),
            np.asarray(bbox, np.float64).reshape(n, 4),
            np.asarray(area, np.float64),
            np.ones(n) if score is None else np.asarray(score, np.float64),
            crowd_a,
            crowd_a.copy() if ignore is None else np.asarray(ignore, bool) | crowd_a,
            [] if geometry is None else geometry,
        )

    def __len__(self) -> int:
        return len(self.image)

    def take(self, order: Ints) -> Side:
        """The same objects in another order."""
        geometry = [self.geometry[i] for i in order.tolist()] if self.geometry else []
        return Side(
            self.image[order], self.category[order], self.bbox[order], self.area[order], self.score[order],
            self.crowd[order], self.ignore[order], geometry,
        )  # fmt: skip


@dataclass
class Matching:
    """COCOeval's ``evalImgs`` for every group, as arrays over the evaluated objects.

    ``dets`` are indices into the prediction side (each group's detections by score, at most
    ``max_dets[-1]``), ``gts`` into the ground-truth side (by group, COCO's order). ``dt_matched[a, t, i]``
    says whether ``dets[i]`` was matched at area range a and IoU threshold t. At the object-level view
    (``view``: IoU 0.5 and area ``all`` when present), ``det_gt[i]`` is the gt *position* in ``gts``
    matched to ``dets[i]`` (or -1) and ``gt_det[j]`` the det position matched to ``gts[j]`` (or -1).
    """

    params: Params
    n_categories: int
    gt: Side
    dt: Side
    gts: Ints
    gt_group: Ints
    dets: Ints
    det_group: Ints
    det_rank: Ints
    gt_ignore: Bools  # (A, n gts)
    dt_matched: Bools  # (A, T, n dets)
    dt_ignore: Bools  # (A, T, n dets)
    view: tuple[int, int]  # (area index, threshold index) of det_gt and gt_det
    det_gt: npt.NDArray[np.int32]
    gt_det: npt.NDArray[np.int32]
    best_iou: Floats  # per det position: its highest IoU with any gt of its group
    gt_category: Ints = field(default_factory=lambda: np.zeros(0, np.int64))


def _groups(side: Side, use_categories: bool, n_categories: int) -> Ints:
    if use_categories:
        return side.image * n_categories + side.category
    return side.image.copy()


def _order(
    gt: Side, dt: Side, params: Params, n_categories: int, categories: Sequence[int] | None
) -> tuple[Ints, Ints, Ints, Ints, Ints]:
    """COCOeval's order: gts by group (then category, when groups are images, then as stored); dets by
    group, score descending (stable), then as COCOeval concatenates them, at most ``max_dets[-1]``
    per group. Returns (gts, their groups, dets, their groups, each det's rank in its group)."""
    wanted = np.ones(n_categories, bool)
    if categories is not None:
        wanted[:] = False
        wanted[np.asarray(categories, np.int64)] = True
    use = params.use_categories
    g_keep = np.flatnonzero(wanted[gt.category]) if len(gt) else np.zeros(0, np.int64)
    d_keep = np.flatnonzero(wanted[dt.category]) if len(dt) else np.zeros(0, np.int64)
    g_group_all = _groups(gt, use, n_categories)[g_keep]
    d_group_all = _groups(dt, use, n_categories)[d_keep]
    g_order = np.lexsort((g_keep, gt.category[g_keep], g_group_all))
    d_order = np.lexsort((d_keep, dt.category[d_keep], -dt.score[d_keep], d_group_all))
    dets, det_group = d_keep[d_order], d_group_all[d_order]
    starts = (
        np.flatnonzero(np.r_[True, det_group[1:] != det_group[:-1]]) if len(dets) else np.zeros(0, np.int64)
    )
    rank = np.arange(len(dets)) - np.repeat(starts, np.diff(np.r_[starts, len(dets)]))
    top = rank < params.max_dets[-1]
    return g_keep[g_order], g_group_all[g_order], dets[top], det_group[top], rank[top]


def match(
    gt: Side,
    dt: Side,
    params: Params,
    *,
    n_images: int,
    n_categories: int,
    categories: Sequence[int] | None = None,
    ious: Callable[[Ints, Ints], Floats] | None = None,
) -> Matching:
    """COCOeval's ``evaluate()``: match the detections of each group to its ground truth.

    ``categories`` are the category positions evaluated (default all); ``ious(dt_index, gt_index)``
    gives the IoU of each pair of object indices (default: boxes, as pycocotools computes them).
    """
    gts, gt_group, dets, det_group, rank = _order(gt, dt, params, n_categories, categories)
    lo = np.array([r[0] for r in params.area_ranges])
    hi = np.array([r[1] for r in params.area_ranges])
    g_area = gt.area[gts]
    gt_ignore = gt.ignore[gts][None, :] | (g_area[None, :] < lo[:, None]) | (g_area[None, :] > hi[:, None])

    pd, pg, piou, best = _pairs(gts, gt_group, dets, det_group, ious or _box_ious(gt, dt), params)
    A, T = len(params.area_ranges), len(params.iou_thresholds)
    view = view_indices(params)
    thresholds = np.minimum(params.ious, 1 - 1e-10)
    crowd = gt.crowd[gts]
    d_area = dt.area[dets]
    dt_matched = np.zeros((A, T, len(dets)), bool)
    dt_ignore = np.zeros((A, T, len(dets)), bool)
    det_gt = gt_det = np.zeros(0, np.int32)
    for a in range(A):
        # int positions per area range only while it is matched: (A, T, n) of them would not fit in 1 GiB
        dtm = np.full((T, len(dets)), -1, np.int32)
        gtm = np.full((T, len(gts)), -1, np.int32)
        _greedy(pd, pg, piou, rank, gt_ignore[a], crowd, thresholds, dtm, gtm)
        dt_matched[a] = dtm >= 0
        taken = gt_ignore[a][np.maximum(dtm, 0)] if len(gts) else np.zeros((T, len(dets)), bool)
        out_of_range = (d_area < params.area_ranges[a][0]) | (d_area > params.area_ranges[a][1])
        dt_ignore[a] = np.where(dt_matched[a], taken, out_of_range[None, :])
        if a == view[0]:
            det_gt, gt_det = dtm[view[1]].copy(), gtm[view[1]].copy()
        del dtm, gtm, taken
    return Matching(
        params,
        n_categories,
        gt,
        dt,
        gts,
        gt_group,
        dets,
        det_group,
        rank,
        gt_ignore,
        dt_matched,
        dt_ignore,
        view,
        det_gt,
        gt_det,
        best,
        gt.category[gts],
    )


def view_indices(params: Params) -> tuple[int, int]:
    """(area index, threshold index) of the object-level view: area ``all`` and IoU 0.5 when present."""
    t = [i for i, v in enumerate(params.iou_thresholds) if v == 0.5]
    a = [i for i, label in enumerate(params.area_labels) if label == "all"]
    return (a[0] if a else 0), (t[0] if t else 0)


def _box_ious(gt: Side, dt: Side) -> Callable[[Ints, Ints], Floats]:
    def ious(d: Ints, g: Ints) -> Floats:
        return box_iou(dt.bbox[d], gt.bbox[g], gt.crowd[g])

    return ious


def box_iou(d: Floats, g: Floats, crowd: Bools) -> Floats:
    """pycocotools' ``bbIou`` for pairs of boxes ``[x, y, w, h]``, operation for operation.

    >>> box_iou(np.array([[0.0, 0, 2, 2]]), np.array([[1.0, 0, 2, 2]]), np.array([False]))
    array([0.33333333])
    """
    w = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
    inter = w * h
    da = d[:, 2] * d[:, 3]
    union = np.where(crowd, da, (da + g[:, 2] * g[:, 3]) - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / union
    return np.where((w > 0) & (h > 0), out, 0.0)


def _pairs(
    gts: Ints,
    gt_group: Ints,
    dets: Ints,
    det_group: Ints,
    ious: Callable[[Ints, Ints], Floats],
    params: Params,
) -> tuple[Ints, Ints, Floats, Floats]:
    """Every (det position, gt position) of one group whose IoU could match, in chunks; and each det's best IoU."""
    best = np.zeros(len(dets))
    if not len(gts) or not len(dets):
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0), best
    g_first = np.searchsorted(gt_group, det_group, side="left")
    g_count = np.searchsorted(gt_group, det_group, side="right") - g_first
    lowest = min(min(params.iou_thresholds), 1 - 1e-10)
    cum = np.cumsum(g_count)
    out_d, out_g, out_i = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    start = 0
    while start < len(dets):
        base = cum[start - 1] if start else 0
        stop = max(int(np.searchsorted(cum, base + PAIR_CHUNK, side="right")), start + 1)
        counts = g_count[start:stop]
        total = int(counts.sum())
        if total:
            d_pos = np.repeat(np.arange(start, stop), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            g_pos = g_first[d_pos] + offsets
            iou = ious(dets[d_pos], gts[g_pos])
            nonempty = counts > 0
            seg = (np.cumsum(counts) - counts)[nonempty]
            best[start:stop][nonempty] = np.maximum.reduceat(iou, seg)
            keep = iou >= lowest
            out_d.append(d_pos[keep])
            out_g.append(g_pos[keep])
            out_i.append(iou[keep])
        start = stop
    return np.concatenate(out_d), np.concatenate(out_g), np.concatenate(out_i), best


def _greedy(
    pd: Ints,
    pg: Ints,
    piou: Floats,
    rank: Ints,
    ignore: Bools,
    crowd: Bools,
    thresholds: Floats,
    dtm: npt.NDArray[np.int32],
    gtm: npt.NDArray[np.int32],
) -> None:
    """COCOeval's greedy loop for one area range, all IoU thresholds and groups at once, rank by rank.

    For a detection, COCOeval takes the unmatched (or crowd) gt of highest IoU, the later one on a
    tie, preferring any not ignored to an ignored one: the last pair in the order (det, not ignored,
    IoU, gt position) among those still available and over the threshold. A pair whose detection and
    ground truth have no other candidate is matched wherever its IoU reaches the threshold; only the
    rest go rank by rank.
    """
    if not len(pd):
        return
    col = thresholds[:, None]
    alone = (np.bincount(pd)[pd] == 1) & (np.bincount(pg)[pg] == 1)
    d1, g1 = pd[alone], pg[alone]
    t_idx, p_idx = np.nonzero(piou[alone][None, :] >= col)
    dtm[t_idx, d1[p_idx]] = g1[p_idx]
    gtm[t_idx, g1[p_idx]] = d1[p_idx]
    rest = ~alone
    pd, pg, piou = pd[rest], pg[rest], piou[rest]
    r = rank[pd]
    order = np.lexsort((pg, piou, ~ignore[pg], pd, r))
    pd, pg, piou, r = pd[order], pg[order], piou[order], r[order]
    bounds = np.flatnonzero(np.r_[True, r[1:] != r[:-1], True]) if len(pd) else np.zeros(1, np.int64)
    for s, e in itertools.pairwise(bounds):
        bg, bi, bd = pg[s:e], piou[s:e], pd[s:e]
        seg = np.flatnonzero(np.r_[True, bd[1:] != bd[:-1]])
        valid = ((gtm[:, bg] < 0) | crowd[bg][None, :]) & (bi[None, :] >= col)
        pos = np.where(valid, np.arange(e - s)[None, :], -1)
        chosen = np.maximum.reduceat(pos, seg, axis=1)
        t_idx, s_idx = np.nonzero(chosen >= seg[None, :])
        pair = chosen[t_idx, s_idx]
        dtm[t_idx, bd[seg[s_idx]]] = bg[pair]
        gtm[t_idx, bg[pair]] = bd[seg[s_idx]]


@dataclass
class Accumulated:
    """COCOeval's ``eval``: precision (T, R, K, A, M), recall (T, K, A, M), scores, and the counts."""

    params: Params
    precision: Floats
    recall: Floats
    scores: Floats
    matching: Matching


def accumulate(m: Matching) -> Accumulated:
    """COCOeval's ``accumulate()``: precision at each recall threshold, per category, area and maxDets.

    Precision (and its scores) is computed at the last maxDets only, where COCOeval's stats and the
    curves read it; below it only recall is (the AR1 and AR10 of the stats), and precision stays -1.
    """
    p = m.params
    T, R, A, M = len(p.iou_thresholds), len(p.rec_thresholds), len(p.area_ranges), len(p.max_dets)
    K = m.n_categories if p.use_categories else 1
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    scores = -np.ones((T, R, K, A, M))
    recs = p.recs
    d_cat = m.dt.category[m.dets] if p.use_categories else np.zeros(len(m.dets), np.int64)
    g_cat = m.gt_category if p.use_categories else np.zeros(len(m.gts), np.int64)
    d_score = m.dt.score[m.dets]
    d_image = m.dt.image[m.dets]
    by_cat = np.lexsort((m.det_rank, d_image, -d_score, d_cat))
    cat_bounds = np.searchsorted(d_cat[by_cat], np.arange(K + 1))
    evaluated = np.zeros(K, bool)
    evaluated[np.unique(d_cat)] = True
    evaluated[np.unique(g_cat)] = True
    for k in range(K):
        if not evaluated[k]:
            continue
        idx = by_cat[cat_bounds[k] : cat_bounds[k + 1]]
        gt_k = g_cat == k
        ranks = m.det_rank[idx]
        scores_k = d_score[idx]
        dtm_k = m.dt_matched[:, :, idx]
        ig_k = m.dt_ignore[:, :, idx]
        tps_k = dtm_k & ~ig_k
        fps_k = ~dtm_k & ~ig_k
        for a in range(A):
            npig = int(np.count_nonzero(~m.gt_ignore[a][gt_k]))
            if npig == 0:
                continue
            # searchsorted(rc, recs) without a loop over thresholds: rc = tp / npig rises with the
            # integer tp, so "rc >= r" is "tp >= need[r]", the least count whose quotient reaches r
            need = np.searchsorted(np.arange(npig + 1) / npig, recs, side="left")
            for mi, max_det in enumerate(p.max_dets):
                sel = ranks < max_det
                nd = int(np.count_nonzero(sel))
                if not nd:
                    recall[:, k, a, mi] = 0
                    precision[:, :, k, a, mi] = 0
                    scores[:, :, k, a, mi] = 0
                    continue
                if max_det != p.max_dets[-1]:
                    # below the last maxDets COCOeval's stats read recall only (AR1, AR10): its last count.
                    # (A maxDets equal to the last one, as in (1, 1, 1), is read for precision too.)
                    recall[:, k, a, mi] = np.count_nonzero(tps_k[a][:, sel], axis=1) / npig
                    continue
                tp_int = np.cumsum(tps_k[a][:, sel], axis=1)
                tp_sum = tp_int.astype(dtype=float)
                fp_sum = np.cumsum(fps_k[a][:, sel], axis=1).astype(dtype=float)
                rc = tp_sum / npig
                pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
                recall[:, k, a, mi] = rc[:, -1]
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                offset = (np.arange(T) * (npig + 2))[:, None]
                found = np.searchsorted(
                    (tp_int + offset).ravel(), (need[None, :] + offset).ravel(), side="left"
                )
                local = found.reshape(T, R) - np.arange(T)[:, None] * nd
                ok = local < nd
                rows = np.broadcast_to(np.arange(T)[:, None], (T, R))
                at = np.where(ok, local, 0)
                precision[:, :, k, a, mi] = np.where(ok, pr[rows, at], 0.0)
                scores[:, :, k, a, mi] = np.where(ok, scores_k[sel][at], 0.0)
    return Accumulated(p, precision, recall, scores, m)


def _mean(s: Floats) -> float:
    kept = s[s > -1]
    return -1.0 if len(kept) == 0 else float(np.mean(kept))


def select(
    acc: Accumulated,
    ap: bool,
    iou: float | None = None,
    area: str = "all",
    max_dets: int = 100,
    category: int | None = None,
) -> float:
    """COCOeval's ``_summarize``: the mean precision (or recall) over a slice, -1 when it is empty."""
    p = acc.params
    aind = [i for i, label in enumerate(p.area_labels) if label == area]
    mind = [i for i, m in enumerate(p.max_dets) if m == max_dets]
    s = acc.precision if ap else acc.recall
    if iou is not None:
        s = s[np.where(iou == p.ious)[0]]
    if category is not None:
        s = s[:, :, [category]] if ap else s[:, [category]]
    s = s[:, :, :, aind, mind] if ap else s[:, :, aind, mind]
    return _mean(s)


def summarize(acc: Accumulated) -> list[float]:
    """COCOeval's ``stats``: 12 numbers (10 for keypoints), in its order."""
    p = acc.params
    if p.iou_type == "keypoints":
        return [
            select(acc, True, max_dets=20),
            select(acc, True, 0.5, max_dets=20),
            select(acc, True, 0.75, max_dets=20),
            select(acc, True, area="medium", max_dets=20),
            select(acc, True, area="large", max_dets=20),
            select(acc, False, max_dets=20),
            select(acc, False, 0.5, max_dets=20),
            select(acc, False, 0.75, max_dets=20),
            select(acc, False, area="medium", max_dets=20),
            select(acc, False, area="large", max_dets=20),
        ]
    md = p.max_dets
    last = md[min(2, len(md) - 1)]
    return [
        select(acc, True),
        select(acc, True, 0.5, max_dets=last),
        select(acc, True, 0.75, max_dets=last),
        select(acc, True, area="small", max_dets=last),
        select(acc, True, area="medium", max_dets=last),
        select(acc, True, area="large", max_dets=last),
        select(acc, False, max_dets=md[0]),
        select(acc, False, max_dets=md[min(1, len(md) - 1)]),
        select(acc, False, max_dets=last),
        select(acc, False, area="small", max_dets=last),
        select(acc, False, area="medium", max_dets=last),
        select(acc, False, area="large", max_dets=last),
    ]
