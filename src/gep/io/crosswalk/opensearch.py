"""OpenSearch answers' records → :class:`~gep.io.crosswalk.eo.EoRecord`: Atom entries and
GeoJSON features.

Why both: OpenSearch servers describe the same product records either as Atom entries (OGC
13-026 EO extension: ``eo:``, ``georss:``, ``dc:date``, ``time:``, ``media:`` elements) or as a
GeoJSON FeatureCollection (resto's property names); the harvester
(:mod:`gep.harvest.opensearch`) pages through either and hands each record here. A GeoJSON
feature that is already a STAC item (another GEP) is taken as it is (:func:`stac_passthrough`).

Ids are the product identifier (``dc:identifier``, resto ``productIdentifier``). Mundi's Atom
has one quirk handled here: its ``eo:orbitNumber`` is the *relative* orbit (R002 in the name)
while ``DIAS:startOrbitNumber`` is the absolute one; when an entry carries both and they
differ, the first is taken as the relative orbit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET

from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from gep.io.crosswalk.eo import EoRecord, footprint
from gep.io.crosswalk.times import parse_time
from gep.io.crosswalk.values import clean, multihash, polarisations, to_float, to_int

ATOM_NS = "http://www.w3.org/2005/Atom"
_GEORSS = "http://www.georss.org/georss"


def local_name(tag: str) -> str:
    """An XML tag without its namespace."""
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
        if local_name(el.tag) != "Polygon":
            continue
        rings: list[list[tuple[float, float]]] = []
        for ring in el.iter():
            if local_name(ring.tag) != "LinearRing":
                continue
            pos_list = next((c for c in ring if local_name(c.tag) == "posList"), None)
            if pos_list is not None:
                rings.append(_ring(pos_list.text, "gml:posList", lat_first))
                continue
            coords = [c.text or "" for c in ring if local_name(c.tag) == "pos"]
            rings.append(_ring(" ".join(coords), "gml:pos", lat_first))
        if rings:
            polys.append(Polygon(rings[0], rings[1:]))
    if not polys:
        for el in where.iter():
            if local_name(el.tag) == "Envelope":
                lower = next((c.text for c in el if local_name(c.tag) == "lowerCorner"), None)
                upper = next((c.text for c in el if local_name(c.tag) == "upperCorner"), None)
                (x0, y0), (x1, y1) = (
                    _pairs(_numbers(lower, "gml:lowerCorner"), lat_first)[0],
                    _pairs(_numbers(upper, "gml:upperCorner"), lat_first)[0],
                )
                polys.append(box(x0, y0, x1, y1))
    return polys


def _atom_geometry(entry: ET.Element) -> BaseGeometry | None:
    """GeoRSS Simple (``polygon``, ``box``, ``point``, ``line``) or GML (``where``)."""
    georss = [c for c in entry if _ns(c.tag) == _GEORSS]
    polygons = [c for c in georss if local_name(c.tag) == "polygon"]
    if polygons:
        polys = [Polygon(_ring(p.text, "georss:polygon")) for p in polygons]
        return polys[0] if len(polys) == 1 else MultiPolygon(polys)
    for c in georss:
        if local_name(c.tag) == "where":
            polys = _gml_polygons(c)
            if polys:
                return polys[0] if len(polys) == 1 else MultiPolygon(polys)
            raise ValueError("georss:where holds no GML polygon or envelope")
    for c in georss:
        kind = local_name(c.tag)
        if kind == "box":
            s, w, n, e = _numbers(c.text, "georss:box")[:4]
            return box(w, s, e, n)
        if kind == "point":
            lon_lat = _pairs(_numbers(c.text, "georss:point"))
            return Point(lon_lat[0])
        if kind == "line":
            return LineString(_pairs(_numbers(c.text, "georss:line")))
    return None


def atom_record(entry: ET.Element) -> EoRecord:
    """The record of one Atom entry (EO elements, GeoRSS or GML footprint, links, media)."""
    fields: dict[str, str] = {}
    for child in entry:
        name = local_name(child.tag)
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
    for link in entry.iter(f"{{{ATOM_NS}}}link"):
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
        if local_name(content.tag) not in ("content", "thumbnail") or not content.get("url"):
            continue
        category = "".join(
            (c.text or "") for c in content if local_name(c.tag) == "category"
        ).upper()
        url = content.get("url")
        if local_name(content.tag) == "thumbnail" or "THUMBNAIL" in category:
            rec.thumbnail = rec.thumbnail or url
        elif "QUICKLOOK" in category:
            rec.quicklook = rec.quicklook or url
    if tile := fields.get("tileIdentifier") or fields.get("tileId"):
        rec.extra["grid:code"] = f"MGRS-{tile}"
    return rec


def geojson_record(feature: Mapping[str, Any]) -> EoRecord:
    """The record of one GeoJSON feature with resto's property names."""
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


def stac_passthrough(feature: Mapping[str, Any]) -> dict[str, Any]:
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
