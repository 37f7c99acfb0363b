"""SBAS inversion (``gep.algorithms.timeseries``) against known truth and against an
independent per-pixel least-squares solution (``numpy.linalg.lstsq``, SVD minimum norm)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from gep.algorithms.simulate.timeseries import simulate_stack, small_baseline_pairs
from gep.algorithms.timeseries.inversion import GROUP_MIN, invert
from gep.algorithms.timeseries.model import DemErrorGeometry, TemporalModel
from gep.algorithms.timeseries.network import Network
from gep.algorithms.timeseries.sbas import (
    SbasOptions,
    coherence_weights,
    reference_phase,
    run_sbas,
    sbas_block,
)
from gep.core.errors import InvalidInput

DAY0 = np.datetime64("2020-01-01", "D")


def _network(pairs: list[tuple[int, int]], step: int = 12) -> Network:
    return Network.from_pairs([(DAY0 + step * i, DAY0 + step * j) for i, j in pairs])


def _ifgs(net: Network, ts: np.ndarray) -> np.ndarray:
    return (ts[net.pairs[:, 1]] - ts[net.pairs[:, 0]]).astype(np.float32)


def _lstsq_pixel(net: Network, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The reference: weighted minimum-norm least squares of one pixel by numpy's SVD lstsq,
    velocities integrated to the phase of each date."""
    keep = w > 0
    sw = np.sqrt(w[keep])
    v = np.linalg.lstsq(net.velocity_design[keep] * sw[:, None], y[keep] * sw, rcond=1e-8)[0]
    return np.r_[0.0, np.cumsum(v * net.intervals)]


# -- the network ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("2020-01-01", "2020-01-13")], "at least 3 acquisitions"),
        ([("2020-01-01", "2020-01-13"), ("2020-01-13", "2020-01-01")], "not after"),
        ([("2020-01-01", "2020-01-13"), ("2020-01-01", "2020-01-13")], "3 acquisitions"),
        (
            [
                ("2020-01-01", "2020-01-13"),
                ("2020-01-13", "2020-01-25"),
                ("2020-01-01", "2020-01-13"),
            ],
            "already",
        ),
        ([("2020-01-01", "2020-01-13"), ("2020-01-13", "2020-01-13")], "not after"),
        (
            [("2020-01-01", "2020-01-13"), ("2020-01-25", "2020-02-06"), ("20200101", "20200113")],
            "already",
        ),
        (
            [
                ("2020-01-01", "2020-01-13"),
                ("2020-01-25", "2020-02-06"),
                ("20200101", "2020-01-13T10:00:00"),
            ],
            "already",
        ),
        ([("2020-01-01", "2020-01-13"), ("2020-01-13", "nonsense")], "not a date"),
    ],
)
def test_networks_that_cannot_be_inverted_are_refused(
    pairs: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Network.from_pairs(pairs)  # type: ignore[arg-type]


def test_fewer_than_three_acquisitions_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 3 acquisitions"):
        Network.from_pairs([("2020-01-01", "2020-01-13"), ("2020-01-01", "2020-01-13T06:00")])


def test_design_matrices_reproduce_the_interferograms() -> None:
    net = _network([(0, 1), (0, 2), (1, 3), (2, 3), (1, 2)], step=10)
    ts = np.array([0.0, 1.0, 3.0, 2.5])
    v = np.diff(ts) / net.intervals
    assert np.allclose(net.velocity_design @ v, _ifgs(net, ts[:, None])[:, 0])
    assert np.allclose(net.displacement_design @ ts[1:], _ifgs(net, ts[:, None])[:, 0])
    assert net.years[1] == pytest.approx(10 / 365.25)
    assert net.components() == [[0, 1, 2, 3]]
    split = net.components(np.array([True, False, False, True, False]))
    assert sorted(map(sorted, split)) == [[0, 1], [2, 3]]


# -- accuracy on simulated stacks ------------------------------------------------------------


def test_noise_free_stack_is_recovered_exactly() -> None:
    net = _network(small_baseline_pairs(25, 3))
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.normal(0, 2.0, (25, 500)), axis=0)
    ts -= ts[0]
    out = invert(net, _ifgs(net, ts))
    assert np.abs(out.phase - ts).max() < 1e-4
    assert np.allclose(out.temporal_coherence, 1.0, atol=1e-5)
    assert (out.n_used == net.n_ifgs).all()


