"""Deformation models against independent truth.

Okada (1985) against cutde (Nikkhoo & Walter's triangular dislocations in a half-space, two
triangles per rectangle; PyPI, test-only), which reproduces Okada's published checklist; Mogi
against its closed form in spherical coordinates; LOS against the geometry of a right-looking
radar. Tolerance: 1e-6 relative, as the issue asks (observed ~1e-13). ``okada85`` (numba kernel)
and ``_okada85_numpy`` (the readable reference) both meet cutde; the kernel, which reorders the
arithmetic (corner sums first, one log per product), also meets the reference to 1e-10 of the
field's peak on large random grids and on Okada's singular points, where both take the same
branches.
"""

from __future__ import annotations

from collections.abc import Callable

import cutde.halfspace as cutde_hs  # test-only dependency (the `dev` extra)
import numpy as np
import pytest
from numpy.typing import ArrayLike

from gep.algorithms.models import los_unit_vector, mogi, okada, okada85, project_los
from gep.algorithms.models.okada import _okada85_numpy

needs_kernel = pytest.mark.skipif(okada._kernel is None, reason="numba not importable")


def _rectangle(depth: float, strike: float, dip: float, length: float, width: float) -> np.ndarray:
    st, di = np.radians(strike), np.radians(dip)
    along = np.array([np.sin(st), np.cos(st), 0.0])
    down = np.cos(di) * np.array([np.cos(st), -np.sin(st), 0.0]) + np.array([0.0, 0.0, -np.sin(di)])
    c = np.array([0.0, 0.0, -depth])
    a = c - length / 2 * along - width / 2 * down
    b = c + length / 2 * along - width / 2 * down
    cc = c + length / 2 * along + width / 2 * down
    d = c - length / 2 * along + width / 2 * down
    tris = []
    for tri in ([a, b, cc], [a, cc, d]):
        if np.cross(tri[1] - tri[0], tri[2] - tri[0])[2] < 0:  # normal up: hanging wall
            tri = [tri[0], tri[2], tri[1]]
        tris.append(tri)
    return np.array(tris)


