"""The server as an attacker meets it: raw signed httpx requests from a second user, a real server
process on the test PostgreSQL. Ontologies: who reads them, who shares them, and that no request of a
non-admin of a project changes what its members see.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx

from labelport import UserClient
from labelport.keys import Identity
from test_server import Team, _animals, _send, _signed

# the shared team fixture (a database and a server process on it, per module) comes from test_server


def call(identity: Identity, method: str, url: str, payload: Any = None) -> httpx.Response:
    """One signed request with a JSON body (raw bytes when ``payload`` is bytes)."""
    body = payload if isinstance(payload, bytes) else b"" if payload is None else json.dumps(payload).encode()
    return _send(_signed(identity, method, url, body))


def upload_import(
    identity: Identity,
    base: str,
    project_hash: str,
    coco: Any,
    options: dict[str, Any],
    name: str = "c.json",
    *,
    gzipped: bool = False,
) -> httpx.Response:
    """The remote client's three steps, by hand: start an upload, send one gzip chunk (``coco``
    as it is when ``gzipped``), import."""
    data = coco if isinstance(coco, bytes) else json.dumps(coco).encode()
    started = call(identity, "POST", f"{base}/projects/{project_hash}/uploads", {"filename": name})
    if started.status_code != 200:
        return started
    upload = f"{base}/projects/{project_hash}/uploads/{started.json()['upload_id']}"
    sent = call(identity, "PUT", f"{upload}/chunks/0", data if gzipped else gzip.compress(data))
    if sent.status_code != 200:
        return sent
    return call(identity, "POST", f"{upload}/import", {"chunks": 1, "options": options})


def horse_coco(file_name: str = "h.jpg") -> dict[str, Any]:
    """One box of a category ("Horse") that no ontology here has."""
    return {
        "images": [{"id": 1, "file_name": file_name, "width": 64, "height": 48}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 10], "area": 100, "iscrowd": 0}
        ],
        "categories": [{"id": 7, "name": "Horse"}],
    }


CREATE = {"categories": "create", "create_missing_data_units": True}


def titles(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["name"] for o in response.json()["structure"]["objects"]]


def test_a_viewer_cannot_change_a_project_through_its_ontology(team: Team) -> None:
    base = team.server.url
    _, owner, _ = team.user("onto-owner")
    _, viewer, _ = team.user("onto-viewer")
    _, outsider, _ = team.user("onto-outsider")
    created = call(owner, "POST", f"{base}/projects", {"title": "A", "structure": _animals().to_dict()})
    project_a = created.json()["hash"]
    ontology_a = call(owner, "GET", f"{base}/projects/{project_a}").json()["project"]["ontology_hash"]
    member = {"fingerprint": viewer.fingerprint, "role": "viewer"}
    assert call(owner, "POST", f"{base}/projects/{project_a}/members", member).status_code == 200

    # a non-member reads nothing of A's ontology and cannot build on it
    read = call(outsider, "GET", f"{base}/ontologies/{ontology_a}")
    assert read.status_code == 404
    assert read.json() == {
        "error": "NotFoundError",
        "message": f"No ontology with hash {ontology_a}.",
        "kind": "ontology",
        "ident": ontology_a,
    }
    steal = call(outsider, "POST", f"{base}/projects", {"title": "steal", "ontology_hash": ontology_a})
    assert steal.status_code == 404 and steal.json()["kind"] == "ontology"
    assert call(outsider, "GET", f"{base}/projects").json() == []
    assert ontology_a not in {o["ontology_hash"] for o in call(outsider, "GET", f"{base}/ontologies").json()}

    # the viewer may read it and share it into a project of their own ...
    assert titles(call(viewer, "GET", f"{base}/ontologies/{ontology_a}")) == ["Cat", "Dog"]
    shared = call(viewer, "POST", f"{base}/projects", {"title": "B", "ontology_hash": ontology_a})
    assert shared.status_code == 200
    project_b = shared.json()["hash"]
    assert (
        call(viewer, "GET", f"{base}/projects/{project_b}").json()["project"]["ontology_hash"] == ontology_a
    )
    # ... but an import that adds objects to B's ontology changes a copy, never A's
    imported = upload_import(viewer, base, project_b, horse_coco(), CREATE)
    assert imported.status_code == 200, imported.text
    assert imported.json()["written"] is True
    seen_b = call(viewer, "GET", f"{base}/projects/{project_b}")
    assert titles(seen_b) == ["Cat", "Dog", "Horse"]
    copy = seen_b.json()["project"]["ontology_hash"]
    assert copy != ontology_a
    seen_a = call(owner, "GET", f"{base}/projects/{project_a}")
    assert titles(seen_a) == ["Cat", "Dog"] and seen_a.json()["project"]["ontology_hash"] == ontology_a
    assert titles(call(owner, "GET", f"{base}/ontologies/{ontology_a}")) == ["Cat", "Dog"]
    # the copy is B's: A's owner is no member of B and does not see it
    assert call(owner, "GET", f"{base}/ontologies/{copy}").status_code == 404
    # and into A itself the viewer may not import at all
    refused = upload_import(viewer, base, project_a, horse_coco(), CREATE)
    assert refused.status_code == 403 and refused.json()["error"] == "PermissionDenied"
    assert titles(call(owner, "GET", f"{base}/projects/{project_a}")) == ["Cat", "Dog"]
    # B's ontology is B's alone now: its next change is made in place
    again = upload_import(
        viewer, base, project_b, {**horse_coco(), "categories": [{"id": 7, "name": "Zebra"}]}, CREATE
    )
    assert again.status_code == 200, again.text
    latest = call(viewer, "GET", f"{base}/projects/{project_b}")
    assert titles(latest) == ["Cat", "Dog", "Horse", "Zebra"]
    assert latest.json()["project"]["ontology_hash"] == copy


def test_a_standalone_ontology_is_read_by_its_creator_and_never_changed_by_a_project(team: Team) -> None:
    base = team.server.url
    _, maker, _ = team.user("template-maker")
    _, other, _ = team.user("template-other")
    made = call(maker, "POST", f"{base}/ontologies", {"title": "animals", "structure": _animals().to_dict()})
    template = made.json()["hash"]
    assert titles(call(maker, "GET", f"{base}/ontologies/{template}")) == ["Cat", "Dog"]
    assert [o["ontology_hash"] for o in call(maker, "GET", f"{base}/ontologies").json()] == [template]
    assert call(other, "GET", f"{base}/ontologies/{template}").status_code == 404
    assert (
        call(other, "POST", f"{base}/projects", {"title": "x", "ontology_hash": template}).status_code == 404
    )
    project = call(maker, "POST", f"{base}/projects", {"title": "P", "ontology_hash": template}).json()[
        "hash"
    ]
    assert upload_import(maker, base, project, horse_coco(), CREATE).status_code == 200
    assert titles(call(maker, "GET", f"{base}/projects/{project}")) == ["Cat", "Dog", "Horse"]
    assert titles(call(maker, "GET", f"{base}/ontologies/{template}")) == ["Cat", "Dog"]


def test_the_embedded_store_copies_a_shared_ontology_on_write(client: UserClient, tmp_path: Path) -> None:
    """The same rule on SQLite: the embedded owner may share anything, and changes stay in one project."""
    template = client.create_ontology("animals", _animals())
    first = client.create_project("first", ontology_hash=template)
    second = client.create_project("second", ontology_hash=template)
    assert first.ontology_hash == second.ontology_hash == template
    path = tmp_path / "horse.json"
    path.write_text(json.dumps(horse_coco()))
    first.import_coco(path, categories="create", create_missing_data_units=True)
    assert [o.title for o in first.ontology_structure.objects] == ["Cat", "Dog", "Horse"]
    assert first.ontology_hash != template
    assert [o.title for o in client.get_project(second.project_hash).ontology_structure.objects] == [
        "Cat",
        "Dog",
    ]
    assert [o.title for o in client.get_ontology(template).objects] == ["Cat", "Dog"]