@pytest.mark.parametrize(("n_dates", "interval"), [(20, 60), (100, 12)])
def test_simulated_stack_meets_the_accuracy_targets(n_dates: int, interval: int) -> None:
    """Linear + seasonal + step motion, 1 mm of troposphere per date, 0.15 rad of noise per
    interferogram: velocity RMSE <= 1 mm/yr and displacement RMSE <= 3 mm (issue #7)."""
    s = simulate_stack(
        n_dates, (48, 48), interval_days=interval, seasonal_mm=6.0, step_mm=15.0,
        atmosphere_mm=1.0, noise_rad=0.15, seed=n_dates,
    )  # fmt: skip
    labels = [str(k) for k in range(s.network.n_ifgs)]
    area = (slice(2, 7), slice(2, 7))  # a reference area of 5 x 5 pixels
    offsets = reference_phase(s.phase[:, area[0], area[1]], labels, "reference_area")
    assert s.step_date is not None
    t_step = float(s.network.years[int(np.flatnonzero(s.network.dates == s.step_date)[0])])
    opts = SbasOptions(s.wavelength, model=TemporalModel(seasonal=True, steps=(t_step,)))
    out = sbas_block(s.network, s.phase, s.coherence, offsets, opts)
    truth = s.displacement - s.displacement[:, area[0], area[1]].mean(axis=(1, 2))[:, None, None]
    v_truth = s.velocity - s.velocity[area].mean()
    d_rmse = float(np.sqrt(np.mean((out.displacement - truth) ** 2))) * 1e3
    v_rmse = float(np.sqrt(np.mean((out.velocity - v_truth) ** 2))) * 1e3
    assert d_rmse <= 3.0, d_rmse
    assert v_rmse <= 1.0, v_rmse
    assert np.isfinite(out.velocity).all()
    assert np.abs(out.displacement[:, area[0], area[1]].mean(axis=(1, 2))).max() < 1e-6
    # the step comes back too (within 1.5 mm, as the noise allows)
    step = out.fit.params["step_0"].reshape(48, 48)
    step_truth = s.step - s.step[area].mean()
    assert np.sqrt(np.mean((step - step.reshape(48, 48)[area].mean() - step_truth) ** 2)) < 1.5e-3
    # the fit's standard error is an honest scale of the velocity error
    ratio = v_rmse / (float(np.median(out.velocity_std)) * 1e3)
    assert 0.3 < ratio < 3.0, ratio


# -- per-pixel masks, weights, disconnected networks -----------------------------------------


def test_pixels_with_different_valid_sets_are_solved_as_alone() -> None:
    """Frequent patterns (one pseudo-inverse per pattern), rare patterns (normal equations)
    and patterns whose valid network is disconnected (minimum-norm fallback) all agree with a
    per-pixel SVD least squares; no pixel with enough interferograms is dropped."""
    net = _network(small_baseline_pairs(15, 3))
    rng = np.random.default_rng(7)
    p = 3000
    ts = np.cumsum(rng.normal(0, 1.0, (15, p)), axis=0)
    ts -= ts[0]
    y = _ifgs(net, ts) + rng.normal(0, 0.2, (net.n_ifgs, p)).astype(np.float32)
    valid = np.ones_like(y, dtype=bool)
    valid[5, :800] = False  # a frequent pattern
    valid[:, 800:2000] &= rng.random((net.n_ifgs, 1200)) > 0.1  # mostly rare patterns
    cut = [k for k, (i, j) in enumerate(net.pairs.tolist()) if i <= 6 < j]
    valid[np.ix_(cut, np.arange(2000, 2100))] = False  # disconnected at date 6/7
    y[~valid] = np.nan  # what invalid data look like
    y[0, 2100] = np.nan  # NaN alone also excludes an observation
    out = invert(net, y, min_interferograms=1)
    assert np.isfinite(out.phase).all()
    for j in list(range(0, 2200, 7)):
        ok = np.isfinite(y[:, j])
        ref = _lstsq_pixel(net, np.nan_to_num(y[:, j]), ok.astype(float))
        assert np.allclose(out.phase[:, j], ref, atol=2e-4), j
        assert out.n_used[j] == ok.sum()
    counts = np.unique(valid[:, 800:2000], axis=1, return_counts=True)[1]
    assert (counts < GROUP_MIN).any() and (counts >= GROUP_MIN).any()


