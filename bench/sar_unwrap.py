"""Phase-unwrapping benchmark: GEP beside SNAPHU (``snaphu``) and whirlwind (``whirlwind-insar``).

The scene (deterministic, ``seed``), on a ``size x size`` grid of 30 m pixels (61 km at 2048):

* a Mogi inflation source (depth 4 km, ΔV = 2.5e7 m³) and a buried Okada thrust (Mw ~6.3:
  15 x 8 km, strike 20°, dip 30°, 1.5 m slip, centroid 6 km deep), projected on a Sentinel-1
  ascending line of sight (incidence 39°, heading -12°), φ = -4π·d/λ with λ = 5.5466 cm;
  ~17 deformation fringes at 2048²;
* a turbulent troposphere, 1 cm rms (2.3 rad): power-law screen with 2-D spectral exponent 8/3
  above 2 km and 11/3 below (the thick-layer regime of Hanssen 2001, §4.7).
  ``--atmosphere-break 0`` keeps 8/3 down to the 30 m pixel instead: a rougher atmosphere
  whose pixel-scale roughness raises every method's wrong-pixel floor (GEP's most, see
  :mod:`gep.algorithms.sar.unwrap`);
* a coherence field spread uniformly over 0.3–0.95 (patches of ~30 px);
* interferometric noise from 5 looks of correlated circular Gaussian SLC pairs
  (:func:`gep.algorithms.simulate.wrapped_noisy_phase`), so the phase pdf is the exact
  multilook one.

Every method gets the same complex interferogram, the same (true) coherence map, nlooks = 5,
no mask, through :func:`gep.algorithms.sar.unwrap.unwrap` (same reference pixel):

* ``gep``: GEP's unwrapper (2x2 coherent multilook, whirlwind MCF on the coarse frame, each
  full-resolution pixel set to the cycle nearest to its local phase estimate);
* ``whirlwind``: ``whirlwind.unwrap`` with its defaults;
* ``snaphu``: ``snaphu.unwrap(cost="smooth", init="mcf")``: "smooth" because the phase is a
  smooth field (deformation without surface rupture plus atmosphere); "defo" is for fields
  with discontinuities.

The wrong-pixel share is counted over *all* pixels against the true unwrapped phase, after
removing the one constant that best aligns them
(:func:`gep.algorithms.simulate.unwrap_error_share`). Times are wall-clock on the machine as it
is; the load average is printed beside them.

    .venv/bin/python bench/sar_unwrap.py                 # 2048², all three (SNAPHU ~2 min)
    .venv/bin/python bench/sar_unwrap.py --skip-snaphu   # quick
    .venv/bin/python bench/sar_unwrap.py --size 1024 --seed 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from gep.algorithms.models import mogi, okada85, project_los
from gep.algorithms.sar.unwrap import Method, unwrap
from gep.algorithms.simulate import (
    coherence_map,
    power_law_screen,
    unwrap_error_share,
    wrapped_noisy_phase,
)

WAVELENGTH = 0.055465763  # Sentinel-1 C band (m)
PIXEL = 30.0  # m
LOOKS = 5
ATMOSPHERE_RMS = 0.01  # m
ATMOSPHERE_BREAK: float | None = 2000.0  # m: below it the spectrum steepens from 8/3 to 11/3
COHERENCE = (0.3, 0.95)
METHODS: tuple[Method, ...] = ("gep", "whirlwind", "snaphu")


def simulate_scene(
    size: int = 2048, seed: int = 0, break_scale: float | None = ATMOSPHERE_BREAK
) -> dict[str, Any]:
    """The benchmark scene: true phase, complex interferogram, coherence and a description."""
    n = int(size)
    scale = n / 2048.0  # sources keep their place in the frame at any size
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    east = (x - n / 2) * PIXEL
    north = (n / 2 - y) * PIXEL
    me, mn, mu = mogi(east + 12000.0 * scale, north - 10000.0 * scale, 4000.0, 2.5e7)
    oe, on, ou = okada85(
        east - 12000.0 * scale, north + 8000.0 * scale, 6000.0, 20.0, 30.0, 15000.0, 8000.0,
        90.0, 1.5,
    )  # fmt: skip
    deformation = project_los(me + oe, mn + on, mu + ou, 39.0, -12.0)
    atmosphere = power_law_screen(
        (n, n), rms=ATMOSPHERE_RMS, pixel_spacing=PIXEL, seed=seed + 1, break_scale=break_scale
    )
    to_phase = -4.0 * np.pi / WAVELENGTH
    true = to_phase * (deformation + atmosphere)
    coh = coherence_map((n, n), low=COHERENCE[0], high=COHERENCE[1], correlation_px=30.0,
                        seed=seed + 2)  # fmt: skip
    ifg = wrapped_noisy_phase(true, coh, LOOKS, seed=seed + 3)
    defo_phase = to_phase * deformation
    return {
        "true": true,
        "ifg": ifg,
        "coherence": coh,
        "description": {
            "size": n,
            "seed": seed,
            "pixel_m": PIXEL,
            "deformation_fringes": round(float(np.ptp(defo_phase)) / (2 * np.pi), 1),
            "total_fringes": round(float(np.ptp(true)) / (2 * np.pi), 1),
            "atmosphere_rms_rad": round(ATMOSPHERE_RMS * 4 * np.pi / WAVELENGTH, 2),
            "atmosphere_break_m": break_scale,
            "coherence_range": COHERENCE,
            "looks": LOOKS,
        },
    }


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """SNAPHU's executable logs on file descriptor 1: send it to stderr so stdout stays ours."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _timed(method: Method, scene: dict[str, Any]) -> dict[str, float]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = time.process_time() + children.ru_utime + children.ru_stime
    t0 = time.perf_counter()
    with _stdout_to_stderr():
        unw = unwrap(scene["ifg"], scene["coherence"], method=method, nlooks=float(LOOKS))
    wall = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() + children.ru_utime + children.ru_stime - cpu0
    return {
        "time_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "wrong_pct": round(100.0 * unwrap_error_share(unw, scene["true"]), 3),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def run(
    size: int = 2048,
    *,
    skip_snaphu: bool = False,
    seed: int = 0,
    break_scale: float | None = ATMOSPHERE_BREAK,
) -> dict[str, Any]:
    """Simulate the scene and unwrap it with each method; returns the scene's description and,
    per method, wall time (s), CPU time (s, threads and subprocesses included), % wrong pixels
    and the 1-minute load average after the run."""
    scene = simulate_scene(size, seed, break_scale)
    results: dict[str, Any] = {"scene": scene["description"], "cpus": os.cpu_count()}
    for method in METHODS:
        if method == "snaphu" and skip_snaphu:
            continue
        results[method] = _timed(method, scene)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-snaphu", action="store_true", help="GEP and whirlwind only")
    parser.add_argument(
        "--atmosphere-break",
        type=float,
        default=ATMOSPHERE_BREAK,
        help="wavelength (m) below which the atmosphere's spectrum steepens to 11/3; "
        "0 = a single 8/3 power law down to the pixel",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    res = run(
        args.size,
        skip_snaphu=args.skip_snaphu,
        seed=args.seed,
        break_scale=args.atmosphere_break or None,
    )
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"scene: {res['scene']}  ({res['cpus']} CPUs)")
    print(f"{'method':<10} {'time s':>8} {'cpu s':>8} {'% wrong':>8} {'load':>6}")
    for method in METHODS:
        if method in res:
            r = res[method]
            print(
                f"{method:<10} {r['time_s']:>8.2f} {r['cpu_s']:>8.2f} {r['wrong_pct']:>8.3f} "
                f"{r['load_avg_1min']:>6.2f}"
            )


if __name__ == "__main__":
    main()
