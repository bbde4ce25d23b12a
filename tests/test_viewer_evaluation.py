"""The evaluation overlay in a real browser: marks coloured by the stored evaluation's matches, the
grid's errors filter, the evaluation page's numbers, and nothing computed on a page view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import viewer_fixture as fx
from browser import CHROMEDRIVER, CHROMIUM, chromium, serving, wait_ready
from conftest import write_key
from labelport import UserClient
from labelport.evaluation import Evaluation
from labelport.viewer.local import create_local_app
from test_viewer import Site

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
KIND = {"tp": "tp", "matched": "tp", "fp": "fp", "fn": "fn"}


class EvalSite(Site):
    evaluation: Evaluation


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvalSite]:
    tmp = tmp_path_factory.mktemp("viewer-eval")
    client = UserClient.create_with_ssh_private_key(
        ssh_private_key_path=write_key(tmp / "id"), home=tmp / "home"
    )
    project = fx.build(client, tmp / "media", tmp / "outside")
    assert project.stored_evaluation("model") is None  # nothing until one is computed
    evaluation = project.evaluate("model")
    hashes = {u.title: u.data_hash for u in project.list_data_units()}
    app = create_local_app(client.service, "t0ken", media_roots=[tmp / "media"], cache_dir=tmp / "thumbs")
    with serving(app) as url, chromium() as driver:
        driver.get(f"{url}/?token=t0ken")
        wait_ready(driver, "projects")
        found = EvalSite(url, driver, project, hashes)
        found.evaluation = evaluation
        yield found


def _drawn(site: Site) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Each drawn mark's object hash: (match, its data-colour, the colour its first shape is drawn in)."""
    out = {}
    for g in site.driver.find_elements("css selector", ".stage .mark"):
        shape = g.find_elements("css selector", "polygon, polyline, circle, line")
        paint = shape[0].get_attribute("stroke") if shape else None
        out[g.get_attribute("data-object-hash")] = (
            g.get_attribute("data-match"),
            g.get_attribute("data-colour"),
            paint,
        )
    return out


def _expected(evaluation: Evaluation, data_hash: str) -> dict[str, str]:
    image = evaluation.image(data_hash)
    return {
        o["object_hash"]: KIND[o["status"]]
        for o in image["predictions"] + image["ground_truth"]
        if o["status"] in KIND
    }


def test_unit_marks_are_coloured_by_the_stored_matches_with_a_legend(site: EvalSite) -> None:
    for title in ("every-shape.png", "plain-1.png"):
        data_hash = site.hashes[title]
        site.open(f"/projects/{site.project.project_hash}/units/{data_hash}?compare=model", "unit")
        drawn = _drawn(site)
        expected = _expected(site.evaluation, data_hash)
        matched = {h: m for h, (m, _, _) in drawn.items() if m is not None}
        # every drawn object the evaluation judged carries its match (masks and unjudged ones none)
        assert matched == {h: k for h, k in expected.items() if h in drawn}
        assert matched, title
        for _, colour, paint in drawn.values():
            if colour is not None and paint is not None:
                assert paint == colour  # drawn in the match's colour, not the class's
        colours = {m: c for m, c, _ in drawn.values() if m is not None}
        assert len(set(colours.values())) == len(colours)  # one colour per kind
        legend = site.driver.find_element("css selector", "#match-legend")
        assert "false positive" in legend.text and "true positive" in legend.text
        if title == "every-shape.png":
            site.shot("evaluation.png")  # docs/viewer/evaluation.png, on the viewer page


def test_without_a_stored_evaluation_marks_keep_their_class_colours(site: EvalSite) -> None:
    # model against main has none (only main against model was evaluated); nothing is computed
    data_hash = site.hashes["every-shape.png"]
    site.open(f"/projects/{site.project.project_hash}/units/{data_hash}?branch=model&compare=main", "unit")
    assert all(m is None for m, _, _ in _drawn(site).values())
    assert site.driver.find_elements("css selector", "#match-legend") == []
    assert site.project.stored_evaluation("main", gt_branch="model") is None


