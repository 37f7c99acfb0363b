"""Radar ↔ ground geometry: ellipsoid conversions, DEM lookup, rdr2geo and geo2rdr.

These are the range-Doppler equations for zero-Doppler SAR products (Sentinel-1 SLCs are
focused to zero Doppler): a ground point is imaged at the time its range to the satellite is
stationary ((X − P(t))·V(t) = 0), at that range. Both the simulator and the DInSAR chain use
them, so the synthetic flat-earth and topographic phase the chain removes is computed the
same way the simulator put it in; the test of the chain is then a test of everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from gep.algorithms.sar.orbit import HERMITE_REACH_S, interpolate_orbit_s, seconds_since
from gep.core.sar import StateVectors, SwathGeometry

F64 = NDArray[np.float64]
#: geo2rdr on more points than this tabulates the orbit first
SMALL_GEO2RDR = 2000

WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
WGS84_B = WGS84_A * (1 - WGS84_F)
WGS84_E2 = WGS84_F * (2 - WGS84_F)
WGS84_EP2 = WGS84_E2 / (1 - WGS84_E2)


def llh_to_ecef(lat: ArrayLike, lon: ArrayLike, h: ArrayLike) -> F64:
    """Geodetic latitude, longitude (degrees) and ellipsoidal height (m) → ECEF (..., 3)."""
    la, lo = np.radians(np.asarray(lat, "float64")), np.radians(np.asarray(lon, "float64"))
    hh = np.asarray(h, "float64")
    n = WGS84_A / np.sqrt(1 - WGS84_E2 * np.sin(la) ** 2)
    x = (n + hh) * np.cos(la) * np.cos(lo)
    y = (n + hh) * np.cos(la) * np.sin(lo)
    z = (n * (1 - WGS84_E2) + hh) * np.sin(la)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_llh(xyz: ArrayLike) -> tuple[F64, F64, F64]:
    """ECEF (..., 3) → geodetic latitude, longitude (degrees), height (m).

    Bowring's formula followed by one refinement: sub-millimetre in height for points near
    the Earth's surface, with no loop over points.
    """
    v = np.asarray(xyz, "float64")
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    p = np.hypot(x, y)
    th = np.arctan2(z * WGS84_A, p * WGS84_B)
    lat = np.arctan2(
        z + WGS84_EP2 * WGS84_B * np.sin(th) ** 3, p - WGS84_E2 * WGS84_A * np.cos(th) ** 3
    )
    for _ in range(2):
        n = WGS84_A / np.sqrt(1 - WGS84_E2 * np.sin(lat) ** 2)
        h = p / np.cos(lat) - n
        lat = np.arctan2(z, p * (1 - WGS84_E2 * n / (n + h)))
    n = WGS84_A / np.sqrt(1 - WGS84_E2 * np.sin(lat) ** 2)
    h = p / np.cos(lat) - n
    return np.degrees(lat), np.degrees(np.arctan2(y, x)), h


@dataclass(frozen=True)
class Dem:
    """Heights above the WGS84 ellipsoid on a regular latitude/longitude grid.

    ``lat0``/``lon0`` are the centre of pixel (0, 0); ``dlat`` is negative for a north-up
    grid. Heights referred to a geoid (EGM96 in Copernicus DEMs) must be converted by the
    caller (``geoid_offset`` adds a constant undulation, enough over a scene-sized area).
    """

    heights: F64
    lat0: float
    lon0: float
    dlat: float
    dlon: float

    @classmethod
    def flat(cls, height: float, lat: tuple[float, float], lon: tuple[float, float]) -> Dem:
        """A constant-height DEM over a box, for synthetic scenes without topography."""
        return cls(np.full((2, 2), float(height)), lat[1], lon[0], lat[0] - lat[1], lon[1] - lon[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the pixel centres."""
        rows, cols = self.heights.shape
        lats = (self.lat0, self.lat0 + (rows - 1) * self.dlat)
        lons = (self.lon0, self.lon0 + (cols - 1) * self.dlon)
        return min(lons), min(lats), max(lons), max(lats)

    def covers(self, lat: ArrayLike, lon: ArrayLike) -> bool:
        w, s, e, n = self.bounds
        la, lo = np.asarray(lat), np.asarray(lon)
        return bool(np.all((la >= s) & (la <= n) & (lo >= w) & (lo <= e)))

    def height_at(self, lat: ArrayLike, lon: ArrayLike) -> F64:
        """Bilinear heights; points off the grid take the nearest edge value.

        Clamping (rather than NaN) keeps rdr2geo iterations alive near the edge; callers
        check coverage with :meth:`covers` before they trust a result.
        """
        la, lo = np.asarray(lat, "float64"), np.asarray(lon, "float64")
        r = (la - self.lat0) / self.dlat
        c = (lo - self.lon0) / self.dlon
        rows, cols = self.heights.shape
        r = np.clip(r, 0, rows - 1)
        c = np.clip(c, 0, cols - 1)
        out = ndimage.map_coordinates(self.heights, [r.ravel(), c.ravel()], order=1, mode="nearest")
        return out.reshape(la.shape)


