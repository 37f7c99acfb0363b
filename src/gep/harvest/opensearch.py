"""An OpenSearch endpoint (resto, DIAS catalogues, another GEP) answering Atom or GeoJSON.

Why one source for both representations: OpenSearch servers describe the same product records
either as Atom entries (OGC 13-026 EO extension: ``eo:``, ``georss:``, ``dc:date``, ``time:``,
``media:`` elements) or as a GeoJSON FeatureCollection (resto's property names). The answer's
first byte tells which one came back, so a source needs no ``format`` setting to read it; the
query side (``format``, parameter names) is configured because servers disagree on it.

Both readings fill one neutral :class:`EoRecord`, and :func:`eo_record_to_item` turns it into a
STAC item. The OData source (:mod:`gep.harvest.odata`) fills the same record, so products seen
through several catalogues get the same STAC fields whichever way they were harvested.

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

Mapping choices (the fields GEP's catalogue and its own OpenSearch use): id = the product
identifier (``dc:identifier``, resto ``productIdentifier``) rather than a server's internal
UUID, so the same product from two catalogues is one item; ``platform`` lower case with its
unit (``sentinel-2a``) and ``constellation``, from the identifier when it is an ESA Sentinel
name, else from the platform name and serial letter; Sentinel-1 gets the same ``sar:``/``sat:``
fields as GEP's ASF and SAFE items (``c-sar``, band C, 5.405 GHz, ``sar:product_type`` SLC/GRD/
…); optical products get ``product:type`` and ``eo:cloud_cover``; the download becomes the
``product`` asset (role ``data``) with ``file:size`` and ``file:checksum`` (a multihash),
thumbnails and quicklooks become ``thumbnail``/``overview``. A record whose footprint, time or
numbers cannot be read is reported and skipped whole, never stored half-mapped.

Mundi's Atom has one quirk handled here: its ``eo:orbitNumber`` is the *relative* orbit (R002 in
the name) while ``DIAS:startOrbitNumber`` is the absolute one; when an entry carries both and
they differ, the first is taken as the relative orbit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.etree import ElementTree as ET

import numpy as np
import orjson
import shapely
from numpy.typing import NDArray
from shapely.errors import ShapelyError
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiPolygon,
    Point,
    Polygon,
    box,
    mapping,
    shape,
)
from shapely.geometry.base import BaseGeometry
from shapely.validation import make_valid

from gep.core.errors import InvalidInput
from gep.core.geometry import parse_geojson_geometry
from gep.harvest.base import HarvestError, Page, Source

KIND = "opensearch"

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

#: multihash codes (https://github.com/multiformats/multicodec) of the checksums archives give
_MULTIHASH = {"md5": ("d5", 16), "sha1": ("11", 20), "sha256": ("12", 32), "blake3": ("1e", 32)}

_NULLS = frozenset({"", "none", "null", "na", "n/a", "nan"})
_SENTINEL_NAME = re.compile(r"^S([1-3])([A-D])_")
_POLARISATION = re.compile(r"\b(HH|HV|VH|VV)\b")
_S1_POLS = {"SV": ["VV"], "DV": ["VV", "VH"], "SH": ["HH"], "DH": ["HH", "HV"]}
_S1_NAME = re.compile(r"^S1[A-D]_(?P<mode>[A-Z0-9]{2})_(?P<type>[A-Z_]{4}).(?P<cls>.)(?P<pol>..)_")
# Wider than any product footprint these archives serve: a footprint spanning more is read as
# crossing the antimeridian unsplit, or as broken.
_MAX_SPAN_DEG = 60.0


# ----------------------------------------------------------------------------- helpers


def clean(value: Any) -> Any:
    """None for the ways archives write "no value" (``None``, ``""``, ``"null"``, ``"NA"``)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in _NULLS:
        return None
    return value


def parse_time(value: Any, what: str = "time") -> datetime | None:
    """An aware UTC datetime from the RFC 3339 / ISO 8601 variants archives write (0-9
    fractional digits, ``Z`` or an offset or nothing, a bare date); None when absent."""
    value = clean(value)
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip().replace("z", "Z")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # beyond microseconds
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an RFC 3339 time") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def rfc3339(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC."""
    dt = dt.astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}"
    return text + "Z"


def to_int(value: Any, what: str) -> int | None:
    value = clean(value)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not number.is_integer():
        raise ValueError(f"{what} {value!r} is not a whole number")
    return int(number)


def to_float(value: Any, what: str) -> float | None:
    value = clean(value)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} {value!r} is not a finite number")
    return number


