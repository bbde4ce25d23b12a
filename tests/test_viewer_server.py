"""The team server's viewer (/ui/): sign-in links, sessions, the API's roles; and `labelport render`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

import viewer_fixture as fx
from browser import CHROMEDRIVER, CHROMIUM, chromium, console_errors, serving, wait_ready
from conftest import write_key
from labelport import UserClient
from labelport.cli import cli
from labelport.errors import LabelportError
from labelport.keys import Identity
from labelport.server.admin import add_user, open_store
from labelport.server.app import create_app
from labelport.server.sessions import login_link
from labelport.store.sqlite import SqliteStore
from labelport.viewer.render import render_unit


class Team:
    def __init__(self, url: str, keys: dict[str, Identity], project_hash: str, db: Any) -> None:
        self.url, self.keys, self.project_hash, self.db = url, keys, project_hash, db
        self.clients: list[httpx.Client] = []
        self.remote: Any = None

    def session(self, who: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url)
        self.clients.append(client)
        answer = client.get(login_link(self.keys[who], self.url), follow_redirects=False)
        assert answer.status_code == 303, answer.text
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie
        return client


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def team(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """A team server on a SQLite file or a fresh PostgreSQL database: an owner, a viewer, a stranger."""
    tmp = tmp_path_factory.mktemp("team")
    if request.param == "postgres":
        db: Any = request.getfixturevalue("postgres_server").create_database()
    else:
        db = tmp / "team.db"
    keys = {who: Identity.load(write_key(tmp / who)) for who in ("owner", "viewer", "stranger")}
    for who, identity in keys.items():
        add_user(str(db), who, identity.public_text)
    store = open_store(str(db))
    app = create_app(store, media_roots=[tmp / "media"], thumbs_dir=tmp / "thumbs")
    with serving(app) as url:
        owner = UserClient.create_with_ssh_private_key(ssh_private_key_path=tmp / "owner", domain=url)
        project = fx.build(owner, tmp / "media", tmp / "outside")
        project.service.add_member(project.project_hash, keys["viewer"].fingerprint, "viewer")
        found = Team(url, keys, project.project_hash, db)
        found.remote = project
        yield found
        for c in found.clients:
            c.close()
        owner.service.close()  # type: ignore[attr-defined]
    store.close()


def test_the_remote_client_pages_and_counts_as_the_store_does(team: Team) -> None:
    from labelport.store.base import UnitQuery

    project = team.remote
    page = project.find_data_units(UnitQuery(classes=("fcar",)), limit=2, offset=1)
    assert page.total == 5 and [u.title for u in page.units] == ["plain-1.png", "plain-2.png"]
    assert project.class_counts(UnitQuery(title="scan"))["froof"] == 2
    wanted = [u.data_hash for u in page.units]
    assert [u.data_hash for u in project.get_data_units(wanted[::-1])] == wanted[::-1]
    with pytest.raises(LabelportError, match="a page holds"):
        project.find_data_units(limit=1000)


def test_a_sign_in_link_works_once_and_gives_a_session(team: Team) -> None:
    link = login_link(team.keys["viewer"], team.url)
    first = httpx.get(link, follow_redirects=False)
    assert first.status_code == 303
    assert httpx.get(link, follow_redirects=False).status_code == 401  # used
    expired = login_link(team.keys["viewer"], team.url, now=time.time() - 3600)
    assert httpx.get(expired, follow_redirects=False).status_code == 401
    forged = link.replace("sig=", "sig=AA")
    assert httpx.get(forged, follow_redirects=False).status_code == 401
    assert httpx.get(f"{team.url}/ui/api/projects").status_code == 401  # no session, nothing


def test_a_non_member_sees_404_and_a_viewer_changes_nothing(team: Team) -> None:
    stranger, viewer = team.session("stranger"), team.session("viewer")
    assert stranger.get("/ui/api/projects").json()["projects"] == []
    for path in (f"/ui/projects/{team.project_hash}", f"/ui/api/projects/{team.project_hash}/units"):
        assert stranger.get(path).status_code == 404
    units = viewer.get(f"/ui/api/projects/{team.project_hash}/units").json()
    assert units["total"] == 7
    before = sum(len(u["marks"]) for u in units["units"])
    # the session opens the viewer only: the API wants signed requests, the viewer has no writes
    put = viewer.put(
        f"/projects/{team.project_hash}/label-rows",
        json={"branch": "main", "data_hash": "x", "objects": [], "classifications": []},
    )
    assert put.status_code == 401
    assert viewer.post(f"/ui/api/projects/{team.project_hash}/units").status_code == 405
    after = viewer.get(f"/ui/api/projects/{team.project_hash}/units").json()
    assert sum(len(u["marks"]) for u in after["units"]) == before
    # and signing out ends the session on the server
    assert viewer.post("/ui/logout", follow_redirects=False).status_code == 303
    assert viewer.get("/ui/api/projects").status_code == 401


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs chromium")
def test_the_server_viewer_in_a_browser(team: Team) -> None:
    with chromium() as driver:
        driver.get(login_link(team.keys["viewer"], team.url))
        wait_ready(driver, "projects")
        assert len(driver.find_elements("css selector", "[data-project-hash]")) == 1
        driver.get(f"{team.url}/ui/projects/{team.project_hash}")
        wait_ready(driver, "grid")
        assert len(driver.find_elements("css selector", "#units [data-data-hash]")) == 7
        assert console_errors(driver) == []
    with chromium() as driver:
        driver.get(login_link(team.keys["stranger"], team.url))
        wait_ready(driver, "projects")
        driver.get(f"{team.url}/ui/projects/{team.project_hash}")
        wait_ready(driver, "error")
        assert driver.find_element("css selector", ".error-page h1").text == "404"


def _pixel(image: Any, x: int, y: int) -> tuple[int, int, int]:
    value = image.getpixel((x, y))
    return value[0], value[1], value[2]


def test_render_draws_the_labels_on_the_image(tmp_path: Path, client: UserClient) -> None:
    project = fx.build(client, tmp_path / "media", tmp_path / "outside")
    out, note = render_unit(project, title="every-shape.png", out=tmp_path / "every.png")
    assert note is None
    with Image.open(out) as image:
        assert image.size == (fx.WIDTH, fx.HEIGHT)
        assert _pixel(image, 5, 5) == fx.BACKGROUND
        assert _pixel(image, 50, 40) != fx.BACKGROUND  # inside the box
        assert _pixel(image, 215, 130) != fx.BACKGROUND  # the mask
        assert _pixel(image, 130, 100) == fx.BACKGROUND  # beside the polyline
    out, note = render_unit(
        project, title="secret.png", out=tmp_path / "secret.png", media_roots=[tmp_path / "media"]
    )
    assert note is not None and "outside the media roots" in note
    with Image.open(out) as image:
        assert _pixel(image, 5, 5) != (255, 0, 0)  # the secret's pixels were not read


def test_render_command(tmp_path: Path, home: Path, key_path: Path) -> None:
    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)
    project = fx.build(client, tmp_path / "media", tmp_path / "outside")
    client.service.store.close()  # type: ignore[attr-defined]
    run = CliRunner().invoke
    result = run(
        cli,
        [
            "--key",
            str(key_path),
            "render",
            project.project_hash,
            "--title",
            "plain-1.png",
            "-o",
            str(tmp_path / "p.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").is_file() and "Wrote" in result.output
    missing = run(
        cli,
        [
            "--key",
            str(key_path),
            "render",
            project.project_hash,
            "--title",
            "nope.png",
            "-o",
            str(tmp_path / "n.png"),
        ],
    )
    assert missing.exit_code == 1 and "nope.png" in missing.output
    both = run(cli, ["--key", str(key_path), "render", project.project_hash, "-o", str(tmp_path / "n.png")])
    assert both.exit_code == 2


def test_labelport_view_prints_a_tokened_address_on_localhost(
    tmp_path: Path, home: Path, key_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from browser import free_port

    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)
    project = fx.build(client, tmp_path / "media", tmp_path / "outside")
    client.service.store.close()  # type: ignore[attr-defined]
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from labelport.cli import main; main()",
        "--key",
        str(key_path),
        "view",
        project.project_hash,
    ]
    command += ["--port", str(port), "--media-root", str(tmp_path / "media")]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        address = line.split(" at ", 1)[1].strip()
        assert address.startswith(f"http://127.0.0.1:{port}/projects/{project.project_hash}?token=")
        deadline = time.time() + 20
        while True:
            try:
                with httpx.Client() as http:
                    page = http.get(address, follow_redirects=True)
                    api = http.get(f"http://127.0.0.1:{port}/api/projects/{project.project_hash}/units")
                break
            except httpx.ConnectError:
                assert time.time() < deadline, "labelport view did not start"
                time.sleep(0.1)
        assert page.status_code == 200 and 'data-page="grid"' in page.text
        assert api.status_code == 200 and api.json()["total"] == 7  # the cookie the token set
        assert httpx.get(f"http://127.0.0.1:{port}/api/projects").status_code == 401  # no token, nothing
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_the_session_cookie_is_secure_over_https_and_expires(tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "s.db"
    identity = Identity.load(write_key(tmp_path / "ada"))
    add_user(str(db), "ada", identity.public_text)
    store = SqliteStore(db)

    async def sign_in(base: str) -> str:
        transport = httpx.ASGITransport(app=create_app(store, thumbs_dir=tmp_path / "thumbs"))
        async with httpx.AsyncClient(transport=transport, base_url=base) as http:
            answer = await http.get(login_link(identity, base), follow_redirects=False)
            assert answer.status_code == 303
            return answer.headers["set-cookie"].lower()

    try:
        secure = asyncio.run(sign_in("https://labels.example"))
        plain = asyncio.run(sign_in("http://labels.example"))
    finally:
        store.close()
    assert "; secure" in secure and "; secure" not in plain
    for cookie in (secure, plain):
        assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=43200" in cookie
        assert "path=/ui" in cookie


def test_a_used_link_stays_refused_until_it_expires(tmp_path: Path) -> None:
    from urllib.parse import parse_qsl, urlsplit

    from labelport.errors import AuthError
    from labelport.server.sessions import Sessions
    from labelport.server.signing import NONCE_KEEP_SECONDS

    db = tmp_path / "s.db"
    identity = Identity.load(write_key(tmp_path / "ada"))
    add_user(str(db), "ada", identity.public_text)
    store = SqliteStore(db)
    now = [1_000_000.0]
    sessions = Sessions(store, clock=lambda: now[0])
    params = dict(parse_qsl(urlsplit(login_link(identity, "http://x", seconds=3600, now=now[0])).query))
    try:
        sessions.open_link(params)
        now[0] += 2 * NONCE_KEEP_SECONDS  # signed API requests meanwhile forget their old nonces
        store.use_nonce("an-api-request-nonce", now[0], NONCE_KEEP_SECONDS)
        with pytest.raises(AuthError):
            sessions.open_link(params)
        now[0] += 3600
        with pytest.raises(AuthError):  # and past its time it is refused for that
            sessions.open_link(params)
    finally:
        store.close()


def test_labelport_view_on_a_busy_port_is_one_sentence(home: Path, key_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["--key", str(key_path), "view", "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is in use; pass another with --port." in result.output
    assert "labelport viewer at" not in result.output
