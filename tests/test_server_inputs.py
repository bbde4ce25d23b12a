"""Inputs that once gave the server a 500 (or a store a traceback): each is now a 4xx with the library's
JSON error naming the field or header, and the database reads back exactly as before. Raw signed httpx
requests against a real server process on the test PostgreSQL; the stores' own rules on both stores.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from conftest import write_key
from labelport.data import DataUnit
from labelport.errors import AuthError, DataError, FieldError
from labelport.keys import Identity
from labelport.ontology import OntologyStructure
from labelport.server.signing import Verifier, sign_request
from labelport.store.base import LabelStore, ProjectRecord
from labelport.store.postgres import PostgresStore
from labelport.store.sqlite import SqliteStore
from test_server import REFUSED, ServerProcess, Team, _animals, _send, synthetic_coco
from test_server_trust import call, upload_import

# the shared team fixture (a database and a server process on it, per module) comes from test_server
TABLES = (
    "users",
    "ontologies",
    "projects",
    "memberships",
    "data_units",
    "label_rows",
    "sources",
    "objects",
    "classifications",
    "imports",
    "uploads",
    "upload_chunks",
)


def snapshot(db: str) -> dict[str, list[str]]:
    """Every row of every table but the nonces (each signed request adds one), sorted."""
    with psycopg.connect(db) as conn:
        return {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}


@pytest.fixture(scope="module")
def setup(team: Team) -> dict[str, Any]:
    """A user, a project of theirs with one image, and that image's data hash."""
    _, identity, _ = team.user("inputs")
    base = team.server.url
    project = call(
        identity, "POST", f"{base}/projects", {"title": "inputs", "structure": _animals().to_dict()}
    )
    project_hash = project.json()["hash"]
    unit = {"title": "a.jpg", "data_type": "image", "width": 64, "height": 48}
    assert (
        call(identity, "POST", f"{base}/projects/{project_hash}/data-units", {"units": [unit]}).status_code
        == 200
    )
    (stored,) = call(identity, "GET", f"{base}/projects/{project_hash}/data-units").json()
    cat = call(identity, "GET", f"{base}/projects/{project_hash}").json()["structure"]["objects"][0][
        "featureNodeHash"
    ]
    return {"identity": identity, "project": project_hash, "data_hash": stored["data_hash"], "cat": cat}


def _unit(**fields: Any) -> dict[str, Any]:
    return {"units": [{"title": "w.jpg", "data_type": "image", "width": 10, "height": 10, **fields}]}


def _row(setup: dict[str, Any], branch: str = "main", frame: int = 0, **changed: Any) -> dict[str, Any]:
    """A label row body of one box of the project's Cat; ``changed`` replaces the object's fields."""
    fields = {"geometry": "WzEsMiwzLDRd", "record": None, "feature_hash": setup["cat"], **changed}
    obj = [setup["data_hash"], frame, "o1", fields["feature_hash"], fields["geometry"], 1.0, True]
    obj += [None, None, None, "src" if fields["record"] else None, 1, fields["record"], False]
    classes = changed.get("classifications", [])
    return {"branch": branch, "data_hash": setup["data_hash"], "objects": [obj], "classifications": classes}


