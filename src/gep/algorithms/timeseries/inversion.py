"""Small-baseline inversion of unwrapped interferograms into a phase time series, per pixel.

Method (Berardino et al. 2002): the unknowns are the mean velocities of the N − 1 intervals
between consecutive acquisitions; interferogram k spanning dates i → j observes
``Σ_{t=i}^{j-1} v_t Δt_t`` (:attr:`Network.velocity_design`, ``B``). The least-squares
solution of minimum norm, ``v = B⁺ φ`` with the SVD pseudo-inverse, is the ordinary
least-squares solution on a connected network and stays defined when the network (or the part
of it a pixel sees) splits into disconnected subsets. The phase of each date is the running
sum of ``v Δt``.

Per-pixel masks. A pixel uses only its valid interferograms (finite, above the coherence
threshold...), so pixels see different networks. Solving them one by one is what makes
classic implementations slow; here:

* pixels valid in every interferogram (usually most) share one pseudo-inverse: one matrix
  product for all of them;
* the others are grouped by their *mask pattern* (the set of valid interferograms, packed into
  bytes): each pattern seen by at least :data:`GROUP_MIN` pixels is solved with its own
  pseudo-inverse, exactly;
* the rest (rare patterns, and every pixel of a weighted inversion) solve their own normal
  equations ``Bᵀ W B v = Bᵀ W φ`` by a Cholesky factorisation vectorised across pixels (numba);
  a pixel whose normal matrix is singular (its valid network is disconnected) falls back to the
  minimum-norm pseudo-inverse of ``W^½ B``, so it gets the same answer as the SVD would give.

Quality: the temporal coherence (Pepe & Lanari 2006, as MintPy computes it),
``γ_t = |Σ_k exp(i (φ_k − B_k v))| / M_valid`` over the pixel's valid interferograms: 1 when the
network closes exactly, lower where unwrapping errors or noise break its consistency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.sar.kernels._common import _FM, _cos_sin, _jit, prange
from gep.algorithms.timeseries.network import Network

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]

#: a mask pattern shared by at least this many pixels gets its own pseudo-inverse
GROUP_MIN = 16
#: relative singular-value cut-off of the pseudo-inverses (MintPy uses 1e-5 on B)
RCOND = 1e-8
#: a Cholesky pivot below this fraction of its diagonal marks the normal matrix singular
PIVOT_TOL = 1e-9
#: fewer pixels than this go through numpy's matmul rather than the threaded kernel
_PARALLEL_MIN = 16384
#: pixels handled together by one numba thread (keeps the K×K×chunk normal matrices in cache)
_CHUNK = 64


@dataclass
class Inversion:
    """The phase time series of each pixel (radians, first date zero) and its quality."""

    #: (N, P) phase of each date relative to the first; NaN where a pixel was not solved
    phase: F32
    #: (P,) temporal coherence, NaN where not solved
    temporal_coherence: F32
    #: (P,) interferograms each pixel used
    n_used: NDArray[np.int16]


def pinv(matrix: F64, rcond: float = RCOND) -> F64:
    """Minimum-norm least-squares inverse by SVD (singular values below ``rcond`` × the
    largest are dropped: they are the directions a disconnected network leaves free)."""
    return np.asarray(np.linalg.pinv(matrix, rcond=rcond), dtype=np.float64)


def invert(
    network: Network,
    phase: NDArray[np.floating],
    *,
    valid: B8 | None = None,
    weights: NDArray[np.floating] | None = None,
    min_interferograms: int | None = None,
) -> Inversion:
    """Invert unwrapped phase ``(M, P)`` (radians, one row per interferogram) pixel by pixel.

    ``valid`` (M, P) marks the interferograms a pixel may use (non-finite phase is always
    invalid); ``weights`` (M, P), e.g. inverse phase variances from the coherence, switch to
    weighted least squares. A pixel with fewer than ``min_interferograms`` valid
    interferograms (default: N − 1, or M when the network is smaller) is left NaN.
    """
    m, n = network.n_ifgs, network.n_dates
    y = np.asarray(phase)
    if y.ndim != 2 or y.shape[0] != m:
        raise ValueError(f"phase must be (interferograms={m}, pixels), got {y.shape}")
    if y.dtype != np.float32 and y.dtype != np.float64:
        y = y.astype(np.float32)
    ok_obs = np.isfinite(y)
    if valid is not None:
        ok_obs &= np.asarray(valid, dtype=bool)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float32)
        if w.shape != y.shape:
            raise ValueError(f"weights must have the shape of phase {y.shape}, got {w.shape}")
        ok_obs &= np.isfinite(w) & (w > 0)
    if not ok_obs.all():
        y = np.where(ok_obs, y, np.zeros((), y.dtype))
    n_used = ok_obs.sum(axis=0, dtype=np.int16)
    need = min(n - 1, m) if min_interferograms is None else int(min_interferograms)
    solve = n_used >= max(need, 1)
    b = network.velocity_design
    dt = network.intervals
    ts = np.empty((n, y.shape[1]), dtype=np.float32)
    np.copyto(ts[0], np.where(solve, np.float32(0.0), np.float32(np.nan)))
    body = ts[1:]
    if not solve.all():
        body[:, ~solve] = np.nan
    if w is None:
        full = solve & (n_used == m)
        if full.any():
            # one operator for every pixel that sees the whole network
            op = integrate(pinv(b), dt)
            if full.all():
                apply_operator(op, y, body)  # writes ts in place: no copy of the block
            else:
                body[:, full] = apply_operator(op, y[:, full])
        rest = np.flatnonzero(solve & ~full)
        if rest.size:
            _solve_patterns(b, dt, y, ok_obs, rest, body)
    else:
        idx = np.flatnonzero(solve)
        if idx.size:
            wz = np.where(ok_obs, w, np.float32(0.0))
            body[:, idx] = _solve_normal(b, dt, y[:, idx], wz[:, idx])
    tcoh = temporal_coherence(network.pairs, y, ok_obs, ts)
    return Inversion(ts, tcoh, n_used)


def integrate(v_operator: F64, dt: F64) -> F64:
    """Turn an operator giving interval velocities into one giving each date's phase (the
    running sum of ``v Δt``), so that a block's time series is a single matrix product."""
    return np.cumsum(v_operator * dt[:, None], axis=0)


