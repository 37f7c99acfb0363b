"""``/gateway``: the data gateway's mirrors (administrators), prefetching (users) and the cache's
counters (administrators). The rules live in ``gep.gateway``; this only translates HTTP."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import require_admin, require_user
from gep.api.deps import json_body
from gep.api.openapi import json_request, problems
from gep.api.services import services
from gep.api.sharing import delete_route
from gep.core.errors import ServiceUnavailable
from gep.gateway.mirrors import (
    CREDENTIAL_KEYS,
    DEFAULT_PRIORITY,
    MirrorKind,
    MirrorStore,
    check_mirror,
    mirror_from_body,
)
from gep.gateway.prefetch import MAX_ITEMS, Prefetcher, parse_prefetch_body, prefetch_items

router = APIRouter(prefix="/gateway", tags=["Data gateway"])
JSON = "application/json"

MIRROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "url", "collections"],
    "properties": {
        "kind": {"type": "string", "enum": [k.value for k in MirrorKind]},
        "url": {
            "type": "string",
            "description": "A folder inside a data root, s3://bucket/prefix or an http(s) URL",
        },
        "collections": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": 'The collections it serves ("*": all)',
        },
        "priority": {
            "type": "integer",
            "minimum": 0,
            "default": DEFAULT_PRIORITY,
            "description": "Smaller is tried first",
        },
        "match_prefix": {
            "type": "string",
            "description": "Hrefs starting with it are mapped by the rest of their path; "
            "without it, by their file name",
        },
        "endpoint_url": {"type": "string", "description": "S3-compatible endpoint (S3 only)"},
        "credentials": {
            "type": "object",
            "description": "References, never values: "
            + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in CREDENTIAL_KEYS.items() if v)
            + " (names of GEP_MIRROR_* environment variables, or an AWS profile)",
            "additionalProperties": {"type": "string"},
        },
    },
}


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type=JSON)


def _mirrors(request: Request) -> MirrorStore:
    return MirrorStore(services(request).store.engine)


def _prefetcher(request: Request) -> Prefetcher:
    return services(request).jobs.prefetch.prefetcher


@router.get(
    "/mirrors",
    summary="Mirrors and the collections they serve (administrators)",
    dependencies=[Depends(require_admin)],
    responses=problems(401, 403),
)
def list_mirrors(request: Request) -> Response:
    return _json({"mirrors": [m.as_dict() for m in _mirrors(request).all()]})


@router.get(
    "/mirrors/{name}",
    summary="A mirror (administrators)",
    dependencies=[Depends(require_admin)],
    responses=problems(401, 403, 404),
)
def get_mirror(request: Request, name: str) -> Response:
    return _json(_mirrors(request).get(name).as_dict())


@router.put(
    "/mirrors/{name}",
    summary="Add or replace a mirror (administrators)",
    dependencies=[Depends(require_admin)],
    responses={
        201: {"description": "The mirror was added"},
        **problems(400, 401, 403, 415),
    },
    openapi_extra=json_request("Where the mirror is and what it serves", MIRROR_SCHEMA),
)
async def put_mirror(request: Request, name: str, body: Any = Depends(json_body)) -> Response:
    """200 when a mirror of that name was replaced, 201 when it is new."""
    mirror = check_mirror(mirror_from_body(name, body), services(request).gateway.config)
    created = await run_in_threadpool(_mirrors(request).put, mirror)
    return _json(mirror.as_dict(), 201 if created else 200)


@delete_route(
    router,
    "/mirrors/{name}",
    summary="Remove a mirror (administrators)",
    dependencies=[Depends(require_admin)],
)
def remove_mirror(request: Request, name: str) -> Response:
    _mirrors(request).remove(name)
    return Response(status_code=204)


@router.post(
    "/prefetch",
    summary="Fetch items' remote assets into the cache ahead of the jobs that will read them",
    status_code=202,
    responses=problems(400, 401, 404, 415, 429, 503),
    openapi_extra=json_request(
        "The items (as you may see them) and, optionally, which of their assets",
        {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {
                    "type": "array",
                    "items": {"type": "string", "description": "collection/item"},
                    "minItems": 1,
                    "maxItems": MAX_ITEMS,
                },
                "assets": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Asset keys; default: the data assets",
                },
            },
        },
    ),
)
async def prefetch(request: Request, body: Any = Depends(json_body)) -> Response:
    """202 with what became of each asset (``queued``, ``cached``, or ``local``: read in place,
    nothing to fetch); 404 for an item the caller may not see, before anything is queued."""
    viewer = require_user(request)
    refs, keys = parse_prefetch_body(body)
    prefetcher = _prefetcher(request)
    if not await run_in_threadpool(prefetcher.retriever.cache.usable):
        raise ServiceUnavailable(
            "this server keeps no cache of remote inputs (GEP_CACHE_MAX_BYTES=0)",
            field="cache_max_bytes",
        )
    catalog = services(request).store
    assets = await run_in_threadpool(prefetch_items, prefetcher, catalog, viewer, refs, keys)
    queued = sum(1 for a in assets if a["status"] == "queued")
    return _json({"assets": assets, "queued": queued}, 202)


@router.get(
    "/stats",
    summary="The cache and its sources: hits, misses, bytes, evictions (administrators)",
    dependencies=[Depends(require_admin)],
    responses=problems(401, 403),
)
def stats(request: Request) -> Response:
    return _json(_prefetcher(request).retriever.cache.stats())
