"""The server's shape: every route lives in one router module, and who may do what is the service's.

Each route of the app is defined in a module of ``labelport.server.routers`` (or is the viewer's, under
``/ui/``), each method and path in exactly one of them, and ``ROUTERS`` mounts every module there. The
one access rule a route used to decide (who may start an upload) is the service's, so the embedded API
refuses the same thing the server does.
"""

from __future__ import annotations

import pkgutil
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from labelport import NotFoundError, OntologyStructure, PermissionDenied, Shape
from labelport.server import routers
from labelport.server.app import create_app
from labelport.server.routers import ROUTERS
from labelport.service import LocalService
from labelport.store.sqlite import SqliteStore
from test_server import Team
from test_server_trust import call

#: The routes FastAPI adds by itself (none: the app has no docs pages), and where the viewer's live.
VIEWER = "labelport.viewer."


def _flat(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Every route under ``routes`` with the prefix it is mounted at (FastAPI keeps an included
    router as one entry of ``app.routes`` that refers to the router)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        else:
            yield prefix, route


def _endpoint_module(route: BaseRoute) -> str:
    assert isinstance(route, APIRoute), f"{route!r} is not an API route"
    return str(route.endpoint.__module__)


def test_every_route_is_defined_by_one_router_module(tmp_path: Path) -> None:
    app = create_app(SqliteStore(tmp_path / "shape.db"))
    owners: dict[tuple[str, str], list[str]] = {}
    for prefix, route in _flat(app.routes):
        module = _endpoint_module(route)
        assert module.startswith(("labelport.server.routers.", VIEWER)), (
            f"{route.path} is defined in {module}"
        )
        assert isinstance(route, APIRoute)
        path = prefix + route.path
        if module.startswith(VIEWER):
            assert path.startswith("/ui/"), f"the viewer's {path} is outside /ui/"
        for method in route.methods:
            owners.setdefault((method, path), []).append(module)
    doubled = {key: found for key, found in owners.items() if len(found) > 1}
    assert not doubled, f"routes defined twice: {doubled}"
    used = Counter(module for found in owners.values() for module in found)
    assert used["labelport.server.routers.imports"] >= 5  # the shape holds more than one module's worth
    assert ("GET", "/ui/") in owners and ("POST", "/projects/{project_hash}/export") in owners


def test_routers_mounts_every_router_module() -> None:
    modules = {name for _, name, _ in pkgutil.iter_modules(routers.__path__)}
    mounted = {router.routes[0].endpoint.__module__.rsplit(".", 1)[1] for router in ROUTERS}  # type: ignore[attr-defined]
    assert mounted == modules
    assert len(ROUTERS) == len(modules)


def _embedded_project(tmp_path: Path) -> tuple[SqliteStore, LocalService, str]:
    store = SqliteStore(tmp_path / "rules.db")
    owner = LocalService(store, store.upsert_user("owner", "SHA256:owner", ""))
    structure = OntologyStructure()
    structure.add_object("Cat", Shape.BOUNDING_BOX)
    return store, owner, owner.create_project("rules", structure=structure)


def test_the_service_refuses_an_upload_to_a_non_member(tmp_path: Path) -> None:
    store, owner, project_hash = _embedded_project(tmp_path)
    outsider = LocalService(store, store.upsert_user("outsider", "SHA256:outsider", ""))
    with pytest.raises(NotFoundError) as caught:
        outsider.check_upload(project_hash)
    assert (caught.value.kind, caught.value.ident) == ("project", project_hash)
    owner.check_upload(project_hash)  # the owner may
    viewer = LocalService(store, store.upsert_user("viewer", "SHA256:viewer", ""))
    owner.add_member(project_hash, "SHA256:viewer", "viewer")
    viewer.check_upload(project_hash)  # a viewer may upload (for a dry run) ...
    with pytest.raises(PermissionDenied):
        viewer.check_import(project_hash, {})  # ... but not import for real
    store.close()


def test_the_server_refuses_an_upload_to_a_non_member(team: Team) -> None:
    base = team.server.url
    _, owner, _ = team.user("routers-owner")
    _, outsider, _ = team.user("routers-outsider")
    structure = OntologyStructure()
    structure.add_object("Cat", Shape.BOUNDING_BOX)
    created = call(owner, "POST", f"{base}/projects", {"title": "up", "structure": structure.to_dict()})
    project_hash = created.json()["hash"]
    refused = call(outsider, "POST", f"{base}/projects/{project_hash}/uploads", {"filename": "c.json"})
    assert refused.status_code == 404
    assert refused.json() == {
        "error": "NotFoundError",
        "message": f"No project with hash {project_hash}.",
        "kind": "project",
        "ident": project_hash,
    }
    assert (
        call(owner, "POST", f"{base}/projects/{project_hash}/uploads", {"filename": "c.json"}).status_code
        == 200
    )
