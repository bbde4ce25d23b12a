"""The team server, for real: PostgreSQL from ``tests/pg.py``, uvicorn in subprocesses, signed HTTP.

Covers the refusals of request signing, project visibility and roles, body limits, the brief's
``import.py`` over HTTP, several server processes on one database, and concurrent importing clients.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conftest import write_key
from labelport import (
    AuthError,
    DataUnit,
    FrameIndex,
    ImportFailed,
    ImportReport,
    NotFoundError,
    OntologyStructure,
    PermissionDenied,
    Project,
    Shape,
    UserClient,
)
from labelport.data import DataType, Member
from labelport.errors import LabelportError, TooLarge
from labelport.keys import Identity
from labelport.ontology import Attribute, AttributeType, Classification
from labelport.server.admin import add_user
from labelport.server.remote import ERRORS, RemoteService
from labelport.server.signing import Verifier, sign_request
from labelport.service import LocalService
from labelport.store.base import ClassificationRecord, ObjectRecord, UserRecord
from labelport.store.postgres import PostgresStore
from labelport.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from bench.pgcluster import PostgresCluster

REFUSED = {"error": "AuthError", "message": "Authentication failed."}
ROOT = Path(__file__).resolve().parents[1]


# -- servers and users -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``labelport.server.app.serve`` in a subprocess, on 127.0.0.1 and a free port."""

    def __init__(self, db: str, log: Path, prelude: str = "", **options: int) -> None:
        """``prelude``: Python run in the server's process first (a test's format added to the table)."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        code = (
            f"{prelude}\n"
            f"from labelport.server.app import serve; serve({db!r}, '127.0.0.1', {self.port}, **{options!r})"
        )
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/me", timeout=2).status_code == 401:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Team:
    """A database, a server on it, and a way to add users with fresh keys."""

    db: str
    server: ServerProcess
    folder: Path

    def user(
        self, name: str, *, admin: bool = False, kind: str = "ed25519"
    ) -> tuple[Path, Identity, UserRecord]:
        key = write_key(self.folder / f"{name}-{kind}", kind)
        identity = Identity.load(key)
        return key, identity, add_user(self.db, name, identity.public_text, admin=admin)

    def client(self, name: str, *, admin: bool = False, url: str | None = None) -> UserClient:
        key, _, _ = self.user(name, admin=admin)
        return UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain=url or self.server.url)


@pytest.fixture(scope="module")
def team(postgres_server: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    folder = tmp_path_factory.mktemp("team")
    db = postgres_server.create_database()
    server = ServerProcess(db, folder / "server.log")
    yield Team(db, server, folder)
    server.stop()


@pytest.fixture
def closing() -> Iterator[list[UserClient]]:
    """Clients to close after the test."""
    clients: list[UserClient] = []
    yield clients
    for c in clients:
        close = getattr(c.service, "close", None)
        if close is not None:
            close()


def _animals() -> OntologyStructure:
    structure = OntologyStructure()
    structure.add_object("Cat", Shape.BOUNDING_BOX)
    structure.add_object("Dog", Shape.BOUNDING_BOX)
    return structure


def _signed(identity: Identity, method: str, url: str, body: bytes = b"", **sign: Any) -> httpx.Request:
    request = httpx.Request(method, url, content=body)
    request.headers.update(sign_request(identity, method, request.url.raw_path.decode(), body, **sign))
    return request


def _send(request: httpx.Request) -> httpx.Response:
    with httpx.Client() as http:
        return http.send(request)


def synthetic_coco(images: int, per_image: int, *, first_id: int = 1) -> dict[str, Any]:
    """Boxes and polygons on ``images`` images named img0000.jpg...; ids from ``first_id``."""
    annotations = []
    ann_id = first_id
    for i in range(images):
        for k in range(per_image):
            x, y = 3 * k + i % 7, 2 * k + 1
            if k % 3 == 2:
                ring = [x, y, x + 20, y, x + 20, y + 15, x, y + 15]
                ann = {"segmentation": [ring], "bbox": [x, y, 20, 15], "area": 300.0, "category_id": 2}
            else:
                ann = {"bbox": [x, y, 10 + k, 8.5], "area": (10 + k) * 8.5, "category_id": 1}
            annotations.append({"id": ann_id, "image_id": i + 1, "iscrowd": 0, **ann})
            ann_id += 1
    return {
        "info": {"description": "synthetic"},
        "images": [
            {"id": i + 1, "file_name": f"img{i:04d}.jpg", "width": 640, "height": 480} for i in range(images)
        ],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "Cat", "supercategory": "animal"}, {"id": 2, "name": "Dog"}],
    }


def _project_with_images(client: UserClient, title: str, images: int) -> Project:
    structure = OntologyStructure()
    structure.add_object("Cat", Shape.BOUNDING_BOX)
    structure.add_object("Dog", Shape.POLYGON)
    project = client.create_project(title, ontology=structure)
    project.add_data([(f"img{i:04d}.jpg", 640, 480) for i in range(images)])
    return project


def _object_count(project: Project) -> int:
    return sum(len(r.objects) for r in project.service.load_label_rows(project.project_hash, "main"))


# -- request signing: every refusal is the same 401 ------------------------------------------------


def test_an_unsigned_request_is_refused(team: Team) -> None:
    response = httpx.get(team.server.url + "/projects")
    assert response.status_code == 401
    assert response.json() == REFUSED


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_each_kind_of_key_signs_requests(team: Team, kind: str) -> None:
    _, identity, user = team.user(f"signer-{kind}", kind=kind)
    response = _send(_signed(identity, "GET", team.server.url + "/me"))
    assert response.status_code == 200
    assert response.json()["fingerprint"] == user.fingerprint


def test_a_forged_or_tampered_signature_is_refused(team: Team) -> None:
    _, victim, _ = team.user("victim")
    _, mallory, _ = team.user("mallory")
    forged = _signed(mallory, "GET", team.server.url + "/projects")
    forged.headers["X-Labelport-Key"] = victim.fingerprint  # mallory's signature, victim's name
    tampered = _signed(victim, "POST", team.server.url + "/projects", b'{"title": "mine"}')
    tampered = httpx.Request("POST", tampered.url, content=b'{"title": "evil"}', headers=tampered.headers)
    garbage = _signed(victim, "GET", team.server.url + "/projects")
    garbage.headers["X-Labelport-Signature"] = base64.b64encode(b"\0" * 64).decode()
    not_base64 = _signed(victim, "GET", team.server.url + "/projects")
    not_base64.headers["X-Labelport-Signature"] = "%%%"
    other_path = _signed(victim, "GET", team.server.url + "/projects")
    other_path = httpx.Request("GET", team.server.url + "/ontologies", headers=other_path.headers)
    for request in (forged, tampered, garbage, not_base64, other_path):
        response = _send(request)
        assert (response.status_code, response.json()) == (401, REFUSED)


def test_an_unknown_key_is_refused(team: Team, tmp_path: Path) -> None:
    stranger = Identity.load(write_key(tmp_path / "stranger"))
    response = _send(_signed(stranger, "GET", team.server.url + "/projects"))
    assert (response.status_code, response.json()) == (401, REFUSED)
    # the wire stays uniform (above); the client says which key it sent and how an admin adds it
    with pytest.raises(AuthError) as caught:
        UserClient.create_with_ssh_private_key(
            ssh_private_key_path=tmp_path / "stranger", domain=team.server.url
        )
    assert str(caught.value) == (
        f"The server at {team.server.url} refused the key {stranger.fingerprint}: it does not know that key, "
        "or this machine's clock is more than 300 seconds off. A server admin adds the key with "
        "`labelport user add NAME --key KEY.pub --db DATABASE_URL`."
    )


def test_a_server_address_without_a_scheme_is_one_sentence(tmp_path: Path) -> None:
    key = write_key(tmp_path / "k")
    with pytest.raises(LabelportError) as caught:
        UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain="labels.example:8800")
    assert str(caught.value) == (
        "the server address 'labels.example:8800' needs its scheme: "
        "http://labels.example:8800 or https://labels.example:8800."
    )


def test_a_stale_or_future_timestamp_is_refused(team: Team) -> None:
    _, identity, _ = team.user("clock")
    now = int(time.time())
    for stamp in (now - 310, now + 310, 0):  # the limit is 300 s either way
        response = _send(_signed(identity, "GET", team.server.url + "/me", timestamp=stamp))
        assert (response.status_code, response.json()) == (401, REFUSED)
    assert _send(_signed(identity, "GET", team.server.url + "/me", timestamp=now - 200)).status_code == 200


def test_the_clock_window_is_300_seconds_either_way(tmp_path: Path) -> None:
    store = SqliteStore(":memory:")
    try:
        identity = Identity.load(write_key(tmp_path / "clock"))
        user = store.upsert_user("ada", identity.fingerprint, identity.public_text)
        verifier = Verifier(store, clock=lambda: 1_000_000.0)
        for stamp, accepted in ((999_700, True), (1_000_300, True), (999_699, False), (1_000_301, False)):
            headers = sign_request(identity, "GET", "/me", b"", timestamp=stamp)
            if accepted:
                assert verifier.authenticate("GET", "/me", b"", headers) == user
            else:
                with pytest.raises(AuthError):
                    verifier.authenticate("GET", "/me", b"", headers)
    finally:
        store.close()


def test_a_replayed_request_is_refused(team: Team) -> None:
    _, identity, _ = team.user("replay")
    request = _signed(identity, "GET", team.server.url + "/projects")
    assert _send(request).status_code == 200
    replay = _send(request)
    assert (replay.status_code, replay.json()) == (401, REFUSED)
    fresh = _signed(identity, "GET", team.server.url + "/projects")
    assert _send(fresh).status_code == 200


def test_a_request_replayed_against_another_server_process_is_refused(
    team: Team, closing: list[UserClient]
) -> None:
    other = ServerProcess(team.db, team.folder / "second-server.log")
    try:
        _, identity, _ = team.user("two-servers")
        request = _signed(identity, "POST", team.server.url + "/projects", b'{"title": "once"}')
        assert _send(request).status_code == 200
        replay = httpx.Request(
            "POST", other.url + "/projects", content=b'{"title": "once"}', headers=request.headers
        )
        response = _send(replay)
        assert (response.status_code, response.json()) == (401, REFUSED)
        # the second process serves the same database: what one writes, the other reads
        first = team.client("two-servers-a")
        second = UserClient.create_with_ssh_private_key(
            ssh_private_key_path=team.folder / "two-servers-a-ed25519", domain=other.url
        )
        closing.extend([first, second])
        project = first.create_project("shared", ontology=_animals())
        assert [p.project_hash for p in second.list_projects()] == [project.project_hash]
        assert [p.title for p in first.list_projects()] == ["shared"]
    finally:
        other.stop()


# -- visibility and roles --------------------------------------------------------------------------


def test_another_users_project_is_not_found(team: Team, closing: list[UserClient]) -> None:
    owner, outsider = team.client("owner"), team.client("outsider")
    closing.extend([owner, outsider])
    project = owner.create_project("private", ontology=_animals())
    project.add_data([("a.jpg", 10, 10)])
    assert [p.project_hash for p in outsider.list_projects()] == []
    for call in (
        lambda: outsider.get_project(project.project_hash),
        lambda: outsider.service.list_data_units(project.project_hash),
        lambda: outsider.service.load_label_rows(project.project_hash, "main"),
        lambda: outsider.service.add_data_units(
            project.project_hash, [DataUnit.image("x.jpg", width=1, height=1)]
        ),
        lambda: outsider.service.list_branches(project.project_hash),
        lambda: outsider.service.export_coco(project.project_hash, {}),
        lambda: outsider.service.import_coco(project.project_hash, synthetic_coco(1, 1), {}),
    ):
        with pytest.raises(NotFoundError) as caught:
            call()
        assert caught.value.kind == "project" and caught.value.ident == project.project_hash
    with pytest.raises(NotFoundError):
        outsider.get_project("no-such-project")
    # nor does its ontology (titled after the project) show in the outsider's list
    assert project.ontology_hash not in {o.ontology_hash for o in outsider.service.list_ontologies()}
    assert project.ontology_hash in {o.ontology_hash for o in owner.service.list_ontologies()}


def test_an_admin_sees_every_project(team: Team, closing: list[UserClient]) -> None:
    someone, admin = team.client("someone"), team.client("the-admin", admin=True)
    closing.extend([someone, admin])
    project = someone.create_project("someone's", ontology=_animals())
    assert admin.get_project(project.project_hash).title == "someone's"
    assert project.project_hash in {p.project_hash for p in admin.list_projects()}


def test_a_viewer_reads_but_cannot_write(team: Team, closing: list[UserClient]) -> None:
    owner = team.client("lead")
    viewer_key, viewer_identity, _ = team.user("viewer")
    annotator_key, annotator_identity, _ = team.user("annotator")
    viewer = UserClient.create_with_ssh_private_key(ssh_private_key_path=viewer_key, domain=team.server.url)
    annotator = UserClient.create_with_ssh_private_key(
        ssh_private_key_path=annotator_key, domain=team.server.url
    )
    closing.extend([owner, viewer, annotator])
    project = _project_with_images(owner, "roles", 2)
    project.service.add_member(project.project_hash, viewer_identity.fingerprint, "viewer")
    project.service.add_member(project.project_hash, annotator_identity.fingerprint, "annotator")
    seen = viewer.get_project(project.project_hash)
    assert [r.data_title for r in seen.list_label_rows_v2()] == ["img0000.jpg", "img0001.jpg"]
    coco = synthetic_coco(2, 2)
    for write in (
        lambda: seen.add_data([("c.jpg", 5, 5)]),
        lambda: seen.import_coco(coco),
        lambda: seen.list_label_rows_v2()[0].save(),
        lambda: seen.service.add_member(project.project_hash, viewer_identity.fingerprint, "admin"),
    ):
        with pytest.raises(PermissionDenied) as caught:
            write()
        assert caught.value.status == 403 and caught.value.project_hash == project.project_hash
    assert seen.import_coco(coco, dry_run=True).counts.imported == 4  # a dry run only reads
    assert _object_count(project) == 0
    report = annotator.get_project(project.project_hash).import_coco(coco)
    assert report.written and _object_count(project) == 4


# -- limits and errors -----------------------------------------------------------------------------


def test_an_oversized_body_is_refused_with_413(team: Team) -> None:
    small = ServerProcess(team.db, team.folder / "small-server.log", max_body_bytes=64 * 1024)
    try:
        _, identity, _ = team.user("big-sender")
        body = json.dumps({"title": "x" * 100_000}).encode()
        response = _send(_signed(identity, "POST", small.url + "/projects", body))
        assert response.status_code == 413
        assert response.json()["error"] == "TooLarge"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for i in range(0, len(body), 8192):
                yield body[i : i + 8192]

        streamed = httpx.Request("POST", small.url + "/projects", content=chunks())
        streamed.headers.update(sign_request(identity, "POST", "/projects", body))
        response = _send(streamed)
        assert response.status_code == 413 and response.json()["error"] == "TooLarge"
        # through the client: an upload chunk over the limit is the same error, as a TooLarge
        service = RemoteService(small.url, identity, chunk_bytes=256 * 1024)
        try:
            project_hash = service.create_project("limits", structure=_animals())
            with pytest.raises(TooLarge):
                service.import_coco(project_hash, os.urandom(300_000), {})
        finally:
            service.close()
    finally:
        small.stop()


def test_errors_come_back_as_the_same_types_with_their_fields(team: Team, closing: list[UserClient]) -> None:
    client = team.client("errors")
    closing.append(client)
    project = _project_with_images(client, "errors", 2)
    bad = synthetic_coco(2, 2)
    bad["annotations"][1]["bbox"] = [1, 1, -5, 3]
    with pytest.raises(ImportFailed) as caught:
        project.import_coco(bad)
    report = caught.value.report
    assert isinstance(report, ImportReport) and not report.written and report.errors
    assert report.errors[0].path.startswith("annotations[1]")
    assert _object_count(project) == 0
    with pytest.raises(NotFoundError) as missing:
        client.service.save_label_row(project.project_hash, "main", "no-such-unit", [], [])
    assert (missing.value.kind, missing.value.ident, missing.value.status) == (
        "data unit",
        "no-such-unit",
        404,
    )


def test_the_error_table_names_every_labelport_error() -> None:
    import labelport.errors as errors

    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    assert set(ERRORS) == defined


# -- records round trip exactly --------------------------------------------------------------------


def test_records_round_trip_exactly_over_http(team: Team, closing: list[UserClient]) -> None:
    client = team.client("records", admin=True)
    closing.append(client)
    service = client.service
    structure = _animals()
    structure.classifications.append(Classification(Attribute("weather", AttributeType.TEXT)))
    project_hash = service.create_project("records ✓ 'quoted' שלום", description="d\n2", structure=structure)
    units = [
        DataUnit.image("a 😀.jpg", width=640, height=480, location="s3://bucket/a.jpg"),
        DataUnit.video("clip.mp4", width=1920, height=1080, frames=30, fps=29.97),
        DataUnit.group("scan", [Member("1.dcm", 512, 512), Member("2.dcm", 256, 512, "/x")], DataType.DICOM),
    ]
    units[0].extra = {"coco": {"id": 7, "license": None, "ratio": 0.1 + 0.2}}
    service.add_data_units(project_hash, units)
    assert service.list_data_units(project_hash) == units
    cat = service.get_project(project_hash)[1].objects[0].feature_node_hash
    weather = service.get_project(project_hash)[1].classifications[0].feature_node_hash
    data_hash = units[1].data_hash
    objects = [
        ObjectRecord(
            data_hash,
            3,
            "obj00001",
            cat,
            b"[1,2.5,3,4]",
            0.30000000000000004,
            True,
            "ada",
            "t",
            None,
            None,
            None,
            None,
            False,
        ),
        ObjectRecord(
            data_hash,
            4,
            "obj00001",
            cat,
            None,
            1.0,
            False,
            None,
            None,
            b'{"a":1}',
            "x.json",
            2**53 + 1,
            b'{"id": 1, "s": "\\u00ff\\u0000", "n": 1.50}',  # any JSON object, kept byte for byte
            True,
        ),
    ]
    classifications = [ClassificationRecord(data_hash, "c1", weather, b"[0,1]", b'"yes"', "ada", None)]
    label_hash = service.save_label_row(project_hash, "review/ß", data_hash, objects, classifications)
    store = PostgresStore(team.db)
    try:
        local = LocalService(store, service.user)
        expected = local.load_label_rows(project_hash, "review/ß")
        assert service.load_label_rows(project_hash, "review/ß") == expected
        (row,) = service.load_label_rows(project_hash, "review/ß", [data_hash])
        assert (row.label_hash, row.objects, row.classifications) == (label_hash, objects, classifications)
        listed = service.list_label_rows(project_hash, "review/ß")
        assert listed == local.list_label_rows(project_hash, "review/ß")
        assert [(r.data_title, r.label_hash, r.object_count) for r in listed] == [
            ("a 😀.jpg", "", 0),
            ("clip.mp4", label_hash, 1),  # one object instance on two frames
            ("scan", "", 0),
        ]
        assert service.list_label_rows(project_hash, "review/ß", [data_hash]) == [listed[1]]
        assert service.get_project(project_hash)[0] == local.get_project(project_hash)[0]
        assert service.list_projects() == local.list_projects()
        assert service.list_branches(project_hash) == ["main", "review/ß"]
        assert [o.ontology_hash for o in service.list_ontologies()] == [
            o.ontology_hash for o in local.list_ontologies()
        ]
    finally:
        store.close()


# -- COCO over HTTP --------------------------------------------------------------------------------


def test_the_briefs_import_script_runs_against_the_server(
    team: Team, shared_fixtures: Path, tmp_path: Path
) -> None:
    key, _, _ = team.user("brief")
    setup = UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain=team.server.url)
    try:
        project = setup.create_project("cute animals", ontology=_animals())
        project.add_data([("cutekitty.jpg", 640, 480), ("cutepuppy.jpg", 640, 480)])
    finally:
        setup.service.close()
    coco = json.loads((shared_fixtures / "seed" / "bounding_box.json").read_text())
    for img in coco["images"]:
        img["image_title"] = img["file_name"]  # what the script matches on, as the platform writes it
    coco_path = tmp_path / "COCOimportfile.json"
    coco_path.write_text(json.dumps(coco))
    script = (shared_fixtures / "seed" / "import.py").read_text()
    changes = [
        (
            "from encord.utilities.coco.datastructure import FrameIndex\n"
            "from encord import EncordUserClient\n"
            "from encord.exceptions import OntologyError\n",
            "from labelport import UserClient as EncordUserClient, FrameIndex, OntologyError\n",
        ),
        (
            "create_with_ssh_private_key(ssh_private_key_path=keyfile)",
            f"create_with_ssh_private_key(ssh_private_key_path=keyfile, domain={team.server.url!r})",
        ),
        ('"<private_key_path>"', repr(str(key))),
        ('"<project_id>"', repr(project.project_hash)),
        ("Path('COCOimportfile.json')", f"Path({str(coco_path)!r})"),
    ]
    for old, new in changes:
        assert script.count(old) == 1, old
        script = script.replace(old, new)
    (tmp_path / "import.py").write_text(script)
    result = subprocess.run(
        [sys.executable, "import.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Could not match" not in result.stdout
    check = UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain=team.server.url)
    try:
        rows = {r.data_title: r for r in check.get_project(project.project_hash).list_label_rows_v2()}
        kitty = rows["cutekitty.jpg"].get_object_instances()
        puppy = rows["cutepuppy.jpg"].get_object_instances()
        assert [(o.ontology_item.title, o.get_annotation(0).coordinates.to_json()) for o in kitty] == [
            ("Cat", [246, 251, 153, 159])
        ]
        assert [(o.ontology_item.title, o.get_annotation(0).coordinates.to_json()) for o in puppy] == [
            ("Dog", [220, 236, 76, 64])
        ]
        exported = check.get_project(project.project_hash).export_coco_labels()
        assert [a["bbox"] for a in exported["annotations"]] == [[246, 251, 153, 159], [220, 236, 76, 64]]
    finally:
        check.service.close()


def test_an_import_over_http_matches_the_embedded_one(
    team: Team, shared_fixtures: Path, home: Path, key_path: Path, closing: list[UserClient]
) -> None:
    source = shared_fixtures / "coco-val2014-100" / "instances_val2014_100.json"
    coco = json.loads(source.read_text())
    data = [(img["file_name"], img["width"], img["height"]) for img in coco["images"]]
    local = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path)
    remote = team.client("val2014")
    closing.extend([local, remote])
    reports = []
    exports = []
    for client in (local, remote):
        project = client.create_project("val2014", from_coco=source)
        project.add_data(data)
        if client is remote:
            client.service.chunk_bytes = 16 * 1024  # many chunks
        first = project.import_coco(source)
        again = project.import_coco(source)  # idempotent: the same objects, updated in place
        assert again.counts.created == 0 and again.counts.imported == first.counts.imported
        reports.append(first)
        exports.append(project.export_coco_labels())
    local_report, remote_report = reports
    assert remote_report.counts == local_report.counts
    assert remote_report.source == local_report.source == "instances_val2014_100.json"
    assert remote_report.errors == local_report.errors and remote_report.warnings == local_report.warnings
    assert exports[1]["annotations"] == exports[0]["annotations"] == coco["annotations"]
    assert exports[1]["categories"] == exports[0]["categories"]
    # the file export streams from the server's spool into the file, the same bytes as in memory
    remote_project = remote.get_project(remote.list_projects()[-1].project_hash)
    written = remote_project.export_coco(home / "remote.json.gz")
    assert gzip.decompress(written.read_bytes()) == remote_project.export_coco_bytes()


def test_the_servers_import_progress_reaches_the_clients_bar(team: Team, closing: list[UserClient]) -> None:
    """After the upload (source bytes) the bar follows the server's import (annotations written),
    slice by slice, as it happens: the answer streams progress lines before the report."""
    client = team.client("progress")
    closing.append(client)
    project = _project_with_images(client, "progress", 1000)
    coco = synthetic_coco(1000, 25)  # 25,000 annotations: two slices of the importer's 20,000
    calls: list[tuple[int, int]] = []
    report = project.import_coco(coco, progress=lambda done, total: calls.append((done, total)))
    total = report.counts.annotations
    assert report.counts.imported == total == 25_000
    upload = [c for c in calls if c[1] != total]
    assert upload and upload[-1][0] == upload[-1][1]  # the whole source was sent
    assert calls[len(upload) :] == [(20_000, total), (total, total)]


def _import_processes(server: ServerProcess) -> list[int]:
    """The processes a server's imports run in: those its fork server started (children of the
    server's child that runs ``multiprocessing.forkserver``)."""
    kids: dict[int, list[int]] = {}
    commands: dict[int, bytes] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                kids.setdefault(parent, []).append(int(entry.name))
                commands[int(entry.name)] = (entry / "cmdline").read_bytes()
    forkservers = [
        p for p in kids.get(server.process.pid, []) if b"multiprocessing.forkserver" in commands[p]
    ]
    return [child for fork_server in forkservers for child in kids.get(fork_server, [])]


