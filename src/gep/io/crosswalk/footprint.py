"""The one footprint normaliser: a record's geometry → the GeoJSON and bbox an item stores.

Why one: a product seen through ASF, CMR, OData and OpenSearch must get the same geometry, and
the catalogue must never be handed a footprint it refuses or one that matches every search at
its latitude. The rules, in order:

1. Empty footprints and non-finite coordinates are refused.
2. An invalid polygon (self-intersecting, as archives' bow-tie footprints are) is repaired with
   shapely's ``make_valid``, its polygonal parts kept.
3. The antimeridian rule: a polygonal footprint spanning more than 180° of longitude is read as
   crossing the antimeridian unsplit (no product is that wide; RFC 7946 §3.1.9): its western
   longitudes move east by 360° and it is split at 180°, its bbox then having west > east.
4. A footprint wider than the archive's products can be (``max_width_km``, measured at its
   latitude nearest the equator) however it is read is a broken record (CMR and OData hold
   bogus "splits" running from near Greenwich to 180°) and is refused.
5. The result passes exactly the checks the catalogue will make (:func:`parse_geojson_geometry`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry
from shapely.validation import make_valid

from gep.core.errors import InvalidInput
from gep.core.geometry import parse_geojson_geometry

#: about 111.32 km to a degree of longitude at the equator
_KM_PER_DEGREE = 111.32


def normalise_footprint(
    geom: BaseGeometry, *, max_width_km: float
) -> tuple[dict[str, Any], list[float]]:
    """(GeoJSON geometry, bbox) of a footprint (see the module docstring); ValueError when it
    cannot be one."""
    if geom.is_empty:
        raise ValueError("empty footprint")
    if not all(math.isfinite(v) for v in geom.bounds):
        raise ValueError("footprint has non-finite coordinates")
    polygonal = isinstance(geom, Polygon | MultiPolygon)
    if polygonal and not geom.is_valid:
        parts = polygons(make_valid(geom))
        if not parts:
            raise ValueError(f"footprint is invalid ({shapely.is_valid_reason(geom)})")
        geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    west, south, east, north = (float(v) for v in geom.bounds)
    bbox = [west, south, east, north]
    read = geom
    if polygonal and east - west > 180.0:
        read = shapely.transform(geom, _east_of_180)
    if width_km(*read.bounds) > max_width_km:
        raise ValueError(
            f"footprint spans {east - west:.1f} degrees of longitude (over {max_width_km:.0f} km) "
            "however it is read; the record's geometry is broken"
        )
    if read is not geom:
        eastern = read.intersection(box(-180.0, -90.0, 180.0, 90.0))
        western = shapely.transform(read.intersection(box(180.0, -90.0, 540.0, 90.0)), _back_west)
        parts = [p for g in (eastern, western) for p in polygons(g)]
        geom = MultiPolygon(parts) if len(parts) > 1 else parts[0]
        bbox = [float(eastern.bounds[0]), south, float(western.bounds[2]), north]
    geojson = json_lists(mapping(geom))
    try:
        parse_geojson_geometry(geojson, "geometry")  # exactly what the catalogue will check
    except InvalidInput as exc:
        raise ValueError(exc.message) from None
    return geojson, bbox


def width_km(west: float, south: float, east: float, north: float) -> float:
    """East-west extent in km at the bbox's latitude nearest the equator (an upper bound)."""
    lat = 0.0 if south <= 0.0 <= north else min(abs(south), abs(north))
    return (east - west) * math.cos(math.radians(lat)) * _KM_PER_DEGREE


def polygons(geom: BaseGeometry) -> list[Polygon]:
    """The non-empty polygons in any geometry (make_valid can return collections)."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon | GeometryCollection):
        return [p for g in geom.geoms for p in polygons(g)]
    return []


def json_lists(value: Any) -> Any:
    """Tuples (as shapely returns them) to lists, recursively, for plain JSON."""
    if isinstance(value, tuple | list):
        return [json_lists(v) for v in value]
    if isinstance(value, Mapping):
        return {k: json_lists(v) for k, v in value.items()}
    return value


def _east_of_180(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    """Longitudes below 0 moved by +360, so a footprint across 180° is contiguous."""
    out = xy.copy()
    out[:, 0] = np.where(out[:, 0] < 0.0, out[:, 0] + 360.0, out[:, 0])
    return out


def _back_west(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    out = xy.copy()
    out[:, 0] = out[:, 0] - 360.0
    return out
