"""Interferometric baselines between two acquisitions, the way ISCE2 computes them.

At a ground target (a burst's mid-range point, or a scene centre), as ISCE2's topsStack
``computeBaseline`` does: the reference position M at the target's zero-Doppler time on the
reference orbit, the secondary position S at its zero-Doppler time on the secondary orbit,
B = S − M decomposed along the reference line of sight l = (T − M)/|T − M|:

* parallel baseline   B∥ = B·l (positive when the secondary is nearer the target; ISCE2's
  B cos θ from the law of cosines is the same number);
* perpendicular       |B⊥| = |B − (B·l) l − (B·v) v|, with ISCE2's sign
  sign(((T − M) × B) · V_M).

One difference from ISCE2, on purpose: ISCE2 takes |B⊥| = √(|B|² − B∥²), which counts the
along-track part of B (orbits that are not quite parallel put S metres ahead of or behind M
in the two zero-Doppler planes) as perpendicular baseline. It changes no range, so it is
removed here, as GAMMA's TCN baselines do (T = 0); on the PyRate/GAMMA stack this is the
difference between agreeing with GAMMA to 0.3 m and missing it by up to 18 m.
ASF's published perpendicular baselines use the opposite sign (its "up-beam" axis is
V × (M − T)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.sar.geometry import _ecef_acceleration, geo2rdr
from gep.algorithms.sar.orbit import HERMITE_REACH_S, interpolate_orbit_s, seconds_since
from gep.core.sar import StateVectors

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Baseline:
    bperp: float  # m, ISCE2 sign
    bpar: float  # m
    btemp: float  # days, secondary minus reference


def baseline_at(target: F64, reference: StateVectors, secondary: StateVectors) -> Baseline:
    """Baselines of a pair at one ground target (ECEF, m).

    Both orbits must cover the target's zero-Doppler times (two-vector orbits may be
    extrapolated by up to ``HERMITE_REACH_S``).
    """
    (only,) = baselines_at(target, reference, [secondary])
    assert only is not None
    return only


def baselines_at(
    target: F64,
    reference: StateVectors,
    secondaries: Sequence[StateVectors],
    *,
    skip_errors: bool = False,
) -> list[Baseline | None]:
    """Baselines of many secondaries against one reference at one target.

    The reference's zero-Doppler geometry is solved once for the whole stack, and the
    secondaries that carry only a few vectors (catalogue records) are solved together. With
    ``skip_errors`` a secondary whose orbit does not see the target gives None instead of
    raising.
    """
    out: list[Baseline | None] = []
    for b in baseline_results(target, reference, secondaries):
        if isinstance(b, ValueError):
            if not skip_errors:
                raise b
            out.append(None)
        else:
            out.append(b)
    return out


def baseline_results(
    target: F64, reference: StateVectors, secondaries: Sequence[StateVectors]
) -> list[Baseline | ValueError]:
    """As :func:`baselines_at`, with the error of each secondary whose orbit does not see the
    target in its place.

    Orbits of fewer than four vectors (interpolated with cubic Hermite) are solved in one
    vectorised Newton iteration per vector count, each row stopping when its own step does,
    as a separate :func:`~gep.algorithms.sar.geometry.geo2rdr` call would: the numbers are
    the same, at a few microseconds a secondary instead of about a millisecond.
    """
    x = np.asarray(target, "float64").reshape(1, 3)
    t1, _ = _zero_doppler(x, reference)
    m, v = interpolate_orbit_s(reference, t1)
    m, v = m[0], v[0]
    los = x[0] - m
    los /= np.linalg.norm(los)
    v_hat = v / np.linalg.norm(v)
    look_cross = x[0] - m
    t_ref = reference.time[0] + np.timedelta64(round(t1[0] * 1e9), "ns")
    out: list[Baseline | ValueError | None] = [None] * len(secondaries)
    few: dict[int, list[int]] = {}  # vector count -> secondaries with that many (< 4)
    rows: list[int] = []
    positions: list[F64] = []
    t2s: list[float] = []
    epochs: list[np.datetime64] = []
    for k, secondary in enumerate(secondaries):
        if len(secondary.time) < 4:
            few.setdefault(len(secondary.time), []).append(k)
            continue
        try:
            t2, _ = _zero_doppler(x, secondary)
        except ValueError as exc:
            out[k] = exc
            continue
        s, _ = interpolate_orbit_s(secondary, t2)
        rows.append(k)
        positions.append(s[0])
        t2s.append(float(t2[0]))
        epochs.append(secondary.time[0])
    for ks in few.values():
        group = [secondaries[k] for k in ks]
        t2g, sg, ok = _zero_doppler_few(x[0], group)
        for j, k in enumerate(ks):
            if not ok[j]:
                out[k] = ValueError(
                    "the target's zero-Doppler time lies outside the orbit's state vectors"
                )
                continue
            rows.append(k)
            positions.append(sg[j])
            t2s.append(float(t2g[j]))
            epochs.append(group[j].time[0])
    if rows:
        b = np.asarray(positions) - m
        bpar = np.einsum("ki,i->k", b, los)
        # the along-track part (orbits that are not quite parallel put S ahead of or behind M)
        # changes no range: it is neither parallel nor perpendicular baseline
        perp = b - bpar[:, None] * los - np.einsum("ki,i->k", b, v_hat)[:, None] * v_hat
        direction = np.sign(np.einsum("ki,i->k", np.cross(look_cross, b), v))
        bperp = direction * np.linalg.norm(perp, axis=1)
        t_sec = np.asarray(epochs, "datetime64[ns]") + np.rint(np.asarray(t2s) * 1e9).astype(
            "int64"
        ).astype("timedelta64[ns]")
        days = (t_sec - t_ref).astype("int64").astype("float64") / 86400e9
        for j, k in enumerate(rows):
            out[k] = Baseline(bperp=float(bperp[j]), bpar=float(bpar[j]), btemp=float(days[j]))
    return [b for b in out if b is not None]


def _zero_doppler_few(x: F64, orbits: Sequence[StateVectors]) -> tuple[F64, F64, NDArray[np.bool_]]:
    """Zero-Doppler times of one target on many orbits of the same few (< 4) vectors each:
    :func:`_zero_doppler` vectorised over the orbits (the same first guess, Newton steps, bounds
    and stopping rule). Returns the times (s after each orbit's first vector), the positions
    there, and whether each time is valid."""
    t0 = np.array([o.time[0] for o in orbits], dtype="datetime64[ns]")
    times = np.stack([np.asarray(o.time, "datetime64[ns]") for o in orbits])
    tv = (times - t0[:, None]).astype("int64").astype("float64") * 1e-9
    pos = np.stack([o.position for o in orbits])
    vel = np.stack([o.velocity for o in orbits])
    rows = np.arange(len(orbits))
    t = tv[rows, np.argmin(np.linalg.norm(pos - x, axis=2), axis=1)]
    lo, hi = tv[:, 0] - HERMITE_REACH_S, tv[:, -1] + HERMITE_REACH_S
    active = rows
    for _ in range(8):  # geo2rdr's Newton iteration, row by row
        p, v = _hermite_rows(tv[active], pos[active], vel[active], t[active])
        d = x - p
        f = np.einsum("...i,...i->...", d, v)
        dfdt = np.einsum("...i,...i->...", d, _ecef_acceleration(p, v)) - np.einsum(
            "...i,...i->...", v, v
        )
        step = -f / dfdt
        t[active] = np.clip(t[active] + step, lo[active], hi[active])
        active = active[~(np.abs(step) < 1e-8)]
        if not active.size:
            break
    # strictly inside: Newton held at a bound by the clipping has not found the zero-Doppler
    # time (the orbit does not see the target), it only stopped where it was allowed to
    ok = (lo < t) & (t < hi)
    p, _ = _hermite_rows(tv, pos, vel, t)
    return t, p, ok


def _hermite_rows(tv: F64, pos: F64, vel: F64, t: F64) -> tuple[F64, F64]:
    """:func:`~gep.algorithms.sar.orbit.interpolate_orbit_s`'s cubic Hermite at one time per
    orbit, for orbits of the same vector count (``tv`` (k, n) seconds, ``pos``/``vel``
    (k, n, 3))."""
    rows = np.arange(len(t))
    i = np.clip(np.sum(tv < t[:, None], axis=1) - 1, 0, tv.shape[1] - 2)
    h = (tv[rows, i + 1] - tv[rows, i])[:, None]
    s = (t - tv[rows, i])[:, None] / h
    p0, p1 = pos[rows, i], pos[rows, i + 1]
    v0, v1 = vel[rows, i] * h, vel[rows, i + 1] * h
    h00 = 2 * s**3 - 3 * s**2 + 1
    h10 = s**3 - 2 * s**2 + s
    h01 = -2 * s**3 + 3 * s**2
    h11 = s**3 - s**2
    p = h00 * p0 + h10 * v0 + h01 * p1 + h11 * v1
    d00 = 6 * s**2 - 6 * s
    d10 = 3 * s**2 - 4 * s + 1
    d01 = -6 * s**2 + 6 * s
    d11 = 3 * s**2 - 2 * s
    v = (d00 * p0 + d10 * v0 + d01 * p1 + d11 * v1) / h
    return p, v


def _zero_doppler(x: F64, orbit: StateVectors) -> tuple[F64, F64]:
    """Zero-Doppler time (s after the orbit's first vector) and range of ``x`` on ``orbit``.

    The first guess is the vector time closest to the target, so a record with only a few
    vectors (ASF's pre/post pair) converges as well as a full orbit file.
    """
    tv = seconds_since(orbit.time, orbit.time[0])
    guess = tv[int(np.argmin(np.linalg.norm(orbit.position - x[0], axis=1)))]
    t, rng = geo2rdr(x, orbit, np.array([guess]))
    # geo2rdr clips to these bounds: a time on one of them is where Newton was stopped
    reach = HERMITE_REACH_S if len(tv) < 4 else 0.0
    if not (tv[0] - reach < t[0] < tv[-1] + reach):
        raise ValueError("the target's zero-Doppler time lies outside the orbit's state vectors")
    return t, rng
