"""Volcanic thermal hotspots from Sentinel-2 MSI and Landsat-8/9 OLI: the Normalized Hotspot
Indices (NHI) of Marchese et al. (2019, Remote Sensing 11, 2876).

On top-of-atmosphere **radiance** L (W m⁻² sr⁻¹ µm⁻¹) in the NIR (~0.8 µm), SWIR-1 (~1.6 µm)
and SWIR-2 (~2.2 µm) bands::

    NHI_SWIR  = (L2.2 − L1.6) / (L2.2 + L1.6)
    NHI_SWNIR = (L1.6 − L0.8) / (L1.6 + L0.8)

and a pixel is hot when either index is positive (NHI_SWIR flags the less intense anomalies,
NHI_SWNIR the most intense ones, whose emission peaks closer to 1.6 µm). Why radiance and not
reflectance: the solar irradiance falls from ~950 (0.86 µm) to ~250 (1.6 µm) and ~85
W m⁻² µm⁻¹ (2.2 µm), so for any surface that only reflects sunlight L2.2 < L1.6 < L0.8
unless its reflectance climbs steeply with wavelength — the threshold 0 separates emitted from
reflected light only on radiance. On reflectance, bright sand or soil (ρ1.6 > ρ0.8) and some
clouds would come out "hot" (the tests show it). The services derive L from the products'
digital numbers with their metadata (Landsat: ``RADIANCE_MULT/ADD``; Sentinel-2: reflectance
from ``QUANTIFICATION_VALUE``/``RADIO_ADD_OFFSET``, then L = ρ · E_sun · cos θs · U / π).

The NHI tool (Genzano et al. 2020) also applies a first test on the SWIR-2 radiance and, for
Sentinel-2, a spectral filter against band misregistration; their exact published values
could not be checked here, so :func:`hotspot_mask` offers ``min_swir2`` (a floor on L2.2,
default off) and the band-misregistration filter is not applied — see ``docs/science.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "HotspotStats",
    "cloud_mask",
    "hotspot_mask",
    "hotspot_stats",
    "nhi",
    "radiance_from_reflectance",
    "reflectance_from_radiance",
]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
Array = NDArray[np.floating]


def nhi(nir: Array, swir1: Array, swir2: Array) -> tuple[F32, F32]:
    """(NHI_SWIR, NHI_SWNIR) from TOA radiances; NaN where a band is missing or both are 0."""
    l08 = np.asarray(nir, "float64")
    l16 = np.asarray(swir1, "float64")
    l22 = np.asarray(swir2, "float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        swir = (l22 - l16) / (l22 + l16)
        swnir = (l16 - l08) / (l16 + l08)
    return swir.astype("float32"), swnir.astype("float32")


def hotspot_mask(
    nhi_swir: Array,
    nhi_swnir: Array,
    *,
    swir2: Array | None = None,
    min_swir2: float = 0.0,
    valid: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """Hot pixels: NHI_SWIR > 0 or NHI_SWNIR > 0 (the published thresholds), optionally with
    L2.2 above ``min_swir2``, inside ``valid`` (e.g. no-data and clouds removed)."""
    with np.errstate(invalid="ignore"):
        hot = (np.asarray(nhi_swir) > 0) | (np.asarray(nhi_swnir) > 0)
        if swir2 is not None and min_swir2 > 0:
            hot &= np.asarray(swir2) > min_swir2
    if valid is not None:
        hot &= valid
    return np.asarray(hot, dtype=bool)


@dataclass(frozen=True)
class HotspotStats:
    """What a scene says about its hotspots (the time series' row)."""

    hot_pixels: int
    hot_area_m2: float
    #: Σ L over the hot pixels (W m⁻² sr⁻¹ µm⁻¹), SWIR-1 and SWIR-2
    swir1_radiance: float
    swir2_radiance: float
    #: the same sums times the pixel area: spectral radiant intensity (W sr⁻¹ µm⁻¹)
    swir2_intensity: float
    max_nhi_swir: float
    max_nhi_swnir: float


def hotspot_stats(
    mask: NDArray[np.bool_],
    swir1: Array,
    swir2: Array,
    nhi_swir: Array,
    nhi_swnir: Array,
    pixel_area_m2: float,
) -> HotspotStats:
    """Count, area and total SWIR radiance of the hot pixels."""
    n = int(mask.sum())
    s1 = float(np.nansum(np.asarray(swir1, "float64")[mask])) if n else 0.0
    s2 = float(np.nansum(np.asarray(swir2, "float64")[mask])) if n else 0.0
    ms = float(np.nanmax(np.asarray(nhi_swir)[mask])) if n else float("nan")
    mn = float(np.nanmax(np.asarray(nhi_swnir)[mask])) if n else float("nan")
    return HotspotStats(n, n * pixel_area_m2, s1, s2, s2 * pixel_area_m2, ms, mn)


def radiance_from_reflectance(
    reflectance: Array, solar_irradiance: float, sun_zenith_deg: float, sun_distance_factor: float
) -> F64:
    """L = ρ · E_sun · cos θs · U / π, with U = 1/d² (d in astronomical units), as for
    Sentinel-2 L1C (``U`` and ``SOLAR_IRRADIANCE`` in ``MTD_MSIL1C.xml``)."""
    mu = np.cos(np.radians(sun_zenith_deg))
    out: F64 = (
        np.asarray(reflectance, "float64") * solar_irradiance * mu * sun_distance_factor / np.pi
    )
    return out


def reflectance_from_radiance(
    radiance: Array, solar_irradiance: float, sun_zenith_deg: float, sun_distance_factor: float
) -> F64:
    """The inverse of :func:`radiance_from_reflectance`."""
    mu = np.cos(np.radians(sun_zenith_deg))
    out: F64 = (
        np.asarray(radiance, "float64") * np.pi / (solar_irradiance * mu * sun_distance_factor)
    )
    return out


def cloud_mask(blue: Array, red: Array, swir1: Array, swir2: Array) -> NDArray[np.bool_]:
    """Cloud pixels from TOA reflectance, for products without a cloud flag of their own.

    The haze-optimised transform (HOT: ρ_blue − 0.5 ρ_red > 0.08) and the SWIR-2 floor of
    Fmask's first pass (Zhu & Woodcock 2012), snow excluded by NDSI < 0.6 (blue standing in
    for green; Fmask's 0.8 lets old snow through, and a snow-capped volcano must not read as
    clouded), and a blue reflectance above 0.15 in place of Fmask's thermal and probability
    steps. On the Landsat-8 test scene it agrees with the product's own cloud flag (BQA) on
    92 % of the pixels. Used to report scenes clouded over the area, where "no hot pixel"
    would mean nothing.
    """
    b, r, s1, s2 = (np.asarray(v, "float64") for v in (blue, red, swir1, swir2))
    with np.errstate(invalid="ignore", divide="ignore"):
        ndsi = (b - s1) / (b + s1)
        cloud = (b - 0.5 * r - 0.08 > 0) & (b > 0.15) & (s2 > 0.03) & (ndsi < 0.6)
    return np.asarray(cloud, dtype=bool)
