"""Imports: the project's past imports, and a new one sent in pieces.

``POST /projects/{hash}/uploads`` starts an upload, ``PUT .../uploads/{id}/chunks/{n}`` sends each gzip
chunk, ``POST .../uploads/{id}/import`` runs the import on the whole file, in one transaction, exactly
as the embedded store would; ``DELETE .../uploads/{id}`` gives it up. An upload is its sender's: anyone
else is told there is no such upload.

>>> UPLOAD_KEEP_SECONDS // 3600
24
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.errors import LabelportError, NotFoundError, TooLarge
from labelport.server import wire
from labelport.server.requests import Server, handle, server_of
from labelport.server.uploads import (
    gunzip_chunks,
    is_upload_id,
    new_upload_id,
    safe_file_name,
    unpack_archive,
)
from labelport.service import LocalService
from labelport.words import plural

#: Uploads not imported within this time are deleted when the next upload starts.
UPLOAD_KEEP_SECONDS = 24 * 3600

router = APIRouter()


@router.get("/projects/{project_hash}/imports")
async def list_imports(request: Request, project_hash: str) -> Response:
    return await handle(request, lambda s, body: s.list_imports(project_hash))


@router.post("/projects/{project_hash}/uploads")
async def start_upload(request: Request, project_hash: str) -> Response:
    server = server_of(request)

    def work(s: LocalService, body: bytes) -> Any:
        data = wire.decode(body, wire.StartUpload)
        s.check_upload(project_hash)
        safe_file_name(data.filename)  # a name the import could not use is refused now
        upload_id = new_upload_id()
        meta = wire.encode(data)
        server.uploads.create_upload(
            upload_id, project_hash, s.user.id, meta, server.clock(), UPLOAD_KEEP_SECONDS
        )
        return wire.Upload(upload_id)

    return await handle(request, work)


@router.put("/projects/{project_hash}/uploads/{upload_id}/chunks/{seq}")
async def put_chunk(request: Request, project_hash: str, upload_id: str, seq: int) -> Response:
    server = server_of(request)

    def work(s: LocalService, body: bytes) -> Any:
        _owned(server, s, project_hash, upload_id)
        if not 0 <= seq < 1_000_000:
            raise LabelportError("a chunk number is between 0 and 999,999.")
        # gzip makes nothing a COCO file holds larger: chunks past the limit can only be refused later
        limit = server.max_import_bytes
        if server.uploads.upload_bytes(upload_id) + len(body) > limit:
            server.uploads.delete_upload(upload_id)
            raise TooLarge(f"the upload is over the server's limit of {plural(limit, 'byte')}.")
        server.uploads.put_upload_chunk(upload_id, seq, body)
        return {}

    return await handle(request, work)


@router.delete("/projects/{project_hash}/uploads/{upload_id}")
async def delete_upload(request: Request, project_hash: str, upload_id: str) -> Response:
    server = server_of(request)

    def work(s: LocalService, body: bytes) -> Any:
        _owned(server, s, project_hash, upload_id)
        server.uploads.delete_upload(upload_id)
        return {}

    return await handle(request, work)


@router.post("/projects/{project_hash}/uploads/{upload_id}/import")
async def run_import(request: Request, project_hash: str, upload_id: str) -> Response:
    server = server_of(request)
    query_format = request.query_params.get("format", "coco")

    def work(s: LocalService, body: bytes) -> Any:
        meta = _owned(server, s, project_hash, upload_id)
        try:  # whatever the outcome, the upload is gone when the import ends
            data = wire.decode(body, wire.RunImport)
            options = wire.import_options_from_wire(data.options)
            # any format of the table: ?format= or the options' "format" (COCO when neither)
            fmt = str(options.pop("format", query_format))
            archive = bool(options.pop("archive", False))
            s.check_import(project_hash, options, fmt)  # options and role, before any work
            with tempfile.TemporaryDirectory(prefix="labelport-import-") as folder:
                source = _source(server, upload_id, data.chunks, meta, Path(folder), archive)
                report = s.import_labels(project_hash, source, fmt, options)
        finally:
            server.uploads.delete_upload(upload_id)
        return report.to_dict()

    return await handle(request, work)


def _owned(server: Server, s: LocalService, project_hash: str, upload_id: str) -> wire.StartUpload:
    """The upload's start, if ``s``'s user started it in this project; else there is no such upload."""
    found = is_upload_id(upload_id)
    meta = server.uploads.upload_meta(upload_id, project_hash, s.user.id) if found else None
    if meta is None:
        raise NotFoundError("upload", upload_id, key="id")
    return wire.decode(meta, wire.StartUpload)


def _source(
    server: Server, upload_id: str, expected: int, meta: wire.StartUpload, folder: Path, archive: bool
) -> Any:
    """The upload as an import's source: its file in ``folder`` (or its bytes, for in-memory data),
    or the folder a zip archive unpacks to. The upload's chunks are deleted once they are in the file,
    so that an import killed from then on leaves no upload behind."""
    path = folder / safe_file_name(meta.filename)
    _unpack(server, upload_id, expected, path)
    server.uploads.delete_upload(upload_id)
    # a file keeps its name (the import's source name); in-memory data stays in memory
    source: Any = path if meta.filename is not None else path.read_bytes()
    if archive:  # a folder (YOLO, VOC) sent as a zip: unpacked under its own name
        source = folder / "unpacked" / path.name.removesuffix(".zip")
        unpack_archive(path, source, limit=server.max_import_bytes)
    return source


def _unpack(server: Server, upload_id: str, expected: int, path: Path) -> None:
    """The upload's chunks inflated into ``path``. They are inflated once without writing first,
    so that a decompression bomb is refused (413) before it fills the disk up to the limit."""
    chunks, limit = server.uploads, server.max_import_bytes
    count, last = chunks.upload_chunk_count(upload_id)
    if count != expected or last != count - 1:
        raise LabelportError(
            f"the upload holds {plural(count, 'chunk')}; the import expected {expected:,} (numbered from 0)."
        )
    gunzip_chunks(chunks.upload_chunks(upload_id), None, limit=limit)
    with path.open("wb") as out:
        gunzip_chunks(chunks.upload_chunks(upload_id), out, limit=limit)
