"""Uploaded vectors (GeoJSON, KML, KMZ, zipped Shapefile, GeoPackage): read with pyogrio,
served back as one GeoJSON in WGS84, the original kept beside it.

Every layer is read (a KML's folders, a GeoPackage's tables, a zip's shapefiles) and
reprojected to longitude/latitude, so that every client reads the same GeoJSON whatever was
uploaded; the footprint is the convex hull of all the features. A layer whose coordinate
system cannot be read (a shapefile without its ``.prj``, or with one GDAL cannot parse) is
refused rather than guessed: a wrong guess would put the footprint somewhere else on Earth.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyogrio
import pyogrio.raw
import shapely
from pyogrio.errors import CRSError
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform
from shapely.geometry import mapping

from gep.core import media
from gep.gateway.uploads.model import (
    Catalogued,
    DatetimeSource,
    StagedFile,
    UploadKind,
    parse_time,
    refuse,
    safe_name,
    timestamp_properties,
)
from gep.gateway.uploads.raster import TRANSFORM_ERRORS

#: the media type of each kind's original, kept as the asset ``source``
SOURCE_TYPES = {
    UploadKind.GEOJSON: media.GEOJSON,
    UploadKind.KML: "application/vnd.google-earth.kml+xml",
    UploadKind.KMZ: media.KMZ,
    UploadKind.SHAPEFILE: "application/zip",
    UploadKind.GEOPACKAGE: "application/geopackage+sqlite3",
}
#: attribute names that obviously hold the time of a feature (compared lower-case)
TIME_FIELDS = (
    "datetime",
    "timestamp",
    "time",
    "date",
    "begin",
    "start",
    "start_time",
    "end",
    "end_time",
    "acquired",
    "acquisition_date",
)
_WGS84_CODES = {4326}


@dataclass(frozen=True)
class _Layer:
    name: str
    geometries: Any  # numpy array of shapely geometries, WGS84
    fields: list[str]
    columns: list[Any]


def catalogue_vector(
    path: Path, filename: str, kind: UploadKind, workdir: Path, now: datetime
) -> Catalogued:
    """The item's metadata, the GeoJSON to serve (asset ``data``) and the original
    (asset ``source``)."""
    layers = list(_read_layers(path, filename, kind))
    geoms = [g for layer in layers for g in layer.geometries if g is not None and not g.is_empty]
    if not geoms:
        raise refuse(filename, "it holds no feature with a geometry, so it has no footprint")
    hull = shapely.force_2d(shapely.convex_hull(shapely.GeometryCollection(geoms)))
    w, s, e, n = hull.bounds
    if not all(math.isfinite(v) for v in (w, s, e, n)) or not (
        -180.0 <= w <= e <= 180.0 and -90.0 <= s <= n <= 90.0
    ):
        raise refuse(
            filename,
            "its coordinates are outside the Earth once read as longitude/latitude: its "
            "coordinate system is missing or wrong",
        )
    first, last = _time_span(layers)
    source_name = safe_name(filename, f"source.{kind.value}")
    stem = source_name.rsplit(".", 1)[0] if "." in source_name else source_name
    data_name = f"{stem}.geojson" if f"{stem}.geojson" != source_name else f"{stem}-wgs84.geojson"
    data = workdir / "features.geojson"
    count = _write_geojson(layers, data)
    props: dict[str, Any] = {
        "gep:feature_count": count,
        "gep:layers": [layer.name for layer in layers],
        **timestamp_properties(first, last, DatetimeSource.FEATURE_FIELD, now),
    }
    return Catalogued(
        kind=kind,
        geometry=mapping(hull),
        bbox=[w, s, e, n],
        properties=props,
        files=[
            StagedFile(
                data,
                data_name,
                "data",
                media.GEOJSON,
                ("data",),
                "The features as GeoJSON (WGS84)",
            ),
            StagedFile(
                path, source_name, "source", SOURCE_TYPES[kind], ("source",), "The uploaded file"
            ),
        ],
    )


def _datasets(path: Path, filename: str, kind: UploadKind) -> list[str]:
    """What GDAL opens: the file itself, or its members inside the zip (read in place)."""
    if kind in (UploadKind.SHAPEFILE, UploadKind.KMZ):
        suffix = ".shp" if kind is UploadKind.SHAPEFILE else ".kml"
        with zipfile.ZipFile(path) as zf:
            members = sorted(n for n in zf.namelist() if n.lower().endswith(suffix))
        return [f"/vsizip/{path}/{m}" for m in members]
    return [str(path)]


def _read_layers(path: Path, filename: str, kind: UploadKind) -> Iterator[_Layer]:
    for dataset in _datasets(path, filename, kind):
        where = dataset.removeprefix(f"/vsizip/{path}/")
        try:
            listed = pyogrio.list_layers(dataset)
        except (RuntimeError, ValueError, OSError) as exc:
            raise refuse(
                filename, f"not readable as {kind.described} ({_gdal(exc, path)})"
            ) from None
        for name, geometry_type in listed:
            if geometry_type is None:  # an attribute table (GeoPackage): no features to map
                continue
            layer = _read_layer(dataset, str(name), filename, path, where)
            if layer.name == path.stem:  # GDAL names a GeoJSON's layer after the file
                layer = replace(layer, name=safe_name(filename).rsplit(".", 1)[0])
            yield layer


def _read_layer(dataset: str, name: str, filename: str, path: Path, where: str) -> _Layer:
    label = name if where == str(path) else f"{where}: {name}"
    try:
        meta, _, wkb, columns = pyogrio.raw.read(dataset, layer=name, datetime_as_string=True)
    except CRSError as exc:
        raise refuse(
            filename,
            f"the coordinate system of '{label}' cannot be read ({_gdal(exc, path)})",
        ) from None
    except (RuntimeError, ValueError, OSError) as exc:
        raise refuse(filename, f"layer '{name}' cannot be read ({_gdal(exc, path)})") from None
    geoms = shapely.from_wkb(wkb) if wkb is not None else np.array([], dtype=object)
    if len(geoms) and meta.get("crs") is None:
        raise refuse(
            filename,
            f"the coordinate system of '{label}' cannot be read (a shapefile needs its .prj, "
            "one GDAL can parse)",
        )
    if len(geoms):
        geoms = _to_wgs84(geoms, str(meta["crs"]), filename, label)
    fields = [str(f) for f in meta.get("fields", [])]
    ogr_types = list(meta.get("ogr_types") or [])
    typed = [
        (f, c, t in ("OFTDate", "OFTDateTime"))
        for f, c, t in zip(fields, columns, ogr_types + [""] * len(fields), strict=False)
    ]
    return _Layer(name, geoms, [t[0] for t in typed], [(t[1], t[2]) for t in typed])


def _to_wgs84(geoms: Any, crs_text: str, filename: str, label: str) -> Any:
    try:
        crs = CRS.from_user_input(crs_text)
    except TRANSFORM_ERRORS as exc:
        raise refuse(
            filename, f"the coordinate system of '{label}' cannot be read ({exc})"
        ) from None
    if crs.to_epsg() in _WGS84_CODES or crs.to_string() == "OGC:CRS84":
        return geoms

    def reproject(xy: Any) -> Any:
        if not len(xy):
            return xy
        xs, ys = warp_transform(crs, "EPSG:4326", xy[:, 0], xy[:, 1])
        return np.column_stack([xs, ys])

    try:
        return shapely.transform(geoms, reproject)
    except TRANSFORM_ERRORS as exc:
        raise refuse(
            filename,
            f"the coordinate system of '{label}' cannot be transformed to longitude/latitude "
            f"({str(exc)[:200]})",
        ) from None


def _time_span(layers: list[_Layer]) -> tuple[datetime | None, datetime | None]:
    """The first and last time of the features, from date/time attributes or attributes named
    as times whose every value reads as one; None when there are none."""
    times: list[datetime] = []
    for layer in layers:
        for name, (column, is_date) in zip(layer.fields, layer.columns, strict=True):
            if not is_date and name.lower() not in TIME_FIELDS:
                continue
            values = [v for v in column if isinstance(v, str) and v.strip()]
            parsed = [parse_time(v) for v in values]
            if parsed and all(p is not None for p in parsed):
                times.extend(p for p in parsed if p is not None)
    if not times:
        return None, None
    return min(times), max(times)


def _value(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes | bytearray):
        return None  # binary attributes have no JSON form
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)


def _write_geojson(layers: list[_Layer], dest: Path) -> int:
    """One FeatureCollection (RFC 7946: WGS84), written feature by feature; returns how many
    features have a geometry."""
    count = 0
    several = len(layers) > 1
    with open(dest, "wb") as out:
        out.write(b'{"type":"FeatureCollection","features":[')
        first = True
        for layer in layers:
            for i, geom in enumerate(layer.geometries):
                props = {
                    n: _value(c[0][i]) for n, c in zip(layer.fields, layer.columns, strict=True)
                }
                if several:
                    props["layer"] = layer.name
                has_geom = geom is not None and not geom.is_empty
                feature = {
                    "type": "Feature",
                    "geometry": mapping(geom) if has_geom else None,
                    "properties": props,
                }
                out.write((b"" if first else b",") + orjson.dumps(feature))
                first = False
                count += has_geom
        out.write(b"]}")
    return count


def _gdal(exc: Exception, path: Path) -> str:
    text = str(exc).replace(f"/vsizip/{path}/", "").replace(str(path), "the file").strip()
    return text if len(text) <= 300 else text[:300] + "…"
