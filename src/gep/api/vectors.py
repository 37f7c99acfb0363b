"""Vector assets of an item as GeoJSON pages and Mapbox vector tiles.

- ``GET /stac/collections/{c}/items/{i}/vector/features?assets=A&limit=&offset=[&layer=]``:
  a GeoJSON FeatureCollection page in WGS84 (``numberMatched``, ``numberReturned``, a ``next``
  link while features remain);
- ``GET /stac/collections/{c}/items/{i}/vector/tiles/{tileMatrixSetId}/{z}/{x}/{y}.pbf?assets=A``:
  a Mapbox vector tile (one layer named after the asset), ``204`` when empty.

The item is read as the caller (a hidden item is the same 404 as a missing one) and the
asset's href resolved by the gateway as the caller (:func:`gep.tiles.sources.gdal_path`).
See :mod:`gep.tiles.vectors` for the reading, the cache and the tiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller
from gep.api.deps import base_url
from gep.api.openapi import answer, no_content, param, problems, query
from gep.api.services import services
from gep.catalog.search import parse_offset
from gep.core.errors import InvalidInput, NotFound
from gep.core.media import GEOJSON
from gep.tiles.sources import gdal_path, item_for
from gep.tiles.vectors import (
    DEFAULT_PAGE,
    LAYERS,
    MAX_PAGE,
    Layer,
    feature_page,
    is_vector_asset,
    local_copy,
    tile_bytes,
)

router = APIRouter(prefix="/stac", tags=["Vectors"])

MVT = "application/vnd.mapbox-vector-tile"
#: maps may reuse a tile for a minute (items change rarely; visibility changes must show soon)
CACHE_CONTROL = "private, max-age=60"

_ASSETS = param("assets", "The vector asset (one key): GeoJSON, KML/KMZ, Shapefile, GeoPackage")
_LAYER = param("layer", "The layer of a multi-layer file (GeoPackage, KML); default the first")


def _layer_of(request: Request, collection_id: str, item_id: str) -> tuple[str, Layer]:
    q = request.query_params
    key = (q.get("assets") or "").strip()
    if not key or "," in key:
        raise InvalidInput("assets must name one vector asset (e.g. assets=arrows)", field="assets")
    s = services(request)
    viewer = caller(request)
    item = item_for(s.store, s.gateway, viewer, collection_id, item_id)
    assets = item.get("assets") if isinstance(item.get("assets"), dict) else {}
    asset = assets.get(key) if assets else None
    if not isinstance(asset, dict):
        raise NotFound(
            f"item '{collection_id}/{item_id}' has no asset '{key}'; it has: "
            + ", ".join(sorted(assets or {})),
            field="assets",
        )
    if not is_vector_asset(asset):
        raise NotFound(
            f"asset '{key}' of item '{collection_id}/{item_id}' is not a vector asset "
            f"(type {asset.get('type')!r}); vector formats: GeoJSON, KML/KMZ, Shapefile (.shp or "
            ".zip), GeoPackage, FlatGeobuf",
            field="assets",
        )
    source = gdal_path(
        s.gateway, viewer, str(asset.get("href") or ""), field="assets", store=s.store,
        base_url=base_url(request),
    )  # fmt: skip
    source = local_copy(s.gateway.storage, source, Path(s.settings.home) / "cache" / "vectors")
    layer = (q.get("layer") or "").strip() or None
    return key, LAYERS.get(source, layer)


def _limit(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_PAGE
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput(f"limit must be an integer; got {raw!r}", field="limit") from None
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}; got {limit}", field="limit")
    return limit


@router.get(
    "/collections/{collection_id}/items/{item_id}/vector/features",
    summary="A page of a vector asset's features as GeoJSON (WGS84)",
    response_class=Response,
    responses={
        **answer(GEOJSON, "A FeatureCollection page with numberMatched, numberReturned, links"),
        **problems(
            400, 401, 404,
            s400="A bad assets, limit, offset or layer, or a remote vector asset",
            s404="No such item (or one the caller may not see), no such asset, or a file that "
            "is not a vector file",
        ),
    },
    openapi_extra=query(
        _ASSETS,
        param("limit", f"Features per page (1–{MAX_PAGE})", {"type": "integer", "minimum": 1,
              "maximum": MAX_PAGE, "default": DEFAULT_PAGE}),
        param("offset", "Features skipped", {"type": "integer", "minimum": 0, "default": 0}),
        _LAYER,
    ),
)  # fmt: skip
async def vector_features(collection_id: str, item_id: str, request: Request) -> Response:
    q = request.query_params
    limit = _limit(q.get("limit"))
    offset = parse_offset(q.get("offset") or 0)
    _, lyr = await run_in_threadpool(_layer_of, request, collection_id, item_id)
    feats, total = await run_in_threadpool(feature_page, lyr, offset, limit)
    here = f"{base_url(request)}{request.url.path}"
    params: dict[str, Any] = {k: v for k, v in q.items() if k not in ("offset", "limit")}
    links = [
        {
            "rel": "self",
            "type": GEOJSON,
            "href": f"{here}?{urlencode({**params, 'limit': limit, 'offset': offset})}",
        }
    ]
    if offset + len(feats) < total:
        nxt = urlencode({**params, "limit": limit, "offset": offset + len(feats)})
        links.append({"rel": "next", "type": GEOJSON, "href": f"{here}?{nxt}"})
    if offset > 0:
        prev = urlencode({**params, "limit": limit, "offset": max(0, offset - limit)})
        links.append({"rel": "prev", "type": GEOJSON, "href": f"{here}?{prev}"})
    body = {
        "type": "FeatureCollection",
        "name": lyr.name,
        "features": feats,
        "numberMatched": total,
        "numberReturned": len(feats),
        "links": links,
    }
    return Response(orjson.dumps(body), media_type=GEOJSON)


@router.get(
    "/collections/{collection_id}/items/{item_id}/vector/tiles/{tileMatrixSetId}/{z}/{x}/{y}.pbf",
    summary="A Mapbox vector tile of a vector asset",
    response_class=Response,
    responses={
        **answer(MVT, "The tile: one layer named after the asset, extent 4096"),
        **no_content("No feature touches this tile"),
        **problems(
            400, 401, 404,
            s400="A bad assets, layer, z, x or y, or a remote vector asset",
            s404="No such item (or one the caller may not see), asset or tile matrix set",
        ),
    },
    openapi_extra=query(_ASSETS, _LAYER),
)  # fmt: skip
async def vector_tile(
    collection_id: str, item_id: str, tileMatrixSetId: str, z: int, x: int, y: int,
    request: Request,
) -> Response:  # fmt: skip
    key, lyr = await run_in_threadpool(_layer_of, request, collection_id, item_id)
    data = await run_in_threadpool(tile_bytes, lyr, tileMatrixSetId, z, x, y, key)
    headers = {"Cache-Control": CACHE_CONTROL}
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT, headers=headers)
