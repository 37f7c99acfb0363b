"""GAMMA parameter files: SLC headers (``*.slc.par``) and perpendicular-baseline tables.

GAMMA-processed stacks (PyRate's inputs among them) describe each acquisition in an ISP
``slc.par`` (timing, range geometry, orbit state vectors) and each pair's baselines in a
``base_perp`` table. Reading both lets GEP check its own baselines against GAMMA's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gep.core.errors import InvalidInput
from gep.core.sar import StateVectors


@dataclass(frozen=True)
class GammaSlc:
    """What an ISP ``slc.par`` says about an acquisition (times UTC)."""

    sensor: str
    date: np.datetime64  # midnight of the acquisition day
    start_time: np.datetime64
    center_time: np.datetime64
    near_range: float  # m
    center_range: float  # m
    range_pixel_spacing: float
    azimuth_line_time: float
    lines: int
    samples: int
    orbit: StateVectors


def _fields(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text(errors="replace").splitlines():
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        out[key.strip()] = value.split()
    return out


def read_slc_par(path: str | os.PathLike[str]) -> GammaSlc:
    p = Path(path)
    f = _fields(p)
    try:
        y, m, d = (int(v) for v in f["date"][:3])
        day = np.datetime64(f"{y:04d}-{m:02d}-{d:02d}T00:00:00", "ns")

        def at(seconds: float) -> np.datetime64:
            return day + np.timedelta64(round(seconds * 1e9), "ns")

        n = int(f["number_of_state_vectors"][0])
        t0 = float(f["time_of_first_state_vector"][0])
        dt = float(f["state_vector_interval"][0])
        pos = np.array(
            [[float(v) for v in f[f"state_vector_position_{i}"][:3]] for i in range(1, n + 1)]
        )
        vel = np.array(
            [[float(v) for v in f[f"state_vector_velocity_{i}"][:3]] for i in range(1, n + 1)]
        )
        times = np.array([at(t0 + i * dt) for i in range(n)], dtype="datetime64[ns]")
        return GammaSlc(
            sensor=" ".join(f.get("sensor", [])),
            date=day,
            start_time=at(float(f["start_time"][0])),
            center_time=at(float(f["center_time"][0])),
            near_range=float(f["near_range_slc"][0]),
            center_range=float(f["center_range_slc"][0]),
            range_pixel_spacing=float(f["range_pixel_spacing"][0]),
            azimuth_line_time=float(f["azimuth_line_time"][0]),
            lines=int(f["azimuth_lines"][0]),
            samples=int(f["range_samples"][0]),
            orbit=StateVectors(times, pos, vel, source="GAMMA slc.par"),
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(f"{p.name} is not a readable GAMMA slc.par ({exc!r})") from exc


@dataclass(frozen=True)
class GammaBperp:
    """A ``base_perp`` table: baselines at (line, sample) of the (multilooked) interferogram."""

    lines: int
    samples: int
    line: NDArray[np.float64]
    sample: NDArray[np.float64]
    bpar: NDArray[np.float64]
    bperp: NDArray[np.float64]

    def at_centre(self) -> tuple[float, float]:
        """(bperp, bpar) at the interferogram's centre, bilinear in the table."""
        from scipy.interpolate import griddata

        pts = np.column_stack([self.line, self.sample])
        centre = np.array([[(self.lines - 1) / 2, (self.samples - 1) / 2]])
        bperp = float(griddata(pts, self.bperp, centre, method="linear")[0])
        bpar = float(griddata(pts, self.bpar, centre, method="linear")[0])
        return bperp, bpar


def read_bperp(path: str | os.PathLike[str]) -> GammaBperp:
    p = Path(path)
    lines = samples = 0
    rows: list[list[float]] = []
    for text in p.read_text(errors="replace").splitlines():
        if text.startswith("interferogram lines:"):
            parts = text.replace(":", " ").split()
            lines, samples = int(parts[2]), int(parts[-1])
            continue
        parts = text.split()
        if len(parts) == 9:
            try:
                rows.append([float(v) for v in parts])
            except ValueError:
                continue
    if not rows or not lines:
        raise InvalidInput(f"{p.name} is not a GAMMA base_perp table")
    a = np.array(rows)
    return GammaBperp(lines, samples, a[:, 0], a[:, 1], a[:, 6], a[:, 7])
