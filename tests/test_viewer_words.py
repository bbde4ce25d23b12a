"""The viewer speaks the evaluation's one vocabulary and palette, and a grid card's title keeps both ends.

In Debian's chromium: the evaluation page's PR legend has a swatch per curve, in the colours of the
curves and of ``pr_curves.png`` (``labelport.evaluation.kinds.CURVES``); the unit page's match
legend uses the words of the CLI; a long title is cut in its middle, whole on hover.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from browser import CHROMEDRIVER, CHROMIUM, chromium, serving, wait_ready
from conftest import write_key
from labelport import DataUnit, UserClient
from labelport.evaluation.kinds import CURVES, MATCH_COLOURS, MATCH_NAMES
from labelport.viewer.local import create_local_app
from test_viewer import Site
from test_viewer_evaluation import EvalSite
from test_viewer_evaluation import site as site  # the module's stored evaluation, in a browser

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


def _rgb(css: str) -> str:
    """``rgb(46, 125, 50)`` or ``#2e7d32`` as ``#2e7d32``."""
    if css.startswith("#"):
        return css.lower()
    r, g, b = (int(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def test_the_pr_legend_has_a_swatch_per_curve_in_the_curves_colours(site: EvalSite, tmp_path: Path) -> None:
    site.open(f"/projects/{site.project.project_hash}/evaluation?compare=model", "evaluation")
    rows = site.driver.find_elements("css selector", "#pr-legend .class-row")
    legend = {}
    for row in rows:
        swatch = row.find_element("css selector", ".swatch")
        legend[row.text.strip()] = _rgb(swatch.value_of_css_property("background-color"))
        assert swatch.size["width"] >= 8 and swatch.size["height"] >= 8
    assert legend == {label: colour for label, _iou, colour in CURVES}
    lines = {
        line.get_attribute("data-iou"): line.get_attribute("stroke")
        for line in site.driver.find_elements("css selector", "#pr-curves polyline")
    }
    assert lines == {("mean" if iou is None else str(iou)): colour for _label, iou, colour in CURVES}
    chart = site.driver.find_element("css selector", "#pr-curves")
    shot = tmp_path / "evaluation.png"
    chart.find_element("xpath", "..").screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.size[0] > 300
    keep(shot, "pr-legend.png")


def test_the_unit_legend_uses_the_one_vocabulary(site: EvalSite) -> None:
    data_hash = site.hashes["plain-1.png"]
    site.open(f"/projects/{site.project.project_hash}/units/{data_hash}?compare=model", "unit")
    rows = site.driver.find_elements("css selector", "#match-legend .class-row")
    shown = {
        row.get_attribute("data-match"): (
            row.find_element("css selector", ".name").text,
            _rgb(row.find_element("css selector", ".swatch").value_of_css_property("background-color")),
        )
        for row in rows
    }
    assert shown == {k: (MATCH_NAMES[k], MATCH_COLOURS[k]) for k in MATCH_NAMES}


@pytest.fixture(scope="module")
def coco_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("viewer-titles")
    client = UserClient.create_with_ssh_private_key(
        ssh_private_key_path=write_key(tmp / "id"), home=tmp / "home"
    )
    project = client.create_project("val2014")
    titles = ["COCO_val2014_000000000139.jpg", "COCO_val2014_000000000285.jpg", "a.jpg"]
    project.add_data_units([DataUnit.image(t, width=64, height=48) for t in titles])
    hashes = {u.title: u.data_hash for u in project.list_data_units()}
    app = create_local_app(client.service, "t0ken", cache_dir=tmp / "thumbs")
    with serving(app) as url, chromium() as driver:
        driver.get(f"{url}/?token=t0ken")
        wait_ready(driver, "projects")
        yield Site(url, driver, project, hashes)


def test_grid_cards_cut_long_titles_in_the_middle_with_the_whole_title_on_hover(
    coco_site: Site, tmp_path: Path
) -> None:
    coco_site.open(f"/projects/{coco_site.project.project_hash}", "grid")
    shown = {}
    for card in coco_site.driver.find_elements("css selector", ".unit[data-data-hash]"):
        title = card.find_element("css selector", ".meta .title")
        shown[title.get_attribute("title")] = title.text
        assert title.size["width"] >= title.get_property("scrollWidth") - 1  # not cut again by CSS
    assert shown["a.jpg"] == "a.jpg"
    long = [t for t in shown if t.startswith("COCO")]
    assert len(long) == 2 and shown[long[0]] != shown[long[1]]
    for full in long:
        head, _, tail = shown[full].partition("…")
        assert full.startswith(head) and full.endswith(tail) and len(tail) >= 12 and len(head) >= 8
    shot = tmp_path / "grid.png"
    coco_site.driver.save_screenshot(str(shot))
    keep(shot, "grid-titles.png")


def keep(shot: Path, name: str) -> None:
    """Keep a screenshot for a person to look at, when $KEEP_SCREENS is set."""
    import os

    if os.environ.get("KEEP_SCREENS"):
        Path(os.environ["KEEP_SCREENS"]).mkdir(parents=True, exist_ok=True)
        (Path(os.environ["KEEP_SCREENS"]) / name).write_bytes(shot.read_bytes())
