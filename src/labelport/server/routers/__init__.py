"""The server's routes, one module per resource; :data:`ROUTERS` is the one list ``create_app`` mounts.

A new resource is a new module here with a ``router`` and one line in :data:`ROUTERS`. Routes only
decode the request, make one :class:`~labelport.service.LocalService` call through
:func:`labelport.server.requests.handle` and encode its answer: who may do what is the service's.

>>> len(ROUTERS) > 5
True
"""

from __future__ import annotations

from fastapi import APIRouter

from labelport.server.routers import (
    data,
    evaluations,
    exports,
    imports,
    labels,
    ontologies,
    projects,
    ui,
    users,
)

#: Every router of the server's app, in the order they are mounted.
ROUTERS: tuple[APIRouter, ...] = (
    users.router,
    ontologies.router,
    projects.router,
    data.router,
    labels.router,
    imports.router,
    exports.router,
    evaluations.router,
    ui.router,
)
