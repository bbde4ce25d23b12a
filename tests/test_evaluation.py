"""``project.evaluate`` against pycocotools' ``COCOeval``, computed here from the same files, to 1e-12.

Real COCO files (bbox on val2014, keypoints), segmentations derived from ground truth, the edge cases
pycocotools users trip on, and Hypothesis-generated cases for all three kinds.
"""

from __future__ import annotations

import copy
import random
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation_helpers import (
    assert_same,
    coco_eval,
    load,
    project_with,
    rle_compressed,
    rle_of_polygons,
)
from labelport import BoundingBox, LabelportError, ObjectInstance, UserClient

VAL = Path("coco-val2014-100/instances_val2014_100.json")
FAKE_BBOX = Path("predictions/instances_val2014_fakebbox100_results.json")
KEYPOINTS = Path("keypoints/person_keypoints_gt.json")


# -- real files ------------------------------------------------------------------------------------


def test_bbox_on_val2014_equals_pycocotools(client: UserClient, shared_fixtures: Path) -> None:
    gt, results = shared_fixtures / VAL, load(shared_fixtures / FAKE_BBOX)
    project = project_with(client, gt, results)
    ours = project.evaluate("pred")
    assert_same(ours, coco_eval(gt, results, "bbox"))
    assert len(ours.stats) == 12 and not ours.stored
    counts = {r["category"]: r for r in ours.per_category}
    assert sum(r["tp"] + r["fn"] for r in counts.values()) == sum(r["ground_truth"] for r in counts.values())


def test_bbox_with_other_parameters_equals_pycocotools(client: UserClient, shared_fixtures: Path) -> None:
    gt, results = shared_fixtures / VAL, load(shared_fixtures / FAKE_BBOX)
    project = project_with(client, gt, results)
    areas = {
        "all": [0.0, 1e10],
        "tiny": [0.0, 16.0**2],
        "small": [16.0**2, 64.0**2],
        "large": [64.0**2, 1e10],
    }
    for kw in (
        {"max_dets": [1, 3, 5]},
        {"area_ranges": areas},
        {"iou_thresholds": [0.3, 0.5, 0.75]},
        {"use_categories": False},
    ):
        ref = coco_eval(gt, results, "bbox", **kw)  # type: ignore[arg-type]
        assert_same(project.evaluate("pred", **kw), ref)  # type: ignore[arg-type]


def _keypoint_results(gt: dict[str, Any], seed: int = 3) -> list[dict[str, Any]]:
    """Jittered ground-truth keypoints with a confidence (any number) where COCO has a visibility."""
    rng = random.Random(seed)
    out = []
    for a in gt["annotations"]:
        if rng.random() < 0.15:
            continue
        x, y, w, h = a["bbox"]
        kp = a["keypoints"]
        points = []
        for i in range(0, len(kp), 3):
            px = kp[i] if kp[i + 2] else x + rng.uniform(0, w)
            py = kp[i + 1] if kp[i + 2] else y + rng.uniform(0, h)
            points += [
                round(px + rng.gauss(0, 4), 2),
                round(py + rng.gauss(0, 4), 2),
                round(rng.uniform(0, 1.7), 3),
            ]
        out.append(
            {
                "image_id": a["image_id"],
                "category_id": 1,
                "keypoints": points,
                "score": round(rng.random(), 3),
            }
        )
    image = gt["images"][0]
    for _ in range(3):
        points = []
        for _ in range(17):
            points += [round(rng.uniform(0, image["width"]), 1), round(rng.uniform(0, image["height"]), 1), 1]
        out.append(
            {"image_id": image["id"], "category_id": 1, "keypoints": points, "score": round(rng.random(), 3)}
        )
    return out