COCO = synthetic_coco(1, 1)
# (name, method, path under the project ("" for the server's root), body, status, error, field)
CASES: list[tuple[str, str, str, Callable[[dict[str, Any]], Any], int, str, str | None]] = [
    (
        "NUL in a project title",
        "POST",
        "/projects",
        lambda s: {"title": "a\x00b"},
        400,
        "FieldError",
        "title",
    ),
    (
        "NUL in a description",
        "POST",
        "/projects",
        lambda s: {"title": "ok", "description": "x\x00"},
        400,
        "FieldError",
        "description",
    ),
    (
        "NUL in an ontology title",
        "POST",
        "/ontologies",
        lambda s: {"title": "o\x00", "structure": {"objects": []}},
        400,
        "FieldError",
        "title",
    ),
    (
        "NUL in a data unit title",
        "POST",
        "{p}/data-units",
        lambda s: _unit(title="a\x00.jpg"),
        400,
        "FieldError",
        "data unit title",
    ),
    ("width beyond INTEGER", "POST", "{p}/data-units", lambda s: _unit(width=2**31), 400, "DataError", None),
    (
        "width beyond 64 bits",
        "POST",
        "{p}/data-units",
        lambda s: _unit(width=2**64),
        400,
        "DataError",
        None,
    ),
    (
        "frames beyond INTEGER",
        "POST",
        "{p}/data-units",
        lambda s: _unit(frames=2**40),
        400,
        "DataError",
        None,
    ),
    (
        "NUL in a branch",
        "PUT",
        "{p}/label-rows",
        lambda s: _row(s, branch="m\x00"),
        400,
        "FieldError",
        "branch",
    ),
    (
        "a frame beyond INTEGER",
        "PUT",
        "{p}/label-rows",
        lambda s: _row(s, frame=2**40),
        400,
        "FieldError",
        "objects[0].frame",
    ),
    (
        "geometry that is not JSON",
        "PUT",
        "{p}/label-rows",
        lambda s: _row(s, geometry="/w=="),
        400,
        "FieldError",
        "objects[0].geometry",
    ),
    (
        "geometry not of the shape",
        "PUT",
        "{p}/label-rows",
        lambda s: _row(s, geometry="WzFd"),  # [1]
        400,
        "FieldError",
        "objects[0].geometry",
    ),
    (
        "a source record that is not JSON",
        "PUT",
        "{p}/label-rows",
        lambda s: _row(s, geometry=None, record="AP/+"),
        400,
        "FieldError",
        "objects[0].record",
    ),
    (
        "an object of no ontology object",
        "PUT",
        "{p}/label-rows",
        lambda s: _row(s, feature_hash="nope"),
        400,
        "FieldError",
        "objects[0].feature_hash",
    ),
    (
        "a classification of no classification",
        "PUT",
        "{p}/label-rows",
        lambda s: _row(s, classifications=[[s["data_hash"], "c1", "nope", "WzBd", None, None, None]]),
        400,
        "FieldError",
        "classifications[0].feature_hash",
    ),
    (
        "a group member beyond INTEGER",
        "POST",
        "{p}/data-units",
        lambda s: _unit(data_type="img_group", members=[{"title": "m.png", "width": 2**40, "height": 1}]),
        400,
        "DataError",
        None,
    ),
    (
        "NUL in an export's branch",
        "POST",
        "{p}/export",
        lambda s: {"options": {"branch_name": "m\x00"}},
        400,
        "FieldError",
        "options.branch_name",
    ),
    (
        "a body nested 100,000 deep",
        "POST",
        "/projects",
        lambda s: b'{"title": "x", "structure": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        400,
        "LabelportError",
        None,
    ),
    (
        "NUL in a branch to read",
        "POST",
        "{p}/label-rows/load",
        lambda s: {"branch": "m\x00"},
        400,
        "FieldError",
        "branch",
    ),
    (
        "a file name over 255 bytes",
        "POST",
        "{p}/uploads",
        lambda s: {"filename": "😀" * 64 + ".json"},
        400,
        "FieldError",
        "filename",
    ),
    (
        "NUL in a file name",
        "POST",
        "{p}/uploads",
        lambda s: {"filename": "a\x00.json"},
        400,
        "FieldError",
        "filename",
    ),
    (
        "an unknown export option",
        "POST",
        "{p}/export",
        lambda s: {"options": {"colour": "red"}},
        400,
        "FieldError",
        "options.colour",
    ),
    (
        "a project on an ontology hash with NUL",
        "POST",
        "/projects",
        lambda s: {"title": "x", "ontology_hash": "a\x00"},
        404,
        "NotFoundError",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status", "error", "field"), CASES, ids=[c[0] for c in CASES]
)
def test_a_bad_value_is_a_4xx_naming_it_and_changes_nothing(
    team: Team,
    setup: dict[str, Any],
    name: str,
    method: str,
    path: str,
    body: Callable[[dict[str, Any]], Any],
    status: int,
    error: str,
    field: str | None,
) -> None:
    url = team.server.url + path.format(p=f"/projects/{setup['project']}")
    before = snapshot(team.db)
    response = call(setup["identity"], method, url, body(setup))
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == error
    assert len(answer["message"].splitlines()) == 1
    if field is not None:
        assert answer["field"] == field and answer["message"].startswith(f"{field}: ")
    if name.startswith(("width", "frames")):
        assert ("width" if name.startswith("width") else "frames") in answer["message"]
    assert snapshot(team.db) == before


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"colour": "red"}, "options.colour"),
        ({"dry_run": "yes"}, "options.dry_run"),
        ({"branch_name": 7}, "options.branch_name"),
        ({"match": "/etc/passwd"}, "options.match"),  # a server never reads a file of its own for a request
        ({"categories": "/dev/zero"}, "options.categories"),
        ({"branch_name": "b\x00"}, "options.branch_name"),
        ({"source_name": "s\x00"}, "options.source_name"),
    ],
)
def test_bad_import_options_are_a_field_error_and_leave_no_upload(
    team: Team, setup: dict[str, Any], options: dict[str, Any], field: str
) -> None:
    before = snapshot(team.db)
    response = upload_import(setup["identity"], team.server.url, setup["project"], COCO, options)
    assert response.status_code == 400, response.text
    assert (response.json()["error"], response.json()["field"]) == ("FieldError", field)
    assert snapshot(team.db) == before  # the upload is gone with its import


