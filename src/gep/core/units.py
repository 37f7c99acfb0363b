"""Quantities as people read them."""

from __future__ import annotations


def human_bytes(n: int | float) -> str:
    """Bytes in decimal units (1 kB = 1000 B, as disks and bills count): ``1.5 GB``."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
