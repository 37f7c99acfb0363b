"""OpenSearch 1.1 (with the Geo, Time, EO and Parameters extensions) translated to a search.

OpenSearch clients (FedEO, ESA and CEOS tools, GIS plug-ins) speak in flat query parameters with
their own conventions: ranges such as ``[10,20[``, case-free platform names, WKT geometries and
1-based offsets. Translating them here into the same :class:`SearchRequest` the STAC API uses
means there is one search engine and two front doors, so both answer identically.

No HTTP here: the API layer renders the responses (Atom, GeoJSON). The description document is
built here because it is derived from the same parameter table as the translation, so the two
cannot drift apart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import orjson
import shapely
from shapely import affinity
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from gep.catalog.bounds import text_nesting, wkt_vertices
from gep.catalog.search import (
    MAX_FILTER_DEPTH,
    MAX_GEOMETRY_VERTICES,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_PARAM_CHARS,
    SearchRequest,
    check_filter_size,
    parse_ids,
    parse_limit,
    parse_q,
    place_area,
    refuse_nul,
)
from gep.core.bbox import Bbox, parse_bbox
from gep.core.errors import InvalidInput
from gep.core.geometry import check_geometry
from gep.core.timeutil import TimeRange, format_rfc3339, parse_instant

if TYPE_CHECKING:
    from gep.catalog.gazetteer import Entry

# ---------------------------------------------------------------------- namespaces

OS_NS = "http://a9.com/-/spec/opensearch/1.1/"
GEO_NS = "http://a9.com/-/opensearch/extensions/geo/1.0/"
TIME_NS = "http://a9.com/-/opensearch/extensions/time/1.0/"
EO_NS = "http://a9.com/-/opensearch/extensions/eo/1.0/"
PARAMETERS_NS = "http://a9.com/-/spec/opensearch/extensions/parameters/1.0/"

NAMESPACES = {
    "os": OS_NS,
    "geo": GEO_NS,
    "time": TIME_NS,
    "eo": EO_NS,
    "parameters": PARAMETERS_NS,
}

DEFAULT_COUNT = 10

#: parameters that choose the response representation; the API reads them, translation does not
RESPONSE_PARAMETERS = frozenset({"format", "httpAccept"})

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_INTERVAL = re.compile(rf"^([\[\]])\s*({_NUM})\s*,\s*({_NUM})\s*([\[\]])$")
_LOWER = re.compile(rf"^([\[\]])\s*({_NUM})$")
_UPPER = re.compile(rf"^({_NUM})\s*([\[\]])$")
_SET = re.compile(rf"^\{{\s*({_NUM}(?:\s*,\s*{_NUM})*)\s*\}}$")
_SINGLE = re.compile(rf"^{_NUM}$")
#: the range syntax, advertised as the ``pattern`` of numeric parameters
RANGE_PATTERN = r"^(\[|\])?-?[0-9.]+(,-?[0-9.]+)?(\[|\])?$|^\{-?[0-9.]+(,-?[0-9.]+)*\}$"
_RANGE_HELP = "N, [a,b], ]a,b[, [a,b[, ]a,b], [a (>= a), ]a (> a), a] (<= a), a[ (< a) or {a,b,c}"


# ---------------------------------------------------------------------- the parameter table

Kind = Literal["range", "text", "enum", "array"]


@dataclass(frozen=True, slots=True)
class EoParameter:
    """One OpenSearch EO parameter and the STAC properties it queries.

    Several properties mean "whichever the collection carries": product types live in
    ``product:type`` (STAC 1.1), ``sar:product_type`` or ``s2:product_type`` depending on the
    source, and a clause is added for each one present, OR-ed.
    """

    #: the qualified name, as it appears in templates (``eo:cloudCover``)
    name: str
    #: the local name used as query key in our templates (``cloudCover``)
    short: str
    properties: tuple[str, ...]
    kind: Kind
    title: str
    #: other accepted query keys (spelling variants of the EO specification)
    aliases: tuple[str, ...] = ()
    #: enum values (lower case), also offered as options in the description document
    options: tuple[str, ...] = ()
    #: how list tokens are normalised before matching (array kind)
    case: Literal["lower", "upper"] = "lower"
    minimum: float | None = None
    maximum: float | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.name, self.short, *self.aliases)


EO_PARAMETERS: tuple[EoParameter, ...] = (
    EoParameter(
        "eo:platform",
        "platform",
        ("platform", "constellation"),
        "text",
        "Platform or constellation, case-insensitive (sentinel-1a, Sentinel-1)",
    ),
    EoParameter(
        "eo:instrument", "instrument", ("instruments",), "array", "Instrument (c-sar, msi)"
    ),
    EoParameter(
        "eo:productType",
        "productType",
        ("product:type", "sar:product_type", "s2:product_type"),
        "text",
        "Product type, case-insensitive (SLC, GRD, S2MSI2A)",
    ),
    EoParameter(
        "eo:processingLevel",
        "processingLevel",
        ("processing:level",),
        "text",
        "Processing level (L1, L2)",
    ),
    EoParameter(
        "eo:orbitDirection",
        "orbitDirection",
        ("sat:orbit_state",),
        "enum",
        "Orbit direction",
        options=("ascending", "descending"),
    ),
    EoParameter(
        "eo:track",
        "track",
        ("sat:relative_orbit",),
        "range",
        "Relative orbit number (track); a number or a range",
        aliases=("eo:relativeOrbitNumber", "relativeOrbitNumber"),
        minimum=1,
    ),
    EoParameter(
        "eo:orbitNumber",
        "orbitNumber",
        ("sat:absolute_orbit",),
        "range",
        "Absolute orbit number; a number or a range",
        minimum=1,
    ),
    EoParameter(
        "eo:frame",
        "frame",
        ("gep:frame_number",),
        "range",
        "Frame number (ASF framing); a number or a range",
        minimum=0,
    ),
    EoParameter(
        "eo:sensorMode",
        "sensorMode",
        ("sar:instrument_mode",),
        "text",
        "Sensor (instrument) mode, case-insensitive (IW, EW, SM)",
    ),
    EoParameter(
        "eo:polarisationChannels",
        "polarisationChannels",
        ("sar:polarizations",),
        "array",
        "Polarisations the product must contain (VV VH, HH,HV)",
        aliases=("eo:polarizationChannels", "polarizationChannels"),
        case="upper",
    ),
    EoParameter(
        "eo:antennaLookDirection",
        "antennaLookDirection",
        ("sar:observation_direction",),
        "enum",
        "Antenna look direction",
        options=("left", "right"),
    ),
    EoParameter(
        "eo:cloudCover",
        "cloudCover",
        ("eo:cloud_cover",),
        "range",
        "Cloud cover in percent; a number or a range",
        minimum=0,
        maximum=100,
    ),
    EoParameter(
        "eo:snowCover",
        "snowCover",
        ("eo:snow_cover", "s2:snow_ice_percentage"),
        "range",
        "Snow cover in percent; a number or a range",
        minimum=0,
        maximum=100,
    ),
    EoParameter(
        "eo:processingCenter",
        "processingCenter",
        ("processing:facility",),
        "text",
        "Processing centre, case-insensitive",
    ),
    EoParameter(
        "eo:illuminationAzimuthAngle",
        "illuminationAzimuthAngle",
        ("view:sun_azimuth",),
        "range",
        "Sun azimuth in degrees; a number or a range",
        minimum=0,
        maximum=360,
    ),
    EoParameter(
        "eo:illuminationElevationAngle",
        "illuminationElevationAngle",
        ("view:sun_elevation",),
        "range",
        "Sun elevation in degrees; a number or a range",
        minimum=-90,
        maximum=90,
    ),
    EoParameter(
        "eo:resolution",
        "resolution",
        ("gsd",),
        "range",
        "Ground sample distance in metres; a number or a range",
        minimum=0,
    ),
)


@dataclass(frozen=True, slots=True)
class _Core:
    """A non-EO parameter: qualified name, accepted keys, title."""

    name: str
    keys: tuple[str, ...]
    title: str


_SEARCH_TERMS = _Core(
    "searchTerms",
    ("searchTerms", "q"),
    "Free text (title, description, keywords); comma-separated terms are alternatives",
)
_START_INDEX = _Core("startIndex", ("startIndex",), "1-based index of the first result")
_START_PAGE = _Core("startPage", ("startPage",), "1-based page number (pages of count results)")
_COUNT = _Core("count", ("count",), f"Results per page, 0 to {MAX_LIMIT}")
_BOX = _Core(
    "geo:box",
    ("geo:box", "bbox"),
    "west,south,east,north in degrees (WGS 84); west > east crosses the antimeridian",
)
_GEOMETRY = _Core(
    "geo:geometry",
    ("geo:geometry", "geometry"),
    "WKT geometry in lon/lat (WGS 84), e.g. POINT(15 37.7)",
)
_NAME = _Core(
    "geo:name",
    ("geo:name", "name"),
    "A volcano, place, tectonic plate or named area (gazetteer), e.g. Etna; "
    "with geo:radius (metres) the area is grown by that distance",
)
_UID = _Core("geo:uid", ("geo:uid", "uid"), "Item identifier(s), comma-separated")
_LAT = _Core("geo:lat", ("geo:lat", "lat"), "Latitude of a search point, degrees")
_LON = _Core("geo:lon", ("geo:lon", "lon"), "Longitude of a search point, degrees")
_RADIUS = _Core("geo:radius", ("geo:radius", "radius"), "Search radius around lat/lon, metres")
_GEO_RELATION = _Core(
    "geo:relation",
    ("geo:relation", "relation"),
    "intersects (default), contains (the search area contains the footprint) or disjoint",
)
_TIME_START = _Core(
    "time:start", ("time:start", "start"), "Start of the time window (RFC 3339 or a date)"
)
_TIME_END = _Core(
    "time:end", ("time:end", "end"), "End of the time window (RFC 3339 or a date: the whole day)"
)
_TIME_RELATION = _Core(
    "time:relation",
    ("time:relation", "timeRelation"),
    "intersects (default), during, disjoint or equals",
)

#: the non-EO parameters, in template order, with their local (query key) name
CORE_PARAMETERS: tuple[tuple[str, _Core], ...] = (
    ("q", _SEARCH_TERMS),
    ("startIndex", _START_INDEX),
    ("startPage", _START_PAGE),
    ("count", _COUNT),
    ("bbox", _BOX),
    ("geometry", _GEOMETRY),
    ("name", _NAME),
    ("uid", _UID),
    ("lat", _LAT),
    ("lon", _LON),
    ("radius", _RADIUS),
    ("relation", _GEO_RELATION),
    ("start", _TIME_START),
    ("end", _TIME_END),
    ("timeRelation", _TIME_RELATION),
)

GEO_RELATIONS = ("intersects", "contains", "disjoint")
TIME_RELATIONS = ("intersects", "during", "disjoint", "equals")


# ---------------------------------------------------------------------- the translation


@dataclass(slots=True)
class OpenSearchQuery:
    """A translated OpenSearch request, with what the response must echo back."""

    request: SearchRequest
    #: 1-based index of the first result (``startIndex`` and ``startPage`` combined)
    start_index: int
    count: int
    #: qualified parameter name -> value as given, for ``os:Query`` and the JSON properties
    applied: dict[str, str] = field(default_factory=dict)
    #: parameters given but not used: unknown names, and EO parameters the collection lacks
    ignored: list[str] = field(default_factory=list)


class _Params:
    """The request's parameters, keyed by any accepted spelling; blank means absent.

    OpenSearch clients substitute an empty string for optional template parameters they do not
    use, so ``bbox=&start=`` must read as "no bbox, no start", never as a malformed value.
    """

    def __init__(self, params: Mapping[str, str]) -> None:
        refuse_nul(dict(params))
        long = next((k for k, v in params.items() if len(str(v)) > MAX_PARAM_CHARS), None)
        if long is not None:
            raise InvalidInput(
                f"{long} is longer than {MAX_PARAM_CHARS} characters",
                field=long,
                limit=MAX_PARAM_CHARS,
            )
        self.values = {k: str(v).strip() for k, v in params.items()}
        self.used: set[str] = set()

    def get(self, keys: Sequence[str]) -> tuple[str, str] | None:
        found = [(k, self.values[k]) for k in keys if self.values.get(k)]
        self.used.update(k for k in keys if k in self.values)
        if not found:
            return None
        if len({v for _, v in found}) > 1:
            raise InvalidInput(
                f"{found[0][0]} and {found[1][0]} are the same parameter with different "
                "values; give only one of them",
                field=found[1][0],
            )
        return found[0]

    def unused(self) -> list[str]:
        return [
            k
            for k, v in self.values.items()
            if v and k not in self.used and k not in RESPONSE_PARAMETERS
        ]


def opensearch_to_search(
    collection: str,
    params: Mapping[str, str],
    queryables: Mapping[str, str] | None = None,
) -> SearchRequest:
    """The :class:`SearchRequest` for an OpenSearch request on one collection.

    ``queryables`` (``store.queryable_types([collection])``) decides which EO parameters apply:
    a clause on a property the collection lacks would be refused by the store, but OpenSearch
    clients routinely send e.g. ``cloudCover`` to every collection, so such parameters are
    ignored instead. ``None`` means "unknown": every EO clause is added.
    """
    return parse_opensearch(collection, params, queryables).request


def parse_opensearch(
    collection: str,
    params: Mapping[str, str],
    queryables: Mapping[str, str] | None = None,
    places: Callable[[], Sequence[Entry]] | None = None,
) -> OpenSearchQuery:
    """Like :func:`opensearch_to_search`, also returning the paging and what was applied.

    ``places`` gives the named areas the caller may see, for ``geo:name``."""
    p = _Params(params)
    req = SearchRequest(collections=[collection], count=True)
    applied: dict[str, str] = {}
    ignored: list[str] = []

    def take(core: _Core) -> tuple[str, str] | None:
        got = p.get(core.keys)
        if got is not None:
            applied[core.name] = got[1]
        return got

    # ------------------------------------------------------------ paging
    count = DEFAULT_COUNT
    if (got := take(_COUNT)) is not None:
        count = 0 if got[1] == "0" else parse_limit(got[1], field=got[0])
    start_index = 1
    if (got := take(_START_INDEX)) is not None:
        start_index = _positive_int(*got)
    if (got := take(_START_PAGE)) is not None:
        start_index += (_positive_int(*got) - 1) * count
        if start_index > MAX_OFFSET + 1:
            raise InvalidInput(
                f"{got[0]} × count starts past result {MAX_OFFSET + 1}, the last one a page "
                "may start at",
                field=got[0],
                limit=MAX_OFFSET + 1,
            )
    req.limit = count
    req.offset = start_index - 1

    # ------------------------------------------------------------ text and identifiers
    if (got := take(_SEARCH_TERMS)) is not None:
        req.q = parse_q(got[1], got[0])
    if (got := take(_UID)) is not None:
        req.ids = parse_ids(got[1], got[0])

    # ------------------------------------------------------------ space
    clauses: list[dict[str, Any]] = []
    relation = "intersects"
    if (got := take(_GEO_RELATION)) is not None:
        relation = _choice(got, GEO_RELATIONS)
    bbox: Bbox | None = None
    shapes: list[BaseGeometry] = []
    if (got := take(_BOX)) is not None:
        bbox = parse_bbox(got[1], field=got[0])
    if (got := take(_GEOMETRY)) is not None:
        shapes.append(_parse_wkt(*got))
    lat, lon, radius = take(_LAT), take(_LON), take(_RADIUS)
    if (name := take(_NAME)) is not None:
        grow = None
        if radius is not None and lat is None and lon is None:
            grow, radius = _float_in(radius, 0, 500_000) / 1000, None  # the name's buffer
        extra = places() if places else ()
        shapes.append(place_area(name[1], grow, extra, field=name[0]))
    circle = _point_radius(lat, lon, radius)
    if circle is not None:
        shapes.append(circle)
    if relation == "intersects":
        req.bbox = bbox
        if shapes:
            req.intersects = shapes[0]
        clauses += [_spatial("s_intersects", s) for s in shapes[1:]]
    else:
        op = "s_within" if relation == "contains" else "s_disjoint"
        if bbox is not None:
            shapes.insert(0, _bbox_geometry(bbox))
        clauses += [_spatial(op, s) for s in shapes]

    # ------------------------------------------------------------ time
    time_relation = "intersects"
    if (got := take(_TIME_RELATION)) is not None:
        time_relation = _choice(got, TIME_RELATIONS)
    start = end = None
    start_got, end_got = take(_TIME_START), take(_TIME_END)
    if start_got is not None:
        start = parse_instant(start_got[1], start_got[0])
    if end_got is not None:
        end = parse_instant(end_got[1], end_got[0], end_of_day=True)
    if start_got and end_got and start is not None and end is not None and start > end:
        raise InvalidInput(
            f"{start_got[0]} ({start_got[1]}) is after {end_got[0]} ({end_got[1]})",
            field=end_got[0],
        )
    if start is not None or end is not None:
        if time_relation == "intersects":
            req.datetime = TimeRange(start, end)
        else:
            clauses.append(_time_clause(time_relation, start, end))

    # ------------------------------------------------------------ EO
    for eo in EO_PARAMETERS:
        got = p.get(eo.keys)
        if got is None:
            continue
        key, value = got
        clause_for = _clause_builder(eo, key, value)  # validates even when not applicable
        props = [x for x in eo.properties if queryables is None or x in queryables]
        if not props:
            ignored.append(key)
            continue
        parts = [clause_for(prop) for prop in props]
        clauses.append(parts[0] if len(parts) == 1 else {"op": "or", "args": parts})
        applied[eo.name] = value

    if clauses:
        req.filter = clauses[0] if len(clauses) == 1 else {"op": "and", "args": clauses}
        check_filter_size(req.filter, "parameters")
    ignored += p.unused()
    return OpenSearchQuery(req, start_index, count, applied, ignored)


# ---------------------------------------------------------------------- value parsers


def _positive_int(key: str, value: str) -> int:
    """A 1-based index or page number, at most ``MAX_OFFSET + 1`` (inside 64-bit integers)."""
    try:
        n = int(value)
    except ValueError:
        raise InvalidInput(
            f"{key} must be an integer >= 1; got '{value[:40]}'", field=key
        ) from None
    if n < 1:
        raise InvalidInput(f"{key} is 1-based: it must be >= 1; got {n}", field=key)
    if n > MAX_OFFSET + 1:
        raise InvalidInput(
            f"{key} must be at most {MAX_OFFSET + 1}", field=key, limit=MAX_OFFSET + 1
        )
    return n


def _choice(got: tuple[str, str], allowed: Sequence[str]) -> str:
    key, value = got
    v = value.lower()
    if v not in allowed:
        raise InvalidInput(f"{key} must be one of {', '.join(allowed)}; got '{value}'", field=key)
    return v


def _number(text: str, key: str) -> int | float:
    try:
        n: int | float = int(text)
    except ValueError:
        n = float(text)
    if isinstance(n, float) and not math.isfinite(n):
        raise InvalidInput(f"{key}: {text[:40]} is not a finite number", field=key)
    if isinstance(n, int) and not -(2**63) <= n < 2**63:
        # the databases bind integers in 64 bits; a comparison takes the float as well
        if abs(n) > 10**308:
            raise InvalidInput(f"{key}: {text[:40]}… is not a finite number", field=key)
        n = float(n)
    return n


@dataclass(frozen=True, slots=True)
class NumericRange:
    """A parsed OpenSearch EO numeric value: comparisons to AND, or a set of members."""

    comparisons: tuple[tuple[str, int | float], ...] = ()
    members: tuple[int | float, ...] = ()

    def to_cql2(self, prop: str) -> dict[str, Any]:
        ref = {"property": prop}
        if self.members:
            return {"op": "in", "args": [ref, list(self.members)]}
        parts = [{"op": op, "args": [ref, n]} for op, n in self.comparisons]
        return parts[0] if len(parts) == 1 else {"op": "and", "args": parts}


def parse_range(value: str, key: str) -> NumericRange:
    """OpenSearch EO numeric syntax: ``N``, intervals, half-lines and ``{a,b,c}`` sets.

    ``[`` and ``]`` on the left mean >= and >, on the right <= and <. A reversed interval is
    refused rather than silently matching nothing.
    """
    v = value.strip()
    if _SINGLE.match(v):
        return NumericRange(comparisons=(("=", _number(v, key)),))
    if m := _SET.match(v):
        return NumericRange(members=tuple(_number(x.strip(), key) for x in m.group(1).split(",")))
    if m := _INTERVAL.match(v):
        lo, hi = _number(m.group(2), key), _number(m.group(3), key)
        if lo > hi:
            raise InvalidInput(f"{key}: the range '{value}' is reversed ({lo} > {hi})", field=key)
        return NumericRange(
            comparisons=(
                (">=" if m.group(1) == "[" else ">", lo),
                ("<=" if m.group(4) == "]" else "<", hi),
            )
        )
    if m := _LOWER.match(v):
        return NumericRange(
            comparisons=((">=" if m.group(1) == "[" else ">", _number(m.group(2), key)),)
        )
    if m := _UPPER.match(v):
        return NumericRange(
            comparisons=(("<=" if m.group(2) == "]" else "<", _number(m.group(1), key)),)
        )
    raise InvalidInput(
        f"{key}: '{value}' is not a number or an OpenSearch range; use {_RANGE_HELP}",
        field=key,
    )


def _text_values(value: str) -> list[str]:
    v = value.strip()
    if v.startswith("{") and v.endswith("}"):
        v = v[1:-1]
    return [x.strip() for x in v.split(",") if x.strip()]


def _casei(x: Any) -> dict[str, Any]:
    return {"op": "casei", "args": [x]}


def _clause_builder(eo: EoParameter, key: str, value: str) -> Callable[[str], dict[str, Any]]:
    """Validate ``value`` once, and return a function giving the clause for one property."""
    if eo.kind == "range":
        return parse_range(value, key).to_cql2
    if eo.kind == "array":
        tokens = [t for t in re.split(r"[\s,+/]+", value.strip("{} ")) if t]
        tokens = [t.upper() if eo.case == "upper" else t.lower() for t in tokens]
        if not tokens:
            raise InvalidInput(f"{key} is empty", field=key)
        return lambda prop: {"op": "a_contains", "args": [{"property": prop}, tokens]}
    values = _text_values(value)
    if not values:
        raise InvalidInput(f"{key} is empty", field=key)
    if eo.kind == "enum":
        values = [v.lower() for v in values]
        bad = [v for v in values if v not in eo.options]
        if bad:
            raise InvalidInput(
                f"{key} must be one of {', '.join(eo.options)}; got '{bad[0]}'", field=key
            )

    def texts(prop: str) -> dict[str, Any]:
        ref = _casei({"property": prop})
        if len(values) == 1:
            return {"op": "=", "args": [ref, _casei(values[0])]}
        return {"op": "in", "args": [ref, [_casei(v) for v in values]]}

    return texts


def _parse_wkt(key: str, value: str) -> BaseGeometry:
    # GEOS reads nested collections recursively: measure before it reads
    if text_nesting(value) > MAX_FILTER_DEPTH:
        raise InvalidInput(
            f"{key} is nested more than {MAX_FILTER_DEPTH} levels deep",
            field=key,
            limit=MAX_FILTER_DEPTH,
        )
    if wkt_vertices(value) > MAX_GEOMETRY_VERTICES:
        raise InvalidInput(
            f"{key} has more than {MAX_GEOMETRY_VERTICES} vertices; simplify it",
            field=key,
            limit=MAX_GEOMETRY_VERTICES,
        )
    try:
        geom = shapely.from_wkt(value)
    except Exception as exc:  # shapely raises GEOSException with the parser's reason
        raise InvalidInput(
            f"{key}: not valid WKT ({exc}); give e.g. POLYGON((14 37,16 37,16 38,14 38,14 37)) "
            "in lon/lat",
            field=key,
        ) from None
    if geom is None:
        raise InvalidInput(f"{key}: empty WKT", field=key)
    return check_geometry(geom, key)


_EARTH_RADIUS_M = 6_371_008.8


def _point_radius(
    lat: tuple[str, str] | None, lon: tuple[str, str] | None, radius: tuple[str, str] | None
) -> BaseGeometry | None:
    """The search disc (a 64-gon on the sphere), split at the antimeridian when it crosses it."""
    if lat is None and lon is None:
        if radius is not None:
            raise InvalidInput(f"{radius[0]} needs geo:lat and geo:lon", field=radius[0])
        return None
    if lat is None or lon is None:
        missing = "geo:lat" if lat is None else "geo:lon"
        raise InvalidInput(f"{missing} is missing: lat and lon go together", field=missing)
    la = _float_in(lat, -90, 90)
    lo = _float_in(lon, -180, 180)
    if radius is None:
        return Point(lo, la)
    r = _float_in(radius, 0, math.inf)
    if r <= 0:
        raise InvalidInput(f"{radius[0]} must be > 0 metres", field=radius[0])
    d = r / _EARTH_RADIUS_M
    d_deg = math.degrees(d)
    if la + d_deg >= 90 or la - d_deg <= -90:  # the disc holds a pole: a latitude band
        south, north = max(la - d_deg, -90.0), min(la + d_deg, 90.0)
        return box(-180, south, 180, north)
    phi, lam = math.radians(la), math.radians(lo)
    pts = []
    for k in range(64):
        brg = 2 * math.pi * k / 64
        phi2 = math.asin(math.sin(phi) * math.cos(d) + math.cos(phi) * math.sin(d) * math.cos(brg))
        lam2 = lam + math.atan2(
            math.sin(brg) * math.sin(d) * math.cos(phi),
            math.cos(d) - math.sin(phi) * math.sin(phi2),
        )
        pts.append((math.degrees(lam2), math.degrees(phi2)))
    disc = Polygon(pts)
    minx, _, maxx, _ = disc.bounds
    if minx >= -180 and maxx <= 180:
        return disc
    parts = [disc.intersection(box(-180, -90, 180, 90))]
    if minx < -180:
        parts.append(affinity.translate(disc.intersection(box(-540, -90, -180, 90)), 360))
    if maxx > 180:
        parts.append(affinity.translate(disc.intersection(box(180, -90, 540, 90)), -360))
    polys = [p for p in parts if not p.is_empty and p.area > 0]
    return shapely.MultiPolygon(polys)


def _float_in(got: tuple[str, str], lo: float, hi: float) -> float:
    key, value = got
    try:
        x = float(value)
    except ValueError:
        raise InvalidInput(f"{key} must be a number; got '{value}'", field=key) from None
    if not math.isfinite(x):
        raise InvalidInput(f"{key} must be a finite number; got '{value}'", field=key)
    if not lo <= x <= hi:
        raise InvalidInput(f"{key} must be between {lo} and {hi}; got {value}", field=key)
    return x


def _bbox_geometry(b: Bbox) -> BaseGeometry:
    parts = [box(*p) for p in b.parts()]
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _spatial(op: str, geom: BaseGeometry) -> dict[str, Any]:
    # via GeoJSON text: the store checks rings as JSON lists, which shapely's mapping() is not
    return {"op": op, "args": [{"property": "geometry"}, orjson.loads(shapely.to_geojson(geom))]}


def _time_clause(relation: str, start: Any, end: Any) -> dict[str, Any]:
    """Time relations as comparisons on the item's own interval (inclusive, unlike t_during)."""
    s = {"property": "start_datetime"}
    e = {"property": "end_datetime"}

    def ts(dt: Any) -> dict[str, str]:
        return {"timestamp": format_rfc3339(dt)}

    parts: list[dict[str, Any]] = []
    if relation == "during":
        if start is not None:
            parts.append({"op": ">=", "args": [s, ts(start)]})
        if end is not None:
            parts.append({"op": "<=", "args": [e, ts(end)]})
    elif relation == "equals":
        if start is not None:
            parts.append({"op": "=", "args": [s, ts(start)]})
        if end is not None:
            parts.append({"op": "=", "args": [e, ts(end)]})
    else:  # disjoint
        ors = []
        if start is not None:
            ors.append({"op": "<", "args": [e, ts(start)]})
        if end is not None:
            ors.append({"op": ">", "args": [s, ts(end)]})
        return ors[0] if len(ors) == 1 else {"op": "or", "args": ors}
    return parts[0] if len(parts) == 1 else {"op": "and", "args": parts}


