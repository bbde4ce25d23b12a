"""The team server: every :class:`~labelport.service.Service` operation over HTTP, requests signed by SSH keys.

Each request is authenticated (:mod:`labelport.server.signing`), then runs as a
:class:`~labelport.service.LocalService` for its user: the rights checks are the library's own, and
errors are the library's own, answered with their ``status`` and ``to_dict()`` body. The server keeps
no state outside the database (nonces and uploads live there), so several processes can serve one
PostgreSQL database.

COCO imports arrive in pieces: ``POST /projects/{hash}/uploads`` starts an upload, ``PUT
.../uploads/{id}/chunks/{n}`` sends each gzip chunk, ``POST .../uploads/{id}/import`` runs the import on
the whole file, in one transaction, exactly as the embedded store would; its answer streams a JSON line
of progress per slice of annotations, then the report (or the error). Exports stream too, from a spool
file.

>>> # serve("postgresql://labelport@db/labelport", "0.0.0.0", 8800)
"""

from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response, StreamingResponse

from labelport.errors import ImportFailed, LabelportError, NotFoundError, TooLarge
from labelport.ontology import OntologyStructure
from labelport.server import wire
from labelport.server.manage import add_routes
from labelport.server.signing import Verifier
from labelport.server.uploads import (
    FileUploads,
    Uploads,
    gunzip_chunks,
    is_upload_id,
    new_upload_id,
    safe_file_name,
    unpack_archive,
)
from labelport.service import LocalService
from labelport.store.base import LabelStore, UnitQuery
from labelport.words import plural

#: The largest request body the server reads (an upload chunk, a label row, a list of data units).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: The largest COCO file an upload may decompress to.
MAX_IMPORT_BYTES = 4 * 1024 * 1024 * 1024
#: Uploads not imported within this time are deleted when the next upload starts.
UPLOAD_KEEP_SECONDS = 24 * 3600

