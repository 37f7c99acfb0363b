"""Phase-level simulation of interferograms: atmosphere, coherence and interferometric noise.

These functions build the *truth* that the unwrapping tests and benchmark measure against, so
they are written to be physically faithful rather than merely plausible:

* :func:`power_law_screen` draws turbulent tropospheric delay as a Gaussian random field with a
  power-law spectrum (Hanssen 2001: ``P(k) ∝ k^-8/3`` over the scales of a SAR frame), because an
  unwrapper has to cope with the long-wavelength, spatially correlated fringes it produces.
* :func:`coherence_map` draws a smooth random coherence field over a range (fields, forest,
  villages), because real decorrelation is patchy, not uniform.
* :func:`wrapped_noisy_phase` forms the interferometric noise from first principles (two
  correlated circular complex Gaussian SLC samples per look, multilooked), so the phase noise
  follows the exact multilook phase pdf for the coherence γ and number of looks L (Lee et al.
  1994) instead of an ad hoc Gaussian — the heavy tails of that pdf at low γ are what makes
  unwrapping fail, and a Gaussian would hide them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

__all__ = ["coherence_map", "power_law_screen", "unwrap_error_share", "wrapped_noisy_phase"]


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2 or min(shape) < 2:
        raise ValueError(f"shape must be two sizes >= 2, got {shape!r}")
    return int(shape[0]), int(shape[1])


def power_law_screen(
    shape: tuple[int, int],
    *,
    beta: float = 8.0 / 3.0,
    rms: float = 1.0,
    pixel_spacing: float = 1.0,
    seed: int | None = None,
    break_scale: float | None = None,
) -> NDArray[np.float64]:
    """A zero-mean random screen whose 2-D power spectrum falls as ``|k|^-beta``, scaled so that
    its root mean square equals ``rms`` (in the caller's unit: radians, metres...).

    White Gaussian noise is shaped in the Fourier domain by ``|k|^(-beta/2)`` (the DC term is set
    to zero, hence the zero mean) and transformed back. ``beta = 8/3`` is Kolmogorov turbulence
    seen through a thin layer (scales larger than the layer's thickness), the usual model of the
    wet troposphere in InSAR (Hanssen 2001, §4.7). Below the thickness of the turbulent layer
    (~2 km) the 3-D regime takes over and the spectrum steepens by one (8/3 → 11/3): give that
    wavelength as ``break_scale`` (same unit as ``pixel_spacing``) to get both regimes, joined
    continuously; ``None`` keeps a single power law down to the pixel, which is rougher at
    pixel scale than real tropospheres. With the rms imposed, ``pixel_spacing`` only matters
    through ``break_scale``. The screen is periodic across its edges (a property of the FFT
    synthesis); crop a larger one if that matters.
    """
    ny, nx = _check_shape(shape)
    if not np.isfinite(rms) or rms < 0:
        raise ValueError(f"rms must be finite and >= 0, got {rms}")
    if pixel_spacing <= 0:
        raise ValueError(f"pixel_spacing must be > 0, got {pixel_spacing}")
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((ny, nx))
    ky = np.fft.fftfreq(ny, d=pixel_spacing)[:, None]
    kx = np.fft.rfftfreq(nx, d=pixel_spacing)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = 1.0
    amplitude = k ** (-beta / 2.0)
    if break_scale is not None:
        if not break_scale > 0:
            raise ValueError(f"break_scale must be > 0, got {break_scale}")
        kb = 1.0 / break_scale
        small = k > kb
        amplitude[small] = kb ** (-beta / 2.0) * (k[small] / kb) ** (-(beta + 1.0) / 2.0)
    amplitude[0, 0] = 0.0
    screen = np.fft.irfft2(np.fft.rfft2(white) * amplitude, s=(ny, nx))
    screen -= screen.mean()
    current = float(np.sqrt(np.mean(screen**2)))
    if current > 0:
        screen *= rms / current
    return screen


def coherence_map(
    shape: tuple[int, int],
    *,
    low: float = 0.3,
    high: float = 0.95,
    correlation_px: float = 30.0,
    seed: int | None = None,
) -> NDArray[np.float32]:
    """A smooth random coherence field spread uniformly over ``[low, high]``.

    Gaussian-smoothed white noise (correlation length ``correlation_px`` pixels) is mapped
    through its own ranks, so every value between ``low`` and ``high`` is equally frequent: a
    test or benchmark then knows exactly which share of the scene is poorly coherent.
    """
    ny, nx = _check_shape(shape)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"need 0 <= low <= high <= 1, got low={low}, high={high}")
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), correlation_px, mode="wrap")
    ranks = np.empty(field.size, dtype=np.float64)
    ranks[np.argsort(field, axis=None)] = (np.arange(field.size) + 0.5) / field.size
    return (low + (high - low) * ranks.reshape(ny, nx)).astype(np.float32)


def wrapped_noisy_phase(
    true_phase: ArrayLike,
    coherence: ArrayLike,
    looks: int = 1,
    seed: int | None = None,
    *,
    unit_magnitude: bool = False,
) -> NDArray[np.complex64]:
    """The multilooked complex interferogram of a scene whose noise-free phase is ``true_phase``
    (radians) and whose coherence is ``coherence`` (scalar or map in [0, 1]).

    For each of the ``looks`` full-resolution samples of a pixel two unit-variance circular
    complex Gaussian SLC values are drawn with correlation γ::

        z1 = a,  z2 = γ·a + sqrt(1 - γ²)·b          (a, b independent CN(0, 1))

    so that ``E[z1·conj(z2)] = γ``; the sample interferogram is ``z1·conj(z2)·exp(i·φ)`` and the
    ``looks`` samples are averaged. The phase of the result therefore follows the multilook
    interferometric phase pdf for (γ, L) exactly (Lee et al. 1994, IEEE TGRS 32(5)), heavy tails
    included, and its magnitude carries the speckle of the averaged product, like a real
    multilooked interferogram. ``unit_magnitude=True`` returns ``exp(i·phase)`` instead.
    """
    phase = np.asarray(true_phase, dtype=np.float64)
    if phase.ndim != 2:
        raise ValueError(f"true_phase must be a 2-D array, got {phase.ndim} dimensions")
    gamma = np.broadcast_to(np.asarray(coherence, dtype=np.float64), phase.shape)
    if not np.all(np.isfinite(phase)):
        raise ValueError("true_phase has non-finite values")
    if not np.all((gamma >= 0.0) & (gamma <= 1.0)):
        raise ValueError("coherence must lie in [0, 1]")
    if int(looks) != looks or looks < 1:
        raise ValueError(f"looks must be an integer >= 1, got {looks}")
    rng = np.random.default_rng(seed)
    g = gamma.astype(np.float32)
    h = np.sqrt(1.0 - g * g)
    acc = np.zeros(phase.shape, dtype=np.complex64)
    scale = np.float32(np.sqrt(0.5))  # CN(0, 1): real and imaginary parts of variance 1/2

    def cn() -> NDArray[np.complex64]:
        re = rng.standard_normal(phase.shape, dtype=np.float32)
        im = rng.standard_normal(phase.shape, dtype=np.float32)
        return ((re + 1j * im) * scale).astype(np.complex64)

    for _ in range(int(looks)):
        a = cn()
        z2 = g * a + h * cn()
        acc += a * np.conj(z2)
    acc /= np.float32(looks)
    ifg = (acc * np.exp(1j * phase)).astype(np.complex64)
    if unit_magnitude:
        ifg = np.exp(1j * np.angle(ifg)).astype(np.complex64)
    return ifg


def unwrap_error_share(
    unwrapped: ArrayLike, true_phase: ArrayLike, mask: ArrayLike | None = None
) -> float:
    """Share of pixels whose unwrapped phase is off the truth by a non-zero multiple of 2π.

    An unwrapped phase is defined up to one constant (the reference convention subtracts the
    reference pixel's phase, which is not a multiple of 2π), so the constant is removed first:
    its fractional part as the circular mean of ``unwrapped - true`` (the phase noise has zero
    circular mean), its integer part as the mode of the rounded cycle counts. A pixel is wrong
    when its own cycle count differs from that mode. Counted over ``mask`` (default: every
    pixel); a non-finite unwrapped value inside the mask counts as wrong.
    """
    unw = np.asarray(unwrapped, dtype=np.float64)
    true = np.asarray(true_phase, dtype=np.float64)
    if unw.shape != true.shape:
        raise ValueError(f"shapes differ: {unw.shape} vs {true.shape}")
    sel = np.ones(unw.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if sel.shape != unw.shape:
        raise ValueError(f"mask shape {sel.shape} does not match {unw.shape}")
    total = int(sel.sum())
    if total == 0:
        raise ValueError("the mask selects no pixel")
    r = (unw - true)[sel]
    finite = np.isfinite(r)
    r = r[finite]
    if r.size == 0:
        return 1.0
    offset = float(np.angle(np.mean(np.exp(1j * r))))
    cycles = np.rint((r - offset) / (2.0 * np.pi)).astype(np.int64)
    _, counts = np.unique(cycles, return_counts=True)
    right = int(counts.max())
    return float(1.0 - right / total)