# ---------------------------------------------------------------------- description document


def applicable_eo_parameters(queryables: Mapping[str, str]) -> list[EoParameter]:
    """The EO parameters that query at least one property the collection carries."""
    return [eo for eo in EO_PARAMETERS if any(p in queryables for p in eo.properties)]


def search_template(base_url: str, collection: str, queryables: Mapping[str, str], fmt: str) -> str:
    """The ``Url`` template: every parameter optional, local names as query keys."""
    pairs = [f"{local}={{{core.name}?}}" for local, core in CORE_PARAMETERS]
    pairs += [f"{eo.short}={{{eo.name}?}}" for eo in applicable_eo_parameters(queryables)]
    pairs.append(f"format={fmt}")
    return f"{base_url}/opensearch/{quote(collection, safe='')}/search?" + "&".join(pairs)


def description_document(
    collection: dict[str, Any],
    base_url: str,
    queryables: Mapping[str, str],
) -> str:
    """The OpenSearch 1.1 description document of one collection, as XML text.

    Only the EO parameters the collection can answer are advertised, so a client building a
    form from this document never offers cloud cover on a radar collection. Options and bounds
    come from the collection's ``summaries`` where it has them.
    """

    def os_(tag: str) -> str:
        return f"{{{OS_NS}}}{tag}"

    cid = str(collection["id"])
    title = str(collection.get("title") or cid)
    root = ET.Element(os_("OpenSearchDescription"))
    ET.SubElement(root, os_("ShortName")).text = _clip(title if len(title) <= 16 else cid, 16)
    ET.SubElement(root, os_("LongName")).text = _clip(f"GEP: {title}", 48)
    description = " ".join(str(collection.get("description") or title).split())
    ET.SubElement(root, os_("Description")).text = _clip(description, 1024)
    tags = [str(k).replace(" ", "-") for k in collection.get("keywords") or []]
    ET.SubElement(root, os_("Tags")).text = _clip(" ".join([cid, *tags]), 256)
    contact = _contact(collection)
    if contact:
        ET.SubElement(root, os_("Contact")).text = contact

    summaries = collection.get("summaries") or {}
    for media, fmt in (("application/atom+xml", "atom"), ("application/geo+json", "json")):
        url = ET.SubElement(
            root,
            os_("Url"),
            {
                "type": media,
                "rel": "results",
                "template": search_template(base_url, cid, queryables, fmt),
                "indexOffset": "1",
                "pageOffset": "1",
            },
        )
        _add_parameters(url, queryables, summaries)
    ET.SubElement(
        root,
        os_("Url"),
        {
            "type": "application/opensearchdescription+xml",
            "rel": "self",
            "template": f"{base_url}/opensearch/{quote(cid, safe='')}/description.xml",
        },
    )
    example = {"role": "example", "count": "10"}
    bbox = _extent_bbox(collection)
    if bbox is not None:
        example[f"{{{GEO_NS}}}box"] = ",".join(f"{v:g}" for v in bbox)
    ET.SubElement(root, os_("Query"), example)
    ET.SubElement(root, os_("Developer")).text = "GEP, the open Geohazards Exploitation Platform"
    attribution = _attribution(collection)
    if attribution:
        ET.SubElement(root, os_("Attribution")).text = _clip(attribution, 256)
    ET.SubElement(root, os_("SyndicationRight")).text = "open"
    ET.SubElement(root, os_("AdultContent")).text = "false"
    ET.SubElement(root, os_("Language")).text = "en"
    ET.SubElement(root, os_("InputEncoding")).text = "UTF-8"
    ET.SubElement(root, os_("OutputEncoding")).text = "UTF-8"
    return to_xml(root, NAMESPACES, default=OS_NS)


