"""Multilook, interferogram formation and coherence: the kernels that read both SLCs.

One fused pass per output (see the package docstring for why); conventions in
:mod:`gep.algorithms.sar.kernels`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from gep.algorithms.sar.kernels import _common
from gep.algorithms.sar.kernels._common import (
    _FM,
    _U,
    C64,
    F32,
    _as_f32,
    _c64,
    _cos_sin,
    _f32,
    _fill,
    _jit,
    _looks,
    _out,
    _window,
    prange,
)

# ----------------------------------------------------------------------------------------------
# multilook


@_jit(parallel=True, fastmath=_FM)
def _multilook_nb(a, la, lr, comp, out):  # pragma: no cover - compiled
    """Block mean of a float32 2-D array whose rows hold ``comp`` interleaved channels."""
    ho = out.shape[0]
    wo = out.shape[1] // comp
    wc = wo * lr * comp
    scale = np.float32(1.0 / (la * lr))
    for bi in prange(ho):
        acc = np.zeros(wc, np.float32)
        for r in range(la):
            row = a[bi * la + r]
            for j in range(wc):
                acc[j] += row[j]
        for bj in range(wo):
            for c in range(comp):
                s = np.float32(0.0)
                base = bj * lr * comp + c
                for m in range(lr):
                    s += acc[base + m * comp]
                out[bi, bj * comp + c] = s * scale


def multilook(a: ArrayLike, looks: tuple[int, int]) -> NDArray[Any]:
    """Block average over ``looks = (azimuth, range)`` windows, cropped to whole windows.

    The plain helper behind every "multilooked" product: averaging (not summing) keeps the
    values in the units of the input.  float32 / complex64 inputs run the fused kernel; other
    dtypes fall back to numpy and keep their dtype.
    """
    arr = np.asarray(a)
    la, lr = _looks(looks)
    if arr.ndim != 2:
        raise ValueError(f"multilook expects a 2-D array, got shape {arr.shape}")
    h, w = arr.shape
    ho, wo = h // la, w // lr
    if arr.dtype in (np.float32, np.complex64) and _common._HAVE_NUMBA and ho > 0 and wo > 0:
        comp = 2 if arr.dtype == np.complex64 else 1
        src = np.ascontiguousarray(arr)
        out = np.empty((ho, wo), arr.dtype)
        _multilook_nb(_as_f32(src), la, lr, comp, _as_f32(out))
        return out
    crop = arr[: ho * la, : wo * lr]
    return crop.reshape(ho, la, wo, lr).mean(axis=(1, 3), dtype=_acc_dtype(arr.dtype))


def _acc_dtype(dt: np.dtype[Any]) -> Any:
    return dt if dt.kind in "fc" else np.float64


# ----------------------------------------------------------------------------------------------
# interferogram + multilook


@_jit(parallel=True, fastmath=_FM)
def _ifg_ml_nb(ref, sec, phase, has_phase, la, lr, ifg, coh, amp):  # pragma: no cover
    """One pass over ref/sec/phase; per output row the four window sums live in row buffers."""
    ho, wo = coh.shape
    wc = wo * lr
    inv_n = np.float32(1.0 / (la * lr))
    for bi in prange(ho):
        a_re = np.zeros(wc, np.float32)
        a_im = np.zeros(wc, np.float32)
        a_p1 = np.zeros(wc, np.float32)
        a_p2 = np.zeros(wc, np.float32)
        for r in range(la):
            i = bi * la + r
            rr = ref[i]
            ss = sec[i]
            if has_phase:
                ph = phase[i]
                for j in range(wc):
                    xr = rr[2 * j]
                    xi = rr[2 * j + 1]
                    yr = ss[2 * j]
                    yi = ss[2 * j + 1]
                    zr = xr * yr + xi * yi
                    zi = xi * yr - xr * yi
                    c, s = _cos_sin(ph[j])
                    a_re[j] += zr * c + zi * s
                    a_im[j] += zi * c - zr * s
                    a_p1[j] += xr * xr + xi * xi
                    a_p2[j] += yr * yr + yi * yi
            else:
                for j in range(wc):
                    xr = rr[2 * j]
                    xi = rr[2 * j + 1]
                    yr = ss[2 * j]
                    yi = ss[2 * j + 1]
                    a_re[j] += xr * yr + xi * yi
                    a_im[j] += xi * yr - xr * yi
                    a_p1[j] += xr * xr + xi * xi
                    a_p2[j] += yr * yr + yi * yi
        for bj in range(wo):
            sr = np.float32(0.0)
            si = np.float32(0.0)
            p1 = np.float32(0.0)
            p2 = np.float32(0.0)
            for m in range(bj * lr, bj * lr + lr):
                sr += a_re[m]
                si += a_im[m]
                p1 += a_p1[m]
                p2 += a_p2[m]
            ifg[bi, 2 * bj] = sr * inv_n
            ifg[bi, 2 * bj + 1] = si * inv_n
            den = p1 * p2
            coh[bi, bj] = math.sqrt(sr * sr + si * si) / math.sqrt(den) if den > 0 else 0.0
            amp[bi, bj] = math.sqrt(p1 * inv_n)


def interferogram_multilook(
    ref: ArrayLike,
    sec: ArrayLike,
    looks: tuple[int, int],
    phase: ArrayLike | None = None,
) -> tuple[C64, F32, F32]:
    """Multilooked interferogram, coherence and amplitude of a coregistered pair, in one pass.

    Per pixel ``z = ref · conj(sec) · exp(-i·phase)``; over each ``looks = (az, rg)`` window
    the sums Σz, Σ|ref|², Σ|sec|² give

    * ``ifg = Σz / n`` (complex64): the multilooked interferogram, synthetic phase removed;
    * ``coh = |Σz| / sqrt(Σ|ref|² Σ|sec|²)`` (float32, 0 where a window has no power);
    * ``amp = sqrt(Σ|ref|² / n)`` (float32): the reference amplitude, for display/masking.

    Fusing the three products avoids reading the 240 MB burst images three times and the
    full-size ``z`` temporary.  Shapes are ``(H // la, W // lr)``: trailing partial windows are
    dropped.  ``phase`` (radians, float32, same shape as the images) is optional.
    """
    r = _c64(ref, "ref")
    s = _c64(sec, "sec")
    if r.shape != s.shape:
        raise ValueError(f"ref {r.shape} and sec {s.shape} differ in shape")
    ph = None if phase is None else _f32(phase, "phase", r.shape)
    la, lr = _looks(looks)
    h, w = r.shape
    ho, wo = h // la, w // lr
    if not _common._HAVE_NUMBA or ho == 0 or wo == 0:
        return _ifg_ml_np(r, s, ph, la, lr)
    ifg = np.empty((ho, wo), np.complex64)
    coh = np.empty((ho, wo), np.float32)
    amp = np.empty((ho, wo), np.float32)
    dummy = np.empty((1, 1), np.float32)
    _ifg_ml_nb(
        _as_f32(r), _as_f32(s), dummy if ph is None else ph, ph is not None, la, lr,
        _as_f32(ifg), coh, amp,
    )  # fmt: skip
    return ifg, coh, amp


def _ifg_ml_np(r: C64, s: C64, ph: F32 | None, la: int, lr: int) -> tuple[C64, F32, F32]:
    """numpy version of the fused kernel, in row blocks so temporaries stay small."""
    h, w = r.shape
    ho, wo = h // la, w // lr
    ifg = np.empty((ho, wo), np.complex64)
    coh = np.empty((ho, wo), np.float32)
    amp = np.empty((ho, wo), np.float32)
    block = max(1, (1 << 22) // max(1, w * la))
    for b0 in range(0, ho, block):
        b1 = min(ho, b0 + block)
        rows = slice(b0 * la, b1 * la)
        x = r[rows, : wo * lr]
        y = s[rows, : wo * lr]
        z = x * np.conj(y)
        if ph is not None:
            z *= np.exp(-1j * ph[rows, : wo * lr].astype(np.float64)).astype(np.complex64)
        shp = (b1 - b0, la, wo, lr)
        sz = z.reshape(shp).sum(axis=(1, 3), dtype=np.complex128)
        p1 = (x.real**2 + x.imag**2).reshape(shp).sum(axis=(1, 3), dtype=np.float64)
        p2 = (y.real**2 + y.imag**2).reshape(shp).sum(axis=(1, 3), dtype=np.float64)
        n = la * lr
        ifg[b0:b1] = sz / n
        den = np.sqrt(p1 * p2)
        coh[b0:b1] = np.where(den > 0, np.abs(sz) / np.where(den > 0, den, 1.0), 0.0)
        amp[b0:b1] = np.sqrt(p1 / n)
    return ifg, coh, amp


# ----------------------------------------------------------------------------------------------
# full-resolution boxcar coherence

_COH_ROWS = 64  # output rows per task: halo overhead (window - 1) / 64 rows recomputed
_COH_COLS = 2048  # tile width: 4 quantities x window rows x 2 k columns x 4 B stay in L2


@_jit(parallel=True, fastmath=_FM)
def _coh_box_nb(a, b, c, mode, has_phase, wy, wx, out):  # pragma: no cover - compiled
    """Sliding-window coherence; zero padding outside the image = a window shrunk to the image.

    mode 0: a = ref (H, 2W) float32 view, b = sec (H, 2W), c = phase (H, W) if has_phase;
    mode 1: a = ifg (H, 2W) float32 view, b = |ref|² (H, W), c = |sec|² (H, W).
    Each task (row band x column tile) keeps the window's last ``wy`` rows of the four
    per-pixel quantities (Re z, Im z, |ref|², |sec|²) in a ring buffer and sums them directly
    (no running sums, so no float32 drift however large the image).
    """
    h, w = out.shape
    hy = wy // 2
    hx = wx // 2
    n_tr = (h + _COH_ROWS - 1) // _COH_ROWS
    n_tc = (w + _COH_COLS - 1) // _COH_COLS
    for task in prange(n_tr * n_tc):
        tr = task // n_tc
        tc = task - tr * n_tc
        r0 = tr * _COH_ROWS
        r1 = min(h, r0 + _COH_ROWS)
        c0 = tc * _COH_COLS
        c1 = min(w, c0 + _COH_COLS)
        x0 = c0 - hx
        n = (c1 + hx) - x0
        ja = max(0, -x0)  # valid columns of the halo'd tile: [ja, jb)
        jb = min(n, w - x0)
        # one buffer for all four quantities: stores through a single base pointer keep the
        # vectoriser's runtime alias checks few enough for it to vectorise (views would not)
        ring = np.zeros((wy, 4, n), np.float32)
        cs = np.empty((4, n), np.float32)
        hs = np.empty((4, c1 - c0), np.float32)
        m = c1 - c0
        for i in range(r0 - hy, r1 + hy):
            sl = (i - (r0 - hy)) % wy
            if i < 0 or i >= h:
                for k in range(4):
                    for j in range(n):
                        ring[sl, k, j] = 0.0
            else:
                # row views starting at the first valid column: every index below is then
                # the loop counter itself, provably >= 0, so numba emits no negative-index
                # wraparound and LLVM vectorises (the sin/cos polynomial included)
                ca = x0 + ja
                nv = jb - ja
                q = ring[sl, :, ja:]
                ra = a[i, 2 * ca :]
                if mode == 0:
                    rb = b[i, 2 * ca :]
                    if has_phase:
                        rc = c[i, ca:]
                        for j in range(nv):
                            xr = ra[2 * j]
                            xi = ra[2 * j + 1]
                            yr = rb[2 * j]
                            yi = rb[2 * j + 1]
                            zr = xr * yr + xi * yi
                            zi = xi * yr - xr * yi
                            co, si = _cos_sin(rc[j])
                            q[0, j] = zr * co + zi * si
                            q[1, j] = zi * co - zr * si
                            q[2, j] = xr * xr + xi * xi
                            q[3, j] = yr * yr + yi * yi
                    else:
                        for j in range(nv):
                            xr = ra[2 * j]
                            xi = ra[2 * j + 1]
                            yr = rb[2 * j]
                            yi = rb[2 * j + 1]
                            q[0, j] = xr * yr + xi * yi
                            q[1, j] = xi * yr - xr * yi
                            q[2, j] = xr * xr + xi * xi
                            q[3, j] = yr * yr + yi * yi
                else:
                    rb = b[i, ca:]
                    rc = c[i, ca:]
                    for j in range(nv):
                        q[0, j] = ra[2 * j]
                        q[1, j] = ra[2 * j + 1]
                        q[2, j] = rb[j]
                        q[3, j] = rc[j]
                for k in range(4):
                    for j in range(ja):
                        ring[sl, k, j] = 0.0
                    for j in range(jb, n):
                        ring[sl, k, j] = 0.0
            o = i - hy
            if o < r0:
                continue
            # window sums: straight-line code for the usual sizes (one pass, one store per
            # element), loops otherwise
            for k in range(4):
                if wy == 5:
                    for j in range(n):
                        cs[k, j] = (
                            ring[0, k, j] + ring[1, k, j] + ring[2, k, j] + ring[3, k, j]
                            + ring[4, k, j]
                        )  # fmt: skip
                elif wy == 3:
                    for j in range(n):
                        cs[k, j] = ring[0, k, j] + ring[1, k, j] + ring[2, k, j]
                else:
                    for j in range(n):
                        cs[k, j] = ring[0, k, j]
                    for s2 in range(1, wy):
                        for j in range(n):
                            cs[k, j] += ring[s2, k, j]
            ou = _U(o)
            cu = _U(c0)
            if wx == 5:
                for j in range(m):
                    s0 = cs[0, j] + cs[0, j + 1] + cs[0, j + 2] + cs[0, j + 3] + cs[0, j + 4]
                    s1 = cs[1, j] + cs[1, j + 1] + cs[1, j + 2] + cs[1, j + 3] + cs[1, j + 4]
                    s2 = cs[2, j] + cs[2, j + 1] + cs[2, j + 2] + cs[2, j + 3] + cs[2, j + 4]
                    s3 = cs[3, j] + cs[3, j + 1] + cs[3, j + 2] + cs[3, j + 3] + cs[3, j + 4]
                    den = s2 * s3
                    out[ou, cu + _U(j)] = math.sqrt((s0 * s0 + s1 * s1) / den) if den > 0 else 0.0
            elif wx == 3:
                for j in range(m):
                    s0 = cs[0, j] + cs[0, j + 1] + cs[0, j + 2]
                    s1 = cs[1, j] + cs[1, j + 1] + cs[1, j + 2]
                    s2 = cs[2, j] + cs[2, j + 1] + cs[2, j + 2]
                    s3 = cs[3, j] + cs[3, j + 1] + cs[3, j + 2]
                    den = s2 * s3
                    out[ou, cu + _U(j)] = math.sqrt((s0 * s0 + s1 * s1) / den) if den > 0 else 0.0
            else:
                for k in range(4):
                    for j in range(m):
                        hs[k, j] = cs[k, j]
                    for dx in range(1, wx):
                        for j in range(m):
                            hs[k, j] += cs[k, j + dx]
                for j in range(m):
                    den = hs[2, j] * hs[3, j]
                    num = hs[0, j] * hs[0, j] + hs[1, j] * hs[1, j]
                    out[ou, cu + _U(j)] = math.sqrt(num / den) if den > 0 else 0.0


def coherence(
    ref: ArrayLike,
    sec: ArrayLike,
    window: tuple[int, int] = (5, 5),
    phase: ArrayLike | None = None,
    *,
    out: F32 | None = None,
) -> F32:
    """Full-resolution coherence with a sliding ``window = (az, rg)`` boxcar (odd sizes).

    ``|Σz| / sqrt(Σ|ref|² Σ|sec|²)`` with ``z = ref · conj(sec) · exp(-i·phase)`` summed over
    the window centred on each pixel; the output has the input grid (float32), which is what
    masking and phase-linking steps want, unlike the decimated coherence of
    :func:`interferogram_multilook`.  Removing the synthetic ``phase`` first matters: a
    topographic fringe inside the window otherwise biases coherence low.

    Edges: the window is clipped to the image (it shrinks), equivalently samples outside are
    zero; ``scipy.ndimage.uniform_filter(..., mode="constant")`` on the four sums gives the
    same values.  Note the estimator's bias at low coherence (γ = 0 reads ~0.30 with 3x3,
    0.18 with 5x5, 0.13 with 7x7): pick the window for the coherence you need to resolve.

    ``out`` (float32, C-contiguous, image shape) receives the result when given: a fresh
    120 MB array costs ~70 ms of page faults on a burst, as much as the kernel itself.
    """
    r = _c64(ref, "ref")
    s = _c64(sec, "sec")
    if r.shape != s.shape:
        raise ValueError(f"ref {r.shape} and sec {s.shape} differ in shape")
    ph = None if phase is None else _f32(phase, "phase", r.shape)
    wy, wx = _window(window)
    if not _common._HAVE_NUMBA:
        z = r * np.conj(s)
        if ph is not None:
            z *= np.exp(-1j * ph.astype(np.float64)).astype(np.complex64)
        return _fill(out, _coh_np(z, _power(r), _power(s), wy, wx))
    out = _out(out, r.shape, np.float32)
    dummy = np.empty((1, 1), np.float32)
    _coh_box_nb(_as_f32(r), _as_f32(s), dummy if ph is None else ph, 0, ph is not None, wy, wx, out)
    return out


def coherence_from_ifg(
    ifg: ArrayLike, p1: ArrayLike, p2: ArrayLike, window: tuple[int, int] = (5, 5)
) -> F32:
    """Sliding-window coherence from a full-resolution interferogram and the two powers.

    For when the interferogram ``z`` (synthetic phase already removed) and ``|ref|²``,
    ``|sec|²`` exist already, e.g. after a filter: ``|Σz| / sqrt(Σp1 Σp2)``, edges as in
    :func:`coherence`.
    """
    z = _c64(ifg, "ifg")
    a = _f32(p1, "p1", z.shape)
    b = _f32(p2, "p2", z.shape)
    wy, wx = _window(window)
    if not _common._HAVE_NUMBA:
        return _coh_np(z, a, b, wy, wx)
    out = np.empty(z.shape, np.float32)
    _coh_box_nb(_as_f32(z), a, b, 1, False, wy, wx, out)
    return out


def _coh_np(z: C64, p1: F32, p2: F32, wy: int, wx: int) -> F32:
    def box(x: NDArray[Any]) -> NDArray[np.float64]:
        return ndimage.uniform_filter(x.astype(np.float64), (wy, wx), mode="constant")

    num = np.hypot(box(z.real), box(z.imag))
    den = np.sqrt(box(p1) * box(p2))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0).astype(np.float32)


def _power(x: C64) -> F32:
    return (x.real * x.real + x.imag * x.imag).astype(np.float32)
