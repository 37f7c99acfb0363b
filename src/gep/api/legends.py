"""Legends: ``GET /stac/collections/{c}/items/{i}/legend`` and ``GET /legend``, JSON or PNG.

The item route reads the item as the caller (one they may not see is the same 404 as a missing
one) and draws the legend its render declares for ``assets`` (:mod:`gep.tiles.legend`); the
generic route draws any of rio-tiler's colour maps over a range. Colours are the tiles' own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.auth import caller
from gep.api.openapi import param, problems, query
from gep.api.services import services
from gep.tiles import legend
from gep.tiles.sources import item_for

router = APIRouter(tags=["Legends"])

_LEGEND_SCHEMA = {
    "type": "object",
    "required": ["title", "type", "stops"],
    "properties": {
        "title": {"type": "string"},
        "unit": {"type": "string"},
        "type": {"type": "string", "enum": ["continuous", "classes"]},
        "colormap_name": {"type": "string"},
        "rescale": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        "stops": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["value", "color"],
                "properties": {
                    "value": {"type": "number"},
                    "color": {"type": "string", "pattern": "^#[0-9a-f]{8}$"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The legend: stops (value → #rrggbbaa) as JSON, or a colour bar with "
        "ticks as PNG (f=png)",
        "content": {"application/json": {"schema": _LEGEND_SCHEMA}, "image/png": {}},
    }
}
_COMMON = (
    param("colormap_name", "A rio-tiler colour map name (e.g. viridis, rdbu_r, greys_r)"),
    param("rescale", "The range the colours span: min,max"),
    param("f", "Answer format", {"type": "string", "enum": ["json", "png"], "default": "json"}),
)


def _answer(spec: legend.LegendSpec, fmt: str) -> Response:
    body, media = legend.render(spec, fmt)
    return Response(body, media_type=media, headers={"Cache-Control": "private, max-age=60"})


@router.get(
    "/stac/collections/{collection_id}/items/{item_id}/legend",
    summary="The legend of an item's rendered assets (JSON or PNG)",
    response_class=Response,
    responses={
        **_RESPONSES,
        **problems(
            400,
            401,
            404,
            s400="An unknown colormap_name, a rescale that is not min,max, a bad f, or no "
            "colour map/range declared and none given",
            s404="No such item (or one the caller may not see), or no such asset",
        ),
    },
    openapi_extra=query(
        param("assets", "The asset(s) whose legend to draw (default: the item's one render)"),
        *_COMMON,
    ),
)
async def item_legend(collection_id: str, item_id: str, request: Request) -> Response:
    q = request.query_params
    fmt = legend.parse_format(q.get("f"))
    s = services(request)
    item = await run_in_threadpool(
        item_for, s.store, s.gateway, caller(request), collection_id, item_id
    )
    assets = [a.strip() for v in q.getlist("assets") for a in v.split(",") if a.strip()]
    spec = legend.item_spec(item, assets, q.get("colormap_name"), q.get("rescale"))
    return await run_in_threadpool(_answer, spec, fmt)


@router.get(
    "/legend",
    summary="The legend of a colour map over a range (JSON or PNG)",
    response_class=Response,
    responses={
        **_RESPONSES,
        **problems(400, s400="An unknown colormap_name, a rescale that is not min,max, or bad f"),
    },
    openapi_extra=query(
        *_COMMON,
        param("title", "The legend's title (default: the colour map's name)"),
        param("unit", "The unit shown after the title"),
    ),
)
async def generic_legend(request: Request) -> Response:
    q = request.query_params
    fmt = legend.parse_format(q.get("f"))
    spec = legend.generic_spec(
        q.get("colormap_name"), q.get("rescale"), q.get("title"), q.get("unit")
    )
    return await run_in_threadpool(_answer, spec, fmt)
