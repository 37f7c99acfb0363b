"""``/apps``: thematic apps — owned, shareable bundles of collections, services, systematic
layers, named areas and map layers, which the Geobrowser opens, and their portable export and
import (``gep.apps``, docs/apps.md)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller, require_user
from gep.api.deps import base_url, json_body
from gep.api.openapi import answer, json_request, problems
from gep.api.services import services
from gep.api.sharing import delete_route, share, share_member, share_route
from gep.apps.service import AppService
from gep.apps.store import AppStore
from gep.core.errors import InvalidInput

router = APIRouter(prefix="/apps", tags=["Thematic apps"])
JSON = "application/json"

_LAYER = {
    "type": "object",
    "required": ["collection"],
    "properties": {
        "collection": {"type": "string"},
        "title": {"type": ["string", "null"]},
        "item": {"type": ["string", "null"], "description": "one item instead of the mosaic"},
        "asset": {"type": ["string", "null"]},
        "filter": {"type": ["string", "null"], "description": "CQL2-text over the mosaic"},
        "render": {"type": "object", "description": "tile parameters: rescale, colormap_name…"},
        "visible": {"type": "boolean"},
        "opacity": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
APP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "description": "optional; generated when absent"},
        "title": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "thumbnail": {"type": ["string", "null"], "description": "URL of an image"},
        "bbox": {
            "type": ["array", "null"],
            "items": {"type": "number"},
            "minItems": 4,
            "maxItems": 4,
            "description": "the map's view when the app opens",
        },
        "collections": {"type": "array", "items": {"type": "string"}},
        "searches": {
            "type": "array",
            "items": {"type": "object"},
            "description": "saved searches: title, collections, bbox, datetime, filter",
        },
        "services": {
            "type": "array",
            "items": {"type": "string"},
            "description": "process ids, first shown first in the processing panel",
        },
        "subscriptions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "systematic layers: subscription ids",
        },
        "areas": {"type": "array", "items": {"type": "string"}, "description": "named area ids"},
        "layers": {"type": "array", "items": _LAYER},
    },
}
_BODY = json_request("A thematic app document (docs/apps.md)", APP_SCHEMA)
_PATCH = json_request(
    "Members to change (a merge patch); visibility shares the app", {"type": "object"}
)
_PORTABLE = json_request(
    "A portable app document, as GET /apps/{id}/export answers (docs/apps.md)",
    {
        "type": "object",
        "required": ["type", "schemaVersion", "app"],
        "properties": {
            "type": {"const": "gep:thematic-app"},
            "schemaVersion": {"const": 1},
            "app": APP_SCHEMA,
            "collections": {
                "type": "array",
                "items": {"type": "object"},
                "description": "STAC Collections",
            },
            "applicationPackages": {
                "type": "array",
                "items": {"type": "object"},
                "description": "OGC application packages (CWL)",
            },
            "areas": {"type": "object", "description": "GeoJSON FeatureCollection"},
            "subscriptions": {"type": "array", "items": {"type": "object"}},
        },
    },
)


def _apps(request: Request) -> AppService:
    s = services(request)
    return AppService(
        AppStore(s.store.engine),
        s.store,
        s.processes,
        s.deployed,
        s.subscriptions.store,
        s.cwl_runtime,
    )


async def _created(request: Request, how: str) -> Response:
    """A new app from the body (``how``: the service's ``create`` or ``import_``), answered
    201 with the app as the caller sees it and its Location."""
    viewer = require_user(request)
    body = await json_body(request)
    svc = _apps(request)
    app = await run_in_threadpool(getattr(svc, how), viewer, body)
    doc = svc.describe(app, viewer, base_url(request))
    return _json(doc, 201, {"Location": doc["links"][0]["href"]})


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type=JSON, headers=headers)


@router.get(
    "",
    summary="Thematic apps you may see (yours, your groups', public ones, and My data uploads)",
    responses={**answer(JSON, "The apps, resolved for you"), **problems(401)},
)
def list_apps(request: Request) -> Response:
    svc, viewer, base = _apps(request), caller(request), base_url(request)
    apps = [svc.describe(a, viewer, base) for a in svc.all(viewer)]
    return _json(
        {
            "apps": apps,
            "numberMatched": len(apps),
            "links": [{"rel": "self", "type": JSON, "href": f"{base}/apps"}],
        }
    )


@router.post(
    "",
    summary="Create a thematic app",
    status_code=201,
    responses={**answer(JSON, "The app, resolved"), **problems(400, 401, 409, 415)},
    openapi_extra=_BODY,
)
async def create(request: Request) -> Response:
    """Every reference must exist and be visible to you; a 400 lists every problem
    (``problems``: ``[{field, detail}]``)."""
    return await _created(request, "create")


@router.post(
    "/import",
    summary="Import a portable app document (refused whole, with every problem listed)",
    status_code=201,
    responses={**answer(JSON, "The imported app, resolved"), **problems(400, 401, 409, 415)},
    openapi_extra=_PORTABLE,
)
async def import_app(request: Request) -> Response:
    """Collections, services and subscriptions must exist here; areas are created (or your
    area of the same name reused); deployed services carried as application packages are
    deployed, private to you, which needs the developer role. Nothing is written unless
    everything can be."""
    return await _created(request, "import_")


@router.get(
    "/{app_id}",
    summary="A thematic app, as the map opens it",
    responses={**answer(JSON, "The app, resolved"), **problems(401, 404)},
)
def get_app(request: Request, app_id: str) -> Response:
    svc, viewer = _apps(request), caller(request)
    return _json(svc.describe(svc.get(viewer, app_id), viewer, base_url(request)))


@router.get(
    "/{app_id}/export",
    summary="The app as one portable document (STAC, application packages, GeoJSON)",
    responses={**answer(JSON, "The portable document"), **problems(400, 401, 404)},
)
def export_app(request: Request, app_id: str) -> Response:
    svc = _apps(request)
    doc = svc.export(caller(request), app_id, base_url(request))
    name = f"{app_id}.gep-app.json"
    return _json(doc, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _edit(request: Request, app_id: str, replace: bool) -> Response:
    viewer = require_user(request)
    svc = _apps(request)
    app = await run_in_threadpool(svc.own, viewer, app_id)
    patch = await json_body(request)
    if not isinstance(patch, dict):
        raise InvalidInput("the body must be an object of members to change", field="body")
    if replace:
        patch = {
            "id": app_id,
            "searches": [],
            "collections": [],
            "services": [],
            "subscriptions": [],
            "areas": [],
            "layers": [],
            "description": None,
            "thumbnail": None,
            "bbox": None,
            **patch,
        }
    await share_member(request, patch, lambda v: svc.share(app, v))
    if patch:
        app = await run_in_threadpool(svc.edit, viewer, app_id, patch)
    return _json(svc.describe(svc.store.get(app_id), viewer, base_url(request)))


@router.patch(
    "/{app_id}",
    summary="Edit a thematic app (a merge patch) or share it",
    responses={**answer(JSON, "The app, resolved"), **problems(400, 401, 403, 404, 415)},
    openapi_extra=_PATCH,
)
async def edit(request: Request, app_id: str) -> Response:
    return await _edit(request, app_id, replace=False)


@router.put(
    "/{app_id}",
    summary="Replace a thematic app's document",
    responses={**answer(JSON, "The app, resolved"), **problems(400, 401, 403, 404, 415)},
    openapi_extra=_BODY,
)
async def replace(request: Request, app_id: str) -> Response:
    return await _edit(request, app_id, replace=True)


@share_route(
    router,
    "/{app_id}/visibility",
    summary="Share a thematic app",
    answer=answer(JSON, "The app, resolved"),
)
async def share_app(request: Request, app_id: str) -> Response:
    viewer = require_user(request)
    svc = _apps(request)
    app, _ = await share(request, viewer, lambda: svc.own(viewer, app_id), svc.share)
    return _json(svc.describe(app, viewer, base_url(request)))


@delete_route(router, "/{app_id}", summary="Delete a thematic app (what it names stays)")
def delete(request: Request, app_id: str) -> Response:
    _apps(request).delete(require_user(request), app_id)
    return Response(status_code=204)
