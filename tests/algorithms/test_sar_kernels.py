"""The DInSAR array kernels against straightforward numpy and against analytical truth.

Each kernel is checked three ways: against the plain numpy/scipy expression of the same
definition written here (small arrays; float32 rounding tolerances stated per test), against
closed forms (coherence of identical images = 1; the sample-coherence bias of Touzi et al.
1999; Fourier-exact shifts of band-limited fields for the resampler), and the numpy fallback
of each kernel (used when numba is missing) against the compiled one.
"""

from __future__ import annotations

from math import exp, lgamma
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from gep.algorithms.sar import kernels as K

C64 = np.complex64


def _cn(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Circular complex Gaussian, unit power."""
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)).astype(C64)


def _band_limited(rng: np.random.Generator, shape: tuple[int, int], occupied: float = 0.85):
    """Periodic complex speckle whose spectrum is zero outside ``occupied`` of each axis.

    Like Sentinel-1 (oversampled by ~1.2): white noise with 15 % of the spectrum zeroed at the
    band edges, in both axes. Returns the field and its spectrum.
    """
    spec = np.fft.fft2(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    fa = np.fft.fftfreq(shape[0])[:, None]
    fr = np.fft.fftfreq(shape[1])[None, :]
    spec[(np.abs(fa) > occupied / 2) | (np.abs(fr) > occupied / 2)] = 0
    field = np.fft.ifft2(spec)
    scale = np.sqrt(np.mean(np.abs(field) ** 2))
    return (field / scale).astype(C64), spec / scale


def _coh_phase(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Coherence of a against b, and the RMS of their phase difference (amplitude weighted)."""
    a = a.astype(np.complex128).ravel()
    b = b.astype(np.complex128).ravel()
    coh = abs(np.vdot(b, a)) / np.sqrt(np.vdot(a, a).real * np.vdot(b, b).real)
    dphi = np.angle(a * np.conj(b))
    wts = np.abs(a) * np.abs(b)
    return float(coh), float(np.sqrt(np.sum(wts * dphi**2) / np.sum(wts)))


# ---------------------------------------------------------------------------------------------
# multilook / interferogram


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.float64, np.int16])
def test_multilook_is_block_mean(dtype: type) -> None:
    rng = np.random.default_rng(1)
    a: np.ndarray = (rng.standard_normal((23, 50)) * 100).astype(dtype)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * (rng.standard_normal(a.shape) * 100).astype(np.float32)
    got = K.multilook(a, (4, 7))
    ref = a[:20, :49].astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    ref = ref.reshape(5, 4, 7, 7).mean(axis=(1, 3))
    assert got.shape == (5, 7)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)  # float32 sums of 28 values