def radar_times(geom: SwathGeometry, lines: ArrayLike) -> F64:
    """Seconds after the first orbit vector of (fractional) ``lines`` of ``geom``."""
    t0 = seconds_since(np.atleast_1d(geom.first_line_time), geom.orbit.time[0])[0]
    return np.asarray(t0 + np.asarray(lines, "float64") * geom.azimuth_time_interval)


def rdr2geo(
    t: ArrayLike,
    rng: ArrayLike,
    orbit: StateVectors,
    dem: Dem | float,
    *,
    iterations: int = 30,
    tol: float = 1e-3,
) -> tuple[F64, F64, F64, F64]:
    """Ground point (lat, lon, h, xyz) seen at time ``t`` (s after the first vector), range ``rng``.

    Right-looking, zero Doppler. The target lies on the circle of points at range ``rng`` in
    the plane normal to the velocity; its geocentric radius is found by fixed-point iteration
    on the DEM height (secant steps), which converges wherever the terrain is not in layover.
    """
    tt, rr = np.broadcast_arrays(np.asarray(t, "float64"), np.asarray(rng, "float64"))
    p_sat, v_sat = interpolate_orbit_s(orbit, tt)
    ps = np.linalg.norm(p_sat, axis=-1)
    nhat = -p_sat / ps[..., None]
    chat = np.cross(nhat, v_sat)
    chat /= np.linalg.norm(chat, axis=-1)[..., None]
    that = np.cross(chat, nhat)
    nv = np.einsum("...i,...i->...", nhat, v_sat)
    tv = np.einsum("...i,...i->...", that, v_sat)
    _lat_s, _, h_s = ecef_to_llh(p_sat)
    h0 = float(dem) if not isinstance(dem, Dem) else float(np.nanmean(dem.heights))
    rt = ps - h_s + h0  # first guess: the satellite's nadir radius, raised to the mean height
    lat = lon = h = np.zeros_like(rr)
    xyz = p_sat
    rt_prev = g_prev = None
    for _ in range(iterations):
        cos_look = (ps**2 + rr**2 - rt**2) / (2 * ps * rr)
        a_n = rr * cos_look
        a_t = -a_n * nv / tv
        a_c = np.sqrt(np.maximum(rr**2 - a_n**2 - a_t**2, 0.0))
        xyz = p_sat + a_n[..., None] * nhat + a_t[..., None] * that + a_c[..., None] * chat
        lat, lon, h = ecef_to_llh(xyz)
        target = dem.height_at(lat, lon) if isinstance(dem, Dem) else np.full_like(h, h0)
        g = h - target
        if np.nanmax(np.abs(g)) < tol:
            break
        # secant on the target radius; a plain fixed point diverges on slopes facing the
        # radar steeper than the look angle allows
        step = g
        if rt_prev is not None and g_prev is not None:
            dg = g - g_prev
            ok = np.abs(dg) > 1e-9
            step = np.where(ok, g * (rt - rt_prev) / np.where(ok, dg, 1.0), g)
        rt_prev, g_prev = rt, g
        rt = rt - step
    return lat, lon, h, xyz


