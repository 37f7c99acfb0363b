"""Coregistration of a secondary SLC onto the reference grid: geometry first, then data.

1. **Geometry** (:func:`radar_geometry`): for every reference pixel, its height from the DEM,
   the secondary's pixel coordinates of the same ground point and the range difference
   R2 − R1 (the flat-earth + topographic signal). The range-Doppler equations are solved
   exactly on a coarse grid at three height layers; each pixel then interpolates the layers
   in line/sample and solves its own height against the DEM (a fixed point along the
   layers), which is exact to well under a millimetre of range for smooth orbits, at a tiny
   fraction of the cost of rdr2geo per pixel.
2. **Refinement** (:func:`refine_offsets`): what the orbits do not know (timing and orbit
   errors, a fraction of a pixel) is measured by amplitude cross-correlation of chips, as
   ISCE's ampcor does: chips oversampled ×2 before detection, the correlation peak located
   to 1/64 pixel by an upsampled DFT (Guizar-Sicairos et al. 2008) and a parabola, and a
   mean over the chips that pass a robust outlier test.
3. **Resampling** (:func:`gep.algorithms.sar.kernels.resampling.resample`) with the sum of both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import scipy.fft as sfft
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from gep.algorithms.sar.geometry import Dem, geo2rdr, radar_times, rdr2geo
from gep.algorithms.sar.kernels.resampling import resample
from gep.algorithms.sar.orbit import seconds_since
from gep.core.sar import SwathGeometry

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
C64 = NDArray[np.complex64]


@dataclass
class RadarGeometry:
    """Per-pixel geometry of the reference grid (lines × samples)."""

    height: F32  # m above the ellipsoid
    range_difference: F64 | None  # R2 − R1, m (flat earth + topography)
    azimuth_offset: F32  # secondary line − reference line
    range_offset: F32  # secondary sample − reference sample
    phase: F32 | None = None  # 4π(R2 − R1)/λ wrapped to [0, 2π), when a wavelength was given
    latitude: F64 | None = None
    longitude: F64 | None = None


def _layers(dem: Dem | float) -> F64:
    if isinstance(dem, Dem):
        lo, hi = float(np.nanmin(dem.heights)), float(np.nanmax(dem.heights))
    else:
        lo = hi = float(dem)
    pad = max(10.0, 0.05 * (hi - lo))
    return np.array([lo - pad, (lo + hi) / 2, hi + pad])


@numba.njit(parallel=True, cache=True)
def _per_pixel(
    grids: F64,  # (5, 3, gy, gx): lat, lon, dR, az, rg at each height layer
    hl: F64,  # (3,) layer heights
    step_y: float,
    step_x: float,
    dem: F64,
    dem_grid: F64,  # lat0, lon0, dlat, dlon
    flat_height: float,
    use_dem: bool,
    phase_scale: float,  # 4π/λ; 0: no phase output
    height: F32,
    az: F32,
    rg: F32,
    dr: F64,  # (lines, samples) or (1, 1) when not wanted
    phase: F32,  # idem
    lat_out: F64,  # idem
    lon_out: F64,  # idem
) -> None:  # pragma: no cover - compiled
    lines, samples = height.shape
    gy, gx = grids.shape[2], grids.shape[3]
    want_dr = dr.shape[0] == lines
    want_phase = phase.shape[0] == lines
    want_ll = lat_out.shape[0] == lines
    two_pi = 2.0 * np.pi
    q_first = 0 if (use_dem or want_ll) else 2  # latitude/longitude only when they are used
    d01 = (hl[0] - hl[1]) * (hl[0] - hl[2])
    d11 = (hl[1] - hl[0]) * (hl[1] - hl[2])
    d21 = (hl[2] - hl[0]) * (hl[2] - hl[1])
    for i in numba.prange(lines):
        # interpolate the coarse grid to this line once; per pixel only the sample direction
        y = i / step_y
        y0 = min(int(y), gy - 2)
        fy = y - y0
        row = np.empty((5, 3, gx))
        for q in range(q_first, 5):
            for k in range(3):
                for x in range(gx):
                    row[q, k, x] = (1 - fy) * grids[q, k, y0, x] + fy * grids[q, k, y0 + 1, x]
        v = np.empty((5, 3))
        for j in range(samples):
            xf = j / step_x
            x0 = min(int(xf), gx - 2)
            fx = xf - x0
            for q in range(q_first, 5):
                for k in range(3):
                    v[q, k] = (1 - fx) * row[q, k, x0] + fx * row[q, k, x0 + 1]
            h = flat_height
            if use_dem:
                # secant on g(h) = DEM(ground point at h) − h: a plain fixed point diverges on
                # slopes facing the radar steeper than the look angle allows
                h_prev = hl[1]
                g_prev = _dem_at(dem, v[0, 1], v[1, 1], dem_grid) - h_prev
                h = h_prev + g_prev
                for _ in range(20):
                    w0 = (h - hl[1]) * (h - hl[2]) / d01
                    w1 = (h - hl[0]) * (h - hl[2]) / d11
                    w2 = (h - hl[0]) * (h - hl[1]) / d21
                    la = w0 * v[0, 0] + w1 * v[0, 1] + w2 * v[0, 2]
                    lo = w0 * v[1, 0] + w1 * v[1, 1] + w2 * v[1, 2]
                    g = _dem_at(dem, la, lo, dem_grid) - h
                    if abs(g) < 1e-3:
                        break
                    dg = g - g_prev
                    h_new = h - g * (h - h_prev) / dg if abs(dg) > 1e-9 else h + g
                    h_new = min(max(h_new, hl[0]), hl[2])
                    h_prev, g_prev = h, g
                    h = h_new
            # quadratic (Lagrange) weights across the three height layers, shared by all
            w0 = (h - hl[1]) * (h - hl[2]) / d01
            w1 = (h - hl[0]) * (h - hl[2]) / d11
            w2 = (h - hl[0]) * (h - hl[1]) / d21
            height[i, j] = h
            drv = w0 * v[2, 0] + w1 * v[2, 1] + w2 * v[2, 2]
            az[i, j] = w0 * v[3, 0] + w1 * v[3, 1] + w2 * v[3, 2]
            rg[i, j] = w0 * v[4, 0] + w1 * v[4, 1] + w2 * v[4, 2]
            if want_dr:
                dr[i, j] = drv
            if want_phase:
                ph = (phase_scale * drv) % two_pi  # wrapped in double precision first
                phase[i, j] = ph
            if want_ll:
                lat_out[i, j] = w0 * v[0, 0] + w1 * v[0, 1] + w2 * v[0, 2]
                lon_out[i, j] = w0 * v[1, 0] + w1 * v[1, 1] + w2 * v[1, 2]


@numba.njit(cache=True)
def _dem_at(dem: F64, lat: float, lon: float, grid: F64) -> float:  # pragma: no cover
    ny, nx = dem.shape
    r = min(max((lat - grid[0]) / grid[2], 0.0), ny - 1.000001)
    c = min(max((lon - grid[1]) / grid[3], 0.0), nx - 1.000001)
    r0 = int(r)
    c0 = int(c)
    fr = r - r0
    fc = c - c0
    return (
        (1 - fr) * (1 - fc) * dem[r0, c0]
        + (1 - fr) * fc * dem[r0, c0 + 1]
        + fr * (1 - fc) * dem[r0 + 1, c0]
        + fr * fc * dem[r0 + 1, c0 + 1]
    )


def radar_geometry(
    reference: SwathGeometry,
    secondary: SwathGeometry,
    dem: Dem | float,
    *,
    step: tuple[int, int] = (32, 128),
    latlon: bool = False,
    range_difference: bool = True,
    wavelength: float | None = None,
) -> RadarGeometry:
    """Geometry of every pixel of the reference grid against the secondary orbit.

    ``step`` is the coarse grid (lines, samples) on which the range-Doppler equations are
    solved exactly; orbits are smooth over it, and the test checks the result against
    exact per-pixel rdr2geo/geo2rdr. With ``wavelength`` the wrapped synthetic phase
    4π(R2 − R1)/λ comes out directly (float32, wrapped in double precision), which is what the
    interferogram needs; ``range_difference=False`` then spares the 8-byte-per-pixel array.
    """
    lines, samples = reference.lines, reference.samples
    # a regular coarse grid whose last node reaches (or passes) the last pixel
    gl = step[0] * np.arange(max(int(np.ceil((lines - 1) / step[0])) + 1, 2), dtype="float64")
    gs = step[1] * np.arange(max(int(np.ceil((samples - 1) / step[1])) + 1, 2), dtype="float64")
    t1 = radar_times(reference, gl)[:, None] * np.ones((1, len(gs)))
    r1 = reference.slant_range(gs)[None, :] * np.ones((len(gl), 1))
    hl = _layers(dem)
    grids = np.empty((5, 3, len(gl), len(gs)))
    t2_0 = seconds_since(np.atleast_1d(secondary.first_line_time), secondary.orbit.time[0])[0]
    # secondary times as seconds after its own first vector: a first guess from the reference
    t_guess = (
        t1
        - seconds_since(np.atleast_1d(reference.first_line_time), reference.orbit.time[0])[0]
        + t2_0
    )
    span = (float(t_guess.min()) - 20.0, float(t_guess.max()) + 20.0)
    for k, h in enumerate(hl):
        lat, lon, _, xyz = rdr2geo(t1, r1, reference.orbit, float(h))
        t2, r2 = geo2rdr(xyz, secondary.orbit, t_guess, span=span)
        grids[0, k], grids[1, k] = lat, lon
        grids[2, k] = r2 - r1
        grids[3, k] = (t2 - t2_0) / secondary.azimuth_time_interval - gl[:, None]
        grids[4, k] = (r2 - secondary.near_range) / secondary.range_pixel_spacing - gs[None, :]
    full = (lines, samples)
    height = np.empty(full, "float32")
    az = np.empty(full, "float32")
    rg = np.empty(full, "float32")
    dr = np.empty(full if range_difference else (1, 1), "float64")
    phase = np.empty(full if wavelength else (1, 1), "float32")
    lat_out = np.empty(full if latlon else (1, 1))
    lon_out = np.empty(full if latlon else (1, 1))
    if isinstance(dem, Dem):
        dem_arr = np.ascontiguousarray(dem.heights, "float64")
        dem_grid = np.array([dem.lat0, dem.lon0, dem.dlat, dem.dlon])
        flat, use_dem = 0.0, True
    else:
        dem_arr, dem_grid = np.zeros((2, 2)), np.array([0.0, 0.0, 1.0, 1.0])
        flat, use_dem = float(dem), False
    scale = 4.0 * np.pi / wavelength if wavelength else 0.0
    _per_pixel(
        grids, hl, float(step[0]), float(step[1]), dem_arr, dem_grid, flat, use_dem, scale,
        height, az, rg, dr, phase, lat_out, lon_out,
    )  # fmt: skip
    return RadarGeometry(
        height=height,
        range_difference=dr if range_difference else None,
        azimuth_offset=az,
        range_offset=rg,
        phase=phase if wavelength else None,
        latitude=lat_out if latlon else None,
        longitude=lon_out if latlon else None,
    )


@dataclass(frozen=True)
class Refinement:
    """The data-driven correction to the geometric offsets, and how well it is known."""

    azimuth: float  # pixels, added to the geometric azimuth offsets
    range: float
    chips: int  # chips that passed the quality test
    azimuth_std: float  # scatter of the chips kept, pixels
    range_std: float

    @property
    def azimuth_error(self) -> float:
        """Standard error of the mean offset (pixels)."""
        return self.azimuth_std / np.sqrt(max(self.chips, 1))

    @property
    def range_error(self) -> float:
        return self.range_std / np.sqrt(max(self.chips, 1))


def _oversample2(chip: C64) -> C64:
    """×2 oversampling of a complex chip by zero-padding its centred spectrum."""
    n0, n1 = chip.shape
    spec = sfft.fftshift(sfft.fft2(chip))
    pad = np.zeros((2 * n0, 2 * n1), dtype=np.complex128)
    pad[n0 // 2 : n0 // 2 + n0, n1 // 2 : n1 // 2 + n1] = spec
    return sfft.ifft2(sfft.ifftshift(pad))


def _upsampled_dft(
    data: NDArray[np.complex128], size: int, factor: int, offsets: tuple[float, float]
) -> NDArray[np.complex128]:
    """Matrix DFT of ``data`` on a ``size``² grid of step 1/``factor`` from ``offsets``.

    Evaluating the inverse transform only where the peak is costs O(size·n²) instead of an
    FFT ``factor`` times larger (Guizar-Sicairos, Thurman & Fienup 2008).
    """
    n0, n1 = data.shape
    k0 = np.exp(
        2j * np.pi * (np.arange(size) - offsets[0])[:, None] * sfft.fftfreq(n0, factor)[None, :]
    )
    k1 = np.exp(
        2j * np.pi * (np.arange(size) - offsets[1])[:, None] * sfft.fftfreq(n1, factor)[None, :]
    )
    return k0 @ data @ k1.T


def chip_offset(ref_chip: C64, sec_chip: C64, *, upsample: int = 32) -> tuple[float, float, float]:
    """Shift (rows, cols) of ``sec_chip`` relative to ``ref_chip`` in pixels, and the peak.

    Positive means the secondary's content sits at larger indices. Amplitudes of ×2
    oversampled chips are correlated (detection doubles the bandwidth; oversampling first
    keeps it from aliasing), then the peak is refined to 1/``upsample`` of an oversampled
    pixel by an upsampled DFT around it.
    """
    a = np.abs(_oversample2(ref_chip))
    b = np.abs(_oversample2(sec_chip))
    a -= a.mean()
    b -= b.mean()
    fa, fb = sfft.fft2(a), sfft.fft2(b)
    cross = np.conj(fa) * fb
    corr = sfft.ifft2(cross).real
    peak = np.unravel_index(int(np.argmax(corr)), corr.shape)
    n = np.array(corr.shape)
    shift = np.array(peak, dtype="float64")
    shift[shift > n // 2] -= n[shift > n // 2]
    # refine on a 1.5-pixel window around the coarse peak
    size = int(np.ceil(1.5 * upsample))
    centre = np.fix(size / 2.0)
    origin = centre - shift * upsample
    up = _upsampled_dft(cross, size, upsample, (origin[0], origin[1]))
    mag = np.abs(up)
    fine = np.array(np.unravel_index(int(np.argmax(mag)), mag.shape), dtype="float64")
    # a parabola through the peak and its neighbours refines below the upsampled step
    for axis in (0, 1):
        i = int(fine[axis])
        if 0 < i < size - 1:
            idx = [int(fine[0]), int(fine[1])]
            idx[axis] = i - 1
            lo = mag[idx[0], idx[1]]
            idx[axis] = i + 1
            hi = mag[idx[0], idx[1]]
            mid = mag[int(fine[0]), int(fine[1])]
            denom = lo - 2 * mid + hi
            if denom < 0:
                fine[axis] += 0.5 * (lo - hi) / denom
    shift = shift + (fine - centre) / upsample
    norm = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    peak_value = float(np.abs(up).max() / norm / (a.size)) if norm > 0 else 0.0
    return float(shift[0] / 2.0), float(shift[1] / 2.0), peak_value


def refine_offsets(
    reference: C64,
    secondary: C64,
    azimuth_offset: F32,
    range_offset: F32,
    *,
    chip: int = 64,
    chips: tuple[int, int] = (8, 16),
    min_peak: float = 0.1,
) -> Refinement:
    """Constant residual offset of ``secondary`` after the geometric offsets, from chips.

    Chips on a regular grid are cut from the reference and, resampled with the geometric
    offsets, from the secondary; each gives a shift, and the median of those whose
    normalised correlation peak passes ``min_peak`` is the refinement. A constant suffices
    for Sentinel-1: orbit and timing errors shift a burst as a whole at this precision.
    """
    lines, samples = reference.shape
    if lines < chip + 16 or samples < chip + 16:
        raise ValueError(f"refine_offsets: the image must exceed the chip size {chip} + 16")
    # small matrix products per chip: BLAS threads only fight numba's here (8x slower)
    with threadpool_limits(1, user_api="blas"):
        return _refine(reference, secondary, azimuth_offset, range_offset, chip, chips, min_peak)


def _refine(
    reference: C64,
    secondary: C64,
    azimuth_offset: F32,
    range_offset: F32,
    chip: int,
    chips: tuple[int, int],
    min_peak: float,
) -> Refinement:
    lines, samples = reference.shape
    margin = 8
    rows = np.linspace(margin, lines - chip - margin, chips[0]).astype(int)
    cols = np.linspace(margin, samples - chip - margin, chips[1]).astype(int)
    b = 16  # border around each chip: the interpolator's reach plus the sub-pixel offsets
    size = chip + 2 * b
    ref_chips: list[C64] = []
    sources: list[C64] = []
    off_y: list[F32] = []
    off_x: list[F32] = []
    for r in rows:
        for c in cols:
            r0, c0 = int(r), int(c)
            az = azimuth_offset[r0 : r0 + chip, c0 : c0 + chip]
            rg = range_offset[r0 : r0 + chip, c0 : c0 + chip]
            oi = int(np.floor(float(np.median(az))))
            oj = int(np.floor(float(np.median(rg))))
            y0, x0 = r0 + oi - b, c0 + oj - b
            if y0 < 0 or x0 < 0 or y0 + size > secondary.shape[0] or x0 + size > secondary.shape[1]:
                continue
            ref_chips.append(reference[r0 : r0 + chip, c0 : c0 + chip])
            sources.append(secondary[y0 : y0 + size, x0 : x0 + size])
            oy = np.zeros((size, size), "float32")
            ox = np.zeros((size, size), "float32")
            oy[b : b + chip, b : b + chip] = az - oi
            ox[b : b + chip, b : b + chip] = rg - oj
            off_y.append(oy)
            off_x.append(ox)
    found: list[tuple[float, float]] = []
    if sources:
        # every chip's secondary window resampled in one call (stacked; the borders keep the
        # interpolator from reaching across chips), not one parallel launch per chip
        stacked = resample(np.concatenate(sources), np.concatenate(off_y), np.concatenate(off_x))
        for k, ref_chip in enumerate(ref_chips):
            res = stacked[k * size + b : k * size + b + chip, b : b + chip]
            dy, dx, peak = chip_offset(ref_chip, res)
            if peak >= min_peak:
                found.append((dy, dx))
    if len(found) < 3:
        raise ValueError(
            "refine_offsets: fewer than 3 chips correlate; the images may not overlap or "
            "the pair may be decorrelated"
        )
    arr = np.array(found)
    med = np.median(arr, axis=0)
    mad = 1.4826 * np.median(np.abs(arr - med), axis=0)
    keep = np.all(np.abs(arr - med) <= 3 * np.maximum(mad, 1e-3), axis=1)
    # the mean of the chips within 3 robust sigmas: as robust as the median once the outliers
    # are gone, and finer than the upsampled grid the chips are measured on
    mean = arr[keep].mean(axis=0)
    std = arr[keep].std(axis=0, ddof=1) if keep.sum() > 1 else np.zeros(2)
    return Refinement(float(mean[0]), float(mean[1]), int(keep.sum()), float(std[0]), float(std[1]))


def coregister(
    reference: C64,
    secondary: C64,
    reference_geometry: SwathGeometry,
    secondary_geometry: SwathGeometry,
    dem: Dem | float,
    *,
    progress: Callable[[float, str], None] = lambda f, m: None,
) -> tuple[C64, RadarGeometry, Refinement]:
    """The secondary on the reference grid, with the geometry and refinement that put it there.

    Geometry from orbits and DEM (with the wrapped synthetic phase), the cross-correlation
    refinement, one resampling with both; ``progress`` gets fractions 0–1 of this stage.
    """
    progress(0.0, "geometry: orbits and DEM to pixel offsets and synthetic phase")
    geo = radar_geometry(
        reference_geometry,
        secondary_geometry,
        dem,
        range_difference=False,
        wavelength=reference_geometry.wavelength,
    )
    progress(0.4, "coregistration: cross-correlation refinement")
    refinement = refine_offsets(reference, secondary, geo.azimuth_offset, geo.range_offset)
    progress(0.7, "coregistration: resampling the secondary")
    sec = resample(
        secondary,
        geo.azimuth_offset + np.float32(refinement.azimuth),
        geo.range_offset + np.float32(refinement.range),
    )
    return sec, geo, refinement
