"""An OpenSearch endpoint (resto, DIAS catalogues, another GEP) answering Atom or GeoJSON.

Why one source for both representations: OpenSearch servers describe the same product records
either as Atom entries or as a GeoJSON FeatureCollection. The answer's first byte tells which
one came back, so a source needs no ``format`` setting to read it; the query side (``format``,
parameter names) is configured because servers disagree on it. This module is only the source:
the query, paging and the feed; each record is mapped to STAC by the crosswalk
(:mod:`gep.io.crosswalk.opensearch` reads Atom entries and GeoJSON features into an
:class:`~gep.io.crosswalk.eo.EoRecord`, :func:`~gep.io.crosswalk.eo.eo_record_to_item` makes the
item, as for OData).

Query (``SourceConfig.params``; every key optional):

``start_param``/``end_param``
    names of the time bounds, resto's ``startDate``/``completionDate`` by default (Mundi:
    ``timeStart``/``timeEnd``; GEP: ``start``/``end``). ``since`` goes into ``start_param``;
    ``end`` (RFC 3339) into ``end_param``.
``box`` (or ``bbox``: ``[w, s, e, n]`` or ``"w,s,e,n"``), ``geometry`` (WKT), ``productType``
    the usual OpenSearch filters, sent as ``box``/``geometry``/``productType``.
``query``
    any other parameters, sent verbatim (``{"processingLevel": "L1C"}``).
``format``
    sent as ``format`` when given (Mundi wants ``atom``); the answer is read either way.
``page_size`` (default 50), ``count_param`` (default ``maxRecords``; OpenSearch's own is ``count``)
``paging``
    ``page`` (resto: ``page=1, 2, …``, the default) or ``startIndex`` (Mundi, GEP: 1-based).
``sort``
    parameters asking for oldest first, resto's ``{"sortParam": "startDate", "sortOrder":
    "ascending"}`` by default; ``{}`` for servers that do not sort (the ``since`` bound still
    makes runs incremental, and upserts make the overlap harmless).

Paging follows the page's ``rel="next"`` link when there is one (the cursor is that URL: a
server-made link is the only reliable way through servers with odd paging); without one, the
next page is asked by incrementing ``page``/``startIndex`` while pages come back full. A page
with no record, or a ``next`` link pointing at the page just read, ends the listing, so a
broken server cannot loop the harvester.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.etree import ElementTree as ET

import orjson
from shapely.errors import ShapelyError

from gep.core.timeutil import format_rfc3339
from gep.harvest.base import HarvestError, Page, Source
from gep.io.crosswalk.eo import EoRecord, eo_record_to_item
from gep.io.crosswalk.opensearch import (
    ATOM_NS,
    atom_record,
    geojson_record,
    local_name,
    stac_passthrough,
)
from gep.io.crosswalk.times import parse_time

KIND = "opensearch"


def _parse_atom(content: bytes, url: str) -> tuple[list[tuple[str, Any]], str | None]:
    """(entries as (label, element), next href) of an Atom feed."""
    head = content[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in content.upper():
        raise HarvestError(f"{url}: refusing an XML answer with a DOCTYPE or entities")
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise HarvestError(f"{url}: the answer is not XML ({exc})") from None
    if root.tag != f"{{{ATOM_NS}}}feed":
        raise HarvestError(f"{url}: the answer is not an Atom feed (root <{local_name(root.tag)}>)")
    entries = [(f"entry {n}", e) for n, e in enumerate(root.iterfind(f"{{{ATOM_NS}}}entry"))]
    nxt = next(
        (
            ln.get("href")
            for ln in root.iterfind(f"{{{ATOM_NS}}}link")
            if ln.get("rel") == "next" and ln.get("href")
        ),
        None,
    )
    return entries, nxt


def _json_next(doc: Mapping[str, Any]) -> str | None:
    props = doc.get("properties") if isinstance(doc.get("properties"), Mapping) else {}
    links = list(doc.get("links") or []) + list((props or {}).get("links") or [])
    for link in links:
        if (
            isinstance(link, Mapping)
            and link.get("rel") == "next"
            and link.get("href")
            and str(link.get("method", "GET")).upper() == "GET"
        ):
            return str(link["href"])
    return None


def _query_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class OpenSearchSource(Source):
    """An OpenSearch search URL answering Atom or GeoJSON (see the module docstring)."""

    kind = KIND

    def _page_size(self) -> int:
        size = int(self.config.params.get("page_size", 50))
        if size < 1:
            raise HarvestError("params.page_size must be at least 1")
        return size

    def start(self, since: datetime | None) -> dict[str, Any]:
        p = self.config.params
        query: dict[str, str] = {}
        if since is not None:
            query[str(p.get("start_param", "startDate"))] = format_rfc3339(since)
        end = parse_time(p.get("end"), "params.end")
        if end is not None:
            query[str(p.get("end_param", "completionDate"))] = format_rfc3339(end)
        bbox = p.get("box", p.get("bbox"))
        if bbox is not None:
            query["box"] = _query_value(bbox)
        if p.get("geometry"):
            query["geometry"] = str(p["geometry"])
        if p.get("productType"):
            query["productType"] = str(p["productType"])
        if p.get("format"):
            query["format"] = str(p["format"])
        sort = p.get("sort", {"sortParam": "startDate", "sortOrder": "ascending"})
        for key, value in (sort or {}).items():
            query[str(key)] = _query_value(value)
        for key, value in (p.get("query") or {}).items():
            query[str(key)] = _query_value(value)
        query[str(p.get("count_param", "maxRecords"))] = str(self._page_size())
        paging = str(p.get("paging", "page"))
        if paging not in ("page", "startIndex"):
            raise HarvestError(f"params.paging must be 'page' or 'startIndex', not {paging!r}")
        query[paging] = "1"
        return {"url": self.config.url, "params": query}

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        url = str(cursor["url"])
        resp = self.fetcher.request("GET", url, params=cursor.get("params"))
        asked = str(resp.request.url)
        content = resp.content.lstrip()
        records: list[tuple[str, Any]]
        read: Callable[[Any], EoRecord]
        if content.startswith(b"<"):
            records, nxt = _parse_atom(content, asked)
            read = atom_record
        else:
            try:
                doc = orjson.loads(content)
            except orjson.JSONDecodeError as exc:
                raise HarvestError(f"{asked}: the answer is neither XML nor JSON ({exc})") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
                raise HarvestError(f"{asked}: the answer is not a GeoJSON FeatureCollection")
            records = [(f"feature {n}", f) for n, f in enumerate(doc["features"])]
            nxt = _json_next(doc)
            read = geojson_record
        page = Page(items=[])
        for label, raw in records:
            try:
                if isinstance(raw, Mapping) and raw.get("stac_version"):
                    item = stac_passthrough(raw)  # a STAC item already (GEP's own GeoJSON)
                else:
                    item = eo_record_to_item(read(raw))
            except (ValueError, TypeError, KeyError, IndexError, ShapelyError) as exc:
                page.errors.append(f"{asked} {label} ({_label(raw)}): {exc}")
                continue
            page.items.append(self.stac_item(item))
        page.next = self._next(cursor, asked, len(records), nxt)
        return page

    def _next(
        self, cursor: Mapping[str, Any], asked: str, count: int, nxt: str | None
    ) -> dict[str, Any] | None:
        if count == 0:
            return None
        if nxt:
            if _same_url(nxt, asked):
                return None  # a next link to this very page: stop rather than loop
            return {"url": nxt, "params": None}
        if count < self._page_size():
            return None
        parts = urlsplit(asked)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        paging = str(self.config.params.get("paging", "page"))
        current = int(query.get(paging) or 1)
        query[paging] = str(current + (1 if paging == "page" else count))
        base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return {"url": base, "params": query}


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.netloc, pa.path, sorted(parse_qsl(pa.query))) == (
        pb.netloc,
        pb.path,
        sorted(parse_qsl(pb.query)),
    )


def _label(raw: Any) -> str:
    if isinstance(raw, ET.Element):
        for child in raw:
            if local_name(child.tag) in ("identifier", "title") and child.text:
                return child.text.strip()
        return "?"
    if isinstance(raw, Mapping):
        props = raw.get("properties") if isinstance(raw.get("properties"), Mapping) else {}
        return str(
            (props or {}).get("productIdentifier") or (props or {}).get("title") or raw.get("id")
        )
    return "?"