@dataclass(frozen=True)
class OrbitTable:
    """An orbit tabulated at a fine, regular step for fast per-pixel lookups.

    geo2rdr evaluates the orbit at a different time for every pixel; a Lagrange window per
    pixel and iteration is slow, while linear interpolation between 1 ms samples is off by
    only a·dt²/8 ≈ 1 µm (a ≈ 8 m/s²).
    """

    t0: float
    dt: float
    position: F64
    velocity: F64

    @classmethod
    def build(cls, orbit: StateVectors, t_min: float, t_max: float, dt: float = 1e-3) -> OrbitTable:
        n = int(np.ceil((t_max - t_min) / dt)) + 2
        t = np.minimum(t_min + dt * np.arange(n), t_max)
        pos, vel = interpolate_orbit_s(orbit, t)
        return cls(t_min, dt, pos, vel)

    def at(self, t: F64) -> tuple[F64, F64]:
        u = (t - self.t0) / self.dt
        n = self.position.shape[0]
        i = np.clip(np.floor(u).astype("int64"), 0, n - 2)
        f = (u - i)[..., None]
        pos = self.position[i] * (1 - f) + self.position[i + 1] * f
        vel = self.velocity[i] * (1 - f) + self.velocity[i + 1] * f
        return pos, vel


GM_EARTH = 3.986004418e14
OMEGA_EARTH = 7.2921151467e-5


def _ecef_acceleration(p: F64, v: F64) -> F64:
    """Acceleration of a satellite in the Earth-fixed frame: point-mass gravity, Coriolis and
    centrifugal terms (J2 and drag are a thousandth of it, irrelevant to a Newton step)."""
    r = np.linalg.norm(p, axis=-1)[..., None]
    acc = -GM_EARTH * p / r**3
    w = OMEGA_EARTH
    # Ω = (0, 0, ω): −2Ω×v = (2ω·vy, −2ω·vx, 0); −Ω×(Ω×p) = (ω²·px, ω²·py, 0)
    acc[..., 0] += 2 * w * v[..., 1] + w * w * p[..., 0]
    acc[..., 1] += -2 * w * v[..., 0] + w * w * p[..., 1]
    return acc


def geo2rdr(
    xyz: ArrayLike,
    orbit: StateVectors,
    t_guess: ArrayLike,
    *,
    span: tuple[float, float] | None = None,
    iterations: int = 8,
) -> tuple[F64, F64]:
    """Zero-Doppler time (s after the first vector) and slant range of ECEF points.

    Newton on f(t) = (X − P(t))·V(t), with f' = −|V|² + (X − P)·A; from a guess within
    seconds it converges to nanoseconds in three or four steps. ``span`` (seconds) bounds the
    tabulated orbit and the solution; by default the whole span of the state vectors.
    """
    x = np.asarray(xyz, "float64")
    t = np.array(np.broadcast_to(np.asarray(t_guess, "float64"), x.shape[:-1]))
    tv = seconds_since(orbit.time, orbit.time[0])
    reach = HERMITE_REACH_S if len(tv) < 4 else 0.0
    lo, hi = span if span is not None else (float(tv[0]) - reach, float(tv[-1]) + reach)
    lo, hi = max(lo, float(tv[0]) - reach), min(hi, float(tv[-1]) + reach)
    table = OrbitTable.build(orbit, lo, hi) if t.size > SMALL_GEO2RDR else None

    def at(times: F64) -> tuple[F64, F64]:
        # a few points: interpolating directly is cheaper than tabulating the orbit
        return table.at(times) if table is not None else interpolate_orbit_s(orbit, times)

    for _ in range(iterations):
        p_sat, v_sat = at(t)
        d = x - p_sat
        f = np.einsum("...i,...i->...", d, v_sat)
        # f' = −|V|² + (X − P)·A, with A the Earth-fixed acceleration (gravity, Coriolis,
        # centrifugal): Newton then converges in three or four steps instead of ten
        dfdt = np.einsum("...i,...i->...", d, _ecef_acceleration(p_sat, v_sat)) - np.einsum(
            "...i,...i->...", v_sat, v_sat
        )
        step = -f / dfdt
        t = np.clip(t + step, lo, hi)
        if np.max(np.abs(step)) < 1e-8:  # 10 ns: 0.07 mm along track, nothing in range
            break
    p_sat, _ = at(t)
    return t, np.linalg.norm(x - p_sat, axis=-1)


