"""SBAS end to end on a stack that streams through memory in blocks of rows.

A block is read (by the caller: this layer touches no files), referenced, masked, weighted,
inverted (:mod:`.inversion`), converted to LOS displacement and fitted with the temporal model
(:mod:`.model`); only the block's arrays are alive at once, so the memory a run needs is set
by the block size, not by the stack.

Conventions: phase in radians as unwrapped (ifg = ref · conj(sec), see ``docs/science.md``),
displacement ``d = −λφ/4π`` in metres, positive towards the satellite, relative to the first
date and to the reference point; velocities in m/yr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.sar.dinsar import phase_to_los
from gep.algorithms.timeseries.inversion import invert
from gep.algorithms.timeseries.model import Fit, TemporalModel, fit
from gep.algorithms.timeseries.network import Network
from gep.core.errors import InvalidInput

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

#: default memory budget of one block (bytes)
BLOCK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class SbasOptions:
    wavelength: float
    #: interferogram pixels with a lower coherence are left out (0: keep all)
    min_coherence: float = 0.0
    #: "coherence": weighted least squares with the Cramér-Rao inverse phase variance
    weighting: Literal["none", "coherence"] = "none"
    #: equivalent number of looks of the coherence estimate (scales the weights only)
    looks: float = 1.0
    #: a pixel needs this many valid interferograms (default: N − 1, capped at M)
    min_interferograms: int | None = None
    model: TemporalModel = field(default_factory=TemporalModel)


def displacement_to_phase(displacement: NDArray[np.floating], wavelength: float) -> F32:
    """Inverse of :func:`phase_to_los` (inputs given in metres of LOS displacement)."""
    return np.asarray(displacement, dtype=np.float32) * np.float32(-4 * np.pi / wavelength)


def coherence_weights(coherence: NDArray[np.floating], looks: float = 1.0) -> F32:
    """Inverse phase variance by the Cramér-Rao bound, ``2L γ² / (1 − γ²)`` (Rodriguez &
    Martin 1992): the weight of an interferogram pixel in weighted least squares."""
    g = np.clip(np.asarray(coherence, dtype=np.float32), 0.0, 0.999)
    return (np.float32(2.0 * looks) * g * g / (1.0 - g * g)).astype(np.float32)


def reference_phase(samples: NDArray[np.floating], labels: list[str], field: str) -> F64:
    """The phase to subtract from each interferogram: the mean of its valid samples at the
    reference point or area (``samples`` is M × K). Refused with the interferograms that have
    no valid sample there: their offset would be unknown."""
    s = np.asarray(samples, dtype=np.float64).reshape(len(labels), -1)
    finite = np.isfinite(s)
    empty = [labels[k] for k in np.flatnonzero(~finite.any(axis=1))]
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        raise InvalidInput(
            f"{field}: the reference has no valid value (NaN or no-data) in {len(empty)} "
            f"interferogram(s): {shown}; choose a reference that is valid in all of them",
            field=field,
        )
    return np.asarray(
        np.sum(np.where(finite, s, 0.0), axis=1) / finite.sum(axis=1), dtype=np.float64
    )


@dataclass
class SbasBlock:
    """The results of one block of rows (arrays shaped (rows, cols), or (N, rows, cols))."""

    rows: slice
    #: LOS displacement of each date (m), relative to the first date and the reference
    displacement: F32
    velocity: F32
    velocity_std: F32
    temporal_coherence: F32
    n_used: NDArray[np.int16]
    seasonal_amplitude: F32 | None
    dem_error: F32 | None
    fit: Fit = field(repr=False)


def sbas_block(
    network: Network,
    phase: NDArray[np.floating],
    coherence: NDArray[np.floating] | None,
    reference: F64,
    options: SbasOptions,
    rows: slice | None = None,
) -> SbasBlock:
    """Invert one block: ``phase`` and ``coherence`` are (M, rows, cols)."""
    m, r, c = phase.shape
    y = (
        np.asarray(phase, dtype=np.float32).reshape(m, r * c)
        - reference.astype(np.float32)[:, None]
    )
    valid = None
    weights = None
    if coherence is not None:
        coh = np.asarray(coherence, dtype=np.float32).reshape(m, r * c)
        if options.min_coherence > 0:
            valid = coh >= options.min_coherence
        if options.weighting == "coherence":
            weights = coherence_weights(coh, options.looks)
    elif options.weighting == "coherence":
        raise InvalidInput("coherence weighting needs coherence maps", field="weighting")
    inv = invert(
        network, y, valid=valid, weights=weights, min_interferograms=options.min_interferograms
    )
    disp = phase_to_los(inv.phase, options.wavelength)
    model = fit(network.years, disp, options.model)
    dem = None
    if options.model.dem_error is not None:
        dem = model.params["dem_error"]
        disp = disp - (options.model.dem_error.factor()[:, None] * dem[None, :]).astype(np.float32)
    seasonal = model.seasonal_amplitude()
    n = network.n_dates
    return SbasBlock(
        rows=rows if rows is not None else slice(0, r),
        displacement=disp.reshape(n, r, c),
        velocity=model.velocity.reshape(r, c),
        velocity_std=model.velocity_std.reshape(r, c),
        temporal_coherence=inv.temporal_coherence.reshape(r, c),
        n_used=inv.n_used.reshape(r, c),
        seasonal_amplitude=None if seasonal is None else seasonal.reshape(r, c),
        dem_error=None if dem is None else dem.reshape(r, c),
        fit=model,
    )


def row_blocks(
    rows: int, cols: int, n_ifgs: int, n_dates: int, max_bytes: int = BLOCK_BYTES
) -> list[slice]:
    """Row ranges whose working set stays within ``max_bytes``: per pixel, the phase and
    coherence read (float32), their referenced copy, mask and weights, and the time series in
    its three forms (phase, displacement, fit residual; float32 and float64)."""
    per_pixel = n_ifgs * (4 + 4 + 4 + 1 + 4 + 4) + n_dates * (4 + 4 + 8 + 8) + 64
    per_row = max(per_pixel * cols, 1)
    step = max(1, int(max_bytes // per_row))
    return [slice(r0, min(rows, r0 + step)) for r0 in range(0, rows, step)]


Reader = Callable[[slice], tuple[NDArray[np.floating], NDArray[np.floating] | None]]


def run_sbas(
    network: Network,
    shape: tuple[int, int],
    read: Reader,
    reference: F64,
    options: SbasOptions,
    *,
    max_block_bytes: int = BLOCK_BYTES,
    progress: Callable[[float, str], None] | None = None,
) -> Iterator[SbasBlock]:
    """Yield the results block by block; ``read(rows)`` returns the (M, rows, cols) phase and
    coherence (or None) of a block."""
    rows, cols = shape
    blocks = row_blocks(rows, cols, network.n_ifgs, network.n_dates, max_block_bytes)
    for k, rs in enumerate(blocks):
        phase, coherence = read(rs)
        yield sbas_block(network, phase, coherence, reference, options, rows=rs)
        if progress is not None:
            progress(
                (k + 1) / len(blocks), f"block {k + 1}/{len(blocks)}: rows {rs.start}-{rs.stop}"
            )
