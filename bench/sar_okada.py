"""Okada (1985) throughput: GEP's ``okada85`` (numba kernel) beside cutde and the numpy reference.

    .venv/bin/python bench/sar_okada.py [N ...] [--repeats 5] [--slow-repeats 1] [--no-compile]

All three evaluate one source (an 8 km x 5 km rectangle 6 km deep, strike 120°, dip 35°,
rake 60°, 1 m slip + 0.2 m opening, nu = 0.25) at the same N random surface points within
±50 km, and give surface displacements (east, north, up). Figures are evaluations (points) per
second, wall clock, on every core numba / OpenMP see:

* ``gep``: ``gep.algorithms.models.okada85``, best of ``repeats`` after one warm-up call (which
  pays numba's cache load, or its compile on a fresh machine).
* ``numpy``: ``_okada85_numpy``, GEP's vectorised numpy reference (single-threaded numpy).
* ``cutde``: ``cutde.halfspace.disp_free`` on the two triangles of the rectangle (as
  ``tests/algorithms/test_models.py`` builds them), float64. Of cutde's calls for displacements
  at points it is the fastest: ``disp_matrix`` computes the 3 x 3 Green's functions of every
  triangle (~2.4x slower) and ``disp`` (one triangle per point, called per triangle) is on par.

The last two are slow, so they take ``slow_repeats`` timed calls (after a warm-up on 1 000
points that loads their code). ``compile_times()`` measures, in fresh interpreters with an empty
numba cache directory, the first call with a cold compile and then with the cache filled.

``run(n_points)`` returns the figures as a dict (importable: ``bench/sar.py`` uses it);
``main()`` prints a table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gep.algorithms.models import okada85
from gep.algorithms.models.okada import _okada85_numpy

SOURCE: dict[str, float] = {
    "depth": 6000.0,
    "strike": 120.0,
    "dip": 35.0,
    "length": 8000.0,
    "width": 5000.0,
    "rake": 60.0,
    "slip": 1.0,
    "opening": 0.2,
    "nu": 0.25,
}
HALF_SPAN = 50_000.0  # m


def points(n_points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's observation points (east, north), uniform within ±HALF_SPAN."""
    rng = np.random.default_rng(seed)
    e, n = rng.uniform(-HALF_SPAN, HALF_SPAN, (2, n_points))
    return e, n


def rectangle_triangles(
    depth: float, strike: float, dip: float, length: float, width: float
) -> np.ndarray:
    """The rectangle as cutde's two triangles, normals up (hanging wall), as the test does."""
    st, di = np.radians(strike), np.radians(dip)
    along = np.array([np.sin(st), np.cos(st), 0.0])
    down = np.cos(di) * np.array([np.cos(st), -np.sin(st), 0.0]) + np.array([0.0, 0.0, -np.sin(di)])
    c = np.array([0.0, 0.0, -depth])
    a = c - length / 2 * along - width / 2 * down
    b = c + length / 2 * along - width / 2 * down
    cc = c + length / 2 * along + width / 2 * down
    d = c - length / 2 * along + width / 2 * down
    tris = []
    for tri in ([a, b, cc], [a, cc, d]):
        if np.cross(tri[1] - tri[0], tri[2] - tri[0])[2] < 0:
            tri = [tri[0], tri[2], tri[1]]
        tris.append(tri)
    return np.array(tris)


