"""DInSAR array kernels on a burst-sized pair: GEP beside the memory bound and plain numpy/scipy.

The pair is an IW-burst-sized ``1500 x 20000`` complex64 image pair (240 MB each): band-limited
speckle (white noise with 15 % of the spectrum zeroed at the edges of both axes, like
Sentinel-1's ~1.2 oversampling), a secondary correlated at γ = 0.8 carrying a flat-earth +
topographic phase, smooth S1-like azimuth/range offsets and that synthetic phase as a float32
array.  For each kernel of :mod:`gep.algorithms.sar.kernels` the run prints

* GEP's time (best of ``repeats``; numba warmed up first, compile time reported apart) and its
  throughput in Mpixel/s of the kernel's input grid;
* the bytes the kernel must move: every input read once plus every output written once
  (ifg+multilook: ref 8 + sec 8 + phase 4 B/px read, the small outputs written; coherence
  the same + 4 B/px coherence out; Goldstein 8 in + 8 out on its grid; resampling slc 8 +
  two offsets 4 + 4 in, 8 out);
* the bound = bytes / copy bandwidth, measured in the same run (best of ``np.copyto`` and a
  numba parallel copy of a 240 MB array, counting bytes read + written), and GEP / bound;
* the straightforward numpy/scipy version (what a scientist would write: complex expression +
  reshape-mean, ``scipy.ndimage.uniform_filter`` on the parts, a patch loop with
  ``numpy.fft``, ``scipy.ndimage.map_coordinates(order=3)`` on the real and imaginary parts).

Full-size outputs (resampled image, coherence) are timed into a reused ``out=`` buffer (the
kernel's own cost); the plain call, which also pays the page faults of a fresh 240/120 MB
array, is printed beside it.  Then the chain these kernels make (everything but unwrapping
and geocoding): resample the secondary, interferogram + (4, 16) multilook with the synthetic
phase removed (4 x 16 looks ≈ 56 x 37 m on S1 IW; 5 x 20 is the other common choice),
Goldstein (α = 0.5, 32-px patches, step 8) on the multilooked interferogram, and the 5 x 5
full-resolution coherence.

    .venv/bin/python bench/sar_kernels.py            # the burst pair (~1 min + compile check)
    .venv/bin/python bench/sar_kernels.py --small    # 300 x 4000, seconds
    .venv/bin/python bench/sar_kernels.py --no-compile --skip-numpy

``run(shape)`` returns the figures as a dict (bench/sar.py combines it with the other steps).
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

import numba
import numpy as np
import scipy.fft
from scipy import ndimage

from gep.algorithms.sar import kernels as K

BURST = (1500, 20000)
SMALL = (300, 4000)
LOOKS = (4, 16)
WINDOW = (5, 5)
ALPHA, PATCH, STEP = 0.5, 32, 8
GAMMA = 0.8

# ---------------------------------------------------------------------------------------------
# the simulated pair


def simulate_pair(shape: tuple[int, int], seed: int = 0) -> dict[str, np.ndarray]:
    """ref, sec (complex64), phase (float32, radians), az/rg offsets (float32, pixels)."""
    h, w = shape
    rng = np.random.default_rng(seed)

    def white() -> np.ndarray:
        z = np.empty(shape, np.complex64)
        z.view(np.float32)[...] = rng.standard_normal((h, 2 * w), dtype=np.float32)
        return z

    spec = scipy.fft.fft2(white(), workers=-1, overwrite_x=True)
    spec[np.abs(np.fft.fftfreq(h)) > 0.425, :] = 0
    spec[:, np.abs(np.fft.fftfreq(w)) > 0.425] = 0
    ref = scipy.fft.ifft2(spec, workers=-1, overwrite_x=True).astype(np.complex64, copy=False)
    del spec
    ref *= np.float32(1.0 / np.sqrt(np.mean(np.abs(ref[::7, ::7]) ** 2)))
    ii = np.arange(h, dtype=np.float32)[:, None]
    jj = np.arange(w, dtype=np.float32)[None, :]
    # flat earth (~0.02 cycles/px across range) + a smooth "topographic" term
    phase = (
        2 * np.pi * (0.02 * jj + 0.001 * ii)
        + 6.0 * np.sin(2 * np.pi * jj / 3000) * np.cos(2 * np.pi * ii / 900)
    ).astype(np.float32)
    sec = white()
    sec *= np.float32(np.sqrt(1 - GAMMA**2))
    sec += np.float32(GAMMA) * ref * np.exp(1j * phase).astype(np.complex64)
    az = (0.31 + 1e-5 * jj + 2e-5 * ii).astype(np.float32)
    rg = (-1.23 + 3e-5 * jj + 1e-4 * ii).astype(np.float32)
    rg += (0.05 * np.sin(2 * np.pi * jj / 700) * np.cos(2 * np.pi * ii / 300)).astype(np.float32)
    return {"ref": ref, "sec": sec, "phase": phase, "az": az, "rg": rg}


# ---------------------------------------------------------------------------------------------
# straightforward numpy / scipy versions


def numpy_ifg_multilook(ref, sec, looks, phase):  # type: ignore[no-untyped-def]
    la, lr = looks
    h, w = ref.shape[0] // la, ref.shape[1] // lr
    z = ref * np.conj(sec) * np.exp(-1j * phase)
    p1 = np.abs(ref) ** 2
    p2 = np.abs(sec) ** 2

    def ml(a):  # type: ignore[no-untyped-def]
        return a[: h * la, : w * lr].reshape(h, la, w, lr).mean(axis=(1, 3))

    zm, p1m, p2m = ml(z), ml(p1), ml(p2)
    return zm, np.abs(zm) / np.sqrt(p1m * p2m), np.sqrt(p1m)


def numpy_coherence(ref, sec, window, phase):  # type: ignore[no-untyped-def]
    z = ref * np.conj(sec) * np.exp(-1j * phase)
    re = ndimage.uniform_filter(z.real, window, mode="constant")
    im = ndimage.uniform_filter(z.imag, window, mode="constant")
    p1 = ndimage.uniform_filter(np.abs(ref) ** 2, window, mode="constant")
    p2 = ndimage.uniform_filter(np.abs(sec) ** 2, window, mode="constant")
    return np.sqrt(re**2 + im**2) / np.sqrt(p1 * p2)


def numpy_goldstein(ifg, alpha, patch, step, smooth=3):  # type: ignore[no-untyped-def]
    h, w = ifg.shape
    rows = sorted(set(range(0, h - patch + 1, step)) | {h - patch})
    cols = sorted(set(range(0, w - patch + 1, step)) | {w - patch})
    tri = 1.0 - np.abs(2.0 * np.arange(patch) + 1.0 - patch) / patch
    wts = np.outer(tri, tri)
    out = np.zeros(ifg.shape, np.complex128)
    norm = np.zeros(ifg.shape)
    for r in rows:
        for c in cols:
            spec = np.fft.fft2(ifg[r : r + patch, c : c + patch])
            mag = ndimage.uniform_filter(np.abs(spec), smooth, mode="wrap")
            spec *= (mag / mag.max()) ** alpha
            out[r : r + patch, c : c + patch] += wts * np.fft.ifft2(spec)
            norm[r : r + patch, c : c + patch] += wts
    return out / norm


def numpy_resample(slc, az, rg):  # type: ignore[no-untyped-def]
    h, w = slc.shape
    ii, jj = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = np.stack([ii + az, jj + rg])
    del ii, jj
    re = ndimage.map_coordinates(slc.real, coords, order=3, mode="constant")
    im = ndimage.map_coordinates(slc.imag, coords, order=3, mode="constant")
    return re + 1j * im


# ---------------------------------------------------------------------------------------------
# measurement


@numba.njit(parallel=True, cache=True)
def _parallel_copy(src, dst):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    n = src.shape[0]
    chunk = 1 << 16
    for c in numba.prange((n + chunk - 1) // chunk):
        lo = np.uint64(c * chunk)
        for t in range(np.uint64(min(chunk, n - c * chunk))):
            dst[lo + t] = src[lo + t]


def copy_bandwidth(nbytes: int = 240_000_000, repeats: int = 7) -> dict[str, float]:
    """Bytes read + written per second by a large copy: numpy (1 thread) and numba (all)."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.zeros_like(src)
    _parallel_copy(src[:1000], dst[:1000])
    t_np = _best(lambda: np.copyto(dst, src), repeats)
    t_nb = _best(lambda: _parallel_copy(src, dst), repeats)
    return {"numpy_GBps": 2 * src.nbytes / t_np / 1e9, "parallel_GBps": 2 * src.nbytes / t_nb / 1e9}


