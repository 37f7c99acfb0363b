"""Phase unwrapping against simulated truth, and the simulation it is measured on.

Scenes: Mogi + Okada deformation in a Sentinel-1 line of sight (φ = -4π·d/λ), a power-law
troposphere, a 0.3–0.95 coherence field and 5-look interferometric noise drawn from correlated
SLC pairs. The wrong-pixel share is counted over every pixel against the true phase, after
removing the single constant that aligns them (``unwrap_error_share``).

Bounds (measured in brackets): GEP ≤ 0.5 % on 512² (0.26 %), whirlwind ≤ 1 % on 512² (0.43 %),
SNAPHU ≤ 1 % on 256² (0.42 %; GEP 0.36 % there). They are not zero because the noise puts
~0.1–0.2 % of the pixels so near ±π from the truth that no unwrapper can tell their cycle from
the neighbours; the atmosphere here is a single 8/3 power law down to the pixel, rougher than a
real one, which makes that floor higher than in the benchmark's default scene.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import special

from gep.algorithms.models import mogi, okada85, project_los
from gep.algorithms.sar.unwrap import UnwrapInputError, default_reference, unwrap
from gep.algorithms.simulate import (
    coherence_map,
    power_law_screen,
    unwrap_error_share,
    wrapped_noisy_phase,
)
from gep.core.errors import InvalidInput

WAVELENGTH = 0.055465763
LOOKS = 5


def _scene(n: int, seed: int) -> dict[str, Any]:
    """30 m pixels; a Mogi source and a buried thrust, ~1 cm of atmosphere."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    east, north = (x - n / 2) * 30.0, (n / 2 - y) * 30.0
    me, mn, mu = mogi(east + 0.2 * n * 30, north - 0.15 * n * 30, 2500.0, 6e6)
    oe, on, ou = okada85(east - 0.2 * n * 30, north + 0.2 * n * 30, 3000.0, 20.0, 30.0,
                         3000.0, 2000.0, 90.0, 0.5)  # fmt: skip
    d = project_los(me + oe, mn + on, mu + ou, 39.0, -12.0)
    d = d + power_law_screen((n, n), rms=0.01, pixel_spacing=30.0, seed=seed)
    true = -4 * np.pi * d / WAVELENGTH
    coh = coherence_map((n, n), low=0.3, high=0.95, correlation_px=15.0, seed=seed + 1)
    ifg = wrapped_noisy_phase(true, coh, LOOKS, seed=seed + 2)
    return {"true": true, "ifg": ifg, "coh": coh}


@pytest.fixture(scope="module")
def scene512() -> dict[str, Any]:
    s = _scene(512, seed=11)
    assert np.ptp(s["true"]) / (2 * np.pi) > 5  # several fringes to unwrap
    return s


@pytest.fixture(scope="module")
def scene256() -> dict[str, Any]:
    return _scene(256, seed=21)


# -- the simulation ------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [8.0 / 3.0, 11.0 / 3.0])
def test_power_law_screen_spectrum_and_rms(beta: float) -> None:
    n = 512
    screen = power_law_screen((n, n), beta=beta, rms=0.02, pixel_spacing=30.0, seed=3)
    assert screen.shape == (n, n) and screen.dtype == np.float64
    assert np.sqrt(np.mean(screen**2)) == pytest.approx(0.02, rel=1e-9)
    assert abs(screen.mean()) < 1e-12
    power = np.abs(np.fft.fft2(screen)) ** 2
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))
    bins = np.logspace(np.log10(2.0 / n), np.log10(0.45), 25)
    idx = np.digitize(k.ravel(), bins)
    centres, means = [], []
    for i in range(1, len(bins)):
        sel = idx == i
        if sel.sum() > 8:
            centres.append(k.ravel()[sel].mean())
            means.append(power.ravel()[sel].mean())
    slope = np.polyfit(np.log(centres), np.log(means), 1)[0]
    assert slope == pytest.approx(-beta, abs=0.3)


