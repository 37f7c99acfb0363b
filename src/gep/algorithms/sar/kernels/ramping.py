"""TOPS azimuth ramps applied in one pass: ``out = data · exp(sign · j · φ(line, sample))``.

φ is ESA's deramping function (:mod:`gep.algorithms.sar.tops` says what each term is). In
numpy, ramping a 30 Mpixel burst materialises a dozen float64 and complex128 temporaries (~3 GB
of memory traffic, ~1.5 s); here each pixel evaluates its own slant-range polynomials and phase
in registers and multiplies by the vectorisable sin/cos of the other kernels: read once, write
once. Positions are ``(line0 + rows[i] + az[i, j], sample0 + j + rg[i, j])`` — the reference
grid when no offsets are given, the resampled secondary positions when they are — so the
caller never builds the float64 position arrays either. NaN offsets give 0, as in
:func:`gep.algorithms.sar.kernels.resampling.resample`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.sar.kernels import _common
from gep.algorithms.sar.kernels._common import _FM, _cos_sin, _jit, prange

C64 = NDArray[np.complex64]
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@_jit(inline="always")
def _horner(coeffs, x):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    acc = 0.0
    for k in range(coeffs.shape[0] - 1, -1, -1):
        acc = acc * x + coeffs[k]
    return acc


@_jit(parallel=True, fastmath=_FM)
def _ramp_nb(data, rows, line0, sample0, az, rg, has_offsets, sign, p, fm, dc, out):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    # p = (tau0, range sampling rate, azimuth time interval, middle line, k_s, eta_c(tau0),
    #      FM-rate t0, Doppler t0)
    tau0, fs, ati, mid, ks, eta_c0, fm_t0, dc_t0 = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    two_pi = 2.0 * np.pi
    h, w = data.shape
    for i in prange(h):
        base_line = line0 + rows[i]
        for j in range(w):
            line = base_line
            sample = sample0 + j
            if has_offsets:
                a = az[i, j]
                r = rg[i, j]
                if a != a or r != r:
                    out[i, j] = 0
                    continue
                line += a
                sample += r
            tau = tau0 + sample / fs
            ka = _horner(fm, tau - fm_t0)
            fdc = _horner(dc, tau - dc_t0)
            kt = ka * ks / (ka - ks)
            d = (line - mid) * ati + fdc / ka + eta_c0
            phi = -np.pi * kt * d * d - two_pi * fdc * d
            c, s = _cos_sin(sign * phi)
            z = data[i, j]
            out[i, j] = complex(z.real * c - z.imag * s, z.real * s + z.imag * c)


def apply_ramp(
    data: NDArray[Any],
    params: F64,
    fm_rate: F64,
    doppler: F64,
    *,
    sign: float,
    origin: tuple[float, float],
    rows: NDArray[np.int64] | None = None,
    az: F32 | None = None,
    rg: F32 | None = None,
) -> C64:
    """``data · exp(sign·j·φ)`` at ``(origin[0] + rows[i] + az, origin[1] + j + rg)``.

    ``params`` = (τ0, f_s, Δt, middle line, k_s, η_c(τ0), FM-rate t0, Doppler t0) and the two
    coefficient arrays come from :func:`gep.algorithms.sar.tops.ramp_parameters`. Without
    numba the callers in :mod:`gep.algorithms.sar.tops` evaluate the same φ with numpy
    (``deramping_phase``): one formula besides this kernel, not two.
    """
    z = np.ascontiguousarray(data, dtype=np.complex64)
    h, w = z.shape
    row_index = np.arange(h, dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    has = az is not None and rg is not None
    a = np.ascontiguousarray(az if has else np.zeros((1, 1)), dtype=np.float32)
    r = np.ascontiguousarray(rg if has else np.zeros((1, 1)), dtype=np.float32)
    if has and (a.shape != (h, w) or r.shape != (h, w)):
        raise ValueError(f"offsets {a.shape}/{r.shape} do not match the data {z.shape}")
    if len(row_index) != h:
        raise ValueError(f"{len(row_index)} row indices for {h} rows")
    if not _common._HAVE_NUMBA:
        raise RuntimeError("apply_ramp needs numba; gep.algorithms.sar.tops falls back itself")
    out = np.empty_like(z)
    _ramp_nb(
        z, row_index, float(origin[0]), float(origin[1]), a, r, has, float(sign),
        np.asarray(params, np.float64), np.asarray(fm_rate, np.float64),
        np.asarray(doppler, np.float64), out,
    )  # fmt: skip
    return out
