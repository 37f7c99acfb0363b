"""Reading DEMs (GeoTIFF/COG in geographic coordinates) for the SAR geometry.

The science takes plain arrays; this module owns the file side: CRS checks, nodata, and the
pixel-centre grid the geometry expects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray

from gep.core.errors import InvalidInput

#: EGM96 undulations on a 15' grid, from Debian's ``proj-data`` package (``make geoid``)
EGM96_GRID = Path("/usr/share/proj/egm96_15.gtx")
_GEOIDS = ("EGM96", "EGM2008")


@dataclass(frozen=True)
class DemRaster:
    """Heights on a regular latitude/longitude grid; (lat0, lon0) is the centre of pixel (0, 0)."""

    heights: NDArray[np.float64]
    lat0: float
    lon0: float
    dlat: float
    dlon: float
    vertical_datum: str  # "ellipsoid", "EGM96", "EGM2008" or "unknown"
    #: the datum of the file's heights, before any conversion to the ellipsoid
    source_vertical_datum: str = ""

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.heights.shape
        s = self.lat0 + (rows - 1) * self.dlat
        e = self.lon0 + (cols - 1) * self.dlon
        return min(self.lon0, e), min(self.lat0, s), max(self.lon0, e), max(self.lat0, s)


def read_dem(
    path: str | os.PathLike[str], *, to_ellipsoid: bool = True, geoid: str | None = None
) -> DemRaster:
    """A DEM in a geographic CRS (EPSG:4326 or a WGS84 compound CRS such as EPSG:9707).

    Nodata holes are filled with the nearest valid height: a hole in the DEM must not stop
    the geometry, and voids are small in the DEMs GEP uses (Copernicus GLO-30, SRTM).

    SAR geometry works on the WGS84 ellipsoid, while Copernicus GLO-30 (EGM2008) and SRTM
    (EGM96) give heights above a geoid: left as they are, heights would be off by the geoid
    undulation N (about +47 m around Rome), which shifts every geocoded pixel in range and
    leaves a topographic phase residual. With ``to_ellipsoid`` (the default) geoid heights
    get N added, from the EGM96 grid (:data:`EGM96_GRID`, bilinear at the DEM nodes), and
    ``vertical_datum`` becomes ``"ellipsoid"`` (the file's datum stays in
    ``source_vertical_datum``). The datum is read from the CRS (a compound CRS naming EGM96
    or EGM2008); ``geoid`` states it for a plain EPSG:4326 file whose heights are known to be
    geoid heights. EGM2008 heights are converted with EGM96 too: the two models differ by
    well under a metre almost everywhere (a few metres at most over high mountains), which
    is far below what the interferometric chain is sensitive to.
    """
    if geoid is not None and geoid.upper() not in _GEOIDS:
        raise InvalidInput(
            f"geoid {geoid!r} is not known; use one of {', '.join(_GEOIDS)}", field="geoid"
        )
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInput(f"cannot read the DEM {os.fspath(path)!r}: {exc}", field="dem") from exc
    with src:
        crs = src.crs
        if crs is None or not crs.is_geographic:
            raise InvalidInput(
                "the DEM must be in geographic coordinates (EPSG:4326 or WGS84 + a geoid height); "
                f"got {crs}",
                field="dem",
            )
        t = src.transform
        if t.b != 0 or t.d != 0:
            raise InvalidInput("the DEM grid must not be rotated", field="dem")
        band = src.read(1, masked=True).astype("float64")
        wkt = crs.to_wkt()
    heights = band.filled(np.nan)
    if np.isnan(heights).all():
        raise InvalidInput("the DEM holds no valid height", field="dem")
    if np.isnan(heights).any():
        from scipy import ndimage

        idx = ndimage.distance_transform_edt(
            np.isnan(heights), return_distances=False, return_indices=True
        )
        heights = heights[tuple(idx)]
    datum = _datum(wkt, geoid)
    raster = DemRaster(
        heights=heights,
        lat0=t.f + t.e / 2,
        lon0=t.c + t.a / 2,
        dlat=t.e,
        dlon=t.a,
        vertical_datum=datum,
        source_vertical_datum=datum,
    )
    if to_ellipsoid and datum in _GEOIDS:
        return to_ellipsoidal_heights(raster)
    return raster


def _datum(wkt: str, geoid: str | None) -> str:
    datum = "EGM96" if "EGM96" in wkt else "EGM2008" if "EGM2008" in wkt else "ellipsoid"
    if "VERT_CS" in wkt and datum == "ellipsoid":
        datum = "unknown"
    if geoid is None:
        return datum
    if datum not in ("ellipsoid", geoid.upper()):
        raise InvalidInput(
            f"the DEM's CRS says its heights are {datum}, not {geoid.upper()}: drop geoid= or "
            "give the file's own datum",
            field="geoid",
        )
    return geoid.upper()


def geoid_undulation(
    lat: NDArray[np.float64], lon: NDArray[np.float64], grid: Path = EGM96_GRID
) -> NDArray[np.float64]:
    """EGM96 geoid height N (m above the WGS84 ellipsoid), bilinear in the 15' grid."""
    if not grid.is_file():
        raise InvalidInput(
            f"the EGM96 geoid grid {grid} is missing: install the Debian package proj-data "
            "(make geoid), or read the DEM with to_ellipsoid=False",
            field="dem",
        )
    with rasterio.open(grid) as src:
        n = src.read(1).astype("float64")
        t = src.transform
    # the GTX grid runs -180..179.75 in longitude: one wrapped column closes the globe
    n = np.concatenate([n, n[:, :1]], axis=1)
    row = (np.asarray(lat, "float64") - (t.f + t.e / 2)) / t.e
    col = np.mod(np.asarray(lon, "float64") - (t.c + t.a / 2), 360.0) / t.a
    r0 = np.clip(np.floor(row).astype(np.int64), 0, n.shape[0] - 2)
    c0 = np.clip(np.floor(col).astype(np.int64), 0, n.shape[1] - 2)
    fr, fc = row - r0, col - c0
    top = n[r0, c0] * (1 - fc) + n[r0, c0 + 1] * fc
    bottom = n[r0 + 1, c0] * (1 - fc) + n[r0 + 1, c0 + 1] * fc
    return np.asarray(top * (1 - fr) + bottom * fr)


def to_ellipsoidal_heights(raster: DemRaster, grid: Path = EGM96_GRID) -> DemRaster:
    """The DEM with geoid heights raised by N: heights above the WGS84 ellipsoid."""
    rows, cols = raster.heights.shape
    lat = raster.lat0 + np.arange(rows, dtype="float64") * raster.dlat
    lon = raster.lon0 + np.arange(cols, dtype="float64") * raster.dlon
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    return replace(
        raster,
        heights=raster.heights + geoid_undulation(la, lo, grid),
        vertical_datum="ellipsoid",
        source_vertical_datum=raster.source_vertical_datum or raster.vertical_datum,
    )
