"""The neutral EO record, and the STAC item it becomes: the mapping OpenSearch and OData share.

Why a neutral record: OpenSearch servers (Atom or GeoJSON) and OData catalogues describe the
same products with different names; each reader (:mod:`.opensearch`, :mod:`.odata`) fills one
:class:`EoRecord`, and :func:`eo_record_to_item` alone decides the STAC fields, so a product
seen through several catalogues gets the same item whichever way it was harvested.

Mapping choices (the fields GEP's catalogue and its own OpenSearch use): id = the product
identifier rather than a server's internal UUID, so the same product from two catalogues is one
item; ``platform`` lower case with its unit (``sentinel-2a``) and ``constellation``, from the
identifier when it is an ESA Sentinel name, else from the platform name and serial letter;
Sentinel-1 gets the same ``sar:``/``sat:`` fields as GEP's ASF and SAFE items (``c-sar``, band
C, 5.405 GHz, ``sar:product_type`` SLC/GRD/…); optical products get ``product:type`` and
``eo:cloud_cover``; the download becomes the ``product`` asset (role ``data``) with
``file:size`` and ``file:checksum`` (a multihash), thumbnails and quicklooks become
``thumbnail``/``overview``. A record whose footprint, time or numbers cannot be read raises
ValueError: it is reported and skipped whole, never stored half-mapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry

from gep.core.timeutil import format_rfc3339
from gep.io.crosswalk.footprint import normalise_footprint
from gep.io.crosswalk.values import clean, media_type

STAC_VERSION = "1.1.0"
SAT_EXTENSION = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
SAR_EXTENSION = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
EO_EXTENSION = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
PROCESSING_EXTENSION = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
PRODUCT_EXTENSION = "https://stac-extensions.github.io/product/v1.0.0/schema.json"
GRID_EXTENSION = "https://stac-extensions.github.io/grid/v1.1.0/schema.json"
TIMESTAMPS_EXTENSION = "https://stac-extensions.github.io/timestamps/v1.1.0/schema.json"
ALTERNATE_EXTENSION = "https://stac-extensions.github.io/alternate-assets/v1.2.0/schema.json"

#: the property prefix each extension above owns (the tests check every prefix used is declared)
EXTENSION_OF_PREFIX = {
    "sat": SAT_EXTENSION,
    "sar": SAR_EXTENSION,
    "eo": EO_EXTENSION,
    "file": FILE_EXTENSION,
    "processing": PROCESSING_EXTENSION,
    "product": PRODUCT_EXTENSION,
    "grid": GRID_EXTENSION,
}


#: the widest footprint an EO archive's product can have (Sentinel-3's continental synergy
#: tiles reach about 10 000 km); a footprint wrapped round the globe is wider
MAX_WIDTH_KM = 12_000.0

_SENTINEL_NAME = re.compile(r"^S([1-3])([A-D])_")
_S1_POLS = {"SV": ["VV"], "DV": ["VV", "VH"], "SH": ["HH"], "DH": ["HH", "HV"]}
_S1_NAME = re.compile(r"^S1[A-D]_(?P<mode>[A-Z0-9]{2})_(?P<type>[A-Z_]{4}).(?P<cls>.)(?P<pol>..)_")


def footprint(geom: BaseGeometry) -> tuple[dict[str, Any], list[float]]:
    """(GeoJSON, bbox) of an EO record's footprint: :func:`.normalise_footprint` with the EO
    archives' width bound."""
    return normalise_footprint(geom, max_width_km=MAX_WIDTH_KM)


