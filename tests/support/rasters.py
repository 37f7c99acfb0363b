"""Small rasters written on the fly, for tests that need a real GeoTIFF but not real data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin

#: write_test_raster's default georeferencing: 30 m pixels in UTM 33N
UTM33N = "EPSG:32633"
ORIGIN = (500_000.0, 4_180_000.0)


def write_test_raster(
    path: Path,
    *,
    crs: Any = UTM33N,
    georeferenced: bool = True,
    tags: dict[str, str] | None = None,
    nodata: float | None = None,
    unit: str | None = None,
    driver: str = "GTiff",
) -> Path:
    """A small float32 GeoTIFF (a ramp, 64 × 48 pixels of 30 m in UTM 33N). Options for the
    tests of uploads: another ``crs`` (anything rasterio takes, a LOCAL_CS WKT included), no
    georeferencing at all, TIFF tags (``TIFFTAG_DATETIME``), a no-data value, a band unit, and
    ``driver="COG"`` for a Cloud-Optimised GeoTIFF."""
    data = np.tile(np.linspace(0, 1000, 64, dtype="float32"), (48, 1))
    profile: dict[str, Any] = {
        "width": 64, "height": 48, "count": 1, "dtype": "float32",
    }  # fmt: skip
    if georeferenced:
        profile.update(crs=crs, transform=from_origin(*ORIGIN, 30, 30))
    if nodata is not None:
        profile["nodata"] = nodata
    target = path if driver == "GTiff" else path.with_name(f".{path.name}.src.tif")
    with rasterio.open(target, "w", driver="GTiff", **profile) as dst:
        dst.write(data, 1)
        if tags:
            dst.update_tags(**tags)
        if unit:
            dst.set_band_unit(1, unit)
    if driver != "GTiff":
        rasterio.shutil.copy(target, path, driver=driver)
        target.unlink()
    return path