def test_power_law_screen_break_scale_steepens_small_scales() -> None:
    """Below ``break_scale`` (here 16 px) the spectrum falls as k^-(beta+1), above as k^-beta."""
    n = 512
    screen = power_law_screen((n, n), rms=1.0, pixel_spacing=30.0, seed=4, break_scale=480.0)
    power = np.abs(np.fft.fft2(screen)) ** 2
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(n, 30.0), np.fft.fftfreq(n, 30.0), indexing="ij"))
    kb = 1.0 / 480.0
    for lo, hi, slope in [(2.0 / (n * 30.0), kb / 1.5, -8 / 3), (kb * 1.5, 0.45 / 30.0, -11 / 3)]:
        bins = np.logspace(np.log10(lo), np.log10(hi), 12)
        idx = np.digitize(k.ravel(), bins)
        sel = [(idx == i) for i in range(1, len(bins))]
        x = [k.ravel()[m].mean() for m in sel if m.sum() > 8]
        y = [power.ravel()[m].mean() for m in sel if m.sum() > 8]
        assert np.polyfit(np.log(x), np.log(y), 1)[0] == pytest.approx(slope, abs=0.3)


def test_power_law_screen_is_deterministic() -> None:
    a = power_law_screen((64, 80), rms=1.0, seed=5)
    assert np.array_equal(a, power_law_screen((64, 80), rms=1.0, seed=5))
    assert not np.array_equal(a, power_law_screen((64, 80), rms=1.0, seed=6))


def _lee_pdf(phi: np.ndarray, gamma: float, looks: int) -> np.ndarray:
    """Multilook interferometric phase pdf (Lee et al. 1994, eq. 12)."""
    b = gamma * np.cos(phi)
    first = (
        special.gamma(looks + 0.5)
        * (1 - gamma**2) ** looks
        * b
        / (2 * np.sqrt(np.pi) * special.gamma(looks) * (1 - b**2) ** (looks + 0.5))
    )
    return first + (1 - gamma**2) ** looks / (2 * np.pi) * special.hyp2f1(looks, 1, 0.5, b**2)


@pytest.mark.parametrize(("gamma", "looks"), [(0.3, 5), (0.6, 1), (0.8, 4)])
def test_noise_follows_the_multilook_phase_pdf(gamma: float, looks: int) -> None:
    true = np.full((400, 500), 1.0)
    ifg = wrapped_noisy_phase(true, gamma, looks, seed=1)
    assert ifg.dtype == np.complex64
    # E[z1·conj(z2)] = γ, rotated by the true phase
    assert np.mean(ifg * np.exp(-1j * true)) == pytest.approx(gamma, abs=0.01)
    noise = np.angle(ifg * np.exp(-1j * true))
    phi = np.linspace(-np.pi, np.pi, 20001)
    pdf = _lee_pdf(phi, gamma, looks)
    assert np.trapezoid(pdf, phi) == pytest.approx(1.0, abs=1e-3)
    std = np.sqrt(np.trapezoid(phi**2 * pdf, phi))
    assert noise.std() == pytest.approx(std, rel=0.02)
    # tails too: the share beyond 2.5 rad
    tail = float(np.trapezoid(np.where(np.abs(phi) > 2.5, pdf, 0), phi))
    assert np.mean(np.abs(noise) > 2.5) == pytest.approx(tail, abs=max(0.1 * tail, 2e-4))


def test_noise_unit_magnitude_and_bad_input() -> None:
    ifg = wrapped_noisy_phase(np.zeros((8, 8)), 0.5, 2, seed=0, unit_magnitude=True)
    assert np.allclose(np.abs(ifg), 1.0)
    with pytest.raises(ValueError, match="coherence"):
        wrapped_noisy_phase(np.zeros((8, 8)), 1.5, 2)
    with pytest.raises(ValueError, match="looks"):
        wrapped_noisy_phase(np.zeros((8, 8)), 0.5, 0)


def test_error_share_ignores_constant_offsets() -> None:
    true = np.linspace(0, 40, 100 * 100).reshape(100, 100)
    assert unwrap_error_share(true + 1.234 - 6 * np.pi, true) == 0.0
    off = true.copy()
    off[:10, :10] += 2 * np.pi
    assert unwrap_error_share(off - off[50, 50], true) == pytest.approx(0.01)
    nan = true.copy()
    nan[0, :50] = np.nan
    assert unwrap_error_share(nan, true) == pytest.approx(0.005)


# -- unwrapping ----------------------------------------------------------------------------


def test_gep_unwrap_512(scene512: dict[str, Any]) -> None:
    unw = unwrap(scene512["ifg"], scene512["coh"], nlooks=LOOKS)
    assert unw.dtype == np.float32 and unw.shape == (512, 512)
    assert np.isfinite(unw).all()
    share = unwrap_error_share(unw, scene512["true"])
    assert share <= 0.005, f"{100 * share:.3f} % wrong"
    # the default reference is the best smoothed-coherence pixel, and it reads 0
    ref = default_reference(scene512["coh"], np.ones((512, 512), bool))
    assert unw[ref] == 0.0
    assert scene512["coh"][ref] > 0.8


