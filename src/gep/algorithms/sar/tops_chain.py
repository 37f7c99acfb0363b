"""The DInSAR chain on Sentinel-1 IW bursts (TOPS), from burst pixels to a geocoded layer.

Each reference burst is processed on its own grid against the secondary burst that sees the
same ground (same ESA burst id), the way ISCE2's topsApp and GAMMA do it:

1. geometry per burst from the orbits and the DEM (:func:`radar_geometry`): pixel offsets and
   the synthetic (flat-earth + topographic) phase;
2. deramping (:mod:`gep.algorithms.sar.tops`) so the resampler sees baseband data;
3. a cross-correlation refinement pooled over the bursts (orbit/timing errors shift a whole
   acquisition), then resampling of the deramped secondary and reramping at the resampled
   positions;
4. enhanced spectral diversity (ESD) on the burst overlaps: the two bursts see an overlap with
   Doppler centroids ~5 kHz apart, so a residual azimuth misregistration Δt shows up as the
   phase 2π Δf Δt of the double difference of their interferograms — a thousandth of a pixel
   is ~0.07 rad there, far finer than cross-correlation can see. The estimate is added to the
   azimuth offsets and the secondary resampled again;
5. debursting each sub-swath on its continuous time grid (cutting each overlap at its middle,
   inside the valid windows), the interferogram, coherence and multilooking there;
6. geocoding each sub-swath onto one latitude/longitude grid and merging them, then the
   Goldstein filter, unwrapping and LOS displacement on that stitched grid.

Without the deramping (``deramp=False``, kept for the test that shows why it is needed) the
resampler aliases the azimuth spectrum and the interferogram decorrelates and jumps in phase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gep.algorithms.sar.coregistration import (
    RadarGeometry,
    Refinement,
    radar_geometry,
    refine_offsets,
)
from gep.algorithms.sar.dinsar import phase_to_los
from gep.algorithms.sar.geocode import GeoGrid, geocode, radar_coordinates, spacing_for_looks
from gep.algorithms.sar.geometry import Dem, crop_geometry, lonlat_to_radar, radar_times, rdr2geo
from gep.algorithms.sar.kernels.filtering import goldstein
from gep.algorithms.sar.kernels.interferometry import interferogram_multilook, multilook
from gep.algorithms.sar.kernels.resampling import resample
from gep.algorithms.sar.tops import deramp as deramp_burst
from gep.algorithms.sar.tops import doppler_centroid, reramp_at
from gep.algorithms.sar.unwrap import default_reference
from gep.algorithms.sar.unwrap import unwrap as unwrap_phase
from gep.core.errors import InvalidInput
from gep.core.sar import SwathGeometry, TopsBurst

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
C64 = NDArray[np.complex64]
Window = tuple[int, int, int, int]
Progress = Callable[[float, str], None]

#: samples of margin around the area, and around the secondary's mapped window
AREA_MARGIN = 64
SECONDARY_MARGIN = 48
#: smallest useful range window (the refinement's chips need 64 + margins)
MIN_SAMPLES = 160
#: ESD windows (lines × samples) and the double-difference coherence a window must reach
ESD_LOOKS = (8, 32)
ESD_MIN_COHERENCE = 0.3


@dataclass(frozen=True)
class BurstPlan:
    """What to read of one reference/secondary burst pair (windows are burst-relative)."""

    reference: TopsBurst
    secondary: TopsBurst
    reference_window: Window
    secondary_window: Window


@dataclass
class BurstPair:
    plan: BurstPlan
    reference_data: C64
    secondary_data: C64


@dataclass(frozen=True)
class OverlapEsd:
    """ESD on one burst overlap: the shift it measured and the phase step left after it."""

    swath: str
    bursts: tuple[str, str]
    windows: int  # coherent ESD windows used
    shift_px: float  # misregistration this overlap saw before the ESD correction
    residual_phase: float  # rad, mean double-difference phase after the correction


@dataclass
class TopsDinsarResult:
    grid: GeoGrid
    geocoded: dict[str, F32]
    refinement: Refinement
    esd_shift: float  # px added to the azimuth offsets by ESD
    overlaps: list[OverlapEsd]
    #: mean phase difference (rad) between two sub-swaths where both are valid and coherent
    swath_boundaries: dict[str, float]
    wavelength: float
    looks: tuple[int, int]
    reference_geometry: SwathGeometry
    secondary_geometry: SwathGeometry
    swath_geometries: dict[str, SwathGeometry] = field(default_factory=dict)


def _noop(fraction: float, message: str) -> None:
    return None


def _valid(burst: TopsBurst) -> Window:
    return (
        burst.first_valid_line,
        burst.first_valid_sample,
        burst.last_valid_line - burst.first_valid_line + 1,
        burst.last_valid_sample - burst.first_valid_sample + 1,
    )


def _area_points(area: BaseGeometry) -> tuple[F64, F64]:
    ring = (
        np.asarray(area.envelope.exterior.coords)
        if area.area > 0
        else np.asarray(area.envelope.coords)
    )
    return np.r_[ring[:, 1], area.centroid.y], np.r_[ring[:, 0], area.centroid.x]


def _reference_window(
    burst: TopsBurst, area: BaseGeometry | None, dem: Dem | float
) -> Window | None:
    """All valid lines (ESD needs the overlaps) × the valid samples that cover the area."""
    l0, s0, nl, ns = _valid(burst)
    if area is None:
        return l0, s0, nl, ns
    lat, lon = _area_points(area)
    line, sample = lonlat_to_radar(burst.geometry, lat, lon, dem)
    if line.max() < l0 or line.min() > l0 + nl - 1:
        return None
    if sample.max() < s0 or sample.min() > s0 + ns - 1:
        return None
    a = max(s0, int(np.floor(sample.min())) - AREA_MARGIN)
    b = min(s0 + ns, int(np.ceil(sample.max())) + AREA_MARGIN + 1)
    if b - a < MIN_SAMPLES:  # widen around the middle, within the valid samples
        mid = (a + b) // 2
        a = max(s0, mid - MIN_SAMPLES // 2)
        b = min(s0 + ns, a + MIN_SAMPLES)
        a = max(s0, b - MIN_SAMPLES)
    return l0, a, nl, b - a


def _ground(burst: TopsBurst, lines: F64, samples: F64, dem: Dem | float) -> tuple[F64, F64]:
    g = burst.geometry
    lat, lon, _, _ = rdr2geo(radar_times(g, lines), g.slant_range(samples), g.orbit, dem)
    return lat, lon


def _match(
    ref: TopsBurst, window: Window, candidates: Sequence[TopsBurst], dem: Dem | float
) -> tuple[TopsBurst, F64] | None:
    """The secondary burst that sees the middle of ``ref``'s window nearest its own middle,
    and the samples of that burst where the window's corners fall."""
    l0, s0, nl, ns = window
    corner_l = np.array([l0, l0, l0 + nl - 1, l0 + nl - 1, l0 + nl / 2], "float64")
    corner_s = np.array([s0, s0 + ns - 1, s0, s0 + ns - 1, s0 + ns / 2], "float64")
    lat, lon = _ground(ref, corner_l, corner_s, dem)
    best: tuple[float, TopsBurst, F64] | None = None
    for cand in candidates:
        if cand.geometry.swath != ref.geometry.swath:
            continue
        if ref.burst_id and cand.burst_id and ref.burst_id != cand.burst_id:
            continue
        line, sample = lonlat_to_radar(cand.geometry, lat, lon, dem)
        miss = abs(float(line[-1]) - cand.geometry.lines / 2)
        if miss < cand.geometry.lines / 2 and (best is None or miss < best[0]):
            best = (miss, cand, sample)
    return None if best is None else (best[1], best[2])


