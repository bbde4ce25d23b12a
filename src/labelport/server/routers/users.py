"""Who the request's user is, and the server's users.

>>> [route.path for route in router.routes]
['/me', '/users']
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.server.requests import handle

router = APIRouter()


@router.get("/me")
async def me(request: Request) -> Response:
    return await handle(request, lambda s, body: s.user)


@router.get("/users")
async def list_users(request: Request) -> Response:
    return await handle(request, lambda s, body: s.list_users())
