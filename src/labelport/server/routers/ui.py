"""The viewer's door: ``/ui`` to ``/ui/``, signing in by a signed link, signing out.

The viewer's own pages (:mod:`labelport.viewer.routes`) are mounted under ``/ui/`` beside these; each
of its requests runs as the user of its browser session (:mod:`labelport.server.sessions`).

>>> [route.path for route in router.routes]
['/ui', '/ui/login', '/ui/logout']
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from labelport.errors import LabelportError
from labelport.server.requests import server_of
from labelport.server.sessions import COOKIE, SESSION_SECONDS
from labelport.viewer.routes import error_json

router = APIRouter()


@router.get("/ui")
def ui_root() -> Response:
    return RedirectResponse("/ui/", status_code=308)


@router.get("/ui/login")
def ui_login(request: Request) -> Response:
    server = server_of(request)
    try:
        with server.serial:
            token = server.sessions.open_link(request.query_params)
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


@router.post("/ui/logout")
def ui_logout(request: Request) -> Response:
    server = server_of(request)
    with server.serial:
        server.sessions.revoke(request.cookies)
    response = RedirectResponse("/ui/", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response