log = logging.getLogger("labelport.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_response(exc: LabelportError) -> Response:
    """The one translation of a labelport error to HTTP: its ``status``, its ``to_dict()`` as the body.

    >>> error_response(NotFoundError("project", "abc")).status_code
    404
    """
    body = exc.to_dict()
    if isinstance(exc, ImportFailed):
        body["report"] = exc.report.to_dict()
    return Response(wire.encode(body), status_code=exc.status, media_type="application/json")


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, by their Content-Length or as they arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> TooLarge:
        return TooLarge(f"the request body is over the server's limit of {plural(self.max_bytes, 'byte')}.")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if not value.isdigit():
                    await _send(send, error_response(LabelportError("Content-Length must be a number.")))
                    return
                if int(value) > self.max_bytes:
                    await _send(send, error_response(self._too_large()))
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()  # answered by the LabelportError handler
            return message

        await self.app(scope, limited, send)


async def _send(send: Send, response: Response) -> None:
    await send(
        {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
    )
    await send({"type": "http.response.body", "body": response.body})


def _target(scope: Scope) -> str:
    """The request target as the client sent (and signed) it: raw path, then ``?query`` if any."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return (raw + b"?" + query if query else raw).decode("latin-1")


#: What a client accepts to be told an import's progress as it goes (see :func:`import_lines`); an
#: import asked without it answers plainly, with the report or the error and its status.
PROGRESS_LINES = "application/x-ndjson"
#: The header of a streamed export that gives the file's size (the response may be compressed).
SIZE_HEADER = "X-Labelport-Bytes"


def import_lines(
    run: Callable[[Callable[[int, int], None]], dict[str, Any]], cleanup: Callable[[], None]
) -> Iterator[bytes]:
    r"""Run ``run(progress)`` on a thread of its own and stream what it says, one JSON line each:
    ``{"progress": [done, total]}`` as it goes, then ``{"report": ...}`` or ``{"error": ...}`` (an
    error's body as :func:`error_response` writes it, with its ``status``). ``cleanup`` runs at the end.

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
            failure = LabelportError("The server failed; its log says why.")
            failure.status = 500
            events.put(("error", failure))

    thread = threading.Thread(target=work, name="labelport-import", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = events.get()
            if kind == "error":
                body = value.to_dict()
                if isinstance(value, ImportFailed):
                    body["report"] = value.report.to_dict()
                value = {**body, "status": value.status}
            yield wire.encode({kind: value}) + b"\n"
            if kind != "progress":
                return
    finally:
        thread.join()
        cleanup()


def _pieces(spool: BinaryIO) -> Iterator[bytes]:
    """A spooled file's bytes, a MiB at a time; the file is closed (and so deleted) at the end."""
    with spool:
        while piece := spool.read(1 << 20):
            yield piece


def _json(value: Any) -> Response:
    return Response(wire.encode(value), media_type="application/json")


def create_app(
    store: LabelStore,
    *,
    uploads: Uploads | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_import_bytes: int = MAX_IMPORT_BYTES,
    clock: Callable[[], float] = time.time,
    media_roots: Sequence[str | Path] = (),
    thumbs_dir: Path | None = None,
) -> FastAPI:
    """The server's ASGI app over a store.

    ``uploads`` defaults to the store itself on PostgreSQL, else a folder beside the SQLite file. A
    store that is not thread-safe (SQLite) serves one request at a time.

    >>> from labelport.store.sqlite import SqliteStore
    >>> app = create_app(SqliteStore(":memory:"))
    """
    verifier = Verifier(store, clock=clock)
    chunks: Uploads = uploads if uploads is not None else _default_uploads(store)
    serial: AbstractContextManager[Any] = (
        nullcontext() if getattr(store, "thread_safe", False) else threading.RLock()
    )
    app = FastAPI(title="labelport", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(GZipMiddleware, minimum_size=64 * 1024, compresslevel=1)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    @app.exception_handler(LabelportError)
    async def labelport_error(request: Request, exc: LabelportError) -> Response:
        return error_response(exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(NotFoundError("endpoint", request.url.path, key="path"))
        error = LabelportError(f"{request.method} is not allowed here.")
        error.status = exc.status_code
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error_response(LabelportError("the request's path or query is not valid."))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("request %s %s failed", request.method, request.url.path)
        error = LabelportError("The server failed; its log says why.")
        error.status = 500
        return error_response(error)

    async def handle(request: Request, work: Callable[[LocalService, bytes], Any]) -> Response:
        """Authenticate, then run ``work`` as the request's user in a worker thread."""
        body = await request.body()
        target, method, headers = _target(request.scope), request.method, request.headers

        def run() -> Any:
            with serial:
                user = verifier.authenticate(method, target, body, headers)
                return work(LocalService(store, user), body)

        result = await run_in_threadpool(run)
        return result if isinstance(result, Response) else _json(result)

    # -- who am I ------------------------------------------------------------------------------

    @app.get("/me")
    async def me(request: Request) -> Response:
        return await handle(request, lambda s, body: s.user)

    # -- ontologies ----------------------------------------------------------------------------

    @app.get("/ontologies")
    async def list_ontologies(request: Request) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            found = s.list_ontologies()
            return [wire.OntologyWire(o.ontology_hash, o.title, o.structure.to_dict()) for o in found]

        return await handle(request, work)

    @app.post("/ontologies")
    async def create_ontology(request: Request) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.CreateOntology)
            return wire.Created(s.create_ontology(data.title, OntologyStructure.from_dict(data.structure)))

        return await handle(request, work)

    @app.get("/ontologies/{ontology_hash}")
    async def get_ontology(request: Request, ontology_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            o = s.get_ontology(ontology_hash)
            return wire.OntologyWire(o.ontology_hash, o.title, o.structure.to_dict())

        return await handle(request, work)

    # -- projects ------------------------------------------------------------------------------

    @app.get("/projects")
    async def list_projects(request: Request) -> Response:
        return await handle(request, lambda s, body: s.list_projects())

    @app.post("/projects")
    async def create_project(request: Request) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.CreateProject)
            structure = None if data.structure is None else OntologyStructure.from_dict(data.structure)
            return wire.Created(
                s.create_project(
                    data.title,
                    description=data.description,
                    ontology_hash=data.ontology_hash,
                    structure=structure,
                )
            )

        return await handle(request, work)

    @app.get("/projects/{project_hash}")
    async def get_project(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            project, structure = s.get_project(project_hash)
            return wire.ProjectWire(project, structure.to_dict())

        return await handle(request, work)

    @app.post("/projects/{project_hash}/members")
    async def add_member(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.AddMember)
            s.add_member(project_hash, data.fingerprint, data.role)
            return {}

        return await handle(request, work)

    # -- data units and labels -----------------------------------------------------------------

    @app.get("/projects/{project_hash}/data-units")
    async def list_data_units(request: Request, project_hash: str) -> Response:
        return await handle(request, lambda s, body: s.list_data_units(project_hash))

    @app.post("/projects/{project_hash}/data-units")
    async def add_data_units(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            s.add_data_units(project_hash, wire.decode(body, wire.AddDataUnits).units)
            return {}

        return await handle(request, work)

    @app.post("/projects/{project_hash}/data-units/get")
    async def get_data_units(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            return s.get_data_units(project_hash, wire.decode(body, wire.GetDataUnits).data_hashes)

        return await handle(request, work)

    @app.post("/projects/{project_hash}/data-units/find")
    async def find_data_units(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.FindDataUnits)
            return s.find_data_units(project_hash, data.query, data.limit, data.offset)

        return await handle(request, work)

    @app.post("/projects/{project_hash}/class-counts")
    async def class_counts(request: Request, project_hash: str) -> Response:
        return await handle(
            request, lambda s, body: s.class_counts(project_hash, wire.decode(body, UnitQuery))
        )

    @app.post("/projects/{project_hash}/label-rows/list")
    async def list_label_rows(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.LoadLabelRows)
            return s.list_label_rows(project_hash, data.branch, data.data_hashes)

        return await handle(request, work)

    @app.post("/projects/{project_hash}/label-rows/load")
    async def load_label_rows(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.LoadLabelRows)
            return s.load_label_rows(project_hash, data.branch, data.data_hashes)

        return await handle(request, work)

    @app.put("/projects/{project_hash}/label-rows")
    async def save_label_row(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.SaveLabelRow)
            label_hash = s.save_label_row(
                project_hash, data.branch, data.data_hash, data.objects, data.classifications
            )
            return wire.LabelHash(label_hash)

        return await handle(request, work)

    @app.get("/projects/{project_hash}/branches")
    async def list_branches(request: Request, project_hash: str) -> Response:
        return await handle(request, lambda s, body: s.list_branches(project_hash))

    @app.get("/projects/{project_hash}/imports")
    async def list_imports(request: Request, project_hash: str) -> Response:
        return await handle(request, lambda s, body: s.list_imports(project_hash))

    # -- COCO ----------------------------------------------------------------------------------

    @app.post("/projects/{project_hash}/uploads")
    async def start_upload(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.StartUpload)
            s.get_project(project_hash)  # only members may upload (404 for everyone else)
            safe_file_name(data.filename)  # a name the import could not use is refused now
            upload_id = new_upload_id()
            meta = wire.encode(data)
            chunks.create_upload(upload_id, project_hash, s.user.id, meta, clock(), UPLOAD_KEEP_SECONDS)
            return wire.Upload(upload_id)

        return await handle(request, work)

    def _owned(s: LocalService, project_hash: str, upload_id: str) -> wire.StartUpload:
        meta = chunks.upload_meta(upload_id, project_hash, s.user.id) if is_upload_id(upload_id) else None
        if meta is None:
            raise NotFoundError("upload", upload_id, key="id")
        return wire.decode(meta, wire.StartUpload)

    @app.put("/projects/{project_hash}/uploads/{upload_id}/chunks/{seq}")
    async def put_chunk(request: Request, project_hash: str, upload_id: str, seq: int) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            _owned(s, project_hash, upload_id)
            if not 0 <= seq < 1_000_000:
                raise LabelportError("a chunk number is between 0 and 999,999.")
            # gzip makes nothing a COCO file holds larger: chunks past the limit can only be refused later
            if chunks.upload_bytes(upload_id) + len(body) > max_import_bytes:
                chunks.delete_upload(upload_id)
                raise TooLarge(
                    f"the upload is over the server's limit of {plural(max_import_bytes, 'byte')}."
                )
            chunks.put_upload_chunk(upload_id, seq, body)
            return {}

        return await handle(request, work)

    @app.delete("/projects/{project_hash}/uploads/{upload_id}")
    async def delete_upload(request: Request, project_hash: str, upload_id: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            _owned(s, project_hash, upload_id)
            chunks.delete_upload(upload_id)
            return {}

        return await handle(request, work)

    @app.post("/projects/{project_hash}/uploads/{upload_id}/import")
    async def run_import(request: Request, project_hash: str, upload_id: str) -> Response:
        """Run the import; the answer streams a line of progress per slice of annotations, then the
        report (or the error) as the last line (see :func:`import_lines`)."""

        def work(s: LocalService, body: bytes) -> Any:
            meta = _owned(s, project_hash, upload_id)
            folder = tempfile.TemporaryDirectory(prefix="labelport-import-")
            try:  # whatever the outcome, the upload is gone when the import ends
                data = wire.decode(body, wire.RunImport)
                options = wire.import_options_from_wire(data.options)
                # any format of the table: ?format= or the options' "format" (COCO when neither)
                fmt = str(options.pop("format", request.query_params.get("format", "coco")))
                archive = bool(options.pop("archive", False))
                s.check_import(project_hash, options, fmt)  # options and role, before any work
                path = Path(folder.name) / safe_file_name(meta.filename)
                _unpack(upload_id, data.chunks, path)
                # in the file now: an import killed from here on leaves no upload behind
                chunks.delete_upload(upload_id)
                # a file keeps its name (the import's source name); in-memory data stays in memory
                source: Any = path if meta.filename is not None else path.read_bytes()
                if archive:  # a folder (YOLO, VOC) sent as a zip: unpacked under its own name
                    source = Path(folder.name) / "unpacked" / path.name.removesuffix(".zip")
                    unpack_archive(path, source, limit=max_import_bytes)
            except BaseException:
                folder.cleanup()
                raise
            finally:
                chunks.delete_upload(upload_id)

            def run(progress: Callable[[int, int], None] | None) -> dict[str, Any]:
                with serial:
                    return dict(s.import_labels(project_hash, source, fmt, options, progress).to_dict())

            if PROGRESS_LINES not in request.headers.get("accept", ""):
                with folder:  # a plain answer: the report, or the error with its status
                    return run(None)
            lines = import_lines(run, folder.cleanup)
            return StreamingResponse(lines, media_type=PROGRESS_LINES)

        return await handle(request, work)

    def _unpack(upload_id: str, expected: int, path: Path) -> None:
        """The upload's chunks inflated into ``path``. They are inflated once without writing first,
        so that a decompression bomb is refused (413) before it fills the disk up to the limit."""
        count, last = chunks.upload_chunk_count(upload_id)
        if count != expected or last != count - 1:
            raise LabelportError(
                f"the upload holds {plural(count, 'chunk')}; the import expected {expected:,} (numbered from 0)."
            )
        gunzip_chunks(chunks.upload_chunks(upload_id), None, limit=max_import_bytes)
        with path.open("wb") as out:
            gunzip_chunks(chunks.upload_chunks(upload_id), out, limit=max_import_bytes)

    @app.post("/projects/{project_hash}/export")
    async def export(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.RunExport)
            spool = tempfile.TemporaryFile(prefix="labelport-export-")  # noqa: SIM115 (closed by _pieces)
            try:
                s.write_coco(project_hash, data.options, spool)
                size = spool.tell()
                spool.seek(0)
            except BaseException:
                spool.close()
                raise
            # the file's size before any compression on the wire: the client's progress total
            headers = {SIZE_HEADER: str(size)}
            return StreamingResponse(_pieces(spool), media_type="application/json", headers=headers)

        return await handle(request, work)

    # -- evaluations (any member may run one: they change no labels) ------------------------------

    @app.post("/projects/{project_hash}/evaluations")
    async def run_evaluation(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.RunEvaluation)
            return s.evaluate(project_hash, data.pred_branch, data.options)

        return await handle(request, work)

    @app.get("/projects/{project_hash}/evaluations/{evaluation_id}/matches")
    async def evaluation_matches(request: Request, project_hash: str, evaluation_id: int) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = s.evaluation_matches(project_hash, evaluation_id)
            return Response(data, media_type="application/octet-stream")

        return await handle(request, work)

    @app.post("/projects/{project_hash}/diff")
    async def diff_branches(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.RunDiff)
            return s.diff_branches(project_hash, data.a, data.b, data.iou)

        return await handle(request, work)

    add_routes(app, handle)
    _mount_viewer(app, store, serial, clock, media_roots, thumbs_dir)
    return app


def _mount_viewer(
    app: FastAPI,
    store: LabelStore,
    serial: AbstractContextManager[Any],
    clock: Callable[[], float],
    media_roots: Sequence[str | Path],
    thumbs_dir: Path | None,
) -> None:
    """The web viewer under ``/ui/``, each request as the user of its browser session."""
    from starlette.responses import RedirectResponse

    from labelport.server.sessions import COOKIE, SESSION_SECONDS, Sessions
    from labelport.viewer.media import MediaRoots, ThumbnailCache
    from labelport.viewer.routes import Viewer, error_json

    sessions = Sessions(store, clock=clock)
    cache = ThumbnailCache(thumbs_dir or Path(tempfile.gettempdir()) / "labelport-server-thumbs")

    def authenticate(request: Request) -> LocalService:
        return LocalService(store, sessions.user(request.cookies))

    viewer = Viewer(authenticate, base="/ui", roots=MediaRoots(media_roots), cache=cache, serial=serial)
    app.include_router(viewer.router(), prefix="/ui")

    @app.get("/ui")
    def ui_root() -> Response:
        return RedirectResponse("/ui/", status_code=308)

    @app.get("/ui/login")
    def ui_login(request: Request) -> Response:
        try:
            with serial:
                token = sessions.open_link(request.query_params)
        except LabelportError as exc:
            return error_json(exc)
        response = RedirectResponse("/ui/", status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=SESSION_SECONDS,
            httponly=True,
            secure=request.url.scheme == "https",
            samesite="strict",
            path="/ui",
        )
        return response

    @app.post("/ui/logout")
    def ui_logout(request: Request) -> Response:
        with serial:
            sessions.revoke(request.cookies)
        response = RedirectResponse("/ui/", status_code=303)
        response.delete_cookie(COOKIE, path="/ui")
        return response


def _default_uploads(store: LabelStore) -> Uploads:
    """The store itself when it keeps uploads (PostgreSQL); a folder beside a SQLite file otherwise."""
    if hasattr(store, "create_upload"):
        found: Uploads = store  # type: ignore[assignment]
        return found
    path = getattr(store, "path", ":memory:")
    if path == ":memory:":  # a store of one process: a folder of that process, made on first use
        return FileUploads(Path(tempfile.gettempdir()) / f"labelport-uploads-{os.getpid()}-{id(store):x}")
    return FileUploads(Path(f"{path}.uploads"))


def serve(
    db: str,
    host: str = "127.0.0.1",
    port: int = 8800,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_import_bytes: int = MAX_IMPORT_BYTES,
    media_roots: Sequence[str | Path] = (),
) -> None:
    """Run the server on a database until interrupted (Ctrl-C).

    ``db`` is a ``postgresql://`` URL, or a SQLite file's path (one process, one request at a time).
    Request bodies over ``max_body_bytes`` are refused (413), and so are uploads that decompress to
    more than ``max_import_bytes``.

    >>> # serve("postgresql://labelport@db.example/labelport", "0.0.0.0", 8800)
    """
    import uvicorn

    from labelport.formats.coco.annotations import prepare_workers
    from labelport.server.admin import open_store

    # Imports validate in worker processes started by a fork server (this process runs threads);
    # starting it now, before the store's connections and uvicorn's threads, spares the first import.
    prepare_workers()
    store = open_store(db)
    try:
        app = create_app(
            store, max_body_bytes=max_body_bytes, max_import_bytes=max_import_bytes, media_roots=media_roots
        )
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
    finally:
        store.close()
