"""``labelport view``: the viewer over the embedded store, on 127.0.0.1, behind a random token.

The printed address carries the token once (``/?token=...``); the first request with it sets an
HttpOnly, SameSite=Strict cookie and redirects to the same page without it. Every other request
needs the cookie: anything else on the machine that reaches the port sees 401.

Called as ``serve_local(service, port=8765, media_roots=["~/images"])``.
"""

from __future__ import annotations

import errno
import secrets
import socket
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from labelport.errors import AuthError, LabelportError
from labelport.service import Service
from labelport.viewer.headers import SecurityHeaders
from labelport.viewer.media import MediaRoots, ThumbnailCache
from labelport.viewer.routes import Viewer

COOKIE = "labelport_view"


def create_local_app(
    service: Service, token: str, *, media_roots: Sequence[str | Path] = (), cache_dir: Path | None = None
) -> FastAPI:
    """The viewer app for one user's service, protected by ``token``."""
    app = FastAPI(title="labelport viewer", docs_url=None, redoc_url=None, openapi_url=None)
    cache = ThumbnailCache(cache_dir or Path(tempfile.gettempdir()) / "labelport-thumbs")

    def authenticate(request: Request) -> Service:
        given = request.cookies.get(COOKIE, "")
        if not given or not secrets.compare_digest(given.encode(), token.encode()):
            raise AuthError("Open the address `labelport view` printed (its token signs you in).")
        return service

    @app.middleware("http")
    async def take_token(request: Request, call_next: object) -> Response:
        given = request.query_params.get("token")
        if given is not None and secrets.compare_digest(given.encode(), token.encode()):
            rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            target = request.url.path + (f"?{rest}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        return await call_next(request)  # type: ignore[operator, no-any-return]

    viewer = Viewer(
        authenticate, base="", roots=MediaRoots(media_roots), cache=cache, serial=threading.RLock()
    )
    app.include_router(viewer.router())
    app.add_middleware(SecurityHeaders)
    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for uvicorn to serve on; a port in use (or an address this
    machine does not have) is one sentence, before anything is printed.

    >>> with listening_socket("127.0.0.1", 0) as bound:
    ...     bound.getsockname()[0]
    '127.0.0.1'
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError):
        raise LabelportError(f"cannot listen on {host}: no such address on this machine.") from None
    family, _type, _proto, _name, address = found[0]
    bound = socket.socket(family, socket.SOCK_STREAM)
    try:
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds its own
        bound.bind(address)
        bound.listen(2048)
    except OSError as exc:
        bound.close()
        if exc.errno == errno.EADDRINUSE:
            raise LabelportError(f"port {port} on {host} is in use; pass another with --port.") from None
        raise LabelportError(f"cannot listen on {host} port {port} ({exc.strerror or exc}).") from None
    return bound


def serve_local(
    service: Service,
    *,
    port: int = 8765,
    media_roots: Sequence[str | Path] = (),
    project_hash: str | None = None,
    open_browser: bool = False,
    announce: object = print,
    token: str | None = None,
) -> None:
    """Serve the viewer on 127.0.0.1:``port`` until interrupted; ``announce`` gets the address."""
    import uvicorn

    bound = listening_socket("127.0.0.1", port)  # a port in use: one sentence, before any address
    token = token or secrets.token_urlsafe(24)
    app = create_local_app(service, token, media_roots=media_roots)
    path = f"/projects/{project_hash}" if project_hash else "/"
    address = f"http://127.0.0.1:{port}{path}?token={token}"
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", server_header=False)
    server = uvicorn.Server(config)
    announce(address)  # type: ignore[operator]
    if open_browser:
        import webbrowser

        threading.Timer(0.8, webbrowser.open, (address,)).start()
    with bound:
        server.run(sockets=[bound])
