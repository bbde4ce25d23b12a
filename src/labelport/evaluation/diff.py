"""Two label branches compared object by object (a labeller's and a reviewer's), with COCOeval's matching.

Objects of one category are matched first (greedy by IoU, as COCOeval matches a detection); what is
left is then matched across categories: those pairs are the same object labelled with another class.

>>> import numpy as np
>>> from labelport.evaluation.engine import Side
>>> a = Side.make(image=[0, 0], category=[0, 1], bbox=[[0, 0, 10, 10], [50, 50, 10, 10]], area=[100, 100])
>>> b = Side.make(image=[0], category=[0], bbox=[[50, 50, 10, 10]], area=[100])
>>> compare(a, b, ["cat", "dog"], n_images=1)["totals"]
{'matched': 0, 'other_class': 1, 'only_a': 1, 'only_b': 0}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from labelport.evaluation.engine import Side, match
from labelport.evaluation.params import Params


def _subset(side: Side, keep: Any) -> Side:
    n = len(side.image[keep])
    return Side(
        side.image[keep],
        side.category[keep],
        side.bbox[keep],
        side.area[keep],
        side.score[keep],
        np.zeros(n, bool),
        np.zeros(n, bool),
    )


def _pairs(a: Side, b: Side, iou: float, n_images: int, n_categories: int, by_class: bool) -> tuple[Any, Any]:
    """(a index, b index) of each matched pair."""
    big = max(len(a), len(b), 1)
    params = replace(
        Params.make("bbox", iou_thresholds=[iou], max_dets=[big], area_ranges={"all": (0.0, float("inf"))}),
        use_categories=by_class,
    )
    m = match(a, b, params, n_images=n_images, n_categories=n_categories)
    dtm = m.det_gt
    ok = dtm >= 0
    return m.gts[dtm[ok]], m.dets[ok]


def compare(a: Side, b: Side, titles: list[str], *, n_images: int, iou: float = 0.5) -> dict[str, Any]:
    """matched, other_class, only_a, only_b: in total and per category (a's category; b's for only_b)."""
    a, b = _subset(a, np.ones(len(a), bool)), _subset(b, np.ones(len(b), bool))
    b = replace(b, score=np.ones(len(b)))
    n_cat = len(titles)
    same_a, same_b = _pairs(a, b, iou, n_images, n_cat, True)
    left_a = np.setdiff1d(np.arange(len(a)), same_a)
    left_b = np.setdiff1d(np.arange(len(b)), same_b)
    other_a, other_b = _pairs(_subset(a, left_a), _subset(b, left_b), iou, n_images, n_cat, False)
    other_a, other_b = left_a[other_a], left_b[other_b]
    only_a = np.setdiff1d(left_a, other_a)
    only_b = np.setdiff1d(left_b, other_b)
    rows: dict[int, Counter[str]] = {k: Counter() for k in range(n_cat)}
    for k in a.category[same_a].tolist():
        rows[k]["matched"] += 1
    for k in a.category[other_a].tolist():
        rows[k]["other_class"] += 1
    for k in a.category[only_a].tolist():
        rows[k]["only_a"] += 1
    for k in b.category[only_b].tolist():
        rows[k]["only_b"] += 1
    swaps = Counter(zip(a.category[other_a].tolist(), b.category[other_b].tolist(), strict=True))
    names = ("matched", "other_class", "only_a", "only_b")
    return {
        "iou": iou,
        "totals": {n: int(sum(r[n] for r in rows.values())) for n in names},
        "per_category": [
            {"category": titles[k], **{n: int(r[n]) for n in names}}
            for k, r in rows.items()
            if sum(r.values())
        ],
        "other_class_pairs": [
            {"a": titles[ka], "b": titles[kb], "count": n} for (ka, kb), n in swaps.most_common()
        ],
    }
