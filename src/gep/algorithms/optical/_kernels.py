"""Numba kernels of the phase-correlation offset tracker (one window after another, no GIL).

Every step between the FFTs is a pass over a window's pixels or spectrum bins; done in numpy,
each pass allocates a chunk-sized temporary and they add up to more than the FFTs themselves
(bench/optical.py: ~4 500 windows/s in numpy against ~the FFTs' bound here). Here each step
is one loop per window, and the kernels release the GIL so that the tracker's threads run
them (and scipy's FFTs) side by side. ``cache=True`` keeps the compiled code between runs.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_U = np.uint64
_jit = numba.njit(cache=True, nogil=True, fastmath={"nsz", "arcp", "contract", "reassoc"})


@_jit
def taper_stack(image, starts, window, shift_y, shift_x, out):  # type: ignore[no-untyped-def]
    """``out[k]`` = window k of ``image`` (top-left ``starts[k]``) minus its tapered mean,
    times a separable Hann taper moved by (shift_y[k], shift_x[k]) pixels."""
    base = np.empty(window, np.float32)  # the unmoved taper, shared by most windows
    two_pi_n = 2.0 * math.pi / window
    for i in range(window):
        base[i] = 0.5 - 0.5 * math.cos(two_pi_n * (i + 0.5))
    hy = np.empty(window, np.float32)
    hx = np.empty(window, np.float32)
    for k in range(starts.shape[0]):
        r0 = starts[k, 0]
        c0 = starts[k, 1]
        _hann_into(hy, base, shift_y[k], two_pi_n)
        _hann_into(hx, base, shift_x[k], two_pi_n)
        sy = np.float32(0.0)
        sx = np.float32(0.0)
        for i in range(window):
            sy += hy[i]
            sx += hx[i]
        # unsigned indices: no negative-index wraparound select, so LLVM vectorises the rows
        # (see gep.algorithms.sar.kernels._common)
        acc = np.float32(0.0)
        for i in range(window):
            ri = _U(r0 + i)
            row = np.float32(0.0)
            for j in range(window):
                row += image[ri, _U(c0 + j)] * hx[j]
            acc += row * hy[i]
        mean = np.float32(acc / max(sy * sx, np.float32(1e-12)))
        for i in range(window):
            ri = _U(r0 + i)
            h = hy[i]
            for j in range(window):
                out[k, i, j] = (image[ri, _U(c0 + j)] - mean) * (h * hx[j])


@_jit
def _hann_into(h, base, shift, two_pi_n):  # type: ignore[no-untyped-def]
    n = h.size
    if shift == 0.0:
        for i in range(n):
            h[i] = base[i]
        return
    for i in range(n):
        t = i + 0.5 - shift
        h[i] = 0.5 - 0.5 * math.cos(two_pi_n * t) if 0.0 <= t <= n else 0.0


@_jit
def whiten(fr, fs, pair_y, pair_x, norm, lag):  # type: ignore[no-untyped-def]
    """``norm`` = S·conj(R)/|S·conj(R)| and the whitened lag-one sums per window:
    ``lag[k, 0]`` = Σ norm[y+1, x]·conj(norm[y, x]) over ``pair_y`` (cyclic in y),
    ``lag[k, 1]`` the same along x over ``pair_x``; one pass over the spectrum."""
    n, ny, nx = fr.shape
    for k in range(n):
        ly_re = 0.0
        ly_im = 0.0
        lx_re = 0.0
        lx_im = 0.0
        for y in range(ny):
            for x in range(nx):
                a = fs[k, y, x]
                b = fr[k, y, x]
                re = a.real * b.real + a.imag * b.imag
                im = a.imag * b.real - a.real * b.imag
                m2 = re * re + im * im
                inv = np.float32(1.0) / math.sqrt(m2) if m2 > 1e-30 else np.float32(0.0)
                re *= inv
                im *= inv
                norm[k, y, x] = complex(re, im)
                if y > 0 and pair_y[_U(y - 1), x]:
                    p = norm[k, _U(y - 1), x]
                    ly_re += re * p.real + im * p.imag
                    ly_im += im * p.real - re * p.imag
                if x > 0 and pair_x[y, _U(x - 1)]:
                    p = norm[k, y, _U(x - 1)]
                    lx_re += re * p.real + im * p.imag
                    lx_im += im * p.real - re * p.imag
        for x in range(nx):  # the cyclic pair: the last row (f = -1/N) and row 0
            if pair_y[ny - 1, x]:
                c = norm[k, 0, x]
                p = norm[k, ny - 1, x]
                ly_re += c.real * p.real + c.imag * p.imag
                ly_im += c.imag * p.real - c.real * p.imag
        lag[k, 0] = complex(ly_re, ly_im)
        lag[k, 1] = complex(lx_re, lx_im)


@_jit
def peaks(surface, out):  # type: ignore[no-untyped-def]
    """Per correlation surface: the peak's (row, col) as signed shifts, its height, the
    highest value outside its 5 × 5 neighbourhood and the mean absolute value."""
    n, h, w = surface.shape
    near_col = np.zeros(w, np.bool_)
    for k in range(n):
        best = surface[k, 0, 0]
        bi = 0
        bj = 0
        total = 0.0
        for i in range(h):
            for j in range(w):
                v = surface[k, i, j]
                total += abs(v)
                if v > best:
                    best = v
                    bi = i
                    bj = j
        for j in range(w):
            near_col[j] = False
        for o in range(-2, 3):
            near_col[(bj + o) % w] = True
        second = -np.inf
        for i in range(h):
            di = (i - bi) % h
            near_row = di <= 2 or di >= h - 2
            for j in range(w):
                v = surface[k, i, j]
                if v > second and not (near_row and near_col[j]):
                    second = v
        out[k, 0] = bi - h if bi >= h // 2 else bi
        out[k, 1] = bj - w if bj >= w // 2 else bj
        out[k, 2] = best
        out[k, 3] = second
        out[k, 4] = total / (h * w)


@_jit
def _cos(r):  # type: ignore[no-untyped-def]
    """cos on [-π, π] to ~2e-2 (Taylor to r⁸): a weight and a quality figure, not geometry."""
    s = r * r
    return 1.0 + s * (-0.5 + s * (1.0 / 24.0 + s * (-1.0 / 720.0 + s * (1.0 / 40320.0))))


#: re-weighted passes of the phase-plane fit (see plane_fit); a second changed nothing measurable
ROBUST_PASSES = 1


@_jit
def _atan2(y, x):  # type: ignore[no-untyped-def]
    """atan2 to ~1e-5 rad (a minimax polynomial on [0, 1] and the octant folds): the plane fit
    calls it ~1 000 times a window and libm's is a third of the fit's time."""
    ax = abs(x)
    ay = abs(y)
    mx = max(ax, ay)
    if mx == 0.0:
        return 0.0
    a = min(ax, ay) / mx
    s = a * a
    r = ((-0.0464964749 * s + 0.15931422) * s - 0.327622764) * s * a + a
    if ay > ax:
        r = 1.57079637 - r
    if x < 0.0:
        r = 3.14159274 - r
    if y < 0.0:
        r = -r
    return r


@_jit
def plane_fit(fs, fr, rows, cols, fy, fx, weight, frac_y, frac_x, out):  # type: ignore[no-untyped-def]
    """Weighted least-squares plane through the phase of S·conj(R) over the band's bins.

    The phase is taken relative to the shift the secondary's taper was moved by
    (``frac_y``, ``frac_x``), so it stays far from ±π; weights |S||R| (times ``weight``, the
    half-spectrum multiplicity, 0 outside the band). ``out[k]`` = (dy, dx, coherence) with
    dy, dx the correction to add to the fraction and coherence the weighted mean cosine of
    the residual phases (``weight`` only), 1 when the windows are shifted copies.
    """
    nr = rows.size
    nc = cols.size
    two_pi = 2.0 * math.pi
    ph = np.empty((nr, nc), np.float64)
    mag = np.zeros((nr, nc), np.float64)
    ramp_y = np.empty(nr)
    ramp_x = np.empty(nc)
    wsum = 0.0
    for a in range(nr):
        for b in range(nc):
            wsum += weight[a, b]
    for k in range(fs.shape[0]):
        for a in range(nr):
            ramp_y[a] = two_pi * fy[a] * frac_y[k]
        for b in range(nc):
            ramp_x[b] = two_pi * fx[b] * frac_x[k]
        for a in range(nr):
            y = _U(rows[a])
            for b in range(nc):
                if weight[a, b] == 0.0:
                    continue
                x = _U(cols[b])
                s = fs[k, y, x]
                r = fr[k, y, x]
                # the phase of s · conj(r) · e^{i 2π (fy·frac_y + fx·frac_x)}, wrapped
                c_re = s.real * r.real + s.imag * r.imag
                c_im = s.imag * r.real - s.real * r.imag
                p = _atan2(c_im, c_re) + ramp_y[a] + ramp_x[b]
                ph[a, b] = p - two_pi * math.floor(p / two_pi + 0.5)
                mag[a, b] = math.sqrt(c_re * c_re + c_im * c_im)
        # pass 0: weights |S||R|; then robust passes: each bin's phase taken relative to the
        # plane (so a bin past ±π is unwrapped onto it) and down-weighted by cos² of its
        # residual, zero beyond ±π/2: noise-dominated bins (a dark, featureless part of the
        # window) stop pulling the fit
        dy = 0.0
        dx = 0.0
        coh = 0.0
        solved = False
        for it in range(1 + ROBUST_PASSES):
            a11 = 0.0
            a12 = 0.0
            a22 = 0.0
            b1 = 0.0
            b2 = 0.0
            coh = 0.0
            for a in range(nr):
                ky = fy[a]
                for b in range(nc):
                    wt = weight[a, b]
                    if wt == 0.0:
                        continue
                    kx = fx[b]
                    if it == 0:
                        p = ph[a, b]
                        w = mag[a, b] * wt
                    else:
                        plane = two_pi * (ky * dy + kx * dx)
                        r = ph[a, b] + plane
                        r -= two_pi * math.floor(r / two_pi + 0.5)
                        c = _cos(r)
                        coh += wt * c
                        if c <= 0.0:
                            continue
                        w = mag[a, b] * wt * c * c
                        p = r - plane
                    wky = w * ky
                    wkx = w * kx
                    a11 += wky * ky
                    a12 += wky * kx
                    a22 += wkx * kx
                    b1 -= wky * p
                    b2 -= wkx * p
            det = a11 * a22 - a12 * a12
            if det <= 0.0:
                break
            dy = (a22 * b1 - a12 * b2) / det / two_pi
            dx = (a11 * b2 - a12 * b1) / det / two_pi
            solved = True
        if not solved:
            out[k, 0] = np.nan
            out[k, 1] = np.nan
            out[k, 2] = 0.0
            continue
        if ROBUST_PASSES == 0:
            for a in range(nr):
                for b in range(nc):
                    wt = weight[a, b]
                    if wt != 0.0:
                        coh += wt * math.cos(ph[a, b] + two_pi * (fy[a] * dy + fx[b] * dx))
        # (with robust passes: the residuals' cosines of the last pass, against the plane
        # before its last small update)
        out[k, 0] = dy
        out[k, 1] = dx
        out[k, 2] = coh / wsum
