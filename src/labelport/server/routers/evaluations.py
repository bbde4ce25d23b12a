"""Evaluations: a branch's predictions judged against ground truth, their matches, and branch diffs.

Any member may run one: they change no labels.

>>> sorted({route.path for route in router.routes})[0]
'/projects/{project_hash}/diff'
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.server import wire_format
from labelport.server.requests import handle
from labelport.service import LocalService

router = APIRouter()


@router.post("/projects/{project_hash}/evaluations")
async def run_evaluation(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.RunEvaluation)
        return s.evaluate(project_hash, data.pred_branch, data.options)

    return await handle(request, work)


@router.post("/projects/{project_hash}/evaluations/stored")
async def stored_evaluation(request: Request, project_hash: str) -> Response:
    """The stored, current evaluation of two branches with COCO's default parameters (null when none)."""

    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.StoredEvaluation)
        return s.stored_evaluation(project_hash, data.pred_branch, data.gt_branch, data.iou_type)

    return await handle(request, work)


@router.get("/projects/{project_hash}/evaluations/{evaluation_id}/matches")
async def evaluation_matches(request: Request, project_hash: str, evaluation_id: int) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = s.evaluation_matches(project_hash, evaluation_id)
        return Response(data, media_type="application/octet-stream")

    return await handle(request, work)


@router.post("/projects/{project_hash}/diff")
async def diff_branches(request: Request, project_hash: str) -> Response:
    def work(s: LocalService, body: bytes) -> Any:
        data = wire_format.decode(body, wire_format.RunDiff)
        return s.diff_branches(project_hash, data.a, data.b, data.iou)

    return await handle(request, work)
