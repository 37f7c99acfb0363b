"""Offset tracking: accuracy and windows per second of GEP beside scikit-image and OpenCV.

    .venv/bin/python bench/optical.py [--size 4096] [--peer-windows 3000] [--json FILE]

Accuracy (same windows, same run): a textured scene (power-law spectrum, the texture of
``gep.algorithms.simulate.optical``) and a real Sentinel-2 band (tests/data, NIR preview), each
moved by uniform sub-pixel shifts made in the Fourier domain (exact), plus a smooth landslide
field (exact, by evaluating the Fourier series at the displaced positions), white noise at
10 % of the texture's standard deviation on both images, 64 × 64 windows. Median and 95th
percentile of the error |estimate − truth| (pixels) for:

* ``gep phase``: ``offset_tracking(method="phase")`` (phase correlation, phase-plane fit);
* ``gep ncc``: ``offset_tracking(method="ncc")``;
* ``skimage``: ``skimage.registration.phase_cross_correlation(upsample_factor=100)`` per
  window, in its two usual set-ups: as called (phase normalisation, no taper) and with a
  Hann taper and plain cross-correlation (``normalization=None``), the best of which is
  what NOTES.md records (0.054 px);
* ``opencv``: ``cv2.matchTemplate(TM_CCOEFF_NORMED)`` of the reference window in a search
  area 8 px wider on each side, with a parabola through the peak on each axis.

Speed: a ``size``² pair (the texture, shifted), window 64, step 16: GEP's windows/s over the
whole pair (all cores, as the service runs it), and the peers' over ``peer-windows`` windows of
the same grid (single-threaded Python loops over windows, as they are used; OpenCV's own
threads left on). ``os.getloadavg()`` is printed before and after: other processes on the
machine move the figures.

The peers live outside the project's environment: the first run installs scikit-image and
opencv-python-headless (pinned below) into ``bench/.venv-optical/site`` (git-ignored) with
``pip --target --no-deps`` and puts it on ``sys.path``; numpy and scipy are the project's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / ".venv-optical" / "site"
PEER_PACKAGES = ["scikit-image==0.26.0", "opencv-python-headless==5.1.0.95", "lazy_loader"]
WINDOW = 64
SEARCH = 8
NOISE = 0.1
#: the speed pair's shift: off the 1/100 grid of the upsampled DFT, which would read it exactly
TRUE_SHIFT = (0.3737, -0.2121)


def ensure_peers() -> None:
    if not (PEERS / "cv2").exists() or not (PEERS / "skimage").exists():
        PEERS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(PEERS),
             *PEER_PACKAGES],
            check=True,
        )  # fmt: skip
    sys.path.insert(0, str(PEERS))


# ---------------------------------------------------------------------- peers, per window


def hann(n: int) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(n) + 0.5) / n)
    return np.outer(w, w)


def skimage_offsets(
    ref: np.ndarray, sec: np.ndarray, starts: np.ndarray, *, tapered: bool
) -> np.ndarray:
    from skimage.registration import phase_cross_correlation

    taper = hann(WINDOW)
    out = np.empty((len(starts), 2))
    for k, (r, c) in enumerate(starts):
        a = ref[r : r + WINDOW, c : c + WINDOW]
        b = sec[r : r + WINDOW, c : c + WINDOW]
        if tapered:
            a = (a - a.mean()) * taper
            b = (b - b.mean()) * taper
            shift, _, _ = phase_cross_correlation(a, b, upsample_factor=100, normalization=None)
        else:
            shift, _, _ = phase_cross_correlation(a, b, upsample_factor=100)
        out[k] = -shift  # skimage returns the shift that registers sec onto ref
    return out


def opencv_offsets(ref: np.ndarray, sec: np.ndarray, starts: np.ndarray) -> np.ndarray:
    import cv2

    out = np.full((len(starts), 2), np.nan)
    big = WINDOW + 2 * SEARCH
    ref32 = ref.astype("float32")
    sec32 = sec.astype("float32")
    for k, (r, c) in enumerate(starts):
        r0, c0 = r - SEARCH, c - SEARCH
        if r0 < 0 or c0 < 0 or r0 + big > sec.shape[0] or c0 + big > sec.shape[1]:
            continue
        res = cv2.matchTemplate(
            sec32[r0 : r0 + big, c0 : c0 + big], ref32[r : r + WINDOW, c : c + WINDOW],
            cv2.TM_CCOEFF_NORMED,
        )  # fmt: skip
        _, _, _, (px, py) = cv2.minMaxLoc(res)
        fy = fx = 0.0
        if 0 < py < res.shape[0] - 1:
            lo, mid, hi = res[py - 1, px], res[py, px], res[py + 1, px]
            den = lo - 2 * mid + hi
            fy = 0.5 * (lo - hi) / den if den < 0 else 0.0
        if 0 < px < res.shape[1] - 1:
            lo, mid, hi = res[py, px - 1], res[py, px], res[py, px + 1]
            den = lo - 2 * mid + hi
            fx = 0.5 * (lo - hi) / den if den < 0 else 0.0
        out[k] = (py - SEARCH + fy, px - SEARCH + fx)
    return out


def gep_offsets(
    ref: np.ndarray, sec: np.ndarray, step: int, method: str, workers: int | None = None
) -> Any:
    from gep.algorithms.optical.correlation import offset_tracking

    return offset_tracking(
        ref, sec, window=WINDOW, step=step, method=method,  # type: ignore[arg-type]
        median_threshold=None, workers=workers,
    )  # fmt: skip


def grid_starts(shape: tuple[int, int], step: int, margin: int = 0) -> np.ndarray:
    r0 = np.arange(margin, shape[0] - WINDOW - margin + 1, step)
    c0 = np.arange(margin, shape[1] - WINDOW - margin + 1, step)
    rr, cc = np.meshgrid(r0, c0, indexing="ij")
    return np.stack([rr.ravel(), cc.ravel()], axis=1)


# ---------------------------------------------------------------------- accuracy


def _cases(seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, int]]:
    """(name, ref, sec, truth (rows, cols) per window start grid, step) test cases."""
    import rasterio
    from scipy.signal import fftconvolve

    from gep.algorithms.simulate.optical import (
        displaced_texture,
        fourier_shift,
        landslide_field,
        texture_spectrum,
    )

    rng = np.random.default_rng(seed)
    cases = []
    spec = texture_spectrum((384, 384), seed=seed + 11)
    ref = fourier_shift(spec, 0.0, 0.0)
    for dy, dx in rng.uniform(-0.5, 0.5, (6, 2)):
        sec = fourier_shift(spec, dy, dx)
        cases.append(("texture, uniform", ref, sec, np.array([dy, dx]), 32))
    path = ROOT / "tests" / "data" / "optical" / "sentinel2" / "B08.jp2"
    with rasterio.open(path) as src:
        band = src.read(1).astype("float64")[350:670, 360:680]
    band = (band - band.mean()) / band.std()
    bspec = np.fft.fft2(band)
    for dy, dx in rng.uniform(-0.5, 0.5, (4, 2)):
        cases.append(("Sentinel-2 B08, uniform", band, fourier_shift(bspec, dy, dx),
                      np.array([dy, dx]), 32))  # fmt: skip
    lspec = texture_spectrum((192, 192), seed=seed + 3, bandwidth=0.4)
    fy, fx = landslide_field((192, 192), radii=(72.0, 56.0))
    h = hann(WINDOW) ** 2
    h /= h.sum()
    ty = fftconvolve(fy, h[::-1, ::-1], mode="valid")
    tx = fftconvolve(fx, h[::-1, ::-1], mode="valid")
    cases.append(("landslide field", fourier_shift(lspec, 0, 0), displaced_texture(lspec, fy, fx),
                  np.stack([ty, tx]), 16))  # fmt: skip
    out = []
    for name, a, b, truth, step in cases:
        a = a + NOISE * rng.standard_normal(a.shape)
        b = b + NOISE * rng.standard_normal(b.shape)
        out.append((name, a, b, truth, step))
    return out


def accuracy() -> dict[str, Any]:
    errors: dict[str, dict[str, list[np.ndarray]]] = {}
    for name, a, b, truth, step in _cases():
        # the S2 block's borders wrap around under the periodic shift: inner windows only
        # (a multiple of the step, so that GEP's grid has the same windows)
        margin = 64 if name.startswith("Sentinel") else (step if name.startswith("texture") else 0)
        starts = grid_starts(a.shape, step, margin)
        if truth.ndim == 1:
            t = np.broadcast_to(truth, (len(starts), 2))
        else:
            t = np.stack(
                [truth[0][starts[:, 0], starts[:, 1]], truth[1][starts[:, 0], starts[:, 1]]], 1
            )
        got: dict[str, np.ndarray] = {}
        for method in ("phase", "ncc"):
            f = gep_offsets(a, b, step, method)
            sel_r, sel_c = starts[:, 0] // step, starts[:, 1] // step
            got[f"gep {method}"] = np.stack([f.dy[sel_r, sel_c], f.dx[sel_r, sel_c]], 1)
        got["skimage (as called)"] = skimage_offsets(a, b, starts, tapered=False)
        got["skimage (Hann, plain xcorr)"] = skimage_offsets(a, b, starts, tapered=True)
        got["opencv matchTemplate + parabola"] = opencv_offsets(a, b, starts)
        for method, est in got.items():
            err = np.hypot(est[:, 0] - t[:, 0], est[:, 1] - t[:, 1])
            errors.setdefault(method, {}).setdefault(name, []).append(err)
    table: dict[str, Any] = {}
    for method, by_case in errors.items():
        row = {}
        for name, errs in by_case.items():
            e = np.concatenate(errs)
            e = e[np.isfinite(e)]
            row[name] = (float(np.median(e)), float(np.percentile(e, 95)), int(e.size))
        allerr = np.concatenate([np.concatenate(v) for v in by_case.values()])
        allerr = allerr[np.isfinite(allerr)]
        row["all"] = (float(np.median(allerr)), float(np.percentile(allerr, 95)), int(allerr.size))
        table[method] = row
    return table


# ---------------------------------------------------------------------- speed


def _median_error(f: Any) -> float:
    return float(np.nanmedian(np.hypot(f.dy - TRUE_SHIFT[0], f.dx - TRUE_SHIFT[1])))


def speed(size: int, peer_windows: int) -> dict[str, Any]:
    from gep.algorithms.simulate.optical import fourier_shift, texture_spectrum

    spec = texture_spectrum((size, size), seed=5)
    ref = fourier_shift(spec, 0, 0).astype("float32")
    sec = fourier_shift(spec, TRUE_SHIFT[0], TRUE_SHIFT[1]).astype("float32")
    rng = np.random.default_rng(0)
    ref += (NOISE * rng.standard_normal(ref.shape)).astype("float32")
    sec += (NOISE * rng.standard_normal(sec.shape)).astype("float32")
    del spec
    out: dict[str, Any] = {}
    gep_offsets(ref[:256, :256], sec[:256, :256], 16, "phase")  # numba's cache load
    gep_offsets(ref[:256, :256], sec[:256, :256], 16, "ncc")
    # one thread, timed in CPU seconds too: a figure other processes on the machine move less
    t, c = time.perf_counter(), time.process_time()
    f = gep_offsets(ref, sec, 16, "phase", workers=1)
    el, cpu = time.perf_counter() - t, time.process_time() - c
    out["gep phase, 1 thread"] = {
        "windows": f.windows, "seconds": el, "windows_per_s": f.windows / el,
        "windows_per_cpu_s": f.windows / cpu,
        "median_error_px": _median_error(f),
    }  # fmt: skip
    for method in ("phase", "ncc"):
        best = None
        for _ in range(2):
            t = time.perf_counter()
            f = gep_offsets(ref, sec, 16, method)
            el = time.perf_counter() - t
            best = el if best is None else min(best, el)
        assert best is not None
        out[f"gep {method}"] = {
            "windows": f.windows, "seconds": best, "windows_per_s": f.windows / best,
            "median_error_px": _median_error(f),
        }  # fmt: skip
    starts = grid_starts(ref.shape, 16, SEARCH)
    pick = starts[np.linspace(0, len(starts) - 1, peer_windows).astype(int)]
    truth = np.array(TRUE_SHIFT)
    for name, fn in (
        ("skimage (as called)", lambda: skimage_offsets(ref, sec, pick, tapered=False)),
        ("skimage (Hann, plain xcorr)", lambda: skimage_offsets(ref, sec, pick, tapered=True)),
        ("opencv matchTemplate + parabola", lambda: opencv_offsets(ref, sec, pick)),
    ):
        t = time.perf_counter()
        est = fn()
        el = time.perf_counter() - t
        err = np.hypot(est[:, 0] - truth[0], est[:, 1] - truth[1])
        out[name] = {
            "windows": len(pick), "seconds": el, "windows_per_s": len(pick) / el,
            "ms_per_window": 1000 * el / len(pick), "median_error_px": float(np.nanmedian(err)),
        }  # fmt: skip
    return out


def print_accuracy(acc: dict[str, Any]) -> None:
    print(f"\naccuracy, window {WINDOW}, noise {NOISE:.0%}: median / p95 error (px), windows")
    cases = [k for k in next(iter(acc.values())) if k != "all"] + ["all"]
    for method, row in acc.items():
        cells = "  ".join(f"{c}: {row[c][0]:.4f} / {row[c][1]:.3f} ({row[c][2]})" for c in cases)
        print(f"  {method:32s} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--peer-windows", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy part")
    args = parser.parse_args()
    ensure_peers()
    import cv2
    import skimage

    print(f"cores: {os.cpu_count()}, load before: {os.getloadavg()}")
    print(f"numpy {np.__version__}, scikit-image {skimage.__version__}, opencv {cv2.__version__}")
    acc = {} if args.speed_only else accuracy()
    if acc:
        print_accuracy(acc)
    sp = speed(args.size, args.peer_windows)
    print(f"\nspeed, {args.size}² pair, window {WINDOW}, step 16 (load {os.getloadavg()}):")
    for name, r in sp.items():
        print(
            f"  {name:32s} {r['windows_per_s']:9.0f} windows/s  ({r['windows']} windows in "
            f"{r['seconds']:.2f} s, median error {r['median_error_px']:.4f} px)"
            + (f", {r['windows_per_cpu_s']:.0f} per CPU-second" if "windows_per_cpu_s" in r else "")
        )
    print(f"load after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(
            json.dumps({"accuracy": acc, "speed": sp, "load": os.getloadavg()}, indent=1)
        )


if __name__ == "__main__":
    main()
