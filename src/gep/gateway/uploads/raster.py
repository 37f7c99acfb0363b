"""An uploaded GeoTIFF: checked whole, rewritten as a COG when it is not one, catalogued with
its projection (``proj:*``), its bands (``raster:bands``) and a footprint in WGS84.

A COG is kept byte for byte, so what the user uploaded is what they read back; any other
GeoTIFF goes through GDAL's COG driver, so that clients read it lazily over HTTP. Every block is
read once either way: a truncated file opens (its header is whole) and fails only where its data
is missing, which must be found now, not by the first reader.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.warp import transform_geom
from shapely.geometry import Polygon, mapping, shape

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
from gep.io.raster_meta import band_fields, projection

#: what GDAL raises through rasterio (its CPLE_* errors are not RasterioErrors)
GDAL_ERRORS: tuple[type[Exception], ...] = (RasterioError, CPLE_BaseError)
#: what transforming coordinates raises (PROJ through GDAL, or a bad value)
TRANSFORM_ERRORS: tuple[type[Exception], ...] = (*GDAL_ERRORS, ValueError)
PROJECTION = "https://stac-extensions.github.io/projection/v1.2.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
#: points per footprint edge: a UTM square is curved in lon/lat, four corners are not enough
DENSIFY = 21
#: what GDAL's COG driver is asked for
COG_OPTIONS = {"COMPRESS": "DEFLATE", "BIGTIFF": "IF_SAFER", "OVERVIEWS": "AUTO"}


def catalogue_raster(path: Path, filename: str, workdir: Path, now: datetime) -> Catalogued:
    """The item's metadata and the COG to store (``path`` itself when it is one already)."""
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):  # no sidecar files
        try:
            src = rasterio.open(path)
        except GDAL_ERRORS as exc:
            raise refuse(filename, f"a truncated or damaged GeoTIFF ({_gdal(exc, path)})") from None
        with src:
            if src.driver != "GTiff":
                raise refuse(filename, f"not a GeoTIFF (GDAL reads it as {src.driver})")
            crs = _crs(src, filename)
            geometry = _footprint(src, crs, filename)
            props = projection(src)
            stamp = parse_time(src.tags().get("TIFFTAG_DATETIME", ""))
            bands = [band_fields(src, i) for i in range(1, src.count + 1)]
            is_cog = src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT", "").upper() == "COG"
            if is_cog:
                _read_every_block(src, filename, path)
        if is_cog:
            cog = path
        else:
            cog = workdir / "cog.tif"
            try:
                rasterio.shutil.copy(path, cog, driver="COG", **COG_OPTIONS)
            except GDAL_ERRORS as exc:
                cog.unlink(missing_ok=True)
                raise refuse(
                    filename, f"a truncated or damaged GeoTIFF ({_gdal(exc, path)})"
                ) from None
    props.update(timestamp_properties(stamp, stamp, DatetimeSource.TIFF_TAG, now))
    props["gep:cog_rewritten"] = not is_cog
    return Catalogued(
        kind=UploadKind.GEOTIFF,
        geometry=mapping(geometry),
        bbox=[round(v, 9) for v in geometry.bounds],
        properties=props,
        files=[
            StagedFile(
                cog,
                _tif_name(filename),
                "data",
                media.COG,
                ("data",),
                "The uploaded raster" + ("" if is_cog else " (as a Cloud-Optimised GeoTIFF)"),
                {"raster:bands": bands},
            )
        ],
        extensions=[PROJECTION, RASTER],
    )


def _gdal(exc: BaseException, path: Path) -> str:
    """GDAL's message (the cause rasterio wraps, when it says more) without the server's
    temporary path."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    text = str(cause).replace(str(path), "the file").replace(path.name, "the file").strip()
    return text if len(text) <= 300 else text[:300] + "…"


def _crs(src: Any, filename: str) -> CRS:
    if src.crs is None or not src.crs.to_wkt():
        if src.gcps[0]:
            raise refuse(
                filename,
                "it is georeferenced by ground control points only, so it has no footprint: "
                "warp it to a map projection first (gdalwarp)",
            )
        raise refuse(filename, "it has no georeferencing (no coordinate system), so no footprint")
    if src.transform.is_identity:
        raise refuse(filename, "it has no georeferencing (no geotransform), so no footprint")
    return src.crs  # type: ignore[no-any-return]


def _footprint(src: Any, crs: CRS, filename: str) -> Any:
    """The raster's outline, its edges densified, in WGS84 (cut at the antimeridian)."""
    w, h = src.width, src.height
    steps = np.linspace(0.0, 1.0, DENSIFY)
    ring = (
        [(w * t, 0.0) for t in steps]
        + [(float(w), h * t) for t in steps[1:]]
        + [(w * (1 - t), float(h)) for t in steps[1:]]
        + [(0.0, h * (1 - t)) for t in steps[1:]]
    )
    native = Polygon([src.transform @ p for p in ring])
    try:
        geom = shape(transform_geom(crs, "EPSG:4326", mapping(native), antimeridian_cutting=True))
    except TRANSFORM_ERRORS as exc:
        raise refuse(
            filename,
            f"its coordinate system cannot be read as a place on Earth ({_short(exc)}); "
            "GEP needs one it can transform to longitude/latitude (an EPSG code or full WKT)",
        ) from None
    bounds = geom.bounds if not geom.is_empty else (math.nan,) * 4
    if not all(math.isfinite(v) for v in bounds) or not (
        -180.0 <= bounds[0] <= bounds[2] <= 180.0 and -90.0 <= bounds[1] <= bounds[3] <= 90.0
    ):
        raise refuse(
            filename,
            "its coordinate system puts it outside the Earth (longitude/latitude out of range): "
            "the georeferencing is wrong",
        )
    return geom


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "…"


def _read_every_block(src: Any, filename: str, path: Path) -> None:
    """A COG kept as it is must be whole: read each block of full resolution once."""
    try:
        for _, window in src.block_windows(1):
            src.read(window=window)
    except GDAL_ERRORS as exc:
        raise refuse(filename, f"a truncated or damaged GeoTIFF ({_gdal(exc, path)})") from None


def _tif_name(filename: str) -> str:
    name = safe_name(filename, "raster.tif")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem}.tif"