def apply_operator(op: F64, y: NDArray[np.floating], out: F32 | None = None) -> F32:
    """``op @ y`` (K × M by M × P) in float32 on numba's threads. BLAS would do the same
    arithmetic, but its spinning threads then fight numba's for the two cores in the
    temporal-coherence pass that follows (measured: 2× slower end to end)."""
    res = np.empty((op.shape[0], y.shape[1]), np.float32) if out is None else out
    if y.shape[1] < _PARALLEL_MIN:  # waking a thread team costs more than the product
        np.matmul(op.astype(np.float32), y.astype(np.float32, copy=False), out=res)
    else:
        _matmul_nb(op.astype(np.float32), np.ascontiguousarray(y, dtype=np.float32), res)
    return res


@_jit(parallel=True, fastmath=_FM)
def _matmul_nb(op, y, out):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    k, m = op.shape
    p = y.shape[1]
    nchunks = (p + 511) // 512
    for c in prange(nchunks):
        p0 = c * 512
        q = min(p, p0 + 512) - p0
        acc = np.zeros((k, q), np.float32)
        m4 = m - m % 4
        for i in range(0, m4, 4):  # four interferograms per pass over the accumulators
            y0 = y[i, p0 : p0 + q]
            y1 = y[i + 1, p0 : p0 + q]
            y2 = y[i + 2, p0 : p0 + q]
            y3 = y[i + 3, p0 : p0 + q]
            for a in range(k):
                o0, o1, o2, o3 = op[a, i], op[a, i + 1], op[a, i + 2], op[a, i + 3]
                row = acc[a]
                for t in range(q):
                    row[t] += o0 * y0[t] + o1 * y1[t] + o2 * y2[t] + o3 * y3[t]
        for i in range(m4, m):
            yi = y[i, p0 : p0 + q]
            for a in range(k):
                o = op[a, i]
                row = acc[a]
                for t in range(q):
                    row[t] += o * yi[t]
        out[:, p0 : p0 + q] = acc


# -- mask patterns ------------------------------------------------------------------------


