"""One media root no longer serves every project: a team server serves a project's local files only
from the folders a server admin recorded for it (inside the server's --media-root), checks a unit's
location when it is created and when it is served, and serves only images and videos, as what their
bytes are. A real server on each store, and users who try to read each other's files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from browser import serving
from conftest import write_key
from labelport import UserClient
from labelport.cli import cli
from labelport.data import DataUnit, Member
from labelport.errors import FieldError, NotFoundError
from labelport.keys import Identity
from labelport.server.admin import add_user, open_store, set_media_roots
from labelport.server.app import create_app
from labelport.server.sessions import login_link
from labelport.store.base import LabelStore

BOB_RED = (200, 10, 10)


def _png(path: Path, colour: tuple[int, int, int] = (10, 200, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), colour).save(path)
    return path


@dataclass
class Site:
    url: str
    data: Path  # the server's --media-root
    store: LabelStore
    alice: UserClient
    mallory: UserClient
    keys: dict[str, Identity]
    projects: dict[str, str]  # who -> project hash
    sessions: list[httpx.Client]
    db: str

    def session(self, who: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url)
        answer = client.get(login_link(self.keys[who], self.url), follow_redirects=False)
        assert answer.status_code == 303, answer.text
        self.sessions.append(client)
        return client


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("media")
    db = (
        request.getfixturevalue("postgres_server").create_database()
        if request.param == "postgres"
        else str(tmp / "team.db")
    )
    data = tmp / "data"
    _png(data / "alice" / "a.png")
    _png(data / "bob" / "b.png", BOB_RED)
    (data / "alice" / "notes.txt").write_text("alice's notes")
    (data / "alice" / "fake.png").write_text("not an image at all")
    (data / "alice" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    (data / "alice" / "text.mp4").write_text("a text file named like a video")
    (data / "alice" / "link.png").symlink_to(data / "bob" / "b.png")
    _png(tmp / "outside" / "o.png")
    keys = {who: Identity.load(write_key(tmp / who)) for who in ("alice", "bob", "mallory")}
    for who, identity in keys.items():
        add_user(db, who, identity.public_text)
    store = open_store(db)
    app = create_app(store, media_roots=[data], thumbs_dir=tmp / "thumbs")
    with serving(app) as url:
        clients = {
            who: UserClient.create_with_ssh_private_key(ssh_private_key_path=tmp / who, domain=url)
            for who in keys
        }
        projects = {who: c.create_project(f"{who}'s").project_hash for who, c in clients.items()}
        set_media_roots(db, projects["alice"], [str(data / "alice"), str(tmp / "outside")])
        set_media_roots(db, projects["bob"], [str(data / "bob")])
        found = Site(url, data, store, clients["alice"], clients["mallory"], keys, projects, [], db)
        yield found
        for session in found.sessions:
            session.close()
        for c in clients.values():
            c.service.close()  # type: ignore[attr-defined]
    store.close()


def _unit(title: str, location: str) -> DataUnit:
    return DataUnit.image(title, width=32, height=24, location=location)


def test_a_unit_outside_the_projects_roots_is_refused_when_created(site: Site) -> None:
    project = site.alice.get_project(site.projects["alice"])
    bob = site.data / "bob" / "b.png"
    cases: list[tuple[DataUnit, str]] = [
        (_unit("x1", str(bob)), "units[0].location"),
        (_unit("x2", str(site.data / "alice" / ".." / "bob" / "b.png")), "units[0].location"),
        (_unit("x3", f"file://{bob}"), "units[0].location"),
        (_unit("x4", "../bob/b.png"), "units[0].location"),
        (_unit("x5", str(site.data / "alice" / "link.png")), "units[0].location"),
        (DataUnit.group("g", [Member("m", 32, 24, str(bob))]), "units[0].members[0].location"),
    ]
    for unit, field in cases:
        with pytest.raises(FieldError) as caught:
            project.add_data_units([unit])
        assert caught.value.field == field, unit
        assert "outside the project's media roots" in str(caught.value)
    assert project.list_data_units() == []  # nothing was added
    project.add_data_units([_unit("a.png", str(site.data / "alice" / "a.png")), _unit("rel.png", "a.png")])
    assert sorted(u.title for u in project.list_data_units()) == ["a.png", "rel.png"]


@pytest.mark.parametrize("kind", ["import_coco", "import_labels"])
def test_a_unit_an_import_would_make_outside_the_roots_is_refused(
    site: Site, tmp_path: Path, kind: str
) -> None:
    """An import with --create-missing makes a data unit per unmatched image, located at its file name:
    a file name leading out of the project's roots is refused before anything is stored."""
    import json

    project = site.alice.get_project(site.projects["alice"])
    before = sorted(u.title for u in project.list_data_units())
    bob = str(site.data / "bob" / "b.png")
    for file_name in (bob, "../bob/b.png", f"file://{bob}"):
        coco = {
            "images": [{"id": 1, "file_name": file_name, "width": 32, "height": 24}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]}],
            "categories": [{"id": 1, "name": "cat"}],
        }
        path = tmp_path / "in.json"
        path.write_text(json.dumps(coco))
        with pytest.raises(FieldError) as caught:
            _import(project, kind, path, source_name=file_name)
        assert caught.value.field == "file_name" and "outside the project's media roots" in str(caught.value)
    assert sorted(u.title for u in project.list_data_units()) == before  # nothing was added
    inside = tmp_path / "ok.json"
    inside.write_text(
        json.dumps({**coco, "images": [{"id": 1, "file_name": "a.png", "width": 32, "height": 24}]})
    )
    assert _import(project, kind, inside, source_name=f"ok-{kind}").ok