def test_an_import_killed_in_its_own_process_writes_nothing_and_is_a_server_failure(
    team: Team, closing: list[UserClient]
) -> None:
    """On PostgreSQL an import runs in a process of its own, one transaction on its own connection:
    killed after its first slice is written, it leaves nothing, the client hears a server failure
    (not a hang), and the project can be imported into again at once (its lock went with it)."""
    client = team.client("killed")
    closing.append(client)
    project = _project_with_images(client, "killed", 1000)
    coco = synthetic_coco(1000, 60)  # three slices of 20,000, validated in the import's process
    killed: list[int] = []

    def kill_after_the_first_slice(done: int, total: int) -> None:
        if total == 60_000 and not killed:
            (child,) = _import_processes(team.server)
            os.kill(child, signal.SIGKILL)
            killed.append(child)

    with pytest.raises(LabelportError) as caught:
        project.import_coco(coco, progress=kill_after_the_first_slice)
    assert killed and caught.value.status == 500
    assert str(caught.value) == "The server failed; its log says why."
    assert _object_count(project) == 0 and project.service.list_imports(project.project_hash) == []
    assert _import_processes(team.server) == []
    assert project.import_coco(coco).counts.imported == 60_000
    assert _object_count(project) == 60_000


def test_import_coco_labels_with_the_callers_maps_over_http(team: Team, closing: list[UserClient]) -> None:
    client = team.client("maps")
    closing.append(client)
    project = _project_with_images(client, "maps", 3)
    coco = synthetic_coco(3, 2)
    units = {u.title: u.data_hash for u in project.list_data_units()}
    # COCO image ids (ints) to frame indices, reversed on purpose; category ids to feature hashes
    image_map = {i + 1: FrameIndex(units[f"img{2 - i:04d}.jpg"], 0) for i in range(3)}
    categories = {
        c["id"]: project.ontology_structure.get_child_by_title(c["name"]).feature_node_hash
        for c in coco["categories"]
    }
    report = project.import_coco_labels(coco, categories, image_map, branch_name="mapped")
    assert report.counts.imported == 6 and report.branch == "mapped"
    rows = {r.data_title: r for r in project.list_label_rows_v2(branch_name="mapped")}
    first_image_boxes = [
        o.get_annotation(0).coordinates.to_json() for o in rows["img0002.jpg"].get_object_instances()
    ]
    assert first_image_boxes == [[0, 1, 10, 8.5], [3, 3, 11, 8.5]]


