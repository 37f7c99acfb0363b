"""A reference/secondary SLC pair in radar geometry with a known truth.

Everything a real Sentinel-1 pair has, built from first principles so each step of the
DInSAR chain can be measured against what was put in:

* geometry: the swath's real orbit, timing and range sampling (from a real annotation), ground
  points found by rdr2geo on a DEM, the secondary seen from an orbit displaced by a chosen
  perpendicular/parallel baseline, 12 days later, with its own burst timing;
* signal: band-limited circular Gaussian speckle (oversampled like S1: ~85 % of the band), an
  amplitude texture from the terrain, decorrelation from a coherence map (z2 = γ·z1 + √(1−γ²)·n);
* phase: the secondary's range change (flat earth + topography), LOS deformation from a
  Mogi or Okada source, and a turbulent tropospheric delay (power-law spectrum on the ground);
* a sub-pixel misregistration the orbits do not know about, which the chain must find by
  cross-correlation.

The secondary is resampled onto its own grid with a 32-tap Kaiser-windowed sinc — a different,
longer interpolator than the chain's — so the chain is not graded by its own tools.
Interferometric sign convention: ifg = ref·conj(sec), phase = 4π(R2 − R1)/λ, and LOS
displacement d (towards the satellite) shortens R2, so d = −λφ/4π after the geometric phase
is removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numba
import numpy as np
import scipy.fft as sfft
from numpy.typing import NDArray
from scipy import ndimage

from gep.algorithms.models import mogi, okada85, project_los
from gep.algorithms.sar.baseline import baseline_at
from gep.algorithms.sar.geometry import (
    Dem,
    crop_geometry,
    geo2rdr,
    llh_to_ecef,
    lonlat_to_radar,
    radar_times,
    rdr2geo,
)
from gep.algorithms.sar.orbit import interpolate_orbit_s, seconds_since
from gep.algorithms.simulate.phase import coherence_map, power_law_screen
from gep.core.sar import StateVectors, SwathGeometry

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
C64 = NDArray[np.complex64]

#: one repeat cycle of Sentinel-1A (days)
REPEAT_DAYS = 12.0


@dataclass(frozen=True)
class MogiSource:
    """A point pressure source (Mogi 1958) at ``lat``, ``lon``, ``depth`` m; ``dv`` in m³."""

    lat: float
    lon: float
    depth: float
    dv: float
    nu: float = 0.25


@dataclass(frozen=True)
class OkadaSource:
    """A rectangular dislocation (Okada 1985); position is the centroid of the fault plane."""

    lat: float
    lon: float
    depth: float
    strike: float
    dip: float
    length: float
    width: float
    rake: float
    slip: float
    opening: float = 0.0
    nu: float = 0.25


Source = MogiSource | OkadaSource


def local_enu(lat: F64, lon: F64, lat0: float, lon0: float) -> tuple[F64, F64]:
    """East and north metres of points from (lat0, lon0) on the local tangent plane."""
    d = llh_to_ecef(lat, lon, 0.0) - llh_to_ecef(lat0, lon0, 0.0)
    la, lo = np.radians(lat0), np.radians(lon0)
    east = np.array([-np.sin(lo), np.cos(lo), 0.0])
    north = np.array([-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)])
    return d @ east, d @ north


def source_displacement(source: Source, lat: F64, lon: F64) -> tuple[F64, F64, F64]:
    """(east, north, up) surface displacement in metres of a source at ground points."""
    e, n = local_enu(lat, lon, source.lat, source.lon)
    if isinstance(source, MogiSource):
        return mogi(e, n, source.depth, source.dv, nu=source.nu)
    return okada85(
        e, n, source.depth, source.strike, source.dip, source.length, source.width,
        source.rake, source.slip, opening=source.opening, nu=source.nu,
    )  # fmt: skip


def window_around(
    geom: SwathGeometry, lat: float, lon: float, height: float, lines: int, samples: int
) -> tuple[int, int]:
    """First line and sample of a ``lines`` × ``samples`` window of ``geom`` centred on a point."""
    line, sample = lonlat_to_radar(geom, np.array([lat]), np.array([lon]), height)
    return round(float(line[0]) - lines / 2), round(float(sample[0]) - samples / 2)


def baseline_orbit(
    orbit: StateVectors, at_xyz: F64, t_at: float, bperp: float, bpar: float, days: float
) -> StateVectors:
    """The reference orbit ``days`` later, displaced by a perpendicular and parallel baseline.

    Sentinel-1's orbit repeats in Earth-fixed coordinates every 12 days, so the secondary's
    state vectors are the reference's, shifted in time and displaced by a constant vector.
    The baseline is split at a ground point: parallel along the line of sight (positive
    towards the ground, shortening the secondary's range) and perpendicular to it in the
    zero-Doppler plane (positive away from the Earth).
    """
    p, v = interpolate_orbit_s(orbit, np.array([t_at]))
    p, v = p[0], v[0]
    look = np.asarray(at_xyz, "float64") - p
    look /= np.linalg.norm(look)
    perp = np.cross(look, v)
    perp /= np.linalg.norm(perp)
    if np.dot(perp, p) < 0:  # point the perpendicular direction away from the Earth
        perp = -perp
    shift = bperp * perp + bpar * look
    dt = np.timedelta64(round(days * 86400e9), "ns")
    return StateVectors(orbit.time + dt, orbit.position + shift, orbit.velocity, orbit.source)


def band_limited_speckle(
    shape: tuple[int, int],
    rng: np.random.Generator,
    bandwidth: float = 0.85,
    hamming: tuple[float, float] = (0.70, 0.75),
) -> C64:
    """Unit-power circular Gaussian speckle with the spectrum of a Sentinel-1 SLC.

    S1 IW SLCs are oversampled (range ~1.14, azimuth ~1.5): their spectra fill only
    ``bandwidth`` of each axis, and that guard band is what lets an interpolator resample them
    exactly. Within the band the processor weights the spectrum with generalised Hamming
    windows (annotation: azimuth 0.70, range 0.75), which this reproduces.
    """
    white = rng.standard_normal(shape, dtype=np.float32) + 1j * rng.standard_normal(
        shape, dtype=np.float32
    )
    spec = sfft.fft2(white.astype(np.complex64), workers=-1)
    fy = np.abs(sfft.fftfreq(shape[0]))[:, None]
    fx = np.abs(sfft.fftfreq(shape[1]))[None, :]
    half = bandwidth / 2
    wy = np.where(fy <= half, hamming[0] + (1 - hamming[0]) * np.cos(np.pi * fy / half), 0.0)
    wx = np.where(fx <= half, hamming[1] + (1 - hamming[1]) * np.cos(np.pi * fx / half), 0.0)
    spec *= (wy * wx).astype(np.float32)
    out = sfft.ifft2(spec, workers=-1).astype(np.complex64)
    out /= np.sqrt(np.mean(np.abs(out) ** 2))
    return out


@numba.njit(cache=True)
def _i0(x: float) -> float:
    # modified Bessel function of order 0 by its power series (converges fast for x < 20)
    total = 1.0
    term = 1.0
    k = 1.0
    y = x * x / 4.0
    while term > 1e-12 * total:
        term *= y / (k * k)
        total += term
        k += 1.0
    return total


@numba.njit(cache=True)
def _kaiser_sinc(x: float, half: int, beta: float) -> float:
    if abs(x) >= half:
        return 0.0
    s = 1.0 if x == 0.0 else np.sin(np.pi * x) / (np.pi * x)
    r = x / half
    return s * _i0(beta * np.sqrt(1.0 - r * r)) / _i0(beta)


@numba.njit(parallel=True, cache=True)
def _sinc_resample(src: C64, rows: F64, cols: F64, half: int, beta: float) -> C64:
    h, w = rows.shape
    ny, nx = src.shape
    out = np.zeros((h, w), dtype=np.complex64)
    for i in numba.prange(h):
        wr = np.empty(2 * half)
        wc = np.empty(2 * half)
        for j in range(w):
            r, c = rows[i, j], cols[i, j]
            r0, c0 = int(np.floor(r)), int(np.floor(c))
            if r0 - half + 1 < 0 or c0 - half + 1 < 0 or r0 + half >= ny or c0 + half >= nx:
                continue
            sr = 0.0
            sc = 0.0
            for k in range(2 * half):
                wr[k] = _kaiser_sinc(r - (r0 - half + 1 + k), half, beta)
                wc[k] = _kaiser_sinc(c - (c0 - half + 1 + k), half, beta)
                sr += wr[k]
                sc += wc[k]
            acc = 0j
            for a in range(2 * half):
                row = 0j
                for b in range(2 * half):
                    row += src[r0 - half + 1 + a, c0 - half + 1 + b] * wc[b]
                acc += row * wr[a]
            out[i, j] = acc / (sr * sc)
    return out


@dataclass
class SimulatedPair:
    """A simulated pair and the truth on the reference grid (all arrays lines × samples).

    ``truth`` holds: ``los_displacement`` (m, towards the satellite), ``atmosphere`` (the
    apparent LOS displacement the troposphere adds, m), ``coherence``, ``height`` (m above
    the ellipsoid), ``latitude``, ``longitude``, ``range_difference`` (R2 − R1 without
    deformation or atmosphere, m), ``azimuth_offset`` and ``range_offset`` (secondary minus
    reference pixel coordinates, from the orbits), ``incidence`` and ``heading`` (degrees).
    """

    reference: C64
    secondary: C64
    reference_geometry: SwathGeometry
    secondary_geometry: SwathGeometry
    misregistration: tuple[float, float]
    perpendicular_baseline: float  # m at the scene centre, ISCE2's sign (sar.baseline)
    truth: dict[str, NDArray[np.floating]] = field(default_factory=dict)


def simulate_pair(
    geometry: SwathGeometry,
    dem: Dem | float,
    *,
    window: tuple[int, int, int, int],
    bperp: float = 100.0,
    bpar: float = 20.0,
    days: float = REPEAT_DAYS,
    timing_offset_lines: float = 3.37,
    misregistration: tuple[float, float] = (0.31, -0.23),
    source: Source | None = None,
    atmosphere_rms: float = 0.005,
    atmosphere_beta: float = 8.0 / 3.0,
    coherence: tuple[float, float] | F32 = (0.3, 0.95),
    coherence_scale_m: float = 600.0,
    bandwidth: float = 0.85,
    seed: int = 0,
) -> SimulatedPair:
    """Simulate a pair over ``window`` = (first line, first sample, lines, samples) of a swath.

    ``bperp`` puts the secondary that many metres away from the Earth, normal to the line of
    sight (ISCE2's convention, used by GEP's baseline functions, calls that −``bperp``).
    ``atmosphere_rms`` (m of LOS delay) defaults to 5 mm, the scatter Emardson et al. (2003)
    report between points ~10 km apart; ``coherence`` is a map or a (low, high) range for a
    smooth random map with features ~``coherence_scale_m`` across.
    """
    line0, sample0, lines, samples = window
    if lines < 32 or samples < 32:
        raise ValueError("simulate_pair: the window must be at least 32 × 32 pixels")
    rng = np.random.default_rng(seed)
    margin = (
        16 + int(np.ceil(abs(timing_offset_lines) + abs(bpar) / geometry.range_pixel_spacing)) + 8
    )
    ref_geom = crop_geometry(geometry, line0, sample0, lines, samples)
    ext = (lines + 2 * margin, samples + 2 * margin)

    # ground points of every reference pixel (extended by the margin), exact per pixel
    ii = np.arange(ext[0], dtype="float64") - margin
    jj = np.arange(ext[1], dtype="float64") - margin
    t1 = radar_times(ref_geom, ii)[:, None] * np.ones((1, ext[1]))
    r1 = ref_geom.slant_range(jj)[None, :] * np.ones((ext[0], 1))
    lat, lon, height, xyz = rdr2geo(t1, r1, ref_geom.orbit, dem)

    # the secondary: baseline orbit, 12 days and a burst-timing offset later
    centre = xyz[ext[0] // 2, ext[1] // 2]
    t_centre = float(t1[ext[0] // 2, 0])
    sec_orbit = baseline_orbit(ref_geom.orbit, centre, t_centre, bperp, bpar, days)
    shift = np.timedelta64(
        round((days * 86400 + timing_offset_lines * geometry.azimuth_time_interval) * 1e9),
        "ns",
    )
    sec_geom = replace(ref_geom, orbit=sec_orbit, first_line_time=ref_geom.first_line_time + shift)
    t2, r2 = geo2rdr(xyz, sec_orbit, t1)  # seconds after the secondary orbit's first vector
    t2_line0 = seconds_since(np.atleast_1d(sec_geom.first_line_time), sec_orbit.time[0])[0]
    k = (t2 - t2_line0) / sec_geom.azimuth_time_interval
    ell = (r2 - sec_geom.near_range) / sec_geom.range_pixel_spacing
    az_off = k - ii[:, None]
    rg_off = ell - jj[None, :]

    # deformation in LOS and the viewing angles of every pixel
    p_sat, v_sat = interpolate_orbit_s(ref_geom.orbit, t1[:, 0])
    los_vec = p_sat[:, None, :] - xyz
    los_vec /= np.linalg.norm(los_vec, axis=-1)[..., None]
    la, lo = np.radians(lat), np.radians(lon)
    up = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
    east = np.stack([-np.sin(lo), np.cos(lo), np.zeros_like(lo)], axis=-1)
    north = np.cross(up, east)
    incidence = np.degrees(np.arccos(np.sum(los_vec * up, axis=-1)))
    vv = np.broadcast_to(v_sat[:, None, :], xyz.shape)
    heading = np.degrees(np.arctan2(np.sum(vv * east, -1), np.sum(vv * north, -1))) % 360.0
    if source is not None:
        ue, un, uz = source_displacement(source, lat, lon)
        d_los = project_los(ue, un, uz, incidence, heading)
    else:
        d_los = np.zeros_like(lat)

    # troposphere: a power-law screen on a ground grid, sampled where each pixel lies
    lat_c, lon_c = float(lat[ext[0] // 2, ext[1] // 2]), float(lon[ext[0] // 2, ext[1] // 2])
    e, n = local_enu(lat, lon, lat_c, lon_c)
    step = 50.0
    ge = np.arange(e.min() - step, e.max() + 2 * step, step)
    gn = np.arange(n.min() - step, n.max() + 2 * step, step)
    screen = power_law_screen(
        (len(gn), len(ge)),
        beta=atmosphere_beta,
        rms=1.0,
        pixel_spacing=step,
        seed=int(rng.integers(2**31)),
    )
    delay = ndimage.map_coordinates(screen, [(n - gn[0]) / step, (e - ge[0]) / step], order=1)
    core = (slice(margin, margin + lines), slice(margin, margin + samples))
    delay -= delay[core].mean()
    delay *= atmosphere_rms / np.sqrt(np.mean(delay[core] ** 2))

    # coherence and amplitude texture
    if isinstance(coherence, tuple):
        corr_px = coherence_scale_m / max(geometry.azimuth_pixel_spacing, 1.0)
        gamma = coherence_map(
            ext,
            low=coherence[0],
            high=coherence[1],
            correlation_px=corr_px / 4,
            seed=int(rng.integers(2**31)),
        ).astype("float64")
    else:
        gamma = np.pad(np.asarray(coherence, "float64"), margin, mode="edge")
        if gamma.shape != ext:
            raise ValueError("simulate_pair: the coherence map must have the window's shape")
    gamma = np.clip(gamma, 0.0, 1.0)
    # brighter slopes facing the radar: the cosine of the local incidence, smoothed
    dh_dj = np.gradient(height, axis=1) / (
        geometry.range_pixel_spacing / np.sin(np.radians(incidence))
    )
    amplitude = np.sqrt(np.clip(1.0 + 3.0 * ndimage.gaussian_filter(dh_dj, 2.0), 0.2, 4.0))

    a = band_limited_speckle(ext, rng, bandwidth)
    b = band_limited_speckle(ext, rng, bandwidth)
    ref_ext = (amplitude * a).astype(np.complex64)
    # R2 − R1 that the phase records: geometry, then deformation shortens it and the
    # troposphere lengthens it
    dr_phys = (r2 - r1) - d_los + delay
    phase2 = -4.0 * np.pi / geometry.wavelength * dr_phys
    sec_on_ref = (
        amplitude * (gamma * a + np.sqrt(1.0 - gamma**2) * b) * np.exp(1j * phase2)
    ).astype(np.complex64)

    # the secondary image on its own grid: pixel (k, l) shows the ground point whose
    # reference coordinates (i, j) satisfy (i, j) + offset(i, j) + misregistration = (k, l)
    daz, drg = misregistration
    kk, ll = np.meshgrid(
        np.arange(lines, dtype="float64"), np.arange(samples, dtype="float64"), indexing="ij"
    )
    ri, rj = kk - daz, ll - drg
    for _ in range(3):
        coords = [ri + margin, rj + margin]
        ri = kk - daz - ndimage.map_coordinates(az_off, coords, order=1)
        rj = ll - drg - ndimage.map_coordinates(rg_off, coords, order=1)
    secondary = _sinc_resample(sec_on_ref, ri + margin, rj + margin, 16, 8.0)

    truth: dict[str, NDArray[np.floating]] = {
        "los_displacement": d_los[core],
        "atmosphere": -delay[core],
        "coherence": gamma[core].astype("float32"),
        "height": height[core],
        "latitude": lat[core],
        "longitude": lon[core],
        "range_difference": (r2 - r1)[core],
        "azimuth_offset": az_off[core],
        "range_offset": rg_off[core],
        "incidence": incidence[core],
        "heading": heading[core],
    }
    bp = baseline_at(centre, ref_geom.orbit, sec_orbit).bperp
    return SimulatedPair(
        reference=np.ascontiguousarray(ref_ext[core]),
        secondary=secondary,
        reference_geometry=ref_geom,
        secondary_geometry=sec_geom,
        misregistration=(float(daz), float(drg)),
        perpendicular_baseline=bp,
        truth=truth,
    )


__all__ = [
    "MogiSource",
    "OkadaSource",
    "SimulatedPair",
    "band_limited_speckle",
    "baseline_orbit",
    "crop_geometry",
    "local_enu",
    "simulate_large_pair",
    "simulate_pair",
    "source_displacement",
    "window_around",
]


def simulate_large_pair(
    geometry: SwathGeometry,
    dem: Dem | float,
    *,
    window: tuple[int, int, int, int],
    bperp: float = 100.0,
    bpar: float = 20.0,
    timing_offset_lines: float = 3.37,
    misregistration: tuple[float, float] = (0.31, -0.23),
    coherence: tuple[float, float] = (0.3, 0.95),
    atmosphere_rms_rad: float = 1.0,
    seed: int = 0,
) -> SimulatedPair:
    """A burst-sized pair (e.g. 1 500 × 20 000) for throughput benchmarks, in seconds not hours.

    Same signal model as :func:`simulate_pair`, with the shortcuts that make 30 Mpixel
    affordable: the geometry comes from the chain's own coarse-grid solver
    (:func:`gep.algorithms.sar.coregistration.radar_geometry`), the secondary is resampled with
    the chain's 8-tap interpolator, the troposphere is drawn on the pixel grid and there is no
    deformation. It times the chain; accuracy is graded on :func:`simulate_pair`'s exact scenes.
    """
    from gep.algorithms.sar.coregistration import radar_geometry
    from gep.algorithms.sar.kernels.resampling import resample

    line0, sample0, lines, samples = window
    rng = np.random.default_rng(seed)
    margin = 32
    ref_geom = crop_geometry(geometry, line0, sample0, lines, samples)
    ext_geom = crop_geometry(
        geometry, line0 - margin, sample0 - margin, lines + 2 * margin, samples + 2 * margin
    )
    t_c = float(radar_times(ext_geom, ext_geom.lines / 2))
    _, _, _, centre = rdr2geo(
        np.array([t_c]), np.array([ext_geom.slant_range(ext_geom.samples / 2)]), geometry.orbit, dem
    )
    sec_orbit = baseline_orbit(geometry.orbit, centre[0], t_c, bperp, bpar, REPEAT_DAYS)
    shift = np.timedelta64(
        round((REPEAT_DAYS * 86400 + timing_offset_lines * geometry.azimuth_time_interval) * 1e9),
        "ns",
    )
    sec_ext = replace(ext_geom, orbit=sec_orbit, first_line_time=ext_geom.first_line_time + shift)
    geo = radar_geometry(
        ext_geom, sec_ext, dem, range_difference=False, wavelength=geometry.wavelength
    )
    ext = (ext_geom.lines, ext_geom.samples)
    gamma = coherence_map(
        ext, low=coherence[0], high=coherence[1], correlation_px=10.0, seed=seed + 1
    )
    delay_phase = power_law_screen(ext, rms=atmosphere_rms_rad, seed=seed + 2).astype("float32")
    a = band_limited_speckle(ext, rng)
    b = band_limited_speckle(ext, rng)
    g = gamma.astype("float32")
    assert geo.phase is not None
    phase = -geo.phase - delay_phase
    sec_on_ref = (g * a + np.sqrt(1.0 - g * g) * b) * np.exp(1j * phase).astype(np.complex64)
    del b, phase
    kk, ll = np.meshgrid(
        np.arange(lines, dtype="float32"), np.arange(samples, dtype="float32"), indexing="ij"
    )
    daz, drg = misregistration
    ri, rj = kk - daz, ll - drg
    for _ in range(2):
        coords = [ri + margin, rj + margin]
        ri = kk - daz - ndimage.map_coordinates(geo.azimuth_offset, coords, order=1)
        rj = ll - drg - ndimage.map_coordinates(geo.range_offset, coords, order=1)
    # resample from the extended grid: offsets relative to each output pixel's own position
    az = np.zeros(ext, "float32")
    rg = np.zeros(ext, "float32")
    az[margin : margin + lines, margin : margin + samples] = ri - kk
    rg[margin : margin + lines, margin : margin + samples] = rj - ll
    del kk, ll, ri, rj
    secondary = resample(sec_on_ref, az, rg)[margin : margin + lines, margin : margin + samples]
    core = (slice(margin, margin + lines), slice(margin, margin + samples))
    truth: dict[str, NDArray[np.floating]] = {
        "coherence": gamma[core],
        "atmosphere": (delay_phase[core] * geometry.wavelength / (4 * np.pi)).astype("float32"),
    }
    sec_geom = crop_geometry(sec_ext, margin, margin, lines, samples)
    return SimulatedPair(
        reference=np.ascontiguousarray(a[core]),
        secondary=np.ascontiguousarray(secondary),
        reference_geometry=ref_geom,
        secondary_geometry=sec_geom,
        misregistration=(float(daz), float(drg)),
        perpendicular_baseline=baseline_at(centre[0], geometry.orbit, sec_orbit).bperp,
        truth=truth,
    )
