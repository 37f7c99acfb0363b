"""Hotspots: NHI against a hand computation on real Landsat-8 bands, no false positives over the
real scene's clouds nor over the simulated snow, cloud and bright sand, the simulated lava flow
found, and the radiometric conversions of both missions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import rasterio

from gep.algorithms.simulate.optical import lava_flow_scene, planck_radiance
from gep.algorithms.thermal import (
    cloud_mask,
    hotspot_mask,
    hotspot_stats,
    nhi,
    radiance_from_reflectance,
    reflectance_from_radiance,
)
from gep.io.optical import read_landsat_mtl, read_s2_metadata, read_window

DATA = Path(__file__).parents[1] / "data" / "optical"
L8 = DATA / "landsat8" / "LC08_L1TP_016037_20170813_20170814_01_RT"
S2 = DATA / "s2_l1c"


def _mtl_value(key: str) -> float:
    """A value read off the MTL text by hand (a regular expression, not the product reader)."""
    text = Path(f"{L8}_MTL.txt").read_text()
    return float(re.search(rf"\b{key} = ([-+0-9.E]+)", text).group(1))  # type: ignore[union-attr]


def _dn(band: str) -> np.ndarray:
    with rasterio.open(f"{L8}_{band}.TIF") as src:
        return src.read(1)


def test_nhi_matches_a_hand_computation_on_real_landsat8_bands() -> None:
    # by hand: L = M·DN + A with the MTL's coefficients, then the published formulas
    hand = {}
    for band in ("5", "6", "7"):
        dn = _dn(f"B{band}").astype("float64")
        rad = _mtl_value(f"RADIANCE_MULT_BAND_{band}") * dn + _mtl_value(
            f"RADIANCE_ADD_BAND_{band}"
        )
        # DN 0 is no-data, 65535 saturated (one pixel of B5 here)
        hand[band] = np.where((dn > 0) & (dn < 65535), rad, np.nan)
    hand_swir = (hand["7"] - hand["6"]) / (hand["7"] + hand["6"])
    hand_swnir = (hand["6"] - hand["5"]) / (hand["6"] + hand["5"])
    # through the product reader
    meta = read_landsat_mtl(f"{L8}_MTL.txt")
    rad = {b: meta.radiance(b, read_window(f"{L8}_{b}.TIF").data) for b in ("B5", "B6", "B7")}
    swir, swnir = nhi(rad["B5"], rad["B6"], rad["B7"])
    valid = np.isfinite(hand_swir) & np.isfinite(hand_swnir)
    assert valid.mean() > 0.6
    np.testing.assert_allclose(swir[valid], hand_swir[valid], atol=2e-6)
    np.testing.assert_allclose(swnir[valid], hand_swnir[valid], atol=2e-6)
    np.testing.assert_array_equal(np.isnan(swir), np.isnan(hand_swir))
    np.testing.assert_array_equal(np.isnan(swnir), np.isnan(hand_swnir))
    # a Carolina coast in August with 26 % cloud (the product's own flag): no volcano, no fire,
    # and not one hot pixel, clouds included
    hot = hotspot_mask(swir, swnir)
    assert hot.sum() == 0
    qa = _dn("BQA").astype(int)
    cloudy = ((qa >> 4) & 1).astype(bool) & valid
    assert cloudy.sum() > 10_000
    assert np.nanmax(swir[cloudy]) < -0.2 and np.nanmax(swnir[cloudy]) < -0.2


def test_nhi_on_reflectance_would_flag_bright_surfaces() -> None:
    """Why the indices are taken on radiance: on reflectance the threshold 0 is crossed by
    surfaces brighter at 1.6 µm than at 0.8 µm (the real scene's clouds, bright sand)."""
    meta = read_landsat_mtl(f"{L8}_MTL.txt")
    rho = {b: meta.reflectance(b, _dn(b)) for b in ("B5", "B6", "B7")}
    swir, swnir = nhi(rho["B5"], rho["B6"], rho["B7"])
    assert hotspot_mask(swir, swnir).sum() > 100
    scene = lava_flow_scene()
    sand = scene.surfaces["sand"] & ~scene.hot
    solar = {"nir": 951.0, "swir1": 247.0, "swir2": 85.0}
    refl = [reflectance_from_radiance(scene.radiance[b], e, 40.0, 1.0) for b, e in solar.items()]
    assert hotspot_mask(*nhi(*refl))[sand].mean() > 0.9
    assert hotspot_mask(*nhi(*(scene.radiance[b] for b in solar)))[sand].sum() == 0


def test_simulated_lava_flow_is_found_without_false_positives() -> None:
    scene = lava_flow_scene(seed=1)
    swir, swnir = nhi(scene.radiance["nir"], scene.radiance["swir1"], scene.radiance["swir2"])
    hot = hotspot_mask(swir, swnir)
    # every pixel with at least 0.3 % of its area at 1000 K is found ...
    assert hot[scene.hot & (scene.hot_fraction >= 0.003)].all()
    assert (hot & scene.hot).sum() >= 0.98 * scene.hot.sum()
    # ... and nothing else: snow, cloud, bright sand, vegetation, basalt are all cold
    for name, surface in scene.surfaces.items():
        assert not (hot & surface & ~scene.hot).any(), name
    # the most intense pixels (near the vent) also pass the SWNIR index
    vent = scene.hot_fraction >= 0.04
    assert vent.any() and (swnir[vent] > 0).all()
    stats = hotspot_stats(hot, scene.radiance["swir1"], scene.radiance["swir2"], swir, swnir, 400.0)
    assert stats.hot_pixels == int(hot.sum())
    assert stats.hot_area_m2 == pytest.approx(400.0 * hot.sum())
    assert stats.swir2_radiance == pytest.approx(float(scene.radiance["swir2"][hot].sum()))
    assert stats.swir2_intensity == pytest.approx(400.0 * stats.swir2_radiance)


def test_planck_radiance_against_known_values() -> None:
    # the Sun's photosphere (5772 K) at 0.5 µm: ~2.6e7 W m-2 sr-1 µm-1; 1000 K at 2.2 µm: ~3.3e3
    assert planck_radiance(0.5, 5772.0) == pytest.approx(2.64e7, rel=0.02)
    assert planck_radiance(2.2, 1000.0) == pytest.approx(3.35e3, rel=0.02)


def test_sentinel2_metadata_and_conversions() -> None:
    meta = read_s2_metadata(S2 / "MTD_MSIL1C.xml", S2 / "MTD_TL.xml")
    assert meta.mission == "sentinel-2a" and meta.datetime.year == 2018
    assert meta.sun_zenith == pytest.approx(67.0354071200132)
    assert meta.sun_distance_factor == pytest.approx(1.03415884488937)
    b12 = meta.band("swir2")
    assert b12.solar_irradiance == pytest.approx(85.25) and b12.quantification == 10000
    assert meta.band("B8A").solar_irradiance == pytest.approx(955.19)
    raster = read_window(S2 / "T31TDH_20180101T105441_B01.jp2")
    assert raster.epsg == 32631 and raster.resolution == (60.0, 60.0)
    dn = raster.data
    rho = meta.reflectance("B01", dn)
    lrad = meta.radiance("B01", dn)
    ok = dn > 0
    # by hand from the XML: ρ = DN / 10000, L = ρ · 1913.57 · cos(67.035°) · 1.034159 / π
    np.testing.assert_allclose(rho[ok], dn[ok] / 10000.0, rtol=1e-6)
    hand = (
        dn[ok] / 10000.0 * 1913.57 * np.cos(np.radians(67.0354071200132)) * 1.03415884488937 / np.pi
    )
    np.testing.assert_allclose(lrad[ok], hand, rtol=1e-5)
    back = reflectance_from_radiance(lrad, 1913.57, meta.sun_zenith, meta.sun_distance_factor)
    np.testing.assert_allclose(back[ok], rho[ok], rtol=1e-5)
    np.testing.assert_allclose(
        radiance_from_reflectance(rho, 1913.57, meta.sun_zenith, meta.sun_distance_factor)[ok],
        lrad[ok], rtol=1e-5,
    )  # fmt: skip


def test_spectral_cloud_mask_agrees_with_the_product_flag() -> None:
    meta = read_landsat_mtl(f"{L8}_MTL.txt")
    rho = {b: meta.reflectance(b, _dn(b)) for b in ("B2", "B4", "B6", "B7")}
    cloud = cloud_mask(rho["B2"], rho["B4"], rho["B6"], rho["B7"])
    valid = np.isfinite(rho["B2"])
    flag = ((_dn("BQA").astype(int) >> 4) & 1).astype(bool)
    assert (cloud == flag)[valid].mean() > 0.9
    # the simulated snow, sand and vegetation are not clouds
    scene = lava_flow_scene()
    mu = np.cos(np.radians(40.0))
    refl = {b: scene.radiance[b] * np.pi / (s * mu) for b, s in (("swir1", 247.0), ("swir2", 85.0))}
    blue = {"snow": 0.9, "sand": 0.25, "vegetation": 0.04, "cloud": 0.75}
    red = {"snow": 0.88, "sand": 0.4, "vegetation": 0.05, "cloud": 0.74}
    for name, b in blue.items():
        m = scene.surfaces[name] & ~scene.hot
        got = cloud_mask(
            np.full(m.sum(), b), np.full(m.sum(), red[name]), refl["swir1"][m], refl["swir2"][m]
        )
        assert got.mean() > 0.95 if name == "cloud" else got.mean() < 0.05, name