def _best(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _warm(sim: dict[str, np.ndarray]) -> dict[str, float]:
    """First calls on small crops, so numba compile / cache load stays out of the timings."""
    ref, sec, ph, az, rg = (sim[k][:64, :256] for k in ("ref", "sec", "phase", "az", "rg"))
    calls = {
        "interferogram_multilook": lambda: K.interferogram_multilook(ref, sec, LOOKS, ph),
        "coherence": lambda: K.coherence(ref, sec, WINDOW, ph, out=np.empty(ref.shape, np.float32)),
        "goldstein": lambda: K.goldstein(ref, ALPHA, PATCH, STEP),
        "resample": lambda: K.resample(sec, az, rg, out=np.empty(ref.shape, np.complex64)),
        "multilook": lambda: K.multilook(ref, LOOKS),
    }
    out = {}
    for name, fn in calls.items():
        t0 = time.perf_counter()
        fn()
        out[name] = time.perf_counter() - t0
    K.coherence(ref, sec, WINDOW, ph)
    K.resample(sec, az, rg)
    return out


def _entry(n_px: int, nbytes: int, bw: float, t: float, t_alloc: float | None, t_np: float | None):
    bound = nbytes / bw
    return {
        "gep_s": t,
        "gep_alloc_s": t_alloc,
        "mpix_per_s": n_px / t / 1e6,
        "bytes": nbytes,
        "bound_s": bound,
        "gep_over_bound": t / bound,
        "numpy_s": t_np,
        "speedup_vs_numpy": None if t_np is None else t_np / t,
    }


def run(
    shape: tuple[int, int] = BURST, repeats: int = 5, numpy_baseline: bool = True, seed: int = 0
) -> dict[str, Any]:
    """Time every kernel and the chain on a simulated pair of ``shape``; figures as a dict."""
    t0 = time.perf_counter()
    sim = simulate_pair(shape, seed)
    gen_s = time.perf_counter() - t0
    ref, sec, phase, az, rg = (sim[k] for k in ("ref", "sec", "phase", "az", "rg"))
    h, w = shape
    n_px = h * w
    warm = _warm(sim)
    cbw = copy_bandwidth()  # again at the end: the best of both is the bound's bandwidth
    bw = max(cbw.values()) * 1e9
    kernels: dict[str, Any] = {}

    def np_time(fn: Callable[[], Any]) -> float | None:
        return _best(fn, 1) if numpy_baseline else None

    # interferogram + multilook (synthetic phase removed)
    t = _best(lambda: K.interferogram_multilook(ref, sec, LOOKS, phase), repeats)
    ho, wo = h // LOOKS[0], w // LOOKS[1]
    nbytes = n_px * 20 + ho * wo * 16
    kernels["interferogram_multilook"] = _entry(
        n_px, nbytes, bw, t, None, np_time(lambda: numpy_ifg_multilook(ref, sec, LOOKS, phase))
    )
    ifg_ml = K.interferogram_multilook(ref, sec, LOOKS, phase)[0]

    # multilook alone (complex64)
    t = _best(lambda: K.multilook(ref, LOOKS), repeats)
    kernels["multilook"] = _entry(
        n_px,
        n_px * 8 + ho * wo * 8,
        bw,
        t,
        None,
        np_time(lambda: ref.reshape(ho, LOOKS[0], wo, LOOKS[1]).mean(axis=(1, 3))),
    )

    # full-resolution coherence
    cbuf = np.empty(shape, np.float32)
    t = _best(lambda: K.coherence(ref, sec, WINDOW, phase, out=cbuf), repeats)
    t_alloc = _best(lambda: K.coherence(ref, sec, WINDOW, phase), repeats)
    kernels["coherence"] = _entry(
        n_px, n_px * 24, bw, t, t_alloc, np_time(lambda: numpy_coherence(ref, sec, WINDOW, phase))
    )

    # Goldstein on the multilooked interferogram (what the chain filters)
    t = _best(lambda: K.goldstein(ifg_ml, ALPHA, PATCH, STEP), repeats)
    entry = _entry(
        ifg_ml.size,
        ifg_ml.size * 16,
        bw,
        t,
        None,
        np_time(lambda: numpy_goldstein(ifg_ml, ALPHA, PATCH, STEP)),
    )
    n_patch = len(K.filtering._patch_starts(ifg_ml.shape[0], PATCH, STEP)) * len(
        K.filtering._patch_starts(ifg_ml.shape[1], PATCH, STEP)
    )
    stack = np.ones((n_patch, PATCH, PATCH), np.complex64)
    entry["fft_floor_s"] = _best(
        lambda: scipy.fft.ifft2(
            scipy.fft.fft2(stack, axes=(1, 2), workers=-1), axes=(1, 2), workers=-1
        ),
        repeats,
    )
    entry["patches"] = n_patch
    entry["grid"] = list(ifg_ml.shape)
    kernels["goldstein"] = entry

    # resampling (coregistration of the secondary)
    rbuf = np.empty(shape, np.complex64)
    t = _best(lambda: K.resample(sec, az, rg, out=rbuf), repeats)
    t_alloc = _best(lambda: K.resample(sec, az, rg), repeats)
    kernels["resample"] = _entry(
        n_px, n_px * 24, bw, t, t_alloc, np_time(lambda: numpy_resample(sec, az, rg))
    )

    # the chain (everything but unwrapping and geocoding), fresh outputs as a user would
    def chain() -> dict[str, float]:
        steps = {}
        t0 = time.perf_counter()
        sec_r = K.resample(sec, az, rg)
        steps["resample"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        ifg, _, _ = K.interferogram_multilook(ref, sec_r, LOOKS, phase)
        steps["interferogram_multilook"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        K.goldstein(ifg, ALPHA, PATCH, STEP)
        steps["goldstein"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        K.coherence(ref, sec_r, WINDOW, phase)
        steps["coherence"] = time.perf_counter() - t1
        steps["total"] = time.perf_counter() - t0
        return steps

    cbw_end = copy_bandwidth()
    cbw = {k: max(v, cbw_end[k]) for k, v in cbw.items()}
    if max(cbw.values()) * 1e9 > bw:  # the machine was busier at the start: re-derive bounds
        bw = max(cbw.values()) * 1e9
        for k in kernels.values():
            k["bound_s"] = k["bytes"] / bw
            k["gep_over_bound"] = k["gep_s"] / k["bound_s"]
    runs = [chain() for _ in range(max(1, repeats - 1))]
    best = min(runs, key=lambda s: s["total"])
    numpy_chain = None
    if numpy_baseline:
        numpy_chain = sum(
            kernels[k]["numpy_s"]
            for k in ("resample", "interferogram_multilook", "goldstein", "coherence")
        )
    return {
        "shape": list(shape),
        "threads": numba.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "simulate_s": gen_s,
        "warmup_s": warm,
        "copy_bandwidth": cbw,
        "bandwidth_GBps": bw / 1e9,
        "kernels": kernels,
        "chain": {"gep": best, "numpy_sum_s": numpy_chain, "looks": list(LOOKS)},
    }


_FIRST_CALLS = """
import json, time
import numpy as np
t0 = time.perf_counter()
from gep.algorithms.sar import kernels as K
out = {"import": time.perf_counter() - t0}
rng = np.random.default_rng(0)
z = (rng.standard_normal((64, 256)) + 1j * rng.standard_normal((64, 256))).astype(np.complex64)
ph = rng.standard_normal((64, 256)).astype(np.float32)
calls = {
    "interferogram_multilook": lambda: K.interferogram_multilook(z, z, (4, 16), ph),
    "coherence": lambda: K.coherence(z, z, (5, 5), ph),
    "goldstein": lambda: K.goldstein(z),
    "resample": lambda: K.resample(z, ph, ph),
    "resample_scalar_offsets": lambda: K.resample(z, 0.3, 0.2),
    "multilook": lambda: K.multilook(z, (4, 16)),
}
for name, fn in calls.items():
    t0 = time.perf_counter()
    fn()
    out[name] = time.perf_counter() - t0
print(json.dumps(out))
"""


def compile_times() -> dict[str, dict[str, float]]:
    """First-call seconds per kernel in fresh interpreters: empty numba cache, then filled."""
    import json

    res: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="gep-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "cached"):
            proc = subprocess.run(
                [sys.executable, "-c", _FIRST_CALLS],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            res[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    return res


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_report(r: dict[str, Any]) -> None:
    h, w = r["shape"]
    cb = r["copy_bandwidth"]
    print(
        f"SAR kernels on a {h} x {w} complex64 pair ({h * w / 1e6:.0f} Mpx, "
        f"{h * w * 8 / 1e6:.0f} MB per image): {r['cpus']} CPUs, numba {numba.__version__} "
        f"({r['threads']} threads, {numba.threading_layer()}), load average "
        + " ".join(f"{v:.1f}" for v in r["load_avg"])
    )
    print(
        f"copy bandwidth (read + write): np.copyto {cb['numpy_GBps']:.1f} GB/s, numba parallel "
        f"{cb['parallel_GBps']:.1f} GB/s -> bound uses {r['bandwidth_GBps']:.1f} GB/s"
    )
    print(
        f"{'kernel':<24} {'GEP s':>8} {'Mpx/s':>8} {'MB moved':>9} {'bound s':>8} {'GEP/bnd':>8}"
        f" {'numpy s':>8} {'speedup':>8} {'fresh-out s':>11}"
    )
    for name, k in r["kernels"].items():
        print(
            f"{name:<24} {k['gep_s']:>8.4f} {k['mpix_per_s']:>8.0f} {k['bytes'] / 1e6:>9.0f} "
            f"{k['bound_s']:>8.4f} {k['gep_over_bound']:>7.1f}x {_fmt(k['numpy_s'], '8.3f'):>8} "
            f"{_fmt(k['speedup_vs_numpy'], '7.0f'):>7}x {_fmt(k['gep_alloc_s'], '11.4f'):>11}"
        )
    g = r["kernels"]["goldstein"]
    print(
        f"goldstein runs on the multilooked grid {g['grid'][0]} x {g['grid'][1]} "
        f"({g['patches']} patches of {PATCH}², step {STEP}); its batched FFT + inverse alone take "
        f"{g['fft_floor_s']:.4f} s: FFT-bound, not memory-bound"
    )
    c = r["chain"]
    steps = ", ".join(f"{k} {v:.3f}" for k, v in c["gep"].items() if k != "total")
    print(
        f"chain (resample + ifg/multilook {c['looks'][0]}x{c['looks'][1]} + Goldstein + "
        f"coherence {WINDOW[0]}x{WINDOW[1]}): GEP {c['gep']['total']:.3f} s ({steps}); "
        f"numpy/scipy {_fmt(c['numpy_sum_s'], '.1f')} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help=f"{SMALL[0]} x {SMALL[1]} pair")
    parser.add_argument("--repeats", type=int, default=5, help="timed GEP calls (best kept)")
    parser.add_argument("--skip-numpy", action="store_true", help="no numpy/scipy baselines")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile-time check")
    args = parser.parse_args(argv)
    if not args.no_compile:
        ct = compile_times()
        cold = ", ".join(f"{k} {v:.1f}" for k, v in ct["cold"].items() if k != "import")
        print(f"first call, empty numba cache (compile) s: {cold}")
        cached = sum(v for k, v in ct["cached"].items() if k != "import")
        print(
            f"first call, cache filled: {cached:.2f} s for all kernels "
            f"(import {ct['cached']['import']:.2f} s)"
        )
    r = run(SMALL if args.small else BURST, args.repeats, not args.skip_numpy)
    print_report(r)


if __name__ == "__main__":
    main()
