"""A Sentinel-1 IW (TOPS) pair with a known truth, burst by burst.

:mod:`gep.algorithms.simulate.scene` simulates a debursted SLC window; this module makes the
bursts a real IW product has, from the bursts of a real annotation
(:func:`gep.io.sentinel1_bursts.tops_bursts`, cropped in range to keep scenes small), so the
TOPS chain is graded against what was put in:

* each burst carries the azimuth phase ramp of its own annotation (steering rate, FM rate,
  Doppler centroid: :func:`gep.algorithms.sar.tops.deramping_phase`); bursts that overlap see
  the overlap with disjoint Doppler spectra, so their speckle is independent, as in real data;
* the secondary is the reference orbit 12 days later, displaced by a baseline, with a burst
  synchronisation error (``timing_offset_lines``) and a misregistration the orbits do not know
  (``misregistration``, the part ESD must find in azimuth);
* ground fields shared by every burst and sub-swath: deformation (Okada or Mogi, projected on
  each pixel's line of sight), a power-law troposphere and a coherence map, all functions of
  position on the ground, so phases agree across burst and sub-swath boundaries exactly as
  they do on Earth.

The physics of the ramp: a focused TOPS burst is B(η)·exp(−jφ(η)) with B band-limited and
φ the deramping function. A scatterer at η_k contributes σ_k·exp(jφ(η_k))·h(η − η_k) to B, so
the secondary's baseband signal at the same ground point differs from the reference's by the
slowly varying exp(j[φ_s(m(η)) − φ_r(η)]) (m: reference to secondary lines); that factor is what
turns an azimuth misregistration Δt into the interferometric phase 2π f_DC Δt.
The secondary is resampled onto its own grid in baseband with a 32-tap Kaiser-windowed sinc,
an interpolator the chain does not use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from gep.algorithms.sar.baseline import baseline_at
from gep.algorithms.sar.geometry import Dem, geo2rdr, llh_to_ecef, radar_times, rdr2geo
from gep.algorithms.sar.orbit import interpolate_orbit_s, seconds_since
from gep.algorithms.sar.tops import deramping_phase
from gep.algorithms.simulate.phase import coherence_map, power_law_screen
from gep.algorithms.simulate.scene import (
    REPEAT_DAYS,
    Source,
    _sinc_resample,
    band_limited_speckle,
    baseline_orbit,
    local_enu,
    source_displacement,
)
from gep.core.sar import RangePolynomial, StateVectors, TopsBurst

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
C64 = NDArray[np.complex64]

#: ground grid step of the troposphere and coherence fields (m)
FIELD_STEP = 50.0
#: half-length of the secondary's Kaiser-windowed sinc (16 taps per axis)
SINC_HALF = 8


def crop_bursts(
    bursts: Sequence[TopsBurst],
    first: int,
    count: int,
    sample0: int,
    samples: int,
    *,
    valid_samples: tuple[int, int] | None = None,
) -> list[TopsBurst]:
    """``count`` consecutive bursts from ``first``, cut to samples [sample0, sample0 + samples).

    A narrow product is what a real one would be if ESA had processed only that range: the
    first sample's slant-range time moves, and the valid window is clipped to the cut. A
    window moved beyond the swath (as the demo does, to reach an area the annotation's swath
    does not see) has no valid samples of its own: give them as ``valid_samples`` (inclusive).
    """
    out = []
    for b in list(bursts)[first : first + count]:
        g = b.geometry
        geom = replace(
            g,
            slant_range_time=g.slant_range_time + sample0 / g.range_sampling_rate,
            samples=samples,
        )
        lo, hi = valid_samples or (
            max(b.first_valid_sample - sample0, 0),
            min(b.last_valid_sample - sample0, samples - 1),
        )
        if not 0 <= lo < hi < samples:
            raise ValueError(
                f"crop_bursts: samples {sample0}..{sample0 + samples - 1} leave no valid sample "
                f"of burst {b.index} (valid {b.first_valid_sample}..{b.last_valid_sample})"
            )
        out.append(replace(b, geometry=geom, first_valid_sample=lo, last_valid_sample=hi))
    if len(out) != count:
        raise ValueError(f"crop_bursts: only {len(out)} bursts from {first}")
    return out


def _shift_poly(p: RangePolynomial, dt: np.timedelta64) -> RangePolynomial:
    return replace(p, azimuth_time=p.azimuth_time + dt)


def secondary_bursts(
    reference: Sequence[TopsBurst], orbit: StateVectors, days: float, timing_offset_lines: float
) -> list[TopsBurst]:
    """The reference bursts acquired ``days`` later on ``orbit``, each started
    ``timing_offset_lines`` late (the burst synchronisation error)."""
    out = []
    for b in reference:
        g = b.geometry
        shift = np.timedelta64(
            round((days * 86400 + timing_offset_lines * g.azimuth_time_interval) * 1e9), "ns"
        )
        day_shift = np.timedelta64(round(days * 86400e9), "ns")
        out.append(
            replace(
                b,
                geometry=replace(g, orbit=orbit, first_line_time=g.first_line_time + shift),
                azimuth_fm_rate=_shift_poly(b.azimuth_fm_rate, day_shift),
                doppler_centroid=_shift_poly(b.doppler_centroid, day_shift),
            )
        )
    return out


@dataclass
class GroundFields:
    """Fields defined on the ground, shared by every burst: where each pixel samples them."""

    lat0: float
    lon0: float
    east0: float
    north0: float
    delay: F64  # tropospheric delay (m of range), on the field grid
    coherence: F64

    def _coords(self, lat: F64, lon: F64) -> list[F64]:
        e, n = local_enu(np.asarray(lat), np.asarray(lon), self.lat0, self.lon0)
        return [(n - self.north0) / FIELD_STEP, (e - self.east0) / FIELD_STEP]

    def delay_at(self, lat: F64, lon: F64) -> F64:
        return ndimage.map_coordinates(self.delay, self._coords(lat, lon), order=1, mode="nearest")

    def coherence_at(self, lat: F64, lon: F64) -> F64:
        c = ndimage.map_coordinates(self.coherence, self._coords(lat, lon), order=1, mode="nearest")
        return np.clip(c, 0.0, 1.0)


@dataclass
class SimulatedTopsPair:
    """Bursts of both acquisitions (full bursts: lines_per_burst × samples, zero outside the
    valid windows, as ESA writes them) and what is needed to state the truth anywhere."""

    reference: list[TopsBurst]
    secondary: list[TopsBurst]
    reference_data: list[C64]
    secondary_data: list[C64]
    secondary_orbit: StateVectors
    misregistration: tuple[float, float]
    perpendicular_baseline: float
    fields: GroundFields
    source: Source | None

    def truth_los(self, lat: F64, lon: F64, dem: Dem | float) -> F64:
        """The LOS displacement (m, towards the satellite) the chain should measure at ground
        points: deformation on the reference line of sight, minus the tropospheric delay."""
        lat, lon = np.asarray(lat, "float64"), np.asarray(lon, "float64")
        h = dem.height_at(lat, lon) if isinstance(dem, Dem) else np.full(lat.shape, float(dem))
        xyz = llh_to_ecef(lat, lon, h)
        g = self.reference[len(self.reference) // 2].geometry
        t, _ = geo2rdr(xyz, g.orbit, float(radar_times(g, g.lines / 2)))
        p_sat, _ = interpolate_orbit_s(g.orbit, t)
        los = p_sat - xyz
        los /= np.linalg.norm(los, axis=-1)[..., None]
        la, lo = np.radians(lat), np.radians(lon)
        up = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1)
        east = np.stack([-np.sin(lo), np.cos(lo), np.zeros_like(lo)], -1)
        north = np.cross(up, east)
        d = -self.fields.delay_at(lat, lon)
        if self.source is None:
            return d
        ue, un, uz = source_displacement(self.source, lat, lon)
        return (
            d
            + ue * np.sum(los * east, -1)
            + un * np.sum(los * north, -1)
            + uz * np.sum(los * up, -1)
        )


def _ground_fields(
    bursts: Sequence[TopsBurst],
    dem: Dem | float,
    atmosphere_rms: float,
    coherence: tuple[float, float],
    coherence_scale_m: float,
    rng: np.random.Generator,
) -> GroundFields:
    lats, lons = [], []
    for b in bursts:
        g = b.geometry
        ll = np.array([0, 0, g.lines - 1, g.lines - 1], "float64")
        ss = np.array([0, g.samples - 1, 0, g.samples - 1], "float64")
        lat, lon, _, _ = rdr2geo(radar_times(g, ll), g.slant_range(ss), g.orbit, dem)
        lats.append(lat)
        lons.append(lon)
    lat_all, lon_all = np.concatenate(lats), np.concatenate(lons)
    lat0, lon0 = float(lat_all.mean()), float(lon_all.mean())
    e, n = local_enu(lat_all, lon_all, lat0, lon0)
    e0, n0 = float(e.min()) - 4 * FIELD_STEP, float(n.min()) - 4 * FIELD_STEP
    shape = (
        int((n.max() - n0) / FIELD_STEP) + 8,
        int((e.max() - e0) / FIELD_STEP) + 8,
    )
    delay = power_law_screen(
        shape, beta=8.0 / 3.0, rms=atmosphere_rms, pixel_spacing=FIELD_STEP,
        seed=int(rng.integers(2**31)),
    )  # fmt: skip
    gamma = coherence_map(
        shape, low=coherence[0], high=coherence[1],
        correlation_px=coherence_scale_m / FIELD_STEP, seed=int(rng.integers(2**31)),
    )  # fmt: skip
    return GroundFields(
        lat0, lon0, e0, n0, np.asarray(delay, "float64"), np.asarray(gamma, "float64")
    )


def _valid_mask(b: TopsBurst) -> NDArray[np.bool_]:
    g = b.geometry
    mask = np.zeros((g.lines, g.samples), bool)
    mask[
        b.first_valid_line : b.last_valid_line + 1, b.first_valid_sample : b.last_valid_sample + 1
    ] = True
    return mask


def _pixel_geometry(
    ref: TopsBurst,
    sec: TopsBurst,
    dem: Dem | float,
    fields: GroundFields,
    source: Source | None,
    ii: F64,
    jj: F64,
) -> dict[str, F64]:
    """Exact range-Doppler geometry of reference pixels (lines ``ii`` × samples ``jj``)."""
    g, gs = ref.geometry, sec.geometry
    t1 = radar_times(g, ii)[:, None] * np.ones((1, len(jj)))
    r1 = g.slant_range(jj)[None, :] * np.ones((len(ii), 1))
    lat, lon, _, xyz = rdr2geo(t1, r1, g.orbit, dem)
    t_guess = t1 - float(radar_times(g, 0.0)) + float(radar_times(gs, 0.0))
    t2, r2 = geo2rdr(xyz, gs.orbit, t_guess)
    t2_line0 = seconds_since(np.atleast_1d(gs.first_line_time), gs.orbit.time[0])[0]
    out = {
        "lat": lat,
        "lon": lon,
        "range_difference": r2 - r1,
        "azimuth_offset": (t2 - t2_line0) / gs.azimuth_time_interval - ii[:, None],
        "range_offset": (r2 - gs.near_range) / gs.range_pixel_spacing - jj[None, :],
        "los_displacement": np.zeros_like(lat),
    }
    if source is not None:
        p_sat, _ = interpolate_orbit_s(g.orbit, t1[:, 0])
        los = p_sat[:, None, :] - xyz
        los /= np.linalg.norm(los, axis=-1)[..., None]
        la, lo = np.radians(lat), np.radians(lon)
        up = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1)
        east = np.stack([-np.sin(lo), np.cos(lo), np.zeros_like(lo)], -1)
        north = np.cross(up, east)
        ue, un, uz = source_displacement(source, lat, lon)
        out["los_displacement"] = (
            ue * np.sum(los * east, -1) + un * np.sum(los * north, -1) + uz * np.sum(los * up, -1)
        )
    return out


def _simulate_burst(
    ref: TopsBurst,
    sec: TopsBurst,
    dem: Dem | float,
    fields: GroundFields,
    source: Source | None,
    misregistration: tuple[float, float],
    margin: int,
    step: int,
    rng: np.random.Generator,
) -> tuple[C64, C64]:
    g, gs = ref.geometry, sec.geometry
    ext = (g.lines + 2 * margin, g.samples + 2 * margin)
    ii = np.arange(ext[0], dtype="float64") - margin
    jj = np.arange(ext[1], dtype="float64") - margin
    if step <= 1:
        geo = _pixel_geometry(ref, sec, dem, fields, source, ii, jj)
    else:  # exact on every step-th pixel, cubic in between: for smooth terrain
        ic = np.arange(0, ext[0] + 2 * step, step, dtype="float64") - margin
        jc = np.arange(0, ext[1] + 2 * step, step, dtype="float64") - margin
        coarse = _pixel_geometry(ref, sec, dem, fields, source, ic, jc)
        rows, cols = np.meshgrid(np.arange(ext[0]) / step, np.arange(ext[1]) / step, indexing="ij")
        geo = {
            k: ndimage.map_coordinates(v, [rows, cols], order=3, mode="nearest")
            for k, v in coarse.items()
        }
    lat, lon = geo["lat"], geo["lon"]
    az_off, rg_off = geo["azimuth_offset"], geo["range_offset"]
    d_los = geo["los_displacement"]
    delay = fields.delay_at(lat, lon)
    gamma = fields.coherence_at(lat, lon)

    daz, drg = misregistration
    # the ramps: the reference's on its grid, the secondary's where each ground point truly is
    rho_r = -deramping_phase(ref, ii[:, None], jj[None, :])
    rho_s = -deramping_phase(sec, ii[:, None] + az_off + daz, jj[None, :] + rg_off + drg)
    psi = -4.0 * np.pi / g.wavelength * (geo["range_difference"] - d_los + delay)
    a = band_limited_speckle(ext, rng)
    b = band_limited_speckle(ext, rng)
    core = (slice(margin, margin + g.lines), slice(margin, margin + g.samples))
    reference = (a * np.exp(1j * rho_r))[core].astype(np.complex64)
    sec_on_ref = (
        (gamma * a + np.sqrt(1.0 - gamma**2) * b) * np.exp(1j * (psi + rho_r - rho_s))
    ).astype(np.complex64)
    del a, b, psi, rho_s

    # the secondary's baseband image on its own grid: pixel (k, l) shows the ground point at
    # reference (i, j) with (i, j) + offset(i, j) + misregistration = (k, l)
    kk, ll = np.meshgrid(
        np.arange(gs.lines, dtype="float64"), np.arange(gs.samples, dtype="float64"), indexing="ij"
    )
    ri, rj = kk - daz, ll - drg
    for _ in range(3):
        coords = [ri + margin, rj + margin]
        ri = kk - daz - ndimage.map_coordinates(az_off, coords, order=1)
        rj = ll - drg - ndimage.map_coordinates(rg_off, coords, order=1)
    baseband = _sinc_resample(sec_on_ref, ri + margin, rj + margin, SINC_HALF, 8.0)
    secondary = (baseband * np.exp(-1j * deramping_phase(sec, kk, ll))).astype(np.complex64)
    reference[~_valid_mask(ref)] = 0
    secondary[~_valid_mask(sec)] = 0
    return reference, secondary


def simulate_tops_pair(
    reference: Sequence[TopsBurst],
    dem: Dem | float,
    *,
    bperp: float = 100.0,
    bpar: float = 20.0,
    days: float = REPEAT_DAYS,
    timing_offset_lines: float = 0.37,
    misregistration: tuple[float, float] = (0.0123, -0.23),
    source: Source | None = None,
    atmosphere_rms: float = 0.003,
    coherence: tuple[float, float] = (0.5, 0.95),
    coherence_scale_m: float = 800.0,
    geometry_step: int = 1,
    seed: int = 0,
) -> SimulatedTopsPair:
    """Simulate both acquisitions of the given reference bursts (any swaths, one product).

    ``misregistration`` (azimuth, range pixels) is the secondary's true position minus the one
    its orbit predicts — what coregistration must find; ``timing_offset_lines`` is how much
    later the secondary's bursts start (known from its annotation, as in real data).
    ``geometry_step`` > 1 solves the geometry exactly on every step-th pixel only and
    interpolates it (cubic) in between: 16x faster, and exact to ~1e-6 pixel on an ellipsoid or
    smooth terrain — keep 1 over a rough DEM.
    """
    if not reference:
        raise ValueError("simulate_tops_pair: no burst given")
    rng = np.random.default_rng(seed)
    mid = reference[len(reference) // 2].geometry
    t_c = float(radar_times(mid, mid.lines / 2))
    _, _, _, centre = rdr2geo(
        np.array([t_c]), np.array([mid.slant_range(mid.samples / 2)]), mid.orbit, dem
    )
    sec_orbit = baseline_orbit(mid.orbit, centre[0], t_c, bperp, bpar, days)
    secondary = secondary_bursts(reference, sec_orbit, days, timing_offset_lines)
    fields = _ground_fields(reference, dem, atmosphere_rms, coherence, coherence_scale_m, rng)
    margin = (
        16
        + int(
            np.ceil(abs(timing_offset_lines) + abs(bpar) / mid.range_pixel_spacing)
            + max(abs(misregistration[0]), abs(misregistration[1]))
        )
        + 8
    )
    ref_data, sec_data = [], []
    for r, s in zip(reference, secondary, strict=True):
        a, b = _simulate_burst(
            r, s, dem, fields, source, misregistration, margin, geometry_step, rng
        )
        ref_data.append(a)
        sec_data.append(b)
    return SimulatedTopsPair(
        reference=list(reference),
        secondary=secondary,
        reference_data=ref_data,
        secondary_data=sec_data,
        secondary_orbit=sec_orbit,
        misregistration=(float(misregistration[0]), float(misregistration[1])),
        perpendicular_baseline=baseline_at(centre[0], mid.orbit, sec_orbit).bperp,
        fields=fields,
        source=source,
    )