def _ifg_numpy(ref, sec, looks, phase):
    la, lr = looks
    h, w = ref.shape[0] // la * la, ref.shape[1] // lr * lr
    r = ref[:h, :w].astype(np.complex128)
    s = sec[:h, :w].astype(np.complex128)
    z = r * np.conj(s)
    if phase is not None:
        z = z * np.exp(-1j * phase[:h, :w].astype(np.float64))
    shp = (h // la, la, w // lr, lr)
    sz = z.reshape(shp).sum(axis=(1, 3))
    p1 = (np.abs(r) ** 2).reshape(shp).sum(axis=(1, 3))
    p2 = (np.abs(s) ** 2).reshape(shp).sum(axis=(1, 3))
    return sz / (la * lr), np.abs(sz) / np.sqrt(p1 * p2), np.sqrt(p1 / (la * lr))


@pytest.mark.parametrize("with_phase", [True, False])
def test_interferogram_multilook_matches_numpy(with_phase: bool) -> None:
    rng = np.random.default_rng(2)
    ref, sec = _cn(rng, (42, 130)), _cn(rng, (42, 130))
    # flat-earth phases reach thousands of radians: the polynomial sin/cos must hold there
    phase = rng.uniform(-3000, 3000, ref.shape).astype(np.float32) if with_phase else None
    ifg, coh, amp = K.interferogram_multilook(ref, sec, (4, 16), phase)
    e_ifg, e_coh, e_amp = _ifg_numpy(ref, sec, (4, 16), phase)
    assert ifg.dtype == np.complex64 and coh.dtype == amp.dtype == np.float32
    assert ifg.shape == (10, 8)
    np.testing.assert_allclose(ifg, e_ifg, rtol=0, atol=2e-6 * np.abs(e_ifg).max() + 1e-6)
    np.testing.assert_allclose(coh, e_coh, rtol=0, atol=2e-6)
    np.testing.assert_allclose(amp, e_amp, rtol=2e-6)


def test_polynomial_sincos_accuracy() -> None:
    rng = np.random.default_rng(3)
    ref = np.ones((1, 4096), C64)
    for scale in (np.pi, 100.0, 5000.0):
        phase = rng.uniform(-scale, scale, (1, 4096)).astype(np.float32)
        ifg, _, _ = K.interferogram_multilook(ref, ref, (1, 1), phase)
        exact = np.exp(-1j * phase.astype(np.float64))
        assert np.abs(ifg - exact).max() < 3e-7  # ~2 ulp of float32


def test_identical_images_give_coherence_one_and_minus_phase() -> None:
    rng = np.random.default_rng(4)
    ref = _cn(rng, (40, 96))
    block_phase = rng.uniform(-np.pi, np.pi, (10, 6)).astype(np.float32)
    phase = np.repeat(np.repeat(block_phase, 4, axis=0), 16, axis=1)
    ifg, coh, amp = K.interferogram_multilook(ref, ref, (4, 16), phase)
    np.testing.assert_allclose(coh, 1.0, atol=1e-5)
    np.testing.assert_allclose(np.angle(ifg * np.exp(1j * block_phase)), 0.0, atol=1e-5)
    expected_amp = np.sqrt((np.abs(ref) ** 2).reshape(10, 4, 6, 16).mean((1, 3)))
    np.testing.assert_allclose(amp, expected_amp, rtol=1e-6)
    full = K.coherence(ref, ref, (5, 5), np.full(ref.shape, 1.3, np.float32))
    np.testing.assert_allclose(full, 1.0, atol=1e-5)
    full = K.coherence(ref, ref, (5, 5), phase)  # windows straddling two phases: below 1
    assert (full <= 1.0 + 1e-6).all() and full.min() < 0.99


# ---------------------------------------------------------------------------------------------
# coherence


def _coh_numpy(ref, sec, window, phase):
    z = ref.astype(np.complex128) * np.conj(sec)
    if phase is not None:
        z = z * np.exp(-1j * phase.astype(np.float64))

    def box(x):
        return ndimage.uniform_filter(x, window, mode="constant")

    num = np.hypot(box(z.real), box(z.imag))
    return num / np.sqrt(box(np.abs(ref) ** 2.0) * box(np.abs(sec) ** 2.0))


@pytest.mark.parametrize("window", [(3, 3), (5, 5), (5, 9), (1, 7), (11, 3)])
@pytest.mark.parametrize("with_phase", [True, False])
def test_coherence_matches_uniform_filter(window: tuple[int, int], with_phase: bool) -> None:
    rng = np.random.default_rng(5)
    shape = (70, 2100)  # wider than one column tile of the kernel: tile seams are covered
    ref = _cn(rng, shape)
    sec = (0.7 * ref + 0.5 * _cn(rng, shape)).astype(C64)
    phase = rng.uniform(-50, 50, shape).astype(np.float32) if with_phase else None
    got = K.coherence(ref, sec, window, phase)
    assert got.dtype == np.float32 and got.shape == shape
    # the window shrinks at the edges, exactly what zero padding does to the four sums
    np.testing.assert_allclose(got, _coh_numpy(ref, sec, window, phase), rtol=0, atol=3e-6)
    if phase is not None:
        z = (ref * np.conj(sec) * np.exp(-1j * phase)).astype(C64)
        p1, p2 = np.abs(ref) ** 2, np.abs(sec) ** 2
        np.testing.assert_allclose(K.coherence_from_ifg(z, p1, p2, window), got, atol=3e-6)


def _touzi_mean(gamma: float, n: int) -> float:
    """E[|γ̂|] for n independent looks at true coherence γ (Touzi et al. 1999, eq. 16)."""
    a1, a2, a3, b1, b2, z = 1.5, n, n, n + 0.5, 1.0, gamma * gamma
    term = total = 1.0
    for k in range(10_000):
        term *= (a1 + k) * (a2 + k) * (a3 + k) / ((b1 + k) * (b2 + k) * (k + 1)) * z
        total += term
        if abs(term) < 1e-16 * total:
            break
    return exp(lgamma(n) + lgamma(1.5) - lgamma(n + 0.5)) * total * (1 - z) ** n


@pytest.mark.parametrize(
    ("window", "bias0"), [((3, 3), 0.30), ((5, 5), 0.18), ((7, 7), 0.13), ((11, 11), 0.08)]
)
def test_coherence_bias_of_independent_speckle(window: tuple[int, int], bias0: float) -> None:
    rng = np.random.default_rng(6)
    shape = (400, 400)
    ref, sec = _cn(rng, shape), _cn(rng, shape)
    n = window[0] * window[1]
    expected = _touzi_mean(0.0, n)  # Γ(N) Γ(3/2) / Γ(N + 1/2)
    assert expected == pytest.approx(bias0, abs=0.005)
    m = window[0]
    inner = K.coherence(ref, sec, window)[m:-m, m:-m]  # full windows only
    # sliding estimates are correlated: ~1.6e5 / n independent values, std ~0.5/sqrt of that
    assert inner.mean() == pytest.approx(expected, abs=0.006)
    _, coh, _ = K.interferogram_multilook(ref, sec, window)
    assert coh.mean() == pytest.approx(expected, abs=0.012)


@pytest.mark.parametrize("window", [(3, 3), (5, 5)])
def test_coherence_at_known_gamma_matches_touzi(window: tuple[int, int]) -> None:
    rng = np.random.default_rng(7)
    gamma, shape = 0.6, (500, 500)
    ref = _cn(rng, shape)
    sec = (gamma * ref + np.sqrt(1 - gamma**2) * _cn(rng, shape)).astype(C64)
    expected = _touzi_mean(gamma, window[0] * window[1])  # 0.623 (3x3), 0.607 (5x5)
    inner = K.coherence(ref, sec, window)[5:-5, 5:-5]
    assert inner.mean() == pytest.approx(expected, abs=0.005)  # MC std of the mean ~0.001
    _, coh, _ = K.interferogram_multilook(ref, sec, window)
    assert coh.mean() == pytest.approx(expected, abs=0.008)


# ---------------------------------------------------------------------------------------------
# Goldstein


def _goldstein_numpy(ifg, alpha, patch, step, smooth):
    """Patch-by-patch reference: the same definition, with numpy.fft and a Python loop."""
    h, w = ifg.shape
    starts_r = list(range(0, h - patch + 1, step))
    starts_c = list(range(0, w - patch + 1, step))
    if starts_r[-1] != h - patch:
        starts_r.append(h - patch)
    if starts_c[-1] != w - patch:
        starts_c.append(w - patch)
    n = np.arange(patch)
    tri = 1.0 - np.abs(2.0 * n + 1.0 - patch) / patch
    wts = np.outer(tri, tri)
    out = np.zeros((h, w), np.complex128)
    norm = np.zeros((h, w))
    for r in starts_r:
        for c in starts_c:
            spec = np.fft.fft2(ifg[r : r + patch, c : c + patch].astype(np.complex128))
            mag = ndimage.uniform_filter(np.abs(spec), smooth, mode="wrap")
            if alpha != 0 and mag.max() > 0:
                spec = spec * (mag / mag.max()) ** alpha
            out[r : r + patch, c : c + patch] += wts * np.fft.ifft2(spec)
            norm[r : r + patch, c : c + patch] += wts
    return out / norm


def _fringes(rng, shape, fa, fr, noise):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    truth = 2 * np.pi * (fa * yy + fr * xx)
    z = np.exp(1j * truth) + noise * _cn(rng, shape)
    return z.astype(C64), truth


@pytest.mark.parametrize(("alpha", "patch", "step", "smooth"), [(0.5, 32, 8, 3), (0.8, 16, 8, 5)])
def test_goldstein_matches_patch_loop(alpha: float, patch: int, step: int, smooth: int) -> None:
    rng = np.random.default_rng(8)
    z, _ = _fringes(rng, (75, 93), 0.04, -0.07, 0.8)
    got = K.goldstein(z, alpha, patch, step, smooth)
    ref = _goldstein_numpy(z, alpha, patch, step, smooth)
    assert got.dtype == np.complex64 and got.shape == z.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_goldstein_constant_phase_unchanged_and_alpha0_identity() -> None:
    rng = np.random.default_rng(9)
    const = np.full((70, 90), 2.0 * np.exp(0.7j), C64)
    np.testing.assert_allclose(K.goldstein(const, alpha=0.9), const, rtol=2e-6)
    noise = _cn(rng, (70, 90))
    np.testing.assert_allclose(K.goldstein(noise, alpha=0.0), noise, rtol=0, atol=2e-6)
    # Baran et al. (2003): alpha = 1 - coherence; coherence 1 everywhere filters nothing
    ones = np.ones(noise.shape, np.float32)
    np.testing.assert_allclose(K.goldstein(noise, coherence=ones), noise, rtol=0, atol=2e-6)
    small = _cn(rng, (10, 20))  # smaller than one patch
    np.testing.assert_allclose(K.goldstein(small, alpha=0.0), small, rtol=0, atol=2e-6)


def test_goldstein_reduces_noise_and_keeps_fringe_rate() -> None:
    rng = np.random.default_rng(10)
    fa, fr = 0.03, 0.05
    z, truth = _fringes(rng, (160, 200), fa, fr, 0.9)
    inner = np.s_[16:-16, 16:-16]

    def rms(x):
        return float(np.sqrt(np.mean(np.angle(x[inner] * np.exp(-1j * truth[inner])) ** 2)))

    before = rms(z)
    for alpha in (0.5, 0.9):
        out = K.goldstein(z, alpha=alpha)
        assert rms(out) < 0.6 * before  # observed: 0.80 rad -> 0.26 (0.5), 0.13 (0.9)
        rate_r = np.angle(np.vdot(out[:, :-1], out[:, 1:])) / (2 * np.pi)
        rate_a = np.angle(np.vdot(out[:-1], out[1:])) / (2 * np.pi)
        assert rate_r == pytest.approx(fr, rel=0.01)
        assert rate_a == pytest.approx(fa, rel=0.01)
    adaptive = K.goldstein(z, coherence=np.full(z.shape, 0.2, np.float32))  # alpha = 0.8
    assert rms(adaptive) < 0.6 * before


# ---------------------------------------------------------------------------------------------
# resampling

MARGIN = 8


def _shift_truth(spec: np.ndarray, da: float, dr: float) -> np.ndarray:
    fa = np.fft.fftfreq(spec.shape[0])[:, None]
    fr = np.fft.fftfreq(spec.shape[1])[None, :]
    return np.fft.ifft2(spec * np.exp(2j * np.pi * (fa * da + fr * dr)))


def _eval_truth(spec: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The periodic band-limited field at arbitrary points, by direct Fourier summation."""
    fa = np.fft.fftfreq(spec.shape[0])
    fr = np.fft.fftfreq(spec.shape[1])
    ex = np.exp(2j * np.pi * np.outer(x.ravel(), fr))  # (P, W)
    ey = np.exp(2j * np.pi * np.outer(y.ravel(), fa))  # (P, H)
    g = spec @ ex.T  # (H, P)
    vals = np.einsum("ph,hp->p", ey, g) / spec.size
    return vals.reshape(y.shape)


def test_resample_zero_and_integer_shift_are_exact() -> None:
    rng = np.random.default_rng(11)
    z = _cn(rng, (40, 60))
    out = K.resample(z, 0.0, 0.0)
    np.testing.assert_array_equal(out[3:-4, 3:-4], z[3:-4, 3:-4])
    assert not out[:3].any() and not out[-4:].any() and not out[:, :3].any()  # kernel leaves
    out = K.resample(z, np.full(z.shape, 2.0, np.float32), -3.0)
    np.testing.assert_array_equal(out[3:-6, 6:-4], z[5:-4, 3:-7])


@pytest.mark.parametrize(("da", "dr"), [(0.5, 0.5), (0.37, -1.23), (-2.81, 0.11), (0.02, 3.97)])
def test_resample_constant_shift_matches_fourier_truth(da: float, dr: float) -> None:
    rng = np.random.default_rng(12)
    field, spec = _band_limited(rng, (96, 128))
    out = K.resample(field, da, dr)
    truth = _shift_truth(spec, da, dr)
    inner = np.s_[MARGIN + 4 : -MARGIN - 4, MARGIN + 4 : -MARGIN - 4]
    coh, phase_rms = _coh_phase(out[inner], truth[inner])
    # 8 taps on a band 85 % full: ~-27 dB interpolation error at the worst (half-pixel)
    # shift; observed coherence 0.9983 / phase RMS 0.041 rad at (0.5, 0.5), 0.9989 / 0.033 at
    # (0.37, -1.23), 0.99999 / 0.003 at (0.02, 3.97).  The chain asks coherence >= 0.99
    assert coh >= 0.997
    assert phase_rms < 0.05
    amp_ratio = np.sqrt(np.mean(np.abs(out[inner]) ** 2) / np.mean(np.abs(truth[inner]) ** 2))
    assert amp_ratio == pytest.approx(1.0, abs=0.01)


def test_resample_varying_shift_matches_fourier_truth() -> None:
    rng = np.random.default_rng(13)
    h, w = 80, 96
    field, spec = _band_limited(rng, (h, w))
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    az = 0.6 + 0.7 * np.sin(2 * np.pi * xx / 150) + 0.004 * yy  # ~0.03 px/px: steep for SAR
    rg = -1.3 + 0.9 * np.cos(2 * np.pi * yy / 120) + 0.01 * xx
    out = K.resample(field, az.astype(np.float32), rg.astype(np.float32))
    inner = np.s_[12:-12, 12:-12]
    truth = _eval_truth(spec, yy[inner] + az[inner], xx[inner] + rg[inner])
    coh, phase_rms = _coh_phase(out[inner], truth)
    assert coh >= 0.997  # observed 0.9992, phase RMS 0.029 rad
    assert phase_rms < 0.05


def _resample_numpy(z, az, rg, ks=8, band=0.85):
    """Direct separable interpolation with the exact least-squares weights per pixel."""
    h, w = z.shape
    half = ks // 2 - 1
    taps = np.arange(ks) - half
    gram = band * np.sinc(band * (taps[:, None] - taps[None, :])) + 1e-6 * np.eye(ks)

    def weights(frac):
        rhs = band * np.sinc(band * (taps[None, :] - frac.ravel()[:, None]))
        return np.linalg.solve(gram, rhs.T).T.reshape((*frac.shape, ks))

    ii, jj = np.mgrid[:h, :w]
    pa, pr = ii + az, jj + rg
    fa, fr = np.floor(pa), np.floor(pr)
    ok = (fa >= half) & (fa <= h - ks + half) & (fr >= half) & (fr <= w - ks + half)
    wa, wr = weights(pa - fa), weights(pr - fr)
    i0 = np.where(ok, fa, half).astype(int) - half
    j0 = np.where(ok, fr, half).astype(int) - half
    out = np.zeros((h, w), np.complex128)
    for k in range(ks):
        for m in range(ks):
            out += wa[..., k] * wr[..., m] * z[i0 + k, j0 + m]
    return np.where(ok, out, 0)


def test_resample_matches_direct_interpolation() -> None:
    rng = np.random.default_rng(14)
    z, _ = _band_limited(rng, (50, 70))
    az = rng.uniform(-2, 2, z.shape).astype(np.float32)  # rough offsets: every pixel its own run
    rg = (0.3 + 0.02 * np.arange(70)[None, :] + 0.01 * np.arange(50)[:, None]).astype(np.float32)
    for a, r in ((az, rg), (0.4 * rg, az)):  # then range rough
        got = K.resample(z, a, r)
        ref = _resample_numpy(z, a.astype(np.float64), r.astype(np.float64))
        assert np.array_equal(got == 0, ref == 0)
        # azimuth rounded to 1/2048 px: |error| <= 2π·0.425/4096 x amplitude ~ 7e-4 x amplitude
        np.testing.assert_allclose(got, ref, rtol=0, atol=3e-3 * np.abs(ref).max())


def test_resample_nan_offsets_and_broadcasting() -> None:
    rng = np.random.default_rng(15)
    z = _cn(rng, (30, 40))
    az = np.full(z.shape, 0.25, np.float32)
    az[10, 20] = np.nan
    out = K.resample(z, az, 0.5)
    assert out[10, 20] == 0 and out[10, 19] != 0
    per_line = np.linspace(0.1, 0.4, 30, dtype=np.float32)[:, None]  # (H, 1) broadcasts
    np.testing.assert_array_equal(
        K.resample(z, per_line, 0.5), K.resample(z, np.broadcast_to(per_line, z.shape).copy(), 0.5)
    )
    with pytest.raises(ValueError, match="broadcast"):
        K.resample(z, np.zeros((2, 2)), 0.0)
    buf = np.empty(z.shape, C64)
    assert K.resample(z, az, 0.5, out=buf) is buf


def test_resample_kernel_table() -> None:
    lut = K.resample_kernel(8)
    assert lut.shape == (K.resampling._LUT_BINS + 1, 8) and lut.dtype == np.float32
    np.testing.assert_allclose(lut.sum(axis=1), 1.0, atol=0.035)  # DC gain >= 0.97
    np.testing.assert_array_equal(lut[0], np.eye(8, dtype=np.float32)[3])
    np.testing.assert_allclose(lut[::-1, ::-1], lut, atol=1e-6)  # mirror symmetry
    with pytest.raises(ValueError):
        K.resample_kernel(7)


# ---------------------------------------------------------------------------------------------
# numpy fallbacks (numba missing) agree with the compiled kernels


def test_numpy_fallbacks_match_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(16)
    ref, sec = _cn(rng, (48, 80)), _cn(rng, (48, 80))
    phase = rng.uniform(-20, 20, ref.shape).astype(np.float32)
    az = rng.uniform(-1, 1, ref.shape).astype(np.float32)
    calls: dict[str, Any] = {
        "ml": lambda: K.multilook(ref, (3, 5)),
        "ifg": lambda: K.interferogram_multilook(ref, sec, (4, 8), phase),
        "coh": lambda: K.coherence(ref, sec, (5, 3), phase),
        "gs": lambda: K.goldstein(ref, 0.7, 16, 4, 3),
        "rs": lambda: K.resample(ref, az, 0.3),
        "rs12": lambda: K.resample(ref, 0.3, az, kernel_size=12),
    }
    compiled = {k: f() for k, f in calls.items()}
    monkeypatch.setattr(K._common, "_HAVE_NUMBA", False)
    for key, f in calls.items():
        got: Any = compiled[key]
        fallback: Any = f()
        pairs = zip(got, fallback, strict=True) if isinstance(got, tuple) else [(got, fallback)]
        for a, b in pairs:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * max(1.0, np.abs(b).max()))


def test_argument_checks() -> None:
    z = np.ones((8, 8), C64)
    with pytest.raises(ValueError, match="odd"):
        K.coherence(z, z, (4, 5))
    with pytest.raises(ValueError, match="shape"):
        K.interferogram_multilook(z, np.ones((8, 9), C64), (2, 2))
    with pytest.raises(ValueError, match="positive"):
        K.multilook(z, (0, 2))
    with pytest.raises(ValueError):
        K.goldstein(z, smooth=2)