def _unique(bursts: Sequence[TopsBurst]) -> list[TopsBurst]:
    """One burst per ground position: consecutive slices of a pass may repeat a burst."""
    seen: set[tuple[str, str]] = set()
    out = []
    for b in sorted(bursts, key=lambda b: (b.geometry.swath, b.geometry.first_line_time)):
        key = (
            b.geometry.swath,
            b.burst_id or np.datetime_as_string(b.geometry.first_line_time, "s"),
        )
        if key not in seen:
            seen.add(key)
            out.append(b)
    return out


def plan_burst_pairs(
    reference: Sequence[TopsBurst],
    secondary: Sequence[TopsBurst],
    area: BaseGeometry | None,
    dem: Dem | float,
) -> list[BurstPlan]:
    """The burst pairs that cover ``area`` (lon/lat), across sub-swaths and slices.

    Bursts are matched by ESA burst id where both products carry one, and always by geometry
    (the secondary burst must see the reference burst's middle); each secondary window covers
    its reference window mapped through the orbits, with a margin for the resampler.
    """
    plans: list[BurstPlan] = []
    sec = _unique(secondary)
    for ref in _unique(reference):
        window = _reference_window(ref, area, dem)
        if window is None:
            continue
        found = _match(ref, window, sec, dem)
        if found is None:
            continue
        cand, sample = found
        a = max(0, int(np.floor(sample.min())) - SECONDARY_MARGIN)
        b = min(cand.geometry.samples, int(np.ceil(sample.max())) + SECONDARY_MARGIN + 1)
        if b - a < MIN_SAMPLES // 2:
            continue
        plans.append(BurstPlan(ref, cand, window, (0, a, cand.geometry.lines, b - a)))
    if not plans:
        raise InvalidInput(
            "no burst of the reference meets the area to process with a matching burst of the "
            "secondary (different tracks, or an area outside the products' bursts)",
            field="inputs.aoi",
        )
    return plans