def _import(project: Any, kind: str, path: Path, **options: Any) -> Any:
    """The COCO import itself, or the COCO format's reader and then the import (every other format's way)."""
    options |= {"categories": "create", "create_missing_data_units": True}
    if kind == "import_coco":
        return project.import_coco(str(path), **options)
    return project.import_labels(str(path), "coco", **options)


def _media(site: Site, who: str, project_hash: str, unit: DataUnit) -> httpx.Response:
    return site.session(who).get(f"/ui/media/{project_hash}/{unit.data_hash}/0")


def _stored(site: Site, who: str, title: str, location: str) -> DataUnit:
    """A unit written straight into the store: one made before the check, or by an import."""
    unit = _unit(title, location)
    site.store.add_data_units(site.projects[who], [unit])
    return unit


def test_a_unit_is_served_only_from_its_own_projects_roots(site: Site) -> None:
    bob_file = str(site.data / "bob" / "b.png")
    cases = [
        ("alice", "s-bob.png", bob_file, 403),  # another project's root
        ("alice", "s-up.png", "../bob/b.png", 403),
        ("alice", "s-link.png", str(site.data / "alice" / "link.png"), 403),  # a link out of the root
        ("alice", "s-outside.png", str(site.data.parent / "outside" / "o.png"), 403),  # beyond --media-root
        ("mallory", "m-bob.png", bob_file, 403),  # a project with no roots serves nothing local
        ("alice", "s-own.png", str(site.data / "alice" / "a.png"), 200),
        ("alice", "s-rel.png", "a.png", 200),  # relative: under the project's roots
        ("bob", "b-own.png", bob_file, 200),
    ]
    for who, title, location, status in cases:
        unit = _stored(site, who, title, location)
        answer = _media(site, who, site.projects[who], unit)
        assert answer.status_code == status, (title, answer.text)
        if status == 403:
            assert "server-tmp" not in answer.text and str(site.data / "bob") not in answer.json()[
                "message"
            ].replace(location, "")
        else:
            assert answer.headers["content-type"] == "image/png"
    # and a member of no project sees no unit of it
    other = _stored(site, "bob", "b-2.png", bob_file)
    assert _media(site, "alice", site.projects["bob"], other).status_code == 404


def test_a_thumbnail_outside_the_roots_is_a_neutral_canvas(site: Site) -> None:
    unit = _stored(site, "mallory", "m-thumb.png", str(site.data / "bob" / "b.png"))
    answer = site.session("mallory").get(f"/ui/thumbs/{site.projects['mallory']}/{unit.data_hash}")
    assert answer.status_code == 200 and "no media roots" in answer.headers["x-labelport-note"]
    with Image.open(io.BytesIO(answer.content)) as thumb:
        assert BOB_RED not in {
            thumb.convert("RGB").getpixel((x, y)) for x in range(0, 32, 4) for y in range(0, 24, 4)
        }


def test_only_images_and_videos_are_served_as_what_their_bytes_are(site: Site) -> None:
    alice = site.data / "alice"
    cases: list[tuple[str, Any, int, str | None]] = [
        ("c-notes", alice / "notes.txt", 415, None),
        ("c-fake", alice / "fake.png", 415, None),
        ("c-text-video", alice / "text.mp4", 415, None),
        ("c-clip", alice / "clip.mp4", 200, "video/mp4"),
        ("c-png", alice / "a.png", 200, "image/png"),
    ]
    for title, path, status, kind in cases:
        unit = _stored(site, "alice", title, str(path))
        answer = _media(site, "alice", site.projects["alice"], unit)
        assert answer.status_code == status, (title, answer.text)
        if kind is None:
            assert "not an image or a video" in answer.json()["message"]
            assert b"alice's notes" not in answer.content and b"not an image at all" not in answer.content
        else:
            assert answer.headers["content-type"] == kind
            assert answer.headers["x-content-type-options"] == "nosniff"


def test_media_roots_are_recorded_by_a_server_admin_on_the_database(site: Site, tmp_path: Path) -> None:
    db_url = site.db
    runner = CliRunner()
    listed = runner.invoke(cli, ["media-roots", site.projects["bob"], "--db", db_url])
    assert listed.exit_code == 0 and listed.output.strip() == str(site.data / "bob"), listed.output
    relative = runner.invoke(cli, ["media-roots", site.projects["bob"], "images", "--db", db_url])
    assert relative.exit_code == 1 and "absolute path" in relative.output
    with pytest.raises(NotFoundError):
        set_media_roots(db_url, "no-such-project", ["/srv"])
    # none recorded: nothing local is served, and the page says why
    cleared = runner.invoke(cli, ["media-roots", site.projects["bob"], "--clear", "--db", db_url])
    assert cleared.exit_code == 0 and "no media roots" in cleared.output
    unit = _stored(site, "bob", "b-cleared.png", str(site.data / "bob" / "b.png"))
    import time

    time.sleep(1.1)  # the server reads a project's roots again after a second
    assert _media(site, "bob", site.projects["bob"], unit).status_code == 403
    set_media_roots(db_url, site.projects["bob"], [str(site.data / "bob")])


def test_the_team_servers_answers_carry_the_security_headers(site: Site) -> None:
    session = site.session("alice")
    paths = ("/ui/", f"/ui/projects/{site.projects['alice']}", "/ui/api/projects", "/me", "/no/such")
    with httpx.Client(base_url=site.url) as stranger:
        for path in paths:
            for client in (session, stranger):
                headers = client.get(path).headers
                assert headers["x-frame-options"] == "DENY", path
                assert headers["referrer-policy"] == "no-referrer", path
                assert "frame-ancestors 'none'" in headers["content-security-policy"], path
