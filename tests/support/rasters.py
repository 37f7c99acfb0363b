"""Small rasters written on the fly, for tests that need a real GeoTIFF but not real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin


def write_test_raster(path: Path) -> Path:
    """A small float32 GeoTIFF (a ramp, 64 × 48 pixels of 30 m in UTM 33N)."""
    data = np.tile(np.linspace(0, 1000, 64, dtype="float32"), (48, 1))
    with rasterio.open(
        path, "w", driver="GTiff", width=64, height=48, count=1, dtype="float32",
        crs="EPSG:32633", transform=from_origin(500_000, 4_180_000, 30, 30),
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    return path
