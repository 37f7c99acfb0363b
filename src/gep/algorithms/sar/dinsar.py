"""The DInSAR chain, step by step: a reference/secondary SLC pair to LOS displacement.

Each step is its own pure function elsewhere in :mod:`gep.algorithms.sar`; :func:`dinsar`
strings them together the way the ``dinsar`` service runs them, reporting progress per step,
so a notebook, a test and the service all run the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.sar.coregistration import RadarGeometry, Refinement, coregister
from gep.algorithms.sar.geocode import GeoGrid, geocode, radar_coordinates, scene_grid
from gep.algorithms.sar.geometry import Dem
from gep.algorithms.sar.kernels.filtering import goldstein
from gep.algorithms.sar.kernels.interferometry import coherence as boxcar_coherence
from gep.algorithms.sar.kernels.interferometry import interferogram_multilook, multilook
from gep.algorithms.sar.unwrap import unwrap as unwrap_phase
from gep.core.sar import S1_WAVELENGTH, SwathGeometry

F32 = NDArray[np.float32]
C64 = NDArray[np.complex64]
Progress = Callable[[float, str], None]


def phase_to_los(phase: NDArray[np.floating], wavelength: float = S1_WAVELENGTH) -> F32:
    """LOS displacement (m, positive towards the satellite) of an unwrapped phase: −λφ/4π.

    The MintPy convention, for ifg = ref·conj(sec) with the reference acquired first.
    """
    return (-wavelength / (4.0 * np.pi) * np.asarray(phase, "float64")).astype("float32")


@dataclass
class DinsarResult:
    """Radar-geometry products (multilooked grid) and, when asked, their geocoded versions."""

    looks: tuple[int, int]
    interferogram: C64  # filtered when alpha > 0, synthetic phase removed
    coherence: F32
    amplitude: F32
    unwrapped: F32 | None
    los_displacement: F32 | None
    reference_point: tuple[int, int] | None
    refinement: Refinement
    geometry: RadarGeometry
    wavelength: float
    geocoded: dict[str, F32] = field(default_factory=dict)
    grid: GeoGrid | None = None

    @property
    def wrapped_phase(self) -> F32:
        return np.angle(self.interferogram).astype("float32")


def _noop(fraction: float, message: str) -> None:
    return None


def dinsar(
    reference: C64,
    secondary: C64,
    reference_geometry: SwathGeometry,
    secondary_geometry: SwathGeometry,
    dem: Dem | float,
    *,
    looks: tuple[int, int] = (4, 16),
    coherence_window: tuple[int, int] | None = None,
    alpha: float = 0.5,
    unwrap: bool = True,
    unwrap_method: str = "gep",
    reference_point: tuple[int, int] | None = None,
    geocode_spacing: float | None = None,
    geocode_grid: GeoGrid | None = None,
    geocode_products: bool = True,
    progress: Progress = _noop,
) -> DinsarResult:
    """Run the whole chain; see the module docstring of each step for its method.

    ``looks`` are (azimuth, range); ``coherence_window`` (odd sizes, full resolution) selects
    a sliding boxcar estimate, multilooked afterwards, instead of the estimate over each
    looks window; ``alpha`` is the Goldstein exponent (0 disables the filter; coherence is
    always estimated before filtering); ``reference_point`` is (row, col) on the
    multilooked grid, by default the most coherent area. ``geocode_grid`` puts the geocoded
    products on that lat/lon grid (e.g. one shared by a stack's pairs) rather than on the one
    covering this image.
    """
    if reference.shape != secondary.shape:
        raise ValueError(f"the SLCs differ in shape: {reference.shape} and {secondary.shape}")
    if reference.shape != (reference_geometry.lines, reference_geometry.samples):
        raise ValueError("the reference SLC and its geometry disagree in shape")
    sec_coreg, geo, ref_off = coregister(
        reference, secondary, reference_geometry, secondary_geometry, dem,
        progress=lambda f, m: progress(0.05 + 0.35 * f, m),
    )  # fmt: skip
    progress(0.45, "interferogram, flat-earth/topographic phase removal, multilooking")
    phase = geo.phase
    assert phase is not None
    ifg, coh, amp = interferogram_multilook(reference, sec_coreg, looks, phase)
    if coherence_window is not None:
        progress(0.50, f"coherence: boxcar {coherence_window[0]}×{coherence_window[1]}")
        coh = multilook(boxcar_coherence(reference, sec_coreg, coherence_window, phase), looks)
    del sec_coreg
    if alpha > 0:
        progress(0.55, f"Goldstein filter (alpha {alpha})")
        ifg = goldstein(ifg, alpha=alpha)
    unw = los = None
    ref_px = None
    if unwrap:
        progress(0.65, f"unwrapping ({unwrap_method})")
        nlooks = float(looks[0] * looks[1])
        if reference_point is None:
            from gep.algorithms.sar.unwrap import default_reference

            ref_px = default_reference(coh, np.isfinite(coh) & (coh > 0))
        else:
            ref_px = (int(reference_point[0]), int(reference_point[1]))
        unw = unwrap_phase(ifg, coh, method=unwrap_method, reference=ref_px, nlooks=nlooks)  # type: ignore[arg-type]
        los = phase_to_los(unw, reference_geometry.wavelength)
    result = DinsarResult(
        looks=looks,
        interferogram=ifg,
        coherence=coh,
        amplitude=amp,
        unwrapped=unw,
        los_displacement=los,
        reference_point=ref_px,
        refinement=ref_off,
        geometry=geo,
        wavelength=reference_geometry.wavelength,
    )
    if geocode_products:
        progress(0.85, "geocoding")
        geocode_result(result, reference_geometry, dem, spacing=geocode_spacing, grid=geocode_grid)
    progress(1.0, "done")
    return result


def geocode_result(
    result: DinsarResult,
    geometry: SwathGeometry,
    dem: Dem | float,
    *,
    spacing: float | None = None,
    grid: GeoGrid | None = None,
) -> None:
    """Fill ``result.geocoded`` and ``result.grid`` with every product on a lat/lon grid:
    ``grid`` when given (nodes outside the image are no-data), else the one covering it."""
    la, lr = result.looks
    if grid is None:
        grid, line, sample = scene_grid(geometry, dem, result.looks, spacing=spacing)
    else:
        line, sample = radar_coordinates(grid, geometry, dem)
    out = {
        "wrapped_phase": geocode(result.interferogram, line, sample, (la, lr)),
        "coherence": geocode(result.coherence, line, sample, (la, lr)),
        "amplitude": geocode(result.amplitude, line, sample, (la, lr)),
    }
    if result.unwrapped is not None and result.los_displacement is not None:
        out["unwrapped_phase"] = geocode(result.unwrapped, line, sample, (la, lr))
        out["los_displacement"] = geocode(result.los_displacement, line, sample, (la, lr))
    result.geocoded = out
    result.grid = grid
