"""``/harvest``: harvest sources, their runs (the harvest log) and the ingestion events."""

from __future__ import annotations

import threading
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller, require_admin
from gep.api.deps import base_url, json_body
from gep.api.openapi import json_request, problems
from gep.api.services import services
from gep.api.sharing import check_sharing, delete_route, share, share_route
from gep.core.access import PUBLIC
from gep.core.errors import Conflict, InvalidInput
from gep.core.timeutil import format_rfc3339, from_micros
from gep.harvest.base import SourceConfig
from gep.harvest.runner import run_harvest
from gep.harvest.sources import check_config
from gep.harvest.store import HarvestStore

router = APIRouter(prefix="/harvest", tags=["Harvesting"])
JSON = "application/json"


def _harvests(request: Request) -> HarvestStore:
    return services(request).harvests


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type=JSON, headers=headers)


def _source_doc(request: Request, record_dict: dict[str, Any]) -> dict[str, Any]:
    base = f"{base_url(request)}/harvest/sources/{record_dict['name']}"
    return {
        **record_dict,
        "links": [
            {"rel": "self", "type": JSON, "href": base},
            {"rel": "runs", "type": JSON, "href": f"{base}/runs"},
        ],
    }


@router.get("/sources", summary="Configured harvest sources", responses=problems(401))
def list_sources(request: Request) -> Response:
    records = _harvests(request).sources(caller(request))
    return _json({"sources": [_source_doc(request, r.as_dict()) for r in records]})


@router.post(
    "/sources",
    summary="Add a harvest source",
    status_code=201,
    dependencies=[Depends(require_admin)],
    responses=problems(400, 401, 403, 409, 415),
    openapi_extra=json_request(
        "The source's configuration",
        {
            "type": "object",
            "required": ["name", "kind", "url", "collection"],
            "properties": {
                "name": {"type": "string"},
                "kind": {"type": "string", "description": "stac-api, opensearch, asf or folder"},
                "url": {"type": "string", "description": "The archive's URL, or a folder"},
                "collection": {"type": "string", "description": "Where items are written"},
                "params": {"type": "object"},
                "interval_s": {"type": "integer", "minimum": 1},
                "visibility": {"type": "string"},
                "replace": {"type": "boolean"},
            },
        },
    ),
)
async def add_source(request: Request, body: Any = Depends(json_body)) -> Response:
    """Body: ``{"name", "kind", "url", "collection", "params": {…}, "interval_s": 3600}``.
    The configuration is checked (kind, URL or folder, collection id) before it is stored."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    missing = [k for k in ("name", "kind", "url", "collection") if not body.get(k)]
    if missing:
        raise InvalidInput(f"missing: {', '.join(missing)}", field=missing[0])
    interval = body.get("interval_s")
    if interval is not None and (not isinstance(interval, int) or interval <= 0):
        raise InvalidInput("interval_s must be a positive integer (seconds)", field="interval_s")
    config = SourceConfig(
        str(body["name"]),
        str(body["kind"]),
        str(body["url"]),
        str(body["collection"]),
        body.get("params") or {},
    )
    check_config(config)
    admin = require_admin(request)
    visibility = check_sharing(request, admin, body.get("visibility", PUBLIC))
    record = await run_in_threadpool(
        lambda: _harvests(request).add(
            config,
            interval_s=interval,
            replace=bool(body.get("replace")),
            owner=admin.user_id,
            visibility=visibility,
        )
    )
    doc = _source_doc(request, record.as_dict())
    return _json(doc, 201, {"Location": doc["links"][0]["href"]})


@router.get(
    "/sources/{name}",
    summary="A harvest source and its latest runs",
    responses=problems(401, 404),
)
def get_source(request: Request, name: str) -> Response:
    harvests = _harvests(request)
    doc = _source_doc(request, harvests.get(name, caller(request)).as_dict())
    doc["runs"] = [r.as_dict() for r in harvests.runs(name, 5)]
    return _json(doc)


@share_route(
    router, "/sources/{name}", summary="Share or unshare a harvest source (administrators)"
)
async def share_source(request: Request, name: str) -> Response:
    """Body ``{"visibility": …}``: who sees the source and its harvest log."""
    admin = require_admin(request)
    harvests = _harvests(request)
    await share(
        request, admin, lambda: harvests.get(name), lambda _, v: harvests.set_visibility(name, v)
    )
    return _json(_source_doc(request, harvests.get(name).as_dict()))


@delete_route(
    router,
    "/sources/{name}",
    summary="Remove a harvest source",
    dependencies=[Depends(require_admin)],
)
def remove_source(request: Request, name: str) -> Response:
    _harvests(request).remove(name)
    return Response(status_code=204)


@router.get(
    "/sources/{name}/runs", summary="The harvest log of a source", responses=problems(400, 401, 404)
)
def source_runs(request: Request, name: str, limit: int = Query(20, ge=1, le=1000)) -> Response:
    harvests = _harvests(request)
    harvests.get(name, caller(request))
    return _json({"runs": [r.as_dict() for r in harvests.runs(name, limit)]})


@router.post(
    "/sources/{name}/run",
    summary="Run a harvest now (in the background)",
    status_code=202,
    dependencies=[Depends(require_admin)],
    responses=problems(400, 401, 403, 404, 409),
)
def run_source(
    request: Request,
    name: str,
    full: bool = Query(False, description="Ignore the checkpoint: list the whole archive"),
    max_pages: int | None = Query(
        None, ge=1, le=1_000_000, description="Stop after this many pages (the next run resumes)"
    ),
) -> Response:
    """Answers at once; the run's progress is in ``…/runs``. One run of a source at a time."""
    harvests = _harvests(request)
    harvests.get(name)
    svc = services(request)
    running, lock = svc.harvests_running, svc.harvests_lock
    with lock:
        if name in running:
            raise Conflict(f"source '{name}' is being harvested already", field="name")
        running.add(name)
    store = svc.store

    def go() -> None:
        try:
            run_harvest(store, harvests, name, full=full, max_pages=max_pages)
        finally:
            with lock:
                running.discard(name)

    threading.Thread(target=go, name=f"gep-harvest-{name}", daemon=True).start()
    runs = f"{base_url(request)}/harvest/sources/{name}/runs"
    return _json({"source": name, "status": "started", "runs": runs}, 202, {"Location": runs})


@router.get(
    "/events",
    summary="Ingestion events: one per new catalogue item",
    responses=problems(400, 401),
)
def events(
    request: Request,
    after: int = Query(
        0, ge=0, le=2**63 - 1, description="Only events with a larger sequence number"
    ),
    collection: str | None = Query(None),
    limit: int = Query(100, ge=1, le=10000),
) -> Response:
    store = services(request).store
    found = store.ingestion_events(
        after=after, collection=collection, limit=limit, viewer=caller(request)
    )
    return _json(
        {
            "events": [
                {
                    "seq": e.seq,
                    "collection": e.collection,
                    "item": e.item_id,
                    "origin": e.origin,
                    "created": format_rfc3339(from_micros(e.created)),
                }
                for e in found
            ],
            "next_after": found[-1].seq if found else after,
        }
    )
