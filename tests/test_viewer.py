"""The viewer in a real headless browser (chromium + chromedriver from Debian, driven by Selenium)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import viewer_fixture as fx
from browser import CHROMEDRIVER, CHROMIUM, chromium, console_errors, serving, wait_ready
from conftest import write_key
from labelport import UserClient
from labelport.client import Project
from labelport.viewer.local import create_local_app

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
SHOTS = Path(os.environ.get("VIEWER_SCREENSHOTS", "")) if os.environ.get("VIEWER_SCREENSHOTS") else None


class Site:
    def __init__(self, url: str, driver: Any, project: Project, hashes: dict[str, str]) -> None:
        self.url, self.driver, self.project, self.hashes = url, driver, project, hashes
        self.thumbs = Path()

    def open(self, path: str, page: str) -> None:
        self.driver.get(self.url + path)
        wait_ready(self.driver, page)
        assert console_errors(self.driver) == []

    def shot(self, name: str | None = None) -> Image.Image:
        """A screenshot; kept as ``name`` in $VIEWER_SCREENSHOTS when both are given (docs/viewer/ holds them)."""
        data = self.driver.get_screenshot_as_png()
        if SHOTS is not None and name is not None:
            SHOTS.mkdir(parents=True, exist_ok=True)
            (SHOTS / name).write_bytes(data)
        return Image.open(io.BytesIO(data)).convert("RGB")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("viewer")
    client = UserClient.create_with_ssh_private_key(
        ssh_private_key_path=write_key(tmp / "id"), home=tmp / "home"
    )
    project = fx.build(client, tmp / "media", tmp / "outside")
    hashes = {u.title: u.data_hash for u in project.list_data_units()}
    app = create_local_app(client.service, "t0ken", media_roots=[tmp / "media"], cache_dir=tmp / "thumbs")
    with serving(app) as url, chromium() as driver:
        driver.get(f"{url}/?token=t0ken")
        wait_ready(driver, "projects")
        found = Site(url, driver, project, hashes)
        found.thumbs = tmp / "thumbs"
        yield found


def _follow(site: Site, element: Any, page: str) -> None:
    """Click a link and wait for the next page to draw (never mistaking the old one for it)."""
    site.driver.execute_script("document.body.dataset.ready = 'leaving'")
    element.click()
    wait_ready(site.driver, page)


def _grid(site: Site) -> tuple[list[str], int]:
    units = site.driver.find_elements("css selector", "#units [data-data-hash]")
    labels = site.driver.find_elements("css selector", "#units [data-object-hash]")
    return [u.get_attribute("data-data-hash") for u in units], len(labels)


def test_projects_page_lists_the_project(site: Site) -> None:
    site.open("/", "projects")
    cards = site.driver.find_elements("css selector", "[data-project-hash]")
    assert [c.get_attribute("data-project-hash") for c in cards] == [site.project.project_hash]
    assert "7 data units" in cards[0].text
    site.shot("projects.png")


def test_grid_shows_every_unit_and_label_and_a_class_filter_narrows_both(site: Site) -> None:
    site.open(f"/projects/{site.project.project_hash}", "grid")
    units, labels = _grid(site)
    assert sorted(units) == sorted(site.hashes.values())
    rows = site.project.label_rows_of(site.project.list_data_units())
    expected = sum(1 for r in rows for o in r.object_instances if 0 in o.frames)
    assert labels == expected == 7 + 4 + 1 + 1  # every shape, four cars, scan-7's and clip.mp4's frame 0
    assert site.driver.find_element("css selector", "#total").text == "7 data units"
    counts = {
        e.get_attribute("data-feature-hash"): e.find_element("css selector", ".count").text
        for e in site.driver.find_elements("css selector", "#f-classes [data-feature-hash]")
    }
    assert counts["fcar"] == "5" and counts["froof"] == "3" and counts["flane"] == "11"
    site.shot("grid-fixture.png")

    site.driver.find_element("css selector", '#f-classes [data-feature-hash="fcar"] input').click()
    wait_ready(site.driver, "grid")
    units, labels = _grid(site)
    assert sorted(units) == sorted(h for t, h in site.hashes.items() if t not in ("scan-7", "clip.mp4"))
    assert labels == 5
    drawn = {
        e.get_attribute("data-feature-hash")
        for e in site.driver.find_elements("css selector", "#units .mark")
    }
    assert drawn == {"fcar"}
    assert "class=fcar" in site.driver.current_url  # the view can be shared
    site.open(f"/projects/{site.project.project_hash}?class=froof&q=scan", "grid")
    assert _grid(site) == ([site.hashes["scan-7"]], 1)
    assert console_errors(site.driver) == []


def test_grid_filters_by_confidence_and_attribute_on_a_branch(site: Site) -> None:
    site.open(f"/projects/{site.project.project_hash}?branch=model&conf=0.5", "grid")
    assert _grid(site) == ([site.hashes["every-shape.png"]], 1)
    blue = site.project.ontology_structure.get_child_by_title("car").attributes[0].option("blue")
    site.open(f"/projects/{site.project.project_hash}?attr=attrcolour={blue.feature_node_hash}", "grid")
    units, labels = _grid(site)
    assert sorted(units) == sorted(
        site.hashes[t] for t in ("plain-1.png", "plain-2.png", "secret.png", "broken.png")
    )
    assert labels == 4


def _colour(site: Site, feature_hash: str) -> tuple[int, int, int]:
    classes = site.driver.execute_script(
        f"return fetch('/api/projects/{site.project.project_hash}').then(r => r.json())"
    )["classes"]
    value = next(c["color"] for c in classes if c["feature_hash"] == feature_hash)
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _near(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=False))


def test_unit_page_draws_each_shape_kind_at_its_pixels(site: Site) -> None:
    site.open(f"/projects/{site.project.project_hash}/units/{site.hashes['every-shape.png']}?zoom=1", "unit")
    drawn = {
        e.get_attribute("data-object-hash") for e in site.driver.find_elements("css selector", "#plane .mark")
    }
    assert drawn == {f"o-{t}" for t in ("car", "sign", "roof", "lane", "lamp", "person", "puddle")}
    rect = site.driver.execute_script(
        "const r = document.getElementById('plane').getBoundingClientRect(); return [r.left, r.top];"
    )
    shot = site.shot()

    def px(x: float, y: float) -> tuple[int, int, int]:
        value = shot.getpixel((round(rect[0] + x), round(rect[1] + y)))
        assert isinstance(value, tuple)
        return value[0], value[1], value[2]

    bg = fx.BACKGROUND
    box = fx.BOX
    # the box: its outline on its edges, tinted inside, untouched a few pixels outside
    assert _near(px(box.x, box.y + box.h / 2), _colour(site, "fcar"))
    assert _near(px(box.x + box.w, box.y + box.h / 2), _colour(site, "fcar"))
    assert px(box.x - 4, box.y + box.h / 2) == bg and px(box.x + box.w + 4, box.y + box.h / 2) == bg
    assert px(box.x + box.w / 2, box.y + box.h / 2) != bg
    # the rotated box: its centre tinted, its unrotated corner (outside the turned box) not
    assert px(ROT_CX, ROT_CY) != bg and px(fx.ROTATED.x + 1, fx.ROTATED.y + 1) == bg
    # the polygon's two rings, and the gap between them
    assert px(40, 110) != bg and px(82, 112) != bg and px(65, 95) == bg
    # the polyline on its segments, nothing off them
    assert _near(px(130, 80), _colour(site, "flane")) and _near(px(150, 100), _colour(site, "flane"))
    assert px(130, 100) == bg
    # the point, the skeleton's keypoints and an edge
    assert _near(px(200, 20), _colour(site, "flamp"))
    assert _near(px(180, 85), _colour(site, "fperson"))
    # the mask (decoded from RLE) inside its rectangle, and not beside it
    mx, my, mw, _ = fx.MASK_BOX
    assert px(mx + mw / 2, my + 10) != bg and px(mx - 3, my + 10) == bg and px(mx + mw / 2, my - 3) == bg


ROT_CX = fx.ROTATED.x + fx.ROTATED.w / 2
ROT_CY = fx.ROTATED.y + fx.ROTATED.h / 2


def test_unit_page_legend_toggles_and_hover_card(site: Site) -> None:
    site.open(f"/projects/{site.project.project_hash}/units/{site.hashes['every-shape.png']}", "unit")
    site.shot("unit.png")
    site.driver.find_element("css selector", '#legend [data-feature-hash="fcar"] input').click()
    car = site.driver.find_element("css selector", '#plane .mark[data-feature-hash="fcar"]')
    assert "off" in car.get_attribute("class")
    site.driver.find_element("css selector", '#legend [data-feature-hash="fcar"] input').click()
    from selenium.webdriver.common.action_chains import ActionChains

    polygon = site.driver.find_element("css selector", '#plane .mark[data-object-hash="o-car"] polygon')
    ActionChains(site.driver).move_to_element(polygon).perform()
    card = site.driver.find_element("id", "card")
    assert card.is_displayed()
    text = card.text
    assert "car" in text and "colour" in text and "red" in text and "ada" in text and "1.000" in text
    site.shot("hover.png")


def test_frames_of_a_dicom_series_have_a_slider(site: Site) -> None:
    site.open(f"/projects/{site.project.project_hash}/units/{site.hashes['scan-7']}", "unit")
    marks = site.driver.find_elements("css selector", "#plane .mark")
    assert len(marks) == 1
    first = marks[0].get_attribute("data-object-hash")
    slider = site.driver.find_element("id", "frame")
    site.driver.execute_script(
        "arguments[0].value = 1; arguments[0].dispatchEvent(new Event('input'));", slider
    )
    again = site.driver.find_elements("css selector", "#plane .mark")
    assert len(again) == 1 and again[0].get_attribute("data-object-hash") != first
    assert "frame=1" in site.driver.current_url


def test_a_videos_frames_have_a_slider_and_labels_on_a_neutral_canvas(site: Site) -> None:
    site.open(f"/projects/{site.project.project_hash}/units/{site.hashes['clip.mp4']}", "unit")
    assert "no location" in site.driver.find_element("css selector", ".canvas-note").text

    def drawn() -> set[str]:
        return {
            e.get_attribute("data-object-hash")
            for e in site.driver.find_elements("css selector", "#plane .mark")
        }

    assert drawn() == {"o-clip-lane"}
    slider = site.driver.find_element("id", "frame")
    site.driver.execute_script(
        "arguments[0].value = 5; arguments[0].dispatchEvent(new Event('input'));", slider
    )
    assert drawn() == {"o-clip-lane", "o-clip-lamp"}
    points = site.driver.find_element("css selector", '#plane .mark[data-object-hash="o-clip-lane"] polyline')
    assert points.get_attribute("points") == "60,150 110,110"  # frame 5's own geometry
    assert console_errors(site.driver) == []


def test_two_branches_side_by_side(site: Site) -> None:
    site.open(
        f"/projects/{site.project.project_hash}/units/{site.hashes['every-shape.png']}?compare=model&layout=side",
        "unit",
    )
    right = site.driver.find_elements("css selector", "#plane-2 .mark.compare")
    assert [m.get_attribute("data-object-hash") for m in right] == ["pred-every-shape.png"]
    site.shot("side-by-side-fixture.png")


def test_a_path_outside_the_media_roots_is_refused(site: Site) -> None:
    target = f"/media/{site.project.project_hash}/{site.hashes['secret.png']}/0"
    answer = site.driver.execute_script(
        f"return fetch('{target}').then(async r => [r.status, (await r.json()).message])"
    )
    assert answer[0] == 403 and "outside the media roots" in answer[1]
    assert [e for e in console_errors(site.driver) if "403" not in e] == []  # the refusal, nothing else
    site.open(f"/projects/{site.project.project_hash}/units/{site.hashes['secret.png']}", "unit")
    note = site.driver.find_element("css selector", ".canvas-note").text
    assert "outside the media roots" in note
    assert site.driver.find_elements("css selector", "#plane img") == []  # labels on a neutral canvas
    inside = site.driver.execute_script(
        f"return fetch('/media/{site.project.project_hash}/{site.hashes['plain-1.png']}/0').then(r => r.status)"
    )
    assert inside == 200


def test_without_the_token_nothing_is_served(site: Site) -> None:
    import httpx

    for path in (
        "/api/projects",
        f"/api/projects/{site.project.project_hash}/units",
        f"/media/{site.project.project_hash}/{site.hashes['plain-1.png']}/0",
    ):
        assert httpx.get(site.url + path).status_code == 401


def test_a_unit_page_steps_through_the_grids_filtered_units(site: Site) -> None:
    site.open(f"/projects/{site.project.project_hash}?class=fcar", "grid")
    _follow(site, site.driver.find_elements("css selector", "#units [data-data-hash]")[1], "unit")
    assert f"/units/{site.hashes['plain-1.png']}" in site.driver.current_url
    _follow(site, site.driver.find_element("id", "next-unit"), "unit")
    assert f"/units/{site.hashes['plain-2.png']}" in site.driver.current_url
    assert "class=fcar" in site.driver.current_url
    _follow(site, site.driver.find_element("id", "prev-unit"), "unit")
    _follow(site, site.driver.find_element("id", "prev-unit"), "unit")
    assert f"/units/{site.hashes['every-shape.png']}" in site.driver.current_url
    assert "disabled" in site.driver.find_element("id", "prev-unit").get_attribute("class")
    assert console_errors(site.driver) == []


def _fetch(site: Site, path: str) -> Any:
    return site.driver.execute_script(
        "return fetch(arguments[0]).then(async r => [r.status, r.headers.get('content-type'), "
        "r.headers.get('x-labelport-note'), r.headers.get('content-type').includes('json') ? await r.json() : null])",
        path,
    )


def test_thumbnails_are_made_with_pillow_and_cached_on_disk(site: Site) -> None:
    h = site.project.project_hash
    status, kind, note, _ = _fetch(site, f"/thumbs/{h}/{site.hashes['plain-1.png']}?labels=1")
    assert (status, kind, note) == (200, "image/jpeg", None)
    assert len(list(site.thumbs.glob("*.jpg"))) >= 1
    status, kind, note, _ = _fetch(site, f"/thumbs/{h}/{site.hashes['broken.png']}")
    assert status == 200 and "not an image" in note  # a neutral canvas, and why


def test_a_bad_filter_is_one_sentence_naming_it(site: Site) -> None:
    h = site.project.project_hash
    status, _, _, body = _fetch(site, f"/api/projects/{h}/units?conf=lots")
    assert status == 400 and body["message"] == "conf must be a number from 0 to 1, not 'lots'."
    status, _, _, body = _fetch(site, f"/api/projects/{h}/units?attr=" + "x%5C%22%5D%3Dred")
    assert status == 400 and body["message"].startswith("attr must be ATTRIBUTE_HASH=VALUE")
    status, _, _, body = _fetch(site, f"/api/projects/{h}/units?page=0")
    assert status == 400 and "page must be a whole number" in body["message"]
    status, _, _, body = _fetch(site, f"/api/projects/{h}/units/not-a-unit")
    assert status == 404
    assert [e for e in console_errors(site.driver) if "40" not in e] == []


def test_every_response_carries_the_security_headers(site: Site) -> None:
    import httpx

    from labelport.viewer.local import COOKIE

    project, unit = site.project.project_hash, site.hashes["plain-1.png"]
    paths = (
        "/",
        f"/projects/{project}",
        f"/projects/{project}/units/{unit}",
        "/api/projects",
        f"/api/projects/{project}/units",
        f"/media/{project}/{unit}/0",
        f"/thumbs/{project}/{unit}",
        "/static/app.js",
        "/no/such/page",
    )
    for path in paths:
        for cookies in ({COOKIE: "t0ken"}, {}):
            headers = httpx.get(site.url + path, cookies=cookies).headers
            assert headers["x-frame-options"] == "DENY", path
            assert headers["referrer-policy"] == "no-referrer", path
            assert headers["x-content-type-options"] == "nosniff", path
            policy = headers["content-security-policy"]
            assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, path
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path


def test_the_pages_draw_under_their_content_security_policy(site: Site) -> None:
    """Colour swatches and the canvas size are styles the script sets: through the CSSOM, which the
    policy allows (a style attribute would be refused and logged as a console error)."""
    site.open(f"/projects/{site.project.project_hash}/units/{site.hashes['every-shape.png']}", "unit")
    swatch = site.driver.find_element("css selector", "#legend .swatch")
    assert swatch.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
    site.open(f"/projects/{site.project.project_hash}", "grid")
    assert console_errors(site.driver) == []


def test_a_skeleton_edge_naming_a_keypoint_the_mark_lacks_is_not_drawn(site: Site) -> None:
    """A skeleton copied from COCO's 17 points onto fewer keypoints names keypoints that are not
    there: the page draws the edges between keypoints it has and no others, and throws nothing."""
    site.open(f"/projects/{site.project.project_hash}/units/{site.hashes['every-shape.png']}", "unit")
    lines = site.driver.execute_script(
        """
        const mark = {object_hash: "o-x", feature_hash: "fx", kind: "skeleton", color: "#ff0000",
                      keypoints: [[1, 1, 2], [5, 5, 2], [9, 1, 2]],
                      edges: [[0, 1], [15, 13], [-1, 0], [1, 2], [0, 0.5], [2, 3]]};
        return Array.from(drawMark(mark, {w: 10, h: 10}).querySelectorAll("line.edge"),
                          (l) => [l.getAttribute("x1"), l.getAttribute("x2")]);
        """
    )
    assert lines == [["1", "5"], ["5", "9"]]
    assert console_errors(site.driver) == []
