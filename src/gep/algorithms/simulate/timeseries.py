"""Simulated small-baseline stacks with a known truth, for the SBAS tests and benchmarks.

The ground moves as ``v t + a sin(2π(t − t0)) + s H(t − t_step)`` (a subsidence bowl, a
seasonal term, a step over part of the scene); each date adds its own turbulent troposphere
(power-law screen), each interferogram its own phase noise (constant, or from the coherence by
the Cramér-Rao bound); optional DEM error (phase ∝ B⊥ Δz) and unwrapping errors (a whole
number of cycles over a patch of one interferogram). The interferogram between dates i and j is
the unwrapped phase ``−4π/λ (d_j − d_i)`` plus those terms, with ``d`` the LOS displacement
(positive towards the satellite), so a correct inversion returns ``d`` minus the atmosphere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.simulate.phase import coherence_map, power_law_screen
from gep.algorithms.timeseries.network import Network
from gep.core.sar import S1_WAVELENGTH

F32 = NDArray[np.float32]


@dataclass
class SimulatedStack:
    network: Network
    #: (M, rows, cols) unwrapped interferometric phase (rad)
    phase: F32
    #: (M, rows, cols) coherence
    coherence: F32
    #: (N, rows, cols) true LOS displacement (m) relative to the first date, no atmosphere
    displacement: F32
    #: (N, rows, cols) the tropospheric delay of each date (m of LOS)
    atmosphere: F32
    #: (rows, cols) true linear velocity (m/yr)
    velocity: F32
    #: (rows, cols) true annual amplitude (m)
    seasonal_amplitude: F32
    #: (rows, cols) true step (m) at ``step_date``
    step: F32
    step_date: np.datetime64 | None
    #: (M, rows, cols) True where an unwrapping error was added
    unwrap_errors: NDArray[np.bool_]
    #: (N,) perpendicular baselines (m) and (rows, cols) DEM error (m)
    bperp: NDArray[np.float64]
    dem_error: F32
    wavelength: float
    slant_range: float
    incidence: float


def small_baseline_pairs(n_dates: int, neighbours: int) -> list[tuple[int, int]]:
    """Each date paired with its next ``neighbours`` dates (the usual short-time network)."""
    return [(i, j) for i in range(n_dates) for j in range(i + 1, min(n_dates, i + 1 + neighbours))]


def simulate_stack(
    n_dates: int = 30,
    shape: tuple[int, int] = (64, 64),
    *,
    interval_days: int = 12,
    start: str = "2019-01-01",
    neighbours: int = 3,
    pairs: list[tuple[int, int]] | None = None,
    velocity_mm_yr: float = -40.0,
    seasonal_mm: float = 5.0,
    step_mm: float = 0.0,
    step_index: int | None = None,
    atmosphere_mm: float = 0.0,
    noise_rad: float = 0.0,
    noise_looks: int | None = None,
    coherence_range: tuple[float, float] = (0.4, 0.95),
    unwrap_error_fraction: float = 0.0,
    bperp_std_m: float = 0.0,
    dem_error_m: float = 0.0,
    wavelength: float = S1_WAVELENGTH,
    seed: int = 0,
) -> SimulatedStack:
    """A stack of ``n_dates`` acquisitions every ``interval_days`` over ``shape`` pixels.

    ``velocity_mm_yr`` is the centre of a Gaussian subsidence bowl (plus a gentle ramp);
    ``seasonal_mm`` the annual amplitude (largest inside the bowl); ``step_mm`` a step over
    the right half of the scene at date ``step_index`` (default: the middle date).
    ``pairs`` overrides the network (date indices). ``unwrap_error_fraction`` is the share of
    interferograms given a ±2π error over a disc.
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    dates = np.datetime64(start, "D") + np.arange(n_dates) * interval_days
    idx_pairs = pairs if pairs is not None else small_baseline_pairs(n_dates, neighbours)
    network = Network.from_pairs([(dates[i], dates[j]) for i, j in idx_pairs])
    years = network.years
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    cy, cx = rows * 0.45, cols * 0.55
    bowl = np.exp(-(((yy - cy) / (0.25 * rows)) ** 2 + ((xx - cx) / (0.25 * cols)) ** 2))
    velocity = velocity_mm_yr * 1e-3 * bowl + 2e-3 * (xx / cols - 0.5)
    amplitude = seasonal_mm * 1e-3 * (0.3 + 0.7 * bowl)
    step_field = np.where(xx >= cols / 2, step_mm * 1e-3, 0.0)
    k_step = (n_dates // 2 if step_index is None else step_index) if step_mm else None
    t_step = years[k_step] if k_step is not None else np.inf
    disp = np.empty((n_dates, rows, cols), dtype=np.float32)
    for k, t in enumerate(years):
        d = velocity * t + amplitude * np.sin(2 * np.pi * t)
        if t >= t_step:
            d = d + step_field
        disp[k] = d
    disp -= disp[0]
    atmo = np.zeros((n_dates, rows, cols), dtype=np.float32)
    if atmosphere_mm > 0:
        for k in range(n_dates):
            atmo[k] = power_law_screen(shape, rms=atmosphere_mm * 1e-3, seed=seed * 1000 + k)
    bperp = rng.normal(0.0, bperp_std_m, n_dates) if bperp_std_m > 0 else np.zeros(n_dates)
    slant_range, incidence = 850_000.0, 37.0
    dem_err = (
        dem_error_m * (0.5 + bowl) * np.where(yy < rows / 2, 1.0, -1.0)
        if dem_error_m
        else np.zeros(shape)
    )
    base_coh = coherence_map(shape, low=coherence_range[0], high=coherence_range[1], seed=seed)
    m = network.n_ifgs
    phase = np.empty((m, rows, cols), dtype=np.float32)
    coherence = np.empty((m, rows, cols), dtype=np.float32)
    errors = np.zeros((m, rows, cols), dtype=bool)
    to_phase = -4 * np.pi / wavelength
    topo = (bperp - bperp[0]) / (slant_range * np.sin(np.radians(incidence)))
    n_err = round(unwrap_error_fraction * m)
    err_ifgs = set(rng.choice(m, size=n_err, replace=False).tolist()) if n_err else set()
    for k, (i, j) in enumerate(network.pairs.tolist()):
        dtk = years[j] - years[i]
        coh = np.clip(base_coh * np.exp(-dtk / 1.5), 0.05, 0.99).astype(np.float32)
        coherence[k] = coh
        los = (disp[j] - disp[i]) + (atmo[j] - atmo[i]) + (topo[j] - topo[i]) * dem_err
        ph = to_phase * los.astype(np.float64)
        if noise_looks:
            sigma = np.sqrt((1 - coh.astype(np.float64) ** 2) / (2 * noise_looks * coh**2))
            ph += rng.standard_normal(shape) * sigma
        if noise_rad > 0:
            ph += rng.normal(0.0, noise_rad, shape)
        if k in err_ifgs:
            r0, c0 = rng.uniform(0.1, 0.9) * rows, rng.uniform(0.1, 0.9) * cols
            disc = (yy - r0) ** 2 + (xx - c0) ** 2 <= (0.12 * min(rows, cols)) ** 2
            ph += np.where(disc, 2 * np.pi * rng.choice([-1.0, 1.0]), 0.0)
            errors[k] = disc
        phase[k] = ph
    return SimulatedStack(
        network=network,
        phase=phase,
        coherence=coherence,
        displacement=disp,
        atmosphere=atmo,
        velocity=velocity.astype(np.float32),
        seasonal_amplitude=amplitude.astype(np.float32),
        step=step_field.astype(np.float32),
        step_date=dates[k_step] if k_step is not None else None,
        unwrap_errors=errors,
        bperp=bperp,
        dem_error=dem_err.astype(np.float32),
        wavelength=wavelength,
        slant_range=slant_range,
        incidence=incidence,
    )