def test_keypoints_equal_pycocotools_and_keep_confidences(client: UserClient, shared_fixtures: Path) -> None:
    gt_path = shared_fixtures / KEYPOINTS
    results = _keypoint_results(load(gt_path))
    assert any(
        p[2] not in (0, 1, 2) for p in [r["keypoints"] for r in results]
    )  # confidences, not visibility
    project = project_with(client, gt_path, results)
    ours = project.evaluate("pred", iou_type="keypoints")
    assert len(ours.stats) == 10
    assert all(p["iou"] >= 0.5 for p in ours.matches()["predictions"] if p["status"] == "tp")
    assert_same(ours, coco_eval(gt_path, results, "keypoints"))
    kept = project.export_coco_labels(branch_name="pred", results=True)
    assert sorted(tuple(r["keypoints"]) for r in kept) == sorted(tuple(r["keypoints"]) for r in results)


def test_keypoints_need_sigmas_beyond_17_points(client: UserClient) -> None:
    gt = _small_keypoint_file(5)
    results = [{"image_id": 1, "category_id": 1, "keypoints": [12, 12, 0.9] * 5, "score": 0.8}]
    project = project_with(client, gt, results)
    with pytest.raises(LabelportError, match="keypoint counts are 5, not COCO's 17"):
        project.evaluate("pred", iou_type="keypoints")
    sigmas = [0.05, 0.06, 0.07, 0.08, 0.09]
    ours = project.evaluate("pred", iou_type="keypoints", keypoint_sigmas=sigmas)
    assert_same(ours, coco_eval(gt, results, "keypoints", sigmas=sigmas))
    with pytest.raises(LabelportError, match="gives 3 sigmas"):
        project.evaluate("pred", iou_type="keypoints", keypoint_sigmas=[0.1, 0.1, 0.1])


def _small_keypoint_file(n: int) -> dict[str, Any]:
    names = [f"p{i}" for i in range(n)]
    return {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [5, 5, 40, 30],
                "area": 1200,
                "iscrowd": 0,
                "keypoints": [10, 10, 2] * n,
                "num_keypoints": n,
            },
        ],
        "categories": [{"id": 1, "name": "hand", "keypoints": names, "skeleton": []}],
    }