def test_timestamps_of_digits_that_int_does_not_read_are_refused(team: Team, setup: dict[str, Any]) -> None:
    """'²' is a digit to str.isdigit and not to int(); over HTTP a header is Latin-1 (b'\\xb2')."""
    for stamp in (b"17000000\xb2\xb3", b"\xb9" * 10):
        signed = sign_request(setup["identity"], "GET", "/me", b"")
        headers = [(k.encode(), v.encode()) for k, v in signed.items() if k != "X-Labelport-Timestamp"]
        request = httpx.Request(
            "GET", team.server.url + "/me", headers=[*headers, (b"X-Labelport-Timestamp", stamp)]
        )
        response = _send(request)
        assert (response.status_code, response.json()) == (401, REFUSED)
    store = SqliteStore(":memory:")
    try:  # digits of other scripts, which int() reads, are refused too: the header is ASCII digits
        identity = setup["identity"]
        store.upsert_user("ada", identity.fingerprint, identity.public_text)
        now = int(time.time())
        arabic = "".join(chr(0x660 + int(d)) for d in str(now))
        headers = sign_request(identity, "GET", "/me", b"", timestamp=now)
        for stamp in (arabic, "²" * 10):
            with pytest.raises(AuthError):
                Verifier(store).authenticate("GET", "/me", b"", {**headers, "X-Labelport-Timestamp": stamp})
    finally:
        store.close()


def test_a_path_with_a_nul_character_is_not_found(team: Team, setup: dict[str, Any]) -> None:
    for path in ("/projects/a%00b", "/ontologies/a%00b", "/projects/a%00b/data-units"):
        response = call(setup["identity"], "GET", team.server.url + path)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "NotFoundError"


# -- both stores agree -----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LabelStore]:
    opened: LabelStore
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "labelport.db")
    else:
        opened = PostgresStore(request.getfixturevalue("pg_url"))
    yield opened
    opened.close()


