"""Exports: a project's labels written as a COCO file, streamed from a spool file.

>>> [route.path for route in router.routes]
['/projects/{project_hash}/export']
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from labelport.server import wire_format
from labelport.server.requests import handle
from labelport.service import LocalService

router = APIRouter()


@router.post("/projects/{project_hash}/export")
async def export(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.RunExport)
        spool = tempfile.TemporaryFile(prefix="labelport-export-")  # noqa: SIM115 (closed by _pieces)
        try:
            s.write_coco(project_hash, data.options, spool)
            size = spool.tell()
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        # the file's size before any compression on the wire: the client's progress total
        headers = {wire_format.SIZE_HEADER: str(size)}
        return StreamingResponse(_pieces(spool), media_type="application/json", headers=headers)

    return await handle(request, work)


def _pieces(spool: BinaryIO) -> Iterator[bytes]:
    """A spooled file's bytes, a MiB at a time; the file is closed (and so deleted) at the end."""
    with spool:
        while piece := spool.read(1 << 20):
            yield piece