def platform_names(identifier: str, name: Any, serial: Any) -> tuple[str | None, str | None]:
    """(platform, constellation): ``sentinel-2a``/``sentinel-2`` from an ESA product name, else
    from the platform name (``SENTINEL-1``, ``Sentinel2``, ``S2A``) and serial letter."""
    m = _SENTINEL_NAME.match(identifier)
    if m:
        return f"sentinel-{m.group(1)}{m.group(2).lower()}", f"sentinel-{m.group(1)}"
    name = clean(name)
    if name is None:
        return None, None
    text = re.sub(r"[\s_]+", "-", str(name).strip().lower())
    if short := re.fullmatch(r"s(\d)([a-d])", text):
        return f"sentinel-{short.group(1)}{short.group(2)}", f"sentinel-{short.group(1)}"
    text = re.sub(r"^(sentinel)-?(\d)", r"\1-\2", text)
    letter = clean(serial)
    if letter is not None and re.fullmatch(r"[A-Za-z]", str(letter).strip()):
        text = f"{text}{str(letter).strip().lower()}"
    m2 = re.fullmatch(r"(sentinel-\d)([a-d])", text)
    return text, (m2.group(1) if m2 else None)


# ----------------------------------------------------------------------------- the record


@dataclass
class EoRecord:
    """One product as the catalogues describe it, before it becomes a STAC item."""

    id: str
    geometry: BaseGeometry | None = None
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    platform: Any = None
    platform_serial: Any = None
    instrument: Any = None
    sensor_type: Any = None
    product_type: Any = None
    processing_level: Any = None
    absolute_orbit: int | None = None
    relative_orbit: int | None = None
    orbit_direction: Any = None
    sensor_mode: Any = None
    polarisations: list[str] = field(default_factory=list)
    cloud_cover: float | None = None
    download: str | None = None
    download_type: str | None = None
    size: int | None = None
    checksum: str | None = None  # multihash
    alternate: dict[str, str] = field(default_factory=dict)  # name -> href (s3://…)
    thumbnail: str | None = None
    quicklook: str | None = None
    via: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    #: already-STAC properties (``s1:…``, ``grid:code``, ``processing:datetime``, ``odata:id``)
    extra: dict[str, Any] = field(default_factory=dict)


def _is_sar(rec: EoRecord, constellation: str | None) -> bool:
    instrument = str(clean(rec.instrument) or "").lower()
    sensor = str(clean(rec.sensor_type) or "").lower()
    return (
        constellation == "sentinel-1"
        or instrument in {"sar", "c-sar", "asar", "palsar", "palsar-2"}
        or sensor in {"radar", "sar"}
    )


def _sar_product_type(value: Any, identifier: str) -> str | None:
    """ESA's S1 product type the way GEP stores it: ``SLC``, ``GRD``, ``RAW``, ``OCN``."""
    text = str(clean(value) or "").upper()
    m = re.match(r"^(?:[A-Z0-9]{2}_)?(SLC|GRD|RAW|OCN)", text)
    if m:
        return m.group(1)
    if not text and (n := _S1_NAME.match(identifier)):
        return n.group("type").rstrip("_HMF") or None
    return text or None


def _processing_level(value: Any) -> str | None:
    """``LEVEL1C`` / ``Level-1`` / ``L1C`` → ``L1C``; product types posing as levels → None."""
    text = str(clean(value) or "").strip().upper()
    if m := re.fullmatch(r"LEVEL[-_ ]?(\d[A-Z]?)", text):
        return f"L{m.group(1)}"
    if re.fullmatch(r"L\d[A-Z]?", text):
        return text
    return None