def _segm_results(gt: dict[str, Any], seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Results from ground truth: polygons jittered, crowd RLE kept, some dropped, some spurious.

    Returns (for pycocotools: every segmentation as compressed RLE; for the import: polygons as
    polygons, so that both of our mask readers are used).
    """
    rng = random.Random(seed)
    sizes = {i["id"]: (i["height"], i["width"]) for i in gt["images"]}
    cats = [c["id"] for c in gt["categories"]]
    ref, ours = [], []
    for a in gt["annotations"]:
        if rng.random() < 0.1:
            continue
        h, w = sizes[a["image_id"]]
        seg = a["segmentation"]
        cat = a["category_id"] if rng.random() > 0.05 else rng.choice(cats)
        score = round(rng.uniform(0.05, 0.95), 2)  # two decimals: ties in score happen
        if isinstance(seg, list):
            rings = [[round(v + rng.gauss(0, 1.5), 2) for v in ring] for ring in seg]
            ref.append(
                {
                    "image_id": a["image_id"],
                    "category_id": cat,
                    "segmentation": rle_of_polygons(rings, h, w),
                    "score": score,
                }
            )
            ours.append(
                {"image_id": a["image_id"], "category_id": cat, "segmentation": rings, "score": score}
            )
        else:
            rle = rle_compressed(seg)
            for out in (ref, ours):
                out.append(
                    {"image_id": a["image_id"], "category_id": cat, "segmentation": rle, "score": score}
                )
    for image_id, (h, w) in sizes.items():
        for _ in range(rng.randrange(3)):
            x, y = rng.uniform(0, w - 30), rng.uniform(0, h - 30)
            ring = [[x, y, x + 25, y, x + 25, y + 20, x, y + 20]]
            entry = {
                "image_id": image_id,
                "category_id": rng.choice(cats),
                "segmentation": rle_of_polygons(ring, h, w),
                "score": 0.3,
            }
            ref.append(entry)
            ours.append(copy.deepcopy(entry))
    return ref, ours


def test_segm_from_jittered_ground_truth_equals_pycocotools(
    client: UserClient, shared_fixtures: Path
) -> None:
    gt_path = shared_fixtures / VAL
    gt = load(gt_path)
    assert any(a["iscrowd"] for a in gt["annotations"])
    ref_results, our_results = _segm_results(gt)
    project = project_with(client, gt_path, our_results)
    ours = project.evaluate("pred", iou_type="segm")
    assert_same(ours, coco_eval(gt_path, ref_results, "segm"))
    tps = [p for p in ours.matches()["predictions"] if p["status"] == "tp"]
    assert tps and all(p["iou"] >= 0.5 and p["matched"] for p in tps)  # each match's own mask IoU


# -- edge cases ------------------------------------------------------------------------------------


def _coco(anns: list[dict[str, Any]], *, images: int = 2, cats: int = 2) -> dict[str, Any]:
    return {
        "images": [
            {"id": i + 1, "file_name": f"im{i}.jpg", "width": 200, "height": 150} for i in range(images)
        ],
        "annotations": [{"id": n + 1, "iscrowd": 0, **a} for n, a in enumerate(anns)],
        "categories": [{"id": c + 1, "name": f"c{c + 1}"} for c in range(cats)],
    }


def _box(image_id: int, cat: int, bbox: list[float], **extra: Any) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": cat, "bbox": bbox, "area": bbox[2] * bbox[3], **extra}


def _det(image_id: int, cat: int, bbox: list[float], score: float) -> dict[str, Any]:
    return {"image_id": image_id, "category_id": cat, "bbox": bbox, "score": score}


def test_an_empty_prediction_branch_scores_zero(client: UserClient) -> None:
    gt = _coco([_box(1, 1, [10, 10, 50, 40]), _box(2, 2, [5, 5, 20, 20])])
    project = project_with(client, gt, [])
    project.list_label_rows_v2(branch_name="empty")[0].save()  # a branch with no objects
    ev = project.evaluate("empty")
    # COCOeval cannot load an empty results list; by its definitions every AP with ground truth is 0
    assert ev.stats[0] == 0.0 and ev.stats[8] == 0.0
    assert {r["category"]: r["fn"] for r in ev.per_category} == {"c1": 1, "c2": 1}
    assert ev.errors("fp") == [] and len(ev.errors("fn")) == 2


def test_a_category_without_ground_truth_is_left_out(client: UserClient) -> None:
    gt = _coco([_box(1, 1, [10, 10, 50, 40])], cats=3)
    results = [
        _det(1, 1, [12, 10, 50, 40], 0.9),
        _det(1, 2, [100, 80, 30, 30], 0.95),
        _det(2, 3, [1, 1, 9, 9], 0.8),
    ]
    project = project_with(client, gt, results)
    ev = project.evaluate("pred")
    assert_same(ev, coco_eval(gt, results, "bbox"))
    rows = {r["category"]: r for r in ev.per_category}
    assert rows["c2"]["AP"] == -1.0 and rows["c2"]["fp"] == 0 and rows["c2"]["best_f1"] is None
    assert ev.errors("fp") == []  # c2's and c3's predictions are ignored, as COCOeval ignores them
    statuses = {p["category"]: p["status"] for p in ev.matches()["predictions"]}
    assert statuses == {"c1": "tp", "c2": "ignored", "c3": "ignored"}


def test_an_image_with_predictions_and_no_ground_truth(client: UserClient) -> None:
    gt = _coco([_box(1, 1, [10, 10, 50, 40])], images=3)
    results = [_det(1, 1, [10, 10, 50, 40], 0.5), _det(3, 1, [10, 10, 50, 40], 0.9)]
    project = project_with(client, gt, results)
    ev = project.evaluate("pred")
    assert_same(ev, coco_eval(gt, results, "bbox"))
    worst = ev.errors("fp")
    assert len(worst) == 1 and worst[0]["score"] == 0.9
    assert ev.image(worst[0]["data_hash"])["ground_truth"] == []


def test_ties_in_score_keep_cocoevals_stable_order(client: UserClient) -> None:
    anns = [_box(1, 1, [10 * k, 10, 30, 30]) for k in range(5)]
    gt = _coco(anns)
    # equal scores, overlapping boxes: which detection takes a ground-truth object depends on the order
    results = [_det(1, 1, [10 * k + 3, 10, 30, 30], 0.5) for k in (4, 0, 3, 1, 2)]
    results += [_det(1, 1, [10 * k + 6, 12, 30, 30], 0.5) for k in (2, 0, 1)]
    project = project_with(client, gt, results)
    assert_same(project.evaluate("pred"), coco_eval(gt, results, "bbox"))


def test_predictions_beyond_max_dets(client: UserClient) -> None:
    rng = random.Random(1)
    anns = [_box(1, 1, [rng.uniform(0, 150), rng.uniform(0, 100), 30, 30]) for _ in range(40)]
    gt = _coco(anns)
    results = [
        _det(1, 1, [a["bbox"][0] + rng.uniform(-5, 5), a["bbox"][1], 30, 30], round(rng.random(), 2))
        for a in anns * 3
    ]
    assert len(results) > 100
    project = project_with(client, gt, results)
    ev = project.evaluate("pred")
    assert_same(ev, coco_eval(gt, results, "bbox"))
    assert sum(p["status"] == "beyond_max_dets" for p in ev.matches()["predictions"]) == len(results) - 100
    assert_same(
        project.evaluate("pred", max_dets=[1, 5, 20]), coco_eval(gt, results, "bbox", max_dets=[1, 5, 20])
    )


def test_ground_truth_area_is_the_files_not_the_boxes(client: UserClient) -> None:
    # boxes of 2,500 px whose file area says small (< 32^2) and large: COCOeval buckets by the file's area
    anns = [_box(1, 1, [10, 10, 50, 50]) | {"area": 500.0}, _box(1, 1, [100, 60, 50, 50]) | {"area": 20000.0}]
    gt = _coco(anns)
    results = [_det(1, 1, [11, 10, 50, 50], 0.9), _det(1, 1, [100, 61, 50, 50], 0.8)]
    project = project_with(client, gt, results)
    ev = project.evaluate("pred")
    ref = coco_eval(gt, results, "bbox")
    assert_same(ev, ref)
    assert ev.stats[3] > -1 and ev.stats[5] > -1 and ev.stats[4] == -1  # small and large, no medium


def test_computed_area_of_objects_made_in_labelport(client: UserClient, tmp_path: Path) -> None:
    """Objects drawn through the API carry no file area: the area is computed, as the export writes it."""
    gt = _coco([_box(1, 1, [10, 10, 20, 20])])
    project = project_with(client, gt, [_det(1, 1, [10, 10, 20, 20], 0.9), _det(2, 2, [0, 0, 100, 100], 0.7)])
    row = project.list_label_rows_v2(data_title_eq="im1.jpg")[0]
    drawn = ObjectInstance(project.ontology_structure.get_child_by_title("c2"))
    drawn.set_for_frames(BoundingBox(1, 2, 100, 99), frames=0)
    row.add_object_instance(drawn)
    row.save()
    exported = project.export_coco_labels()
    assert [a.get("area") for a in exported["annotations"]] == [400, 9900]
    results = project.export_coco_labels(branch_name="pred", results=True)
    assert_same(project.evaluate("pred"), coco_eval(exported, results, "bbox"))


def test_crowd_ground_truth(client: UserClient) -> None:
    crowd = _box(1, 1, [0, 0, 120, 100], iscrowd=1)
    gt = _coco([crowd, _box(1, 1, [130, 10, 40, 40]), _box(2, 2, [10, 10, 40, 40], iscrowd=1)])
    # several detections inside the crowd region: matched to it, and so ignored, not false positives
    results = [_det(1, 1, [10 * k, 10, 30, 30], 0.9 - k / 20) for k in range(5)] + [
        _det(1, 1, [131, 10, 40, 40], 0.3)
    ]
    results.append(_det(2, 2, [12, 10, 40, 40], 0.6))
    project = project_with(client, gt, results)
    ev = project.evaluate("pred")
    assert_same(ev, coco_eval(gt, results, "bbox"))
    statuses = [p["status"] for p in ev.matches()["predictions"]]
    assert statuses.count("ignored") == 6 and statuses.count("tp") == 1
    gts = ev.matches()["ground_truth"]
    assert sorted(g["status"] for g in gts) == ["ignored", "ignored", "matched"]


# -- generated cases -------------------------------------------------------------------------------

SIZE = (96, 80)  # width, height


@st.composite
def _cases(draw: st.DrawFn, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    width, height = SIZE
    n_images = draw(st.integers(1, 3))
    n_cats = draw(st.integers(1, 2))
    coord = st.floats(0, 60, allow_nan=False).map(lambda v: round(v, 1))
    side = st.floats(1, 40, allow_nan=False).map(lambda v: round(v, 1))
    anns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    scores = st.sampled_from([0.1, 0.5, 0.5, 0.7, 0.9])
    for image_id in range(1, n_images + 1):
        boxes = draw(st.lists(st.tuples(coord, coord, side, side, st.integers(1, n_cats)), max_size=4))
        for x, y, w, h, cat in boxes:
            crowd = draw(st.booleans()) and draw(st.booleans())
            ann: dict[str, Any] = {
                "image_id": image_id,
                "category_id": cat,
                "bbox": [x, y, w, h],
                "iscrowd": int(crowd),
            }
            ring = [x, y, x + w, y, x + w, y + h, x, y + h]
            area = (
                w * h * draw(st.sampled_from([1.0, 1.0, 0.2, 5.0]))
            )  # the file's area, not always the box's
            if kind == "segm":
                ann["segmentation"] = _uncompressed_box(x, y, w, h) if crowd else [ring]
            if kind == "keypoints":
                kp = []
                for _ in range(17):
                    v = draw(st.sampled_from([0, 1, 2, 2]))
                    kp += [
                        round(x + draw(st.floats(0, 1)) * w, 1) if v else 0,
                        round(y + draw(st.floats(0, 1)) * h, 1) if v else 0,
                        v,
                    ]
                ann["keypoints"] = kp
                ann["num_keypoints"] = sum(1 for i in range(2, 51, 3) if kp[i])
            ann["area"] = round(area, 2)
            anns.append(ann)
            if draw(st.booleans()):
                dx, dy = draw(st.floats(-4, 4)), draw(st.floats(-4, 4))
                results.append(_generated_det(kind, image_id, cat, x + dx, y + dy, w, h, draw(scores), draw))
        for _ in range(draw(st.integers(0, 2))):
            x, y, w, h = draw(coord), draw(coord), draw(side), draw(side)
            results.append(
                _generated_det(kind, image_id, draw(st.integers(1, n_cats)), x, y, w, h, draw(scores), draw)
            )
    gt = {
        "images": [
            {"id": i, "file_name": f"g{i}.jpg", "width": width, "height": height}
            for i in range(1, n_images + 1)
        ],
        "annotations": [{"id": n + 1, **a} for n, a in enumerate(anns)],
        "categories": [
            {
                "id": c,
                "name": f"k{c}",
                **(
                    {"keypoints": [f"p{j}" for j in range(17)], "skeleton": []} if kind == "keypoints" else {}
                ),
            }
            for c in range(1, n_cats + 1)
        ],
    }
    params: dict[str, Any] = {}
    if kind != "keypoints" and draw(st.booleans()):
        params["max_dets"] = sorted(draw(st.lists(st.integers(1, 4), min_size=3, max_size=3)))
    if draw(st.booleans()):
        cut = draw(st.sampled_from([50.0, 200.0, 600.0]))
        params["area_ranges"] = {
            "all": [0.0, 1e10],
            "small": [0.0, cut],
            "medium": [cut, 4 * cut],
            "large": [4 * cut, 1e10],
        }
        if kind == "keypoints":
            params["area_ranges"].pop("small")
    return gt, results, params


def _uncompressed_box(x: float, y: float, w: float, h: float) -> dict[str, Any]:
    width, height = SIZE
    mask = np.zeros((height, width), np.uint8)
    mask[int(y) : int(y + h), int(x) : int(x + w)] = 1
    flat = mask.flatten(order="F")
    runs, current, count = [], 0, 0
    for v in flat:
        if v != current:
            runs.append(count)
            current, count = v, 0
        count += 1
    runs.append(count)
    return {"size": [height, width], "counts": runs}


def _generated_det(
    kind: str, image_id: int, cat: int, x: float, y: float, w: float, h: float, score: float, draw: Any
) -> dict[str, Any]:
    width, height = SIZE
    x, y = round(max(x, 0), 1), round(max(y, 0), 1)
    if kind == "bbox":
        return _det(image_id, cat, [x, y, w, h], score)
    if kind == "segm":
        ring = [[x, y, x + w, y, x + w * 0.9, y + h, x, y + h * 0.8]]
        return {
            "image_id": image_id,
            "category_id": cat,
            "segmentation": rle_of_polygons(ring, height, width),
            "score": score,
        }
    kp = []
    for _ in range(17):
        kp += [
            round(x + draw(st.floats(0, 1)) * w, 1),
            round(y + draw(st.floats(0, 1)) * h, 1),
            draw(st.sampled_from([0.2, 1.0, 1.5])),
        ]
    return {"image_id": image_id, "category_id": cat, "keypoints": kp, "score": score}


def _check_generated(
    client: UserClient, kind: str, case: tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]
) -> None:
    gt, results, params = case
    if not results:
        return  # pycocotools cannot load an empty results list (the empty branch has its own test)
    project = project_with(client, gt, results, title=f"gen-{kind}-{uuid.uuid4().hex}")
    ours = project.evaluate("pred", iou_type=kind, **params)
    assert_same(ours, coco_eval(gt, results, kind, **params))


_GEN = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_GEN
@given(case=_cases("bbox"))
def test_generated_bbox_cases(client: UserClient, case: Any) -> None:
    _check_generated(client, "bbox", case)


@_GEN
@given(case=_cases("segm"))
def test_generated_segm_cases(client: UserClient, case: Any) -> None:
    _check_generated(client, "segm", case)


@_GEN
@given(case=_cases("keypoints"))
def test_generated_keypoint_cases(client: UserClient, case: Any) -> None:
    _check_generated(client, "keypoints", case)


def test_a_ground_truth_file_still_needs_visibilities(client: UserClient) -> None:
    """Only a results list carries confidences; a labelled file's third number stays 0, 1 or 2."""
    from labelport import ImportFailed

    gt = _small_keypoint_file(2)
    gt["annotations"][0]["keypoints"] = [10, 10, 0.7, 12, 12, 2]
    project = client.create_project("vis", from_coco=gt)
    with pytest.raises(ImportFailed) as failed:
        project.import_coco(gt, create_missing_data_units=True)
    assert [e.code for e in failed.value.report.errors] == ["keypoints_visibility"]


def test_max_dets_repeating_the_last_value(client: UserClient) -> None:
    """max_dets (1, 1, 1): COCOeval reads precision at every position equal to the last maxDets
    (found by Hypothesis: three identical boxes of one class, one of another, one detection)."""
    box = {"bbox": [0.0, 0.0, 1.0, 1.0], "iscrowd": 0, "area": 1.0, "image_id": 1}
    gt = {
        "images": [{"id": 1, "file_name": "g1.jpg", "width": 96, "height": 80}],
        "annotations": [{"id": i, "category_id": c, **box} for i, c in ((1, 1), (2, 1), (3, 1), (4, 2))],
        "categories": [{"id": 1, "name": "k1"}, {"id": 2, "name": "k2"}],
    }
    preds = [{"image_id": 1, "category_id": 1, "bbox": [0.0, 0.0, 1.0, 1.0], "score": 0.1}]
    _check_generated(client, "bbox", (gt, preds, {"max_dets": [1, 1, 1]}))
