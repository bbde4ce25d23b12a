"""The server's routes for everyday operations: rename and delete, members, users, branches, stats.

Each route is one :class:`~labelport.service.LocalService` call run by ``handle`` (authenticated, as
the request's user), so the rights checks are the service's. Names that may hold ``/`` (branches, key
fingerprints) travel in the body, not in the path.

>>> # add_routes(app, handle)  (create_app does this)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from labelport.server import wire
from labelport.service import LocalService

Handle = Callable[[Request, Callable[[LocalService, bytes], Any]], Awaitable[Response]]


def add_routes(app: FastAPI, handle: Handle) -> None:
    """Register the everyday operations' routes on the server's app."""

    @app.get("/users")
    async def list_users(request: Request) -> Response:
        return await handle(request, lambda s, body: s.list_users())

    @app.patch("/projects/{project_hash}")
    async def update_project(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.UpdateProject)
            return s.update_project(project_hash, title=data.title, description=data.description)

        return await handle(request, work)

    @app.delete("/projects/{project_hash}")
    async def delete_project(request: Request, project_hash: str) -> Response:
        return await handle(request, lambda s, body: s.delete_project(project_hash))

    @app.get("/projects/{project_hash}/members")
    async def list_members(request: Request, project_hash: str) -> Response:
        return await handle(request, lambda s, body: s.list_members(project_hash))

    @app.post("/projects/{project_hash}/members/remove")
    async def remove_member(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            return s.remove_member(project_hash, wire.decode(body, wire.Fingerprint).fingerprint)

        return await handle(request, work)

    @app.post("/projects/{project_hash}/data-units/delete")
    async def delete_data_units(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            return s.delete_data_units(project_hash, wire.decode(body, wire.DataHashes).data_hashes)

        return await handle(request, work)

    @app.get("/projects/{project_hash}/branch-summaries")
    async def branch_summaries(request: Request, project_hash: str) -> Response:
        return await handle(request, lambda s, body: s.branch_summaries(project_hash))

    @app.post("/projects/{project_hash}/branches/delete")
    async def delete_branch(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            return s.delete_branch(project_hash, wire.decode(body, wire.Branch).branch)

        return await handle(request, work)

    @app.post("/projects/{project_hash}/branches/copy")
    async def copy_branch(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.CopyBranch)
            return s.copy_branch(project_hash, data.source, data.target, replace=data.replace)

        return await handle(request, work)

    @app.post("/projects/{project_hash}/label-rows/delete")
    async def delete_labels(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            data = wire.decode(body, wire.DeleteLabels)
            return s.delete_labels(project_hash, data.branch, data.data_hash)

        return await handle(request, work)

    @app.post("/projects/{project_hash}/stats")
    async def project_stats(request: Request, project_hash: str) -> Response:
        def work(s: LocalService, body: bytes) -> Any:
            return s.project_stats(project_hash, wire.decode(body, wire.Branch).branch)

        return await handle(request, work)