@dataclass
class _Prepared:
    """One burst pair on its way through coregistration."""

    pair: BurstPair
    geo: RadarGeometry
    ref_geom: SwathGeometry
    sec_geom: SwathGeometry
    ref_bb: C64
    sec_bb: C64
    resampled: C64 | None = None

    @property
    def swath(self) -> str:
        return self.pair.plan.reference.geometry.swath

    @property
    def start_time(self) -> np.datetime64:
        return self.ref_geom.first_line_time


def _prepare(pair: BurstPair, dem: Dem | float, wavelength: float, deramp: bool) -> _Prepared:
    p = pair.plan
    l0, s0, nl, ns = p.reference_window
    sl0, ss0, snl, sns = p.secondary_window
    if pair.reference_data.shape != (nl, ns) or pair.secondary_data.shape != (snl, sns):
        raise ValueError(f"burst {p.reference.burst_id}: data and windows disagree in shape")
    ref_geom = crop_geometry(p.reference.geometry, l0, s0, nl, ns)
    sec_geom = crop_geometry(p.secondary.geometry, sl0, ss0, snl, sns)
    geo = radar_geometry(ref_geom, sec_geom, dem, range_difference=False, wavelength=wavelength)
    if deramp:
        ref_bb = deramp_burst(pair.reference_data, p.reference, (l0, s0))
        sec_bb = deramp_burst(pair.secondary_data, p.secondary, (sl0, ss0))
    else:
        ref_bb = np.asarray(pair.reference_data, np.complex64)
        sec_bb = np.asarray(pair.secondary_data, np.complex64)
    return _Prepared(pair, geo, ref_geom, sec_geom, ref_bb, sec_bb)


def _pooled(refinements: list[Refinement]) -> Refinement:
    n = np.array([r.chips for r in refinements], "float64")
    if n.sum() <= 0:
        raise ValueError("no burst could be refined")
    az = float(np.sum(n * [r.azimuth for r in refinements]) / n.sum())
    rg = float(np.sum(n * [r.range for r in refinements]) / n.sum())
    err_az = float(np.sqrt(np.sum(n * [r.azimuth_std**2 for r in refinements]) / n.sum()))
    err_rg = float(np.sqrt(np.sum(n * [r.range_std**2 for r in refinements]) / n.sum()))
    return Refinement(az, rg, int(n.sum()), err_az, err_rg)


