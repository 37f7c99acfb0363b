"""Retention over HTTP: pinning a job's results (its owner) and running the sweep (administrators).

The policy itself is a member of the collection (``"gep:retention"``), set with the STAC
Transaction routes by whoever may update the collection; the rules live in
``gep.catalog.retention`` and ``gep.jobs.retention``; this only translates HTTP.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import require_admin, require_user
from gep.api.deps import base_url
from gep.api.openapi import answer, param, problems, query
from gep.api.processes import _STATUS_INFO, _status_info
from gep.api.services import services
from gep.core.errors import InvalidInput
from gep.jobs.retention import Retention

router = APIRouter(tags=["Retention"])
JSON = "application/json"

_PIN_ANSWERS = {
    **answer(JSON, "The job's status, with gep:pinned", schema=_STATUS_INFO),
    **problems(401, 403, 404, 409, s409="The job's results are already gone (dismissed, expired)"),
}


async def _pin(request: Request, job_id: str, pinned: bool) -> Response:
    viewer = require_user(request)
    job = await run_in_threadpool(services(request).jobs.pin, viewer, job_id, pinned)
    return Response(orjson.dumps(_status_info(job, base_url(request))), media_type=JSON)


@router.post(
    "/jobs/{job_id}/pin",
    summary="Keep a job's results whatever the retention policy",
    response_class=Response,
    responses=_PIN_ANSWERS,
)
async def pin_job(job_id: str, request: Request) -> Response:
    """The owner (or an administrator) pins the job: its results are never expired by the
    ``results`` collection's retention policy. A job may be pinned before it ends."""
    return await _pin(request, job_id, True)


@router.delete(
    "/jobs/{job_id}/pin",
    summary="Let a job's results expire again",
    response_class=Response,
    responses=_PIN_ANSWERS,
)
async def unpin_job(job_id: str, request: Request) -> Response:
    """Unpinned results older than the policy go at the next sweep."""
    return await _pin(request, job_id, False)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidInput(f"{name} must be true or false, not '{value[:40]}'", field=name)
    return value in ("true", "1")


@router.post(
    "/retention/run",
    summary="Expire what the collections' retention policies no longer keep (administrators)",
    dependencies=[Depends(require_admin)],
    responses=problems(400, 401, 403),
    openapi_extra=query(
        param("dry_run", "Only say what would expire", {"type": "boolean", "default": False})
    ),
)
async def run_retention(request: Request) -> Response:
    """One sweep now (``gep serve`` runs one every ``GEP_RETENTION_POLL_S``): the policies, what
    expired (job results with their items and file counts, items of other collections) and how
    many old results were kept because they are pinned."""
    dry_run = _flag(request, "dry_run")
    svc = services(request)
    retention = Retention(svc.store, svc.job_store, svc.gateway.storage)
    report = await run_in_threadpool(lambda: retention.sweep(dry_run=dry_run))
    return Response(orjson.dumps(report.as_dict()), media_type=JSON)
