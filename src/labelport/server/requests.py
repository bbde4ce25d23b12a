"""What every route of the server shares: the signed request, its user's service, errors, body limits.

A route hands :func:`handle` the work to do as a :class:`~labelport.service.LocalService` for the
request's user: the signature is checked first, then the work runs in a worker thread (one request at
a time on a store that is not thread-safe). Rights are the service's to decide, never a route's. Every
error becomes a response through one table, :data:`ERRORS`: a labelport error answers with its
``status`` and ``to_dict()`` body, whatever else with the same kind of body.

>>> error_response(NotFoundError("project", "abc")).status_code
404
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from labelport.errors import ImportFailed, LabelportError, NotFoundError, TooLarge
from labelport.plural import plural
from labelport.server import wire_format
from labelport.server.redact import server_redact
from labelport.server.sessions import Sessions
from labelport.server.signing import Verifier
from labelport.server.uploads import Uploads
from labelport.service import LocalService
from labelport.store.base import LabelStore

log = logging.getLogger("labelport.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: What a route runs as the request's user: the service and the request's body, to a result.
Work = Callable[[LocalService, bytes], Any]


@dataclass
class Server:
    """What the routes of one app share: its store, how it checks signatures and browser sessions,
    where uploads wait."""

    store: LabelStore
    verifier: Verifier
    sessions: Sessions
    #: held around each request's work: a lock on a store that is not thread-safe, else nothing
    serial: AbstractContextManager[Any]
    uploads: Uploads
    clock: Callable[[], float]
    max_import_bytes: int
    #: the database an import's own process opens (:mod:`labelport.server.import_process`); None:
    #: imports run in this process
    import_db: str | None = None


def server_of(request: Request) -> Server:
    """The :class:`Server` of the app the request arrived at (``create_app`` keeps it there)."""
    found: Server = request.app.state.labelport
    return found


async def handle(request: Request, work: Work) -> Response:
    """Authenticate, then run ``work`` as the request's user in a worker thread.

    A result that is not a response already is answered as JSON."""
    server = server_of(request)
    body = await request.body()
    target, method, headers = _target(request.scope), request.method, request.headers

    def run() -> Any:
        with server.serial:
            user = server.verifier.authenticate(method, target, body, headers)
            return work(LocalService(server.store, user), body)

    result = await run_in_threadpool(run)
    return result if isinstance(result, Response) else json_response(result)


def json_response(value: Any) -> Response:
    """``value`` in the wire's JSON."""
    return Response(wire_format.encode(value), media_type="application/json")


def _target(scope: Scope) -> str:
    """The request target as the client sent (and signed) it: raw path, then ``?query`` if any."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return (raw + b"?" + query if query else raw).decode("latin-1")


# -- errors ------------------------------------------------------------------------------------


def error_body(exc: LabelportError) -> dict[str, Any]:
    """A labelport error as the server writes it: its ``to_dict()``, with a failed import's report."""
    body = exc.to_dict()
    if isinstance(exc, ImportFailed):
        body["report"] = exc.report.to_dict()
    return body


def client_body(exc: LabelportError) -> dict[str, Any]:
    """:func:`error_body` as a client reads it: naming none of the server's own folders."""
    return server_redact().value(error_body(exc))


def error_response(exc: LabelportError) -> Response:
    """The one translation of a labelport error to HTTP: its ``status``, :func:`client_body` as the body."""
    return Response(
        wire_format.encode(client_body(exc)), status_code=exc.status, media_type="application/json"
    )


def _labelport_error(request: Request, exc: Exception) -> LabelportError:
    assert isinstance(exc, LabelportError)
    return exc


def _http_error(request: Request, exc: Exception) -> LabelportError:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return NotFoundError("endpoint", request.url.path, key="path")
    return _with_status(LabelportError(f"{request.method} is not allowed here."), exc.status_code)


def _invalid_request(request: Request, exc: Exception) -> LabelportError:
    return LabelportError("the request's path or query is not valid.")


def _server_failed(request: Request, exc: Exception) -> LabelportError:
    log.exception("request %s %s failed", request.method, request.url.path)
    return server_failure()


def server_failure() -> LabelportError:
    """What a client is told when the server fails: a 500 that points to the server's log."""
    return _with_status(LabelportError("The server failed; its log says why."), 500)


def _with_status(error: LabelportError, status: int) -> LabelportError:
    error.status = status
    return error


#: The one table from what a request raised to the labelport error its client is answered with.
ERRORS: dict[type[Exception], Callable[[Request, Exception], LabelportError]] = {
    LabelportError: _labelport_error,
    HTTPException: _http_error,
    RequestValidationError: _invalid_request,
    Exception: _server_failed,
}


def add_error_handlers(app: FastAPI) -> None:
    """Answer every exception a route raises through :data:`ERRORS`."""

    def answer(
        translate: Callable[[Request, Exception], LabelportError],
    ) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            return error_response(translate(request, exc))

        return handler

    for kind, translate in ERRORS.items():
        app.add_exception_handler(kind, answer(translate))


# -- body limits -------------------------------------------------------------------------------


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