def test_both_stores_refuse_nul_characters_alike(store: LabelStore) -> None:
    user = store.upsert_user("ada", "SHA256:ada", "")
    with pytest.raises(FieldError) as caught:
        store.upsert_user("b\x00b", "SHA256:bob", "")
    assert caught.value.field == "name"
    record = ProjectRecord("p1", "t\x00", "", "o1", "ada", "now")
    with pytest.raises(FieldError) as caught:
        store.create_project(record, OntologyStructure(), user.id)
    assert caught.value.field == "title"
    with pytest.raises(FieldError):
        store.create_ontology("o2", "x\x00", OntologyStructure())
    assert store.list_projects(None) == [] and store.list_ontologies() == []
    store.create_project(ProjectRecord("p1", "t", "", "o1", "ada", "now"), OntologyStructure(), user.id)
    with pytest.raises(FieldError):
        store.add_data_units("p1", [DataUnit.image("a\x00.jpg", width=1, height=1)])
    with pytest.raises(FieldError) as caught, store.bulk("p1", "main", "src\x00", "ada"):
        pass
    assert caught.value.field == "source"
    assert store.list_data_units("p1") == [] and store.imports("p1") == []
    with pytest.raises(NotFoundErrorType):
        store.get_project("p\x00")


NotFoundErrorType = __import__("labelport.errors", fromlist=["NotFoundError"]).NotFoundError


def test_data_unit_sizes_stop_at_postgresqls_integer() -> None:
    DataUnit.image("big.jpg", width=2**31 - 1, height=1)
    for fields in ({"width": 2**31}, {"height": 2**63}, {"frames": 2**31}):
        with pytest.raises(DataError, match=next(iter(fields))):
            DataUnit(
                "big.mp4",
                DataUnit.image("x", width=1, height=1).data_type,
                **{"width": 1, "height": 1, **fields},
            )


# -- uploads ---------------------------------------------------------------------------------------


def _bomb(size: int) -> bytes:
    return gzip.compress(b"\x00" * size, 9)


def _watch(folder: Path) -> tuple[threading.Event, list[int]]:
    """Poll the bytes of every file under ``folder`` until the event is set; the peak goes in the list."""
    stop, peak = threading.Event(), [0]

    def poll() -> None:
        while not stop.is_set():
            total = 0
            for f in folder.rglob("*"):
                with contextlib.suppress(OSError):
                    total += f.stat().st_size if f.is_file() else 0
            peak[0] = max(peak[0], total)
            time.sleep(0.002)

    threading.Thread(target=poll, daemon=True).start()
    return stop, peak


@pytest.fixture
def small_server(
    team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServerProcess, Path]]:
    """A server on the team's database that takes uploads of at most 16 MiB, and the folder its
    temporary files go to (watched for what an upload writes)."""
    temp = tmp_path / "server-tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    small = ServerProcess(team.db, tmp_path / "small-server.log", max_import_bytes=16 * 1024 * 1024)
    try:
        yield small, temp
    finally:
        small.stop()


def test_a_decompression_bomb_is_refused_before_anything_is_written(
    team: Team, small_server: tuple[ServerProcess, Path]
) -> None:
    small, temp = small_server
    _, owner, _ = team.user("bomb-owner")
    _, viewer, _ = team.user("bomb-viewer")
    project = call(owner, "POST", f"{small.url}/projects", {"title": "bombed"}).json()["hash"]
    member = {"fingerprint": viewer.fingerprint, "role": "viewer"}
    assert call(owner, "POST", f"{small.url}/projects/{project}/members", member).status_code == 200
    bomb = _bomb(160 * 1024 * 1024)  # 160 MiB of zeros in about 160 kB
    before = snapshot(team.db)
    stop, peak = _watch(temp)
    dry = upload_import(viewer, small.url, project, bomb, {"dry_run": True}, gzipped=True)
    real = upload_import(
        viewer, small.url, project, bomb, {}, gzipped=True
    )  # a viewer may not import: 403 first
    stop.set()
    assert (dry.status_code, dry.json()["error"]) == (413, "TooLarge")
    assert (real.status_code, real.json()["error"]) == (403, "PermissionDenied")
    assert peak[0] < 64 * 1024  # nothing of the 16 MiB the limit allows was written
    assert snapshot(team.db) == before  # and both uploads are gone
    # chunks adding up to more than the limit are refused as they come, and the upload goes
    started = call(owner, "POST", f"{small.url}/projects/{project}/uploads", {"filename": "big.json"})
    upload = f"{small.url}/projects/{project}/uploads/{started.json()['upload_id']}"
    assert call(owner, "PUT", f"{upload}/chunks/0", os.urandom(10 * 1024 * 1024)).status_code == 200
    over = call(owner, "PUT", f"{upload}/chunks/1", os.urandom(10 * 1024 * 1024))
    assert (over.status_code, over.json()["error"]) == (413, "TooLarge")
    assert snapshot(team.db) == before