def multihash(algorithm: str, hexdigest: str) -> str | None:
    """``file:checksum`` (a hex multihash) of a digest, or None for an unknown algorithm."""
    code = _MULTIHASH.get(algorithm.lower().replace("-", ""))
    digest = hexdigest.strip().lower()
    if code is None or not re.fullmatch(r"[0-9a-f]+", digest) or len(digest) != 2 * code[1]:
        return None
    return f"{code[0]}{code[1]:02x}{digest}"


def polarisations(value: Any) -> list[str]:
    """``"VV&VH"``, ``"VV+VH"``, ``"VV VH"``, ``["VV", "VH"]`` → ``["VV", "VH"]``."""
    value = clean(value)
    if value is None:
        return []
    found: list[str] = []
    for part in value if isinstance(value, list) else [value]:
        for pol in _POLARISATION.findall(str(part).upper().replace("&", " ").replace("+", " ")):
            if pol not in found:
                found.append(pol)
    return found


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


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon | GeometryCollection):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def footprint(geom: BaseGeometry) -> tuple[dict[str, Any], list[float]]:
    """A footprint as GeoJSON the catalogue accepts, and its bbox; ValueError when broken.

    Self-intersecting polygons are repaired (their polygonal parts kept, as GEP's ASF mapping
    does); a polygon spanning more than 180° of longitude is read as crossing the antimeridian
    unsplit and is split there (RFC 7946 §3.1.9, the bbox then has west > east); coordinates
    out of range, empty or degenerate footprints are refused.
    """
    if geom.is_empty:
        raise ValueError("empty footprint")
    if not all(math.isfinite(v) for v in geom.bounds):
        raise ValueError("footprint has non-finite coordinates")
    if isinstance(geom, Polygon | MultiPolygon) and not geom.is_valid:
        parts = _polygons(make_valid(geom))
        if not parts:
            raise ValueError(f"footprint is invalid ({shapely.is_valid_reason(geom)})")
        geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    west, south, east, north = (float(v) for v in geom.bounds)
    bbox = [west, south, east, north]
    if east - west > 180.0 and isinstance(geom, Polygon | MultiPolygon):
        shifted = shapely.transform(geom, _east_of_180)
        if shifted.bounds[2] - shifted.bounds[0] > _MAX_SPAN_DEG:
            raise ValueError(f"footprint spans {east - west:.1f}° of longitude however read")
        eastern = shifted.intersection(box(-180.0, -90.0, 180.0, 90.0))
        western = shapely.transform(
            shifted.intersection(box(180.0, -90.0, 540.0, 90.0)), _back_west
        )
        parts = [p for g in (eastern, western) for p in _polygons(g)]
        geom = MultiPolygon(parts) if len(parts) > 1 else parts[0]
        bbox = [float(eastern.bounds[0]), south, float(western.bounds[2]), north]
    geojson = _lists(mapping(geom))
    try:
        parse_geojson_geometry(geojson, "geometry")  # exactly what the catalogue will check
    except InvalidInput as exc:
        raise ValueError(exc.message) from None
    return geojson, bbox


