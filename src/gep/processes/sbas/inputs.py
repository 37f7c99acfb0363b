"""What ``sbas`` accepts and answers: interferograms or a network of SLC pairs, and options.

The models refuse what they can alone (one source, one reference, dinsar options as dinsar
would refuse them); checks that need the interferograms are in :mod:`.stack`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gep.algorithms.timeseries.network import as_day
from gep.core.errors import InvalidInput
from gep.processes.base import ITEM_REF
from gep.processes.dinsar import DinsarInputs
from gep.processes.sar_common import SlcPair

#: asset keys tried, in order, when ``asset`` is not given (dinsar results, PyRate/GAMMA names)
PHASE_ASSETS = ("unwrapped_phase", "unw", "los_displacement", "displacement")
COHERENCE_ASSETS = ("coherence", "cc", "coh")
FIELD = "inputs.interferograms"
NETWORK_FIELD = "inputs.network"
MAX_NETWORK_PAIRS = 1000
#: the dinsar inputs that a network's pairs may set (the rest are the pair's or sbas's own)
DINSAR_OPTIONS = (
    "aoi", "looks_azimuth", "looks_range", "coherence_window", "filter_strength", "unwrap_method",
    "polarisation", "orbit",
)  # fmt: skip


class NetworkPair(SlcPair):
    """One pair of a network (its other members, btemp and bperp, are accepted)."""

    model_config = ConfigDict(extra="allow")


class SbasNetwork(BaseModel):
    """A small-baseline network: the answer of ``POST /insar/network`` as it stands (only
    ``pairs`` is read; ``acquisitions``, ``connected``, ``components``... are accepted)."""

    model_config = ConfigDict(extra="allow")

    pairs: list[NetworkPair] = Field(
        ..., min_length=2, max_length=MAX_NETWORK_PAIRS, description="The pairs to form"
    )


class SbasInputs(BaseModel):
    interferograms: list[str | dict[str, Any]] | None = Field(
        None,
        min_length=2,
        description="Catalogue items of geocoded unwrapped interferograms (dinsar results or "
        'GeoTIFF interferograms), each "C/I" or {"href": ".../collections/C/items/I"}; all on '
        "one grid, with their two dates (tags FIRST_DATE/SECOND_DATE or start/end_datetime). "
        "Give this or network",
        json_schema_extra={
            "items": {"anyOf": [{"type": "string"}, {"type": "object"}], "format": ITEM_REF}
        },
    )
    network: SbasNetwork | None = Field(
        None,
        description='A network of SLC pairs, as POST /insar/network answers it ({"pairs": '
        '[{"reference": "C/I", "secondary": "C/I"}, ...], ...}): the job forms each pair\'s '
        "unwrapped interferogram with the dinsar chain, on one grid, then inverts them. Give "
        "this or interferograms",
        json_schema_extra={"x-gep-item-pairs": True},
    )
    dem: str | dict[str, Any] | None = Field(
        None,
        description="With network: a DEM item (asset 'dem') for the dinsar chain; without one "
        "the ellipsoid is used and topography stays in the phase",
        json_schema_extra={"format": ITEM_REF},
    )
    dinsar: dict[str, Any] = Field(
        default_factory=dict,
        description="With network: dinsar inputs for every pair, any of "
        + ", ".join(DINSAR_OPTIONS)
        + " (see the dinsar service; its defaults otherwise)",
    )
    asset: str | None = Field(
        None,
        description="Key of the unwrapped asset in each item (radians, or metres when the "
        "raster's DATA_UNITS says so); default: the first of " + ", ".join(PHASE_ASSETS),
    )
    coherence_asset: str | None = Field(
        None,
        description="Key of the coherence asset; default: the first of "
        + ", ".join(COHERENCE_ASSETS)
        + " when every item has one",
    )
    reference_point: list[float] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="[longitude, latitude] of the pixel whose motion is taken as zero; it must "
        "be valid in every interferogram. Default: the most coherent pixel valid in all",
    )
    reference_area: list[float] | None = Field(
        None,
        min_length=4,
        max_length=4,
        description="[west, south, east, north]: its mean motion is taken as zero (instead of "
        "a point)",
    )
    points: list[list[float] | dict[str, Any]] = Field(
        default_factory=list,
        max_length=1000,
        description='Points whose time series go into the CSV: [lon, lat] or {"id": "name", '
        '"lon": .., "lat": ..}; the reference is always added',
    )
    min_coherence: float = Field(
        0.0, ge=0.0, le=1.0, description="Interferogram pixels less coherent than this are left out"
    )
    weighting: Literal["none", "coherence"] = Field(
        "none", description="'coherence': weighted least squares (Cramér-Rao inverse variance)"
    )
    looks: float = Field(1.0, ge=1.0, description="Equivalent looks of the coherence (weights)")
    min_interferograms: int | None = Field(
        None, ge=1, description="A pixel needs this many valid interferograms (default N − 1)"
    )
    seasonal: bool = Field(False, description="Fit an annual term with the velocity")
    steps: list[str] = Field(
        default_factory=list, description="Dates (YYYY-MM-DD) of steps to fit (earthquakes...)"
    )
    dem_error: bool = Field(
        False,
        description="Estimate and remove the DEM error (needs each interferogram's perpendicular "
        "baseline, slant range and incidence: tags BPERP_METRES, SLANT_RANGE_METRES, "
        "INCIDENCE_DEGREES or item properties gep:perpendicular_baseline, gep:slant_range, "
        "gep:incidence)",
    )
    block_mb: int = Field(
        256, ge=1, le=16384, description="Memory budget of one block of rows (MiB)"
    )

    @field_validator("reference_point")
    @classmethod
    def _lonlat(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and not (-180 <= value[0] <= 360 and -90 <= value[1] <= 90):
            raise ValueError("reference_point is [longitude, latitude] in degrees")
        return value

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[str]) -> list[str]:
        for v in value:
            as_day(v)
        return value

    @field_validator("dinsar")
    @classmethod
    def _dinsar(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(DINSAR_OPTIONS))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not a dinsar option sbas passes on (it takes "
                f"{', '.join(DINSAR_OPTIONS)})"
            )
        pair_inputs(value)  # refused as dinsar would refuse them
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SbasInputs:
        if (self.interferograms is None) == (self.network is None):
            field = "inputs.network" if self.network is not None else "inputs.interferograms"
            raise InvalidInput(
                "give either interferograms (unwrapped interferograms in the catalogue) or "
                "network (SLC pairs, as POST /insar/network answers), "
                + ("not both" if self.network is not None else "one of them"),
                field=field,
            )
        if self.network is None and (self.dem is not None or self.dinsar):
            field = "inputs.dem" if self.dem is not None else "inputs.dinsar"
            raise InvalidInput(
                f"{field} applies only to a network (the interferograms are already formed)",
                field=field,
            )
        return self

    @model_validator(mode="after")
    def _one_reference(self) -> SbasInputs:
        if self.reference_point is not None and self.reference_area is not None:
            raise ValueError("give reference_point or reference_area, not both")
        if self.reference_area is not None:
            w, s, e, n = self.reference_area
            if not (w < e and s < n):
                raise ValueError("reference_area is [west, south, east, north] with west < east")
        return self


class SbasOutputs(BaseModel):
    velocity: str = Field(..., description="Mean LOS velocity COG (mm/yr, + towards the satellite)")
    velocity_std: str = Field(..., description="Standard error of the velocity COG (mm/yr)")
    temporal_coherence: str
    displacement: dict[str, str] = Field(
        ..., description="LOS displacement COG (mm, relative to the first date) per date"
    )
    timeseries_csv: str
    kmz: str
    dates: list[str]
    interferograms: int
    acquisitions: int
    connected: bool = Field(..., description="False when the network splits (minimum-norm SVD)")
    reference: dict[str, Any]
    velocity_range_mm_yr: list[float] = Field(..., description="2nd and 98th percentiles")
    network_interferograms: dict[str, str] | None = Field(
        None,
        description="With network: the unwrapped phase COG formed for each pair "
        "(FIRST_SECOND dates); its coherence is the asset coherence_FIRST_SECOND",
    )


def pair_inputs(
    options: dict[str, Any],
    reference: str | dict[str, Any] = "-/-",
    secondary: str | dict[str, Any] = "-/-",
    dem: str | dict[str, Any] | None = None,
) -> DinsarInputs:
    """The dinsar inputs of one pair of a network (``options``: the ``dinsar`` input)."""
    try:
        return DinsarInputs.model_validate(
            {**options, "reference": reference, "secondary": secondary, "dem": dem}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def parse_points(points: list[list[float] | dict[str, Any]]) -> list[tuple[str, float, float]]:
    out = []
    for k, p in enumerate(points):
        try:
            if isinstance(p, dict):
                name = str(p.get("id") or p.get("name") or f"P{k + 1}")
                lon, lat = float(p["lon"]), float(p["lat"])
            else:
                if len(p) != 2:
                    raise ValueError
                name, lon, lat = f"P{k + 1}", float(p[0]), float(p[1])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(
                f'inputs.points[{k}]: a point is [lon, lat] or {{"id": .., "lon": .., "lat": ..}}',
                field=f"inputs.points[{k}]",
            ) from None
        out.append((name, lon, lat))
    return out
