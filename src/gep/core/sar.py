"""Value types shared by the Sentinel-1 reader (gep.io) and the SAR science (gep.algorithms).

They live in core because io and algorithms sit on one layer and may not import each other:
the reader fills these, the science consumes them, and neither knows the other exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

SPEED_OF_LIGHT = 299_792_458.0
#: Sentinel-1 C-band wavelength (5.405 GHz), the value MintPy and ESA's annotation carry.
S1_WAVELENGTH = 0.055465763


@dataclass(frozen=True)
class StateVectors:
    """Orbit state vectors in ECEF (ITRF), UTC times.

    ``source`` says where they came from (``annotation``, ``RESORB``, ``POEORB``) because
    precise and restituted orbits must win over the annotation's when both are at hand.
    """

    time: NDArray[np.datetime64]  # (n,) datetime64[ns], UTC
    position: NDArray[np.float64]  # (n, 3) metres
    velocity: NDArray[np.float64]  # (n, 3) m/s
    source: str = "annotation"

    def __post_init__(self) -> None:
        n = len(self.time)
        if self.position.shape != (n, 3) or self.velocity.shape != (n, 3):
            raise ValueError("state vectors: time, position and velocity disagree in length")
        if n < 2:
            raise ValueError("state vectors: at least 2 are needed to interpolate an orbit")

    @property
    def start(self) -> np.datetime64:
        return self.time[0]

    @property
    def stop(self) -> np.datetime64:
        return self.time[-1]

    def covers(self, start: np.datetime64, stop: np.datetime64, margin_s: float = 30.0) -> bool:
        """True when the vectors span [start, stop] with ``margin_s`` to spare at each end.

        Interpolation needs neighbours on both sides of a time; a margin keeps the window
        centred well inside the vectors.
        """
        m = np.timedelta64(int(margin_s * 1e9), "ns")
        return bool(self.time[0] <= start - m and self.time[-1] >= stop + m)


@dataclass(frozen=True)
class SwathGeometry:
    """Acquisition geometry of one SLC swath (or one burst of it) in radar coordinates.

    Lines run in azimuth (zero-Doppler time), samples in slant range. Everything the
    simulator and the DInSAR chain need to map between radar and ground coordinates.
    """

    mission: str  # "S1A", "S1B", ...
    swath: str  # "IW1", "IW2", "IW3", "SM", ...
    polarisation: str  # "VV", "VH", ...
    pass_direction: str  # "ascending" | "descending"
    relative_orbit: int
    wavelength: float  # m
    first_line_time: np.datetime64  # zero-Doppler time of line 0, UTC
    azimuth_time_interval: float  # s between lines
    slant_range_time: float  # two-way time to sample 0, s
    range_sampling_rate: float  # Hz
    lines: int
    samples: int
    range_pixel_spacing: float  # m (slant)
    azimuth_pixel_spacing: float  # m (ground, along track)
    incidence_angle_mid: float  # degrees on the ellipsoid at mid swath
    heading: float  # degrees, platform flight direction clockwise from north
    orbit: StateVectors
    lines_per_burst: int = 0  # 0 for a stripmap-like product
    burst_id: str = ""
    #: zero-Doppler time of the first line of each burst (TOPS). Bursts overlap in time, so
    #: line ``l`` of a multi-burst swath is at ``burst_start_times[l // lines_per_burst]``
    #: ``+ (l % lines_per_burst) * azimuth_time_interval``, not at ``first_line_time + l * ati``.
    burst_start_times: tuple[np.datetime64, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def near_range(self) -> float:
        """Slant range to sample 0 (m)."""
        return self.slant_range_time * SPEED_OF_LIGHT / 2.0

    def slant_range(self, sample: NDArray[np.float64] | float) -> NDArray[np.float64]:
        return np.asarray(self.near_range + np.asarray(sample) * self.range_pixel_spacing)

    def line_time_s(self, line: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Seconds after ``first_line_time`` of a (fractional) line."""
        return np.asarray(np.asarray(line) * self.azimuth_time_interval)


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(np.asarray(t, dtype="datetime64[ns]"), unit="ns")) + "Z"


def _time(s: str) -> np.datetime64:
    return np.datetime64(s.rstrip("Z"), "ns")


def state_vectors_to_json(sv: StateVectors) -> list[dict[str, object]]:
    """The ``gep:state_vectors`` form the catalogue stores (as from ASF): one dict a vector."""
    return [
        {"time": _iso(t), "position": [float(v) for v in p], "velocity": [float(v) for v in w]}
        for t, p, w in zip(sv.time, sv.position, sv.velocity, strict=True)
    ]


