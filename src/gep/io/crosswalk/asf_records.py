"""ASF's records as they come: response files, ``jsonlite`` results and CMR UMM-G granules.

Why apart from the mapping (:mod:`gep.io.crosswalk.asf`): ASF answers in three shapes (its
GeoJSON, its ``output=jsonlite`` and, through CMR, UMM-G granules) and the mapping reads one,
ASF's GeoJSON record (``properties``, ``geometry``, and ``baseline``/``umm`` when present). This
module turns the other two into it, and reads recorded answers from files. It also holds the
readings of ASF's loose values (numbers as strings, UMM additional attributes) both need.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import shapely
import yaml
from shapely.errors import ShapelyError
from shapely.geometry import mapping

from gep.io.crosswalk.footprint import json_lists
from gep.io.crosswalk.values import clean

_Json = dict[str, Any]


def load_asf_records(path: str | os.PathLike[str]) -> list[_Json]:
    """Read one ASF search or stack response file and return its records.

    The files are YAML or JSON (JSON5-style trailing commas included; YAML reads both).
    A file may hold a single Feature, a FeatureCollection or a bare list of Features;
    callers always get a list, so one loop handles them all.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=loader)  # a safe loader: CSafeLoader or SafeLoader
    if isinstance(data, Mapping) and isinstance(data.get("features"), list):
        records = list(data["features"])
    elif isinstance(data, Mapping):
        records = [data]
    elif isinstance(data, list):
        records = data
    else:
        raise ValueError(
            f"{os.fspath(path)}: expected a Feature, a FeatureCollection or a "
            f"list of Features, got {type(data).__name__}"
        )
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping) or not isinstance(rec.get("properties"), Mapping):
            raise ValueError(
                f"{os.fspath(path)}: record {i} has no 'properties' object; "
                "expected an ASF GeoJSON Feature"
            )
    return [dict(rec) for rec in records]


def asf_feature_from_umm(record: Mapping[str, Any]) -> _Json:
    """An ASF record (``properties`` + ``geometry``, the UMM kept) from a CMR UMM-G granule.

    Why: CMR's ``granules.umm_json`` is the catalogue behind ASF's search, and the only public
    answer that carries the orbit state vectors (``SV_*`` attributes) interferometric search
    needs; ASF's own GeoJSON leaves them out. ``record`` is one element of CMR's ``items``
    (``{"meta": …, "umm": …}``). The properties are the ones ASF's search writes for the same
    granule (scene name, path, frame, orbit, URLs, times, …), so :func:`asf_to_stac_item` maps
    both the same way; fields the UMM lacks are simply absent. ValueError when the granule has
    no ``GranuleUR``.
    """
    umm = record.get("umm")
    if not isinstance(umm, Mapping) or not clean(umm.get("GranuleUR")):
        raise ValueError("CMR record has no umm.GranuleUR")
    attrs = umm_attributes(record)
    granule_ur = str(umm["GranuleUR"])
    ptype = umm_attr(attrs, "PROCESSING_TYPE")
    producer = next(
        (
            i.get("Identifier")
            for i in (umm.get("DataGranule") or {}).get("Identifiers") or []
            if isinstance(i, Mapping) and i.get("IdentifierType") == "ProducerGranuleId"
        ),
        None,
    )
    scene = granule_ur if str(ptype).upper() == "BURST" else str(producer or granule_ur)
    rng = (umm.get("TemporalExtent") or {}).get("RangeDateTime") or {}
    orbits = [
        o["OrbitNumber"]
        for o in umm.get("OrbitCalculatedSpatialDomains") or []
        if isinstance(o, Mapping) and o.get("OrbitNumber") is not None
    ]
    urls = [u for u in umm.get("RelatedUrls") or [] if isinstance(u, Mapping) and u.get("URL")]

    def http(*types: str) -> list[str]:
        found: list[str] = []
        for u in urls:
            href = str(u["URL"])
            if u.get("Type") in types and href.startswith("http") and href not in found:
                found.append(href)
        return found

    data = http("GET DATA") or http("USE SERVICE API")
    extra = data[1:] + [u for u in http("EXTENDED METADATA") if not u.endswith(".md5")]
    platforms = umm.get("Platforms") or []
    props: _Json = {
        "sceneName": scene,
        "fileID": granule_ur,
        "platform": umm_attr(attrs, "ASF_PLATFORM")
        or (platforms[0].get("ShortName") if platforms else None),
        "processingLevel": ptype,
        "startTime": rng.get("BeginningDateTime"),
        "stopTime": rng.get("EndingDateTime"),
        "pathNumber": as_int(umm_attr(attrs, "PATH_NUMBER")),
        "frameNumber": as_int(umm_attr(attrs, "FRAME_NUMBER", "CENTER_ESA_FRAME")),
        "orbit": orbits[0] if len(orbits) == 1 else (orbits or None),
        "flightDirection": umm_attr(attrs, "ASCENDING_DESCENDING"),
        "beamModeType": umm_attr(attrs, "BEAM_MODE_TYPE", "BEAM_MODE"),
        "polarization": [v for v in attrs.get("POLARIZATION", []) if clean(v)] or None,
        "url": data[0] if data else None,
        "additionalUrls": extra,
        "browse": http("GET RELATED VISUALIZATION") or None,
        "bytes": as_int(umm_attr(attrs, "BYTES")),
        "md5sum": umm_attr(attrs, "MD5SUM"),
        "fileName": data[0].rsplit("/", 1)[-1] if data else None,
        "groupID": umm_attr(attrs, "GROUP_ID"),
        "offNadirAngle": as_num(umm_attr(attrs, "OFF_NADIR_ANGLE")),
        "processingDate": (umm.get("DataGranule") or {}).get("ProductionDateTime"),
    }
    polygons = ((umm.get("SpatialExtent") or {}).get("HorizontalSpatialDomain") or {}).get(
        "Geometry"
    ) or {}
    points = ((polygons.get("GPolygons") or [{}])[0].get("Boundary") or {}).get("Points") or []
    geometry = (
        {
            "type": "Polygon",
            "coordinates": [[[p["Longitude"], p["Latitude"]] for p in points]],
        }
        if points
        else None
    )
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {k: v for k, v in props.items() if v is not None},
        "umm": umm,
        "meta": dict(record.get("meta") or {}),
    }


