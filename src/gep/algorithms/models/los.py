"""Projection of 3-D ground displacement onto a radar line of sight.

Convention (as MintPy): LOS displacement is positive towards the satellite. The satellite
looks right of its heading, so the unit vector from the ground to the satellite is
(-sin θ cos h, sin θ sin h, cos θ) in (east, north, up), θ the incidence, h the heading
(flight azimuth, clockwise from north).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def los_unit_vector(incidence: ArrayLike, heading: ArrayLike) -> tuple[Array, Array, Array]:
    inc = np.radians(np.asarray(incidence, dtype="float64"))
    head = np.radians(np.asarray(heading, dtype="float64"))
    return -np.sin(inc) * np.cos(head), np.sin(inc) * np.sin(head), np.cos(inc)


def project_los(
    ue: ArrayLike, un: ArrayLike, uz: ArrayLike, incidence: ArrayLike, heading: ArrayLike
) -> Array:
    le, ln, lu = los_unit_vector(incidence, heading)
    return np.asarray(ue) * le + np.asarray(un) * ln + np.asarray(uz) * lu
