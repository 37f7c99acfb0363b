"""The OpenSearch parameter table: namespaces, the core (OpenSearch, Geo, Time) parameters and
the EO parameters with the STAC properties each queries.

One table, read by :mod:`.translate` (which keys a request may use and what they mean) and by
:mod:`.description` (what a collection advertises), so a parameter cannot be accepted without
being described, or described without being accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gep.catalog.search import MAX_LIMIT

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

#: the range syntax, advertised as the ``pattern`` of numeric parameters
RANGE_PATTERN = r"^(\[|\])?-?[0-9.]+(,-?[0-9.]+)?(\[|\])?$|^\{-?[0-9.]+(,-?[0-9.]+)*\}$"


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
class CoreParameter:
    """A non-EO parameter: qualified name, accepted keys, title."""

    name: str
    keys: tuple[str, ...]
    title: str


SEARCH_TERMS = CoreParameter(
    "searchTerms",
    ("searchTerms", "q"),
    "Free text (title, description, keywords); comma-separated terms are alternatives",
)
START_INDEX = CoreParameter("startIndex", ("startIndex",), "1-based index of the first result")
START_PAGE = CoreParameter(
    "startPage", ("startPage",), "1-based page number (pages of count results)"
)
COUNT = CoreParameter("count", ("count",), f"Results per page, 0 to {MAX_LIMIT}")
BOX = CoreParameter(
    "geo:box",
    ("geo:box", "bbox"),
    "west,south,east,north in degrees (WGS 84); west > east crosses the antimeridian",
)
GEOMETRY = CoreParameter(
    "geo:geometry",
    ("geo:geometry", "geometry"),
    "WKT geometry in lon/lat (WGS 84), e.g. POINT(15 37.7)",
)
NAME = CoreParameter(
    "geo:name",
    ("geo:name", "name"),
    "A volcano, place, tectonic plate or named area (gazetteer), e.g. Etna; "
    "with geo:radius (metres) the area is grown by that distance",
)
UID = CoreParameter("geo:uid", ("geo:uid", "uid"), "Item identifier(s), comma-separated")
LAT = CoreParameter("geo:lat", ("geo:lat", "lat"), "Latitude of a search point, degrees")
LON = CoreParameter("geo:lon", ("geo:lon", "lon"), "Longitude of a search point, degrees")
RADIUS = CoreParameter(
    "geo:radius", ("geo:radius", "radius"), "Search radius around lat/lon, metres"
)
GEO_RELATION = CoreParameter(
    "geo:relation",
    ("geo:relation", "relation"),
    "intersects (default), contains (the search area contains the footprint) or disjoint",
)
TIME_START = CoreParameter(
    "time:start", ("time:start", "start"), "Start of the time window (RFC 3339 or a date)"
)
TIME_END = CoreParameter(
    "time:end", ("time:end", "end"), "End of the time window (RFC 3339 or a date: the whole day)"
)
TIME_RELATION = CoreParameter(
    "time:relation",
    ("time:relation", "timeRelation"),
    "intersects (default), during, disjoint or equals",
)

#: the non-EO parameters, in template order, with their local (query key) name
CORE_PARAMETERS: tuple[tuple[str, CoreParameter], ...] = (
    ("q", SEARCH_TERMS),
    ("startIndex", START_INDEX),
    ("startPage", START_PAGE),
    ("count", COUNT),
    ("bbox", BOX),
    ("geometry", GEOMETRY),
    ("name", NAME),
    ("uid", UID),
    ("lat", LAT),
    ("lon", LON),
    ("radius", RADIUS),
    ("relation", GEO_RELATION),
    ("start", TIME_START),
    ("end", TIME_END),
    ("timeRelation", TIME_RELATION),
)

GEO_RELATIONS = ("intersects", "contains", "disjoint")
TIME_RELATIONS = ("intersects", "during", "disjoint", "equals")
