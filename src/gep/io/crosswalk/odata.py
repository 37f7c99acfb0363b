"""CDSE / CREODIAS OData products → :class:`~gep.io.crosswalk.eo.EoRecord`.

Why here and not in the harvester: the mapping of an archive's records is the crosswalk's;
:mod:`gep.harvest.odata` only queries and pages (and knows its archive's download URLs).

Mapping (through :func:`gep.io.crosswalk.eo.eo_record_to_item`, so an S1 product harvested
through OData has the fields of GEP's other S1 items): id = ``Name`` without ``.SAFE``/
``.SEN3``/``.zip``; footprint from ``GeoFootprint`` (GeoJSON) or else the ``Footprint`` WKT
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
from collections.abc import Callable, Mapping
from typing import Any

import shapely.wkt
from shapely.errors import GEOSException
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gep.core.timeutil import format_rfc3339
from gep.io.crosswalk.eo import EoRecord
from gep.io.crosswalk.times import parse_time
from gep.io.crosswalk.values import clean, multihash, polarisations, to_float, to_int

_SUFFIX = re.compile(r"\.(SAFE|SEN3|zip|nc)$", re.IGNORECASE)
_WKT = re.compile(r"^\s*geography'(?:SRID=(\d+);)?(.*)'\s*$", re.DOTALL | re.IGNORECASE)


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


def odata_record(product: Mapping[str, Any], download: Callable[[str], str]) -> EoRecord:
    """The record of one OData product (``$expand=Attributes,Assets``); ``download`` gives the
    download URL of a product ``Id`` (the harvester knows its archive's)."""
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
        rec.download = download(str(product_id))
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
        extra["processing:datetime"] = format_rfc3339(when)
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
