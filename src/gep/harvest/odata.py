"""The Copernicus Data Space Ecosystem (CDSE) OData catalogue, and OData archives like it.

Why OData and not CDSE's STAC or OpenSearch: the OData ``Products`` entity set is CDSE's
reference catalogue (the one its download service is keyed on), it sorts by acquisition time
(``$orderby=ContentDate/Start asc``), and ``$expand=Attributes`` returns every mission attribute
(orbits, polarisations, cloud cover, timeliness) in one answer. CREODIAS's datahub speaks the
same dialect (ESA's "CSC" OData), so this source reads both.

Query (``SourceConfig.url`` is the ``…/odata/v1/Products`` URL; ``params``, all optional):

``collection``
    the remote collection (``SENTINEL-1``, ``SENTINEL-2``) → ``Collection/Name eq '…'``.
``productType``
    → ``Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and
    att/OData.CSC.StringAttribute/Value eq '…')``.
``attributes``
    more attribute equalities, ``{"orbitDirection": "ASCENDING", "relativeOrbitNumber": 15}``
    (strings, integers and doubles get their CSC attribute type).
``aoi`` (WKT or a GeoJSON geometry) or ``bbox`` (``[w, s, e, n]``)
    → ``OData.CSC.Intersects(area=geography'SRID=4326;POLYGON((…))')``.
``filter``
    a raw OData clause AND-ed to the rest. ``end`` (RFC 3339): ``ContentDate/Start lt end``.
``page_size`` (``$top``, default 100; CDSE allows 1000), ``max_skip`` (default 10 000).

Incremental runs filter ``ContentDate/Start ge <since>`` (the runner's checkpoint is the newest
item ``datetime``, which is ``ContentDate/Start``), so the boundary product is read again and
the idempotent upsert absorbs it.

Paging: the server's ``@odata.nextLink`` is followed when present; without one, ``$skip``
advances while pages come back full. OData servers cap ``$skip`` (CDSE at 10 000), which a
first harvest of a mission passes quickly, so once the next ``$skip`` would pass ``max_skip``
the query restarts from the last page's newest ``ContentDate/Start`` with ``$skip=0``. The
products at that instant are read twice (harmless: upserts), none are missed, because the order
is ascending and the new bound is inclusive. If more than ``max_skip`` products share one
instant the restart cannot move forward; that is reported instead of looping.

Mapping: :func:`gep.io.crosswalk.odata.odata_record` reads each product (the fields it maps are
listed there) and :func:`gep.io.crosswalk.eo.eo_record_to_item` makes the item, as for
OpenSearch. The download URL is CDSE's zipper
(``https://zipper.dataspace.copernicus.eu/odata/v1/Products(<Id>)/$value``) on CDSE,
``<url>(<Id>)/$value`` elsewhere, or ``params.download_url`` with ``{id}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import shapely.wkt
from shapely.errors import GEOSException, ShapelyError
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from gep.harvest.base import HarvestError, Page, Source
from gep.io.crosswalk.eo import eo_record_to_item
from gep.io.crosswalk.odata import odata_record
from gep.io.crosswalk.times import parse_time

KIND = "odata"

_MAPPING_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, ShapelyError)

CDSE_DOWNLOAD = "https://zipper.dataspace.copernicus.eu/odata/v1/Products({id})/$value"


def odata_time(dt: datetime) -> str:
    """``2020-08-08T00:00:00.000Z``: CDSE's literal, milliseconds rounded down (the bound
    only gets more inclusive)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _attribute_clause(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise HarvestError(f"params.attributes.{name}: a string or a number, not {value!r}")
    if isinstance(value, str):
        kind, text = "StringAttribute", _literal(value)
    elif isinstance(value, int):
        kind, text = "IntegerAttribute", str(value)
    else:
        kind, text = "DoubleAttribute", repr(float(value))
    return (
        f"Attributes/OData.CSC.{kind}/any(att:att/Name eq {_literal(name)} "
        f"and att/OData.CSC.{kind}/Value eq {text})"
    )


def _area(params: Mapping[str, Any]) -> BaseGeometry | None:
    aoi, bbox = params.get("aoi"), params.get("bbox")
    try:
        if isinstance(aoi, str):
            geom = shapely.wkt.loads(aoi)
        elif isinstance(aoi, Mapping):
            geom = shape(aoi)
        elif bbox is not None:
            parts = bbox.split(",") if isinstance(bbox, str) else list(bbox)
            w, s, e, n = (float(v) for v in parts)
            geom = box(w, s, e, n)
        else:
            return None
    except (GEOSException, ValueError, TypeError, AttributeError) as exc:
        raise HarvestError(f"params.aoi/bbox is not a readable area ({exc})") from None
    if geom.is_empty or not geom.is_valid:
        raise HarvestError("params.aoi/bbox: the area is empty or invalid")
    return geom


def _skip_of(url: str) -> int | None:
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "$skip":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class ODataSource(Source):
    """``…/odata/v1/Products`` of CDSE (or CREODIAS), oldest first (see the module docstring)."""

    kind = KIND

    # -- query

    def _page_size(self) -> int:
        size = int(self.config.params.get("page_size", 100))
        if size < 1:
            raise HarvestError("params.page_size must be at least 1")
        return size

    def _filter(self, since: str | None) -> str:
        p = self.config.params
        clauses: list[str] = []
        if p.get("collection"):
            clauses.append(f"Collection/Name eq {_literal(str(p['collection']))}")
        if p.get("productType"):
            clauses.append(_attribute_clause("productType", str(p["productType"])))
        for name, value in (p.get("attributes") or {}).items():
            clauses.append(_attribute_clause(str(name), value))
        area = _area(p)
        if area is not None:
            clauses.append(f"OData.CSC.Intersects(area=geography'SRID=4326;{area.wkt}')")
        if since is not None:
            clauses.append(f"ContentDate/Start ge {since}")
        end = parse_time(p.get("end"), "params.end")
        if end is not None:
            clauses.append(f"ContentDate/Start lt {odata_time(end)}")
        if p.get("filter"):
            clauses.append(f"({p['filter']})")
        return " and ".join(clauses)

    def _params(self, since: str | None, skip: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "$orderby": "ContentDate/Start asc",
            "$top": str(self._page_size()),
            "$skip": str(skip),
            "$expand": ["Attributes", "Assets"],
        }
        flt = self._filter(since)
        if flt:
            params["$filter"] = flt
        return params

    def start(self, since: datetime | None) -> dict[str, Any]:
        return {"since": None if since is None else odata_time(since), "skip": 0}

    def check(self) -> None:
        self._params(None, 0)  # page size, attributes, area and end are all read there

    # -- paging

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        since = cursor.get("since")
        if cursor.get("url"):
            url, params, skip = str(cursor["url"]), None, cursor.get("skip")
        else:
            skip = int(cursor.get("skip") or 0)
            url, params = self.config.url, self._params(since, skip)
        doc = self.fetcher.json("GET", url, params=params)
        if not isinstance(doc, dict) or not isinstance(doc.get("value"), list):
            raise HarvestError(f"{url}: the answer is not an OData collection (no 'value')")
        products: list[Any] = doc["value"]
        page = Page(items=[])
        newest: datetime | None = None
        for n, product in enumerate(products):
            name = product.get("Name") if isinstance(product, Mapping) else None
            try:
                if not isinstance(product, Mapping):
                    raise ValueError("not an OData entity")
                start = parse_time((product.get("ContentDate") or {}).get("Start"), "Start")
                if start is not None and (newest is None or start > newest):
                    newest = start
                page.items.append(
                    self.stac_item(eo_record_to_item(odata_record(product, self._download)))
                )
            except _MAPPING_ERRORS as exc:
                page.errors.append(f"{url} product {n} ({name or '?'}): {exc}")
        page.next = self._next(since, skip, len(products), doc, newest)
        return page

    def _next(
        self,
        since: str | None,
        skip: int | None,
        count: int,
        doc: Mapping[str, Any],
        newest: datetime | None,
    ) -> dict[str, Any] | None:
        if count == 0:
            return None
        link = doc.get("@odata.nextLink")
        link = str(link) if isinstance(link, str) and link else None
        if link is None and count < self._page_size():
            return None
        max_skip = int(self.config.params.get("max_skip", 10_000))
        next_skip = _skip_of(link) if link else (None if skip is None else skip + count)
        if link and next_skip is None:
            return {"url": link, "since": since, "skip": None}  # server-side paging token
        if next_skip is not None and next_skip <= max_skip:
            if link:
                return {"url": link, "since": since, "skip": next_skip}
            return {"since": since, "skip": next_skip}
        # $skip would pass the server's cap: restart the query at the newest start seen
        if newest is None:
            raise HarvestError("cannot page on: no product of the page has a ContentDate/Start")
        restart = odata_time(newest)
        if since is not None and restart <= since:
            raise HarvestError(
                f"more than {max_skip} products have ContentDate/Start {since}: $skip cannot "
                "page past them (raise params.max_skip if the server allows it)"
            )
        return {"since": restart, "skip": 0}

    # -- the download

    def _download(self, product_id: str) -> str:
        template = self.config.params.get("download_url")
        if not template:
            host = urlsplit(self.config.url).netloc
            if host.endswith("dataspace.copernicus.eu"):
                template = CDSE_DOWNLOAD
            else:
                template = self.config.url.rstrip("/") + "({id})/$value"
        return str(template).replace("{id}", product_id)
