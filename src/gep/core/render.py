"""How a service's output is drawn: a closed, typed declaration each service makes per output.

A service knows what its numbers mean (a LOS displacement is signed and drawn diverging about
zero, a coherence is 0–1 grey, a wrapped phase cycles over −π..π, a hotspot mask is a handful
of classes); the map does not. So services declare a :class:`RenderHint` per output
(``Process.renders``), the job publication turns it into the STAC ``render`` extension,
``raster:bands`` and ``classification:classes`` (with the range taken from the data where the
hint leaves it open), and the tiles and legends read it back. It lives in ``gep.core`` because
processes (layer 2), jobs, tiles and the API all name it.

Colour maps are rio-tiler's names (``rio_tiler.colormap.cmap.list()``), so a tile, a legend and
a KMZ drawn from one hint have the same colours; a test checks every declared name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum


class RenderKind(StrEnum):
    """What kind of quantity an output holds, which decides how its range is chosen."""

    #: signed about zero (displacement, velocity, a ratio in dB): a symmetric range
    DIVERGING = "diverging"
    #: one-sided (coherence, amplitude, a magnitude): low to high
    SEQUENTIAL = "sequential"
    #: an angle that wraps (a wrapped phase): the colour map's ends meet
    CYCLIC = "cyclic"
    #: integer classes (a mask): one colour per value, no range
    CLASSES = "classes"
    #: bands that are already colours (an RGB composite): drawn as they are
    COMPOSITE = "composite"


class Resampling(StrEnum):
    """How tiles resample the output (rio-tiler / GDAL names)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


@dataclass(frozen=True, slots=True)
class RenderClass:
    """One class of a class mask: its value, its name and its colour."""

    value: int
    name: str
    #: ``#rrggbb`` or ``#rrggbbaa``
    color: str
    description: str = ""

    def __post_init__(self) -> None:
        hexpart = self.color.removeprefix("#")
        if not self.color.startswith("#") or len(hexpart) not in (6, 8):
            raise ValueError(f"class {self.value}: colour {self.color!r} is not #rrggbb[aa]")
        int(hexpart, 16)  # raises on a non-hex digit

    @property
    def rgba(self) -> tuple[int, int, int, int]:
        h = self.color.removeprefix("#")
        alpha = int(h[6:8], 16) if len(h) == 8 else 255
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha


@dataclass(frozen=True, slots=True)
class RenderHint:
    """How one output is drawn.

    The range is one of: ``rescale`` (fixed, e.g. coherence 0–1, phase −π..π); ``half_range``
    for a DIVERGING output (symmetric about zero; the value is the default, used when the data
    gives none — at publication the 99th percentile of |value| is taken); or neither, for a
    range taken from the data's 2nd–98th percentiles at publication.
    """

    kind: RenderKind
    title: str
    unit: str = ""
    #: a rio-tiler colour map name; None for CLASSES (``classes`` give the colours) and
    #: COMPOSITE outputs
    colormap_name: str | None = None
    rescale: tuple[float, float] | None = None
    half_range: float | None = None
    #: a fixed low end for a SEQUENTIAL range whose high end comes from the data (a magnitude
    #: starts at 0)
    floor: float | None = None
    #: the no-data value the output is written with (NaN for float outputs)
    nodata: float | None = math.nan
    classes: tuple[RenderClass, ...] = field(default_factory=tuple)
    resampling: Resampling = Resampling.NEAREST

    def __post_init__(self) -> None:
        if self.kind is RenderKind.CLASSES:
            if not self.classes:
                raise ValueError(f"{self.title}: a CLASSES output declares its classes")
            if self.colormap_name is not None:
                raise ValueError(f"{self.title}: classes carry the colours, not a colour map")
        elif self.kind is not RenderKind.COMPOSITE and not self.colormap_name:
            raise ValueError(f"{self.title}: a {self.kind} output names a colour map")
        if self.rescale is not None and not self.rescale[0] < self.rescale[1]:
            raise ValueError(f"{self.title}: rescale {self.rescale} is not (low, high)")
        if self.half_range is not None:
            if self.kind is not RenderKind.DIVERGING or self.half_range <= 0:
                raise ValueError(f"{self.title}: half_range is a positive DIVERGING range")
            if self.rescale is not None:
                raise ValueError(f"{self.title}: give rescale or half_range, not both")

    @property
    def symmetric(self) -> bool:
        return self.kind is RenderKind.DIVERGING and self.rescale is None

    def range_for(
        self, abs_p99: float | None, p2: float | None, p98: float | None
    ) -> tuple[float, float] | None:
        """The (low, high) to draw with, given the data's percentiles (None when it has no
        valid pixel): fixed, symmetric about zero, or the 2–98 % stretch; None for classes and
        composites."""
        if self.kind in (RenderKind.CLASSES, RenderKind.COMPOSITE):
            return self.rescale
        if self.rescale is not None:
            return self.rescale
        if self.symmetric:
            half = abs_p99 if abs_p99 is not None and abs_p99 > 0 else self.half_range
            half = nice(half if half is not None else 1.0)
            return -half, half
        if self.floor is not None:
            high = nice(p98) if p98 is not None and p98 > self.floor else self.floor + 1.0
            return self.floor, high
        if p2 is None or p98 is None or not p2 < p98:
            return (0.0, 1.0) if p2 is None else (p2, p2 + 1.0)
        return nice(p2, down=True), nice(p98)


def nice(value: float, *, down: bool = False) -> float:
    """``value`` rounded outwards to 3 significant digits (a legend's end reads 0.0123, not
    0.012345678)."""
    if value == 0 or not math.isfinite(value):
        return value
    exp = math.floor(math.log10(abs(value))) - 2
    step = 10.0**exp
    rounded = (math.floor if down else math.ceil)(value / step) * step
    return float(f"{rounded:.3g}")


# --- the hints the services share -------------------------------------------------------------

WRAPPED_PHASE = RenderHint(
    RenderKind.CYCLIC, "Wrapped phase", "rad", "twilight", rescale=(-math.pi, math.pi)
)
COHERENCE = RenderHint(RenderKind.SEQUENTIAL, "Coherence", "", "greys_r", rescale=(0.0, 1.0))
AMPLITUDE_DB = RenderHint(RenderKind.SEQUENTIAL, "Amplitude", "dB", "greys_r")
UNWRAPPED_PHASE = RenderHint(
    RenderKind.DIVERGING, "Unwrapped phase", "rad", "rdbu_r", half_range=10.0
)
LOS_DISPLACEMENT_M = RenderHint(
    RenderKind.DIVERGING,
    "LOS displacement (+ towards the satellite)",
    "m",
    "rdbu_r",
    half_range=0.05,
    resampling=Resampling.BILINEAR,
)
LOS_DISPLACEMENT_MM = RenderHint(
    RenderKind.DIVERGING,
    "LOS displacement (+ towards the satellite)",
    "mm",
    "rdbu_r",
    half_range=50.0,
    resampling=Resampling.BILINEAR,
)
LOS_VELOCITY_MM_YR = RenderHint(
    RenderKind.DIVERGING,
    "Mean LOS velocity (+ towards the satellite)",
    "mm/yr",
    "rdbu_r",
    half_range=20.0,
    resampling=Resampling.BILINEAR,
)