def test_eight_clients_import_and_read_at_once(team: Team) -> None:
    images, per_image = 40, 50
    expected = images * per_image
    failures: list[BaseException] = []
    seen_counts: list[set[int]] = [set() for _ in range(8)]
    done = [threading.Event() for _ in range(8)]
    projects: list[str] = [""] * 8
    ready = threading.Barrier(8)
    keys = [team.user(f"crowd-{n}")[0] for n in range(8)]

    def importer(n: int) -> None:
        try:
            client = UserClient.create_with_ssh_private_key(
                ssh_private_key_path=keys[n], domain=team.server.url
            )
            try:
                project = _project_with_images(client, f"crowd {n}", images)
                projects[n] = project.project_hash
                client.service.chunk_bytes = 8 * 1024
                ready.wait()
                report = project.import_coco(synthetic_coco(images, per_image, first_id=n * 100_000 + 1))
                assert report.written and report.counts.imported == expected
            finally:
                client.service.close()
        except BaseException as exc:  # reported below
            failures.append(exc)
            ready.abort()
        finally:
            done[n].set()

    def reader(n: int) -> None:
        try:
            client = UserClient.create_with_ssh_private_key(
                ssh_private_key_path=keys[n], domain=team.server.url
            )
            try:
                while not done[n].is_set():
                    if projects[n]:
                        seen_counts[n].add(_object_count(client.get_project(projects[n])))
                        assert len(client.list_projects()) == 1
                    time.sleep(0.01)
            finally:
                client.service.close()
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=f, args=(n,)) for n in range(8) for f in (importer, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert failures == []
    for counts in seen_counts:
        assert counts <= {0, expected}  # an import is seen whole or not at all
    store = PostgresStore(team.db)
    try:
        for n, project_hash in enumerate(projects):
            objects = list(store.iter_objects(project_hash, "main"))
            assert len(objects) == expected
            assert sorted(o.source_key for o in objects) == list(
                range(n * 100_000 + 1, n * 100_000 + 1 + expected)
            )
            assert {o.source for o in objects} == {"coco"}
    finally:
        store.close()


def test_a_server_on_a_sqlite_file_serves_the_same_api(tmp_path: Path) -> None:
    db = str(tmp_path / "team.db")
    key = write_key(tmp_path / "solo")
    identity = Identity.load(key)
    add_user(db, "solo", identity.public_text)
    server = ServerProcess(db, tmp_path / "sqlite-server.log")
    try:
        client = UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain=server.url)
        try:
            project = _project_with_images(client, "solo", 4)
            client.service.chunk_bytes = 4 * 1024
            report = project.import_coco(synthetic_coco(4, 30))
            assert report.written and _object_count(project) == 120
            assert not any((tmp_path / "team.db.uploads").iterdir())  # the upload is gone once imported
            replay = _signed(identity, "GET", server.url + "/projects")
            assert _send(replay).status_code == 200 and _send(replay).status_code == 401
        finally:
            client.service.close()
    finally:
        server.stop()