def eo_record_to_item(rec: EoRecord) -> dict[str, Any]:
    """The STAC item of a record (see the module docstring); ValueError when it cannot be one."""
    if not rec.id or "/" in rec.id or rec.id != rec.id.strip():
        raise ValueError(f"unusable product identifier {rec.id!r}")
    if rec.geometry is None:
        raise ValueError("no footprint")
    geometry, bbox = footprint(rec.geometry)
    if rec.start is None:
        raise ValueError("no acquisition time")
    end = rec.end or rec.start
    if end < rec.start:
        raise ValueError(f"acquisition ends ({format_rfc3339(end)}) before it starts")
    props: dict[str, Any] = {
        "datetime": format_rfc3339(rec.start),
        "start_datetime": format_rfc3339(rec.start),
        "end_datetime": format_rfc3339(end),
    }
    if rec.title and rec.title != rec.id:
        props["title"] = rec.title
    platform, constellation = platform_names(rec.id, rec.platform, rec.platform_serial)
    if platform:
        props["platform"] = platform
    if constellation:
        props["constellation"] = constellation
    sar = _is_sar(rec, constellation)
    if instrument := clean(rec.instrument):
        name = str(instrument).strip().lower()
        props["instruments"] = ["c-sar" if constellation == "sentinel-1" else name]
    elif constellation == "sentinel-1":
        props["instruments"] = ["c-sar"]
    # sat
    if (state := clean(rec.orbit_direction)) is not None:
        state = str(state).strip().lower()
        if state not in {"ascending", "descending"}:
            raise ValueError(f"orbit direction {rec.orbit_direction!r}")
        props["sat:orbit_state"] = state
    if rec.relative_orbit is not None:
        props["sat:relative_orbit"] = rec.relative_orbit
    if rec.absolute_orbit is not None:
        props["sat:absolute_orbit"] = rec.absolute_orbit
    # sar or optical
    s1 = _S1_NAME.match(rec.id)
    if sar:
        mode = clean(rec.sensor_mode) or (s1.group("mode") if s1 else None)
        if mode:
            props["sar:instrument_mode"] = str(mode).upper()
        if constellation == "sentinel-1":
            props["sar:frequency_band"] = "C"
            props["sar:center_frequency"] = 5.405
            props["sar:observation_direction"] = "right"
        pols = rec.polarisations or (_S1_POLS.get(s1.group("pol"), []) if s1 else [])
        if pols:
            props["sar:polarizations"] = pols
        if ptype := _sar_product_type(rec.product_type, rec.id):
            props["sar:product_type"] = ptype
    elif (ptype := clean(rec.product_type)) is not None:
        props["product:type"] = str(ptype)
    if rec.cloud_cover is not None:
        if not 0.0 <= rec.cloud_cover <= 100.0:
            raise ValueError(f"cloud cover {rec.cloud_cover} is not a percentage")
        props["eo:cloud_cover"] = rec.cloud_cover
    if level := _processing_level(rec.processing_level):
        props["processing:level"] = level
    if rec.published is not None:
        props["published"] = format_rfc3339(rec.published)
    if rec.updated is not None:
        props["updated"] = format_rfc3339(rec.updated)
    props.update({k: v for k, v in rec.extra.items() if v is not None})

    assets: dict[str, Any] = {}
    if rec.download:
        asset: dict[str, Any] = {
            "href": rec.download,
            "type": rec.download_type or media_type(rec.download, "application/zip"),
            "roles": ["data"],
            "title": "Product download",
        }
        if rec.size is not None and rec.size > 0:
            asset["file:size"] = rec.size
        if rec.checksum:
            asset["file:checksum"] = rec.checksum
        if rec.alternate:
            asset["alternate"] = {k: {"href": v} for k, v in rec.alternate.items()}
        assets["product"] = asset
    thumb = rec.thumbnail or rec.quicklook
    if thumb:
        assets["thumbnail"] = {"href": thumb, "type": media_type(thumb), "roles": ["thumbnail"]}
    if rec.quicklook and rec.quicklook != thumb:
        assets["overview"] = {
            "href": rec.quicklook,
            "type": media_type(rec.quicklook),
            "roles": ["overview"],
        }
    links = [{"rel": "via", "href": rec.via}] if rec.via else []

    extensions = {
        EXTENSION_OF_PREFIX[k.split(":", 1)[0]]
        for k in props
        if ":" in k and k.split(":", 1)[0] in EXTENSION_OF_PREFIX
    }
    if "published" in props:
        extensions.add(TIMESTAMPS_EXTENSION)
    for asset in assets.values():
        if any(k.startswith("file:") for k in asset):
            extensions.add(FILE_EXTENSION)
        if "alternate" in asset:
            extensions.add(ALTERNATE_EXTENSION)
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": sorted(extensions),
        "id": rec.id,
        "geometry": geometry,
        "bbox": bbox,
        "properties": props,
        "links": links,
        "assets": assets,
    }
