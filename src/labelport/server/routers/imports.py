"""Imports: the project's past imports, and a new one sent in pieces.

``POST /projects/{hash}/uploads`` starts an upload, ``PUT .../uploads/{id}/chunks/{n}`` sends each gzip
chunk, ``POST .../uploads/{id}/import`` runs the import on the whole file, in one transaction, exactly
as the embedded store would (its answer can stream a JSON line of progress per slice of annotations,
then the report); ``DELETE .../uploads/{id}`` gives it up. An upload is its sender's: anyone
else is told there is no such upload.

>>> UPLOAD_KEEP_SECONDS // 3600
24
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from labelport.errors import FieldError, LabelportError, NotFoundError, TooLarge
from labelport.formats import get_format
from labelport.plural import plural
from labelport.server import wire_format
from labelport.server.import_process import ImportRequest, run_import_in_child
from labelport.server.redact import for_upload, server_redact
from labelport.server.requests import Server, client_body, handle, log, server_failure, server_of
from labelport.server.uploads import (
    gunzip_chunks,
    is_upload_id,
    new_upload_id,
    safe_file_name,
    unpack_archive,
)
from labelport.service import LocalService

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
        data = wire_format.decode(body, wire_format.StartUpload)
        s.check_upload(project_hash)
        safe_file_name(data.filename)  # a name the import could not use is refused now
        upload_id = new_upload_id()
        meta = wire_format.encode(data)
        server.uploads.create_upload(
            upload_id, project_hash, s.user.id, meta, server.clock(), UPLOAD_KEEP_SECONDS
        )
        return wire_format.Upload(upload_id)

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
    """Run the import; asked with ``Accept: application/x-ndjson``, the answer streams a line of
    progress per slice of annotations, then the report (or the error) as the last line (see
    :func:`import_lines`); asked without, it is the report, or the error with its status."""
    server = server_of(request)
    query_format = request.query_params.get("format", "coco")
    streamed = wire_format.PROGRESS_LINES in request.headers.get("accept", "")

    def work(s: LocalService, body: bytes) -> Any:
        meta = _owned(server, s, project_hash, upload_id)
        folder = tempfile.TemporaryDirectory(prefix="labelport-import-")
        redact = for_upload(Path(folder.name))  # the upload's files named as the client named them
        try:  # whatever the outcome, the upload is gone when the import ends
            data = wire_format.decode(body, wire_format.RunImport)
            options = wire_format.import_options_from_wire(data.options)
            # any format of the table: ?format= or the options' "format" (COCO when neither)
            fmt = str(options.pop("format", query_format))
            archive = bool(options.pop("archive", False))
            s.check_import(project_hash, options, fmt)  # options and role, before any work
            if archive and not get_format(fmt).folder:
                raise FieldError(
                    "options.archive", f"a {fmt} import reads one file; send it as it is, not zipped"
                )
            source = _source(server, upload_id, data, meta, Path(folder.name), archive)
        except LabelportError as exc:
            folder.cleanup()
            raise redact.error(exc) from None
        except BaseException:
            folder.cleanup()
            raise
        finally:
            server.uploads.delete_upload(upload_id)

        def run(progress: Callable[[int, int], None] | None) -> dict[str, Any]:
            try:
                if server.import_db is not None:  # PostgreSQL: in a process of its own, workers forked
                    job = ImportRequest(server.import_db, s.user, project_hash, source, fmt, options)
                    return redact.value(run_import_in_child(job, progress))
                with server.serial:
                    report = s.import_labels(project_hash, source, fmt, options, progress, confined=True)
                    return redact.value(dict(report.to_dict()))
            except LabelportError as exc:
                raise redact.error(exc) from None

        if not streamed:
            with folder:  # a plain answer: the report, or the error with its status
                return run(None)
        return StreamingResponse(import_lines(run, folder.cleanup), media_type=wire_format.PROGRESS_LINES)

    return await handle(request, work)


def import_lines(
    run: Callable[[Callable[[int, int], None]], dict[str, Any]], cleanup: Callable[[], None]
) -> Iterator[bytes]:
    r"""Run ``run(progress)`` on a thread of its own and stream what it says, one JSON line each:
    ``{"progress": [done, total]}`` as it goes, then ``{"report": ...}`` or ``{"error": ...}`` (an
    error's body as :func:`~labelport.server.requests.error_body` writes it, with its ``status``).
    ``cleanup`` runs at the end.

    >>> b"".join(import_lines(lambda progress: progress(1, 2) or {"ok": True}, lambda: None))
    b'{"progress":[1,2]}\n{"report":{"ok":true}}\n'
    """
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            events.put(("report", run(lambda done, total: events.put(("progress", [done, total])))))
        except LabelportError as exc:
            events.put(("error", exc))
        except BaseException:
            log.exception("an import failed")
            events.put(("error", server_failure()))

    thread = threading.Thread(target=work, name="labelport-import", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = events.get()
            if kind == "error":
                value = {**client_body(value), "status": value.status}
            elif kind == "report":
                value = server_redact().value(value)
            yield wire_format.encode({kind: value}) + b"\n"
            if kind != "progress":
                return
    finally:
        thread.join()
        cleanup()


def _owned(server: Server, s: LocalService, project_hash: str, upload_id: str) -> wire_format.StartUpload:
    """The upload's start, if ``s``'s user started it in this project; else there is no such upload."""
    found = is_upload_id(upload_id)
    meta = server.uploads.upload_meta(upload_id, project_hash, s.user.id) if found else None
    if meta is None:
        raise NotFoundError("upload", upload_id, key="id")
    return wire_format.decode(meta, wire_format.StartUpload)


def _source(
    server: Server,
    upload_id: str,
    run: wire_format.RunImport,
    meta: wire_format.StartUpload,
    folder: Path,
    archive: bool,
) -> Any:
    """The upload as an import's source: its file in ``folder`` (or its bytes, for in-memory data),
    or the folder a zip archive unpacks to. The upload's chunks are deleted once they are in the file,
    so that an import killed from then on leaves no upload behind."""
    path = folder / safe_file_name(meta.filename)
    _unpack(server, upload_id, run, path)
    server.uploads.delete_upload(upload_id)
    # a file keeps its name (the import's source name); in-memory data stays in memory
    source: Any = path if meta.filename is not None else path.read_bytes()
    if archive:  # a folder (YOLO, VOC) sent as a zip: unpacked under its own name
        source = folder / "unpacked" / path.name.removesuffix(".zip")
        unpack_archive(path, source, limit=server.max_import_bytes)
    return source


def _unpack(server: Server, upload_id: str, run: wire_format.RunImport, path: Path) -> None:
    """The upload's chunks inflated into ``path``, never past the server's limit.

    When the client said what they inflate to (it compressed them), they are inflated once, into
    the file, and refused as soon as they pass that: no more is written than the client declared,
    itself within the limit. Otherwise they are inflated once without writing first, so that a
    decompression bomb is refused (413) before it fills the disk up to the limit."""
    chunks, limit, expected = server.uploads, server.max_import_bytes, run.chunks
    count, last = chunks.upload_chunk_count(upload_id)
    if count != expected or last != count - 1:
        raise LabelportError(
            f"the upload holds {plural(count, 'chunk')}; the import expected {expected:,} (numbered from 0)."
        )
    if run.size is None:
        gunzip_chunks(chunks.upload_chunks(upload_id), None, limit=limit)
    elif run.size < 0:
        raise LabelportError("an upload's size is a number of bytes, 0 or more.")
    elif run.size > limit:
        raise TooLarge(f"the uploaded COCO file is over the server's limit of {plural(limit, 'byte')}.")
    with path.open("wb") as out:
        if run.size is None:
            gunzip_chunks(chunks.upload_chunks(upload_id), out, limit=limit)
            return
        try:
            written = gunzip_chunks(chunks.upload_chunks(upload_id), out, limit=run.size)
        except TooLarge:
            raise LabelportError(
                f"the upload inflates to more than the {plural(run.size, 'byte')} its import declared; "
                "send it again."
            ) from None
    if written != run.size:
        raise LabelportError(
            f"the upload inflates to {plural(written, 'byte')}, not the {run.size:,} its import declared; "
            "send it again."
        )
