"""Optical science: sub-pixel offset tracking and its multi-pair time series (landslides,
co-seismic offsets); see ``docs/science.md``."""
