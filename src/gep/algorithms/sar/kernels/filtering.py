"""The Goldstein-Werner adaptive filter of an interferogram (patches, batched FFTs).

Apart from the other kernels because it is the only one working in the frequency domain.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
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
    _f32,
    _jit,
    prange,
)

# ----------------------------------------------------------------------------------------------
# Goldstein-Werner filter


@_jit(parallel=True)
def _gs_extract_nb(img, rs, cs, p, out):  # pragma: no cover - compiled
    """Copy patches img[rs[a]:+p, cs[b]:+p] into out[a, b] (float32 views of complex64)."""
    npr = rs.shape[0]
    npc = cs.shape[0]
    for t in prange(npr * npc):
        a = t // npc
        bb = t - a * npc
        au = _U(a)
        bu = _U(bb)
        c2 = _U(2 * cs[bb])
        for u in range(p):
            uu = _U(u)
            ru = _U(rs[a] + u)
            for v in range(_U(2 * p)):
                out[au, bu, uu, v] = img[ru, c2 + v]


# log2 / exp2 in float32 from the bit pattern: numba has no vector pow, and a scalar powf per
# spectral sample costs more than the FFTs themselves.  Relative error ~1e-6.
_LOG2E2 = 2.0 / math.log(2.0)


@_jit(parallel=True, fastmath=_FM)
def _gs_weight_nb(spec, alphas, smooth, chunk):  # pragma: no cover - compiled
    """spec[k] *= (S / max S) ** alphas[k], S = |spec[k]| smoothed by a wrapped boxcar.

    ``spec`` is the float32 view (n, p, 2p) of the complex spectra.
    """
    n = spec.shape[0]
    p = spec.shape[1]
    hw = smooth // 2
    pp = p * p
    nchunk = (n + chunk - 1) // chunk
    for ch in prange(nchunk):
        mag = np.empty((p, p + 2 * hw), np.float32)
        sm = np.empty(pp, np.float32)
        hh = np.empty(pp, np.float32)
        ibits = sm.view(np.int32)
        ebits = np.empty(pp, np.int32)
        escale = ebits.view(np.float32)
        for k in range(ch * chunk, min(n, (ch + 1) * chunk)):
            a = alphas[k]
            if a == 0.0:
                continue
            ku = _U(k)
            for u in range(p):
                uu = _U(u)
                for v in range(p):
                    vu = _U(v)
                    re = spec[ku, uu, _U(2) * vu]
                    im = spec[ku, uu, _U(2) * vu + _U(1)]
                    mag[uu, vu + _U(hw)] = math.sqrt(re * re + im * im)
                for v in range(hw):  # periodic extension: the spectrum is periodic
                    mag[u, v] = mag[u, p + v]
                    mag[u, p + hw + v] = mag[u, hw + v]
            for t in range(pp):
                hh[t] = 0.0
            for u in range(p):  # horizontal boxcar
                base = _U(u * p)
                for m in range(smooth):
                    for v in range(p):
                        hh[base + _U(v)] += mag[_U(u), _U(v + m)]
            mx = np.float32(0.0)
            for u in range(p):  # vertical boxcar, wrapped
                base = _U(u * p)
                for t in range(p):
                    sm[base + _U(t)] = 0.0
                for m in range(-hw, hw + 1):
                    src = _U(((u + m) % p) * p)
                    for t in range(p):
                        sm[base + _U(t)] += hh[src + _U(t)]
                for t in range(p):
                    mx = max(mx, sm[base + _U(t)])
            if mx <= 0.0:
                continue
            inv = np.float32(1.0) / mx
            if a == 1.0:
                for t in range(pp):
                    hh[t] = sm[t] * inv
            elif a == 0.5:
                for t in range(pp):
                    hh[t] = math.sqrt(sm[t] * inv)
            else:
                for t in range(pp):
                    sm[t] = max(sm[t] * inv, np.float32(1e-30))
                for t in range(pp):  # y = a * log2(x), x = m 2^e with m in [1, 2)
                    ebits[t] = (ibits[t] & 0x007FFFFF) | 0x3F800000
                for t in range(pp):
                    mm = escale[t]
                    z = (mm - np.float32(1.0)) / (mm + np.float32(1.0))
                    z2 = z * z
                    lg = z * (
                        np.float32(1.0)
                        + z2
                        * (
                            np.float32(1.0 / 3.0)
                            + z2
                            * (
                                np.float32(1.0 / 5.0)
                                + z2 * (np.float32(1.0 / 7.0) + z2 * np.float32(1.0 / 9.0))
                            )
                        )
                    )
                    bits = ibits[t]
                    e = np.float32((bits >> 23) - 127)
                    y = a * (e + np.float32(_LOG2E2) * lg)
                    y = max(y, np.float32(-126.0))
                    fl = np.floor(y)
                    f = y - fl
                    # 2^f on [0, 1): degree-6 minimax-ish Taylor of exp(f ln 2), error < 2e-7
                    q = np.float32(1.0) + f * (
                        np.float32(0.6931471805599453)
                        + f
                        * (
                            np.float32(0.2402265069591007)
                            + f
                            * (
                                np.float32(0.05550410866482158)
                                + f
                                * (
                                    np.float32(0.009618129107628477)
                                    + f
                                    * (
                                        np.float32(0.0013333558146428443)
                                        + f * np.float32(0.00015403530393381606)
                                    )
                                )
                            )
                        )
                    )
                    hh[t] = q
                    ebits[t] = (np.int32(fl) + 127) << 23
                for t in range(pp):
                    hh[t] *= escale[t]
            for u in range(p):
                uu = _U(u)
                base = _U(u * p)
                for v in range(p):
                    vu = _U(v)
                    g = hh[base + vu]
                    spec[ku, uu, _U(2) * vu] *= g
                    spec[ku, uu, _U(2) * vu + _U(1)] *= g


@_jit(parallel=True, fastmath=_FM)
def _gs_accumulate_nb(out, patches, rs, cs, w, w2, p, y0, y1):  # pragma: no cover
    """out[y] += w[y - r] w[x - c] patch (float32 views); one thread per output row."""
    npr = rs.shape[0]
    npc = cs.shape[0]
    for y in prange(y0, y1):
        yu = _U(y)
        for a in range(npr):
            u = y - rs[a]
            if u < 0 or u >= p:
                continue
            wu = w[u]
            au = _U(a)
            uu = _U(u)
            for bb in range(npc):
                bu = _U(bb)
                c2 = _U(2 * cs[bb])
                for v in range(_U(2 * p)):
                    out[yu, c2 + v] += wu * w2[v] * patches[au, bu, uu, v]


@_jit(parallel=True, fastmath=_FM)
def _scale_nb(out, gr, gc2):  # pragma: no cover - compiled
    h = out.shape[0]
    n = out.shape[1]
    for y in prange(h):
        g = gr[y]
        yu = _U(y)
        for x in range(_U(n)):
            out[yu, x] *= g * gc2[x]


def _patch_starts(n: int, p: int, step: int) -> NDArray[np.int64]:
    starts = list(range(0, n - p + 1, step))
    if starts[-1] != n - p:
        starts.append(n - p)
    return np.asarray(starts, np.int64)


def _triangle(p: int) -> NDArray[np.float32]:
    """Triangular taper, nonzero at the patch border so every pixel has some weight."""
    n = np.arange(p, dtype=np.float64)
    return (1.0 - np.abs(2.0 * n + 1.0 - p) / p).astype(np.float32)


def goldstein(
    ifg: ArrayLike,
    alpha: float = 0.5,
    patch: int = 32,
    step: int | None = None,
    smooth: int = 3,
    coherence: ArrayLike | None = None,
) -> C64:
    """Goldstein–Werner (1998) adaptive filter of a (multilooked) complex interferogram.

    Each ``patch x patch`` block, taken every ``step`` pixels (default ``patch // 4``), is
    multiplied in the Fourier domain by ``H = (S / max S) ** alpha`` where ``S`` is ``|FFT|``
    smoothed by a ``smooth x smooth`` boxcar (wrapping around, the spectrum being periodic):
    dominant fringe frequencies are kept, the noise floor is pushed down, ``alpha = 0`` is the
    identity and larger ``alpha`` filters harder.  Normalising by the maximum makes a clean
    fringe pass with gain 1, so amplitudes stay comparable to the input.  Patches are blended
    with triangular weights and divided by the summed weights, so a constant-phase field comes
    back unchanged, and edges (where fewer patches overlap) are not dimmed.

    ``coherence`` (same shape, 0..1) selects the adaptive variant of Baran et al. (2003):
    each patch uses ``alpha = 1 - mean coherence`` over the patch, filtering noisy areas hard
    and leaving coherent ones alone; ``alpha`` is then ignored.

    The FFTs run batched over many patches (``scipy.fft``, all cores); patches are processed
    in strips of ~32 MB so full-resolution bursts work in bounded memory.
    """
    z = _c64(ifg, "ifg")
    if patch < 2 or (smooth < 1 or smooth % 2 == 0 or smooth > patch):
        raise ValueError("patch must be >= 2 and smooth an odd number in [1, patch]")
    step = max(1, patch // 4) if step is None else int(step)
    if not 1 <= step <= patch:
        raise ValueError("step must be in [1, patch]")
    coh = None if coherence is None else _f32(coherence, "coherence", z.shape)
    h0, w0 = z.shape
    if h0 == 0 or w0 == 0:
        return z.copy()
    if h0 < patch or w0 < patch:  # too small for one patch: zero-pad (weights renormalise)
        pad = np.zeros((max(h0, patch), max(w0, patch)), np.complex64)
        pad[:h0, :w0] = z
        z = pad
        if coh is not None:
            cpad = np.zeros(pad.shape, np.float32)
            cpad[:h0, :w0] = coh
            coh = cpad
    h, w = z.shape
    rs = _patch_starts(h, patch, step)
    cs = _patch_starts(w, patch, step)
    wt = _triangle(patch)
    # summed weights per row / column: the blend is separable, so is its normalisation
    gr = np.zeros(h, np.float64)
    gc = np.zeros(w, np.float64)
    for r in rs:
        gr[r : r + patch] += wt
    for c in cs:
        gc[c : c + patch] += wt
    if coh is not None:
        csum = np.zeros((h + 1, w + 1), np.float64)
        np.cumsum(np.cumsum(coh, axis=0, dtype=np.float64), axis=1, out=csum[1:, 1:])
    out = np.zeros((h, w), np.complex64)
    rows_per_strip = max(1, (32 << 20) // (len(cs) * patch * patch * 8))
    for s0 in range(0, len(rs), rows_per_strip):
        srs = rs[s0 : s0 + rows_per_strip]
        if coh is not None:
            r0 = srs[:, None]
            c0 = cs[None, :]
            tot = (
                csum[r0 + patch, c0 + patch]
                - csum[r0, c0 + patch]
                - csum[r0 + patch, c0]
                + csum[r0, c0]
            )
            alphas = np.clip(1.0 - tot / (patch * patch), 0.0, 1.0).astype(np.float32).ravel()
        else:
            alphas = np.full(len(srs) * len(cs), alpha, np.float32)
        buf = _gs_strip(z, srs, cs, patch, alphas, smooth)
        y0, y1 = int(srs[0]), int(srs[-1]) + patch
        if _common._HAVE_NUMBA:
            w2 = np.repeat(wt, 2)
            _gs_accumulate_nb(_as_f32(out), _as_f32(buf), srs, cs, wt, w2, patch, y0, y1)
        else:
            ww = np.outer(wt, wt)
            for a, r in enumerate(srs):
                for b, c in enumerate(cs):
                    out[r : r + patch, c : c + patch] += ww * buf[a, b]
    inv_r = (1.0 / gr).astype(np.float32)
    inv_c = (1.0 / gc).astype(np.float32)
    if _common._HAVE_NUMBA:
        _scale_nb(_as_f32(out), inv_r, np.repeat(inv_c, 2))
    else:
        out *= inv_r[:, None]
        out *= inv_c[None, :]
    return out[:h0, :w0] if (h, w) != (h0, w0) else out


def _gs_strip(
    z: C64, srs: NDArray[np.int64], cs: NDArray[np.int64], p: int, alphas: F32, smooth: int
) -> C64:
    """Filtered patches of one strip, shape (rows, cols, p, p)."""
    buf = np.empty((len(srs), len(cs), p, p), np.complex64)
    if _common._HAVE_NUMBA:
        _gs_extract_nb(_as_f32(z), srs, cs, p, _as_f32(buf))
    else:
        for a, r in enumerate(srs):
            for b, c in enumerate(cs):
                buf[a, b] = z[r : r + p, c : c + p]
    flat = buf.reshape(-1, p, p)
    spec = scipy.fft.fft2(flat, axes=(1, 2), workers=-1, overwrite_x=True)
    if _common._HAVE_NUMBA:
        _gs_weight_nb(_as_f32(spec), alphas, smooth, 16)
    else:
        mag = np.abs(spec)
        sm = ndimage.uniform_filter(mag, (1, smooth, smooth), mode="wrap") * (smooth * smooth)
        mx = sm.max(axis=(1, 2), keepdims=True)
        hw = np.where(mx > 0, sm / np.where(mx > 0, mx, 1.0), 1.0)
        spec *= (hw ** alphas[:, None, None]).astype(np.float32)
    res = scipy.fft.ifft2(spec, axes=(1, 2), workers=-1, overwrite_x=True)
    return np.asarray(res, np.complex64).reshape(buf.shape)