def _gep(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.stack(okada85(e, n, **SOURCE))


def _numpy(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.stack(_okada85_numpy(e, n, **SOURCE))


def _cutde_call() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """cutde's ``disp_free`` for SOURCE: (strike-slip, dip-slip, opening) on both triangles."""
    import cutde.halfspace as cutde_hs  # imported here: a test/bench-only dependency

    s = SOURCE
    tris = rectangle_triangles(s["depth"], s["strike"], s["dip"], s["length"], s["width"])
    rake = np.radians(s["rake"])
    slip = [s["slip"] * np.cos(rake), s["slip"] * np.sin(rake), s["opening"]]
    slips = np.array([slip, slip])

    def call(e: np.ndarray, n: np.ndarray) -> np.ndarray:
        obs = np.stack([e, n, np.zeros_like(e)], axis=1)
        return np.asarray(cutde_hs.disp_free(obs, tris, slips, s["nu"])).T

    return call


def _best(
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    e: np.ndarray,
    n: np.ndarray,
    repeats: int,
) -> tuple[float, np.ndarray]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best = float("inf")
    out = np.empty(0)
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        out = fn(e, n)
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(n_points: int, repeats: int = 5, slow_repeats: int = 1, seed: int = 0) -> dict[str, Any]:
    """Evaluations/s of GEP (numba), GEP's numpy reference and cutde on ``n_points`` points.

    Also the largest difference of GEP from the other two, relative to the field's peak.
    """
    import numba

    e, n = points(n_points, seed)
    cutde = _cutde_call()
    t0 = time.perf_counter()
    _gep(e[:1000], n[:1000])  # warm-up: numba cache load (or compile), thread pool start
    warm_s = time.perf_counter() - t0
    t_gep, ours = _best(_gep, e, n, repeats)
    _numpy(e[:1000], n[:1000])
    t_np, ref = _best(_numpy, e, n, slow_repeats)
    cutde(e[:1000], n[:1000])
    t_cut, theirs = _best(cutde, e, n, slow_repeats)
    scale = float(np.abs(theirs).max())
    return {
        "n_points": n_points,
        "threads": numba.get_num_threads(),
        "gep_points_per_s": n_points / t_gep,
        "numpy_points_per_s": n_points / t_np,
        "cutde_points_per_s": n_points / t_cut,
        "gep_s": t_gep,
        "numpy_s": t_np,
        "cutde_s": t_cut,
        "gep_warmup_s": warm_s,
        "gep_vs_numpy_max_rel": float(np.abs(ours - ref).max()) / scale,
        "gep_vs_cutde_max_rel": float(np.abs(ours - theirs).max()) / scale,
    }


_FIRST_CALL = """
import time
t0 = time.perf_counter()
from gep.algorithms.models import okada85
t1 = time.perf_counter()
okada85(1000.0, 2000.0, 6000.0, 120.0, 35.0, 8000.0, 5000.0, 60.0, 1.0)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def compile_times() -> dict[str, float]:
    """Import and first-call seconds in fresh interpreters: cold numba cache, then filled."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="gep-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "cached"):
            res = subprocess.run(
                [sys.executable, "-c", _FIRST_CALL],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            imp, first = (float(v) for v in res.stdout.split())
            out[f"import_s_{label}"] = imp
            out[f"first_call_s_{label}"] = first
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000_000, 4_000_000])
    parser.add_argument("--repeats", type=int, default=5, help="timed GEP calls (best kept)")
    parser.add_argument("--slow-repeats", type=int, default=1, help="timed numpy/cutde calls")
    parser.add_argument("--no-compile", action="store_true", help="skip compile_times()")
    args = parser.parse_args(argv)

    import cutde.backend
    import numba

    print(
        f"okada85 benchmark: {os.cpu_count()} CPUs, numba {numba.__version__} "
        f"({numba.get_num_threads()} threads), cutde backend {cutde.backend.which_backend}"
    )
    if not args.no_compile:
        ct = compile_times()
        print(
            f"first call in a fresh process: {ct['first_call_s_cold']:.1f} s with an empty numba "
            f"cache (compile), {ct['first_call_s_cached']:.2f} s with it filled "
            f"(import {ct['import_s_cached']:.2f} s)"
        )
    header = f"{'points':>10} {'GEP numba':>14} {'numpy ref':>14} {'cutde':>14} {'GEP/numpy':>10}"
    header += f" {'GEP/cutde':>10} {'|GEP-cutde|':>12}"
    print(header)
    print(f"{'':>10} {'points/s':>14} {'points/s':>14} {'points/s':>14}")
    for size in args.sizes:
        r = run(size, args.repeats, args.slow_repeats)
        print(
            f"{size:>10,} {r['gep_points_per_s']:>14,.0f} {r['numpy_points_per_s']:>14,.0f} "
            f"{r['cutde_points_per_s']:>14,.0f} "
            f"{r['gep_points_per_s'] / r['numpy_points_per_s']:>9.1f}x "
            f"{r['gep_points_per_s'] / r['cutde_points_per_s']:>9.1f}x "
            f"{r['gep_vs_cutde_max_rel']:>12.1e}"
        )
    print(
        "|GEP-cutde|: largest difference relative to the field's peak; numba threading layer: "
        + numba.threading_layer()
    )


if __name__ == "__main__":
    main()
