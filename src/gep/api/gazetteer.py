"""``/gazetteer``: volcanoes, places and plates by name (see ``gep.catalog.gazetteer``)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.catalog.gazetteer import search as gazetteer_search

router = APIRouter(prefix="/gazetteer", tags=["Gazetteer"])


@router.get("/search", summary="Find a volcano, a place or a tectonic plate by name")
async def search(
    q: str = Query(..., description="A name; accents and small typos do not matter"),
    kind: str | None = Query(None, description="volcano, place or plate"),
    limit: int = Query(10, ge=1, le=100),
) -> Response:
    """A GeoJSON FeatureCollection, best match first; each feature has its geometry, a bbox
    usable as an area of interest, and its kind. An unknown name is a 404 listing close
    names."""
    result = await run_in_threadpool(gazetteer_search, q, kind=kind, limit=limit)
    return Response(orjson.dumps(result), media_type="application/geo+json")
