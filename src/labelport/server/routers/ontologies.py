"""Ontologies: list those the user may read, create one, read one.

>>> [route.path for route in router.routes]
['/ontologies', '/ontologies', '/ontologies/{ontology_hash}']
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.ontology import OntologyStructure
from labelport.server import wire_format
from labelport.server.requests import handle
from labelport.service import LocalService
from labelport.store.base import OntologyRecord

router = APIRouter()


def _wire(o: OntologyRecord) -> wire_format.OntologyWire:
    return wire_format.OntologyWire(o.ontology_hash, o.title, o.structure.to_dict())


@router.get("/ontologies")
async def list_ontologies(request: Request) -> Response:
    return await handle(request, lambda s, body: [_wire(o) for o in s.list_ontologies()])


@router.post("/ontologies")
async def create_ontology(request: Request) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.CreateOntology)
        return wire_format.Created(s.create_ontology(data.title, OntologyStructure.from_dict(data.structure)))

    return await handle(request, work)


@router.get("/ontologies/{ontology_hash}")
async def get_ontology(request: Request, ontology_hash: str) -> Response:
    return await handle(request, lambda s, body: _wire(s.get_ontology(ontology_hash)))