_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$"
_CORE_CONSTRAINTS: dict[str, dict[str, str]] = {
    "startIndex": {"minInclusive": "1"},
    "startPage": {"minInclusive": "1"},
    "count": {"minInclusive": "0", "maxInclusive": str(MAX_LIMIT)},
    "geo:box": {"pattern": r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$"},
    "geo:lat": {"minInclusive": "-90", "maxInclusive": "90"},
    "geo:lon": {"minInclusive": "-180", "maxInclusive": "180"},
    "geo:radius": {"minExclusive": "0"},
    "time:start": {"pattern": _TIME_PATTERN},
    "time:end": {"pattern": _TIME_PATTERN},
}
_CORE_OPTIONS = {"geo:relation": GEO_RELATIONS, "time:relation": TIME_RELATIONS}


def _add_parameters(
    url: ET.Element, queryables: Mapping[str, str], summaries: Mapping[str, Any]
) -> None:
    tag = f"{{{PARAMETERS_NS}}}Parameter"
    opt_tag = f"{{{PARAMETERS_NS}}}Option"
    for local, core in CORE_PARAMETERS:
        attrs = {"name": local, "value": f"{{{core.name}}}", "title": core.title, "minimum": "0"}
        attrs.update(_CORE_CONSTRAINTS.get(core.name, {}))
        el = ET.SubElement(url, tag, attrs)
        for opt in _CORE_OPTIONS.get(core.name, ()):
            ET.SubElement(el, opt_tag, {"value": opt, "label": opt})
    for eo in applicable_eo_parameters(queryables):
        attrs = {"name": eo.short, "value": f"{{{eo.name}}}", "title": eo.title, "minimum": "0"}
        options: list[str] = list(eo.options)
        if eo.kind == "range":
            # the valid bounds, not the summaries' data range: [0,20] must stay a valid query
            attrs["pattern"] = RANGE_PATTERN
            if eo.minimum is not None:
                attrs["minInclusive"] = f"{eo.minimum:g}"
            if eo.maximum is not None:
                attrs["maxInclusive"] = f"{eo.maximum:g}"
        elif not options:
            # the values the collection holds, over every property the parameter queries
            seen: set[str] = set()
            for prop in eo.properties:
                summary = summaries.get(prop)
                if isinstance(summary, list):
                    seen.update(str(v) for v in summary if isinstance(v, str))
            options = sorted(seen)
        el = ET.SubElement(url, tag, attrs)
        for opt in options:
            ET.SubElement(el, opt_tag, {"value": opt, "label": opt})


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _contact(collection: Mapping[str, Any]) -> str | None:
    """An e-mail address only where the collection gives one: never an invented address."""
    direct = collection.get("gep:contact")
    if isinstance(direct, str) and "@" in direct:
        return direct
    for prov in collection.get("providers") or []:
        if isinstance(prov, dict) and isinstance(prov.get("email"), str) and "@" in prov["email"]:
            return str(prov["email"])
    return None


def _attribution(collection: Mapping[str, Any]) -> str | None:
    notes = [
        str(p.get("description") or p.get("name"))
        for p in collection.get("providers") or []
        if isinstance(p, dict)
        and ("licensor" in (p.get("roles") or []) or "producer" in (p.get("roles") or []))
    ]
    if not notes and collection.get("license"):
        return f"Licence: {collection['license']}"
    return "; ".join(dict.fromkeys(notes)) or None


def _extent_bbox(collection: Mapping[str, Any]) -> list[float] | None:
    try:
        b = collection["extent"]["spatial"]["bbox"][0]
        vals = [float(v) for v in (b if len(b) == 4 else (b[0], b[1], b[3], b[4]))]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return None if vals == [-180.0, -90.0, 180.0, 90.0] else vals


# ---------------------------------------------------------------------- XML output

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def to_xml(root: ET.Element, namespaces: Mapping[str, str], default: str | None = None) -> str:
    """Serialise an ElementTree with chosen prefixes and a default namespace.

    ElementTree's own writer takes prefixes from a process-wide registry and refuses a default
    namespace when attributes are unqualified, which every OpenSearch and Atom attribute is; the
    documents must also stay well-formed whatever control characters the metadata carries.
    """
    prefixes = {uri: prefix for prefix, uri in namespaces.items()}

    def qname(name: str, attribute: bool) -> str:
        if not name.startswith("{"):
            return name
        uri, local = name[1:].split("}", 1)
        if uri == default and not attribute:
            return local
        return f"{prefixes[uri]}:{local}"

    def clean(text: str) -> str:
        return _XML_ILLEGAL.sub("", text)

    out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']

    def write(el: ET.Element, depth: int) -> None:
        pad = "  " * depth
        attrs = ""
        if depth == 0:
            if default is not None:
                attrs += f" xmlns={quoteattr(default)}"
            for prefix, uri in namespaces.items():
                attrs += f" xmlns:{prefix}={quoteattr(uri)}"
        for k, v in el.attrib.items():
            attrs += f" {qname(k, True)}={quoteattr(clean(str(v)))}"
        tag = qname(str(el.tag), False)
        children = list(el)
        text = clean(el.text) if el.text else ""
        if not children and not text:
            out.append(f"{pad}<{tag}{attrs}/>\n")
            return
        if not children:
            out.append(f"{pad}<{tag}{attrs}>{escape(text)}</{tag}>\n")
            return
        out.append(f"{pad}<{tag}{attrs}>{escape(text)}\n")
        for child in children:
            write(child, depth + 1)
        out.append(f"{pad}</{tag}>\n")

    write(root, 0)
    return "".join(out)