def test_min_interferograms_leaves_thin_pixels_out() -> None:
    net = _network(small_baseline_pairs(10, 2))
    y = np.zeros((net.n_ifgs, 4), np.float32)
    y[:12, 1] = np.nan
    out = invert(net, y, min_interferograms=9)
    assert np.isnan(out.phase[:, 1]).all() and np.isnan(out.temporal_coherence[1])
    assert np.isfinite(out.phase[:, [0, 2, 3]]).all()


def test_disconnected_network_gets_the_minimum_norm_velocity() -> None:
    """Two interleaved subsets (odd and even dates) never paired with each other: the
    minimum-norm velocity solution recovers linear motion exactly (Berardino et al. 2002),
    and any network split agrees with numpy's minimum-norm lstsq."""
    n = 21  # an even number of intervals: constant velocity is orthogonal to the null space
    pairs = [(i, i + 2) for i in range(n - 2)] + [(i, i + 4) for i in range(0, n - 4, 3)]
    net = _network(pairs)
    assert len(net.components()) == 2
    velocity = np.array([-0.05, 0.0, 0.02])  # rad/yr, three pixels
    ts = net.years[:, None] * velocity[None, :] * 100
    out = invert(net, _ifgs(net, ts))
    assert np.allclose(out.phase, ts, atol=1e-4)
    # a temporal gap: no interferogram across dates 9-10; the gap's velocity is zero
    gap = _network([(i, j) for i, j in small_baseline_pairs(20, 3) if not (i <= 9 < j)])
    ts2 = np.cumsum(np.random.default_rng(3).normal(0, 1, (20, 50)), axis=0)
    ts2 -= ts2[0]
    y2 = _ifgs(gap, ts2)
    res = invert(gap, y2)
    for j in range(50):
        assert np.allclose(res.phase[:, j], _lstsq_pixel(gap, y2[:, j], np.ones(gap.n_ifgs)),
                           atol=1e-4)  # fmt: skip
    assert np.allclose(res.phase[10], res.phase[9], atol=1e-5)
    # the weighted path gives the same minimum-norm answer (through its SVD fallback)
    w = np.random.default_rng(4).uniform(0.5, 2.0, y2.shape).astype(np.float32)
    res_w = invert(gap, y2, weights=w)
    for j in range(0, 50, 5):
        assert np.allclose(res_w.phase[:, j], _lstsq_pixel(gap, y2[:, j], w[:, j]), atol=1e-4)


def test_weighted_inversion_matches_weighted_least_squares() -> None:
    s = simulate_stack(18, (20, 20), noise_looks=10, seed=5)
    net, y = s.network, s.phase.reshape(s.network.n_ifgs, -1)
    w = coherence_weights(s.coherence.reshape(net.n_ifgs, -1), looks=10)
    w[3, :50] = 0.0  # zero weight removes an interferogram
    out = invert(net, y, weights=w)
    for j in range(0, 400, 9):
        assert np.allclose(out.phase[:, j], _lstsq_pixel(net, y[:, j], w[:, j]), atol=2e-4), j
    assert (out.n_used[:50] == net.n_ifgs - 1).all()
    same = invert(net, y, weights=np.full_like(y, 3.0))
    plain = invert(net, y)
    assert np.allclose(same.phase, plain.phase, atol=2e-4)
    # with coherence-driven noise, weighting brings the velocity closer to the truth
    truth = s.displacement.reshape(net.n_dates, -1)
    to_phase = -4 * np.pi / s.wavelength
    err_w = np.sqrt(np.mean((out.phase[:, 50:] - to_phase * truth[:, 50:]) ** 2))
    err_u = np.sqrt(np.mean((plain.phase[:, 50:] - to_phase * truth[:, 50:]) ** 2))
    assert err_w < err_u


