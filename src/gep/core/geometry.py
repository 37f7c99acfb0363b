"""GeoJSON geometry checks shared by the catalogue, the gateway and the processes.

Invalid geometries are refused with the reason shapely gives (self-intersection at a point,
unclosed ring...), because a silently "fixed" AOI would return results the user did not ask for.
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from gep.core.errors import InvalidInput

GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


def _check_rings(geom: dict[str, Any], field: str) -> None:
    gtype = geom.get("type")
    coords = geom.get("coordinates")
    polys: list[Any] = []
    if gtype == "Polygon":
        polys = [coords]
    elif gtype == "MultiPolygon":
        polys = list(coords or [])
    for poly in polys:
        if not isinstance(poly, list):
            raise InvalidInput(f"{field}: polygon coordinates must be a list of rings", field=field)
        for ring in poly:
            if not isinstance(ring, list) or len(ring) < 4:
                raise InvalidInput(
                    f"{field}: a polygon ring needs at least 4 positions (closed)", field=field
                )
            if list(ring[0]) != list(ring[-1]):
                raise InvalidInput(
                    f"{field}: polygon ring is not closed: first position {ring[0]} differs from "
                    f"last {ring[-1]}",
                    field=field,
                )


def parse_geojson_geometry(geom: Any, field: str = "intersects") -> BaseGeometry:
    """Validate a GeoJSON geometry object and return it as a shapely geometry."""
    if not isinstance(geom, dict):
        raise InvalidInput(f"{field} must be a GeoJSON geometry object", field=field)
    gtype = geom.get("type")
    if gtype not in GEOMETRY_TYPES:
        raise InvalidInput(
            f"{field}: type '{gtype}' is not a GeoJSON geometry type; use one of "
            + ", ".join(sorted(GEOMETRY_TYPES)),
            field=field,
        )
    if gtype == "GeometryCollection":
        if not isinstance(geom.get("geometries"), list):
            raise InvalidInput(f"{field}: a GeometryCollection needs 'geometries'", field=field)
        for i, g in enumerate(geom["geometries"]):
            parse_geojson_geometry(g, f"{field}.geometries[{i}]")
    elif "coordinates" not in geom:
        raise InvalidInput(f"{field}: missing 'coordinates'", field=field)
    else:
        _check_rings(geom, field)
    try:
        import orjson

        shape = shapely.from_geojson(orjson.dumps(geom))
    except Exception as exc:  # shapely raises GEOSException with the parser's reason
        raise InvalidInput(f"{field}: not valid GeoJSON geometry ({exc})", field=field) from None
    return check_geometry(shape, field)


def check_geometry(shape: BaseGeometry, field: str) -> BaseGeometry:
    """Refuse empty, out-of-range or invalid (self-intersecting) geometries."""
    if shape.is_empty:
        raise InvalidInput(f"{field}: geometry is empty", field=field)
    minx, miny, maxx, maxy = shape.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InvalidInput(
            f"{field}: coordinates must be longitude in [-180, 180] and latitude in [-90, 90] "
            f"(WGS 84, lon/lat order); bounds are {list(shape.bounds)}",
            field=field,
        )
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise InvalidInput(f"{field}: invalid geometry: {reason}", field=field)
    return shape


def parse_area(value: Any, field: str = "aoi") -> BaseGeometry:
    """An area of interest given as a bbox ([w, s, e, n] or "w,s,e,n") or a GeoJSON geometry.

    Boxes across the antimeridian are refused: the SAR geometry and footprint overlaps work
    in plain longitude.
    """
    from shapely.geometry import box

    from gep.core.bbox import parse_bbox

    if value is None:
        raise InvalidInput(
            f"{field} is required: [west, south, east, north] or a GeoJSON geometry", field=field
        )
    if isinstance(value, list | str):
        b = parse_bbox(value, field=field)
        if b.crosses_antimeridian:
            raise InvalidInput(
                f"{field}: an area across the antimeridian is not supported", field=field
            )
        return box(b.west, b.south, b.east, b.north)
    return parse_geojson_geometry(value, field=field)