@pytest.mark.parametrize("impl", [okada85, _okada85_numpy], ids=["kernel", "numpy"])
@pytest.mark.parametrize(
    ("depth", "strike", "dip", "length", "width", "nu"),
    [
        (4000.0, 30.0, 70.0, 3000.0, 2000.0, 0.25),
        (6000.0, 120.0, 35.0, 8000.0, 5000.0, 0.25),
        (3000.0, 200.0, 90.0, 5000.0, 3000.0, 0.25),  # vertical
        (5000.0, 10.0, 10.0, 4000.0, 4000.0, 0.3),  # shallow dip, other Poisson ratio
        (9000.0, 275.0, 45.0, 20000.0, 12000.0, 0.25),  # an Mw 6-7 thrust size
    ],
)
def test_okada_matches_cutde(
    depth: float,
    strike: float,
    dip: float,
    length: float,
    width: float,
    nu: float,
    impl: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    rng = np.random.default_rng(int(depth + strike))
    e = rng.uniform(-30_000, 30_000, 500)
    n = rng.uniform(-30_000, 30_000, 500)
    obs = np.stack([e, n, np.zeros_like(e)], axis=1)
    green = cutde_hs.disp_matrix(obs, _rectangle(depth, strike, dip, length, width), nu)
    for comp, (rake, slip, opening) in enumerate(
        [(0.0, 1.0, 0.0), (90.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    ):
        ours = np.array(impl(e, n, depth, strike, dip, length, width, rake, slip, opening, nu))
        theirs = green[:, :, :, comp].sum(axis=2).T
        scale = np.abs(theirs).max()
        assert scale > 1e-4
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * scale)


def _to_en(
    x: np.ndarray, y: np.ndarray, strike: float, dip: float, length: float, width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Okada's frame (x along strike from the bottom edge's end, y across) -> east, north."""
    st, di = np.radians(strike), np.radians(dip)
    cs, ss, cd = np.cos(st), np.sin(st), np.cos(di)
    big_x, big_y = x - length / 2, y - cd * width
    ec, nc = ss * big_x - cs * big_y, cs * big_x + ss * big_y
    return ec - cs * cd * width / 2, nc + ss * cd * width / 2


def _exact_trace_e(depth: float, dip: float, width: float) -> np.ndarray:
    """East coordinates where q == 0 exactly (strike 0): floats scanned one by one.

    Mirrors the model's arithmetic for strike 0 (cos = 1, sin = 0 exactly), so these points take
    the q = 0 branch (θ = 0) in both implementations.
    """
    cd, sd = np.cos(np.radians(dip)), np.sin(np.radians(dip))
    d = depth + sd * width / 2
    e0 = cd * width / 2 - d * cd / sd
    es = e0 + np.arange(-3000, 3001) * np.spacing(e0)
    q = (-(es + 1.0 * cd * width / 2) + cd * width) * sd - d * cd
    assert (q == 0).any()
    return es[q == 0]


def _grid_with_singular_points(
    depth: float, strike: float, dip: float, length: float, width: float
) -> tuple[np.ndarray, np.ndarray]:
    """A large random grid plus the points where Okada's formulas are singular or nearly so."""
    rng = np.random.default_rng(int(depth + 10 * strike + dip))
    e = [rng.uniform(-40_000, 40_000, 60_000)]
    n = [rng.uniform(-40_000, 40_000, 60_000)]
    cd, sd = np.cos(np.radians(dip)), np.sin(np.radians(dip))
    d = depth + sd * width / 2
    # the trace of the fault plane (q ~ 0 after rounding) and just off it, at the corners' x
    # (ξ = 0), between and beyond them
    x = np.concatenate([[0.0, length], rng.uniform(-length, 2 * length, 500)])
    y_trace = d * cd / sd if sd != 0 else 0.0
    for off in (0.0, 1e-9, -1e-9, 1e-3, -1e-3):
        ee, nn = _to_en(x, np.full_like(x, y_trace + off), strike, dip, length, width)
        e.append(ee)
        n.append(nn)
    # the lines ξ = 0 across the whole grid, and the corners' surface projections
    y = np.concatenate([rng.uniform(-40_000, 40_000, 500), [0.0, cd * width]])
    for xc in (0.0, length):
        ee, nn = _to_en(np.full_like(y, xc), y, strike, dip, length, width)
        e.append(ee)
        n.append(nn)
    if strike == 0.0:  # exact zeros: q = 0 (θ = 0) and ξ = 0 (I5 = 0) exactly
        et = _exact_trace_e(depth, dip, width) if cd > 1e-14 else np.array([0.0])  # vertical: e=0
        for n_at in (-length / 2, length / 2, 0.0, 123.0, 5 * length):
            e.append(et)
            n.append(np.full_like(et, n_at))
        yy = rng.uniform(-20_000, 20_000, 200)
        e.extend([yy, yy])
        n.extend([np.full_like(yy, -length / 2), np.full_like(yy, length / 2)])
    return np.concatenate(e), np.concatenate(n)


@needs_kernel
@pytest.mark.parametrize(
    ("depth", "strike", "dip", "length", "width", "nu"),
    [
        (4000.0, 30.0, 70.0, 3000.0, 2000.0, 0.25),
        (6000.0, 120.0, 35.0, 8000.0, 5000.0, 0.25),
        (3000.0, 200.0, 90.0, 5000.0, 3000.0, 0.25),  # vertical
        (3000.0, 0.0, 90.0, 4000.0, 3000.0, 0.25),  # vertical, exact singular points
        (1500.0, 0.0, 90.0, 4000.0, 3000.0, 0.3),  # vertical, breaks the surface: R = 0
        (1000.0, 0.0, 90.0, 4000.0, 3000.0, 0.25),  # sticks out of the ground: R + η = 0
        (3000.0, 0.0, 40.0, 4000.0, 3000.0, 0.25),  # dipping, exact q = 0 and ξ = 0
        (964.1814145298089, 0.0, 40.0, 4000.0, 3000.0, 0.25),  # dipping, breaks the surface
        (5000.0, 10.0, 10.0, 4000.0, 4000.0, 0.3),  # shallow dip
        (8000.0, 300.0, 87.0, 6000.0, 4000.0, 0.25),  # near vertical: 1/cos²δ amplifies rounding
        (9000.0, 275.0, 45.0, 20000.0, 12000.0, 0.25),
    ],
)
def test_okada_kernel_matches_numpy_reference(
    depth: float, strike: float, dip: float, length: float, width: float, nu: float
) -> None:
    e, n = _grid_with_singular_points(depth, strike, dip, length, width)
    # all three parts at once: rake mixes strike- and dip-slip, plus an opening
    args = (depth, strike, dip, length, width, 37.0, 1.3, 0.4, nu)
    with np.errstate(all="ignore"):  # the reference warns where it divides by zero
        ref = np.array(_okada85_numpy(e, n, *args))
    ours = np.array(okada85(e, n, *args))
    finite = np.isfinite(ref)
    scale = np.abs(ref[finite]).max()
    assert scale > 1e-3 and finite.mean() > 0.999
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10 * scale)  # nan where ref's


@needs_kernel
def test_okada_kernel_shapes_scalars_and_blocks() -> None:
    src = (5000.0, 20.0, 60.0, 6000.0, 3000.0, 45.0, 1.0, 0.1)
    # scalars in, numpy scalars out, as the reference
    for ours, ref in zip(
        okada85(1200.0, -800.0, *src), _okada85_numpy(1200.0, -800.0, *src), strict=True
    ):
        assert isinstance(ours, np.float64) and isinstance(ref, np.float64)
        assert ours == pytest.approx(ref, rel=1e-12)
    # broadcasting, lists, integers, non-contiguous views, empty
    e = np.arange(-20_000, 20_001, 4000)[:, None]
    n = np.linspace(-20_000, 20_000, 7)[None, ::-1]
    cases: list[tuple[ArrayLike, ArrayLike]] = [
        (e, n),
        ([1000, 2000], 500),
        (np.arange(42.0)[::3], np.arange(42.0)[1::3] * 300),
    ]
    for args in cases:
        ours_t, ref_t = okada85(*args, *src), _okada85_numpy(*args, *src)
        for ours, ref in zip(ours_t, ref_t, strict=True):
            assert ours.shape == np.shape(ref)
            np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-15)
    assert [u.shape for u in okada85(np.zeros(0), np.zeros(0), *src)] == [(0,)] * 3
    # a point's value does not depend on its block, nor on the serial / parallel path
    k = okada._kernel
    assert k is not None
    rng = np.random.default_rng(7)
    big = k._SERIAL_MAX + 3 * k._BLOCK + 17
    e, n = rng.uniform(-30_000, 30_000, (2, big))
    whole = np.array(okada85(e, n, *src))
    for lo, hi in [(0, 1), (5, k._BLOCK + 9), (big - k._SERIAL_MAX, big)]:
        np.testing.assert_array_equal(np.array(okada85(e[lo:hi], n[lo:hi], *src)), whole[:, lo:hi])