def test_temporal_coherence_drops_where_unwrapping_failed() -> None:
    s = simulate_stack(30, (60, 60), unwrap_error_fraction=0.15, noise_rad=0.05, seed=11)
    out = sbas_block(s.network, s.phase, None, np.zeros(s.network.n_ifgs), SbasOptions(0.0555))
    hit = s.unwrap_errors.any(axis=0)
    assert hit.mean() > 0.05
    tc = out.temporal_coherence
    assert np.percentile(tc[~hit], 5) > 0.98
    assert np.median(tc[hit]) < 0.96


# -- reference, blocks, DEM error -----------------------------------------------------------


def test_reference_without_data_is_refused() -> None:
    samples = np.array([[0.1, np.nan], [np.nan, np.nan], [0.3, 0.5]])
    ok = reference_phase(samples[[0, 2]], ["a", "c"], "reference")
    assert ok == pytest.approx([0.1, 0.4])
    with pytest.raises(InvalidInput, match=r"no valid value .* 1 interferogram\(s\): b"):
        reference_phase(samples, ["a", "b", "c"], "reference")


def test_blocks_give_the_same_answer_in_bounded_memory() -> None:
    s = simulate_stack(24, (120, 90), atmosphere_mm=1.0, noise_rad=0.2, seed=2)
    opts = SbasOptions(s.wavelength, min_coherence=0.3, model=TemporalModel(seasonal=True))
    ref = np.zeros(s.network.n_ifgs)
    shape = s.phase.shape[1:]

    def read(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        return s.phase[:, rows].copy(), s.coherence[:, rows].copy()

    def peak(max_bytes: int) -> tuple[int, np.ndarray, np.ndarray]:
        tracemalloc.start()
        vel = np.empty(shape, np.float32)
        disp = np.empty((s.network.n_dates, *shape), np.float32)
        for b in run_sbas(s.network, shape, read, ref, opts, max_block_bytes=max_bytes):
            vel[b.rows] = b.velocity
            disp[:, b.rows] = b.displacement
        used = tracemalloc.get_traced_memory()[1] - vel.nbytes - disp.nbytes
        tracemalloc.stop()
        return used, vel, disp

    small, v1, d1 = peak(300_000)
    whole, v2, d2 = peak(10**9)
    assert np.array_equal(np.isnan(v1), np.isnan(v2))
    assert np.allclose(v1, v2, equal_nan=True, atol=1e-6)
    assert np.allclose(d1, d2, equal_nan=True, atol=1e-6)
    assert small < whole / 4, (small, whole)
    assert small < 3 * 300_000, small


def test_dem_error_is_estimated_and_removed() -> None:
    s = simulate_stack(30, (40, 40), bperp_std_m=80.0, dem_error_m=25.0, seasonal_mm=0.0, seed=9)
    geom = DemErrorGeometry(tuple(s.bperp.tolist()), s.slant_range, s.incidence)
    ref = np.zeros(s.network.n_ifgs)
    plain = sbas_block(s.network, s.phase, None, ref, SbasOptions(s.wavelength))
    opts = SbasOptions(s.wavelength, model=TemporalModel(dem_error=geom))
    out = sbas_block(s.network, s.phase, None, ref, opts)
    assert out.dem_error is not None
    assert np.abs(out.dem_error - s.dem_error).max() < 0.05
    err = np.abs(out.displacement - s.displacement).max()
    assert err < 1e-5 < np.abs(plain.displacement - s.displacement).max()