@pytest.mark.parametrize("kind", ["fp", "fn"])
def test_the_errors_filter_lists_the_units_with_errors_worst_first(site: EvalSite, kind: str) -> None:
    site.open(f"/projects/{site.project.project_hash}?compare=model&errors={kind}", "grid")
    units = [
        u.get_attribute("data-data-hash")
        for u in site.driver.find_elements("css selector", "#units [data-data-hash]")
    ]
    expected = list(dict.fromkeys(e["data_hash"] for e in site.evaluation.errors(kind, limit=10**6)))
    assert units == expected and units
    assert f"errors={kind}" in site.driver.current_url
    assert site.driver.find_element("css selector", "#f-errors").get_attribute("value") == kind
    if kind == "fp":
        assert units == [site.hashes["plain-1.png"]]  # the one unconfident car far from any truth
        site.shot("evaluation-grid.png")


def test_the_evaluation_page_shows_the_stored_stats_table_and_curves(site: EvalSite) -> None:
    site.open(f"/projects/{site.project.project_hash}/evaluation?compare=model", "evaluation")
    cells = site.driver.find_elements("css selector", "#stats td[data-value]")
    shown = [float(c.get_attribute("data-value")) for c in cells]
    assert shown == pytest.approx(site.evaluation.stats, abs=1e-12) and len(shown) == 12
    assert shown[0] > 0
    rows = site.driver.find_elements("css selector", "#per-category tbody tr")
    assert [r.get_attribute("data-category") for r in rows] == [
        c["category"] for c in site.evaluation.per_category
    ]
    lines = site.driver.find_elements("css selector", "#pr-curves polyline")
    assert len(lines) >= 1 and all(line.get_attribute("points") for line in lines)
    site.shot("evaluation-page.png")


def _api(site: Site, path: str) -> Any:
    """(status, JSON) of an API request from the signed-in browser."""
    return site.driver.execute_script(
        "return fetch(arguments[0]).then(async r => [r.status, await r.json()])", site.url + path
    )


def test_bad_evaluation_requests_are_one_sentence(site: EvalSite) -> None:
    base = f"/api/projects/{site.project.project_hash}"
    answers: list[Any] = [
        _api(site, f"{base}/units?errors=fp"),
        _api(site, f"{base}/units?compare=model&errors=tp"),
        _api(site, f"{base}/units?branch=model&compare=main&errors=fn"),
        _api(site, f"{base}/evaluation?branch=model&compare=main"),
    ]
    assert [a[0] for a in answers] == [400, 400, 400, 404]
    messages = [a[1]["message"] for a in answers]
    assert "compare=" in messages[0] and "fp or fn" in messages[1]
    assert "labelport eval" in messages[2] and "labelport eval" in messages[3]
    site.driver.get_log("browser")  # the four refusals, logged by the browser as failed loads


def test_a_confident_box_of_another_class_over_a_missed_object_is_wrong_class(site: EvalSite) -> None:
    from labelport import ObjectInstance, Polygon

    project = site.project
    row = project.list_label_rows_v2(data_title_eq="plain-2.png", branch_name="wrong")[0]
    roof = ObjectInstance(project.ontology_structure.get_child_by_title("roof"), object_hash="pred-roof")
    roof.set_for_frames(Polygon(((40, 40, 140, 40, 140, 100, 40, 100),)), 0, confidence=0.8)
    row.add_object_instance(roof)
    row.save()
    evaluation = project.evaluate("wrong")
    data_hash = site.hashes["plain-2.png"]
    image = evaluation.image(data_hash)
    assert [p["status"] for p in image["predictions"]] == ["fp"]  # no roof there, and the car missed
    assert [g["status"] for g in image["ground_truth"]] == ["fn"]
    site.open(f"/projects/{project.project_hash}/units/{data_hash}?compare=wrong", "unit")
    drawn = {h: m for h, (m, _, _) in _drawn(site).items()}
    assert drawn == {"pred-roof": "wrong_class", image["ground_truth"][0]["object_hash"]: "wrong_class"}