def incidence_and_heading(xyz: ArrayLike, orbit: StateVectors, t: ArrayLike) -> tuple[F64, F64]:
    """Ellipsoid incidence angle and LOS heading convention (degrees) at ground points.

    The heading returned is the platform flight azimuth (clockwise from north) at the
    zero-Doppler time, as :func:`gep.algorithms.models.project_los` expects.
    """
    x = np.asarray(xyz, "float64")
    p_sat, v_sat = interpolate_orbit_s(orbit, np.asarray(t, "float64"))
    lat, lon, _ = ecef_to_llh(x)
    la, lo = np.radians(lat), np.radians(lon)
    up = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
    east = np.stack([-np.sin(lo), np.cos(lo), np.zeros_like(lo)], axis=-1)
    north = np.cross(up, east)
    los = p_sat - x
    los /= np.linalg.norm(los, axis=-1)[..., None]
    inc = np.degrees(np.arccos(np.einsum("...i,...i->...", los, up)))
    ve = np.einsum("...i,...i->...", v_sat, east)
    vn = np.einsum("...i,...i->...", v_sat, north)
    heading = np.degrees(np.arctan2(ve, vn)) % 360.0
    return inc, heading


def crop_geometry(
    geom: SwathGeometry, line0: int, sample0: int, lines: int, samples: int
) -> SwathGeometry:
    """The geometry of a window of ``geom`` (line 0 and sample 0 move with the window)."""
    ns = np.timedelta64(round(line0 * geom.azimuth_time_interval * 1e9), "ns")
    return replace(
        geom,
        first_line_time=geom.first_line_time + ns,
        slant_range_time=geom.slant_range_time + sample0 / geom.range_sampling_rate,
        lines=lines,
        samples=samples,
    )


def lonlat_to_radar(
    geom: SwathGeometry, lat: ArrayLike, lon: ArrayLike, dem: Dem | float
) -> tuple[F64, F64]:
    """Full-resolution (line, sample) of ground points in ``geom``, at their DEM height.

    The zero-Doppler time is searched within the image's time span (±30 s); points outside
    the image come back with coordinates outside [0, lines) × [0, samples), for the caller to
    refuse or mask.
    """
    la = np.asarray(lat, "float64")
    lo = np.asarray(lon, "float64")
    h = dem.height_at(la, lo) if isinstance(dem, Dem) else np.full(la.shape, float(dem))
    t0 = float(radar_times(geom, 0.0))
    span = (t0 - 30.0, t0 + geom.lines * geom.azimuth_time_interval + 30.0)
    t, rng = geo2rdr(
        llh_to_ecef(la, lo, h), geom.orbit, float(radar_times(geom, geom.lines / 2)), span=span
    )
    line = (t - t0) / geom.azimuth_time_interval
    sample = (rng - geom.near_range) / geom.range_pixel_spacing
    return np.asarray(line), np.asarray(sample)


#: (orbit, seconds after its first vector, slant ranges in m) -> latitude, longitude, height,
#: incidence and elevation angles (degrees), shaped like the inputs: what a SAFE annotation's
#: geolocation grid holds (``gep.io.safe_writer`` takes one, being unable to import this layer)
Geolocate = Callable[[StateVectors, F64, F64], tuple[F64, F64, F64, F64, F64]]


def geolocation(dem: Dem | float) -> Geolocate:
    """A :data:`Geolocate` on ``dem``: rdr2geo, the ellipsoid incidence, and the elevation
    angle (between the line of sight and the satellite's nadir)."""

    def geolocate(orbit: StateVectors, t: F64, rng: F64) -> tuple[F64, F64, F64, F64, F64]:
        lat, lon, h, xyz = rdr2geo(t, rng, orbit, dem)
        incidence, _ = incidence_and_heading(xyz, orbit, t)
        p_sat, _ = interpolate_orbit_s(orbit, np.asarray(t, "float64"))
        los = xyz - p_sat
        cos_el = -np.einsum("...i,...i->...", los, p_sat) / (
            np.linalg.norm(los, axis=-1) * np.linalg.norm(p_sat, axis=-1)
        )
        elevation = np.degrees(np.arccos(np.clip(cos_el, -1.0, 1.0)))
        return lat, lon, h, incidence, elevation

    return geolocate
