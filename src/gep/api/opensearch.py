"""OpenSearch 1.1 per collection: ``/opensearch/{collection}/description.xml`` and ``/search``.

The translation to a search lives in :mod:`gep.catalog.opensearch`; this module only chooses the
representation (Atom by default, as OpenSearch clients expect, or GeoJSON) and renders the page
with the paging links an OpenSearch client follows (``startIndex`` arithmetic, 1-based).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree import ElementTree as ET

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gep.api.auth import caller
from gep.api.deps import asset_urls, base_url, get_store, visible_places
from gep.api.openapi import param, problems, query
from gep.api.stac_render import GEOJSON, item_links, render_item
from gep.catalog.opensearch.description import description_document
from gep.catalog.opensearch.parameters import (
    CORE_PARAMETERS,
    EO_NS,
    EO_PARAMETERS,
    GEO_NS,
    OS_NS,
    TIME_NS,
)
from gep.catalog.opensearch.translate import OpenSearchQuery, parse_opensearch
from gep.catalog.opensearch.xmlwriter import to_xml
from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput
from gep.core.timeutil import format_rfc3339, parse_instant

router = APIRouter(prefix="/opensearch", tags=["OpenSearch"])

OSDD = "application/opensearchdescription+xml"
ATOM = "application/atom+xml"

ATOM_NS = "http://www.w3.org/2005/Atom"
GEORSS_NS = "http://www.georss.org/georss"
GML_NS = "http://www.opengis.net/gml"
DC_NS = "http://purl.org/dc/elements/1.1/"

FEED_NAMESPACES = {
    "atom": ATOM_NS,
    "os": OS_NS,
    "geo": GEO_NS,
    "time": TIME_NS,
    "eo": EO_NS,
    "georss": GEORSS_NS,
    "gml": GML_NS,
    "dc": DC_NS,
}
_PREFIX_NS = {"geo": GEO_NS, "time": TIME_NS, "eo": EO_NS}

_FORMATS = {
    "atom": "atom",
    "xml": "atom",
    ATOM: "atom",
    "json": "json",
    "geojson": "json",
    GEOJSON: "json",
    "application/json": "json",
}


# ---------------------------------------------------------------------- endpoints


@router.get(
    "/{collection_id}/description.xml",
    summary="OpenSearch description document",
    response_class=Response,
    responses={200: {"content": {OSDD: {}}}, **problems(401, 404)},
)
def description(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    viewer = caller(request)
    coll = store.get_collection(collection_id, viewer)
    xml = description_document(
        coll, base_url(request), store.queryable_types([collection_id], viewer)
    )
    return Response(xml.encode(), media_type=OSDD)


@router.get(
    "/{collection_id}/search",
    summary="OpenSearch search (Atom, or GeoJSON)",
    response_class=Response,
    responses={200: {"content": {ATOM: {}, GEOJSON: {}}}, **problems(400, 401, 404)},
    openapi_extra=query(
        *(param(local, core.title) for local, core in CORE_PARAMETERS),
        *(param(eo.short, eo.title) for eo in EO_PARAMETERS),
        param("format", "atom (default) or json; wins over httpAccept and Accept"),
        param("httpAccept", "A media type: application/atom+xml or application/geo+json"),
    ),
)
def search(
    collection_id: str, request: Request, store: CatalogStore = Depends(get_store)
) -> Response:
    viewer = caller(request)
    coll = store.get_collection(collection_id, viewer)
    fmt = _format(request)
    query = parse_opensearch(
        collection_id,
        dict(request.query_params),
        store.queryable_types([collection_id], viewer),
        visible_places(request),
    )
    query.request.viewer = viewer
    page = store.search(query.request)
    total = page.number_matched or 0
    ctx = _Page(request, collection_id, query, total)
    urls = asset_urls(request)
    if fmt == "json":
        feats = [render_item(c, ctx.base, coll_id, iid, urls) for coll_id, iid, c in page.items]
        return Response(_geojson(ctx, feats), media_type=GEOJSON)
    items = []
    for coll_id, iid, c in page.items:  # enclosures name stored files by their GEP URLs
        item = orjson.loads(c)
        if urls.wanted(c):
            urls.rewrite(item, coll_id, iid)
        items.append(item)
    return Response(_atom(ctx, coll, items).encode(), media_type=ATOM)


# ---------------------------------------------------------------------- paging and links


def _format(request: Request) -> str:
    """``format`` wins over ``httpAccept``, which wins over the Accept header; Atom otherwise."""
    qp = request.query_params
    for key in ("format", "httpAccept"):
        value = (qp.get(key) or "").strip()
        if value:
            fmt = _FORMATS.get(value.lower())
            if fmt is None:
                raise InvalidInput(
                    f"{key} must be atom ({ATOM}) or json ({GEOJSON}); got '{value}'", field=key
                )
            return fmt
    accept = request.headers.get("accept", "")
    if GEOJSON in accept or ("application/json" in accept and ATOM not in accept):
        return "json"
    return "atom"


class _Page:
    """One response page: where it is, and the URLs of its neighbours."""

    def __init__(
        self, request: Request, collection: str, query: OpenSearchQuery, total: int
    ) -> None:
        self.base = base_url(request)
        self.collection = collection
        self.query = query
        self.total = total
        self.url = f"{self.base}/opensearch/{quote(collection, safe='')}/search"
        self.description = f"{self.base}/opensearch/{quote(collection, safe='')}/description.xml"
        # the request's own parameters, minus paging and representation, in the given order
        self.params = [
            (k, v)
            for k, v in request.query_params.multi_items()
            if k not in ("startIndex", "startPage", "format", "httpAccept")
        ]

    def href(self, start_index: int | None, fmt: str) -> str:
        params = list(self.params)
        if start_index is not None:
            params.append(("startIndex", str(start_index)))
        params.append(("format", fmt))
        return f"{self.url}?{urlencode(params)}"

    def neighbours(self) -> dict[str, int]:
        """rel -> startIndex: first, previous, next and last, stepping by ``count``."""
        start, count, total = self.query.start_index, self.query.count, self.total
        out = {"first": 1}
        if count <= 0:
            return out
        if start > 1:
            out["previous"] = max(1, start - count)
        if start - 1 + count < total:
            out["next"] = start + count
        # the last page in the same alignment as this one, so "next" lands on it exactly
        r = (start - 1) % count
        out["last"] = (r + ((total - 1 - r) // count) * count if total - 1 >= r else 0) + 1
        return out


# ---------------------------------------------------------------------- GeoJSON


def _geojson(ctx: _Page, features: list[bytes]) -> bytes:
    q = ctx.query
    props: dict[str, Any] = {
        "totalResults": ctx.total,
        "startIndex": q.start_index,
        "itemsPerPage": q.count,
        "query": q.applied,
    }
    if q.ignored:
        props["ignoredParameters"] = q.ignored
    links: list[dict[str, Any]] = [
        {"rel": "self", "type": GEOJSON, "href": ctx.href(q.start_index, "json")},
        {"rel": "alternate", "type": ATOM, "href": ctx.href(q.start_index, "atom")},
        *[
            {"rel": rel, "type": GEOJSON, "href": ctx.href(i, "json")}
            for rel, i in ctx.neighbours().items()
        ],
        {"rel": "search", "type": OSDD, "href": ctx.description},
    ]
    return (
        b'{"type":"FeatureCollection","properties":'
        + orjson.dumps(props)
        + b',"features":['
        + b",".join(features)
        + b'],"links":'
        + orjson.dumps(links)
        + b"}"
    )


# ---------------------------------------------------------------------- Atom


def _a(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


def _atom(ctx: _Page, collection: dict[str, Any], items: list[dict[str, Any]]) -> str:
    q = ctx.query
    feed = ET.Element(_a("feed"))
    ET.SubElement(
        feed, _a("title")
    ).text = f"{collection.get('title') or ctx.collection}: search results"
    ET.SubElement(feed, _a("id")).text = ctx.href(q.start_index, "atom")
    ET.SubElement(feed, _a("updated")).text = format_rfc3339(datetime.now(UTC))
    author = ET.SubElement(feed, _a("author"))
    ET.SubElement(author, _a("name")).text = "GEP"
    ET.SubElement(feed, _a("generator")).text = "GEP OpenSearch"
    ET.SubElement(feed, f"{{{OS_NS}}}totalResults").text = str(ctx.total)
    ET.SubElement(feed, f"{{{OS_NS}}}startIndex").text = str(q.start_index)
    ET.SubElement(feed, f"{{{OS_NS}}}itemsPerPage").text = str(q.count)
    ET.SubElement(feed, f"{{{OS_NS}}}Query", _query_attributes(q))
    ET.SubElement(
        feed, _a("link"), {"rel": "self", "type": ATOM, "href": ctx.href(q.start_index, "atom")}
    )
    ET.SubElement(
        feed,
        _a("link"),
        {"rel": "alternate", "type": GEOJSON, "href": ctx.href(q.start_index, "json")},
    )
    for rel, index in ctx.neighbours().items():
        ET.SubElement(feed, _a("link"), {"rel": rel, "type": ATOM, "href": ctx.href(index, "atom")})
    ET.SubElement(feed, _a("link"), {"rel": "search", "type": OSDD, "href": ctx.description})
    for item in items:
        _entry(feed, item, ctx)
    return to_xml(feed, FEED_NAMESPACES, default=ATOM_NS)


def _query_attributes(q: OpenSearchQuery) -> dict[str, str]:
    """``os:Query role="request"``: extension parameters are namespaced attributes."""
    attrs = {"role": "request", "startIndex": str(q.start_index), "count": str(q.count)}
    for name, value in q.applied.items():
        prefix, _, local = name.partition(":")
        if local and prefix in _PREFIX_NS:
            attrs[f"{{{_PREFIX_NS[prefix]}}}{local}"] = value
        elif not local:
            attrs[name] = value
    return attrs


def _entry(feed: ET.Element, item: dict[str, Any], ctx: _Page) -> None:
    props = item.get("properties") or {}
    iid = str(item.get("id"))
    coll = str(item.get("collection") or ctx.collection)
    self_url = item_links(ctx.base, coll, iid)[0]["href"]
    entry = ET.SubElement(feed, _a("entry"))
    ET.SubElement(entry, _a("id")).text = self_url
    ET.SubElement(entry, _a("title")).text = str(props.get("title") or iid)
    ET.SubElement(entry, _a("updated")).text = _atom_time(
        props.get("updated"), props.get("datetime"), props.get("start_datetime")
    )
    if props.get("created"):
        ET.SubElement(entry, _a("published")).text = _atom_time(props["created"])
    if isinstance(props.get("description"), str):
        ET.SubElement(entry, _a("summary"), {"type": "text"}).text = props["description"]
    ET.SubElement(entry, _a("category"), {"term": coll, "label": "collection"})
    ET.SubElement(entry, f"{{{DC_NS}}}identifier").text = iid
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or props.get("datetime")
    if start or end:
        ET.SubElement(entry, f"{{{DC_NS}}}date").text = (
            f"{start}/{end}" if start != end else str(start)
        )
    _georss(entry, item)
    for eo in EO_PARAMETERS:
        value = next((props[p] for p in eo.properties if props.get(p) is not None), None)
        if value is None or isinstance(value, dict):
            continue
        text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
        ET.SubElement(entry, f"{{{EO_NS}}}{eo.name.split(':', 1)[1]}").text = text
    ET.SubElement(
        entry,
        _a("link"),
        {"rel": "alternate", "type": GEOJSON, "href": self_url, "title": "STAC item"},
    )
    for key, asset in (item.get("assets") or {}).items():
        if not isinstance(asset, dict) or not isinstance(asset.get("href"), str):
            continue
        roles = asset.get("roles") or []
        if "thumbnail" in roles or "overview" in roles:
            rel = "icon"
        elif "metadata" in roles and "data" not in roles:
            rel = "via"
        elif "data" in roles or not roles:
            rel = "enclosure"
        else:
            continue
        attrs = {"rel": rel, "href": asset["href"], "title": str(asset.get("title") or key)}
        if asset.get("type"):
            attrs["type"] = str(asset["type"])
        if rel == "enclosure" and isinstance(asset.get("file:size"), int):
            attrs["length"] = str(asset["file:size"])
        ET.SubElement(entry, _a("link"), attrs)


def _atom_time(*candidates: Any) -> str:
    """The first candidate that is a valid instant, as RFC 3339 UTC (Atom requires one)."""
    for value in candidates:
        if isinstance(value, str):
            try:
                return format_rfc3339(parse_instant(value))
            except InvalidInput:
                continue
    return format_rfc3339(datetime.now(UTC))


def _latlon(coords: list[Any]) -> str:
    return " ".join(f"{c[1]} {c[0]}" for c in coords)


def _georss(entry: ET.Element, item: dict[str, Any]) -> None:
    """GeoRSS Simple where it can say it (lat lon order), GML for multi-polygons."""
    geom = item.get("geometry")
    if not isinstance(geom, dict):
        return
    gtype = geom.get("type")
    coords: Any = geom.get("coordinates")
    try:
        if gtype == "Polygon":
            ET.SubElement(entry, f"{{{GEORSS_NS}}}polygon").text = _latlon(coords[0])
            return
        if gtype == "Point":
            ET.SubElement(entry, f"{{{GEORSS_NS}}}point").text = f"{coords[1]} {coords[0]}"
            return
        if gtype == "LineString":
            ET.SubElement(entry, f"{{{GEORSS_NS}}}line").text = _latlon(coords)
            return
        if gtype == "MultiPolygon":
            where = ET.SubElement(entry, f"{{{GEORSS_NS}}}where")
            multi = ET.SubElement(where, f"{{{GML_NS}}}MultiSurface", {"srsName": "EPSG:4326"})
            for poly in coords:
                member = ET.SubElement(multi, f"{{{GML_NS}}}surfaceMember")
                gpoly = ET.SubElement(member, f"{{{GML_NS}}}Polygon")
                ext = ET.SubElement(gpoly, f"{{{GML_NS}}}exterior")
                ring = ET.SubElement(ext, f"{{{GML_NS}}}LinearRing")
                ET.SubElement(ring, f"{{{GML_NS}}}posList").text = _latlon(poly[0])
            return
    except (TypeError, IndexError, KeyError):
        pass
    bbox = item.get("bbox")
    if isinstance(bbox, list) and len(bbox) in (4, 6):
        w, s, e, n = bbox if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4])
        ET.SubElement(entry, f"{{{GEORSS_NS}}}box").text = f"{s} {w} {n} {e}"
