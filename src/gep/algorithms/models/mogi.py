"""Mogi (1958) point source: surface displacement of a small spherical pressure change in an
elastic half-space, expressed through its volume change (e.g. Lisowski 2007)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def mogi(
    e: ArrayLike, n: ArrayLike, depth: float, dv: float, nu: float = 0.25
) -> tuple[Array, Array, Array]:
    """(east, north, up) displacement (m) at ``e``, ``n`` (m from the source's epicentre) of a
    source at ``depth`` (m) whose volume changes by ``dv`` (m³)."""
    e_ = np.asarray(e, dtype="float64")
    n_ = np.asarray(n, dtype="float64")
    r3 = (e_**2 + n_**2 + depth**2) ** 1.5
    c = (1.0 - nu) * dv / np.pi
    return c * e_ / r3, c * n_ / r3, c * depth / r3
