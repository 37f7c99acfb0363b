"""GEP's SBAS velocities side by side with MintPy's (an independent implementation, PyPI
``mintpy`` in its own venv, ``make mintpy``), on the real Mexico City stack and on a simulated
100-interferogram stack: max |Δ velocity| <= 0.5 mm/yr wherever both are valid (issue #7).

MintPy runs through ``bench/sbas_peer.py`` exactly as its ``run_ifgram_inversion_patch`` calls
``estimate_timeseries``; the comparison uses MintPy's own design matrices and velocity fit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from gep.algorithms.sar.dinsar import phase_to_los
from gep.algorithms.simulate.timeseries import simulate_stack
from gep.algorithms.timeseries.inversion import invert
from gep.algorithms.timeseries.model import fit
from gep.algorithms.timeseries.network import Network
from gep.algorithms.timeseries.sbas import coherence_weights
from gep.demo.sbas import DATA, REFERENCE, manifest
from gep.io.ifg_stack import read_interferogram, read_rows

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "bench" / "sbas_peer.py"
MINTPY = ROOT / "bench" / ".venv-mintpy" / "bin" / "python"
TOL_MM_YR = 0.5


def _save(tmp: Path, name: str, net: Network, y: np.ndarray, weight: np.ndarray | None) -> Path:
    dates = np.array([str(d).replace("-", "") for d in net.dates])
    arrays = {"y": y.astype(np.float32), "pairs": net.pairs, "dates": dates}
    if weight is not None:
        arrays["weight"] = weight.astype(np.float32)
    np.savez(tmp / f"{name}.npz", **arrays)
    return tmp / f"{name}.npz"


def _gep_velocity(net: Network, y: np.ndarray, wavelength: float, **kw: object) -> np.ndarray:
    inv = invert(net, y, **kw)  # type: ignore[arg-type]
    return fit(net.years, phase_to_los(inv.phase, wavelength)).velocity * 1000


def _compare(gep: np.ndarray, peer: dict, wavelength: float) -> tuple[float, int]:
    mintpy = phase_to_los(peer["velocity"], wavelength) * 1000
    both = np.isfinite(gep) & (peer["tcoh"] > 0)  # MintPy leaves unsolvable pixels at 0
    return float(np.abs(gep[both] - mintpy[both]).max()), int(both.sum())


Case = tuple[Network, np.ndarray, np.ndarray | None, float]


def _mexico_cases() -> dict[str, Case]:
    entries = manifest()
    ifgs = [
        read_interferogram(DATA / e["unwrapped"], e["id"], DATA / e["coherence"]) for e in entries
    ]
    net = Network.from_pairs([(e["first_date"], e["second_date"]) for e in entries])
    phase, coh = read_rows(ifgs, slice(0, ifgs[0].grid.height))
    assert coh is not None and ifgs[0].wavelength is not None
    r, c = ifgs[0].grid.pixel_of(*REFERENCE)
    y = (phase - phase[:, r : r + 1, c : c + 1]).reshape(net.n_ifgs, -1)
    coh2 = coh.reshape(net.n_ifgs, -1)
    w = np.where(np.isfinite(y), coherence_weights(np.nan_to_num(coh2), looks=8), 0.0)
    full = np.isfinite(y).all(axis=0)  # MintPy's weighted path takes no NaN
    wl = ifgs[0].wavelength
    return {"mexico": (net, y, None, wl), "mexico-weighted": (net, y[:, full], w[:, full], wl)}


def _simulated_case() -> Case:
    """36 dates, each paired with the next three: 99 interferograms; 2 mm of troposphere a
    date, 0.3 rad of noise, a seasonal term, and holes (~20 % of pixels lack an ifg)."""
    s = simulate_stack(
        35, (120, 120), neighbours=3, atmosphere_mm=2.0, noise_rad=0.3, seasonal_mm=5.0, seed=17
    )
    y = s.phase.reshape(s.network.n_ifgs, -1).copy()
    y[np.random.default_rng(5).random(y.shape) < 0.002] = np.nan
    return s.network, y, None, s.wavelength


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Case, dict]]:
    """Every case through MintPy in one peer process."""
    if not MINTPY.exists():
        pytest.fail(f"MintPy's venv is missing ({MINTPY}); run `make mintpy`")
    tmp = Path(tmp_path_factory.mktemp("mintpy"))
    cases = {**_mexico_cases(), "simulated": _simulated_case()}
    args: list[str] = []
    for name, (net, y, w, _) in cases.items():
        mode = "mintpy" if w is None else "mintpy-weighted"
        args += [mode, str(_save(tmp, name, net, y, w)), str(tmp / f"{name}.out.npz")]
    run = subprocess.run(
        [str(MINTPY), str(PEER), *args], capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return {n: (c, dict(np.load(tmp / f"{n}.out.npz"))) for n, c in cases.items()}


def test_mexico_city_velocity_agrees_with_mintpy(runs: dict[str, tuple[Case, dict]]) -> None:
    (net, y, _, wavelength), peer = runs["mexico"]
    assert np.isnan(y).any()  # no-data pixels: MintPy solves them one by one, GEP by pattern
    gep = _gep_velocity(net, y, wavelength, min_interferograms=1)
    worst, n = _compare(gep, peer, wavelength)
    assert n > 0.97 * y.shape[1]
    assert worst <= TOL_MM_YR, worst
    assert np.nanpercentile(gep, 2) < -200  # and both see a city sinking by tens of cm/yr


def test_mexico_city_weighted_velocity_agrees_with_mintpy(
    runs: dict[str, tuple[Case, dict]],
) -> None:
    (net, y, w, wavelength), peer = runs["mexico-weighted"]
    gep = _gep_velocity(net, y, wavelength, weights=w, min_interferograms=1)
    worst, n = _compare(gep, peer, wavelength)
    assert n == y.shape[1]
    assert worst <= TOL_MM_YR, worst


def test_simulated_99_interferogram_stack_agrees_with_mintpy(
    runs: dict[str, tuple[Case, dict]],
) -> None:
    (net, y, _, wavelength), peer = runs["simulated"]
    assert net.n_ifgs == 99
    gep = _gep_velocity(net, y, wavelength, min_interferograms=1)
    worst, n = _compare(gep, peer, wavelength)
    assert n > 0.99 * y.shape[1]
    assert worst <= TOL_MM_YR, worst
