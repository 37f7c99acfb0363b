"""Is a reference/secondary pair fit for interferometry? Baselines and compatibility.

Checked before any processing: a pair from different tracks, swaths or polarisations, or
with a perpendicular baseline beyond the critical baseline, cannot give an interferogram,
and a user should hear so at once rather than from a failed job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gep.algorithms.sar.baseline import baseline_at
from gep.algorithms.sar.geometry import radar_times, rdr2geo
from gep.algorithms.sar.orbit import interpolate_orbit_s
from gep.core.errors import InvalidInput
from gep.core.sar import SPEED_OF_LIGHT, SwathGeometry

#: processed range bandwidth of Sentinel-1 IW swaths (Hz), from the product specification
RANGE_BANDWIDTH_HZ = {"IW1": 56.5e6, "IW2": 48.3e6, "IW3": 42.79e6}


@dataclass(frozen=True)
class PairBaseline:
    perpendicular: float  # m, ISCE2's sign (see gep.algorithms.sar.baseline)
    parallel: float  # m, along the reference line of sight, positive towards the ground
    temporal_days: float  # secondary minus reference
    critical: float  # m, the perpendicular baseline at which the spectra no longer overlap


def critical_baseline(geom: SwathGeometry, slant_range: float, incidence_deg: float) -> float:
    """B⊥,crit = λ R B_r tan θ / c: the baseline whose spectral shift equals the bandwidth."""
    bandwidth = RANGE_BANDWIDTH_HZ.get(geom.swath, 0.88 * geom.range_sampling_rate)
    return float(
        geom.wavelength
        * slant_range
        * bandwidth
        * np.tan(np.radians(incidence_deg))
        / SPEED_OF_LIGHT
    )


def pair_baseline(
    reference: SwathGeometry, secondary: SwathGeometry, height: float = 0.0
) -> PairBaseline:
    """Baselines at the centre of the reference image (on the ellipsoid raised by ``height``),
    with :func:`gep.algorithms.sar.baseline.baseline_at`'s definitions and ISCE2's signs."""
    t_ref = float(radar_times(reference, reference.lines / 2))
    r_ref = float(reference.slant_range(reference.samples / 2))
    _, _, _, xyz = rdr2geo(np.array([t_ref]), np.array([r_ref]), reference.orbit, height)
    p1, _ = interpolate_orbit_s(reference.orbit, np.array([t_ref]))
    look = xyz[0] - p1[0]
    look /= np.linalg.norm(look)
    up = xyz[0] / np.linalg.norm(xyz[0])
    incidence = float(np.degrees(np.arccos(np.dot(-look, up))))
    b = baseline_at(xyz[0], reference.orbit, secondary.orbit)
    return PairBaseline(
        perpendicular=b.bperp,
        parallel=b.bpar,
        temporal_days=b.btemp,
        critical=critical_baseline(reference, r_ref, incidence),
    )


def check_pair(reference: SwathGeometry, secondary: SwathGeometry) -> PairBaseline:
    """Raise :class:`InvalidInput` naming the reason when a pair cannot be interfered."""
    for what, a, b in (
        ("relative orbit", reference.relative_orbit, secondary.relative_orbit),
        ("swath", reference.swath, secondary.swath),
        ("polarisation", reference.polarisation, secondary.polarisation),
        ("pass direction", reference.pass_direction, secondary.pass_direction),
    ):
        if a != b:
            raise InvalidInput(
                f"the reference and secondary differ in {what} ({a} and {b}); an interferogram "
                "needs two acquisitions from the same track, swath and polarisation",
                field="secondary",
            )
    if abs(reference.wavelength - secondary.wavelength) > 1e-6:
        raise InvalidInput(
            "the reference and secondary have different wavelengths", field="secondary"
        )
    baseline = pair_baseline(reference, secondary)
    if abs(baseline.perpendicular) >= baseline.critical:
        raise InvalidInput(
            f"the perpendicular baseline ({baseline.perpendicular:.0f} m) exceeds the critical "
            f"baseline ({baseline.critical:.0f} m): the two images cannot be coherent",
            field="secondary",
        )
    return baseline
