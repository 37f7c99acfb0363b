"""The STAC API at ``/stac``: core, collections, OGC API - Features items, item search, and the
filter, sort, fields, query, free-text, transaction, queryables and collection-search extensions.

Routers stay thin: parse into a :class:`SearchRequest`, ask the store, render.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gep.api.auth import caller
from gep.api.deps import asset_urls, base_url, get_store, json_body, visible_places
from gep.api.openapi import answer, json_request, param, problems, query
from gep.api.stac_render import (
    GEOJSON,
    JSON,
    apply_fields,
    feature_collection,
    render_item,
)
from gep.catalog.search import (
    MAX_PARAM_CHARS,
    NUMBER_MATCHED_CAP,
    SearchRequest,
    build_search,
    parse_limit,
    parse_offset,
    parse_q,
)
from gep.catalog.store import CatalogStore
from gep.core.bbox import parse_bbox
from gep.core.errors import InvalidInput
from gep.core.timeutil import parse_datetime_interval

router = APIRouter(prefix="/stac", tags=["STAC API"])

STAC_VERSION = "1.1.0"
SCHEMA_JSON = "application/schema+json"
#: the media type of ``/api`` and of every service-desc link to it (FastAPI writes OpenAPI 3.1);
#: clients send it as Accept and expect it back as Content-Type
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.1"

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#query",
    "https://api.stacspec.org/v1.0.0/ogcapi-features/extensions/transaction",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#free-text",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search#free-text",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/simpletx",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
]

# ---------------------------------------------------------------------- the documented contract

_STRINGS = {"type": "array", "items": {"type": "string"}}
#: the search parameters of GET /stac/search and (less collections, ids, intersects) of items
_SEARCH_QUERY = [
    param("bbox", "w,s,e,n (or 6 numbers with heights), in degrees"),
    param("datetime", "An RFC 3339 date-time or an interval a/b (.. for open)"),
    param("limit", "Page size (1…10000; larger values are clamped)", {"type": "integer"}),
    param("token", "The paging token of a next link"),
    param("filter", "A CQL2 filter (text, or JSON with filter-lang=cql2-json)"),
    param("filter-lang", "cql2-text (default) or cql2-json"),
    param("filter-crs", "Only http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
    param("sortby", "Comma-separated properties, each with a + or - prefix"),
    param("fields", "Comma-separated fields to include (or -field to exclude)"),
    param("q", "Free-text terms, comma-separated"),
    param("query", "The query extension, as JSON"),
    param("place", "A gazetteer name (volcano, place, plate or named area) as the area"),
    param("place_buffer", "Kilometres to grow the place's area by", {"type": "number"}),
]
_SEARCH_ONLY = [
    param("collections", "Comma-separated collection ids"),
    param("ids", "Comma-separated item ids"),
    param("intersects", "A GeoJSON geometry, as JSON"),
]
_SEARCH_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "collections": _STRINGS,
        "ids": _STRINGS,
        "bbox": {"type": "array", "items": {"type": "number"}},
        "intersects": {"type": "object", "description": "A GeoJSON geometry"},
        "datetime": {"type": "string"},
        "filter": {"type": ["object", "string"]},
        "filter-lang": {"type": "string", "enum": ["cql2-text", "cql2-json"]},
        "filter-crs": {"type": "string"},
        "q": {"type": ["string", "array"], "items": {"type": "string"}},
        "sortby": {
            "type": ["array", "string"],
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "direction": {"type": "string", "enum": ["asc", "desc"]},
                },
            },
        },
        "limit": {"type": "integer"},
        "token": {"type": "string"},
        "fields": {
            "type": "object",
            "properties": {"include": _STRINGS, "exclude": _STRINGS},
        },
        "query": {"type": "object"},
        "place": {"type": "string"},
        "place_buffer": {"type": "number"},
    },
}
_PAGE = {
    "type": "object",
    "required": ["type", "features", "links"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {"type": "array", "items": {"type": "object"}},
        "links": {"type": "array", "items": {"type": "object"}},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
    },
}
_ITEM = {
    "type": "object",
    "required": ["type", "id", "links"],
    "properties": {"type": {"const": "Feature"}, "id": {"type": "string"}},
}
_QUERYABLES = answer(SCHEMA_JSON, "A JSON Schema of the queryable properties")


def _json(
    body: Any, status: int = 200, media: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(raw, status_code=status, media_type=media, headers=headers)


def _coll_url(base: str, cid: str) -> str:
    return f"{base}/stac/collections/{quote(cid, safe='')}"


def _render_collection(c: dict[str, Any], base: str) -> dict[str, Any]:
    url = _coll_url(base, c["id"])
    out = dict(c)
    out["links"] = [
        {"rel": "self", "type": JSON, "href": url},
        {"rel": "parent", "type": JSON, "href": f"{base}/stac"},
        {"rel": "root", "type": JSON, "href": f"{base}/stac"},
        {"rel": "items", "type": GEOJSON, "href": f"{url}/items"},
        {
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "type": SCHEMA_JSON,
            "href": f"{url}/queryables",
        },
        *[ln for ln in c.get("links", []) if isinstance(ln, dict)],
    ]
    return out


# ---------------------------------------------------------------------- landing, conformance


@router.get("", summary="STAC API landing page", responses=problems(401))
@router.get("/", include_in_schema=False)
def landing(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    base = base_url(request)
    colls, _ = store.list_collections(limit=10_000, viewer=caller(request))
    links: list[dict[str, Any]] = [
        {"rel": "self", "type": JSON, "href": f"{base}/stac"},
        {"rel": "root", "type": JSON, "href": f"{base}/stac"},
        {"rel": "conformance", "type": JSON, "href": f"{base}/stac/conformance"},
        {"rel": "data", "type": JSON, "href": f"{base}/stac/collections"},
        {"rel": "search", "type": GEOJSON, "href": f"{base}/stac/search", "method": "GET"},
        {"rel": "search", "type": GEOJSON, "href": f"{base}/stac/search", "method": "POST"},
        {
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            "type": SCHEMA_JSON,
            "href": f"{base}/stac/queryables",
        },
        {
            "rel": "service-desc",
            "type": OPENAPI_JSON,
            "href": f"{base}/api",
        },
        {"rel": "service-doc", "type": "text/html", "href": f"{base}/api.html"},
    ]
    links += [
        {
            "rel": "child",
            "type": JSON,
            "href": _coll_url(base, c["id"]),
            "title": c.get("title", c["id"]),
        }
        for c in colls
    ]
    return _json(
        {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": "gep",
            "title": "GEP catalogue",
            "description": "Earth-observation products for geohazard science: STAC API of the "
            "open Geohazards Exploitation Platform",
            "conformsTo": CONFORMANCE,
            "links": links,
        }
    )


@router.get("/conformance", summary="STAC API conformance classes")
def conformance() -> Response:
    return _json({"conformsTo": CONFORMANCE})


# ---------------------------------------------------------------------- collections


@router.get(
    "/collections",
    summary="Collections (with collection search)",
    responses=problems(400, 401),
    openapi_extra=query(
        param("limit", "Page size (1…10000; larger values are clamped)", {"type": "integer"}),
        param("token", "The paging token of a next link"),
        param("q", "Free-text terms, comma-separated"),
        param("bbox", "w,s,e,n: collections whose extent intersects it"),
        param("datetime", "An RFC 3339 date-time or interval a/b"),
    ),
)
def collections(
    request: Request,
    store: CatalogStore = Depends(get_store),
) -> Response:
    base = base_url(request)
    qp = request.query_params
    limit = parse_limit(qp.get("limit", 100), clamp=True)
    try:
        offset = parse_offset(qp.get("token") or qp.get("offset") or 0, "token")
    except InvalidInput:
        raise InvalidInput("token must be the one from a 'next' link", field="token") from None
    q = parse_q(qp["q"]) if qp.get("q") else None
    bbox = parse_bbox(qp["bbox"]).as_list() if qp.get("bbox") else None
    dt = None
    if qp.get("datetime"):
        rng = parse_datetime_interval(qp["datetime"])
        dt = (rng.start_us, rng.end_us)
    colls, total = store.list_collections(
        q=q, bbox=bbox, datetime_range=dt, limit=limit, offset=offset, viewer=caller(request)
    )
    links = [
        {"rel": "self", "type": JSON, "href": str(request.url)},
        {"rel": "root", "type": JSON, "href": f"{base}/stac"},
        {"rel": "parent", "type": JSON, "href": f"{base}/stac"},
    ]
    if offset + limit < total:
        params = dict(qp)
        params["token"] = str(offset + limit)
        links.append(
            {"rel": "next", "type": JSON, "href": f"{base}/stac/collections?{urlencode(params)}"}
        )
    return _json(
        {
            "collections": [_render_collection(c, base) for c in colls],
            "links": links,
            "numberMatched": total,
            "numberReturned": len(colls),
        }
    )


@router.get("/collections/{collection_id}", summary="One collection", responses=problems(401, 404))
def collection(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    viewer = caller(request)
    coll = _render_collection(store.get_collection(collection_id, viewer), base_url(request))
    acc = store.collection_access(collection_id)
    coll["gep:visibility"] = acc.visibility
    coll["gep:owned"] = viewer.may_change(acc.owner)
    return _json(coll)


@router.get(
    "/queryables",
    summary="Queryables across all collections",
    response_class=Response,
    responses=_QUERYABLES,
)
def queryables(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    """The properties of what the caller may see: a name private data alone has is not
    listed (it would tell what someone else holds)."""
    schema = store.queryables_schema(None, caller(request))
    schema["$id"] = f"{base_url(request)}/stac/queryables"
    return _json(schema, media=SCHEMA_JSON)


@router.get(
    "/collections/{collection_id}/queryables",
    summary="Queryables of a collection",
    response_class=Response,
    responses={**_QUERYABLES, **problems(401, 404)},
)
def collection_queryables(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    schema = store.queryables_schema(collection_id, caller(request))
    schema["$id"] = f"{_coll_url(base_url(request), collection_id)}/queryables"
    return _json(schema, media=SCHEMA_JSON)


# ---------------------------------------------------------------------- items and search


def _page_response(
    request: Request,
    store: CatalogStore,
    req: SearchRequest,
    next_link: Any,
    extra_links: list[dict[str, Any]],
) -> Response:
    base = base_url(request)
    urls = asset_urls(request)
    req.viewer = caller(request)  # only what the caller may see is matched and counted
    if req.count_cap is None:  # numberMatched by default, counted up to the cap
        req.count_cap = NUMBER_MATCHED_CAP
    page = store.search(req)
    if req.fields_given:
        feats = [
            orjson.dumps(
                apply_fields(
                    orjson.loads(render_item(c, base, coll, iid, urls)),
                    req.fields_include,
                    req.fields_exclude,
                )
            )
            for coll, iid, c in page.items
        ]
    else:
        feats = [render_item(c, base, coll, iid, urls) for coll, iid, c in page.items]
    links = list(extra_links)
    if page.next_token:
        links.append(next_link(page.next_token))
    return _json(feature_collection(feats, links, page.number_matched), media=GEOJSON)


def _get_params(request: Request) -> dict[str, Any]:
    qp = request.query_params
    params: dict[str, Any] = {}
    for key in qp:
        values = qp.getlist(key)
        params[key] = ",".join(values) if key in ("collections", "ids") else values[-1]
        if len(params[key]) > MAX_PARAM_CHARS:  # before anything splits or parses it
            raise InvalidInput(
                f"{key} is longer than {MAX_PARAM_CHARS} characters",
                field=key,
                limit=MAX_PARAM_CHARS,
            )
    return params


@router.get(
    "/collections/{collection_id}/items",
    summary="Items of a collection (OGC Features)",
    response_class=Response,
    responses={**answer(GEOJSON, "A page of items", schema=_PAGE), **problems(400, 401, 404)},
    openapi_extra=query(*_SEARCH_QUERY),
)
def items(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    store.collection_access(collection_id, caller(request))
    params = _get_params(request)
    for forbidden in ("collections", "ids", "intersects"):
        params.pop(forbidden, None)
    req = build_search(params, from_get=True, whole_dates=False, places=visible_places(request))
    req.collections = [collection_id]
    base = base_url(request)
    url = f"{_coll_url(base, collection_id)}/items"

    def next_link(token: str) -> dict[str, Any]:
        p = {k: v for k, v in request.query_params.items() if k != "token"}
        p["token"] = token
        return {"rel": "next", "type": GEOJSON, "href": f"{url}?{urlencode(p)}"}

    extra = [
        {"rel": "self", "type": GEOJSON, "href": str(request.url)},
        {"rel": "collection", "type": JSON, "href": _coll_url(base, collection_id)},
        {"rel": "parent", "type": JSON, "href": _coll_url(base, collection_id)},
        {"rel": "root", "type": JSON, "href": f"{base}/stac"},
    ]
    return _page_response(request, store, req, next_link, extra)


@router.get(
    "/collections/{collection_id}/items/{item_id}",
    summary="One item",
    response_class=Response,
    responses={**answer(GEOJSON, "The item", schema=_ITEM), **problems(401, 404)},
)
def item(
    collection_id: str, item_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    content = store.get_item(collection_id, item_id, caller(request))
    return _json(
        render_item(content, base_url(request), collection_id, item_id, asset_urls(request)),
        media=GEOJSON,
    )


@router.get(
    "/search",
    summary="Item search (GET)",
    response_class=Response,
    responses={**answer(GEOJSON, "A page of items", schema=_PAGE), **problems(400, 401)},
    openapi_extra=query(*_SEARCH_ONLY, *_SEARCH_QUERY),
)
def search_get(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    req = build_search(
        _get_params(request),
        from_get=True,
        whole_dates=False,
        places=visible_places(request),
    )
    base = base_url(request)

    def next_link(token: str) -> dict[str, Any]:
        p = {k: v for k, v in request.query_params.items() if k != "token"}
        p["token"] = token
        return {
            "rel": "next",
            "type": GEOJSON,
            "method": "GET",
            "href": f"{base}/stac/search?{urlencode(p)}",
        }

    extra = [
        {"rel": "self", "type": GEOJSON, "href": str(request.url)},
        {"rel": "root", "type": JSON, "href": f"{base}/stac"},
    ]
    return _page_response(request, store, req, next_link, extra)


@router.post(
    "/search",
    summary="Item search (POST)",
    response_class=Response,
    responses={**answer(GEOJSON, "A page of items", schema=_PAGE), **problems(400, 401, 415)},
    openapi_extra=json_request("The search, as the STAC API defines it", _SEARCH_BODY),
)
async def search_post(request: Request, store: CatalogStore = Depends(get_store)) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the search body must be a JSON object", field="body")
    req = build_search(body, from_get=False, whole_dates=False, places=visible_places(request))
    base = base_url(request)

    def next_link(token: str) -> dict[str, Any]:
        return {
            "rel": "next",
            "type": GEOJSON,
            "method": "POST",
            "href": f"{base}/stac/search",
            "body": {**body, "token": token},
            "merge": False,
        }

    extra = [{"rel": "root", "type": JSON, "href": f"{base}/stac"}]
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_page_response, request, store, req, next_link, extra)