def _solve_patterns(
    b: F64, dt: F64, y: NDArray[np.floating], ok: B8, idx: NDArray[np.intp], out: F32
) -> None:
    """Pixels ``idx`` grouped by their set of valid interferograms; frequent patterns are solved
    exactly with one pseudo-inverse each, rare ones through their normal equations."""
    order, bounds = group_patterns(ok[:, idx])
    counts = np.diff(bounds)
    for g in np.flatnonzero(counts >= GROUP_MIN).tolist():
        members = idx[order[bounds[g] : bounds[g + 1]]]
        op = integrate(pinv(b * ok[:, members[0], None]), dt)
        out[:, members] = apply_operator(op, y[:, members])
    rare = idx[order[np.repeat(counts < GROUP_MIN, counts)]]
    if rare.size:
        out[:, rare] = _solve_normal(b, dt, y[:, rare], ok[:, rare].astype(np.float32))


def group_patterns(ok: B8) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Pixels (columns of ``ok``) sorted so that equal validity patterns are adjacent:
    ``order`` and the ``bounds`` of each group in it. The patterns are packed into 64-bit
    words and sorted as integers (numpy's sort of raw byte strings is ~50× slower)."""
    p = ok.shape[1]
    packed = np.packbits(ok, axis=0)  # (ceil(M/8), P) uint8
    pad = (-packed.shape[0]) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((pad, p), np.uint8)])
    words = np.ascontiguousarray(packed.T).view(np.uint64)  # (P, W)
    order = np.lexsort(words.T[::-1]) if words.shape[1] > 1 else np.argsort(words[:, 0])
    sorted_words = words[order]
    change = np.any(sorted_words[1:] != sorted_words[:-1], axis=1)
    bounds = np.r_[0, np.flatnonzero(change) + 1, p]
    return order, bounds


# -- per-pixel normal equations -------------------------------------------------------------


def _solve_normal(b: F64, dt: F64, y: NDArray[np.floating], w: F32) -> F32:
    """Weighted least squares per pixel (``w`` = 0 drops an observation); minimum-norm
    pseudo-inverse where the normal matrix is singular. Returns the phase of dates 1…N−1."""
    m, k = b.shape
    p = y.shape[1]
    nz = b != 0
    span = np.zeros((m, 2), dtype=np.int64)
    span[:, 0] = nz.argmax(axis=1)
    span[:, 1] = k - nz[:, ::-1].argmax(axis=1)
    x = np.empty((k, p), dtype=np.float64)
    singular = np.zeros(p, dtype=np.bool_)
    kernel = _normal_nb if p >= _PARALLEL_MIN else _normal_serial
    kernel(np.ascontiguousarray(y, dtype=np.float32), np.ascontiguousarray(w), b, span, x, singular)
    bad = np.flatnonzero(singular)
    if bad.size:
        x[:, bad] = _min_norm(b, y[:, bad], w[:, bad])
    return np.cumsum(x * dt[:, None], axis=0).astype(np.float32)


def _min_norm(b: F64, y: NDArray[np.floating], w: F32, chunk: int = 2048) -> F64:
    """``pinv(W^½ B) W^½ y`` for each pixel (batched SVDs): the minimum-norm solution of a
    pixel whose valid network is disconnected."""
    out = np.empty((b.shape[1], y.shape[1]))
    for c0 in range(0, y.shape[1], chunk):
        ws = np.sqrt(w[:, c0 : c0 + chunk].astype(np.float64)).T  # (c, M)
        bw = b[None, :, :] * ws[:, :, None]
        pw = np.linalg.pinv(bw, rcond=RCOND)  # (c, K, M)
        out[:, c0 : c0 + chunk] = np.einsum("ckm,cm->kc", pw, ws * y[:, c0 : c0 + chunk].T)
    return out


