"""An evaluation from the store: read both branches, match, accumulate, keep the answer.

A stored evaluation is returned as it is while both branches are in the state it was computed from
(:meth:`~labelport.store.base.LabelStore.branch_state`); otherwise it is computed again and replaces
it. The columns read from a branch for box evaluations are kept the same way, so that evaluating
several prediction branches against one ground truth reads the ground truth once.

``evaluate(store, project_hash, "model-v2", user="ada")`` returns the evaluation's id and its summary.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from labelport.errors import LabelportError, NotFoundError
from labelport.evaluation.columns import Branch, Frame, load_branch
from labelport.evaluation.diff import compare
from labelport.evaluation.engine import accumulate, match, summarize
from labelport.evaluation.overlap import keypoint_ious, mask_ious, sigmas_for
from labelport.evaluation.parallel import started
from labelport.evaluation.params import Params
from labelport.evaluation.report import (
    KEYPOINT_STAT_NAMES,
    STAT_NAMES,
    confusion_matrix,
    object_status,
    pack_matches,
    per_category,
    pr_curves,
)
from labelport.store.base import LabelStore
from labelport.stored.codec import dumps, loads

#: bump when what an evaluation computes changes, so stored ones are computed again
ENGINE_VERSION = 1
#: the keyword arguments of ``project.evaluate`` after the prediction branch
EVALUATE_OPTIONS = (
    "gt_branch",
    "iou_type",
    "categories",
    "max_dets",
    "iou_thresholds",
    "area_ranges",
    "use_categories",
    "keypoint_sigmas",
)


def evaluate(
    store: LabelStore,
    project_hash: str,
    pred_branch: str,
    *,
    user: str,
    gt_branch: str = "main",
    iou_type: str = "bbox",
    **options: Any,
) -> tuple[int, dict[str, Any]]:
    """Evaluate ``pred_branch`` against ``gt_branch``; returns the stored evaluation's id and summary."""
    params = Params.make(iou_type, **options)
    key = (gt_branch, pred_branch, iou_type, dumps({"v": ENGINE_VERSION, **params.key()}).decode())
    found_states = [store.branch_state(project_hash, b) for b in (gt_branch, pred_branch)]
    for branch, state in zip((gt_branch, pred_branch), found_states, strict=True):
        if state is None:
            raise NotFoundError("branch", branch, key="name")
    states = (str(found_states[0]), str(found_states[1]))
    found = store.find_evaluation(project_hash, key)
    if found is not None and (found.gt_state, found.pred_state) == states:
        summary: dict[str, Any] = loads(found.summary)
        return found.id, {**summary, "evaluation_id": found.id, "stored": True}
    with _no_gc():
        return _evaluate(store, project_hash, pred_branch, gt_branch, iou_type, params, key, states, user)


def stored(
    store: LabelStore, project_hash: str, pred_branch: str, *, gt_branch: str = "main", iou_type: str = "bbox"
) -> dict[str, Any] | None:
    """The stored evaluation of ``pred_branch`` against ``gt_branch`` with COCO's default parameters,
    while both branches are as it was computed from; None otherwise (nothing is computed)."""
    params = (
        Params.make(iou_type) if iou_type == "keypoints" else Params.make(iou_type, max_dets=[1, 10, 100])
    )
    key = (gt_branch, pred_branch, iou_type, dumps({"v": ENGINE_VERSION, **params.key()}).decode())
    states = tuple(str(store.branch_state(project_hash, b)) for b in (gt_branch, pred_branch))
    found = store.find_evaluation(project_hash, key)
    if found is None or (found.gt_state, found.pred_state) != states:
        return None
    summary: dict[str, Any] = loads(found.summary)
    return {**summary, "evaluation_id": found.id, "stored": True}


