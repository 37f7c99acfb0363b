"""OpenSearch request parameters → :class:`OpenSearchQuery` (a :class:`SearchRequest` and the
paging and echo an OpenSearch response needs).

Blank parameters read as absent, spelling variants as one parameter, EO parameters the
collection cannot answer are ignored rather than refused; every value is parsed and bounded here,
before any SQL, exactly as the STAC API's parameters are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import shapely
from shapely import affinity
from shapely.geometry import Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from gep.catalog.bounds import text_nesting, wkt_vertices
from gep.catalog.opensearch.parameters import (
    BOX,
    COUNT,
    DEFAULT_COUNT,
    EO_PARAMETERS,
    GEO_RELATION,
    GEO_RELATIONS,
    GEOMETRY,
    LAT,
    LON,
    NAME,
    RADIUS,
    RESPONSE_PARAMETERS,
    SEARCH_TERMS,
    START_INDEX,
    START_PAGE,
    TIME_END,
    TIME_RELATION,
    TIME_RELATIONS,
    TIME_START,
    UID,
    CoreParameter,
    EoParameter,
)
from gep.catalog.search import (
    MAX_FILTER_DEPTH,
    MAX_GEOMETRY_VERTICES,
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

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_INTERVAL = re.compile(rf"^([\[\]])\s*({_NUM})\s*,\s*({_NUM})\s*([\[\]])$")
_LOWER = re.compile(rf"^([\[\]])\s*({_NUM})$")
_UPPER = re.compile(rf"^({_NUM})\s*([\[\]])$")
_SET = re.compile(rf"^\{{\s*({_NUM}(?:\s*,\s*{_NUM})*)\s*\}}$")
_SINGLE = re.compile(rf"^{_NUM}$")
_RANGE_HELP = "N, [a,b], ]a,b[, [a,b[, ]a,b], [a (>= a), ]a (> a), a] (<= a), a[ (< a) or {a,b,c}"


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

    def take(core: CoreParameter) -> tuple[str, str] | None:
        got = p.get(core.keys)
        if got is not None:
            applied[core.name] = got[1]
        return got

    # ------------------------------------------------------------ paging
    count = DEFAULT_COUNT
    if (got := take(COUNT)) is not None:
        count = 0 if got[1] == "0" else parse_limit(got[1], field=got[0])
    start_index = 1
    if (got := take(START_INDEX)) is not None:
        start_index = _positive_int(*got)
    if (got := take(START_PAGE)) is not None:
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
    if (got := take(SEARCH_TERMS)) is not None:
        req.q = parse_q(got[1], got[0])
    if (got := take(UID)) is not None:
        req.ids = parse_ids(got[1], got[0])

    # ------------------------------------------------------------ space
    clauses: list[dict[str, Any]] = []
    relation = "intersects"
    if (got := take(GEO_RELATION)) is not None:
        relation = _choice(got, GEO_RELATIONS)
    bbox: Bbox | None = None
    shapes: list[BaseGeometry] = []
    if (got := take(BOX)) is not None:
        bbox = parse_bbox(got[1], field=got[0])
    if (got := take(GEOMETRY)) is not None:
        shapes.append(_parse_wkt(*got))
    lat, lon, radius = take(LAT), take(LON), take(RADIUS)
    if (name := take(NAME)) is not None:
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
    if (got := take(TIME_RELATION)) is not None:
        time_relation = _choice(got, TIME_RELATIONS)
    start = end = None
    start_got, end_got = take(TIME_START), take(TIME_END)
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
