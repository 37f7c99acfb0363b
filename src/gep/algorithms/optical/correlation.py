"""Sub-pixel offset tracking between two co-registered images, window by window.

Two estimators, both on a regular grid of square windows (``window`` pixels, every ``step``):

* ``method="phase"`` (default): frequency-domain phase correlation. Windows are apodised
  (mean removed, a Hann taper) and transformed in batches; (1) the integer shift is the peak of
  the phase-correlation surface (inverse transform of the whitened cross-power spectrum
  ``S·conj(R)/|S·conj(R)|``); (2) a first sub-pixel guess is the phase step between
  neighbouring bins of that spectrum, ``d = -N/(2π) · arg Σ C[k+1]·conj(C[k])`` (Kay's
  weighted phase-difference estimator, 1989, along each axis); (3) the secondary is cut again
  at the integer offset with its taper *moved by the fractional guess* — with a fixed taper
  the windowed images are no longer shifts of each other and a natural scene's strong low
  frequencies pull the estimate towards zero — and the shift is a weighted least-squares
  plane through the phase of ``S·conj(R)`` (weights |S||R|, the inverse phase variance in
  white noise), then one re-weighted pass (residuals unwrapped onto the plane, weights × cos²
  of the residual) against noise-dominated bins; windows whose fit left the guess by more
  than ``REFIT_PX`` are fitted again with the taper moved there. No upsampled DFT, no
  interpolation of a correlation peak: ~0.006 px median error on 64² textured windows with
  10 % noise (``docs/science.md``, ``bench/optical.py``).
* ``method="ncc"``: spatial-domain normalised cross-correlation (zero-mean, as OpenCV's
  ``TM_CCOEFF_NORMED``) of the reference window against a search area ``search`` pixels wider
  on each side, with a parabola through the peak and its neighbours on each axis. Simpler,
  more robust to radiometric change, less precise (~0.1 px).

Sign convention: ``dx, dy > 0`` means the secondary's content sits at larger column / row
indices (features moved right / down); :func:`to_east_north` turns that into metres with the
geotransform. Quality per window: ``coherence`` (weighted mean cosine of the phase residuals
of the fit, 1 for shifted copies; the NCC peak for ``ncc``), ``snr`` (peak over the mean
absolute value of the correlation surface) and ``peak_ratio`` (highest peak over the highest
one outside its 5 × 5 neighbourhood). :func:`median_test` flags outliers (normalised median
test, Westerweel & Scarano 2005).

Windows are processed in chunks (a chunk's spectra stay in cache-friendly memory) on a few
threads; scipy's FFTs and the numba kernels between them (``_kernels``) release the GIL, and
BLAS/FFT pools are held to one thread per worker so the threads do not fight.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.fft as sfft
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from gep.algorithms.optical import _kernels as _k

__all__ = [
    "OffsetField",
    "median_test",
    "offset_tracking",
    "to_east_north",
    "window_centres",
]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
Method = Literal["phase", "ncc"]
#: windows whose sub-pixel fit moved more than this from the first guess are fitted again with
#: the taper moved to the new estimate, at most this many times
REFIT_PX = 0.1
REFIT_PASSES = 2


@dataclass(frozen=True)
class OffsetField:
    """Offsets on the window grid: ``dy``/``dx`` (pixels) at window centres ``rows``/``cols``."""

    rows: F64  # centre row of each grid row of windows (pixel coordinates, 0 = first pixel)
    cols: F64
    dy: F32  # (len(rows), len(cols)); NaN where no estimate
    dx: F32
    coherence: F32  # fit quality, 0-1 (phase) or the NCC peak value
    snr: F32
    peak_ratio: F32
    valid: NDArray[np.bool_]  # passed the quality thresholds and the median test
    window: int
    step: int

    @property
    def windows(self) -> int:
        return int(self.dy.size)


@functools.cache
def _keep_freed_heap() -> None:
    """Ask glibc to keep freed memory instead of handing it back to the kernel.

    Every chunk allocates and frees a few 2 MB arrays (spectra, surfaces; scipy's FFTs give
    no ``out=``). With glibc's defaults each is a fresh ``mmap`` (or a heap trimmed back) and
    its pages fault in again: ~25 % of the tracker's CPU time went to the kernel zeroing pages
    (and Dask's nanny sets an even lower trim threshold in its workers). Raising the mmap and
    trim thresholds (64 MB, 256 MB) lets the process reuse that memory; the cost is up to
    256 MB kept by the process after the work. A no-op where libc is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def window_centres(shape: tuple[int, int], window: int, step: int) -> tuple[F64, F64]:
    """Centres (row, col) of the grid of windows that fit in ``shape``."""
    rows, cols = shape
    if window > rows or window > cols:
        raise ValueError(
            f"window {window} is larger than the image ({rows} × {cols} pixels); "
            f"choose a window of at most {min(rows, cols)}"
        )
    if step < 1:
        raise ValueError("step must be at least 1 pixel")
    r0 = np.arange(0, rows - window + 1, step)
    c0 = np.arange(0, cols - window + 1, step)
    half = (window - 1) / 2.0
    return (r0 + half).astype("float64"), (c0 + half).astype("float64")


def offset_tracking(
    reference: NDArray[np.floating] | NDArray[np.integer],
    secondary: NDArray[np.floating] | NDArray[np.integer],
    *,
    window: int = 64,
    step: int = 16,
    method: Method = "phase",
    search: int = 8,
    band: float = 0.35,
    min_coherence: float = 0.0,
    min_snr: float = 0.0,
    median_threshold: float | None = 2.0,
    chunk: int = 128,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> OffsetField:
    """Offsets of ``secondary`` relative to ``reference`` on a grid of windows.

    ``band`` is the highest frequency (cycles/pixel) the sub-pixel phase estimate uses (the
    rest is mostly noise and edge leakage); ``search`` the NCC search radius (the phase method
    trusts integer shifts up to ``window // 4`` and leaves larger ones NaN). Windows whose
    ``coherence`` or ``snr`` fall below the minimum, or that fail the median test
    (``median_threshold``; None to skip), are marked invalid (their values kept). ``workers``
    threads (default: every core) take chunks of ``chunk`` windows.
    """
    _keep_freed_heap()
    ref = np.asarray(reference, dtype="float32")
    sec = np.asarray(secondary, dtype="float32")
    if ref.ndim != 2 or ref.shape != sec.shape:
        raise ValueError(
            f"the images must be 2-D and of one shape (got {ref.shape} and {sec.shape})"
        )
    if window < 8 or window % 2:
        raise ValueError("window must be an even number of pixels, at least 8")
    rows, cols = window_centres(ref.shape, window, step)
    half = (window - 1) / 2.0
    r0 = (rows - half).astype(np.int64)
    c0 = (cols - half).astype(np.int64)
    rr, cc = np.meshgrid(r0, c0, indexing="ij")
    # windows taken in tiles of 8 × 16 (a chunk's pixels, ~200 kB, stay in cache while its
    # overlapping windows are cut three times), results put back in grid order
    ti, tj = np.meshgrid(np.arange(r0.size) // 8, np.arange(c0.size) // 16, indexing="ij")
    order = np.lexsort((np.arange(rr.size), tj.ravel(), ti.ravel()))
    starts = np.stack([rr.ravel(), cc.ravel()], axis=1)[order]
    n = starts.shape[0]
    out = np.full((5, n), np.nan, dtype="float32")
    workers = workers or os.cpu_count() or 1
    fit_band = _Band(window, band)
    limit = window // 4
    chunks = [(i, min(i + chunk, n)) for i in range(0, n, chunk)]
    done = [0]

    def run(bounds: tuple[int, int]) -> None:
        a, b = bounds
        if method == "phase":
            res = _phase_chunk(ref, sec, starts[a:b], window, fit_band, limit)
        elif method == "ncc":
            res = _ncc_chunk(ref, sec, starts[a:b], window, search)
        else:
            raise ValueError(f"method must be 'phase' or 'ncc', not {method!r}")
        out[:, order[a:b]] = res
        done[0] += b - a
        if progress is not None:
            progress(done[0] / n)

    # no BLAS here (scipy's FFTs run with workers=1, the kernels are single-threaded numba), so
    # no threadpoolctl limits either: entering them loads every shared library of the process
    # again on each call, in a Dask worker that runs other threads, and gains nothing
    if workers > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, chunks))
    else:
        for bounds in chunks:
            run(bounds)
    shape = (rows.size, cols.size)
    dy, dx, peak, snr, ratio = (v.reshape(shape) for v in out)
    valid = np.isfinite(dy) & np.isfinite(dx) & (peak >= min_coherence) & (snr >= min_snr)
    if median_threshold is not None:
        valid &= ~median_test(dy, dx, threshold=median_threshold, mask=valid)
    return OffsetField(rows, cols, dy, dx, peak, snr, ratio, valid, window, step)


# ---------------------------------------------------------------------- the phase estimator


def _cut(image: F32, starts: NDArray[np.int64], window: int) -> F32:
    """Windows at ``starts`` (top-left corners) as a (n, window, window) float32 stack."""
    view = sliding_window_view(image, (window, window))
    stack: F32 = view[starts[:, 0], starts[:, 1]]
    return stack


def _spectra(
    image: F32, starts: NDArray[np.int64], window: int, shift_y: F64, shift_x: F64
) -> NDArray[np.complex64]:
    """Half spectra of the windows, each under a Hann taper moved by its (shift_y, shift_x).

    Moving the secondary's taper with the content is what removes the taper's bias: with a
    fixed taper the windowed images are not shifts of each other, and a natural scene's
    strong low frequencies pull the estimate towards zero by up to a third of the shift.
    """
    stack = np.empty((starts.shape[0], window, window), dtype="float32")
    _k.taper_stack(image, starts, window, shift_y, shift_x, stack)
    spec: NDArray[np.complex64] = sfft.rfft2(stack, workers=1)
    return spec


class _Band:
    """The frequency bins the sub-pixel fit uses and their weights in the half spectrum."""

    def __init__(self, window: int, band: float) -> None:
        fy = np.fft.fftfreq(window)
        fx = np.fft.rfftfreq(window)
        inside = (np.abs(fy)[:, None] <= band) & (fx[None, :] <= band)
        inside[0, 0] = False
        self.rows = np.nonzero(np.abs(fy) <= band)[0].astype(np.int64)
        self.cols = np.nonzero(fx <= band)[0].astype(np.int64)
        self.fy = fy[self.rows]
        self.fx = fx[self.cols]
        # columns 1..N/2-1 of a half spectrum stand for their conjugate twins as well
        twin = np.where((self.cols == 0) | (self.cols == window // 2), 1.0, 2.0)
        self.weight = inside[np.ix_(self.rows, self.cols)] * twin[None, :]
        # bin pairs (k, k+1) inside the band for the lag-one estimate (cyclic along rows)
        self.pair_y = inside & np.roll(inside, -1, axis=0)
        self.pair_x = np.zeros_like(inside)
        self.pair_x[:, :-1] = inside[:, :-1] & inside[:, 1:]


def _phase_chunk(
    ref: F32,
    sec: F32,
    starts: NDArray[np.int64],
    window: int,
    band: _Band,
    limit: int,
) -> F32:
    n = starts.shape[0]
    zero = np.zeros(n)
    fr = _spectra(ref, starts, window, zero, zero)
    fs = _spectra(sec, starts, window, zero, zero)
    # 1. the whitened cross-power spectrum: its inverse is the phase-correlation surface,
    # whose peak gives the integer shift and the quality figures; and a first sub-pixel
    # guess from the phase step between neighbouring bins (every bin counts alike)
    norm = np.empty_like(fr)
    lag = np.empty((n, 2), dtype="complex128")
    _k.whiten(fr, fs, band.pair_y, band.pair_x, norm, lag)
    surface = sfft.irfft2(norm, s=(window, window), workers=1)
    found = np.empty((n, 5))
    _k.peaks(surface, found)
    del surface, norm, fs
    py, px, top, second, mean_abs = found.T
    snr = top / np.maximum(mean_abs, 1e-12)
    ratio = top / np.maximum(second, 1e-6)
    scale = -window / (2 * np.pi)
    ly, lx = scale * np.angle(lag[:, 0]), scale * np.angle(lag[:, 1])
    # trust the guess near the integer peak; far from it (little overlap) the peak decides
    d0y = np.where(np.abs(ly - py) < 1.0, ly, py)
    d0x = np.where(np.abs(lx - px) < 1.0, lx, px)
    far = (np.abs(d0y) > limit) | (np.abs(d0x) > limit)
    d0y[far] = 0.0
    d0x[far] = 0.0
    # 2. the secondary cut again at the integer offset with its taper moved by the fraction,
    # and a weighted least-squares plane through the cross-power phase (weights |R||S|, the
    # inverse phase variance in white noise; frequencies up to the band)
    iy, ix = np.rint(d0y).astype(np.int64), np.rint(d0x).astype(np.int64)
    cut = starts + np.stack([iy, ix], axis=1)
    inside = (
        (cut[:, 0] >= 0)
        & (cut[:, 1] >= 0)
        & (cut[:, 0] + window <= sec.shape[0])
        & (cut[:, 1] + window <= sec.shape[1])
    )
    cut[~inside] = starts[~inside]
    iy[~inside] = 0
    ix[~inside] = 0
    fy, fx = (d0y - iy).astype("float64"), (d0x - ix).astype("float64")
    fs = _spectra(sec, cut, window, fy, fx)
    fit = np.empty((n, 3))
    _k.plane_fit(fs, fr, band.rows, band.cols, band.fy, band.fx, band.weight, fy, fx, fit)
    dy = d0y + fit[:, 0]
    dx = d0x + fit[:, 1]
    # where the fit moved far from the guess the taper sat off the content: move it there
    # and fit again (the few low-contrast windows; each pass costs one more FFT for them)
    for _ in range(REFIT_PASSES):
        moved = (np.abs(fit[:, 0]) > REFIT_PX) | (np.abs(fit[:, 1]) > REFIT_PX)
        redo = np.flatnonzero(moved & np.isfinite(dy) & np.isfinite(dx))
        redo = redo[(np.abs(dy[redo] - iy[redo]) < 2) & (np.abs(dx[redo] - ix[redo]) < 2)]
        if redo.size == 0:
            break
        ry, rx = dy[redo] - iy[redo], dx[redo] - ix[redo]
        fs = _spectra(sec, cut[redo], window, ry, rx)
        fit_r = np.empty((redo.size, 3))
        _k.plane_fit(
            fs, fr[redo], band.rows, band.cols, band.fy, band.fx, band.weight, ry, rx, fit_r
        )
        fit[redo] = fit_r
        dy[redo] = iy[redo] + ry + fit_r[:, 0]
        dx[redo] = ix[redo] + rx + fit_r[:, 1]
    res = np.stack([dy, dx, fit[:, 2], snr, ratio]).astype("float32")
    res[:2, far] = np.nan
    return res


# ---------------------------------------------------------------------- the NCC estimator


def _ncc_chunk(ref: F32, sec: F32, starts: NDArray[np.int64], window: int, search: int) -> F32:
    n = starts.shape[0]
    big = window + 2 * search
    res = np.full((5, n), np.nan, dtype="float32")
    ss = starts - search
    ok = (
        (ss[:, 0] >= 0)
        & (ss[:, 1] >= 0)
        & (ss[:, 0] + big <= sec.shape[0])
        & (ss[:, 1] + big <= sec.shape[1])
    )
    if not ok.any():
        return res
    tmpl = _cut(ref, starts[ok], window).astype("float64")
    area = _cut(sec, ss[ok], big).astype("float64")
    m = tmpl.shape[0]
    tmpl = tmpl - tmpl.mean(axis=(1, 2), keepdims=True)
    tnorm = np.sqrt((tmpl**2).sum(axis=(1, 2)))
    size = 2 * search + 1
    shape = (big, big)
    # numerator: correlation of the zero-mean template over the search area (FFT of the sums)
    num = sfft.irfft2(
        sfft.rfft2(area, s=shape, workers=1) * np.conj(sfft.rfft2(tmpl, s=shape, workers=1)),
        s=shape,
        workers=1,
    )[:, :size, :size]
    # local sums of the area under each template position (integral images)
    s1 = _box_sum(area, window)
    s2 = _box_sum(area * area, window)
    var = np.maximum(s2 - s1 * s1 / (window * window), 0.0)
    ncc = num / np.maximum(np.sqrt(var) * tnorm[:, None, None], 1e-12)
    flat = ncc.reshape(m, -1)
    idx = flat.argmax(axis=1)
    iy, ix = np.divmod(idx, size)
    top = flat[np.arange(m), idx]

    def parabola(lo: F64, mid: F64, hi: F64) -> F64:
        den = lo - 2 * mid + hi
        out: F64 = np.where(den < 0, 0.5 * (lo - hi) / np.where(den < 0, den, -1.0), 0.0)
        return out

    ar = np.arange(m)
    yl, yh = np.clip(iy - 1, 0, size - 1), np.clip(iy + 1, 0, size - 1)
    xl, xh = np.clip(ix - 1, 0, size - 1), np.clip(ix + 1, 0, size - 1)
    fy = parabola(ncc[ar, yl, ix], top, ncc[ar, yh, ix])
    fx = parabola(ncc[ar, iy, xl], top, ncc[ar, iy, xh])
    edge = (iy == 0) | (iy == size - 1) | (ix == 0) | (ix == size - 1)
    dy = np.where(edge, np.nan, iy - search + fy)
    dx = np.where(edge, np.nan, ix - search + fx)
    masked = ncc.copy()
    for oy in range(-2, 3):
        for ox in range(-2, 3):
            yy, xx = iy + oy, ix + ox
            inside = (yy >= 0) & (yy < size) & (xx >= 0) & (xx < size)
            masked[ar[inside], yy[inside], xx[inside]] = -np.inf
    second = masked.reshape(m, -1).max(axis=1)
    mean_abs = np.abs(flat).mean(axis=1)
    res[:, ok] = np.stack(
        [dy, dx, top, top / np.maximum(mean_abs, 1e-12), top / np.maximum(second, 1e-6)]
    )
    return res


def _box_sum(stack: F64, window: int) -> F64:
    """Sums over every window × window box of each image of a stack (valid positions)."""
    c = np.cumsum(np.cumsum(stack, axis=1), axis=2)
    c = np.pad(c, ((0, 0), (1, 0), (1, 0)))
    out: F64 = (
        c[:, window:, window:] - c[:, :-window, window:] - c[:, window:, :-window]
        + c[:, :-window, :-window]
    )  # fmt: skip
    return out


# ---------------------------------------------------------------------- filtering, units


def median_test(
    dy: NDArray[np.floating],
    dx: NDArray[np.floating],
    *,
    threshold: float = 2.0,
    eps: float = 0.1,
    mask: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """Outliers by the normalised median test (Westerweel & Scarano 2005), 3 × 3 neighbours.

    A vector is an outlier when, on either component, its distance to the median of its
    eight neighbours exceeds ``threshold`` times the neighbours' median distance to that
    median (+ ``eps`` pixels, the noise floor). Neighbours outside ``mask`` are ignored; a
    vector with fewer than three valid neighbours is not judged.
    """
    good = np.isfinite(dy) & np.isfinite(dx)
    if mask is not None:
        good &= mask
    outlier = np.zeros(dy.shape, dtype=bool)
    for comp in (dy, dx):
        v = np.where(good, comp, np.nan).astype("float64")
        p = np.pad(v, 1, constant_values=np.nan)
        h, w = v.shape
        neigh = np.stack(
            [p[1 + oy : 1 + oy + h, 1 + ox : 1 + ox + w]
             for oy in (-1, 0, 1) for ox in (-1, 0, 1) if (oy, ox) != (0, 0)]
        )  # fmt: skip
        count = np.isfinite(neigh).sum(axis=0)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(neigh, axis=0)
                spread = np.nanmedian(np.abs(neigh - med), axis=0)
        resid = np.abs(v - med) / (spread + eps)
        outlier |= (count >= 3) & (resid > threshold)
    return outlier & good


def to_east_north(
    dy: NDArray[np.floating],
    dx: NDArray[np.floating],
    transform: tuple[float, float, float, float, float, float],
) -> tuple[F64, F64]:
    """Pixel offsets to map displacements (metres for a projected CRS) with the affine
    ``(a, b, c, d, e, f)`` of ``x = a·col + b·row + c``, ``y = d·col + e·row + f`` (rasterio's
    order): east = a·dx + b·dy, north = d·dx + e·dy (e < 0 for north-up images)."""
    a, b, _, d, e, _ = transform
    dxf = np.asarray(dx, "float64")
    dyf = np.asarray(dy, "float64")
    return a * dxf + b * dyf, d * dxf + e * dyf
