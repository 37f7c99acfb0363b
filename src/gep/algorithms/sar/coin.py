"""Coherence and intensity change (COIN) of a pre/post-event SLC pair.

Damage mapping after an earthquake or an eruption looks for two signatures: a loss of
coherence (the scattering changed) and a change of backscattered intensity. Both come from
the same coregistered pair, so this reuses the DInSAR chain's geometry, refinement and
resampling, and its fused interferogram/coherence kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.sar.coregistration import Refinement, coregister
from gep.algorithms.sar.geometry import Dem
from gep.algorithms.sar.kernels.interferometry import coherence as boxcar_coherence
from gep.algorithms.sar.kernels.interferometry import interferogram_multilook, multilook
from gep.core.sar import SwathGeometry

F32 = NDArray[np.float32]


@dataclass
class CoinResult:
    looks: tuple[int, int]
    coherence: F32
    intensity_pre: F32  # dB (uncalibrated: relative to the SLC's digital numbers)
    intensity_post: F32  # dB
    intensity_ratio: F32  # post / pre, dB
    refinement: Refinement

    def rgb(self) -> NDArray[np.uint8]:
        """R = coherence, G = mean intensity, B = |intensity change| (each stretched to 8 bits).

        Unchanged, coherent ground is yellow-green; a coherence loss darkens red; an intensity
        change turns blue.
        """
        mean_db = (self.intensity_pre + self.intensity_post) / 2

        def stretch(a: NDArray[np.floating], lo: float, hi: float) -> NDArray[np.uint8]:
            return (np.clip((np.nan_to_num(a, nan=lo) - lo) / (hi - lo), 0, 1) * 255).astype(
                np.uint8
            )

        finite = mean_db[np.isfinite(mean_db)]
        lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
        return np.stack(
            [
                stretch(self.coherence, 0.0, 1.0),
                stretch(mean_db, float(lo), float(hi) if hi > lo else float(lo) + 1),
                stretch(np.abs(self.intensity_ratio), 0.0, 6.0),
            ]
        )


def power_db(power: F32) -> F32:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(power > 0, 10 * np.log10(power), np.nan).astype("float32")


def coin(
    reference: NDArray[np.complex64],
    secondary: NDArray[np.complex64],
    reference_geometry: SwathGeometry,
    secondary_geometry: SwathGeometry,
    dem: Dem | float,
    *,
    looks: tuple[int, int] = (4, 16),
    coherence_window: tuple[int, int] | None = None,
    progress: Callable[[float, str], None] = lambda f, m: None,
) -> CoinResult:
    """Coherence and multilooked intensities (dB) of a coregistered pre/post pair."""
    sec, geo, ref_off = coregister(
        reference, secondary, reference_geometry, secondary_geometry, dem,
        progress=lambda f, m: progress(0.6 * f, m),
    )  # fmt: skip
    phase = geo.phase
    assert phase is not None
    progress(0.65, "coherence and intensities")
    _, coh, amp = interferogram_multilook(reference, sec, looks, phase)
    if coherence_window is not None:
        coh = multilook(boxcar_coherence(reference, sec, coherence_window, phase), looks)
    post = multilook((sec.real**2 + sec.imag**2).astype("float32"), looks)
    pre_db = power_db(amp.astype("float32") ** 2)
    post_db = power_db(post)
    progress(1.0, "done")
    return CoinResult(looks, coh, pre_db, post_db, (post_db - pre_db).astype("float32"), ref_off)
