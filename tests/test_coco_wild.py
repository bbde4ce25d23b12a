"""Issue 20, valid COCO data from the wild that was refused, changed or merged without a count.

Each case starts from the one valid template of :mod:`coco_builders` and changes one thing; each
asserts the exact code, the JSON path and (through the CLI) the exit status.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from coco_builders import coco_template, make_project, object_count, with_value, write_json
from evaluation_helpers import assert_same, coco_eval
from labelport import OntologyStructure, UserClient
from labelport.formats.coco.ontology import ontology_from_coco
from labelport.viewer.draw import mark_of
from test_coco_trust import cli_env, cli_run

__all__ = ["cli_env"]  # a fixture, shared

#: COCO's 17-point person skeleton, as person_keypoints files write it (1-based)
COCO_SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
    [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip
KEYPOINTS = Path("keypoints/person_keypoints_gt.json")


def _warnings(report: Any) -> list[tuple[str, str]]:
    return [(p.code, p.path) for p in report.warnings]


# -- a skeleton copied from COCO's 17 points onto fewer keypoints ----------------------------------------


def copied_skeleton() -> dict[str, Any]:
    """The template's 3-keypoint person with COCO's 17-point skeleton."""
    return with_value(coco_template(), "categories[3].skeleton", copy.deepcopy(COCO_SKELETON))


@pytest.mark.parametrize("categories", ["by-name", "create"])
def test_a_copied_skeleton_is_kept_and_warned_once(client: UserClient, categories: str) -> None:
    ontology = OntologyStructure() if categories == "create" else None
    project = make_project(client, ontology=ontology)
    report = project.import_coco(copied_skeleton(), categories=categories)
    assert report.ok and report.counts.imported == 5, report.summary()
    assert _warnings(report) == [("skeleton_out_of_range", "categories[3].skeleton[0]")]
    assert "has 16 edges naming" in report.warnings[0].message
    exported = project.export_coco_labels()
    assert [c["skeleton"] for c in exported["categories"] if c["name"] == "person"] == [COCO_SKELETON]


def test_edges_beyond_the_keypoints_are_not_drawn(client: UserClient) -> None:
    project = make_project(client, ontology=OntologyStructure())
    project.import_coco(copied_skeleton(), categories="create")
    person = next(o for o in project.ontology_structure.objects if o.title == "person")
    assert person.skeleton == [tuple(e) for e in COCO_SKELETON]  # kept as given
    instance = next(
        o
        for row in project.list_label_rows_v2()
        for o in row.get_object_instances()
        if o.feature_hash == person.feature_node_hash
    )
    mark = mark_of(person, instance.object_hash, instance.get_annotation(0).coordinates)
    # of the 19 edges only [2, 3], [1, 2] and [1, 3] join two of the 3 keypoints
    assert mark.to_json()["edges"] == [[1, 2], [0, 1], [0, 2]]


def test_a_copied_skeleton_makes_an_ontology(tmp_path: Path) -> None:
    ontology = ontology_from_coco(copied_skeleton())
    person = next(o for o in ontology.objects if o.title == "person")
    assert person.skeleton == [tuple(e) for e in COCO_SKELETON] and len(person.keypoints) == 3
    assert OntologyStructure.from_dict(ontology.to_dict()).to_dict() == ontology.to_dict()


def test_the_cli_imports_a_copied_skeleton_exit_0(cli_env: Path, tmp_path: Path) -> None:
    path = write_json(tmp_path / "pose.json", copied_skeleton())
    created = cli_run("project", "create", "pose", "--from-coco", path, "--json")
    assert created.exit_code == 0, created.output
    project_hash = json.loads(created.stdout)["project_hash"]
    result = cli_run("import", "coco", project_hash, path, "--create-missing-data-units")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "warning: categories[3].skeleton[0]: the skeleton has 16 edges" in result.output, result.output


def _fourteen_points(doc: dict[str, Any]) -> dict[str, Any]:
    """A real person_keypoints file cut to 14 keypoints, its 17-point skeleton kept."""
    doc = copy.deepcopy(doc)
    for category in doc["categories"]:
        category["keypoints"] = category["keypoints"][:14]
    for ann in doc["annotations"]:
        ann["keypoints"] = ann["keypoints"][: 14 * 3]
        ann["num_keypoints"] = sum(1 for v in ann["keypoints"][2::3] if v)
    return doc


def test_evaluation_of_a_copied_skeleton_equals_pycocotools(
    client: UserClient, shared_fixtures: Path
) -> None:
    gt = _fourteen_points(json.loads((shared_fixtures / KEYPOINTS).read_text()))
    rng = random.Random(5)
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "keypoints": [
                v + (rng.uniform(-2, 2) if k % 3 != 2 else 0) for k, v in enumerate(a["keypoints"])
            ],
            "score": round(rng.random(), 3),
        }
        for a in gt["annotations"]
    ]
    project = client.create_project("pose", from_coco=gt)
    report = project.import_coco(gt, create_missing_data_units=True)
    assert ("skeleton_out_of_range", "categories[0].skeleton[0]") in _warnings(report)
    project.import_coco(results, branch_name="pred")
    sigmas = [
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
    ]
    ours = project.evaluate("pred", iou_type="keypoints", keypoint_sigmas=sigmas)
    assert_same(ours, coco_eval(gt, results, "keypoints", sigmas=sigmas))
    assert object_count(project) == len(gt["annotations"])
