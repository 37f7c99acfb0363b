"""The TOPS burst chain against simulated IW pairs whose truth is known.

The pairs come from real annotations (Rome S1A IW1 VV; northern Italy S1B IW1/IW2 VH) cut to a
few hundred range samples, so every burst carries the real steering rate, FM rate and Doppler
centroid; the simulator (``gep.algorithms.simulate.tops``) builds the secondary's bursts with
their own ramps, a burst synchronisation error and a misregistration the orbits do not know.
Tolerances are the issue's: LOS RMSE <= 3 mm, ESD within 0.002 pixel, phase steps at burst and
sub-swath boundaries <= 0.05 rad; and without deramping the same scene fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Point, box

from gep.algorithms.sar.geometry import radar_times, rdr2geo
from gep.algorithms.sar.tops_chain import (
    BurstPair,
    TopsDinsarResult,
    plan_burst_pairs,
    tops_dinsar,
)
from gep.algorithms.simulate.scene import MogiSource
from gep.algorithms.simulate.tops import SimulatedTopsPair, crop_bursts, simulate_tops_pair
from gep.core.errors import InvalidInput
from gep.io.sentinel1_bursts import tops_bursts

DATA = Path(__file__).parents[1] / "data" / "s1"
ROME = DATA / "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
ITALY = DATA / "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE"
MISREGISTRATION = (0.0123, -0.23)


def _pairs(sim: SimulatedTopsPair, area: object = None) -> list[BurstPair]:
    """The planned windows cut out of the simulated full bursts, as a reader would."""
    out = []
    for plan in plan_burst_pairs(sim.reference, sim.secondary, area, 0.0):  # type: ignore[arg-type]
        k = next(
            i
            for i, b in enumerate(sim.reference)
            if b.index == plan.reference.index and b.geometry.swath == plan.reference.geometry.swath
        )
        l0, s0, nl, ns = plan.reference_window
        m0, t0, ml, ms = plan.secondary_window
        out.append(
            BurstPair(
                plan,
                sim.reference_data[k][l0 : l0 + nl, s0 : s0 + ns],
                sim.secondary_data[k][m0 : m0 + ml, t0 : t0 + ms],
            )
        )
    return out


def _los_rmse(sim: SimulatedTopsPair, result: TopsDinsarResult) -> tuple[float, int]:
    """RMSE (m) of the LOS displacement against the truth on coherent pixels, after removing
    the constant the reference point leaves (the median difference)."""
    lat, lon = result.grid.nodes()
    los = result.geocoded["los_displacement"]
    coh = result.geocoded["coherence"]
    ok = np.isfinite(los) & (coh > 0.5)
    diff = (los - sim.truth_los(lat, lon, 0.0))[ok]
    diff -= np.median(diff)
    return float(np.sqrt(np.mean(diff**2))), int(ok.sum())


@pytest.fixture(scope="module")
def rome_pair() -> SimulatedTopsPair:
    """3 bursts x 400 samples of Rome IW1, a Mogi source in the middle burst."""
    ref = crop_bursts(tops_bursts(ROME, "IW1", "VV"), 3, 3, 8000, 400)
    g = ref[1].geometry
    lat, lon, _, _ = rdr2geo(
        radar_times(g, np.array([750.0])), g.slant_range(np.array([200.0])), g.orbit, 0.0
    )
    source = MogiSource(lat=float(lat[0]), lon=float(lon[0]), depth=3000.0, dv=3e6)
    return simulate_tops_pair(
        ref, 0.0, source=source, misregistration=MISREGISTRATION, geometry_step=4, seed=1
    )


@pytest.fixture(scope="module")
def rome_result(rome_pair: SimulatedTopsPair) -> TopsDinsarResult:
    return tops_dinsar(_pairs(rome_pair), 0.0)


def test_los_displacement_within_3_mm(
    rome_pair: SimulatedTopsPair, rome_result: TopsDinsarResult
) -> None:
    rmse, n = _los_rmse(rome_pair, rome_result)
    assert n > 10_000
    assert rmse <= 0.003, f"LOS RMSE {rmse * 1000:.2f} mm"
    # the deformation is there to be measured: several fringes of signal
    lat, lon = rome_result.grid.nodes()
    truth = rome_pair.truth_los(lat, lon, 0.0)
    assert np.ptp(truth[np.isfinite(rome_result.geocoded["los_displacement"])]) > 0.05


def test_azimuth_misregistration_recovered_and_no_burst_phase_step(
    rome_result: TopsDinsarResult,
) -> None:
    total = rome_result.refinement.azimuth + rome_result.esd_shift
    assert abs(total - MISREGISTRATION[0]) <= 0.002, total
    assert len(rome_result.overlaps) == 2
    for overlap in rome_result.overlaps:
        assert overlap.windows >= 50
        assert abs(overlap.residual_phase) <= 0.05, overlap


def test_esd_alone_finds_the_misregistration(rome_pair: SimulatedTopsPair) -> None:
    """Without the cross-correlation refinement in azimuth the orbits leave the whole
    misregistration; the burst overlaps alone must find it (it is within ESD's ±0.05 px
    ambiguity)."""
    result = tops_dinsar(_pairs(rome_pair), 0.0, refine_azimuth=False, unwrap=False)
    assert result.refinement.azimuth == 0.0
    assert abs(result.esd_shift - MISREGISTRATION[0]) <= 0.002, result.esd_shift
    # what each overlap saw before the correction: the injected shift, and a phase step
    for overlap in result.overlaps:
        assert abs(overlap.shift_px - MISREGISTRATION[0]) <= 0.002
        assert abs(overlap.residual_phase) <= 0.05


def test_without_deramping_the_same_scene_fails(rome_pair: SimulatedTopsPair) -> None:
    """Shown once: resampling TOPS bursts without deramping aliases their azimuth spectrum."""
    result = tops_dinsar(_pairs(rome_pair), 0.0, deramp=False)
    rmse, _ = _los_rmse(rome_pair, result)
    steps = [abs(o.residual_phase) for o in result.overlaps]
    assert rmse > 0.003 or max(steps) > 0.05, (rmse, steps)
    assert max(steps) > 0.5  # in practice: phase steps of radians at the burst boundaries


def test_no_phase_step_between_sub_swaths() -> None:
    """IW1's far range and IW2's near range of a real S1B product: 2 bursts each, their
    interferograms agree where both sub-swaths see the ground."""
    iw1 = crop_bursts(tops_bursts(ITALY, "IW1", "VH"), 1, 2, 20616, 320)
    iw2 = crop_bursts(tops_bursts(ITALY, "IW2", "VH"), 1, 2, 480, 320)
    sim = simulate_tops_pair(
        iw1 + iw2, 0.0, misregistration=(0.008, 0.1), atmosphere_rms=0.004, geometry_step=4, seed=3
    )
    result = tops_dinsar(_pairs(sim), 0.0)
    assert set(result.swath_geometries) == {"IW1", "IW2"}
    assert list(result.swath_boundaries) == ["IW1|IW2"]
    assert abs(result.swath_boundaries["IW1|IW2"]) <= 0.05, result.swath_boundaries
    for overlap in result.overlaps:
        assert abs(overlap.residual_phase) <= 0.05, overlap
    rmse, n = _los_rmse(sim, result)
    assert n > 5_000
    assert rmse <= 0.003, f"LOS RMSE {rmse * 1000:.2f} mm"


def test_plan_selects_the_bursts_under_the_area(rome_pair: SimulatedTopsPair) -> None:
    g = rome_pair.reference[1].geometry
    lat, lon, _, _ = rdr2geo(
        radar_times(g, np.array([700.0])), g.slant_range(np.array([200.0])), g.orbit, 0.0
    )
    area = Point(float(lon[0]), float(lat[0])).buffer(0.002)
    plans = plan_burst_pairs(rome_pair.reference, rome_pair.secondary, area, 0.0)
    assert [p.reference.index for p in plans] == [rome_pair.reference[1].index]
    plan = plans[0]
    assert plan.secondary.burst_id == plan.reference.burst_id
    assert plan.reference_window[2] == (
        plan.reference.last_valid_line - plan.reference.first_valid_line + 1
    )
    # the secondary window holds the reference window mapped through the orbits
    assert plan.secondary_window[1] <= plan.reference_window[1]
    assert (
        plan.secondary_window[1] + plan.secondary_window[3]
        >= plan.reference_window[1] + plan.reference_window[3]
    )
    with pytest.raises(InvalidInput, match="no burst"):
        plan_burst_pairs(rome_pair.reference, rome_pair.secondary, box(0, 0, 0.1, 0.1), 0.0)


@pytest.mark.parametrize("jit", [True, False])
def test_fused_ramp_kernel_is_the_formula(jit: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-pass kernel (numba, and its numpy fallback) against ``deramping_phase``."""
    from gep.algorithms.sar.kernels import _common
    from gep.algorithms.sar.tops import deramp, deramping_phase, reramp, reramp_at

    monkeypatch.setattr(_common, "_HAVE_NUMBA", jit)
    burst = tops_bursts(ROME, "IW1", "VV")[4]
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((40, 50)) + 1j * rng.standard_normal((40, 50))).astype("complex64")
    origin = (700, 9000)
    lines = origin[0] + np.arange(40.0)[:, None]
    samples = origin[1] + np.arange(50.0)[None, :]
    expected = data * np.exp(1j * deramping_phase(burst, lines, samples))
    assert np.allclose(deramp(data, burst, origin), expected, rtol=0, atol=2e-5 * 4)
    az = rng.uniform(-3, 3, data.shape).astype("float32")
    rg = rng.uniform(-3, 3, data.shape).astype("float32")
    az[3, 4] = np.nan
    rows = np.arange(40, dtype=np.int64) * 2
    got = reramp_at(data, burst, origin, az, rg, rows)
    want = reramp(data, burst, origin[0] + rows[:, None] + az, samples + rg)
    finite = np.isfinite(az)
    assert np.allclose(got[finite], want[finite], rtol=0, atol=2e-5 * 4)
    assert got[3, 4] == 0
