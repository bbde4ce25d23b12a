"""A project's labels: label rows (list as light handles, load, save, delete) and their branches.

Branch names may hold ``/``, so they travel in the body, not in the path.

>>> "/projects/{project_hash}/label-rows" in {route.path for route in router.routes}
True
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.server import wire_format
from labelport.server.requests import handle
from labelport.service import LocalService

router = APIRouter()


@router.post("/projects/{project_hash}/label-rows/list")
async def list_label_rows(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.LoadLabelRows)
        return s.list_label_rows(project_hash, data.branch, data.data_hashes)

    return await handle(request, work)


@router.post("/projects/{project_hash}/label-rows/load")
async def load_label_rows(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.LoadLabelRows)
        return s.load_label_rows(project_hash, data.branch, data.data_hashes)

    return await handle(request, work)


@router.put("/projects/{project_hash}/label-rows")
async def save_label_row(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.SaveLabelRow)
        label_hash = s.save_label_row(
            project_hash, data.branch, data.data_hash, data.objects, data.classifications
        )
        return wire_format.LabelHash(label_hash)

    return await handle(request, work)


@router.post("/projects/{project_hash}/label-rows/delete")
async def delete_labels(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.DeleteLabels)
        return s.delete_labels(project_hash, data.branch, data.data_hash)

    return await handle(request, work)


@router.get("/projects/{project_hash}/branches")
async def list_branches(request: Request, project_hash: str) -> Response:
    return await handle(request, lambda s, body: s.list_branches(project_hash))


@router.get("/projects/{project_hash}/branch-summaries")
async def branch_summaries(request: Request, project_hash: str) -> Response:
    return await handle(request, lambda s, body: s.branch_summaries(project_hash))


@router.post("/projects/{project_hash}/branches/delete")
async def delete_branch(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        return s.delete_branch(project_hash, wire_format.decode(body, wire_format.Branch).branch)

    return await handle(request, work)


@router.post("/projects/{project_hash}/branches/copy")
async def copy_branch(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.CopyBranch)
        return s.copy_branch(project_hash, data.source, data.target, replace=data.replace)

    return await handle(request, work)
