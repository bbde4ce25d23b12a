"""The team server: every :class:`~labelport.service.Service` operation over HTTP, requests signed by SSH keys.

This module assembles the app: the routers of :mod:`labelport.server.routers` (one per resource), the
request handling they share (:mod:`labelport.server.requests`: the signature check, the service for
the request's user, errors, body limits), and the viewer under ``/ui/``. Each request runs as a
:class:`~labelport.service.LocalService` for its user: the rights checks are the library's own, and
errors are the library's own, answered with their ``status`` and ``to_dict()`` body. The server keeps
no state outside the database (nonces and uploads live there), so several processes can serve one
PostgreSQL database.

>>> from labelport.store.sqlite import SqliteStore
>>> app = create_app(SqliteStore(":memory:"))
>>> app.state.labelport.max_import_bytes == MAX_IMPORT_BYTES
True
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.gzip import GZipMiddleware

from labelport.server.import_process import child_import_db
from labelport.server.requests import BodyLimit, Server, add_error_handlers, error_response
from labelport.server.routers import ROUTERS
from labelport.server.sessions import Sessions
from labelport.server.signing import Verifier
from labelport.server.uploads import Uploads, uploads_for
from labelport.service import LocalService
from labelport.store.base import LabelStore
from labelport.viewer.headers import SecurityHeaders

__all__ = ["MAX_BODY_BYTES", "MAX_IMPORT_BYTES", "create_app", "error_response", "serve"]

#: The largest request body the server reads (an upload chunk, a label row, a list of data units).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: The largest COCO file an upload may decompress to.
MAX_IMPORT_BYTES = 4 * 1024 * 1024 * 1024


def create_app(
    store: LabelStore,
    *,
    uploads: Uploads | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_import_bytes: int = MAX_IMPORT_BYTES,
    clock: Callable[[], float] = time.time,
    media_roots: Sequence[str | Path] = (),
    thumbs_dir: Path | None = None,
    import_processes: bool = True,
) -> FastAPI:
    """The server's ASGI app over a store.

    ``uploads`` defaults to the store itself on PostgreSQL, else a folder beside the SQLite file. A
    store that is not thread-safe (SQLite) serves one request at a time. On PostgreSQL each import
    runs in a process of its own (:mod:`labelport.server.import_process`), unless
    ``import_processes`` is off.

    >>> from labelport.store.sqlite import SqliteStore
    >>> app = create_app(SqliteStore(":memory:"))
    """
    serial: AbstractContextManager[Any] = nullcontext() if store.thread_safe else threading.RLock()
    server = Server(
        store=store,
        verifier=Verifier(store, clock=clock),
        sessions=Sessions(store, clock=clock),
        serial=serial,
        uploads=uploads if uploads is not None else uploads_for(store),
        clock=clock,
        max_import_bytes=max_import_bytes,
        import_db=child_import_db(store) if import_processes else None,
    )
    app = FastAPI(title="labelport", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.labelport = server
    app.add_middleware(GZipMiddleware, minimum_size=64 * 1024, compresslevel=1)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: even BodyLimit's refusals carry them
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    _mount_viewer(app, server, media_roots, thumbs_dir)
    return app


def _mount_viewer(
    app: FastAPI, server: Server, media_roots: Sequence[str | Path], thumbs_dir: Path | None
) -> None:
    """The web viewer's pages under ``/ui/``, each request as the user of its browser session."""
    from labelport.viewer.media import MediaRoots, ThumbnailCache, project_roots
    from labelport.viewer.routes import Viewer

    cache = ThumbnailCache(thumbs_dir or Path(tempfile.gettempdir()) / "labelport-server-thumbs")
    bound = MediaRoots(media_roots)
    known: dict[str, tuple[float, MediaRoots]] = {}

    def authenticate(request: Request) -> LocalService:
        return LocalService(server.store, server.sessions.user(request.cookies))

    def roots_of(project_hash: str) -> MediaRoots:
        """The project's own roots (asked once a second at most: a grid page asks for each unit)."""
        now = time.monotonic()
        found = known.get(project_hash)
        if found is None or now - found[0] > 1.0:
            found = known[project_hash] = (
                now,
                project_roots(bound, server.store.project_media_roots(project_hash)),
            )
        return found[1]

    viewer = Viewer(
        authenticate, base="/ui", roots=bound, cache=cache, serial=server.serial, roots_of=roots_of
    )
    app.include_router(viewer.router(), prefix="/ui")


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

    Called as ``serve("postgresql://labelport@db.example/labelport", "0.0.0.0", 8800)``.
    """
    import uvicorn

    from labelport.formats.coco.annotations import PRELOAD
    from labelport.imports.workers import prepare_workers
    from labelport.server import import_process
    from labelport.server.admin import open_store
    from labelport.viewer.local import listening_socket

    # Imports run in processes started by a fork server (this process runs threads), and validate
    # in workers those fork; starting it now, before the store's connections and uvicorn's threads,
    # with what both import loaded once, spares each import that time.
    bound = listening_socket(host, port)  # a port in use: one sentence, not uvicorn's log and exit 3
    prepare_workers([*PRELOAD, *import_process.PRELOAD])
    store = open_store(db)
    try:
        app = create_app(
            store, max_body_bytes=max_body_bytes, max_import_bytes=max_import_bytes, media_roots=media_roots
        )
        config = uvicorn.Config(app, host=host, port=port, log_level="info", server_header=False)
        with bound:
            uvicorn.Server(config).run(sockets=[bound])
    finally:
        store.close()
