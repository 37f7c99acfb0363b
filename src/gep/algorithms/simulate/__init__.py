"""Simulation of SAR/InSAR data for tests and benchmarks: the truth that algorithms are measured
against (phase screens, coherence, interferometric noise)."""

from gep.algorithms.simulate.phase import (
    coherence_map,
    power_law_screen,
    unwrap_error_share,
    wrapped_noisy_phase,
)

__all__ = ["coherence_map", "power_law_screen", "unwrap_error_share", "wrapped_noisy_phase"]
