"""The default reference pixel of an SBAS stack: chosen block by block, as the rows stream in.

A time series is relative: every interferogram's phase is taken relative to one pixel, whose
motion is thus zero. Without one given, the choice is MintPy's: the most coherent pixel among
those valid in every interferogram, else (no coherence) the valid pixel nearest the centre.
The stack never fits in memory at once, so the choice is made over blocks of rows; the reader
of the rows stays with the caller (this module touches no file).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class ReferenceChoice:
    """The best pixel so far over the blocks of rows of a ``height`` × ``width`` grid."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self._best: tuple[float, int, int] = (-np.inf, -1, -1)

    def add(
        self,
        rows: slice,
        valid: NDArray[np.bool_],
        coherence: NDArray[np.floating] | None,
    ) -> None:
        """Consider the rows ``rows``: ``valid`` (pixels valid in every interferogram) and the
        mean ``coherence`` (None when the stack has none) of those rows.

        A later block must score strictly higher to win, so ties go to the first pixel in
        row-major order, whatever the block size."""
        if coherence is not None:
            score = np.where(valid, coherence, -np.inf)
        else:
            cr, cc = self.height / 2, self.width / 2
            yy, xx = np.mgrid[rows, 0 : self.width]
            score = np.where(valid, -np.hypot(yy - cr, xx - cc), -np.inf)
        k = int(np.argmax(score))
        if score.flat[k] > self._best[0]:
            r0 = rows.start or 0
            self._best = (float(score.flat[k]), r0 + k // self.width, k % self.width)

    def best(self) -> tuple[int, int] | None:
        """(row, col) of the chosen pixel; None when no pixel was valid everywhere."""
        _, r, c = self._best
        return None if r < 0 else (r, c)
