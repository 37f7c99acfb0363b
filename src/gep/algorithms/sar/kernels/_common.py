"""What the SAR kernels share: the numba switch, the vectorisable sin/cos, argument checks.

Kept apart so each operation's module holds only its own loops; the SBAS inversion's kernels
(:mod:`gep.algorithms.timeseries.inversion`) use the same JIT switch and sin/cos.  The public
functions test ``_common._HAVE_NUMBA`` at call time (not a copy imported by name), so turning
the JIT off in one place (the tests do) switches every kernel to its numpy branch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

try:  # the JIT is a hard dependency of the package, but the science must not need it
    import numba
    from numba import prange

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised by monkeypatching _HAVE_NUMBA in the tests
    numba = None  # type: ignore[assignment]
    prange = range  # type: ignore[assignment,misc]
    _HAVE_NUMBA = False

C64 = NDArray[np.complex64]
F32 = NDArray[np.float32]


def _jit(**options: Any) -> Any:
    """``numba.njit(cache=True, **options)``, or the identity when numba is missing.

    Without numba the decorated functions are never called (the public functions take their
    numpy branch), the decorator only has to leave the module importable.
    """

    def wrap(fn: Any) -> Any:
        if not _HAVE_NUMBA:
            return fn
        return numba.njit(cache=True, **options)(fn)

    return wrap


# Indices in the hot loops are cast to unsigned: numba then emits no negative-index wraparound
# select, which otherwise stops LLVM from vectorising any loop whose index is not the bare
# loop counter.  (Row views would do the same but cost an atomic refcount each.)
_U = np.uint64

# fastmath without the no-NaN / no-Inf assumptions, so NaN offsets and zero powers stay defined
_FM = {"nsz", "arcp", "contract", "afn", "reassoc"}

# ----------------------------------------------------------------------------------------------
# sin/cos: numba has no vector libm here (no SVML), and scalar sin+cos cost ~10x the memory
# traffic of the interferogram kernel.  Cody-Waite reduction to [-π/4, π/4] in float64 (exact
# enough for the thousands of radians a flat-earth phase reaches), then the Cephes float32
# minimax polynomials (≤ 2 ulp) and a branch-free quadrant select: all straight-line arithmetic,
# which LLVM vectorises.
_TWO_OVER_PI = 0.6366197723675814
_PI_OVER_2 = 1.5707963267948966


@_jit(inline="always", fastmath=_FM)
def _cos_sin(x):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    xd = np.float64(x)
    k = np.floor(xd * _TWO_OVER_PI + 0.5)
    r = np.float32(xd - k * _PI_OVER_2)
    q = k - 4.0 * np.floor(k * 0.25)  # quadrant 0..3, as a float (no int conversion)
    r2 = r * r
    s = r + r * r2 * (
        np.float32(-1.6666654611e-1)
        + r2 * (np.float32(8.3321608736e-3) + r2 * np.float32(-1.9515295891e-4))
    )
    c = (
        np.float32(1.0)
        - np.float32(0.5) * r2
        + r2
        * r2
        * (
            np.float32(4.166664568298827e-2)
            + r2 * (np.float32(-1.388731625493765e-3) + r2 * np.float32(2.443315711809948e-5))
        )
    )
    odd = (q == 1.0) or (q == 3.0)
    ss = c if odd else s
    cc = s if odd else c
    sin_x = -ss if q >= 2.0 else ss
    cos_x = -cc if (q == 1.0 or q == 2.0) else cc
    return cos_x, sin_x


# ----------------------------------------------------------------------------------------------
# argument handling


def _c64(x: ArrayLike, name: str) -> C64:
    arr = np.ascontiguousarray(x, dtype=np.complex64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
    return arr


def _f32(x: ArrayLike, name: str, shape: tuple[int, ...]) -> F32:
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")
    return arr


def _out(out: NDArray[Any] | None, shape: tuple[int, ...], dtype: Any) -> NDArray[Any]:
    if out is None:
        return np.empty(shape, dtype)
    if out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {np.dtype(dtype)} array of shape {shape}")
    return out


def _fill(out: NDArray[Any] | None, res: NDArray[Any]) -> NDArray[Any]:
    if out is None:
        return res
    _out(out, res.shape, res.dtype)[...] = res
    return out


def _as_f32(x: NDArray[Any]) -> F32:
    """float32 view of a C-contiguous float32/complex64 array: (H, W) complex -> (H, 2W)."""
    return x.view(np.float32)


def _looks(looks: tuple[int, int]) -> tuple[int, int]:
    la, lr = (int(v) for v in looks)
    if la < 1 or lr < 1:
        raise ValueError(f"looks must be positive, got {looks}")
    return la, lr


def _window(window: tuple[int, int]) -> tuple[int, int]:
    wy, wx = (int(v) for v in window)
    if wy < 1 or wx < 1 or wy % 2 == 0 or wx % 2 == 0:
        raise ValueError(f"window sizes must be odd and positive, got {window}")
    return wy, wx
