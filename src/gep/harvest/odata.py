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

Mapping (through :func:`gep.harvest.opensearch.eo_record_to_item`, so an S1 product harvested
here has the fields of GEP's other S1 items): id = ``Name`` without ``.SAFE``/``.SEN3``/``.zip``;
footprint from ``GeoFootprint`` (GeoJSON) or else the ``Footprint`` WKT
(``geography'SRID=4326;POLYGON ((…))'``, read with shapely); ``ContentDate`` → ``datetime``/
``start_datetime``/``end_datetime``; attributes ``platformShortName`` + ``platformSerialIdentifier``
(or CREODIAS's ``platform``) → ``platform``/``constellation``, ``instrumentShortName`` →
``instruments``, ``orbitNumber``/``relativeOrbitNumber``/``orbitDirection`` → ``sat:``,
``operationalMode``/``swathIdentifier``, ``polarisationChannels`` and ``productType`` → ``sar:``
(S1) or ``product:type`` (others), ``cloudCover`` → ``eo:cloud_cover``, ``processingDate``/
``processorVersion`` → ``processing:``, ``timeliness``/``sliceNumber``/``totalSlices``/
``datatakeID`` → ``s1:`` (as GEP's SAFE items), ``tileId`` → ``grid:code``. The ``product`` asset
is the download (``https://zipper.dataspace.copernicus.eu/odata/v1/Products(<Id>)/$value`` for
CDSE, ``<url>(<Id>)/$value`` elsewhere, or ``params.download_url`` with ``{id}``), with
``file:size`` (``ContentLength`` when not 0), ``file:checksum`` (MD5, else BLAKE3, as a
multihash) and the ``S3Path`` as the ``s3`` alternate href; the ``QUICKLOOK`` asset becomes the
thumbnail. ``Id`` and ``Online`` are kept as ``odata:id`` and ``odata:online``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import shapely.wkt
from shapely.errors import GEOSException, ShapelyError
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from gep.harvest.base import HarvestError, Page, Source
from gep.harvest.opensearch import (
    EoRecord,
    clean,
    eo_record_to_item,
    multihash,
    parse_time,
    polarisations,
    rfc3339,
    to_float,
    to_int,
)

KIND = "odata"

_MAPPING_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, ShapelyError)

CDSE_DOWNLOAD = "https://zipper.dataspace.copernicus.eu/odata/v1/Products({id})/$value"
_SUFFIX = re.compile(r"\.(SAFE|SEN3|zip|nc)$", re.IGNORECASE)
_WKT = re.compile(r"^\s*geography'(?:SRID=(\d+);)?(.*)'\s*$", re.DOTALL | re.IGNORECASE)


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


def _attributes(product: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in product.get("Attributes") or []:
        if isinstance(attr, Mapping) and attr.get("Name") and "Value" in attr:
            out[str(attr["Name"])] = attr["Value"]
    return out


def _geometry(product: Mapping[str, Any]) -> BaseGeometry:
    geo = product.get("GeoFootprint")
    if isinstance(geo, Mapping) and geo.get("type"):
        try:
            return shape(geo)
        except (GEOSException, ValueError, TypeError, IndexError, KeyError) as exc:
            raise ValueError(f"GeoFootprint is not readable ({exc})") from None
    text = clean(product.get("Footprint"))
    if not isinstance(text, str):
        raise ValueError("no Footprint")
    m = _WKT.match(text)
    srid, wkt = (m.group(1), m.group(2)) if m else (None, text)
    if srid not in (None, "4326"):
        raise ValueError(f"Footprint in SRID {srid}, not 4326")
    try:
        return shapely.wkt.loads(wkt)
    except (GEOSException, ValueError) as exc:
        raise ValueError(f"Footprint WKT is not readable ({exc})") from None


def _checksum(product: Mapping[str, Any]) -> str | None:
    found: dict[str, str] = {}
    for entry in product.get("Checksum") or []:
        if isinstance(entry, Mapping) and entry.get("Algorithm") and entry.get("Value"):
            found[str(entry["Algorithm"]).lower()] = str(entry["Value"])
    for algorithm in ("md5", "blake3", "sha256"):
        if algorithm in found and (value := multihash(algorithm, found[algorithm])):
            return value
    return None


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
                page.items.append(self.stac_item(eo_record_to_item(self._record(product))))
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

    # -- mapping

    def _download(self, product_id: str) -> str:
        template = self.config.params.get("download_url")
        if not template:
            host = urlsplit(self.config.url).netloc
            if host.endswith("dataspace.copernicus.eu"):
                template = CDSE_DOWNLOAD
            else:
                template = self.config.url.rstrip("/") + "({id})/$value"
        return str(template).replace("{id}", product_id)

    def _record(self, product: Mapping[str, Any]) -> EoRecord:
        name = clean(product.get("Name"))
        if not isinstance(name, str) or not name.strip():
            raise ValueError("no Name")
        a = _attributes(product)
        content = product.get("ContentDate") or {}
        rec = EoRecord(id=_SUFFIX.sub("", name.strip()))
        rec.geometry = _geometry(product)
        rec.start = parse_time(content.get("Start") or a.get("beginningDateTime"), "Start")
        rec.end = parse_time(content.get("End") or a.get("endingDateTime"), "End")
        rec.platform = a.get("platformShortName")
        rec.platform_serial = a.get("platformSerialIdentifier") or a.get("platform")
        rec.instrument = a.get("instrumentShortName")
        rec.product_type = a.get("productType")
        rec.processing_level = a.get("processingLevel") or a.get("processing:level")
        rec.absolute_orbit = to_int(a.get("orbitNumber"), "orbitNumber")
        rec.relative_orbit = to_int(a.get("relativeOrbitNumber"), "relativeOrbitNumber")
        rec.orbit_direction = a.get("orbitDirection")
        rec.sensor_mode = a.get("operationalMode") or a.get("swathIdentifier")
        rec.polarisations = polarisations(a.get("polarisationChannels"))
        rec.cloud_cover = to_float(a.get("cloudCover"), "cloudCover")
        rec.published = parse_time(product.get("PublicationDate"), "PublicationDate")
        rec.updated = parse_time(product.get("ModificationDate"), "ModificationDate")
        product_id = clean(product.get("Id"))
        if product_id:
            rec.download = self._download(str(product_id))
            rec.download_type = "application/zip"
            rec.size = to_int(product.get("ContentLength"), "ContentLength") or None
            rec.checksum = _checksum(product)
            if s3 := clean(product.get("S3Path")):
                rec.alternate["s3"] = "s3:/" + str(s3) if str(s3).startswith("/") else str(s3)
        for asset in product.get("Assets") or []:
            if (
                isinstance(asset, Mapping)
                and str(asset.get("Type", "")).upper() == "QUICKLOOK"
                and asset.get("DownloadLink")
            ):
                rec.thumbnail = str(asset["DownloadLink"])
                break
        extra = rec.extra
        extra["odata:id"] = product_id
        if isinstance(product.get("Online"), bool):
            extra["odata:online"] = product["Online"]
        if (when := parse_time(a.get("processingDate"), "processingDate")) is not None:
            extra["processing:datetime"] = rfc3339(when)
        if clean(a.get("processorVersion")):
            extra["processing:version"] = str(a["processorVersion"])
        if str(clean(rec.platform) or "").upper() == "SENTINEL-1" or name.startswith("S1"):
            for key, prop in (
                ("timeliness", "s1:product_timeliness"),
                ("datatakeID", "s1:datatake_id"),
            ):
                if clean(a.get(key)) is not None:
                    extra[prop] = str(a[key])
            for key, prop in (
                ("sliceNumber", "s1:slice_number"),
                ("totalSlices", "s1:total_slices"),
            ):
                if (value := to_int(a.get(key), key)) is not None:
                    extra[prop] = value
        if tile := clean(a.get("tileId")):
            extra["grid:code"] = f"MGRS-{tile}"
        return rec