def _declared_import(identity: Identity, base: str, project: str, gz: bytes, size: int) -> httpx.Response:
    """Start an upload, send ``gz`` as its one chunk, import it declaring it inflates to ``size``."""
    started = call(identity, "POST", f"{base}/projects/{project}/uploads", {"filename": "d.json"})
    upload = f"{base}/projects/{project}/uploads/{started.json()['upload_id']}"
    assert call(identity, "PUT", f"{upload}/chunks/0", gz).status_code == 200
    options = {"categories": "create", "create_missing_data_units": True}
    return call(identity, "POST", f"{upload}/import", {"chunks": 1, "options": options, "size": size})


def test_an_uploads_declared_size_is_held_to_and_never_passes_the_limit(
    team: Team, small_server: tuple[ServerProcess, Path]
) -> None:
    """A client that compressed its upload says what it inflates to, and the server inflates it once,
    straight into the file: a bomb declared small is cut at what it declared, a size over the limit
    is refused before anything is written, a size that is not the truth either way is one sentence,
    and nothing is stored; the truth imports."""
    small, temp = small_server
    _, owner, _ = team.user("declared-owner")
    project = call(owner, "POST", f"{small.url}/projects", {"title": "declared"}).json()["hash"]
    coco = json.dumps(synthetic_coco(3, 2)).encode()
    before = snapshot(team.db)
    stop, peak = _watch(temp)
    bomb = _declared_import(owner, small.url, project, _bomb(160 * 1024 * 1024), 1024 * 1024)
    over = _declared_import(owner, small.url, project, _bomb(1024), 32 * 1024 * 1024)
    stop.set()
    assert (bomb.status_code, bomb.json()["error"]) == (400, "LabelportError")
    assert bomb.json()["message"] == (
        "the upload inflates to more than the 1,048,576 bytes its import declared; send it again."
    )
    assert (over.status_code, over.json()["error"]) == (413, "TooLarge")
    assert peak[0] <= 1024 * 1024 + 64 * 1024  # no more than the bomb declared, then nothing
    short = _declared_import(owner, small.url, project, gzip.compress(coco), len(coco) + 5)
    assert short.status_code == 400 and short.json()["message"] == (
        f"the upload inflates to {len(coco):,} bytes, not the {len(coco) + 5:,} its import declared; "
        "send it again."
    )
    negative = _declared_import(owner, small.url, project, gzip.compress(coco), -1)
    assert negative.json()["message"] == "an upload's size is a number of bytes, 0 or more."
    assert snapshot(team.db) == before  # every refused upload is gone, nothing imported
    truth = _declared_import(owner, small.url, project, gzip.compress(coco), len(coco))
    assert truth.status_code == 200 and truth.json()["counts"]["annotations"] == 6


