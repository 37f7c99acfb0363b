"""``…/timeseries?lon=&lat=&assets=``: the values of dated layers at a point (JSON or CSV).

Two routes over :mod:`gep.tiles.timeseries`:

- ``GET /stac/collections/{c}/items/{i}/timeseries``: one item with dated layers (a multi-band
  COG whose bands carry dates; the ``sbas`` summary item's ``displacement_<date>`` assets);
- ``GET /stac/collections/{c}/timeseries``: the dated items of a collection that contain the
  point, oldest first (``datetime``, ``bbox``, ``ids``, ``filter``/``filter-lang`` and ``job``
  narrow them: ``job=<id>`` is one job's items, e.g. the per-date items of an ``sbas`` result).

The item and the collection are read as the caller (an item they may not see is the same 404
as a missing one) and every href is resolved by the gateway as the caller.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller
from gep.api.deps import base_url
from gep.api.openapi import answer, param, problems, query
from gep.api.services import services
from gep.core.errors import InvalidInput
from gep.core.media import CSV
from gep.tiles.timeseries import (
    Resolve,
    Series,
    collection_series,
    item_series,
    parse_lonlat,
    resolver,
)

router = APIRouter(prefix="/stac", tags=["Time series"])

_COMMON = (
    param("lon", "Longitude of the point (decimal degrees, WGS84)", {"type": "number"}),
    param("lat", "Latitude of the point (decimal degrees, WGS84)", {"type": "number"}),
    param("assets", "The asset (one key) whose values are read"),
    param("f", "Answer format", {"type": "string", "enum": ["json", "csv"], "default": "json"}),
)
_JSON_SCHEMA = {
    "type": "object",
    "required": ["type", "lon", "lat", "unit", "values"],
    "properties": {
        "type": {"type": "string", "enum": ["TimeSeries"]},
        "lon": {"type": "number"},
        "lat": {"type": "number"},
        "unit": {"type": ["string", "null"]},
        "values": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["datetime", "value", "item"],
                "properties": {
                    "datetime": {"type": "string", "format": "date-time"},
                    "value": {"type": ["number", "null"]},
                    "item": {"type": "string"},
                    "band": {"type": "integer"},
                },
            },
        },
    },
}
_RESPONSES = {
    **answer("application/json", "The values at the point, oldest first", schema=_JSON_SCHEMA),
    **answer(CSV, "The same as CSV (f=csv): datetime,value,item,band,lon,lat,unit"),
}


def _args(request: Request) -> tuple[float, float, str, str]:
    q = request.query_params
    lon, lat = parse_lonlat(q.get("lon"), q.get("lat"))
    asset = (q.get("assets") or "").strip()
    if not asset or "," in asset:
        raise InvalidInput(
            "assets must name one asset whose values to read (e.g. assets=displacement)",
            field="assets",
        )
    fmt = q.get("f") or "json"
    if fmt not in ("json", "csv"):
        raise InvalidInput(f"f must be json or csv; got {fmt!r}", field="f")
    return lon, lat, asset, fmt


def _answer(series: Series, fmt: str) -> Response:
    if fmt == "csv":
        return Response(series.as_csv(), media_type=CSV)
    return Response(orjson.dumps(series.as_json()), media_type="application/json")


def _resolve(request: Request) -> Resolve:
    s = services(request)
    return resolver(s.store, s.gateway, caller(request), base_url(request))


@router.get(
    "/collections/{collection_id}/items/{item_id}/timeseries",
    summary="The values of an item's dated layers at a point (JSON or CSV)",
    response_class=Response,
    responses={
        **_RESPONSES,
        **problems(
            400,
            401,
            404,
            s400="lon/lat malformed or out of range, outside the raster, or a bad assets/f",
            s404="No such item (or one the caller may not see), or no dated layers in the asset",
        ),
    },
    openapi_extra=query(*_COMMON),
)
async def item_timeseries(collection_id: str, item_id: str, request: Request) -> Response:
    lon, lat, asset, fmt = _args(request)
    store = services(request).store
    raw = await run_in_threadpool(store.get_item, collection_id, item_id, caller(request))
    item = orjson.loads(raw)
    item.setdefault("collection", collection_id)
    series = await run_in_threadpool(item_series, item, asset, lon, lat, _resolve(request))
    return _answer(series, fmt)


@router.get(
    "/collections/{collection_id}/timeseries",
    summary="The values of a collection's dated items at a point (JSON or CSV)",
    response_class=Response,
    responses={
        **_RESPONSES,
        **problems(
            400,
            401,
            404,
            s400="lon/lat malformed or out of range, or a bad assets/f/datetime/bbox/filter",
            s404="No such collection (or one the caller may not see), or no dated item with the "
            "asset contains the point",
        ),
    },
    openapi_extra=query(
        *_COMMON,
        param("datetime", "Only items in this RFC 3339 instant or interval (a/b, ../b, a/..)"),
        param("bbox", "Only when the point is inside this box (w,s,e,n)"),
        param("ids", "Only these item ids (comma separated)"),
        param("filter", "CQL2 (text or JSON) on the items' queryables"),
        param("filter-lang", "cql2-text or cql2-json", {"type": "string"}),
        param("job", "Only the items this job published (e.g. the per-date sbas items)"),
    ),
)
async def collection_timeseries(collection_id: str, request: Request) -> Response:
    lon, lat, asset, fmt = _args(request)
    q = request.query_params
    params = {k: q.get(k) for k in ("datetime", "bbox", "ids", "filter", "filter-lang")}
    job = (q.get("job") or "").strip() or None
    series = await run_in_threadpool(
        collection_series,
        services(request).store,
        caller(request),
        collection_id,
        asset,
        lon,
        lat,
        _resolve(request),
        params,
        job,
    )
    return _answer(series, fmt)
