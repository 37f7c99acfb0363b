"""Time series of ground motion from a stack of interferograms (SBAS)."""