@needs_kernel
def test_kernel_log_matches_libm_incl_special_values() -> None:
    k = okada._kernel
    assert k is not None
    rng = np.random.default_rng(11)
    special = [0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, 1e-310, 2.2250738585072014e-308]
    x = np.concatenate([special, [1.0, 2.0, 0.5, np.sqrt(2.0), 1.7976931348623157e308]])
    x = np.concatenate([x, np.exp(rng.uniform(-700, 700, 5000)), rng.uniform(0.5, 2.0, 5000)])
    got = x.copy()
    k._log_inplace(got, np.empty_like(x))
    with np.errstate(all="ignore"):
        want = np.log(x)
    np.testing.assert_array_equal(got[: len(special)], want[: len(special)])
    np.testing.assert_allclose(got, want, rtol=4e-16, atol=4e-16)


def test_okada_falls_back_to_numpy_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(okada, "_kernel", None)
    e, n = np.array([2000.0, -3000.0]), np.array([100.0, 7000.0])
    src = (5000.0, 20.0, 60.0, 6000.0, 3000.0, 45.0, 1.0, 0.1)
    for ours, ref in zip(okada.okada85(e, n, *src), _okada85_numpy(e, n, *src), strict=True):
        np.testing.assert_array_equal(ours, ref)


def test_okada_rake_mixes_linearly_and_thrust_uplifts_the_hanging_wall() -> None:
    e, n = np.array([2000.0, -2000.0]), np.array([0.0, 0.0])
    ss = np.array(okada85(e, n, 5000, 0, 45, 10000, 6000, 0, 1.0))
    ds = np.array(okada85(e, n, 5000, 0, 45, 10000, 6000, 90, 1.0))
    mixed = np.array(okada85(e, n, 5000, 0, 45, 10000, 6000, 30, 2.0))
    np.testing.assert_allclose(
        mixed, 2 * (np.cos(np.radians(30)) * ss + np.sin(np.radians(30)) * ds), atol=1e-12
    )
    # strike north, dip east: east of the trace is the hanging wall, which rises in a thrust
    assert ds[2][0] > 0


def test_mogi_against_the_closed_form() -> None:
    # the field notes' figure: 1e7 m³ at 4 km, nu = 0.25 -> 14.92 cm at the centre
    assert mogi(0.0, 0.0, 4000.0, 1e7)[2] == pytest.approx(0.149208, rel=1e-5)
    rng = np.random.default_rng(3)
    e, n = rng.uniform(-20_000, 20_000, 200), rng.uniform(-20_000, 20_000, 200)
    ue, un, uz = mogi(e, n, 3000.0, -2e6, nu=0.3)
    r = np.hypot(e, n)
    big_r = np.sqrt(r**2 + 3000.0**2)
    radial = (1 - 0.3) * -2e6 / np.pi * r / big_r**3  # spherical form, written separately
    np.testing.assert_allclose(np.hypot(ue, un), np.abs(radial), rtol=1e-9)
    np.testing.assert_allclose(np.arctan2(un, ue), np.arctan2(-n, -e), atol=1e-9)  # deflation
    np.testing.assert_allclose(uz, (1 - 0.3) * -2e6 / np.pi * 3000.0 / big_r**3, rtol=1e-9)


def test_los_geometry() -> None:
    le, ln, lu = los_unit_vector(39.0, -12.0)  # ascending: looks east, satellite to the west
    assert le < 0 and lu > 0
    assert le**2 + ln**2 + lu**2 == pytest.approx(1.0, abs=1e-12)
    assert project_los(0, 0, 0.01, 39.0, -12.0) == pytest.approx(0.01 * np.cos(np.radians(39)))
    assert project_los(0.01, 0, 0, 39.0, 192.0) > 0  # descending: east is towards it