def _east_of_180(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    out = xy.copy()
    out[:, 0] = np.where(out[:, 0] < 0.0, out[:, 0] + 360.0, out[:, 0])
    return out


def _back_west(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    out = xy.copy()
    out[:, 0] = out[:, 0] - 360.0
    return out


def _lists(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _lists(v) for k, v in value.items()}
    return value


def _media_type(href: str, default: str = "application/octet-stream") -> str:
    path = urlsplit(href).path.lower()
    for suffix, media in (
        (".zip", "application/zip"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".png", "image/png"),
        (".tif", "image/tiff; application=geotiff"),
        (".tiff", "image/tiff; application=geotiff"),
        (".nc", "application/netcdf"),
        (".json", "application/json"),
        (".xml", "application/xml"),
    ):
        if path.endswith(suffix):
            return media
    return default


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
        raise ValueError(f"acquisition ends ({rfc3339(end)}) before it starts")
    props: dict[str, Any] = {
        "datetime": rfc3339(rec.start),
        "start_datetime": rfc3339(rec.start),
        "end_datetime": rfc3339(end),
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
        props["published"] = rfc3339(rec.published)
    if rec.updated is not None:
        props["updated"] = rfc3339(rec.updated)
    props.update({k: v for k, v in rec.extra.items() if v is not None})

    assets: dict[str, Any] = {}
    if rec.download:
        asset: dict[str, Any] = {
            "href": rec.download,
            "type": rec.download_type or _media_type(rec.download, "application/zip"),
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
        assets["thumbnail"] = {"href": thumb, "type": _media_type(thumb), "roles": ["thumbnail"]}
    if rec.quicklook and rec.quicklook != thumb:
        assets["overview"] = {
            "href": rec.quicklook,
            "type": _media_type(rec.quicklook),
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


# ----------------------------------------------------------------------------- Atom


_ATOM = "http://www.w3.org/2005/Atom"
_GEORSS = "http://www.georss.org/georss"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _numbers(text: str | None, what: str) -> list[float]:
    try:
        values = [float(v) for v in (text or "").replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a list of numbers") from None
    if not values or len(values) % 2:
        raise ValueError(f"{what}: {text!r} is not a list of coordinate pairs")
    return values


def _pairs(values: list[float], lat_first: bool = True) -> list[tuple[float, float]]:
    it = iter(values)
    pairs = list(zip(it, it, strict=True))
    return [(b, a) for a, b in pairs] if lat_first else pairs


def _ring(text: str | None, what: str, lat_first: bool = True) -> list[tuple[float, float]]:
    pts = _pairs(_numbers(text, what), lat_first)
    if pts and pts[0] != pts[-1]:
        pts.append(pts[0])
    if len(pts) < 4:
        raise ValueError(f"{what}: a polygon needs at least 3 distinct positions")
    return pts


def _gml_lat_first(srs_name: str) -> bool:
    """GeoRSS GML is lat/lon (EPSG:4326 axis order) unless the srsName says CRS84."""
    return "crs84" not in srs_name.lower().replace(":", "")


def _gml_polygons(where: ET.Element) -> list[Polygon]:
    polys: list[Polygon] = []
    lat_first = True
    for el in where.iter():
        if el.get("srsName"):
            lat_first = _gml_lat_first(el.get("srsName", ""))
        if _local(el.tag) != "Polygon":
            continue
        rings: list[list[tuple[float, float]]] = []
        for ring in el.iter():
            if _local(ring.tag) != "LinearRing":
                continue
            pos_list = next((c for c in ring if _local(c.tag) == "posList"), None)
            if pos_list is not None:
                rings.append(_ring(pos_list.text, "gml:posList", lat_first))
                continue
            coords = [c.text or "" for c in ring if _local(c.tag) == "pos"]
            rings.append(_ring(" ".join(coords), "gml:pos", lat_first))
        if rings:
            polys.append(Polygon(rings[0], rings[1:]))
    if not polys:
        for el in where.iter():
            if _local(el.tag) == "Envelope":
                lower = next((c.text for c in el if _local(c.tag) == "lowerCorner"), None)
                upper = next((c.text for c in el if _local(c.tag) == "upperCorner"), None)
                (x0, y0), (x1, y1) = (
                    _pairs(_numbers(lower, "gml:lowerCorner"), lat_first)[0],
                    _pairs(_numbers(upper, "gml:upperCorner"), lat_first)[0],
                )
                polys.append(box(x0, y0, x1, y1))
    return polys


def _atom_geometry(entry: ET.Element) -> BaseGeometry | None:
    """GeoRSS Simple (``polygon``, ``box``, ``point``, ``line``) or GML (``where``)."""
    georss = [c for c in entry if _ns(c.tag) == _GEORSS]
    polygons = [c for c in georss if _local(c.tag) == "polygon"]
    if polygons:
        polys = [Polygon(_ring(p.text, "georss:polygon")) for p in polygons]
        return polys[0] if len(polys) == 1 else MultiPolygon(polys)
    for c in georss:
        if _local(c.tag) == "where":
            polys = _gml_polygons(c)
            if polys:
                return polys[0] if len(polys) == 1 else MultiPolygon(polys)
            raise ValueError("georss:where holds no GML polygon or envelope")
    for c in georss:
        kind = _local(c.tag)
        if kind == "box":
            s, w, n, e = _numbers(c.text, "georss:box")[:4]
            return box(w, s, e, n)
        if kind == "point":
            lon_lat = _pairs(_numbers(c.text, "georss:point"))
            return Point(lon_lat[0])
        if kind == "line":
            return LineString(_pairs(_numbers(c.text, "georss:line")))
    return None


def _atom_record(entry: ET.Element) -> EoRecord:
    fields: dict[str, str] = {}
    for child in entry:
        name = _local(child.tag)
        text = (child.text or "").strip()
        if text and name not in fields:
            fields[name] = text
    ident = fields.get("identifier") or fields.get("title") or fields.get("id") or ""
    rec = EoRecord(id=ident.strip(), title=fields.get("title"))
    rec.geometry = _atom_geometry(entry)
    date = fields.get("date", "")
    first, _, last = date.partition("/")
    rec.start = parse_time(
        fields.get("start")
        or fields.get("beginPosition")
        or fields.get("sensingStartDate")
        or fields.get("startDate")
        or first,
        "start time",
    )
    rec.end = parse_time(
        fields.get("end")
        or fields.get("endPosition")
        or fields.get("sensingStopDate")
        or fields.get("completionDate")
        or last
        or None,
        "end time",
    )
    rec.platform = fields.get("platform")
    rec.platform_serial = fields.get("platformSerialIdentifier")
    rec.instrument = fields.get("instrument")
    rec.sensor_type = fields.get("sensorType")
    rec.product_type = fields.get("productType")
    rec.processing_level = fields.get("processingLevel")
    orbit = to_int(fields.get("orbitNumber"), "orbit number")
    start_orbit = to_int(fields.get("startOrbitNumber"), "start orbit number")
    relative = to_int(
        fields.get("track") or fields.get("relativeOrbitNumber") or fields.get("relativeOrbit"),
        "relative orbit",
    )
    if start_orbit is not None:
        rec.absolute_orbit = start_orbit
        if orbit is not None and orbit != start_orbit and relative is None:
            relative = orbit  # Mundi: eo:orbitNumber is the track, startOrbitNumber the orbit
    else:
        rec.absolute_orbit = orbit
    rec.relative_orbit = relative
    rec.orbit_direction = fields.get("orbitDirection")
    rec.sensor_mode = fields.get("sensorMode")
    rec.polarisations = polarisations(
        fields.get("polarisationChannels") or fields.get("polarizationChannels")
    )
    rec.cloud_cover = to_float(fields.get("cloudCover"), "cloud cover")
    rec.published = parse_time(fields.get("published"), "published")
    rec.updated = parse_time(fields.get("updated"), "updated")
    size = fields.get("productDatapackSize") or fields.get("size")
    checksum = clean(fields.get("checksum"))
    for link in entry.iter(f"{{{_ATOM}}}link"):
        rel, href = link.get("rel", "alternate"), link.get("href")
        if not href:
            continue
        if rel == "enclosure" and rec.download is None:
            rec.download, rec.download_type = href, link.get("type")
            size = link.get("length") or size
        elif rel == "icon" and rec.thumbnail is None:
            rec.thumbnail = href
        elif rel in ("via", "alternate") and rec.via is None and "json" in link.get("type", ""):
            rec.via = href
    rec.size = to_int(size, "size")
    if checksum and len(checksum) == 32:
        rec.checksum = multihash("md5", checksum)
    for content in entry.iter():
        if _local(content.tag) not in ("content", "thumbnail") or not content.get("url"):
            continue
        category = "".join((c.text or "") for c in content if _local(c.tag) == "category").upper()
        url = content.get("url")
        if _local(content.tag) == "thumbnail" or "THUMBNAIL" in category:
            rec.thumbnail = rec.thumbnail or url
        elif "QUICKLOOK" in category:
            rec.quicklook = rec.quicklook or url
    if tile := fields.get("tileIdentifier") or fields.get("tileId"):
        rec.extra["grid:code"] = f"MGRS-{tile}"
    return rec


def _parse_atom(content: bytes, url: str) -> tuple[list[tuple[str, Any]], str | None]:
    """(entries as (label, element), next href) of an Atom feed."""
    head = content[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in content.upper():
        raise HarvestError(f"{url}: refusing an XML answer with a DOCTYPE or entities")
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise HarvestError(f"{url}: the answer is not XML ({exc})") from None
    if root.tag != f"{{{_ATOM}}}feed":
        raise HarvestError(f"{url}: the answer is not an Atom feed (root <{_local(root.tag)}>)")
    entries = [(f"entry {n}", e) for n, e in enumerate(root.iterfind(f"{{{_ATOM}}}entry"))]
    nxt = next(
        (
            ln.get("href")
            for ln in root.iterfind(f"{{{_ATOM}}}link")
            if ln.get("rel") == "next" and ln.get("href")
        ),
        None,
    )
    return entries, nxt


# ----------------------------------------------------------------------------- GeoJSON


def _json_record(feature: Mapping[str, Any]) -> EoRecord:
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        raise ValueError("feature has no properties")
    ident = clean(props.get("productIdentifier")) or clean(props.get("title"))
    ident = ident or clean(feature.get("id"))
    rec = EoRecord(id=str(ident or "").strip(), title=clean(props.get("title")))
    geom = feature.get("geometry")
    if geom is not None:
        if not isinstance(geom, Mapping) or "type" not in geom:
            raise ValueError("geometry is not a GeoJSON geometry")
        try:
            rec.geometry = shape(geom)
        except Exception as exc:  # shapely: GEOSException, ValueError, TypeError, IndexError
            raise ValueError(f"geometry is not readable ({type(exc).__name__}: {exc})") from None
    rec.start = parse_time(props.get("startDate") or props.get("start"), "startDate")
    rec.end = parse_time(props.get("completionDate") or props.get("end"), "completionDate")
    rec.platform = props.get("platform")
    rec.platform_serial = props.get("platformSerialIdentifier")
    rec.instrument = props.get("instrument")
    rec.sensor_type = props.get("sensorType")
    rec.product_type = props.get("productType")
    rec.processing_level = props.get("processingLevel")
    rec.absolute_orbit = to_int(props.get("orbitNumber"), "orbitNumber")
    rec.relative_orbit = to_int(
        props.get("relativeOrbitNumber") or props.get("track"), "relativeOrbitNumber"
    )
    rec.orbit_direction = props.get("orbitDirection")
    rec.sensor_mode = props.get("sensorMode")
    rec.polarisations = polarisations(
        props.get("polarisation") or props.get("polarisationChannels") or props.get("polarization")
    )
    rec.cloud_cover = to_float(props.get("cloudCover"), "cloudCover")
    rec.published = parse_time(props.get("published"), "published")
    rec.updated = parse_time(props.get("updated"), "updated")
    services = props.get("services")
    download = services.get("download") if isinstance(services, Mapping) else None
    if isinstance(download, Mapping) and clean(download.get("url")):
        rec.download = str(download["url"])
        rec.download_type = clean(download.get("mimeType"))
        rec.size = to_int(download.get("size"), "download size")
        checksum = clean(download.get("checksum"))
    else:
        rec.size = to_int(props.get("resourceSize"), "resourceSize")
        checksum = clean(props.get("resourceChecksum"))
    if checksum and len(str(checksum)) == 32:
        rec.checksum = multihash("md5", str(checksum))
    rec.thumbnail = clean(props.get("thumbnail"))
    rec.quicklook = clean(props.get("quicklook"))
    for link in props.get("links") or []:
        if (
            isinstance(link, Mapping)
            and link.get("rel") == "alternate"
            and "json" in str(link.get("type", ""))
        ):
            rec.via = str(link.get("href"))
            break
    if tile := clean(props.get("mgrs")) or clean(props.get("tileId")):
        rec.extra["grid:code"] = f"MGRS-{tile}"
    return rec


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


# ----------------------------------------------------------------------------- the source


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
            query[str(p.get("start_param", "startDate"))] = rfc3339(since)
        end = parse_time(p.get("end"), "params.end")
        if end is not None:
            query[str(p.get("end_param", "completionDate"))] = rfc3339(end)
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
            read = _atom_record
        else:
            try:
                doc = orjson.loads(content)
            except orjson.JSONDecodeError as exc:
                raise HarvestError(f"{asked}: the answer is neither XML nor JSON ({exc})") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
                raise HarvestError(f"{asked}: the answer is not a GeoJSON FeatureCollection")
            records = [(f"feature {n}", f) for n, f in enumerate(doc["features"])]
            nxt = _json_next(doc)
            read = _json_record
        page = Page(items=[])
        for label, raw in records:
            try:
                if isinstance(raw, Mapping) and raw.get("stac_version"):
                    item = _passthrough(raw)  # a STAC item already (GEP's own GeoJSON)
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
            if _local(child.tag) in ("identifier", "title") and child.text:
                return child.text.strip()
        return "?"
    if isinstance(raw, Mapping):
        props = raw.get("properties") if isinstance(raw.get("properties"), Mapping) else {}
        return str(
            (props or {}).get("productIdentifier") or (props or {}).get("title") or raw.get("id")
        )
    return "?"


def _passthrough(feature: Mapping[str, Any]) -> dict[str, Any]:
    """A STAC item served as OpenSearch GeoJSON: checked, its links reduced to ``via``."""
    item = dict(feature)
    if not item.get("id") or not isinstance(item.get("properties"), Mapping):
        raise ValueError("a STAC item needs an id and properties")
    if item.get("geometry") is not None:
        item["geometry"], item["bbox"] = footprint(shape(item["geometry"]))
    links = [ln for ln in item.get("links") or [] if isinstance(ln, Mapping)]
    self_href = next((ln.get("href") for ln in links if ln.get("rel") == "self"), None)
    item["links"] = [{"rel": "via", "href": self_href}] if self_href else []
    item["properties"] = dict(item["properties"])
    return item
