"""Exports: a project's labels written as a COCO file.

>>> [route.path for route in router.routes]
['/projects/{project_hash}/export']
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.server import wire
from labelport.server.requests import handle
from labelport.service import LocalService

router = APIRouter()


@router.post("/projects/{project_hash}/export")
async def export(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire.decode(body, wire.RunExport)
        return Response(s.export_coco(project_hash, data.options), media_type="application/json")

    return await handle(request, work)
