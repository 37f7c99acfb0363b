"""DEM geoid heights to ellipsoidal heights (gep.io.dem), checked against PROJ.

The independent implementation is PROJ's ``vgridshift`` (through pyproj) on the same EGM96
grid file: it interpolates the grid its own way, so agreement to 5 cm checks our reading of
the GTX layout (origin, row order, longitude wrap) and the bilinear weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
from rasterio.crs import CRS

from gep.core.errors import InvalidInput
from gep.io.dem import EGM96_GRID, geoid_undulation, read_dem

ROME_DEM = Path(__file__).parents[1] / "data" / "dem" / "Rome-30m-DEM.tif"


def _proj_undulation(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    t = pyproj.Transformer.from_pipeline(f"+proj=vgridshift +grids={EGM96_GRID} +multiplier=1")
    _, _, n = t.transform(lon, lat, np.zeros_like(lat))
    return np.asarray(n)


def test_undulation_matches_proj() -> None:
    rng = np.random.default_rng(3)
    lat = np.concatenate([[41.9, 0.0, -89.9, 89.9, 10.0], rng.uniform(-89, 89, 200)])
    lon = np.concatenate([[12.5, 179.9, 0.0, 0.0, -179.95], rng.uniform(-180, 180, 200)])
    n = geoid_undulation(lat, lon)
    assert np.max(np.abs(n - _proj_undulation(lat, lon))) < 0.05
    # EGM96 at Rome (41.9 N, 12.5 E): 48.5 m per PROJ's vgridshift on the same grid, and
    # about 48 m on NGA's EGM96 geoid calculator; the sign matters more than the decimals
    assert 47.0 < n[0] < 50.0


def test_rome_dem_is_raised_by_the_undulation(tmp_path: Path) -> None:
    geoid = read_dem(ROME_DEM, to_ellipsoid=False)
    assert geoid.vertical_datum == "EGM96"
    ell = read_dem(ROME_DEM)
    assert ell.vertical_datum == "ellipsoid" and ell.source_vertical_datum == "EGM96"
    rows, cols = geoid.heights.shape
    lat = geoid.lat0 + np.arange(rows) * geoid.dlat
    lon = geoid.lon0 + np.arange(cols) * geoid.dlon
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    n = _proj_undulation(la.ravel(), lo.ravel()).reshape(la.shape)
    assert np.max(np.abs(ell.heights - geoid.heights - n)) < 0.05
    assert 46.0 < float(np.mean(ell.heights - geoid.heights)) < 50.0

    # the same heights in a plain EPSG:4326 file: converted only when told they are EGM96
    plain = tmp_path / "plain.tif"
    with rasterio.open(ROME_DEM) as src:
        profile = {**src.profile, "crs": CRS.from_epsg(4326)}
        data = src.read(1)
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(data, 1)
    assert read_dem(plain).vertical_datum == "ellipsoid"
    np.testing.assert_array_equal(read_dem(plain).heights, geoid.heights)
    told = read_dem(plain, geoid="EGM96")
    assert told.vertical_datum == "ellipsoid" and told.source_vertical_datum == "EGM96"
    np.testing.assert_allclose(told.heights, ell.heights, atol=1e-9)


def test_geoid_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="EGM2008"):
        read_dem(ROME_DEM, geoid="EGM2008")  # the CRS says EGM96
    with pytest.raises(InvalidInput, match="EGM96, EGM2008"):
        read_dem(ROME_DEM, geoid="WGS84")
    with pytest.raises(InvalidInput, match="proj-data"):
        geoid_undulation(np.array([41.9]), np.array([12.5]), grid=tmp_path / "egm96_15.gtx")
