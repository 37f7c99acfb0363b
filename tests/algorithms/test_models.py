"""Deformation models against independent truth.

Okada (1985) against cutde (Nikkhoo & Walter's triangular dislocations in a half-space, two
triangles per rectangle; PyPI, test-only), which reproduces Okada's published checklist; Mogi
against its closed form in spherical coordinates; LOS against the geometry of a right-looking
radar. Tolerance: 1e-6 relative, as the issue asks (observed ~1e-13).
"""

from __future__ import annotations

import cutde.halfspace as cutde_hs  # test-only dependency (the `dev` extra)
import numpy as np
import pytest

from gep.algorithms.models import los_unit_vector, mogi, okada85, project_los


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
    depth: float, strike: float, dip: float, length: float, width: float, nu: float
) -> None:
    rng = np.random.default_rng(int(depth + strike))
    e = rng.uniform(-30_000, 30_000, 500)
    n = rng.uniform(-30_000, 30_000, 500)
    obs = np.stack([e, n, np.zeros_like(e)], axis=1)
    green = cutde_hs.disp_matrix(obs, _rectangle(depth, strike, dip, length, width), nu)
    for comp, (rake, slip, opening) in enumerate(
        [(0.0, 1.0, 0.0), (90.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    ):
        ours = np.array(okada85(e, n, depth, strike, dip, length, width, rake, slip, opening, nu))
        theirs = green[:, :, :, comp].sum(axis=2).T
        scale = np.abs(theirs).max()
        assert scale > 1e-4
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * scale)


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
