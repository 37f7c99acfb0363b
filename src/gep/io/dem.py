"""Reading DEMs (GeoTIFF/COG in geographic coordinates) for the SAR geometry.

The science takes plain arrays; this module owns the file side: CRS checks, nodata, and the
pixel-centre grid the geometry expects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import rasterio
from numpy.typing import NDArray

from gep.core.errors import InvalidInput


@dataclass(frozen=True)
class DemRaster:
    """Heights on a regular latitude/longitude grid; (lat0, lon0) is the centre of pixel (0, 0)."""

    heights: NDArray[np.float64]
    lat0: float
    lon0: float
    dlat: float
    dlon: float
    vertical_datum: str  # "ellipsoid", "EGM96", "EGM2008" or "unknown"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.heights.shape
        s = self.lat0 + (rows - 1) * self.dlat
        e = self.lon0 + (cols - 1) * self.dlon
        return min(self.lon0, e), min(self.lat0, s), max(self.lon0, e), max(self.lat0, s)


def read_dem(path: str | os.PathLike[str]) -> DemRaster:
    """A DEM in a geographic CRS (EPSG:4326 or a WGS84 compound CRS such as EPSG:9707).

    Nodata holes are filled with the nearest valid height: a hole in the DEM must not stop
    the geometry, and voids are small in the DEMs GEP uses (Copernicus GLO-30, SRTM).
    """
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
    datum = "EGM96" if "EGM96" in wkt else "EGM2008" if "EGM2008" in wkt else "ellipsoid"
    if "VERT_CS" in wkt and datum == "ellipsoid":
        datum = "unknown"
    return DemRaster(
        heights=heights,
        lat0=t.f + t.e / 2,
        lon0=t.c + t.a / 2,
        dlat=t.e,
        dlon=t.a,
        vertical_datum=datum,
    )