def state_vectors_from_json(
    rows: list[dict[str, object]], source: str = "annotation"
) -> StateVectors:
    return StateVectors(
        time=np.array([_time(str(r["time"])) for r in rows], dtype="datetime64[ns]"),
        position=np.array([r["position"] for r in rows], dtype="float64"),
        velocity=np.array([r["velocity"] for r in rows], dtype="float64"),
        source=source,
    )


_SCALARS = (
    "mission", "swath", "polarisation", "pass_direction", "relative_orbit", "wavelength",
    "azimuth_time_interval", "slant_range_time", "range_sampling_rate", "lines", "samples",
    "range_pixel_spacing", "azimuth_pixel_spacing", "incidence_angle_mid", "heading",
    "lines_per_burst", "burst_id",
)  # fmt: skip


def swath_geometry_to_json(geom: SwathGeometry) -> dict[str, object]:
    """A JSON-ready dict of a swath geometry, orbit included, for product metadata.

    Stored in a product's STAC properties (``gep:swath_geometry``), it lets the services
    check a pair (orbits, baselines, overlap) before a job is queued, without any file.
    """
    out: dict[str, object] = {k: getattr(geom, k) for k in _SCALARS}
    out["first_line_time"] = _iso(geom.first_line_time)
    out["orbit_source"] = geom.orbit.source
    out["state_vectors"] = state_vectors_to_json(geom.orbit)
    return out


def swath_geometry_from_json(data: dict[str, object]) -> SwathGeometry:
    rows = data["state_vectors"]
    if not isinstance(rows, list):
        raise ValueError("swath geometry: state_vectors must be a list")
    orbit = state_vectors_from_json(rows, str(data.get("orbit_source", "annotation")))
    kwargs = {k: data[k] for k in _SCALARS if k in data}
    return SwathGeometry(
        first_line_time=_time(str(data["first_line_time"])),
        orbit=orbit,
        **kwargs,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class RangePolynomial:
    """One entry of an annotation list that is a polynomial in slant-range time.

    Sentinel-1 annotations give the azimuth FM rate (``azimuthFmRateList``) and the Doppler
    centroid (``dcEstimateList``, ``dataDcPolynomial``) as such entries, each valid around its
    ``azimuth_time``: value(τ) = Σ cₖ (τ − t0)ᵏ with τ the two-way slant-range time (s).
    """

    azimuth_time: np.datetime64
    t0: float
    coefficients: tuple[float, ...]

    def __call__(self, tau: NDArray[np.float64] | float) -> NDArray[np.float64]:
        x = np.asarray(tau, dtype="float64") - self.t0
        out = np.zeros_like(x)
        for c in reversed(self.coefficients):
            out = out * x + c
        return out


@dataclass(frozen=True)
class TopsBurst:
    """One burst of a TOPS (IW/EW) SLC swath: its own radar grid and its Doppler history.

    ``geometry`` is the whole burst as a stripmap-like grid: ``first_line_time`` is the burst's
    ``azimuthTime``, ``lines`` its ``linesPerBurst``, ``samples`` the swath's samples. The
    deramping function is defined on that full grid (η is centred on the burst's middle line,
    τ_mid on the swath's middle sample), so a processing window is a crop of it, never a
    replacement. ``first_line`` places the burst in the measurement TIFF; the valid window
    (inclusive, burst-relative lines) excludes the zero-filled edges every burst has.
    """

    geometry: SwathGeometry
    index: int
    burst_id: str  # "117_249402_IW1" (ESA burst id) or "" for products before IPF 3.40
    first_line: int
    first_valid_line: int
    last_valid_line: int
    first_valid_sample: int
    last_valid_sample: int
    azimuth_steering_rate: float  # rad/s (the annotation gives degrees/s)
    radar_frequency: float  # Hz
    azimuth_fm_rate: RangePolynomial  # Hz/s, the entry nearest the burst's middle
    doppler_centroid: RangePolynomial  # Hz, the data DC estimate nearest the burst's middle
    product: str = ""  # the product the burst was read from (for error messages and reads)

    @property
    def mid_time(self) -> np.datetime64:
        g = self.geometry
        half = np.timedelta64(round((g.lines - 1) / 2 * g.azimuth_time_interval * 1e9), "ns")
        return g.first_line_time + half
