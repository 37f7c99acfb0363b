"""Multiple pairwise image correlation (MPIC): pair offsets inverted into a time series.

Given N dates and the offsets measured between chosen pairs (i, j), the displacement of every
date relative to the first is the least-squares solution of ``d[j] − d[i] = offset(i, j)`` at
each grid node. That is the SBAS problem with offsets in place of unwrapped phase, so it is
solved by the SBAS inversion (:func:`gep.algorithms.timeseries.inversion.invert`: per-node
masks grouped by pattern); each component (rows, columns) is inverted on its own. Where a
node's valid pairs leave dates cut off from the first, those dates are NaN (not the minimum-
norm value the inversion would give them). Redundant pairs average
the correlation noise down, and the misfit of the pairs to the series (``residual``) shows
where they disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.timeseries.inversion import invert
from gep.algorithms.timeseries.network import DateLike, Network

__all__ = ["OffsetSeries", "default_pairs", "invert_offsets"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class OffsetSeries:
    """Displacement of every date relative to the first, on the window grid (pixels)."""

    dates: list[str]
    dy: F64  # (dates, rows, cols); NaN where a node could not be solved
    dx: F64
    residual: F64  # (rows, cols) RMS misfit of the valid pairs (pixels); NaN without redundancy
    pairs_used: NDArray[np.int16]


def default_pairs(dates: int, *, max_gap: int = 2) -> list[tuple[int, int]]:
    """Every pair (i, j), i < j, at most ``max_gap`` acquisitions apart: a redundant network
    in which each date is linked to the next (N − 1 + N − 2 + ... pairs)."""
    if dates < 2:
        raise ValueError("at least two dates are needed")
    return [(i, j) for i in range(dates) for j in range(i + 1, min(dates, i + max_gap + 1))]


def invert_offsets(
    dates: Sequence[DateLike],
    pairs: Sequence[tuple[int, int]],
    dy: NDArray[np.floating],
    dx: NDArray[np.floating],
    valid: NDArray[np.bool_] | None = None,
) -> OffsetSeries:
    """Time series from pair offsets ``dy``/``dx`` of shape (pairs, rows, cols).

    ``dates`` are the acquisition dates in order (distinct); ``pairs`` index them (earlier,
    later). ``valid`` (same shape) marks the offsets to use; NaN offsets never are.
    """
    stack_y = np.asarray(dy, dtype="float64")
    stack_x = np.asarray(dx, dtype="float64")
    if stack_y.shape != stack_x.shape or stack_y.shape[0] != len(pairs):
        raise ValueError("dy and dx must both be (pairs, rows, cols)")
    network = Network.from_pairs([(dates[i], dates[j]) for i, j in pairs], field="pairs")
    if network.n_dates != len(dates):
        raise ValueError("every date must appear in at least one pair, and dates must be distinct")
    grid = stack_y.shape[1:]
    y = stack_y.reshape(len(pairs), -1)
    x = stack_x.reshape(len(pairs), -1)
    ok = np.isfinite(y) & np.isfinite(x)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool).reshape(len(pairs), -1)
    sy = invert(network, y, valid=ok)
    sx = invert(network, x, valid=ok)
    a = network.displacement_design
    series = [np.asarray(s.phase, "float64") for s in (sy, sx)]
    # dates cut off from the first by a node's missing pairs: the minimum-norm solution gives
    # them a value, but nothing measured it
    patterns, inverse = np.unique(ok.T, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        first = next(c for c in network.components(pattern) if 0 in c)
        lost = np.setdiff1d(np.arange(network.n_dates), first)
        if lost.size:
            nodes = np.flatnonzero(inverse.ravel() == p)
            for ts in series:
                ts[np.ix_(lost, nodes)] = np.nan
    misfit2 = np.zeros(y.shape[1])
    for obs, ts in zip((y, x), series, strict=True):
        pred = a @ ts[1:]
        misfit2 += np.where(ok, (pred - np.where(ok, obs, 0.0)) ** 2, 0.0).sum(axis=0)
    used = ok.sum(axis=0)
    dof = used - (network.n_dates - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        residual = np.where(dof > 0, np.sqrt(misfit2 / np.maximum(2 * used, 1)), np.nan)
    return OffsetSeries(
        network.date_strings(),
        series[0].reshape((network.n_dates, *grid)),
        series[1].reshape((network.n_dates, *grid)),
        residual.reshape(grid),
        sy.n_used.reshape(grid),
    )
