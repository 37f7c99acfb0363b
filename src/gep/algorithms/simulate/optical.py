"""Optical scenes with a known truth: textured images moved by exact shifts, and a lava flow.

Offset tracking is graded against shifts that must be exact to far below its own error, so the
moved images are never made by spline or bilinear resampling (those bias the "truth" by about
0.1 pixel on textured images). The texture is a band-limited periodic random field, known by
its Fourier coefficients, and the moved image is that same Fourier series *evaluated* at the
displaced positions:

* :func:`fourier_shift` for a uniform shift: a phase ramp on the whole image's spectrum;
* :func:`displaced_texture` for any displacement field (a landslide): the Fourier series
  evaluated at every ``(row - dy, col - dx)`` by a numba kernel (a type-2 non-uniform DFT,
  exact to float rounding).

:func:`landslide_field` is a smooth, landslide-like displacement (an elliptical lobe moving
downslope, fastest at its centre, with a smooth margin). :func:`lava_flow_scene` is a scene of
radiances over a cold background (vegetation, bright sand, snow, cloud) with a lava flow whose
sub-pixel hot fraction radiates by Planck's law, for the hotspot tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

try:
    import numba

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment]
    _HAVE_NUMBA = False

__all__ = [
    "LavaScene",
    "displaced_texture",
    "fourier_shift",
    "landslide_field",
    "lava_flow_scene",
    "planck_radiance",
    "texture_spectrum",
]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


def texture_spectrum(
    shape: tuple[int, int],
    *,
    bandwidth: float = 0.5,
    beta: float = 1.6,
    corner: float = 0.02,
    seed: int | None = None,
) -> NDArray[np.complex128]:
    """Fourier coefficients of a natural-looking texture (Hermitian, so the image is real).

    Power falls as ``(f² + corner²)^(-beta/2)`` like the spectra of natural scenes, and stops
    at ``bandwidth`` cycles/pixel (0.5 = Nyquist), the optics' cut-off; the zero frequency is
    dropped (a mean is added by the callers).
    """
    rows, cols = shape
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.fftfreq(cols)[None, :]
    f = np.hypot(fy, fx)
    amp = (f**2 + corner**2) ** (-beta / 4.0)
    amp[f > bandwidth] = 0.0
    amp[0, 0] = 0.0
    white = np.fft.fft2(rng.standard_normal(shape))  # Hermitian random phases and amplitudes
    spec = white * amp
    image = np.fft.ifft2(spec).real
    return spec / image.std()  # type: ignore[no-any-return]


def fourier_shift(spectrum: NDArray[np.complex128], dy: float, dx: float) -> F64:
    """The texture moved by (dy, dx) pixels (content to larger indices): ``f(r - dy, c - dx)``."""
    rows, cols = spectrum.shape
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.fftfreq(cols)[None, :]
    ramp = np.exp(-2j * np.pi * (fy * dy + fx * dx))
    out: F64 = np.fft.ifft2(spectrum * ramp).real
    return out


def landslide_field(
    shape: tuple[int, int],
    *,
    centre: tuple[float, float] | None = None,
    radii: tuple[float, float] = (90.0, 70.0),
    peak: tuple[float, float] = (1.2, -1.8),
) -> tuple[F64, F64]:
    """(dy, dx) of an elliptical landslide lobe: ``peak`` pixels at its centre, falling
    smoothly (cos², continuous slope) to zero at ``radii``; the ground around it is still."""
    rows, cols = shape
    cy, cx = centre if centre is not None else (rows / 2.0, cols / 2.0)
    r = np.arange(rows, dtype="float64")[:, None]
    c = np.arange(cols, dtype="float64")[None, :]
    q = np.sqrt(((r - cy) / radii[0]) ** 2 + ((c - cx) / radii[1]) ** 2)
    w = np.where(q < 1.0, np.cos(0.5 * np.pi * np.minimum(q, 1.0)) ** 2, 0.0)
    return peak[0] * w, peak[1] * w


def displaced_texture(spectrum: NDArray[np.complex128], dy: F64, dx: F64) -> F64:
    """The texture seen through a displacement field: ``f(r - dy[r, c], c - dx[r, c])``.

    Exact: where the field is not zero the band-limited Fourier series is summed at the
    displaced position (elsewhere the image is the texture itself), rows of coefficients
    first, by a numba kernel.
    """
    rows, cols = spectrum.shape
    if dy.shape != spectrum.shape or dx.shape != spectrum.shape:
        raise ValueError("dy and dx must have the image's shape")
    out: F64 = np.fft.ifft2(spectrum).real
    moved = np.nonzero((dy != 0) | (dx != 0))
    if moved[0].size == 0:
        return out
    nz = np.abs(spectrum) > 0
    ky = np.nonzero(nz.any(axis=1))[0]
    kx = np.nonzero(nz.any(axis=0))[0]
    # signed frequency indices of the occupied rows / columns, as a dense block
    sy = np.where(ky > rows // 2, ky - rows, ky).astype("float64")
    sx = np.where(kx > cols // 2, kx - cols, kx).astype("float64")
    block = spectrum[np.ix_(ky, kx)] / (rows * cols)
    pr = moved[0] - dy[moved]
    pc = moved[1] - dx[moved]
    out[moved] = _series_at(pr / rows, pc / cols, sy, sx, block)
    return out


def _series_at_impl(pr, pc, sy, sx, block):  # type: ignore[no-untyped-def]  # pragma: no cover
    n = pr.size
    out = np.empty(n)
    for i in numba.prange(n):
        ex = np.exp(2j * np.pi * sx * pc[i])
        ey = np.exp(2j * np.pi * sy * pr[i])
        acc = 0.0 + 0.0j
        for a in range(sy.size):
            inner = 0.0 + 0.0j
            for b in range(sx.size):
                inner += block[a, b] * ex[b]
            acc += inner * ey[a]
        out[i] = acc.real
    return out


if _HAVE_NUMBA:
    _series_at = numba.njit(parallel=True, cache=True)(_series_at_impl)
else:  # pragma: no cover
    _series_at = _series_at_impl  # type: ignore[assignment]


# ---------------------------------------------------------------------- thermal scenes

#: second radiation constant c2 = h c / k (µm K) and 2 h c² (W µm⁴ m⁻² sr⁻¹)
_C1 = 1.191042e8
_C2 = 1.4387769e4


def planck_radiance(wavelength_um: float | F64, temperature_k: float | F64) -> F64:
    """Spectral radiance of a black body, W m⁻² sr⁻¹ µm⁻¹ (Planck's law)."""
    lam = np.asarray(wavelength_um, dtype="float64")
    t = np.asarray(temperature_k, dtype="float64")
    out: F64 = _C1 / (lam**5 * (np.exp(_C2 / (lam * t)) - 1.0))
    return out


@dataclass(frozen=True)
class LavaScene:
    """TOA radiances of three bands (W m⁻² sr⁻¹ µm⁻¹) and what is where."""

    radiance: dict[str, F64]  # "nir" (0.8 µm), "swir1" (1.6 µm), "swir2" (2.2 µm)
    hot: NDArray[np.bool_]  # pixels with a lava fraction
    surfaces: dict[str, NDArray[np.bool_]]  # the cold surfaces, by name
    hot_fraction: F64
    lava_temperature: float


#: band-averaged solar irradiance (W m⁻² µm⁻¹) near 0.865, 1.61 and 2.2 µm (Landsat 8 OLI B5-B7)
SOLAR = {"nir": 951.0, "swir1": 247.0, "swir2": 85.0}
WAVELENGTH = {"nir": 0.865, "swir1": 1.61, "swir2": 2.2}
#: TOA reflectance (nir, swir1, swir2) of cold surfaces: vegetation, basalt, bright desert sand,
#: fresh snow, a thick water cloud (typical library spectra)
REFLECTANCE = {
    "vegetation": (0.35, 0.18, 0.09),
    "basalt": (0.08, 0.09, 0.085),
    "sand": (0.45, 0.58, 0.52),
    "snow": (0.85, 0.10, 0.06),
    "cloud": (0.75, 0.55, 0.35),
}


def lava_flow_scene(
    shape: tuple[int, int] = (200, 200),
    *,
    lava_temperature: float = 1000.0,
    max_fraction: float = 0.05,
    sun_zenith: float = 40.0,
    noise: float = 0.003,
    seed: int | None = 0,
) -> LavaScene:
    """Cold surfaces in blocks (vegetation, basalt, sand, snow, cloud) and a lava flow.

    The flow is a tongue on the basalt whose hot fraction (sub-pixel, up to ``max_fraction`` of
    a pixel at ``lava_temperature``) adds Planck radiance to the reflected sunlight; the other
    surfaces only reflect (their own emission at 300 K is ~1e-3 of it below 2.5 µm).
    Reflectances get a multiplicative texture and ``noise`` (reflectance units).
    """
    rows, cols = shape
    rng = np.random.default_rng(seed)
    mu = np.cos(np.radians(sun_zenith))
    names = list(REFLECTANCE)
    surfaces: dict[str, NDArray[np.bool_]] = {}
    label = np.zeros(shape, dtype=int)
    # vertical strips, one per surface, basalt the widest (the flow sits on it)
    edges = np.linspace(0, cols, len(names) + 1).astype(int)
    for k, name in enumerate(names):
        m = np.zeros(shape, dtype=bool)
        m[:, edges[k] : edges[k + 1]] = True
        surfaces[name] = m
        label[m] = k
    refl = {
        band: np.array([REFLECTANCE[n][b] for n in names])[label]
        for b, band in enumerate(("nir", "swir1", "swir2"))
    }
    texture = 1.0 + 0.08 * rng.standard_normal(shape)
    basalt = surfaces["basalt"]
    c0, c1 = np.nonzero(basalt.any(axis=0))[0][[0, -1]]
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    mid = (c0 + c1) / 2.0
    half = (c1 - c0) / 4.0
    tongue = (np.abs(c - mid) < half * (1 - r / rows)) & (r < 0.7 * rows) & basalt
    fraction = np.where(tongue, max_fraction * (1 - r / (0.7 * rows)) + 0.002, 0.0)
    radiance: dict[str, F64] = {}
    for band in ("nir", "swir1", "swir2"):
        rho = refl[band] * texture + noise * rng.standard_normal(shape)
        reflected = np.clip(rho, 0, None) * SOLAR[band] * mu / np.pi
        emitted = fraction * planck_radiance(WAVELENGTH[band], lava_temperature)
        radiance[band] = (1 - fraction) * reflected + emitted
    return LavaScene(radiance, tongue, surfaces, fraction, lava_temperature)