def test_an_upload_is_deleted_whatever_the_import_ends_with(team: Team, setup: dict[str, Any]) -> None:
    base, identity, project = team.server.url, setup["identity"], setup["project"]
    broken = synthetic_coco(1, 2)
    broken["annotations"][1]["bbox"] = [1, 1, -5, 3]
    before = snapshot(team.db)
    failed = upload_import(identity, base, project, broken, {})
    assert failed.status_code == 422 and failed.json()["error"] == "ImportFailed"
    not_json = upload_import(identity, base, project, b"not json", {})
    assert not_json.status_code == 400
    started = call(identity, "POST", f"{base}/projects/{project}/uploads", {"filename": "c.json"})
    upload = f"{base}/projects/{project}/uploads/{started.json()['upload_id']}"
    assert call(identity, "PUT", f"{upload}/chunks/0", gzip.compress(b"{}")).status_code == 200
    miscounted = call(identity, "POST", f"{upload}/import", {"chunks": 2})
    assert miscounted.status_code == 400 and "holds 1 chunk;" in miscounted.json()["message"]
    started = call(identity, "POST", f"{base}/projects/{project}/uploads", {"filename": "c.json"})
    upload = f"{base}/projects/{project}/uploads/{started.json()['upload_id']}"
    malformed = call(identity, "POST", f"{upload}/import", {"chunks": "one"})
    assert malformed.status_code == 400 and malformed.json()["error"] == "LabelportError"
    assert snapshot(team.db) == before


def test_an_import_killed_with_its_server_leaves_no_upload(team: Team, tmp_path: Path) -> None:
    """The chunks are deleted once inflated, before the import's long part: a server killed from then
    on leaves neither the upload nor any of the import's rows."""
    doomed = ServerProcess(team.db, tmp_path / "doomed-server.log")
    try:
        _, identity, _ = team.user("doomed")
        project = call(identity, "POST", f"{doomed.url}/projects", {"title": "doomed"}).json()["hash"]
        before = snapshot(team.db)
        coco = synthetic_coco(400, 150)
        answered: list[httpx.Response | BaseException] = []

        def run() -> None:
            try:
                answered.append(
                    upload_import(
                        identity,
                        doomed.url,
                        project,
                        coco,
                        {"categories": "create", "create_missing_data_units": True},
                    )
                )
            except BaseException as exc:  # the connection dies with the server
                answered.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        with psycopg.connect(team.db, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while not conn.execute(
                "SELECT EXISTS (SELECT 1 FROM uploads WHERE project_hash = %s)", (project,)
            ).fetchone()[0]:
                assert time.monotonic() < deadline
                time.sleep(0.001)
            while conn.execute(
                "SELECT EXISTS (SELECT 1 FROM uploads WHERE project_hash = %s)", (project,)
            ).fetchone()[0]:
                assert time.monotonic() < deadline
                time.sleep(0.001)
        assert not answered  # the import is still running ...
        doomed.process.send_signal(signal.SIGKILL)  # ... when its server dies
        doomed.process.wait()
        thread.join(30)
        assert answered and not isinstance(answered[0], httpx.Response)
        assert snapshot(team.db) == before
    finally:
        doomed.stop()


def test_map_files_are_read_by_the_client(team: Team, setup: dict[str, Any], tmp_path: Path) -> None:
    """--categories MAP.json names a file of the user's machine: the remote client reads it and
    sends the mapping, as the server refuses file names."""
    from labelport import UserClient

    key = write_key(tmp_path / "mapper")
    team_user = Identity.load(key)
    from labelport.server.admin import add_user

    add_user(team.db, "mapper", team_user.public_text)
    client = UserClient.create_with_ssh_private_key(ssh_private_key_path=key, domain=team.server.url)
    try:
        project = client.create_project("mapped", ontology=_animals())
        project.add_data([("img0000.jpg", 640, 480)])
        mapping = tmp_path / "categories.json"
        mapping.write_text(json.dumps({"1": "Dog", "2": "Dog"}))
        report = project.import_coco(synthetic_coco(1, 2), categories=mapping)  # a Path, or its text
        assert report.written and report.counts.imported == 2
        (row,) = project.list_label_rows_v2()
        assert {o.ontology_item.title for o in row.get_object_instances()} == {"Dog"}
    finally:
        client.service.close()  # type: ignore[attr-defined]