#: ASF jsonlite key -> the property name of ASF's GeoJSON (what :func:`asf_to_stac_item` reads)
_JSONLITE = {
    "granuleName": "sceneName",
    "productID": "fileID",
    "dataset": "platform",
    "productType": "processingLevel",
    "beamMode": "beamModeType",
    "flightDirection": "flightDirection",
    "path": "pathNumber",
    "frame": "frameNumber",
    "polarization": "polarization",
    "startTime": "startTime",
    "stopTime": "stopTime",
    "downloadUrl": "url",
    "fileName": "fileName",
    "groupID": "groupID",
    "offNadirAngle": "offNadirAngle",
    "pgeVersion": "pgeVersion",
    "burst": "burst",
}


def asf_feature_from_jsonlite(result: Mapping[str, Any]) -> _Json:
    """An ASF record from one ``results`` entry of ASF's ``output=jsonlite`` answer.

    jsonlite names the same fields differently (``granuleName``, ``path``, ``frame``, a WKT
    footprint, the orbit as a list of strings); this renames them to ASF's GeoJSON names so
    one mapping serves both. ValueError when the footprint WKT is unreadable.
    """
    props: _Json = {new: result[old] for old, new in _JSONLITE.items() if old in result}
    orbit = result.get("orbit")
    if isinstance(orbit, list):
        orbit = orbit[0] if len(orbit) == 1 else orbit
    props["orbit"] = as_int(orbit) if not isinstance(orbit, list) else [as_int(o) for o in orbit]
    opera = result.get("opera")
    if isinstance(opera, Mapping):
        props["operaBurstID"] = opera.get("operaBurstID")
        props["additionalUrls"] = opera.get("additionalUrls")
        if opera.get("validityStartDate"):
            props["validityStartDate"] = opera["validityStartDate"]
    if clean(result.get("thumb")):
        props["browse"] = [result["thumb"]]
    geometry = None
    text = clean(result.get("wkt"))
    if text is not None:
        try:
            geometry = json_lists(mapping(shapely.from_wkt(str(text))))
        except ShapelyError as exc:
            raise ValueError(f"jsonlite wkt {str(text)[:60]!r} is not readable ({exc})") from None
    return {"type": "Feature", "geometry": geometry, "properties": props}


# --------------------------------------------------------------------------- values


def as_num(value: Any) -> int | float | None:
    """A number from an int, float or numeric string; None when absent."""
    value = clean(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        f = float(str(value))
    except ValueError:
        return None
    return int(f) if f.is_integer() and "." not in str(value) else f


def as_int(value: Any) -> int | None:
    """An int from an int or integral string (frame numbers come as both)."""
    n = as_num(value)
    return int(n) if n is not None and float(n).is_integer() else None


def umm_attributes(feature: Mapping[str, Any]) -> dict[str, list[Any]]:
    """UMM AdditionalAttributes as {name: values}."""
    umm = feature.get("umm") or {}
    out: dict[str, list[Any]] = {}
    for attr in umm.get("AdditionalAttributes") or []:
        if isinstance(attr, Mapping) and attr.get("Name"):
            out[str(attr["Name"])] = list(attr.get("Values") or [])
    return out


def umm_attr(attrs: Mapping[str, list[Any]], *names: str) -> Any:
    """First non-null value of the first UMM attribute that has one."""
    for name in names:
        for value in attrs.get(name, []):
            if clean(value) is not None:
                return value
    return None
