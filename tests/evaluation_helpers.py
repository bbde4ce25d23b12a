"""What the evaluation tests share: a project holding a COCO file and a results list, and pycocotools' answer.

The reference is always computed here, from the same data, by pycocotools' own ``COCOeval``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from labelport import Project, UserClient
from labelport.evaluation.result import Evaluation

TOLERANCE = 1e-12


def project_with(
    client: UserClient, gt: dict[str, Any] | Path, results: list[dict[str, Any]], *, title: str = "eval"
) -> Project:
    """A project made from ``gt``'s categories, its images and annotations on main, ``results`` on ``pred``."""
    project = client.create_project(title, from_coco=gt)
    project.import_coco(gt, create_missing_data_units=True)
    if results:
        project.import_coco(copy.deepcopy(results), branch_name="pred")
    return project


def coco_eval(
    gt: dict[str, Any] | Path,
    results: list[dict[str, Any]],
    iou_type: str,
    *,
    max_dets: list[int] | None = None,
    area_ranges: dict[str, list[float]] | None = None,
    iou_thresholds: list[float] | None = None,
    use_categories: bool = True,
    sigmas: list[float] | None = None,
    tmp: Path | None = None,
) -> COCOeval:
    """pycocotools' evaluation of the same pair, with the same parameters."""
    with contextlib.redirect_stdout(io.StringIO()):
        if isinstance(gt, Path):
            coco = COCO(str(gt))
        else:
            coco = COCO()
            coco.dataset = copy.deepcopy(gt)
            coco.createIndex()
        dets = coco.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco, dets, iou_type)
        if max_dets is not None:
            ev.params.maxDets = list(max_dets)
        if area_ranges is not None:
            ev.params.areaRng = [list(v) for v in area_ranges.values()]
            ev.params.areaRngLbl = list(area_ranges)
        if iou_thresholds is not None:
            ev.params.iouThrs = np.array(iou_thresholds)
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.array(sigmas)
        ev.params.useCats = int(use_categories)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def category_ap(ev: COCOeval, k: int) -> float:
    """pycocotools' AP of category position k (area all, the last maxDets), as ``summarize`` averages."""
    s = ev.eval["precision"][:, :, k, 0, -1]
    kept = s[s > -1]
    return -1.0 if len(kept) == 0 else float(np.mean(kept))


def assert_same(ours: Evaluation, ref: COCOeval, *, per_category: bool = True) -> None:
    """Every stat, and each category's AP, within 1e-12 of pycocotools'."""
    stats = np.array(ours.stats)
    assert stats.shape == ref.stats.shape, (stats, ref.stats)
    assert np.max(np.abs(stats - ref.stats)) <= TOLERANCE, (stats, ref.stats)
    if per_category and ref.params.useCats:
        ids = list(ref.params.catIds)
        for row in ours.per_category:
            k = ids.index(row["category_id"])
            assert abs(row["AP"] - category_ap(ref, k)) <= TOLERANCE, (row["category"], row["AP"])


def rle_of_polygons(rings: list[list[float]], height: int, width: int) -> dict[str, Any]:
    rle = mask_utils.merge(mask_utils.frPyObjects(rings, height, width))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


def rle_compressed(rle: dict[str, Any]) -> dict[str, Any]:
    h, w = rle["size"]
    out = mask_utils.frPyObjects(rle, h, w) if isinstance(rle["counts"], list) else rle
    counts = out["counts"]
    return {"size": [h, w], "counts": counts.decode() if isinstance(counts, bytes) else counts}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
