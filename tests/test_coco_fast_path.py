"""The import's fast path (a strict typed decode and column checks over a whole slice) must import
exactly what the exact, per-annotation path imports, and hand every slice it is not sure of to it.

The fast path is what makes COCO-train-sized files quick; these tests pin it to the exact path.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from coco_builders import (
    DATA,
    H,
    W,
    box_ann,
    box_mask,
    coco_template,
    compressed_rle,
    image,
    keypoints_ann,
    make_project,
    polygon_ann,
    rle_ann,
    uncompressed_rle,
    write_json,
)
from labelport import OntologyStructure, UserClient
from labelport.formats.coco import annotations, column_checks
from labelport.imports import workers as worker_pass


def varied() -> dict[str, Any]:
    """A clean file with every form the fast path takes: boxes, polygons of one and two rings,
    both RLE forms, keypoints, string image ids, floats and ints, an explicit null segmentation."""
    coco = coco_template()
    coco["images"].append(image("s-4", "d.jpg"))
    coco["annotations"] += [
        polygon_ann(6, 1, 2, [[1.5, 1.25, 9, 1, 9, 9], [20, 20, 30.75, 20, 30, 30, 20, 30]]),
        rle_ann(7, 2, 3, compressed_rle(box_mask(1, 4, 1, 4))),
        rle_ann(8, 1, 3, uncompressed_rle(box_mask(0, H, 0, W))),
        keypoints_ann(9, 2, 4, [0, 0, 2, W, H, 2, 5.5, 6.5, 0]),
        box_ann(10, "s-4", 1, [0, 0, W, H], segmentation=None),
        box_ann(11, "s-4", 1, [0.5, 0.5, 1e-3, 1e-3], segmentation=[]),
        polygon_ann(12, "s-4", 2, [[0, 0, W, 0, W, H]]),
    ]
    return coco


def import_both_ways(client: UserClient, coco: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import ``coco`` as it is and with the fast path switched off; return both projects and reports,
    and what the fast path returned for the first."""
    taken: list[bool] = []
    clean_chunk = column_checks.clean_chunk

    def spy(*args: Any) -> Any:
        result = clean_chunk(*args)
        taken.append(result is not None)
        return result

    data = (*DATA, ("d.jpg", W, H))
    fast = make_project(client, "fast", ontology=OntologyStructure(), data=data)
    monkeypatch.setattr(column_checks, "clean_chunk", spy)
    fast_report = fast.import_coco(coco, categories="create", on_error="skip")
    exact = make_project(client, "exact", ontology=OntologyStructure(), data=data)
    monkeypatch.setattr(column_checks, "clean_chunk", lambda *args: None)
    exact_report = exact.import_coco(coco, categories="create", on_error="skip")
    return (fast, fast_report), (exact, exact_report), taken


def comparable(report: Any) -> dict[str, Any]:
    data = report.to_dict()
    for key in ("seconds", "categories", "matched_examples"):
        data.pop(key)
    if data.get("fingerprint"):  # its last part sums the data units the images landed on: per project
        data["fingerprint"] = data["fingerprint"].rsplit(":", 1)[0]
    return data


