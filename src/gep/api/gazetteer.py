"""``/gazetteer``: volcanoes, places, plates and named areas by name (``gep.catalog.gazetteer``,
``gep.catalog.areas``)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller, require_user
from gep.api.deps import base_url, get_store, json_body, visible_places
from gep.api.openapi import answer, json_request, problems
from gep.api.sharing import check_sharing, delete_route, share, share_route
from gep.catalog.areas import AreaStore
from gep.catalog.gazetteer import search as gazetteer_search
from gep.catalog.store import CatalogStore
from gep.core.access import PRIVATE
from gep.core.errors import Forbidden, InvalidInput

router = APIRouter(prefix="/gazetteer", tags=["Gazetteer"])

GEOJSON = "application/geo+json"

_FEATURES = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": {"type": "object"}},
    },
}
_FEATURE = {"type": "object", "required": ["type"], "properties": {"type": {"const": "Feature"}}}
_AREA = answer(GEOJSON, "The named area, as a GeoJSON Feature", schema=_FEATURE)


def _geojson(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type=GEOJSON, headers=headers)


@router.get(
    "/search",
    summary="Find a volcano, a place, a tectonic plate or a named area",
    response_class=Response,
    responses={
        **answer(GEOJSON, "Matches, best first", schema=_FEATURES),
        **problems(400, 401, 404, s404="No close match; the detail lists close names"),
    },
)
async def search(
    request: Request,
    q: str = Query(..., description="A name; accents and small typos do not matter"),
    kind: str | None = Query(None, description="volcano, place, plate or area"),
    limit: int = Query(10, ge=1, le=100),
) -> Response:
    """A GeoJSON FeatureCollection, best match first; each feature has its geometry, a bbox
    usable as an area of interest, and its kind. An unknown name is a 404 listing close
    names."""
    places = visible_places(request)

    def run() -> dict[str, Any]:
        return gazetteer_search(q, kind=kind, limit=limit, extra=places())

    return _geojson(await run_in_threadpool(run))


@router.get(
    "/areas",
    summary="Named areas of interest (those the caller may see)",
    response_class=Response,
    responses={**answer(GEOJSON, "The areas", schema=_FEATURES), **problems(401)},
)
def list_areas(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    features = [a.feature() for a in AreaStore(store.engine).all(caller(request))]
    return _geojson({"type": "FeatureCollection", "features": features})


@router.post(
    "/areas",
    status_code=201,
    summary="Name an area of interest",
    response_class=Response,
    responses={
        **answer(GEOJSON, "The new area", status=201, schema=_FEATURE),
        **problems(400, 401, 403, 409, 415),
    },
    openapi_extra=json_request(
        "The area's name and its geometry (or bbox)",
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "geometry": {"type": "object", "description": "A GeoJSON Polygon/MultiPolygon"},
                "bbox": {"type": "array", "items": {"type": "number"}},
                "description": {"type": "string"},
                "visibility": {"type": "string"},
            },
        },
    ),
)
async def create_area(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    """Body: ``{"name": …, "geometry": GeoJSON Polygon/MultiPolygon, "description": …}`` (or
    ``"bbox": [w, s, e, n]`` instead of ``geometry``, and ``"visibility"``, private by
    default). The name then works in ``/gazetteer/search``, ``?place=`` of STAC search and
    ``geo:name`` of OpenSearch, for whoever may see the area."""
    viewer = require_user(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object with name and geometry", field="body")
    unknown = sorted(set(body) - {"name", "geometry", "bbox", "description", "visibility"})
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {unknown}; accepted: name, geometry or bbox, description, "
            "visibility",
            field=unknown[0],
        )
    visibility = check_sharing(request, viewer, body.get("visibility", PRIVATE))
    if ("geometry" in body) == ("bbox" in body):
        raise InvalidInput("give the area as geometry or as bbox (one of them)", field="geometry")
    area = body.get("geometry", body.get("bbox"))
    record = await run_in_threadpool(
        AreaStore(store.engine).create,
        body.get("name"),
        area,
        description=body.get("description"),
        owner=viewer.user_id,
        visibility=visibility,
    )
    location = f"{base_url(request)}/gazetteer/areas/{record.id}"
    return _geojson(record.feature(), 201, {"Location": location})


@router.get(
    "/areas/{area_id}",
    summary="One named area",
    response_class=Response,
    responses={**_AREA, **problems(401, 404)},
)
def get_area(area_id: str, request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    return _geojson(AreaStore(store.engine).get(area_id, caller(request)).feature())


@share_route(
    router,
    "/areas/{area_id}",
    summary="Share or unshare a named area",
    answer=_AREA,
    response_class=Response,
)
async def share_area(
    area_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    """Body: ``{"visibility": "private" | "group:<name>" | "public"}``."""
    viewer = require_user(request)
    areas = AreaStore(store.engine)

    def own() -> None:
        current = areas.get(area_id, viewer)  # 404 before anything else
        if not viewer.may_change(current.owner):
            raise Forbidden(f"named area '{current.name}' is not yours to share", field="area")

    area, _ = await share(request, viewer, own, lambda _, v: areas.share(area_id, v, viewer))
    return _geojson(area.feature())


@delete_route(router, "/areas/{area_id}", summary="Delete a named area")
def delete_area(
    area_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    AreaStore(store.engine).delete(area_id, require_user(request))
    return Response(status_code=204)
