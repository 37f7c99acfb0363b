"""Fused numba kernel behind :func:`gep.algorithms.models.okada85`.

The numpy version builds ~60 full-size temporaries per call and is memory bound (~0.6 M
points/s); here each point is done in registers, in one pass. Three choices make it fast while
keeping Okada's formulas and singular-case rules (those of ``_okada85_numpy``, term for term):

* Every output is linear, with coefficients that depend only on the source, in a few per-corner
  quantities (Okada's I1…I5 included), so the four Chinnery corners are summed first and
  combined once per point. The two logarithms (ln(R+η), ln(R+d̃)) enter the same way, so their
  four corner values collapse into the logarithm of one product ratio: 2 ``log`` per point
  instead of 8. Agreement with the numpy reference: ~1e-13 of the field's peak.
* ``atan`` is Cephes' rational approximation (≤ 1 ulp here) written branch-free and taking the
  ratio as numerator/denominator, so LLVM vectorises the per-point loop (AVX2/AVX-512) without
  SVML; libm's ``atan`` is a call that blocks vectorisation and costs ~4× more.
* ``log`` likewise (fdlibm's, ≤ 1 ulp, on the IEEE bits; libm's for zero, negative, subnormal,
  inf or nan arguments). Points go by blocks: a vectorisable pass writes the field without its
  log terms plus the two log arguments to block-local buffers, a second takes their logs, a
  third adds them. ``prange`` runs the blocks on all cores.

Helpers are ``forceinline`` (LLVM ``alwaysinline``): vectorisation needs them inlined, and
numba's own IR inlining (``inline="always"``) made the first compile twice as long. The entry
point is compiled with ``cache=True``: the first call on a machine compiles (~15 s of CPU), later
processes load it from ``__pycache__`` (~1 s, mostly numba's own start-up).
``error_model="numpy"`` makes a division by zero give inf/nan as numpy does instead of raising,
which vectorisation also needs. Fast-math: see ``_CONTRACT``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

_EPS = 1e-14  # same threshold as the numpy reference for Okada's singular cases
# The only fast-math flag, and only where no branch is decided: fused multiply-adds in the
# polynomials and the final combination (~8 % faster, as accurate or more). The geometry (q, R,
# R+η, ξ, ...) stays plain IEEE so that the singular cases fall exactly where the reference's do.
_CONTRACT = {"contract"}
_BLOCK = 1024  # points per block: the buffer stays in L1/L2, the blocks balance over threads
# below this many points one thread does it: waking the pool costs more (milliseconds when the
# cores are busy with other work) than the ~70 µs a block takes
_SERIAL_MAX = 16 * _BLOCK

# Cephes atan (S. Moshier): range reduction to |x| <= 0.66 and a (4, 5) rational approximation
_T3P8 = 2.41421356237309504880  # tan(3π/8)
_PIO2 = 1.57079632679489661923
_PIO4 = 0.78539816339744830962
_MOREBITS = 6.123233995736765886130e-17  # π/2 - float(π/2)
_P0, _P1, _P2, _P3, _P4 = (
    -8.750608600031904122785e-1,
    -1.615753718733365076637e1,
    -7.500855792314704667340e1,
    -1.228866684490136173410e2,
    -6.485021904942025371773e1,
)
_Q0, _Q1, _Q2, _Q3, _Q4 = (
    2.485846490142306297962e1,
    1.650270098316988542046e2,
    4.328810604912902668951e2,
    4.853903996359136964868e2,
    1.945506571482613964425e2,
)


@numba.njit(forceinline=True, fastmath=_CONTRACT)
def _atan_ratio(num: float, den: float) -> float:
    """atan(num / den) for den != 0, branch-free (selects only) so that loops vectorise.

    Reducing with |num| and |den| rather than their ratio saves a division: |x| > tan(3π/8)
    uses π/2 - atan(|den|/|num|), |x| > 0.66 uses π/4 + atan((|num|-|den|)/(|num|+|den|)).
    """
    an = abs(num)
    ad = abs(den)
    big = an > _T3P8 * ad
    mid = an > 0.66 * ad
    rn = -ad if big else (an - ad if mid else an)
    rd = an if big else (an + ad if mid else ad)
    y0 = _PIO2 if big else (_PIO4 if mid else 0.0)
    mb = _MOREBITS if big else (0.5 * _MOREBITS if mid else 0.0)
    xr = rn / rd
    z = xr * xr
    pz = (((_P0 * z + _P1) * z + _P2) * z + _P3) * z + _P4
    qz = ((((z + _Q0) * z + _Q1) * z + _Q2) * z + _Q3) * z + _Q4
    y = y0 + ((xr * (z * pz / qz) + xr) + mb)
    return -y if (num < 0.0) != (den < 0.0) else y


# fdlibm e_log.c: log(1+f) = f - f²/2 + s (f²/2 + R(s²)), s = f / (2+f), |s| <= 0.1716
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_MANT = 0x000FFFFFFFFFFFFF
_SQRT2_MANT = 0x6A09E667F3BCD  # mantissa bits of sqrt(2)
_EXP_ONE = 0x3FF0000000000000  # exponent bits of 1.0
_EXP_HALF = 0x3FE0000000000000  # ... of 0.5
_EXP_2P52 = 0x4330000000000000  # 2**52: its low mantissa bits read as an integer
_TWO52 = 4503599627370496.0


@numba.njit(error_model="numpy", fastmath=_CONTRACT)
def _log_inplace(x: NDArray[np.float64], kf: NDArray[np.float64]) -> None:
    """x[:] = log(x) for contiguous ``x``; ``kf`` is scratch of the same size.

    Written as three loops because numba has no scalar bit cast: the first splits the bits into
    a mantissa m in [√2/2, √2) (written back over x) and the exponent, stored as the float
    2**52 + k (integer bits under 2**52's exponent: no int-to-float conversion, which AVX2
    lacks for int64); the second evaluates k ln 2 + log(m); the third hands what is not a
    positive normal number to libm. The first two vectorise.
    """
    bits = x.view(np.int64)
    kbits = kf.view(np.int64)
    for i in range(x.size):
        b = bits[i]
        ef = b >> 52  # biased exponent; negative when the sign bit is set
        mant = b & _MANT
        hi = mant > _SQRT2_MANT
        good = (ef > 0) & (ef < 2047)
        kbits[i] = _EXP_2P52 | (ef + hi if good else 0)
        bits[i] = (mant | (_EXP_HALF if hi else _EXP_ONE)) if good else b
    for i in range(x.size):
        m = x[i]
        kb = kf[i] - _TWO52  # biased exponent, 0 for the special cases
        dk = kb - 1023.0
        f = m - 1.0
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
        hfsq = 0.5 * f * f
        v = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
        x[i] = v if kb != 0.0 else m
    for i in range(x.size):
        if kf[i] == _TWO52:
            x[i] = math.log(x[i])


@numba.njit(forceinline=True)
def _common(
    xi: float, eta: float, q: float, q2: float, qok: bool, cd: float, sd: float
) -> tuple[float, float, float, float, float, float, float, float, float, float, float, float]:
    """Corner terms shared by both dip cases, with Okada's rules for R+η = 0, R+ξ = 0, q = 0.

    Returns ỹ, d̃, 1/(R+η) (0 when R+η = 0), 1/R, 1/(R(R+η)), 1/(R(R+ξ)) (0 likewise), θ, the
    factors whose logs give ln(R+η): ``lnum`` / ``lden`` (-ln(R-η) when R+η = 0), R+d̃, 1/(R+d̃)
    and R. One division serves all the reciprocals (R, R+η, R+ξ, R+d̃ are all O(distance)).
    """
    r = math.sqrt(xi * xi + eta * eta + q2)
    yb = eta * cd + q * sd
    db = eta * sd - q * cd
    re = r + eta
    rx = r + xi
    rdb = r + db
    reok = abs(re) > _EPS
    rxok = abs(rx) > _EPS
    re1 = re if reok else 1.0
    rx1 = rx if rxok else 1.0
    rme = r - eta
    lnum = abs(re) if reok else 1.0
    lden = 1.0 if reok else (abs(rme) if rme != 0.0 else 1.0)
    inv = 1.0 / (r * re1 * rx1 * rdb)
    inv_r_rdb = re1 * rx1 * inv  # 1 / (R (R+d̃))
    inv_r = inv_r_rdb * rdb
    inv_rdb = inv_r_rdb * r
    # 1 / (R (R+η)); where R+η = 0 it is 0 as in the reference (q · 0 / R), nan where R = 0,
    # which makes the whole point nan as there (inv_r is nan: R = 0 implies R+d̃ = 0)
    inv_rre = (rx1 * rdb * inv) if reok else 0.0 * inv_r
    inv_rrx = (re1 * rdb * inv) if rxok else 0.0  # 1 / (R (R+ξ))
    inv_re = inv_rre * r
    qr = q * r
    th = _atan_ratio(xi * eta, qr if qr != 0.0 else 1.0) if qok else 0.0
    return yb, db, inv_re, inv_r, inv_rre, inv_rrx, th, lnum, lden, rdb, inv_rdb, r


@numba.njit(forceinline=True, fastmath=_CONTRACT)
def _fields(
    q: float,
    s_xa: float,
    s_ya: float,
    s_da: float,
    s_ire: float,
    s_ir: float,
    s_ybb: float,
    s_dbb: float,
    s_a: float,
    s_th: float,
    i1: float,
    i2: float,
    i3: float,
    i4: float,
    i5: float,
    g: tuple[float, float, float, float, float, float, float],
) -> tuple[float, float, float]:
    """Okada's eqs. 25–30 on the Chinnery sums, then rotation to east/north/up.

    ``s_*`` are the signed corner sums of ξ/(R(R+η)), ỹ/(R(R+η)), d̃/(R(R+η)), 1/(R+η), 1/R,
    ỹ/(R(R+ξ)), d̃/(R(R+ξ)), 1/(R(R+η)) and θ, before the factors of q; ``g`` holds
    cos δ, sin δ, -U1/2π, -U2/2π, U3/2π, cos(strike), sin(strike).
    """
    cd, sd, c1, c2, c3, cs, ss = g
    xa = q * s_xa
    ya = q * s_ya
    da = q * s_da
    qre = q * s_ire
    ybb = q * s_ybb
    dbb = q * s_dbb
    xs = xa - s_th
    ux = (
        c1 * (xa + s_th + sd * i1)
        + c2 * (q * s_ir - sd * cd * i3)
        + c3 * (q * q * s_a - sd * sd * i3)
    )
    uy = (
        c1 * (ya + cd * qre + sd * i2)
        + c2 * (ybb + cd * s_th - sd * cd * i1)
        + c3 * (-dbb - sd * xs - sd * sd * i1)
    )
    uz = (
        c1 * (da + sd * qre + sd * i4)
        + c2 * (dbb + sd * s_th - sd * cd * i5)
        + c3 * (ybb + cd * xs - sd * sd * i5)
    )
    return ss * ux - cs * uy, cs * ux + ss * uy, uz


@numba.njit(forceinline=True)
def _dip_corner(
    xi: float, eta: float, q: float, q2: float, qok: bool, cd: float, sd: float
) -> tuple[float, ...]:
    """One corner of a dipping fault: the terms summed over corners (see ``_dip_block``)."""
    yb, db, inv_re, inv_r, inv_rre, inv_rrx, th, lnum, lden, rdb, inv_rdb, r = _common(
        xi, eta, q, q2, qok, cd, sd
    )
    x_ = math.sqrt(xi * xi + q2)
    rx_ = r + x_
    den = xi * rx_ * cd
    at = (
        _atan_ratio(eta * (x_ + q * cd) + x_ * rx_ * sd, den if den != 0.0 else 1.0)
        if abs(xi) > _EPS
        else 0.0
    )
    return (
        xi * inv_rre,
        yb * inv_rre,
        db * inv_rre,
        inv_re,
        inv_r,
        yb * inv_rrx,
        db * inv_rrx,
        inv_rre,
        th,
        at,
        yb * inv_rdb,
        xi * inv_rdb,
        lnum,
        lden,
        rdb,
    )


@numba.njit(forceinline=True)
def _vert_corner(
    xi: float, eta: float, q: float, q2: float, qok: bool, cd: float, sd: float
) -> tuple[float, ...]:
    """One corner of a vertical fault (cos δ = 0: Okada's limit forms of I1…I5)."""
    yb, db, inv_re, inv_r, inv_rre, inv_rrx, th, lnum, lden, _rdb, inv_rdb, _r = _common(
        xi, eta, q, q2, qok, cd, sd
    )
    inv_rdb2 = inv_rdb * inv_rdb
    return (
        xi * inv_rre,
        yb * inv_rre,
        db * inv_rre,
        inv_re,
        inv_r,
        yb * inv_rrx,
        db * inv_rrx,
        inv_rre,
        th,
        xi * inv_rdb,
        inv_rdb,
        eta * inv_rdb,
        yb * inv_rdb2,
        xi * inv_rdb2,
        lnum,
        lden,
    )


@numba.njit(forceinline=True)
def _point_setup(
    e: float,
    n: float,
    hx: float,
    hy: float,
    half_l: float,
    cw: float,
    d: float,
    cs: float,
    ss: float,
    cd: float,
    sd: float,
) -> tuple[float, float, float]:
    """Okada's x, p, q of a point: from the centroid to the bottom edge's end (``okada.py``)."""
    ec = e + hx
    nc = n - hy
    x = cs * nc + ss * ec + half_l
    y = ss * nc - cs * ec + cw
    return x, y * cd + d * sd, y * sd - d * cd


@numba.njit(error_model="numpy")
def _dip_block(
    e: NDArray[np.float64],
    n: NDArray[np.float64],
    lo: int,
    hi: int,
    buf: NDArray[np.float64],
    s: NDArray[np.float64],
) -> None:
    """Points lo..hi of a dipping fault: field without its log terms, and the log arguments.

    Vectorisable: no calls, only selects. ``buf`` rows: ue, un, uz, then the corner ratios of
    R+η and of R+d̃ (one array, so that LLVM's aliasing checks stay few enough to vectorise).
    """
    hx, hy, half_l, cw, d, length, width, k = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
    g = (s[8], s[9], s[10], s[11], s[12], s[13], s[14])
    cd, sd, cs, ss = g[0], g[1], g[5], g[6]
    k2cd = k * 2 / cd
    kcd = k / cd
    sdcd = sd / cd
    for j in range(lo, hi):
        x, p, q = _point_setup(e[j], n[j], hx, hy, half_l, cw, d, cs, ss, cd, sd)
        q2 = q * q
        qok = abs(q) > _EPS
        a = _dip_corner(x, p, q, q2, qok, cd, sd)
        b = _dip_corner(x, p - width, q, q2, qok, cd, sd)
        c = _dip_corner(x - length, p, q, q2, qok, cd, sd)
        f = _dip_corner(x - length, p - width, q, q2, qok, cd, sd)
        s_at = a[9] - b[9] - c[9] + f[9]
        s_ybr = a[10] - b[10] - c[10] + f[10]
        s_xir = a[11] - b[11] - c[11] + f[11]
        i5 = k2cd * s_at
        i3 = kcd * s_ybr  # log terms (ln(R+η), ln(R+d̃)) are added in the second pass
        i1 = -kcd * s_xir - sdcd * i5
        ue, un, uz = _fields(
            q,
            a[0] - b[0] - c[0] + f[0],
            a[1] - b[1] - c[1] + f[1],
            a[2] - b[2] - c[2] + f[2],
            a[3] - b[3] - c[3] + f[3],
            a[4] - b[4] - c[4] + f[4],
            a[5] - b[5] - c[5] + f[5],
            a[6] - b[6] - c[6] + f[6],
            a[7] - b[7] - c[7] + f[7],
            a[8] - b[8] - c[8] + f[8],
            i1,
            -i3,
            i3,
            0.0,
            i5,
            g,
        )
        i = j - lo
        buf[0, i] = ue
        buf[1, i] = un
        buf[2, i] = uz
        buf[3, i] = (a[12] * f[12] * b[13] * c[13]) / (b[12] * c[12] * a[13] * f[13])
        buf[4, i] = (a[14] * f[14]) / (b[14] * c[14])


@numba.njit(error_model="numpy")
def _vert_block(
    e: NDArray[np.float64],
    n: NDArray[np.float64],
    lo: int,
    hi: int,
    buf: NDArray[np.float64],
    s: NDArray[np.float64],
) -> None:
    """As ``_dip_block`` for a vertical fault (no ln(R+d̃) term: its ratios are set to 1)."""
    hx, hy, half_l, cw, d, length, width, k = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
    g = (s[8], s[9], s[10], s[11], s[12], s[13], s[14])
    cd, sd, cs, ss = g[0], g[1], g[5], g[6]
    for j in range(lo, hi):
        x, p, q = _point_setup(e[j], n[j], hx, hy, half_l, cw, d, cs, ss, cd, sd)
        q2 = q * q
        qok = abs(q) > _EPS
        a = _vert_corner(x, p, q, q2, qok, cd, sd)
        b = _vert_corner(x, p - width, q, q2, qok, cd, sd)
        c = _vert_corner(x - length, p, q, q2, qok, cd, sd)
        f = _vert_corner(x - length, p - width, q, q2, qok, cd, sd)
        i5 = -k * sd * (a[9] - b[9] - c[9] + f[9])
        i4 = -k * q * (a[10] - b[10] - c[10] + f[10])
        i3 = k / 2 * ((a[11] - b[11] - c[11] + f[11]) + q * (a[12] - b[12] - c[12] + f[12]))
        i1 = -k / 2 * q * (a[13] - b[13] - c[13] + f[13])
        ue, un, uz = _fields(
            q,
            a[0] - b[0] - c[0] + f[0],
            a[1] - b[1] - c[1] + f[1],
            a[2] - b[2] - c[2] + f[2],
            a[3] - b[3] - c[3] + f[3],
            a[4] - b[4] - c[4] + f[4],
            a[5] - b[5] - c[5] + f[5],
            a[6] - b[6] - c[6] + f[6],
            a[7] - b[7] - c[7] + f[7],
            a[8] - b[8] - c[8] + f[8],
            i1,
            -i3,
            i3,
            i4,
            i5,
            g,
        )
        i = j - lo
        buf[0, i] = ue
        buf[1, i] = un
        buf[2, i] = uz
        buf[3, i] = (a[14] * f[14] * b[15] * c[15]) / (b[14] * c[14] * a[15] * f[15])
        buf[4, i] = 1.0


@numba.njit(error_model="numpy")
def _block(
    e: NDArray[np.float64],
    n: NDArray[np.float64],
    ue: NDArray[np.float64],
    un: NDArray[np.float64],
    uz: NDArray[np.float64],
    s: NDArray[np.float64],
    vertical: bool,
    blk: int,
    l1: tuple[float, float, float],
    l2: tuple[float, float, float],
) -> None:
    """Block ``blk`` of points: the vectorised pass, the logs, then their terms (see below)."""
    lo = blk * _BLOCK
    hi = min(lo + _BLOCK, e.size)
    m = hi - lo
    work = np.empty(5 * m)
    buf = work.reshape((5, m))
    if vertical:
        _vert_block(e, n, lo, hi, buf, s)
    else:
        _dip_block(e, n, lo, hi, buf, s)
    _log_inplace(work[3 * m :], np.empty(2 * m))  # rows 3 and 4, in place
    for i in range(m):
        la = buf[3, i]
        ld = buf[4, i]
        ue[lo + i] = buf[0, i] + (l1[0] * la + l2[0] * ld)
        un[lo + i] = buf[1, i] + (l1[1] * la + l2[1] * ld)
        uz[lo + i] = buf[2, i] + (l1[2] * la + l2[2] * ld)


@numba.njit(parallel=True, cache=True, error_model="numpy")
def okada_points(
    e: NDArray[np.float64],
    n: NDArray[np.float64],
    ue: NDArray[np.float64],
    un: NDArray[np.float64],
    uz: NDArray[np.float64],
    s: NDArray[np.float64],
    vertical: bool,
) -> None:
    """Fill ``ue, un, uz`` for the 1-D contiguous points ``e, n``; ``s``: the source, packed by
    ``okada.okada85`` (offsets to Okada's origin, L/2, W cos δ, d, L, W, 1-2ν, then ``g``).

    The field is linear in L1 = ln(R+η) and L2 = ln(R+d̃) summed over corners, with
    coefficients that depend on the source only: they are read off ``_fields`` at unit logs.
    """
    k = s[7]
    g = (s[8], s[9], s[10], s[11], s[12], s[13], s[14])
    cd, sd = g[0], g[1]
    if vertical:
        # I3 = k/2 (… - L1), I2 = -k L1 - I3; no L2
        l1 = _fields(
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -k + k / 2, -k / 2, 0.0, 0.0, g
        )
        l2 = (0.0, 0.0, 0.0)
    else:
        # I4 = k/cd (L2 - sd L1), I3 = k (… - L1) + sd/cd I4, I2 = -k L1 - I3
        i4 = -k / cd * sd
        i3 = -k + sd / cd * i4
        l1 = _fields(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -k - i3, i3, i4, 0.0, g)
        i4 = k / cd
        i3 = sd / cd * i4
        l2 = _fields(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -i3, i3, i4, 0.0, g)
    nblocks = (e.size + _BLOCK - 1) // _BLOCK
    if e.size <= _SERIAL_MAX:
        for blk in range(nblocks):
            _block(e, n, ue, un, uz, s, vertical, blk, l1, l2)
    else:
        for blk in numba.prange(nblocks):
            _block(e, n, ue, un, uz, s, vertical, blk, l1, l2)
