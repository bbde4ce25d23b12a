"""One vocabulary and one palette for an evaluation on every face, and a confusion matrix a person can read.

The CLI's error lines, the viewer's legends (see tests/test_viewer_words.py) and the PNGs take their
words and colours from ``labelport.evaluation.kinds``; the confusion matrix PNG shows the most
confused classes with their counts, and ``confusion_matrix.csv`` beside it holds all of them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

from evaluation_helpers import load, project_with
from labelport import UserClient
from labelport.cli import cli
from labelport.evaluation.kinds import CURVES, MATCH_NAMES, object_matches
from labelport.evaluation.plots import CONFUSED_SHOWN, most_confused, write_plots

VAL = Path("coco-val2014-100/instances_val2014_100.json")
FAKE_BBOX = Path("predictions/instances_val2014_fakebbox100_results.json")


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _pixels(path: Path, colour: str) -> int:
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    return int((pixels == np.array(_rgb(colour))).all(axis=1).sum())


def test_the_png_curves_are_drawn_in_the_palettes_colours(
    client: UserClient, tmp_path: Path, shared_fixtures: Path
) -> None:
    project = project_with(client, shared_fixtures / VAL, load(shared_fixtures / FAKE_BBOX))
    written = write_plots(project.evaluate("pred"), tmp_path)
    curves = tmp_path / "pr_curves.png"
    assert curves in written
    for label, _iou, colour in CURVES:
        assert _pixels(curves, colour) > 200, f"{label} is not drawn in {colour}"


def test_the_confusion_png_shows_the_most_confused_classes_and_the_csv_all(
    client: UserClient, tmp_path: Path, shared_fixtures: Path
) -> None:
    project = project_with(client, shared_fixtures / VAL, load(shared_fixtures / FAKE_BBOX))
    evaluation = project.evaluate("pred")
    confusion = evaluation.confusion_matrix
    assert len(confusion["labels"]) == 81  # COCO's 80 classes and the background
    write_plots(evaluation, tmp_path)
    with (tmp_path / "confusion_matrix.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0][1:] == confusion["labels"]
    assert [r[0] for r in rows[1:]] == confusion["labels"]
    assert [[int(v) for v in r[1:]] for r in rows[1:]] == confusion["matrix"]
    # the classes shown are those with most objects counted as another class, computed here again
    matrix = np.array(confusion["matrix"])[:80, :80]
    other = matrix.sum(axis=0) + matrix.sum(axis=1) - 2 * np.diag(matrix)
    shown = most_confused(np.array(confusion["matrix"]))
    assert len(shown) == CONFUSED_SHOWN
    assert min(other[shown]) >= max(np.delete(other, shown)) and min(other[shown]) > 0
    with Image.open(tmp_path / "confusion_matrix.png") as image:
        assert image.size[0] < 1500 and image.size[1] < 1500  # ticks at a readable size, not 80 of them


def test_the_cli_calls_a_wrong_class_false_positive_what_the_viewer_calls_it(
    client: UserClient, home: Path, key_path: Path
) -> None:
    gt = {
        "images": [{"id": i, "file_name": f"{i}.png", "width": 200, "height": 150} for i in (1, 2)],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [40, 40, 100, 60], "area": 6000},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [10, 10, 50, 50], "area": 2500},
        ],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "roof"}],
    }
    results = [{"image_id": 1, "category_id": 2, "bbox": [42, 40, 98, 60], "score": 0.8}]
    project = project_with(client, gt, results)
    evaluation = project.evaluate("pred")
    unit = project.list_data_units()[0]
    truth, predicted = object_matches(evaluation, unit.data_hash)
    assert list(predicted.values()) == ["wrong_class"] and list(truth.values()) == ["wrong_class"]
    result = CliRunner().invoke(
        cli, ["--key", str(key_path), "eval", project.project_hash, "--pred", "pred", "--errors", "fp"]
    )
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if line.startswith("FP")]
    assert line.startswith("FP wrong class roof ")
    assert MATCH_NAMES["wrong_class"].startswith("wrong class")
    missed = CliRunner().invoke(
        cli, ["--key", str(key_path), "eval", project.project_hash, "--pred", "pred", "--errors", "fn"]
    )
    assert [line.split()[:4] for line in missed.stdout.splitlines() if line.startswith("FN")] == [
        ["FN", "wrong", "class", "car"],
        ["FN", "roof", "area", "2500"],
    ]
