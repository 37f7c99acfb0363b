"""Radar geometry against independent truth.

- ECEF ↔ geodetic against pyproj (PROJ), to 1e-6 m.
- rdr2geo against the real annotation's geolocation grid (ESA's own geolocation of the same
  product, computed by the IPF from the same orbit): within a few metres, the grid's own
  accuracy for the annotation orbit.
- geo2rdr inverts rdr2geo to a thousandth of a pixel.
- The fast per-pixel geometry of the DInSAR chain (coarse grid + height layers) against the
  simulator's exact per-pixel rdr2geo/geo2rdr.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest

from gep.algorithms.sar.coregistration import radar_geometry
from gep.algorithms.sar.geometry import (
    Dem,
    ecef_to_llh,
    geo2rdr,
    llh_to_ecef,
    radar_times,
    rdr2geo,
)
from gep.algorithms.sar.orbit import seconds_since
from gep.io.dem import read_dem
from gep.io.sentinel1 import geolocation_grid, open_swath

DATA = Path(__file__).parents[1] / "data"
ROME = DATA / "s1/S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
NORTH_ITALY = DATA / "s1/S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE"


def test_ecef_conversions_match_proj() -> None:
    rng = np.random.default_rng(0)
    lat = rng.uniform(-89.9, 89.9, 2000)
    lon = rng.uniform(-180, 180, 2000)
    h = rng.uniform(-400, 8800, 2000)
    x, y, z = pyproj.Transformer.from_crs(4979, 4978, always_xy=True).transform(lon, lat, h)
    np.testing.assert_allclose(llh_to_ecef(lat, lon, h), np.stack([x, y, z], -1), atol=1e-6)
    la, lo, hh = ecef_to_llh(np.stack([x, y, z], -1))
    np.testing.assert_allclose(la, lat, atol=1e-10)
    np.testing.assert_allclose(lo, lon, atol=1e-10)
    np.testing.assert_allclose(hh, h, atol=1e-6)


@pytest.mark.parametrize(("product", "swath"), [(ROME, "IW1"), (NORTH_ITALY, "IW1")])
def test_rdr2geo_matches_the_annotation_geolocation_grid(product: Path, swath: str) -> None:
    geom = open_swath(product, swath, "VV")
    grid = geolocation_grid(product, swath, "VV")
    az = grid["azimuth_time"].values
    srt = grid["slant_range_time"].values
    t_az, t_rg = np.meshgrid(az, srt, indexing="ij")
    t = seconds_since(t_az.ravel(), geom.orbit.time[0])
    rng = t_rg.ravel() * 299_792_458.0 / 2
    h = grid["height"].values.ravel()
    # each grid point has its own height: solve point by point on that height
    lat = np.empty_like(h)
    lon = np.empty_like(h)
    for k in np.unique(h):
        sel = h == k
        la, lo, _, _ = rdr2geo(t[sel], rng[sel], geom.orbit, float(k))
        lat[sel], lon[sel] = la, lo
    truth = llh_to_ecef(grid["latitude"].values.ravel(), grid["longitude"].values.ravel(), h)
    mine = llh_to_ecef(lat, lon, h)
    err = np.linalg.norm(mine - truth, axis=-1)
    # the annotation grid is ESA's geolocation from the same annotation orbit; metres agree
    assert np.median(err) < 2.0, np.median(err)
    assert err.max() < 6.0, err.max()


def test_geo2rdr_inverts_rdr2geo() -> None:
    geom = open_swath(ROME, "IW1", "VV")
    lines = np.array([100.0, 700.0, 1400.0, 3000.0])
    samples = np.array([10.0, 5000.0, 12000.0, 22000.0])
    t = radar_times(geom, lines)
    rng = geom.slant_range(samples)
    _, _, _, xyz = rdr2geo(t, rng, geom.orbit, 250.0)
    t2, rng2 = geo2rdr(xyz, geom.orbit, float(radar_times(geom, geom.lines / 2)))
    np.testing.assert_allclose((t2 - t) / geom.azimuth_time_interval, 0, atol=1e-3)
    np.testing.assert_allclose((rng2 - rng) / geom.range_pixel_spacing, 0, atol=1e-3)


def test_fast_geometry_matches_exact_per_pixel(mogi_pair: object) -> None:
    pair = mogi_pair
    geo = radar_geometry(pair.reference_geometry, pair.secondary_geometry, pair.dem)
    truth = pair.truth
    dh = np.abs(geo.height - truth["height"])
    # the same DEM and orbit; only pixels in layover (several solutions) may differ
    assert np.mean(dh < 0.05) > 0.999
    good = dh < 0.05
    # range difference to 1 mm (0.23 rad of phase), offsets to 1/1000 pixel, for all but the
    # pixels where the terrain folds (a height can then be met at two places)
    dr = np.abs(geo.range_difference - truth["range_difference"])[good]
    assert np.mean(dr < 1e-3) > 0.999, np.mean(dr < 1e-3)
    assert np.median(dr) < 1e-5
    assert np.mean(np.abs(geo.azimuth_offset - truth["azimuth_offset"])[good] < 1e-3) > 0.999
    assert np.mean(np.abs(geo.range_offset - truth["range_offset"])[good] < 1e-3) > 0.999


def test_dem_reader_keeps_the_grid() -> None:
    dem = read_dem(DATA / "dem/Rome-30m-DEM.tif", to_ellipsoid=False)
    assert dem.heights.shape == (360, 360)
    assert dem.vertical_datum == "EGM96"
    w, _s, _e, n = dem.bounds
    assert abs(w - 12.45) < 1e-6 and abs(n - 42.05) < 1e-6
    d = Dem(dem.heights, dem.lat0, dem.lon0, dem.dlat, dem.dlon)
    # bilinear lookup returns the pixel value exactly at a pixel centre
    assert (
        d.height_at(np.array([dem.lat0 + 10 * dem.dlat]), np.array([dem.lon0 + 7 * dem.dlon]))[0]
        == dem.heights[10, 7]
    )