def test_a_clean_file_takes_the_fast_path_and_imports_what_the_exact_path_does(
    client: UserClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    coco = varied()
    (fast, fast_report), (exact, exact_report), taken = import_both_ways(client, coco, monkeypatch)
    assert taken == [True]
    assert fast_report.ok and fast_report.counts.imported == len(coco["annotations"])
    assert comparable(fast_report) == comparable(exact_report)
    shapes = [(o.title, o.shape) for o in fast.ontology_structure.objects]
    assert shapes == [(o.title, o.shape) for o in exact.ontology_structure.objects]
    assert fast.export_coco_labels()["annotations"] == exact.export_coco_labels()["annotations"]
    assert fast.export_coco_labels()["annotations"] == coco["annotations"]


def test_an_indented_file_takes_the_fast_path_too(
    client: UserClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Polygons are read from their JSON text, so whitespace inside them must not send a clean
    slice to the exact path (nor change what is imported)."""
    coco = varied()
    path = tmp_path / "indented.json"
    path.write_text(json.dumps(coco, indent=2))
    (fast, fast_report), (exact, exact_report), taken = import_both_ways(client, path, monkeypatch)
    assert exact.export_coco_labels()["annotations"] == coco["annotations"]
    assert taken == [True]
    assert comparable(fast_report) == comparable(exact_report)
    assert fast.export_coco_labels()["annotations"] == coco["annotations"]


NEAR_MISSES = {
    # each is valid or merely warned about: the fast path must not take it, the exact path reports it
    "flat_polygon": ("annotations[1].segmentation", [10, 10, 30, 10, 30, 20]),
    "polygon_outside": ("annotations[1].segmentation", [[10, 10, W + 1, 10, 30, 20]]),
    "negative_polygon": ("annotations[1].segmentation", [[-0.5, 10, 30, 10, 30, 20]]),
    "box_outside": ("annotations[0].bbox", [2, 3, W, 8]),
    "iscrowd_true": ("annotations[0].iscrowd", True),
    "iscrowd_2": ("annotations[0].iscrowd", 2),
    "float_id": ("annotations[0].id", 1.0),
    "duplicate_id": ("annotations[1].id", 1),
    "score": ("annotations[0].score", 0.5),
    "track": ("annotations[0].track_id", 3),
    "attributes": ("annotations[0].attributes", {"occluded": False}),
    "odd_ring": ("annotations[1].segmentation", [[10, 10, 30, 10, 30]]),
    "short_ring": ("annotations[1].segmentation", [[10, 10, 30, 10]]),
    "rle_size": ("annotations[2].segmentation.size", [H + 1, W]),
    "zero_box": ("annotations[0].bbox", [2, 3, 0, 8]),
    "unknown_image": ("annotations[0].image_id", 77),
    "bbox_missing": ("annotations[0].bbox", None),
    "huge_number": ("annotations[0].bbox", [2, 3, 1e308, 8]),
    # segmentations the fast path reads from their JSON (flat_polygons.py) rather than decoding them
    "segmentation_string": ("annotations[1].segmentation", "[[10,10,30,10,30,20]]"),
    "segmentation_number": ("annotations[1].segmentation", 7),
    "segmentation_true": ("annotations[1].segmentation", True),
    "ring_nested_deeper": ("annotations[1].segmentation", [[10, 10, 30, 10, 30, [20]]]),
    "ring_of_strings": ("annotations[1].segmentation", [["10", "10", "30", "10", "30", "20"]]),
    "ring_with_null": ("annotations[1].segmentation", [[10, 10, 30, 10, 30, None]]),
    "empty_ring": ("annotations[1].segmentation", [[10, 10, 30, 10, 30, 20], []]),
    "number_beside_rings": ("annotations[1].segmentation", [[10, 10, 30, 10, 30, 20], 5]),
    "ring_outside_height": ("annotations[1].segmentation", [[10, 10, 30, 10, 30, H + 0.5]]),
}


@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_a_slice_the_fast_path_is_unsure_of_goes_to_the_exact_path(
    client: UserClient, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    where, value = NEAR_MISSES[name]
    coco = varied()
    steps = where.replace("]", "").replace("[", ".").split(".")
    target: Any = coco
    for step in steps[:-1]:
        target = target[int(step)] if step.isdigit() else target[step]
    target[steps[-1]] = value
    (fast, fast_report), (exact, exact_report), taken = import_both_ways(client, coco, monkeypatch)
    assert taken and not any(taken)  # (attributes on a created object take a second pass)
    assert comparable(fast_report) == comparable(exact_report)
    assert fast.export_coco_labels()["annotations"] == exact.export_coco_labels()["annotations"]


def big_file_with_defects(path: Path, count: int) -> dict[str, Any]:
    """``count`` box annotations over 500 images, with a warning in one slice and an error in another."""
    coco: dict[str, Any] = {
        "images": [image(i, f"img{i}.jpg") for i in range(1, 501)],
        "categories": [{"id": 1, "name": "box"}, {"id": 2, "name": "poly"}],
        "annotations": [
            polygon_ann(i, i % 500 + 1, 2, [[1, 1, 9, 1, 9, i % 7 + 2]])
            if i % 3 == 0
            else box_ann(i, i % 500 + 1, 1, [1, 2, 3, i % 7 + 1])
            for i in range(1, count + 1)
        ],
    }
    coco["annotations"][45_000]["bbox"] = [1, 2, W, 4]  # reaches outside: a warning
    coco["annotations"][70_123]["category_id"] = 9  # unknown: an error
    write_json(path, coco)
    return coco


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_and_one_process_import_a_large_file_alike(
    client: UserClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, method: str
) -> None:
    """Above the size where validation is spread over worker processes, with slices on both paths,
    the workers' import is the in-process one, row for row: forked workers (this process runs no
    other thread) and workers started by a fork server (another thread runs, as in a server)."""
    count = annotations.PARALLEL_FROM + 5_000
    coco = big_file_with_defects(tmp_path / "big.json", count)
    outcomes = []
    started: list[str] = []
    workers_of = worker_pass.worker_count
    monkeypatch.setattr(
        worker_pass, "worker_count", lambda total: started.append(workers_of(total)[1]) or workers_of(total)
    )
    for workers in ("2", "0"):
        monkeypatch.setenv("LABELPORT_IMPORT_WORKERS", workers)
        project = client.create_project(f"workers {workers}", ontology=OntologyStructure())
        done = threading.Event()
        other = threading.Thread(target=done.wait) if method == "forkserver" else None
        if other is not None:
            other.start()
        try:
            report = project.import_coco(
                tmp_path / "big.json", categories="create", create_missing_data_units=True, on_error="skip"
            )
        finally:
            done.set()
            if other is not None:
                other.join()
        outcomes.append((comparable(report), project.export_coco_labels()["annotations"]))
    assert started[0] == method
    assert outcomes[0] == outcomes[1]
    report, exported = outcomes[0]
    assert report["counts"]["imported"] == count - 1
    assert [(p["code"], p["path"]) for p in report["errors"]] == [
        ("category_unknown", "annotations[70123].category_id")
    ]
    assert [(p["code"], p["path"]) for p in report["warnings"]] == [
        ("outside_image", "annotations[45000].bbox")
    ]
    kept = [a for a in coco["annotations"] if a["category_id"] != 9]
    assert exported == json.loads(json.dumps(kept))