@contextmanager
def _no_gc() -> Iterator[None]:
    """The garbage collector off while millions of small objects are made (it would scan them again and again)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _evaluate(
    store: LabelStore,
    project_hash: str,
    pred_branch: str,
    gt_branch: str,
    iou_type: str,
    params: Params,
    key: tuple[str, str, str, str],
    states: tuple[str, str],
    user: str,
) -> tuple[int, dict[str, Any]]:
    start = time.perf_counter()
    path = getattr(store, "path", None)
    if isinstance(path, str) and path != ":memory:":
        # the ground truth read by a child process (its own connection to the file, its own frame)
        # while this one reads the predictions; if the two frames differ (the store changed in
        # between), the ground truth is read again here
        from labelport.store.sqlite import SqliteStore

        def read_gt() -> tuple[int, Branch]:
            own = SqliteStore(path)
            try:
                own_frame = _frame(own, project_hash)
                branch = _branch(own, project_hash, gt_branch, own_frame, iou_type, prediction=False)
                return own_frame.signature(), branch
            finally:
                own.close()

        wait_gt: Callable[[], tuple[int, Branch]] | None = started(read_gt)
    else:
        wait_gt = None
    frame = _frame(store, project_hash)
    dt = _branch(store, project_hash, pred_branch, frame, iou_type, prediction=True)
    signature, gt = wait_gt() if wait_gt is not None else (None, None)
    if gt is None or signature != frame.signature():
        gt = _branch(store, project_hash, gt_branch, frame, iou_type, prediction=False)
    summary, matches = compute(gt, dt, frame, params)
    summary |= {
        "project_hash": project_hash,
        "gt_branch": gt_branch,
        "pred_branch": pred_branch,
        "seconds": round(time.perf_counter() - start, 3),
    }
    evaluation_id = store.save_evaluation(project_hash, key, states, user, dumps(summary), matches)
    return evaluation_id, {**summary, "evaluation_id": evaluation_id, "stored": False}


def _check_branches(store: LabelStore, project_hash: str, *names: str) -> None:
    branches = store.list_branches(project_hash)
    for branch in names:
        if branch not in branches:
            raise NotFoundError("branch", branch, key="name")


def diff_branches(
    store: LabelStore, project_hash: str, a: str, b: str, *, iou: float = 0.5
) -> dict[str, Any]:
    """Branch ``a`` against branch ``b``: matched, other class, only in a, only in b (boxes, IoU >= ``iou``)."""
    if not 0 <= iou <= 1:
        raise LabelportError(f"iou must be a number from 0 to 1, not {iou!r}.")
    _check_branches(store, project_hash, a, b)
    frame = _frame(store, project_hash)
    side_a = load_branch(store.iter_evaluation_rows(project_hash, a), frame, "bbox", False).side
    side_b = load_branch(store.iter_evaluation_rows(project_hash, b), frame, "bbox", False).side
    out = compare(side_a, side_b, frame.category_titles, n_images=len(frame.image_keys), iou=iou)
    return {"project_hash": project_hash, "a": a, "b": b, **out}


def compute(gt: Branch, dt: Branch, frame: Frame, params: Params) -> tuple[dict[str, Any], memoryview]:
    """COCOeval over two branches' columns: the summary (JSON-ready) and the packed object matches."""
    cats = None
    if params.categories is not None:
        titles = {t: i for i, t in enumerate(frame.category_titles)}
        unknown = [c for c in params.categories if c not in titles]
        if unknown:
            raise LabelportError(f"category {unknown[0]!r} is not in the project's ontology.")
        cats = sorted(titles[c] for c in params.categories)
    ious = None
    if params.iou_type == "segm":
        ious = mask_ious(gt.side, dt.side)
    elif params.iou_type == "keypoints":
        ious = keypoint_ious(gt.side, dt.side, sigmas_for(gt.side, dt.side, params.keypoint_sigmas))
    n_images, n_cats = len(frame.image_keys), len(frame.category_titles)
    m = match(gt.side, dt.side, params, n_images=n_images, n_categories=n_cats, categories=cats, ious=ious)
    # the class-agnostic matching of the confusion matrix in a child, while this process accumulates
    wait_confusion = started(
        lambda: confusion_matrix(gt.side, dt.side, params, frame, cats, ious),
        allowed=params.iou_type == "bbox",
    )
    acc = accumulate(m)
    status = object_status(m, len(gt.side), len(dt.side), ious)
    summary: dict[str, Any] = {
        "iou_type": params.iou_type,
        "params": params.key(),
        "stats": summarize(acc),
        "stat_names": list(KEYPOINT_STAT_NAMES if params.iou_type == "keypoints" else STAT_NAMES),
        "per_category": per_category(acc, frame, status),
        "pr_curves": pr_curves(acc, frame),
        "counts": {
            "images": n_images,
            "ground_truth": len(gt.side),
            "predictions": len(dt.side),
            "evaluated_predictions": len(m.dets),
        },
    }
    summary["confusion"] = wait_confusion()
    return summary, pack_matches(gt, dt, frame, status)


def _frame(store: LabelStore, project_hash: str) -> Frame:
    project = store.get_project(project_hash)
    return Frame.make(
        store.evaluation_units(project_hash), store.get_ontology(project.ontology_hash).structure
    )


def _branch(
    store: LabelStore, project_hash: str, branch: str, frame: Frame, kind: str, *, prediction: bool
) -> Branch:
    return load_branch(store.iter_evaluation_rows(project_hash, branch), frame, kind, prediction)
