"""The viewer over real COCO labels (val2014, 100 images, and a results file on a branch), in a browser."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import CHROMEDRIVER, CHROMIUM, chromium, console_errors, serving, wait_ready
from conftest import SHARED_FIXTURES, write_key
from labelport import UserClient
from labelport.client import Project
from labelport.viewer.local import create_local_app

GT = SHARED_FIXTURES / "coco-val2014-100" / "instances_val2014_100.json"
PREDICTIONS = SHARED_FIXTURES / "predictions" / "instances_val2014_fakebbox100_results.json"
pytestmark = [
    pytest.mark.skipif(not GT.is_file(), reason=f"the shared fixture {GT} is absent"),
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs chromium"),
]
SHOTS = os.environ.get("VIEWER_SCREENSHOTS")


@pytest.fixture(scope="module")
def coco(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, Project, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("coco")
    client = UserClient.create_with_ssh_private_key(
        ssh_private_key_path=write_key(tmp / "id"), home=tmp / "home"
    )
    project = client.create_project("val2014 sample", description="100 COCO val2014 images")
    project.import_coco(GT, categories="create", create_missing_data_units=True)
    project.import_coco(PREDICTIONS, branch_name="detector")
    app = create_local_app(client.service, "k", cache_dir=tmp / "thumbs")
    with serving(app) as url, chromium(1440, 900) as driver:
        driver.get(f"{url}/?token=k")
        wait_ready(driver, "projects")
        yield url, driver, project, json.loads(GT.read_text())


def _page(driver: Any) -> tuple[list[str], int]:
    titles = [
        e.get_attribute("title") for e in driver.find_elements("css selector", "#units [data-data-hash]")
    ]
    return titles, len(driver.find_elements("css selector", "#units [data-object-hash]"))


def test_the_grid_shows_cocos_images_and_every_annotation_of_them(coco: Any) -> None:
    url, driver, project, gt = coco
    driver.get(f"{url}/projects/{project.project_hash}")
    wait_ready(driver, "grid")
    titles, labels = _page(driver)
    names = [i["file_name"] for i in gt["images"]]
    assert driver.find_element("id", "total").text == "100 data units"
    assert titles == names[:48]  # the first page, in the file's order
    image_of = {i["id"]: i["file_name"] for i in gt["images"]}
    assert labels == sum(1 for a in gt["annotations"] if image_of[a["image_id"]] in set(titles))
    assert console_errors(driver) == []
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / "grid.png"))


def test_a_class_filter_over_coco_pages_the_units_that_have_it(coco: Any) -> None:
    url, driver, project, gt = coco
    category = next(c for c in gt["categories"] if c["name"] == "dog")
    feature = project.ontology_structure.get_child_by_title("dog").feature_node_hash
    driver.get(f"{url}/projects/{project.project_hash}?class={feature}")
    wait_ready(driver, "grid")
    image_of = {i["id"]: i["file_name"] for i in gt["images"]}
    with_dogs = {image_of[a["image_id"]] for a in gt["annotations"] if a["category_id"] == category["id"]}
    titles, labels = _page(driver)
    assert set(titles) == with_dogs
    assert labels == sum(1 for a in gt["annotations"] if a["category_id"] == category["id"])
    counts = {
        e.get_attribute("data-feature-hash"): int(
            e.find_element("css selector", ".count").text.replace(",", "")
        )
        for e in driver.find_elements("css selector", "#f-classes [data-feature-hash]")
    }
    assert sum(counts.values()) == len(gt["annotations"])  # counts leave the class filter out


def test_ground_truth_and_detections_side_by_side(coco: Any) -> None:
    url, driver, project, gt = coco
    image = max(gt["images"], key=lambda i: sum(a["image_id"] == i["id"] for a in gt["annotations"]))
    unit = next(u for u in project.list_data_units() if u.title == image["file_name"])
    driver.get(f"{url}/projects/{project.project_hash}/units/{unit.data_hash}?compare=detector&layout=side")
    wait_ready(driver, "unit")
    left = driver.find_elements("css selector", "#plane .mark")
    right = driver.find_elements("css selector", "#plane-2 .mark")
    predictions = json.loads(PREDICTIONS.read_text())
    assert len(left) == sum(a["image_id"] == image["id"] for a in gt["annotations"])
    assert len(right) == sum(p["image_id"] == image["id"] for p in predictions)
    assert console_errors(driver) == []
    if SHOTS:
        driver.save_screenshot(str(Path(SHOTS) / "side-by-side.png"))
