"""The DInSAR chain on simulated pairs with a known truth (issue #4's "Must show").

Each pair is simulated in the geometry of a real Sentinel-1 annotation over the real Rome DEM
(see ``conftest.py``): Bperp 100 m, a 5 mm turbulent troposphere, coherence 0.3–0.95 and a
sub-pixel misregistration the orbits do not know. Displacement is relative, so recovered and
true LOS displacement are compared after removing their mean difference over the pixels
scored (true coherence ≥ 0.5), i.e. the best constant reference.

Targets: RMSE ≤ 3 mm after removing the simulated atmosphere, ≤ 8 mm with it; coherence
within the estimator's known bias; coregistration error ≤ 0.05 pixel.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gep.algorithms.sar.dinsar import DinsarResult, dinsar, phase_to_los
from gep.algorithms.sar.kernels import interferogram_multilook, multilook
from gep.algorithms.sar.pair import check_pair, pair_baseline
from gep.algorithms.simulate.scene import band_limited_speckle, baseline_orbit
from gep.core.errors import InvalidInput

LOOKS = (4, 16)


def _run(scene) -> DinsarResult:  # type: ignore[no-untyped-def]
    return dinsar(
        scene.reference, scene.secondary, scene.reference_geometry, scene.secondary_geometry,
        scene.dem, looks=LOOKS, geocode_products=False,
    )  # fmt: skip


def _scores(scene, result: DinsarResult) -> dict[str, float]:  # type: ignore[no-untyped-def]
    truth = scene.truth
    d_true = multilook(truth["los_displacement"], LOOKS)
    atm = multilook(truth["atmosphere"], LOOKS)
    gamma = multilook(truth["coherence"], LOOKS)
    scored = (gamma >= 0.5) & np.isfinite(result.los_displacement)
    inner = np.zeros_like(scored)
    inner[2:-2, 2:-2] = True  # the secondary has no data within a few pixels of the edges
    scored &= inner

    def rmse(est: np.ndarray, ref: np.ndarray) -> float:
        diff = (est - ref)[scored]
        return float(np.sqrt(np.mean((diff - diff.mean()) ** 2)))

    return {
        "rmse_without_atmosphere": rmse(result.los_displacement, d_true + atm),
        "rmse_with_atmosphere": rmse(result.los_displacement, d_true),
        "signal_range": float(np.ptp(d_true[scored])),
        "scored_share": float(scored.mean()),
    }


@pytest.fixture(scope="module")
def mogi_result(mogi_pair) -> DinsarResult:  # type: ignore[no-untyped-def]
    return _run(mogi_pair)


@pytest.fixture(scope="module")
def okada_result(okada_pair) -> DinsarResult:  # type: ignore[no-untyped-def]
    return _run(okada_pair)


@pytest.mark.parametrize("case", ["mogi", "okada"])
def test_recovers_los_displacement(case: str, request: pytest.FixtureRequest) -> None:
    scene = request.getfixturevalue(f"{case}_pair")
    result = request.getfixturevalue(f"{case}_result")
    s = _scores(scene, result)
    print(case, s)
    assert s["scored_share"] > 0.4
    assert s["signal_range"] > 0.02  # the deformation is really there (> 2 cm across the scene)
    assert s["rmse_without_atmosphere"] <= 0.003, s
    assert s["rmse_with_atmosphere"] <= 0.008, s


@pytest.mark.parametrize("case", ["mogi", "okada"])
def test_coregistration_within_five_hundredths_of_a_pixel(
    case: str, request: pytest.FixtureRequest
) -> None:
    scene = request.getfixturevalue(f"{case}_pair")
    result = request.getfixturevalue(f"{case}_result")
    daz, drg = scene.misregistration
    assert abs(result.refinement.azimuth - daz) <= 0.05
    assert abs(result.refinement.range - drg) <= 0.05
    assert result.refinement.chips >= 50


def _expected_coherence(gamma: float, looks: tuple[int, int], n: int = 64) -> float:
    """E[γ̂] of the boxcar estimator for a true γ, by Monte Carlo on speckle with the same
    spectrum (oversampling, Hamming weighting) as the simulated SLCs."""
    rng = np.random.default_rng(7)
    a = band_limited_speckle((looks[0] * n, looks[1] * n), rng)
    b = band_limited_speckle((looks[0] * n, looks[1] * n), rng)
    sec = (gamma * a + np.sqrt(1 - gamma**2) * b).astype(np.complex64)
    _, coh, _ = interferogram_multilook(a, sec, looks)
    return float(coh.mean())


def test_coherence_within_the_estimator_bias(mogi_pair, mogi_result) -> None:  # type: ignore[no-untyped-def]
    gamma = multilook(mogi_pair.truth["coherence"], LOOKS)
    inner = np.zeros(gamma.shape, bool)
    inner[2:-2, 2:-2] = True
    for lo in (0.3, 0.5, 0.7, 0.85):
        sel = inner & (gamma >= lo) & (gamma < lo + 0.1)
        centre = float(gamma[sel].mean())
        expected = _expected_coherence(centre, LOOKS)
        measured = float(mogi_result.coherence[sel].mean())
        # the estimate is biased upwards by the finite window; it must follow the known bias
        assert abs(measured - expected) < 0.02, (lo, centre, expected, measured)
        assert expected >= centre - 0.005


def test_phase_to_los_convention() -> None:
    # MintPy: d = −λφ/4π; one radian is 4.41 mm away from the satellite
    assert phase_to_los(np.array([1.0]))[0] == pytest.approx(-0.0044138, abs=1e-6)
    assert phase_to_los(np.array([-2 * np.pi]))[0] == pytest.approx(0.027733, abs=1e-5)


def test_pair_checks(mogi_pair) -> None:  # type: ignore[no-untyped-def]
    ref, sec = mogi_pair.reference_geometry, mogi_pair.secondary_geometry
    baseline = check_pair(ref, sec)
    # the simulator puts the secondary 100 m "up" (away from the Earth): ISCE2 calls that -100 m
    assert baseline.perpendicular == pytest.approx(-100.0, abs=0.5)
    assert baseline.temporal_days == pytest.approx(12.0, abs=0.01)
    assert 3000 < baseline.critical < 15000
    for change, word in (
        ({"relative_orbit": ref.relative_orbit + 1}, "relative orbit"),
        ({"swath": "IW2"}, "swath"),
        ({"polarisation": "VH"}, "polarisation"),
    ):
        with pytest.raises(InvalidInput, match=word):
            check_pair(ref, replace(sec, **change))
    # a secondary 20 km off in perpendicular baseline is beyond the critical baseline
    t_mid = float((ref.first_line_time - ref.orbit.time[0]) / np.timedelta64(1, "s"))
    from gep.algorithms.sar.geometry import rdr2geo

    _, _, _, xyz = rdr2geo(np.array([t_mid]), np.array([ref.near_range]), ref.orbit, 0.0)
    far = baseline_orbit(ref.orbit, xyz[0], t_mid, 20_000.0, 0.0, 12.0)
    far_sec = replace(sec, orbit=far)
    assert abs(pair_baseline(ref, far_sec).perpendicular) > 19_000
    with pytest.raises(InvalidInput, match="critical baseline"):
        check_pair(ref, far_sec)