def test_uploaded_gzip_is_inflated_member_by_member_and_damage_is_one_sentence() -> None:
    """The server inflates uploads with ISA-L: several gzip members (a .json.gz sent as it is, or
    chunks cut anywhere) come out whole; a corrupt or cut-off stream is a LabelportError."""
    import gzip
    import io

    from labelport.errors import LabelportError
    from labelport.server.upload_source import GzipChunks
    from labelport.server.uploads import gunzip_chunks

    data = json.dumps({"images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(5000)]}).encode()
    compressed = GzipChunks(io.BytesIO(data), 4096)
    stream = b"".join(chunk for chunk, _sent in compressed)
    assert gzip.decompress(stream) == data  # what the client sends is gzip
    assert compressed.inflated == len(data)  # and it tells the server what that inflates to
    already = GzipChunks(io.BytesIO(stream), 4096)
    assert b"".join(chunk for chunk, _sent in already) == stream and already.inflated is None
    chunks = [stream[i : i + 1000] for i in range(0, len(stream), 1000)]
    assert len(chunks) > 2
    out = io.BytesIO()
    assert gunzip_chunks(chunks, out, limit=len(data)) == len(data) and out.getvalue() == data
    members = [gzip.compress(data[:1000]), gzip.compress(data[1000:])]
    out = io.BytesIO()
    gunzip_chunks([members[0][:7], members[0][7:] + members[1]], out, limit=len(data))
    assert out.getvalue() == data
    with pytest.raises(LabelportError, match="not a gzip stream"):
        gunzip_chunks([b"\x1f\x8b" + b"\x00" * 40], io.BytesIO(), limit=100)
    with pytest.raises(LabelportError, match="ends before its gzip stream does"):
        gunzip_chunks([chunks[0]], io.BytesIO(), limit=len(data))
    with pytest.raises(TooLarge):
        gunzip_chunks(chunks, io.BytesIO(), limit=len(data) - 1)
