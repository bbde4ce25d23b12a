"""Stored evaluations, the ``labelport eval`` / ``labelport diff`` commands, and evaluations over the server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from evaluation_helpers import assert_same, coco_eval, load, project_with
from labelport import BoundingBox, NotFoundError, ObjectInstance, UserClient
from labelport.cli import cli
from labelport.errors import LabelportError
from labelport.store.postgres import PostgresStore
from labelport.store.sqlite import SqliteStore

VAL = Path("coco-val2014-100/instances_val2014_100.json")
FAKE_BBOX = Path("predictions/instances_val2014_fakebbox100_results.json")


def _small() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    gt = {
        "images": [{"id": i, "file_name": f"s{i}.jpg", "width": 120, "height": 90} for i in (1, 2)],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 30], "area": 1200, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [60, 40, 30, 30], "area": 900, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [5, 5, 50, 50], "area": 2500, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [11, 10, 40, 30], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [60, 41, 30, 30], "score": 0.8},  # a dog called a cat
        {"image_id": 2, "category_id": 2, "bbox": [70, 50, 20, 20], "score": 0.4},
    ]
    return gt, results


# -- stored evaluations ----------------------------------------------------------------------------


def test_a_second_call_on_unchanged_branches_is_the_stored_answer(
    client: UserClient, shared_fixtures: Path
) -> None:
    gt, results = shared_fixtures / VAL, load(shared_fixtures / FAKE_BBOX)
    project = project_with(client, gt, results)
    first = project.evaluate("pred")
    start = time.perf_counter()
    again = project.evaluate("pred")
    assert time.perf_counter() - start < 0.2
    assert again.stored and not first.stored and again.stats == first.stats
    assert again.errors("fp", limit=5) == first.errors("fp", limit=5)
    other = project.evaluate("pred", iou_thresholds=[0.5])  # other parameters: another record
    assert not other.stored and other.stats != first.stats


def test_a_changed_branch_is_evaluated_again(client: UserClient) -> None:
    gt, results = _small()
    project = project_with(client, gt, results)
    before = project.evaluate("pred")
    assert project.evaluate("pred").stored
    # a save on the prediction branch: add a perfect detection of the dog
    row = project.list_label_rows_v2(data_title_eq="s1.jpg", branch_name="pred")[0]
    dog = ObjectInstance(project.ontology_structure.get_child_by_title("dog"))
    dog.set_for_frames(BoundingBox(60, 40, 30, 30), frames=0, confidence=0.95, manual_annotation=False)
    row.add_object_instance(dog)
    row.save()
    after = project.evaluate("pred")
    assert not after.stored and after.stats[0] > before.stats[0]
    assert after.data["counts"]["predictions"] == 4
    # an import onto the ground truth (same file again, nothing new) still counts as a change
    project.import_coco(gt)
    assert not project.evaluate("pred").stored
    assert project.evaluate("pred").stored


def test_unknown_branches_and_options_are_one_sentence(client: UserClient) -> None:
    gt, results = _small()
    project = project_with(client, gt, results)
    with pytest.raises(NotFoundError, match="No branch with name nope"):
        project.evaluate("nope")
    with pytest.raises(LabelportError, match="iou_type must be one of"):
        project.evaluate("pred", iou_type="mask")
    with pytest.raises(LabelportError, match="unknown evaluation option 'colour'"):
        project.service.evaluate(project.project_hash, "pred", {"colour": 1})
    with pytest.raises(LabelportError, match="category 'horse' is not in"):
        project.evaluate("pred", categories=["horse"])
    with pytest.raises(LabelportError, match="kind must be 'fp' or 'fn'"):
        project.evaluate("pred").errors("tp")
    with pytest.raises(LabelportError, match="max_dets must be a list, not int"):
        project.service.evaluate(project.project_hash, "pred", {"max_dets": 5})
    with pytest.raises(LabelportError, match="evaluation parameters: could not convert"):
        project.evaluate("pred", iou_thresholds=["half"])  # type: ignore[list-item]


def test_per_category_counts_confusion_and_matches(client: UserClient) -> None:
    gt, results = _small()
    project = project_with(client, gt, results)
    ev = project.evaluate("pred")
    rows = {r["category"]: r for r in ev.per_category}
    assert (rows["cat"]["tp"], rows["cat"]["fp"], rows["cat"]["fn"]) == (1, 1, 1)
    assert (rows["dog"]["tp"], rows["dog"]["fp"], rows["dog"]["fn"]) == (0, 1, 1)
    assert rows["cat"]["best_f1"]["score"] == 0.9 and rows["cat"]["best_f1"]["tp"] == 1
    confusion = ev.confusion_matrix
    assert confusion["labels"] == ["cat", "dog", "background"]
    # rows ground truth, columns predictions: the dog predicted as a cat; the lone dog prediction is background
    assert confusion["matrix"] == [[1, 0, 1], [1, 0, 0], [0, 1, 0]]
    fps = ev.errors("fp")
    assert [e["score"] for e in fps] == [0.8, 0.4] and ev.errors("fp", category="dog")[0]["score"] == 0.4
    assert [e["area"] for e in ev.errors("fn")] == [2500.0, 900.0]
    image = ev.image(fps[0]["data_hash"])
    assert {p["status"] for p in image["predictions"]} == {"tp", "fp"}
    assert {g["status"] for g in image["ground_truth"]} == {"matched", "fn"}
    whole = ev.to_dict(matches=True)
    assert isinstance(whole["stats"], list) and len(whole["matches"]["predictions"]) == 3
    json.dumps(whole)
    assert len(ev.pr_curves["categories"]["cat"]["precision"]) == 10


def test_diff_two_label_branches(client: UserClient) -> None:
    gt, results = _small()
    project = project_with(client, gt, results)
    result = project.diff("main", "pred")
    assert result["totals"] == {"matched": 1, "other_class": 1, "only_a": 1, "only_b": 1}
    assert result["other_class_pairs"] == [{"a": "dog", "b": "cat", "count": 1}]
    assert project.diff("main", "main")["totals"] == {
        "matched": 3,
        "other_class": 0,
        "only_a": 0,
        "only_b": 0,
    }


def test_both_stores_keep_evaluations_and_count_changes(tmp_path: Path, pg_url: str) -> None:
    for store in (SqliteStore(tmp_path / "s.db"), PostgresStore(pg_url)):
        assert store.schema_version() >= 3
        from labelport.service import LocalService

        service = LocalService.embedded(store, name="ada", fingerprint=f"SHA256:{type(store).__name__}")
        client = UserClient(service)
        gt, results = _small()
        project = project_with(client, gt, results, title=f"stores-{type(store).__name__}")
        state = store.branch_state(project.project_hash, "pred")
        assert state is not None and store.branch_state(project.project_hash, "nope") is None
        first = project.evaluate("pred")
        assert project.evaluate("pred").stored and first.errors("fp")
        project.list_label_rows_v2(branch_name="pred")[1].save()
        assert store.branch_state(project.project_hash, "pred") != state
        assert not project.evaluate("pred").stored
        store.close()


# -- the command -----------------------------------------------------------------------------------


def _cli(home: Path, key_path: Path, *args: str) -> Any:
    result = CliRunner().invoke(
        cli, ["--home", str(home), "--key", str(key_path), *args], catch_exceptions=False
    )
    return result


def test_eval_command_prints_cocos_summary_and_writes_plots(
    client: UserClient, home: Path, key_path: Path, tmp_path: Path, shared_fixtures: Path
) -> None:
    gt, results = shared_fixtures / VAL, load(shared_fixtures / FAKE_BBOX)
    project = project_with(client, gt, results)
    ref = coco_eval(gt, results, "bbox")
    plots = tmp_path / "plots"
    out = _cli(
        home,
        key_path,
        "eval",
        project.project_hash,
        "--pred",
        "pred",
        "--plots",
        str(plots),
        "--errors",
        "fp",
        "--limit",
        "3",
    )
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    summary = [line for line in lines if line.startswith(" Average")]
    assert len(summary) == 12
    assert summary[0].endswith(f"= {ref.stats[0]:0.3f}") and "maxDets=100" in summary[0]
    assert any(line.startswith("person ") for line in lines)
    assert sum(line.startswith("FP ") for line in lines) == 3
    for name in ("pr_curves.png", "pr_per_category.png", "confusion_matrix.png"):
        assert str(plots / name) in out.output
        with Image.open(plots / name) as image:
            assert image.size[0] > 300 and image.getextrema() != ((255, 255),) * len(image.getbands())
    data = json.loads(_cli(home, key_path, "eval", project.project_hash, "--pred", "pred", "--json").output)
    assert isinstance(data["stats"], list) and np.max(np.abs(np.array(data["stats"]) - ref.stats)) <= 1e-12
    assert data["stored"] is True


def test_diff_command_and_its_errors(client: UserClient, home: Path, key_path: Path) -> None:
    gt, results = _small()
    project = project_with(client, gt, results)
    out = _cli(home, key_path, "diff", project.project_hash, "--a", "main", "--b", "pred")
    assert (
        out.exit_code == 0
        and "1 matched, 1 with another class, 1 only in main, 1 only in pred." in out.output
    )
    assert "dog in main is cat in pred: 1" in out.output
    bad = CliRunner().invoke(
        cli, ["--home", str(home), "--key", str(key_path), "eval", project.project_hash, "--pred", "nope"]
    )
    assert (
        bad.exit_code == 1 and bad.output.strip() == "Error: No branch with name nope."
    ) or "No branch with name nope" in bad.output


# -- over the server -------------------------------------------------------------------------------


def test_a_viewer_runs_an_evaluation_over_the_server(
    team: Any,
    closing: list[UserClient],
    shared_fixtures: Path,
) -> None:
    owner = team.client("eval-lead")
    viewer_key, viewer_identity, _ = team.user("eval-viewer")
    viewer = UserClient.create_with_ssh_private_key(ssh_private_key_path=viewer_key, domain=team.server.url)
    outsider = team.client("eval-outsider")
    closing.extend([owner, viewer, outsider])
    gt, results = shared_fixtures / VAL, load(shared_fixtures / FAKE_BBOX)
    project = project_with(owner, gt, results, title="remote-eval")
    project.service.add_member(project.project_hash, viewer_identity.fingerprint, "viewer")
    seen = viewer.get_project(project.project_hash)
    remote = seen.evaluate("pred")
    assert_same(remote, coco_eval(gt, results, "bbox"))
    assert remote.errors("fn", limit=3) == project.evaluate("pred").errors("fn", limit=3)
    assert seen.diff("main", "pred")["totals"]["matched"] > 600
    with pytest.raises(LabelportError, match="max_dets must be a list, not str") as bad:
        seen.service.evaluate(project.project_hash, "pred", {"max_dets": "many"})
    assert bad.value.status == 400
    with pytest.raises(NotFoundError):
        outsider.service.evaluate(project.project_hash, "pred", {})
    with pytest.raises(NotFoundError):
        outsider.service.evaluation_matches(project.project_hash, int(remote.data["evaluation_id"]))
    # the stored answer, read without computing (what the viewer colours by), over HTTP too
    stored = seen.stored_evaluation("pred")
    assert stored is not None and stored.stats == remote.stats
    assert stored.errors("fn", limit=3) == remote.errors("fn", limit=3)
    assert seen.stored_evaluation("main", gt_branch="pred") is None
    with pytest.raises(NotFoundError):
        outsider.service.stored_evaluation(project.project_hash, "pred")


# -- the benchmark's evaluation jobs ---------------------------------------------------------------


def test_bench_evaluation_jobs_agree_with_pycocotools(tmp_path: Path) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    if not (repo.parent / "shared" / "tools" / "make_preds.py").is_file():
        pytest.skip("../shared/tools/make_preds.py is absent")
    results = tmp_path / "results"
    command = [sys.executable, "-m", "bench.run", "--images", "150", "--repeat", "1", "--quiet-wait", "0"]
    command += ["--jobs", "pycocotools-eval,ours-eval-stored", "--cache", str(tmp_path / "cache")]
    command += ["--results", str(results), "--scratch", str(tmp_path)]
    run = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    (scale,) = json.loads((results / "latest.json").read_text())["scales"]
    rows = {row["job"]: row for row in scale["jobs"]}
    reference = np.array(rows["pycocotools-eval"]["result"]["stats"])
    for job in ("ours-eval", "ours-eval-stored"):
        assert rows[job]["status"] == "ok", rows[job]
        assert np.max(np.abs(np.array(rows[job]["result"]["stats"]) - reference)) <= 1e-12
    assert (
        rows["ours-eval"]["result"]["stored"] is False
        and rows["ours-eval-stored"]["result"]["stored"] is True
    )
