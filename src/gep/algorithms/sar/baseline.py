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

from gep.algorithms.sar.geometry import geo2rdr
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

    The reference's zero-Doppler geometry is solved once for the whole stack. With
    ``skip_errors`` a secondary whose orbit does not see the target gives None instead of
    raising.
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
    out: list[Baseline | None] = []
    for secondary in secondaries:
        try:
            t2, _ = _zero_doppler(x, secondary)
        except ValueError:
            if not skip_errors:
                raise
            out.append(None)
            continue
        s, _ = interpolate_orbit_s(secondary, t2)
        b = s[0] - m
        bpar = float(np.dot(b, los))
        # the along-track part (orbits that are not quite parallel put S ahead of or behind M)
        # changes no range: it is neither parallel nor perpendicular baseline
        perp = b - bpar * los - float(np.dot(b, v_hat)) * v_hat
        direction = float(np.sign(np.dot(np.cross(look_cross, b), v)))
        t_sec = secondary.time[0] + np.timedelta64(round(t2[0] * 1e9), "ns")
        days = float((t_sec - t_ref) / np.timedelta64(1, "ns")) / 86400e9
        out.append(Baseline(bperp=direction * float(np.linalg.norm(perp)), bpar=bpar, btemp=days))
    return out


def _zero_doppler(x: F64, orbit: StateVectors) -> tuple[F64, F64]:
    """Zero-Doppler time (s after the orbit's first vector) and range of ``x`` on ``orbit``.

    The first guess is the vector time closest to the target, so a record with only a few
    vectors (ASF's pre/post pair) converges as well as a full orbit file.
    """
    tv = seconds_since(orbit.time, orbit.time[0])
    guess = tv[int(np.argmin(np.linalg.norm(orbit.position - x[0], axis=1)))]
    t, rng = geo2rdr(x, orbit, np.array([guess]))
    reach = HERMITE_REACH_S if len(tv) < 4 else 1e-6
    if not (tv[0] - reach <= t[0] <= tv[-1] + reach):
        raise ValueError("the target's zero-Doppler time lies outside the orbit's state vectors")
    return t, rng