def _runs(rows: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.flatnonzero(np.diff(np.r_[0, rows.astype(np.int8), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _resample(
    prep: _Prepared,
    az_extra: float,
    rg_extra: float,
    deramp: bool,
    rows: NDArray[np.bool_] | None = None,
) -> C64:
    """The secondary on the reference window, ramp restored where it now lies; only the
    reference lines ``rows`` selects when given (the burst overlaps, for ESD), zero elsewhere:
    each run of them is resampled from just the secondary lines it needs."""
    nl, ns = prep.geo.azimuth_offset.shape
    out = np.zeros((nl, ns), np.complex64)
    for r0, r1 in [(0, nl)] if rows is None else _runs(rows):
        out[r0:r1] = _resample_rows(prep, az_extra, rg_extra, deramp, r0, r1)
    return out


def _resample_rows(
    prep: _Prepared, az_extra: float, rg_extra: float, deramp: bool, r0: int, r1: int
) -> C64:
    az = prep.geo.azimuth_offset[r0:r1] + np.float32(az_extra)
    rg = prep.geo.range_offset[r0:r1] + np.float32(rg_extra)
    sh, sw = prep.sec_bb.shape
    # the secondary lines these rows map to, with the interpolator's reach
    lo = max(int(np.floor(np.nanmin(az))) + r0 - 8, 0)
    hi = min(int(np.ceil(np.nanmax(az))) + r1 + 8, sh)
    # the resampler's output has its input's shape: work on a canvas holding both
    n, ns = az.shape
    canvas = np.zeros((max(n, hi - lo), max(ns, sw)), np.complex64)
    canvas[: hi - lo, :sw] = prep.sec_bb[lo:hi]
    az_c = np.full(canvas.shape, np.nan, np.float32)
    rg_c = np.full(canvas.shape, np.nan, np.float32)
    az_c[:n, :ns] = az + np.float32(r0 - lo)  # relative to the canvas's first line
    rg_c[:n, :ns] = rg
    out = resample(canvas, az_c, rg_c)[:n, :ns]
    if deramp:
        sl0, ss0, _, _ = prep.pair.plan.secondary_window
        idx = np.arange(r0, r1, dtype=np.int64)
        out = reramp_at(out, prep.pair.plan.secondary, (sl0, ss0), az, rg, idx)
    return out


def _overlap_rows(a: _Prepared, b: _Prepared) -> tuple[NDArray[np.intp], NDArray[np.intp]] | None:
    """Rows of ``a``'s and ``b``'s windows that see the same azimuth times (nearest line)."""
    ati = a.ref_geom.azimuth_time_interval
    dt = float((b.start_time - a.start_time) / np.timedelta64(1, "ns")) * 1e-9
    shift = round(dt / ati)  # b's row 0 is a's row `shift`
    na, nb = a.ref_geom.lines, b.ref_geom.lines
    first, last = max(shift, 0), min(na, shift + nb)
    if last - first < 2:
        return None
    rows_a = np.arange(first, last)
    return rows_a, rows_a - shift


def _common_columns(a: _Prepared, b: _Prepared) -> tuple[slice, slice] | None:
    sa, sb = a.pair.plan.reference_window[1], b.pair.plan.reference_window[1]
    lo = max(sa, sb) + 8
    hi = min(sa + a.ref_geom.samples, sb + b.ref_geom.samples) - 8
    if hi - lo < ESD_LOOKS[1]:
        return None
    return slice(lo - sa, hi - sa), slice(lo - sb, hi - sb)


def _ifg(prep: _Prepared, rows: NDArray[np.intp], cols: slice) -> C64:
    assert prep.resampled is not None and prep.geo.phase is not None
    ref = prep.pair.reference_data[rows, cols]
    sec = prep.resampled[rows, cols]
    return (ref * np.conj(sec) * np.exp(-1j * prep.geo.phase[rows, cols])).astype(np.complex64)


def _esd_pairs(preps: list[_Prepared]) -> list[tuple[_Prepared, _Prepared]]:
    out = []
    by_swath: dict[str, list[_Prepared]] = {}
    for p in preps:
        by_swath.setdefault(p.swath, []).append(p)
    for group in by_swath.values():
        group.sort(key=lambda p: p.start_time)
        out += [(a, b) for a, b in pairwise(group) if _overlap_rows(a, b)]
    return out


def _esd_overlap(a: _Prepared, b: _Prepared) -> tuple[F64, F64, F64] | None:
    """Per ESD window: double-difference phase, Doppler difference (Hz), coherence."""
    rows = _overlap_rows(a, b)
    cols = _common_columns(a, b)
    if rows is None or cols is None:
        return None
    ra, rb = rows
    dd = _ifg(a, ra, cols[0]) * np.conj(_ifg(b, rb, cols[1]))
    la, lr = ESD_LOOKS
    la = min(la, dd.shape[0])
    z = multilook(dd, (la, lr))
    power = multilook(np.abs(dd).astype(np.float32), (la, lr))
    coh = np.where(power > 0, np.abs(z) / np.where(power > 0, power, 1.0), 0.0)
    al0, as0 = a.pair.plan.reference_window[:2]
    bl0, bs0 = b.pair.plan.reference_window[:2]
    lines_a = (al0 + ra).astype("float64")[:, None]
    lines_b = (bl0 + rb).astype("float64")[:, None]
    samp_a = (as0 + np.arange(cols[0].start, cols[0].stop)).astype("float64")[None, :]
    samp_b = (bs0 + np.arange(cols[1].start, cols[1].stop)).astype("float64")[None, :]
    df = doppler_centroid(a.pair.plan.reference, lines_a, samp_a) - doppler_centroid(
        b.pair.plan.reference, lines_b, samp_b
    )
    df_ml = multilook(df.astype(np.float32), (la, lr))
    return np.angle(z).ravel(), df_ml.ravel().astype("float64"), coh.ravel()


def _esd_estimate(
    overlaps: list[tuple[_Prepared, _Prepared]],
) -> tuple[float, list[tuple[int, float, float]]]:
    """The azimuth shift (s) all overlaps agree on, and per overlap (windows, shift, phase)."""
    per: list[tuple[int, float, float]] = []
    shifts, weights = [], []
    for a, b in overlaps:
        found = _esd_overlap(a, b)
        if found is None:
            per.append((0, float("nan"), float("nan")))
            continue
        phase, df, coh = found
        keep = (coh >= ESD_MIN_COHERENCE) & (np.abs(df) > 100.0)
        if keep.sum() < 3:
            per.append((int(keep.sum()), float("nan"), float("nan")))
            continue
        dt = phase[keep] / (2.0 * np.pi * df[keep])
        med = np.median(dt)
        mad = 1.4826 * np.median(np.abs(dt - med)) + 1e-12
        ok = np.abs(dt - med) <= 3 * mad
        w = coh[keep][ok] ** 2 / np.maximum(1.0 - coh[keep][ok] ** 2, 1e-3)
        est = float(np.sum(w * dt[ok]) / np.sum(w))
        # the phase step itself: the coherent mean of the double difference
        step = float(np.angle(np.sum(coh[keep] * np.exp(1j * phase[keep]))))
        per.append((int(ok.sum()), est, step))
        shifts.append(est)
        weights.append(float(np.sum(w)))
    if not shifts:
        return 0.0, per
    return float(np.average(shifts, weights=weights)), per


def _swath_grid(
    preps: list[_Prepared],
) -> tuple[SwathGeometry, int, dict[int, tuple[int, int, int]]]:
    """A sub-swath's continuous grid, its first sample (burst coordinates), and for each burst
    (index in ``preps``) the swath line of its row 0, the first row it contributes and the
    row it stops at (overlaps cut in the middle)."""
    preps_sorted = sorted(range(len(preps)), key=lambda k: preps[k].start_time)
    first = preps[preps_sorted[0]]
    ati = first.ref_geom.azimuth_time_interval
    s_lo = min(p.pair.plan.reference_window[1] for p in preps)
    s_hi = max(p.pair.plan.reference_window[1] + p.ref_geom.samples for p in preps)
    starts = {}
    for k in preps_sorted:
        dt = float((preps[k].start_time - first.start_time) / np.timedelta64(1, "ns")) * 1e-9
        starts[k] = round(dt / ati)
    spans: dict[int, tuple[int, int, int]] = {}
    for pos, k in enumerate(preps_sorted):
        begin, end = 0, preps[k].ref_geom.lines
        if pos > 0:  # cut the overlap with the previous burst in its middle
            prev = preps_sorted[pos - 1]
            prev_end = starts[prev] + preps[prev].ref_geom.lines
            if prev_end > starts[k]:
                begin = (prev_end - starts[k]) // 2
        if pos + 1 < len(preps_sorted):
            nxt = preps_sorted[pos + 1]
            here_end = starts[k] + end
            if here_end > starts[nxt]:
                end = end - (here_end - starts[nxt]) + (here_end - starts[nxt]) // 2
        spans[k] = (starts[k], begin, end)
    total = max(starts[k] + preps[k].ref_geom.lines for k in preps_sorted)
    base = first.pair.plan.reference.geometry
    geom = crop_geometry(base, first.pair.plan.reference_window[0], s_lo, total, s_hi - s_lo)
    return geom, s_lo, spans


def _deburst(
    preps: list[_Prepared], looks: tuple[int, int]
) -> tuple[SwathGeometry, C64, F32, F32, F32]:
    """One sub-swath's multilooked interferogram, coherence, reference amplitude and
    secondary power (coregistered) on its own grid."""
    geom, s_lo, spans = _swath_grid(preps)
    ref = np.zeros((geom.lines, geom.samples), np.complex64)
    sec = np.zeros_like(ref)
    phase = np.zeros(ref.shape, np.float32)
    for k, (start, begin, end) in spans.items():
        p = preps[k]
        assert p.resampled is not None and p.geo.phase is not None
        c0 = p.pair.plan.reference_window[1] - s_lo
        rows = slice(start + begin, start + end)
        cols = slice(c0, c0 + p.ref_geom.samples)
        ref[rows, cols] = p.pair.reference_data[begin:end]
        sec[rows, cols] = p.resampled[begin:end]
        phase[rows, cols] = p.geo.phase[begin:end]
    ifg, coh, amp = interferogram_multilook(ref, sec, looks, phase)
    post = multilook((sec.real**2 + sec.imag**2).astype(np.float32), looks)
    return geom, ifg, coh, amp, post


def _grid_for(
    geoms: list[SwathGeometry], dem: Dem | float, looks: tuple[int, int], spacing: float | None
) -> GeoGrid:
    lats, lons = [], []
    for g in geoms:
        ramp_l, ramp_s = np.linspace(0, g.lines - 1, 9), np.linspace(0, g.samples - 1, 9)
        el = np.r_[ramp_l, np.zeros(9), ramp_l, np.full(9, g.lines - 1)]
        es = np.r_[np.zeros(9), ramp_s, np.full(9, g.samples - 1), ramp_s]
        lat, lon, _, _ = rdr2geo(radar_times(g, el), g.slant_range(es), g.orbit, dem)
        lats.append(lat)
        lons.append(lon)
    step = spacing or spacing_for_looks(geoms[0], looks, geoms[0].incidence_angle_mid)
    return GeoGrid.covering(np.concatenate(lats), np.concatenate(lons), step)


#: the smallest output grid (nodes a side) an area is widened to: unwrapping needs room
MIN_GRID = 48


def crop_grid(grid: GeoGrid, bounds: tuple[float, float, float, float]) -> GeoGrid:
    """The nodes of ``grid`` inside ``bounds`` (widened to :data:`MIN_GRID` nodes a side)."""
    w, s, e, n = bounds
    step_lat = abs(grid.dlat)
    i0, i1 = int(np.ceil((grid.lat0 - n) / step_lat)), int(np.floor((grid.lat0 - s) / step_lat))
    j0, j1 = int(np.ceil((w - grid.lon0) / grid.dlon)), int(np.floor((e - grid.lon0) / grid.dlon))
    i0, i1 = max(i0, 0), min(i1, grid.rows - 1)
    j0, j1 = max(j0, 0), min(j1, grid.cols - 1)
    if i1 < i0 or j1 < j0:
        raise InvalidInput("the area to process lies outside the bursts", field="inputs.aoi")

    def widen(a: int, b: int, size: int) -> tuple[int, int]:
        if b - a + 1 >= min(MIN_GRID, size):
            return a, b
        mid = (a + b) // 2
        a = max(0, min(mid - MIN_GRID // 2, size - MIN_GRID))
        return a, min(size - 1, a + MIN_GRID - 1)

    i0, i1 = widen(i0, i1, grid.rows)
    j0, j1 = widen(j0, j1, grid.cols)
    return GeoGrid(
        grid.lat0 + i0 * grid.dlat, grid.lon0 + j0 * grid.dlon, grid.dlat, grid.dlon,
        i1 - i0 + 1, j1 - j0 + 1,
    )  # fmt: skip


def tops_dinsar(
    pairs: Sequence[BurstPair],
    dem: Dem | float,
    *,
    looks: tuple[int, int] = (4, 16),
    alpha: float = 0.5,
    unwrap: bool = True,
    unwrap_method: str = "gep",
    reference_lonlat: tuple[float, float] | None = None,
    spacing: float | None = None,
    grid: GeoGrid | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    refine_azimuth: bool = True,
    esd: bool = True,
    deramp: bool = True,
    progress: Progress = _noop,
) -> TopsDinsarResult:
    """Run the burst chain (see the module docstring); ``looks`` are (azimuth, range).

    The output grid is ``grid``, else the one covering the bursts, cut to ``bounds``
    (west, south, east, north: the area asked for, which the DEM covers) when given: the
    bursts' lines beyond the area are read for ESD, not published.

    ``refine_azimuth=False`` keeps only the range part of the cross-correlation refinement
    (the orbits alone place the secondary in azimuth, for ESD to correct), ``esd=False`` skips
    the spectral-diversity correction and ``deramp=False`` the deramping: the tests switch
    them off one at a time to show what each step contributes.
    """
    if not pairs:
        raise InvalidInput("no burst pair to process", field="inputs.aoi")
    first = pairs[0].plan.reference.geometry
    wavelength = first.wavelength
    progress(
        0.02,
        f"geometry of {len(pairs)} burst pair(s) from the orbits and the DEM; "
        + ("deramping the bursts (TOPS)" if deramp else "no deramping"),
    )
    preps = [_prepare(p, dem, wavelength, deramp) for p in pairs]
    progress(0.25, "coregistration: cross-correlation refinement")
    refinement = _pooled(
        [
            refine_offsets(p.ref_bb, p.sec_bb, p.geo.azimuth_offset, p.geo.range_offset)
            for p in preps
        ]
    )
    if not refine_azimuth:
        refinement = replace(refinement, azimuth=0.0, azimuth_std=0.0)
    overlaps = _esd_pairs(preps)
    shift_s = 0.0
    per: list[tuple[int, float, float]] = [(0, float("nan"), float("nan"))] * len(overlaps)
    ati = first.azimuth_time_interval
    if esd and overlaps:
        progress(0.40, f"enhanced spectral diversity on {len(overlaps)} burst overlap(s)")
        in_overlap = {id(p): np.zeros(p.ref_geom.lines, bool) for p in preps}
        for a, b in overlaps:
            rows = _overlap_rows(a, b)
            assert rows is not None
            in_overlap[id(a)][rows[0]] = True
            in_overlap[id(b)][rows[1]] = True
        for step in range(2):  # the second pass measures what the first left
            for p in preps:  # only the overlaps are needed to measure
                p.resampled = _resample(
                    p, refinement.azimuth + shift_s / ati, refinement.range, deramp,
                    rows=in_overlap[id(p)],
                )  # fmt: skip
            delta, per_pass = _esd_estimate(overlaps)
            if step == 0:
                per = per_pass
            shift_s += delta
    progress(0.50, "resampling the secondary bursts")
    for p in preps:
        p.resampled = _resample(p, refinement.azimuth + shift_s / ati, refinement.range, deramp)
    residual = _esd_estimate(overlaps)[1] if overlaps else []
    esd_report = [
        OverlapEsd(
            swath=a.swath,
            bursts=(a.pair.plan.reference.burst_id, b.pair.plan.reference.burst_id),
            windows=per[k][0],
            shift_px=per[k][1] / ati if np.isfinite(per[k][1]) else float("nan"),
            residual_phase=residual[k][2] if residual else float("nan"),
        )
        for k, (a, b) in enumerate(overlaps)
    ]
    progress(0.55, "debursting: interferogram, coherence and multilooking per sub-swath")
    swaths: dict[str, list[_Prepared]] = {}
    for p in preps:
        swaths.setdefault(p.swath, []).append(p)
    stitched = {name: _deburst(group, looks) for name, group in sorted(swaths.items())}
    for p in preps:  # the full-resolution arrays are no longer needed
        p.resampled = None
    progress(0.65, "geocoding and merging the sub-swaths")
    geoms = [s[0] for s in stitched.values()]
    out_grid = grid or _grid_for(geoms, dem, looks, spacing)
    if grid is None and bounds is not None:
        out_grid = crop_grid(out_grid, bounds)
    shape = (out_grid.rows, out_grid.cols)
    z_sum = np.zeros(shape, np.complex128)
    coh_sum = np.zeros(shape)
    amp_sum = np.zeros(shape)
    post_sum = np.zeros(shape)
    count = np.zeros(shape)
    layers: dict[str, tuple[NDArray[np.complex128], F64]] = {}
    for name, (geom, ifg, coh, amp, post) in stitched.items():
        line, sample = radar_coordinates(out_grid, geom, dem)
        re = geocode(ifg.real.astype("float32"), line, sample, looks)
        im = geocode(ifg.imag.astype("float32"), line, sample, looks)
        c = geocode(coh, line, sample, looks)
        amp_g = geocode(amp, line, sample, looks)
        post_g = geocode(post, line, sample, looks)
        ok = np.isfinite(re) & np.isfinite(im) & np.isfinite(c) & (c > 0)
        z = np.where(ok, re + 1j * im, 0)
        layers[name] = (z, np.where(ok, c, 0.0))
        z_sum += z
        coh_sum += np.where(ok, c, 0)
        amp_sum += np.where(ok, amp_g, 0)
        post_sum += np.where(ok, post_g, 0)
        count += ok
    boundaries = {}
    names = sorted(layers)
    for n1, n2 in pairwise(names):
        (z1, c1), (z2, c2) = layers[n1], layers[n2]
        both = (c1 > 0.5) & (c2 > 0.5)
        if both.sum() >= 10:
            boundaries[f"{n1}|{n2}"] = float(np.angle(np.sum((z1 * np.conj(z2))[both])))
    valid = count > 0
    if not valid.any():
        raise InvalidInput("the bursts do not cover the output grid", field="inputs.aoi")
    n = np.where(valid, count, 1)
    ifg_geo = np.where(valid, z_sum / n, 0).astype(np.complex64)
    coh_geo = np.where(valid, coh_sum / n, 0).astype(np.float32)
    amp_geo = np.where(valid, amp_sum / n, np.nan).astype(np.float32)
    post_geo = np.where(valid, post_sum / n, np.nan).astype(np.float32)
    if alpha > 0:
        progress(0.70, f"Goldstein filter (alpha {alpha})")
        ifg_geo = np.where(valid, goldstein(ifg_geo, alpha=alpha), 0).astype(np.complex64)
    nan = np.float32(np.nan)
    geocoded: dict[str, F32] = {
        "wrapped_phase": np.where(valid, np.angle(ifg_geo), nan).astype(np.float32),
        "coherence": np.where(valid, coh_geo, nan).astype(np.float32),
        "amplitude": amp_geo,
        # multilooked powers (linear) of the reference and the coregistered secondary: what
        # the coin service compares
        "intensity_pre": (amp_geo * amp_geo).astype(np.float32),
        "intensity_post": post_geo,
    }
    if unwrap:
        progress(0.75, f"unwrapping ({unwrap_method})")
        if reference_lonlat is not None:
            row = round((reference_lonlat[1] - out_grid.lat0) / out_grid.dlat)
            col = round((reference_lonlat[0] - out_grid.lon0) / out_grid.dlon)
            if not (0 <= row < shape[0] and 0 <= col < shape[1]) or not valid[row, col]:
                raise InvalidInput(
                    "inputs.reference_point lies outside the processed area",
                    field="inputs.reference_point",
                )
            ref_px = (row, col)
        else:
            ref_px = default_reference(coh_geo, valid & (coh_geo > 0))
        unw = unwrap_phase(
            ifg_geo, coh_geo, method=unwrap_method, reference=ref_px,  # type: ignore[arg-type]
            nlooks=float(looks[0] * looks[1]), mask=valid,
        )  # fmt: skip
        geocoded["unwrapped_phase"] = unw
        geocoded["los_displacement"] = phase_to_los(unw, wavelength)
    progress(1.0, "done")
    p0 = preps[0]
    return TopsDinsarResult(
        grid=out_grid,
        geocoded=geocoded,
        refinement=refinement,
        esd_shift=shift_s / ati,
        overlaps=esd_report,
        swath_boundaries=boundaries,
        wavelength=wavelength,
        looks=looks,
        reference_geometry=p0.ref_geom,
        secondary_geometry=p0.sec_geom,
        swath_geometries={k: v[0] for k, v in stitched.items()},
    )
