"""Everyday operations on every face: deletions, renames, members, users, branches, copying, stats.

The same scenario runs on the embedded SQLite store, on PostgreSQL, and over HTTP (a real server app
on a SQLite file, reached through the remote client); roles are checked over HTTP with four users.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pycocotools import mask as mask_utils

from conftest import write_key
from labelport import NotFoundError, OntologyStructure, PermissionDenied, Shape, UserClient
from labelport.errors import DataError, LabelportError
from labelport.keys import Identity
from labelport.server.admin import add_user
from labelport.server.app import create_app
from labelport.server.remote import RemoteService
from labelport.service import LocalService
from labelport.store.base import Copied, Removed
from labelport.store.sqlite import SqliteStore

with warnings.catch_warnings():  # starlette would rather have httpx2; httpx is what we ship
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

RING = [10, 10, 50, 12, 44, 40, 12, 30]


def _coco(score: bool = False) -> dict[str, Any]:
    anns: list[dict[str, Any]] = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5, 5, 100, 120]},
        {"id": 3, "image_id": 2, "category_id": 2, "segmentation": [RING], "bbox": [10, 10, 40, 30]},
    ]
    if score:
        anns = [{**a, "score": 0.5} for a in anns[:2]]
    return {
        "images": [{"id": i + 1, "file_name": f"img{i}.jpg", "width": 640, "height": 480} for i in range(3)],
        "annotations": anns,
        "categories": [{"id": 1, "name": "Cat"}, {"id": 2, "name": "Dog"}],
    }


def _ontology() -> OntologyStructure:
    structure = OntologyStructure()
    structure.add_object("Cat", Shape.BOUNDING_BOX)
    structure.add_object("Dog", Shape.POLYGON)
    return structure


def _remote(db: Path, key: Path) -> UserClient:
    app = create_app(SqliteStore(db))
    transport = TestClient(app)._transport
    identity = Identity.load(key)
    return UserClient(RemoteService("http://testserver", identity, transport=transport), identity)


@pytest.fixture(params=["sqlite", "postgres", "http"])
def client(request: pytest.FixtureRequest, tmp_path: Path, key_path: Path) -> Iterator[UserClient]:
    if request.param == "sqlite":
        found = UserClient.create_with_ssh_private_key(ssh_private_key_path=key_path, home=tmp_path / "h")
    elif request.param == "postgres":
        from labelport.store.postgres import PostgresStore

        identity = Identity.load(key_path)
        store = PostgresStore(request.getfixturevalue("pg_url"))
        found = UserClient(
            LocalService.embedded(store, name="ada", fingerprint=identity.fingerprint), identity
        )
    else:
        db = tmp_path / "server.db"
        add_user(str(db), "ada", Identity.load(key_path).public_text, admin=True)
        found = _remote(db, key_path)
    yield found
    if isinstance(found.service, LocalService):
        found.service.store.close()
    else:
        found.service.close()  # type: ignore[attr-defined]


def _objects(project: Any, branch: str = "main") -> int:
    return sum(len(r.object_instances) for r in project.list_label_rows_v2(branch_name=branch))


def test_branches_copy_stats_and_deletes(client: UserClient) -> None:
    project = client.create_project("pets", ontology=_ontology(), description="first")
    units = project.add_data([(f"img{i}.jpg", 640, 480) for i in range(3)])
    hashes = [u.data_hash for u in units]
    project.import_coco(_coco())
    project.import_coco(_coco(score=True), branch_name="preds", source_name="preds.json")

    branches = {b.name: b for b in project.branches()}
    assert list(branches) == ["main", "preds"]
    assert (branches["main"].label_rows, branches["main"].labelled_rows, branches["main"].objects) == (
        3,
        2,
        3,
    )
    preds = branches["preds"]
    assert (preds.label_rows, preds.labelled_rows, preds.objects, preds.annotations) == (3, 1, 2, 2)
    assert branches["preds"].updated_at is not None

    stats = project.stats()
    assert (stats["objects"], stats["units_with_objects"], stats["units_without_objects"]) == (3, 2, 1)
    assert stats["shapes"] == {"bounding_box": 2, "polygon": 1}
    cat, dog = stats["classes"]
    assert (cat["title"], cat["objects"], cat["area"]["min"], cat["area"]["max"]) == ("Cat", 2, 1200, 12000)
    assert cat["width"]["median"] == 65 and cat["sizes"] == {"small": 0, "medium": 1, "large": 1}
    rle = mask_utils.merge(mask_utils.frPyObjects([RING], 480, 640))
    assert dog["area"]["max"] == float(mask_utils.area(rle))
    with pytest.raises(NotFoundError, match="nosuch"):
        project.stats("nosuch")

    copied = project.copy_branch("preds", "main")
    assert copied == Copied("preds", "main", 1, 2, 0, 0)
    assert _objects(project) == 5
    again = project.copy_branch("preds", "main")
    assert (again.objects, again.replaced) == (2, 2) and _objects(project) == 5  # copying twice = once
    replaced = project.copy_branch("preds", "main", replace=True)
    assert replaced.replaced == 4 and _objects(project) == 3
    main_row = project.list_label_rows_v2(data_hashes=[hashes[0]])[0]
    assert {f.confidence for o in main_row.object_instances for f in o.get_annotations()} == {0.5}

    calls: list[tuple[int, int]] = []
    exported = project.export_coco_bytes(progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] > 0  # real progress: it ends at its total
    if not isinstance(client.service, LocalService):
        assert calls[-1][1] == len(exported)  # over HTTP: bytes of the response

    assert project.delete_labels(hashes[1]) == Removed(objects=1)
    assert _objects(project) == 2
    with pytest.raises(LabelportError, match="main branch cannot be deleted"):
        project.delete_branch("main")
    with pytest.raises(NotFoundError, match="branches: main, preds"):
        project.delete_branch("nosuch")
    assert project.delete_branch("preds") == Removed(label_rows=3, objects=2)
    assert project.list_branches() == ["main"]

    with pytest.raises(NotFoundError, match="nope"):
        project.delete_data_units([hashes[2], "nope"])
    assert len(project.list_data_units()) == 3  # nothing went
    assert project.delete_data_units([hashes[0]]) == Removed(data_units=1, label_rows=1, objects=2)
    assert [u.data_hash for u in project.list_data_units()] == hashes[1:]

    renamed = project.update(title="pets 2", description="second")
    assert (renamed.title, renamed.description) == ("pets 2", "second")
    assert client.get_project(project.project_hash).title == "pets 2"
    with pytest.raises(LabelportError, match="needs a title"):
        project.update(title=" ")

    (me,) = project.members()
    assert (
        me.role == "admin" and client.identity is not None and me.fingerprint == client.identity.fingerprint
    )
    with pytest.raises(LabelportError, match="last admin"):
        project.remove_member(me.fingerprint)
    assert [u.fingerprint for u in client.list_users()] == [me.fingerprint]

    with pytest.raises(DataError, match=r"titled 'img1\.jpg' already"):
        project.add_data([("img1.jpg", 640, 480)])

    gone = project.delete()
    assert gone == Removed(projects=1, data_units=2, label_rows=2, objects=0)
    with pytest.raises(NotFoundError):
        client.get_project(project.project_hash)
    assert client.list_projects() == []


def test_roles_over_http(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    clients = {}
    for name, admin in (("ada", False), ("ann", False), ("vic", False), ("out", False), ("root", True)):
        key = write_key(tmp_path / name)
        add_user(str(db), name, Identity.load(key).public_text, admin=admin)
        clients[name] = _remote(db, key)
    fp = {n: c.identity.fingerprint for n, c in clients.items() if c.identity is not None}
    project = clients["ada"].create_project("shared", ontology=_ontology())
    unit = project.add_data([(f"img{i}.jpg", 640, 480) for i in range(3)])[0]
    project.import_coco(_coco())
    project.add_member(fp["ann"], "annotator")
    project.add_member(fp["vic"], "viewer")
    assert sorted((m.name, m.role) for m in project.members()) == [
        ("ada", "admin"),
        ("ann", "annotator"),
        ("vic", "viewer"),
    ]

    as_ann = clients["ann"].get_project(project.project_hash)
    assert as_ann.delete_labels(unit.data_hash).objects == 2
    for call in (as_ann.delete, lambda: as_ann.delete_branch("x"), lambda: as_ann.update(title="t")):
        with pytest.raises(PermissionDenied):
            call()
    with pytest.raises(PermissionDenied, match="server administrator"):
        clients["ann"].list_users()
    as_vic = clients["vic"].get_project(project.project_hash)
    with pytest.raises(PermissionDenied):
        as_vic.delete_labels(unit.data_hash)
    with pytest.raises(PermissionDenied):
        as_vic.copy_branch("main", "x")
    with pytest.raises(NotFoundError):
        clients["out"].delete_project(project.project_hash)

    assert sorted(u.name for u in clients["root"].list_users()) == ["ada", "ann", "out", "root", "vic"]
    removed = project.remove_member(fp["vic"])
    assert (removed.name, removed.role) == ("vic", "viewer")
    with pytest.raises(NotFoundError):
        clients["vic"].get_project(project.project_hash)
    with pytest.raises(NotFoundError, match="member"):
        project.remove_member(fp["vic"])
    assert project.delete().projects == 1
