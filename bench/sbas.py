"""SBAS inversion: GEP against MintPy and dolphin on the same stacks (issue #7).

Prints, per stack, the inversion time and peak memory of
- GEP ``gep.algorithms.timeseries.inversion.invert`` (unweighted, and coherence-weighted), in
  memory, and the block-streamed ``run_sbas`` at two block sizes (peak memory bounded by the
  block, not the stack);
- MintPy 1.6.4 ``ifgram_inversion.estimate_timeseries`` called as MintPy's own
  ``run_ifgram_inversion_patch`` calls it (unweighted: one call for the pixels valid in every
  interferogram, then pixel by pixel; weighted: pixel by pixel), in ``bench/.venv-mintpy``;
- dolphin's ``timeseries.invert_stack`` (JAX, unweighted, every interferogram of every pixel;
  timed after a warm-up compile and blocked on the result) in ``bench/.venv-dolphin``;
and the largest velocity difference GEP − MintPy where both are valid (target 0.5 mm/yr).

Stacks: the real Mexico City GAMMA stack (30 interferograms, 100 × 60 px), a simulated
30-interferogram 500 × 500 stack and a simulated 99-interferogram 1000 × 1000 stack (no
weighted MintPy there: pixel by pixel it would take minutes).

    .venv/bin/python bench/sbas.py [--quick]      (make mintpy first; dolphin: see README)

Peak memory: ``tracemalloc`` peak of numpy allocations during the call (MB); for dolphin the
RSS growth (XLA's buffers are invisible to tracemalloc). Times: best of 3 for GEP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from gep.algorithms.sar.dinsar import phase_to_los
from gep.algorithms.simulate.timeseries import simulate_stack
from gep.algorithms.timeseries.inversion import invert
from gep.algorithms.timeseries.model import fit
from gep.algorithms.timeseries.network import Network
from gep.algorithms.timeseries.sbas import SbasOptions, coherence_weights, run_sbas
from gep.demo.sbas import DATA, REFERENCE, manifest
from gep.io.ifg_stack import read_interferogram, read_rows

HERE = Path(__file__).resolve().parent
PEER = HERE / "sbas_peer.py"
VENVS = {"mintpy": HERE / ".venv-mintpy", "dolphin": HERE / ".venv-dolphin"}


def mexico() -> tuple[Network, np.ndarray, np.ndarray, float]:
    entries = manifest()
    ifgs = [
        read_interferogram(DATA / e["unwrapped"], e["id"], DATA / e["coherence"]) for e in entries
    ]
    net = Network.from_pairs([(e["first_date"], e["second_date"]) for e in entries])
    phase, coh = read_rows(ifgs, slice(0, ifgs[0].grid.height))
    assert coh is not None and ifgs[0].wavelength is not None
    r, c = ifgs[0].grid.pixel_of(*REFERENCE)
    y = (phase - phase[:, r : r + 1, c : c + 1]).reshape(net.n_ifgs, -1)
    return net, y, coh.reshape(net.n_ifgs, -1), ifgs[0].wavelength


def simulated(n_dates: int, side: int, seed: int) -> tuple[Network, np.ndarray, np.ndarray, float]:
    s = simulate_stack(n_dates, (side, side), neighbours=3, noise_rad=0.3, seed=seed)
    m = s.network.n_ifgs
    return s.network, s.phase.reshape(m, -1), s.coherence.reshape(m, -1), s.wavelength


def gep_time(fn: Any, repeat: int = 3) -> tuple[float, float, Any]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        del out
    tracemalloc.start()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak, out


def peer(kind: str, runs: list[tuple[str, dict[str, np.ndarray]]]) -> list[dict[str, Any] | str]:
    python = VENVS[kind] / "bin" / "python"
    if not python.exists():
        return [f"no {VENVS[kind].name}"] * len(runs)
    with tempfile.TemporaryDirectory() as tmp:
        args = []
        for k, (mode, arrays) in enumerate(runs):
            np.savez(f"{tmp}/in{k}.npz", **arrays)
            args += [mode, f"{tmp}/in{k}.npz", f"{tmp}/out{k}.npz"]
        env = {**os.environ, "JAX_PLATFORMS": "cpu"}
        run = subprocess.run([str(python), str(PEER), *args], capture_output=True, text=True,
                             env=env)  # fmt: skip
        if run.returncode != 0:
            return [f"failed: {run.stderr.strip().splitlines()[-1][:80]}"] * len(runs)
        return [dict(np.load(f"{tmp}/out{k}.npz")) for k in range(len(runs))]


def velocity_mm(net: Network, ts_phase: np.ndarray, wavelength: float) -> np.ndarray:
    return fit(net.years, phase_to_los(ts_phase, wavelength)).velocity * 1000


def bench(name: str, stack: tuple[Network, np.ndarray, np.ndarray, float], weighted: bool) -> None:
    net, y, coh, wl = stack
    m, p = y.shape
    print(f"\n## {name}: {m} interferograms, {net.n_dates} dates, {p:,} pixels "
          f"(load average {os.getloadavg()[0]:.2f})")  # fmt: skip
    rows: list[tuple[str, str, str, str]] = []
    t, mem, inv = gep_time(lambda: invert(net, y, min_interferograms=1))
    v_gep = velocity_mm(net, inv.phase, wl)
    rows.append(("GEP invert, unweighted", f"{t:.3f}", f"{mem:.0f}", ""))
    w = np.where(np.isfinite(y), coherence_weights(np.nan_to_num(coh), looks=8), 0.0)
    w = w.astype(np.float32)
    tw, memw, inv_w = gep_time(lambda: invert(net, y, weights=w, min_interferograms=1))
    v_gep_w = velocity_mm(net, inv_w.phase, wl)
    rows.append(("GEP invert, weighted", f"{tw:.3f}", f"{memw:.0f}", ""))
    side = round(float(np.sqrt(p)))
    shape = (p // side, side) if side * (p // side) == p else (1, p)
    cube = y.reshape(m, *shape)
    for block_mb in (8, 64):

        def stream(block_mb: int = block_mb) -> None:
            for _ in run_sbas(
                net, shape, lambda rs: (cube[:, rs], None), np.zeros(m), SbasOptions(wl),
                max_block_bytes=block_mb * 2**20,
            ):  # fmt: skip
                pass

        tb, memb, _ = gep_time(stream, repeat=1)
        rows.append((f"GEP run_sbas, {block_mb} MB blocks (+fit)", f"{tb:.3f}", f"{memb:.0f}", ""))
    arrays = {"y": y, "pairs": net.pairs,
              "dates": np.array([str(d).replace("-", "") for d in net.dates])}  # fmt: skip
    modes = [("mintpy", arrays)]
    if weighted:
        full = np.isfinite(y).all(axis=0)
        modes.append(("mintpy-weighted", {**arrays, "y": y[:, full], "weight": w[:, full]}))
    outs = peer("mintpy", modes)
    for (mode, _), out in zip(modes, outs, strict=True):
        if isinstance(out, str):
            rows.append((f"MintPy {mode}", out, "", ""))
            continue
        v_m = phase_to_los(out["velocity"], wl) * 1000
        ok = out["tcoh"] > 0
        if mode == "mintpy":
            both = ok & np.isfinite(v_gep)
            d = np.abs(v_gep[both] - v_m[both]).max()
        else:
            both = ok & np.isfinite(v_gep_w[full])
            d = np.abs(v_gep_w[full][both] - v_m[both]).max()
        rows.append((f"MintPy {mode.replace('mintpy-', '')}", f"{out['seconds']:.3f}",
                     f"{out['peak_traced_mb']:.0f}", f"{d:.4f}"))  # fmt: skip
    (dol,) = peer("dolphin", [("dolphin", arrays)])
    if isinstance(dol, str):
        rows.append(("dolphin invert_stack", dol, "", ""))
    else:
        rows.append(("dolphin invert_stack (JAX)", f"{dol['seconds']:.3f}",
                     f"{dol['peak_rss_mb']:.0f} (RSS)", ""))  # fmt: skip
    print(f"{'':44s} {'seconds':>9s} {'peak MB':>12s} {'max |Δv| vs GEP mm/yr':>24s}")
    for label, sec, mb, dv in rows:
        print(f"{label:44s} {sec:>9s} {mb:>12s} {dv:>24s}")
    mp = {lab: float(sec) for lab, sec, _, _ in rows if lab.startswith("MintPy")
          and sec.replace(".", "").isdigit()}  # fmt: skip
    if "MintPy mintpy" in mp:
        print(f"speed-up over MintPy unweighted: {mp['MintPy mintpy'] / t:.1f}x")
    if "MintPy weighted" in mp:
        print(f"speed-up over MintPy weighted:   {mp['MintPy weighted'] / tw:.1f}x")


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"SBAS inversion benchmark, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    bench("Mexico City (real, GAMMA)", mexico(), weighted=True)
    bench("simulated 30 × 500²", simulated(12, 500, seed=1), weighted=True)
    if not quick:
        bench("simulated 99 × 1000²", simulated(35, 1000, seed=2), weighted=False)


if __name__ == "__main__":
    main()
