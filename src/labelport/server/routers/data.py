"""A project's data units: list, add, fetch by hash, find by a query, delete; class counts.

>>> [route.path for route in router.routes][:2]
['/projects/{project_hash}/data-units', '/projects/{project_hash}/data-units']
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.server import wire_format
from labelport.server.requests import handle
from labelport.service import LocalService
from labelport.store.base import UnitQuery

router = APIRouter()


@router.get("/projects/{project_hash}/data-units")
async def list_data_units(request: Request, project_hash: str) -> Response:
    return await handle(request, lambda s, body: s.list_data_units(project_hash))


@router.post("/projects/{project_hash}/data-units")
async def add_data_units(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        s.add_data_units(project_hash, wire_format.decode(body, wire_format.AddDataUnits).units)
        return {}

    return await handle(request, work)


@router.post("/projects/{project_hash}/data-units/get")
async def get_data_units(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        return s.get_data_units(project_hash, wire_format.decode(body, wire_format.GetDataUnits).data_hashes)

    return await handle(request, work)


@router.post("/projects/{project_hash}/data-units/find")
async def find_data_units(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.FindDataUnits)
        return s.find_data_units(project_hash, data.query, data.limit, data.offset)

    return await handle(request, work)


@router.post("/projects/{project_hash}/data-units/delete")
async def delete_data_units(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        return s.delete_data_units(project_hash, wire_format.decode(body, wire_format.DataHashes).data_hashes)

    return await handle(request, work)


@router.post("/projects/{project_hash}/class-counts")
async def class_counts(request: Request, project_hash: str) -> Response:
    return await handle(
        request, lambda s, body: s.class_counts(project_hash, wire_format.decode(body, UnitQuery))
    )