def test_reference_pixel_is_zero(scene512: dict[str, Any]) -> None:
    unw = unwrap(scene512["ifg"], scene512["coh"], nlooks=LOOKS, reference=(100, 400))
    assert unw[100, 400] == 0.0
    # same solution, another gauge: differs by a constant only
    other = unwrap(scene512["ifg"], scene512["coh"], nlooks=LOOKS, reference=(300, 20))
    assert other[300, 20] == 0.0
    assert np.allclose(unw - other, (unw - other)[0, 0], atol=1e-3)


def test_gep_wrapped_phase_input_without_coherence(scene256: dict[str, Any]) -> None:
    """A bare wrapped phase and no coherence map still unwraps (estimated coherence)."""
    unw = unwrap(np.angle(scene256["ifg"]), nlooks=LOOKS)
    assert unwrap_error_share(unw, scene256["true"]) <= 0.005


def test_gep_mask_and_nan(scene512: dict[str, Any]) -> None:
    ifg = scene512["ifg"].copy()
    mask = np.ones(ifg.shape, bool)
    mask[200:260, 50:450] = False  # a river across most of the frame
    ifg[5, 5] = np.nan + 0j
    unw = unwrap(ifg, scene512["coh"], nlooks=LOOKS, mask=mask)
    assert np.isnan(unw[~mask]).all() and np.isnan(unw[5, 5])
    valid = mask.copy()
    valid[5, 5] = False
    assert np.isfinite(unw[valid]).all()
    assert unwrap_error_share(unw, scene512["true"], mask=valid) <= 0.005


@pytest.mark.parametrize(("method", "scene", "bound"), [("whirlwind", 512, 0.01),
                                                        ("snaphu", 256, 0.01)])  # fmt: skip
def test_reference_methods(method: str, scene: int, bound: float, request: Any) -> None:
    s = request.getfixturevalue(f"scene{scene}")
    unw = unwrap(s["ifg"], s["coh"], nlooks=LOOKS, method=method, reference=(10, 10))  # type: ignore[arg-type]
    assert unw[10, 10] == 0.0
    assert unwrap_error_share(unw, s["true"]) <= bound


def test_gep_not_worse_than_whirlwind(scene512: dict[str, Any]) -> None:
    gep = unwrap_error_share(unwrap(scene512["ifg"], scene512["coh"], nlooks=LOOKS),
                             scene512["true"])  # fmt: skip
    ww = unwrap_error_share(
        unwrap(scene512["ifg"], scene512["coh"], nlooks=LOOKS, method="whirlwind"),
        scene512["true"],
    )
    assert gep <= ww


def test_small_frames_unwrap_at_full_resolution() -> None:
    """Below the coarse-grid size GEP unwraps at full resolution (no multilook)."""
    s = _scene(96, seed=4)
    unw = unwrap(s["ifg"], s["coh"], nlooks=LOOKS)
    assert unwrap_error_share(unw, s["true"]) <= 0.01


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ifg": np.ones((32, 32), np.complex64), "coherence": np.ones((32, 31))}, "shape"),
        ({"ifg": np.ones((32, 32), np.complex64), "mask": np.ones((31, 32), bool)}, "shape"),
        ({"ifg": np.ones(64, np.complex64)}, "2-D"),
        ({"ifg": np.ones((4, 64), np.complex64)}, "at least"),
        ({"ifg": np.ones((32, 32), np.complex64), "nlooks": 0.5}, "nlooks"),
        ({"ifg": np.ones((32, 32), np.complex64), "method": "magic"}, "method"),
        ({"ifg": np.ones((32, 32), np.complex64), "reference": (40, 3)}, "outside"),
        ({"ifg": np.ones((32, 32), np.complex64), "coherence": np.full((32, 32), 2.0)}, "[0, 1]"),
        ({"ifg": np.full((32, 32), np.nan, np.complex64)}, "no valid pixel"),
        ({"ifg": np.array([["a"] * 32] * 32)}, "complex or a real phase"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match.replace("[", r"\[").replace("]", r"\]")):
        unwrap(**kwargs)


def test_bad_input_is_a_gep_error_too() -> None:
    mask = np.ones((32, 32), bool)
    mask[3, 3] = False
    with pytest.raises(InvalidInput, match="masked") as err:
        unwrap(np.ones((32, 32), np.complex64), mask=mask, reference=(3, 3))
    assert isinstance(err.value, UnwrapInputError) and err.value.field == "reference"
