"""Projects and their members: list, create, read, rename, delete; members; a branch's stats.

Key fingerprints may hold ``/``, so they travel in the body, not in the path.

>>> sorted({route.path for route in router.routes})[:2]
['/projects', '/projects/{project_hash}']
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.ontology import OntologyStructure
from labelport.server import wire_format
from labelport.server.requests import handle
from labelport.service import LocalService

router = APIRouter()


@router.get("/projects")
async def list_projects(request: Request) -> Response:
    return await handle(request, lambda s, body: s.list_projects())


@router.post("/projects")
async def create_project(request: Request) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.CreateProject)
        structure = None if data.structure is None else OntologyStructure.from_dict(data.structure)
        return wire_format.Created(
            s.create_project(
                data.title,
                description=data.description,
                ontology_hash=data.ontology_hash,
                structure=structure,
            )
        )

    return await handle(request, work)


@router.get("/projects/{project_hash}")
async def get_project(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        project, structure = s.get_project(project_hash)
        return wire_format.ProjectWire(project, structure.to_dict())

    return await handle(request, work)


@router.patch("/projects/{project_hash}")
async def update_project(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.UpdateProject)
        return s.update_project(project_hash, title=data.title, description=data.description)

    return await handle(request, work)


@router.delete("/projects/{project_hash}")
async def delete_project(request: Request, project_hash: str) -> Response:
    return await handle(request, lambda s, body: s.delete_project(project_hash))


@router.get("/projects/{project_hash}/members")
async def list_members(request: Request, project_hash: str) -> Response:
    return await handle(request, lambda s, body: s.list_members(project_hash))


@router.post("/projects/{project_hash}/members")
async def add_member(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.AddMember)
        s.add_member(project_hash, data.fingerprint, data.role)
        return {}

    return await handle(request, work)


@router.post("/projects/{project_hash}/members/remove")
async def remove_member(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        return s.remove_member(project_hash, wire_format.decode(body, wire_format.Fingerprint).fingerprint)

    return await handle(request, work)


@router.post("/projects/{project_hash}/stats")
async def project_stats(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        return s.project_stats(project_hash, wire_format.decode(body, wire_format.Branch).branch)

    return await handle(request, work)