def _normal_py(y, w, b, span, x, singular):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Per pixel: N = Σ w b bᵀ (lower triangle), r = Σ w y b, Cholesky, two substitutions.
    Loops run over a chunk of pixels innermost, so every step vectorises."""
    m, p = y.shape
    k = b.shape[1]
    nchunks = (p + _CHUNK - 1) // _CHUNK
    for c in prange(nchunks):
        p0 = c * _CHUNK
        q = min(p, p0 + _CHUNK) - p0
        nm = np.zeros((k, k, _CHUNK))
        rhs = np.zeros((k, _CHUNK))
        wm = np.empty(_CHUNK)
        wy = np.empty(_CHUNK)
        for i in range(m):
            for t in range(q):
                wi = np.float64(w[i, p0 + t])
                wm[t] = wi
                wy[t] = wi * y[i, p0 + t] if wi > 0.0 else 0.0
            for a in range(span[i, 0], span[i, 1]):
                ba = b[i, a]
                for t in range(q):
                    rhs[a, t] += ba * wy[t]
                for e in range(span[i, 0], a + 1):
                    c2 = ba * b[i, e]
                    for t in range(q):
                        nm[a, e, t] += c2 * wm[t]
        bad = np.zeros(_CHUNK, dtype=np.bool_)
        d = np.empty(_CHUNK)
        inv = np.empty(_CHUNK)
        s = np.empty(_CHUNK)
        for j in range(k):
            for t in range(q):
                d[t] = nm[j, j, t]
            for e in range(j):
                for t in range(q):
                    d[t] -= nm[j, e, t] * nm[j, e, t]
            for t in range(q):
                if not d[t] > PIVOT_TOL * nm[j, j, t] or not d[t] > 0.0:
                    bad[t] = True
                    d[t] = 1.0
                inv[t] = 1.0 / np.sqrt(d[t])
            for i2 in range(j + 1, k):
                for t in range(q):
                    s[t] = nm[i2, j, t]
                for e in range(j):
                    for t in range(q):
                        s[t] -= nm[i2, e, t] * nm[j, e, t]
                for t in range(q):
                    nm[i2, j, t] = s[t] * inv[t]
            for t in range(q):
                nm[j, j, t] = 1.0 / inv[t]
        # L z = r, then Lᵀ x = z
        for j in range(k):
            for e in range(j):
                for t in range(q):
                    rhs[j, t] -= nm[j, e, t] * rhs[e, t]
            for t in range(q):
                rhs[j, t] /= nm[j, j, t]
        for j in range(k - 1, -1, -1):
            for e in range(j + 1, k):
                for t in range(q):
                    rhs[j, t] -= nm[e, j, t] * rhs[e, t]
            for t in range(q):
                rhs[j, t] /= nm[j, j, t]
        for j in range(k):
            for t in range(q):
                x[j, p0 + t] = rhs[j, t]
        for t in range(q):
            singular[p0 + t] = bad[t]


# -- temporal coherence ---------------------------------------------------------------------


def temporal_coherence(
    pairs: NDArray[np.int64], y: NDArray[np.floating], valid: B8, ts: F32
) -> F32:
    """``|mean over valid k of exp(i (y_k − (ts[j_k] − ts[i_k])))|`` per pixel, for
    interferogram k spanning dates i_k → j_k (NaN where no interferogram is valid)."""
    out = np.empty(y.shape[1], dtype=np.float32)
    kernel = _tcoh_nb if y.shape[1] >= _PARALLEL_MIN else _tcoh_serial
    kernel(
        np.ascontiguousarray(pairs, dtype=np.int64),
        np.ascontiguousarray(y, dtype=np.float32),
        np.ascontiguousarray(valid),
        np.ascontiguousarray(ts, dtype=np.float32),
        out,
    )
    return out


def _tcoh_py(pairs, y, valid, ts, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    m, p = y.shape
    nchunks = (p + 511) // 512
    for c in prange(nchunks):
        p0 = c * 512
        q = min(p, p0 + 512) - p0
        re = np.zeros(q, np.float32)
        im = np.zeros(q, np.float32)
        cnt = np.zeros(q, np.float32)
        for i in range(m):
            yi = y[i, p0 : p0 + q]
            vi = valid[i, p0 : p0 + q]
            ta = ts[pairs[i, 0], p0 : p0 + q]
            te = ts[pairs[i, 1], p0 : p0 + q]
            for t in range(q):
                r = yi[t] - (te[t] - ta[t])
                ok = vi[t] and r == r
                cs, sn = _cos_sin(r if ok else np.float32(0.0))
                re[t] += cs if ok else np.float32(0.0)
                im[t] += sn if ok else np.float32(0.0)
                cnt[t] += np.float32(1.0) if ok else np.float32(0.0)
        oc = out[p0 : p0 + q]
        for t in range(q):
            n = cnt[t]
            oc[t] = np.sqrt(re[t] * re[t] + im[t] * im[t]) / n if n > 0 else np.nan


# each kernel twice: threaded for big blocks, serial for small ones (waking a thread team costs
# more than a few thousand pixels take, and much more on a loaded machine)
_normal_nb = _jit(parallel=True, fastmath=_FM)(_normal_py)
_normal_serial = _jit(fastmath=_FM)(_normal_py)
_tcoh_nb = _jit(parallel=True, fastmath=_FM)(_tcoh_py)
_tcoh_serial = _jit(fastmath=_FM)(_tcoh_py)
