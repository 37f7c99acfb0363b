"""``sbas``: ground-motion velocity and displacement time series from a stack of interferograms.

Runs the small-baseline inversion (:mod:`gep.algorithms.timeseries`) block by block over a
stack of geocoded unwrapped interferograms — ``dinsar`` results, or any GeoTIFF interferograms
in the catalogue (e.g. the Mexico City sample collection) — and publishes the mean LOS velocity
(mm/yr) with its standard error, the temporal coherence, the LOS displacement of every date
(mm, one COG each), PNG quicklooks with legends, a KMZ of the velocity and a CSV of the time
series at the requested points and the reference.

Or, given a ``network`` of SLC pairs (as ``POST /insar/network`` answers it), the job first
forms each pair's unwrapped interferogram with the ``dinsar`` chain
(:func:`gep.processes.dinsar.form_interferogram`), all geocoded on the first pair's grid and
kept among its results, then inverts them the same way.

Everything that can be refused is refused before work starts (in ``preflight``, from the
catalogue items and the rasters' headers; again when the job starts): interferograms on
different grids or without dates, dates that do not form a network, fewer than 3 acquisitions,
a reference point outside the grid or on no-data, points outside the grid; for a network,
dinsar's checks of every pair (tracks, dates, footprints, aoi, DEM) and its dates' network.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gep.algorithms.sar.geocode import GeoGrid
from gep.algorithms.timeseries.model import DemErrorGeometry, TemporalModel
from gep.algorithms.timeseries.network import Network, as_day
from gep.algorithms.timeseries.sbas import (
    BLOCK_BYTES,
    SbasOptions,
    displacement_to_phase,
    reference_phase,
    row_blocks,
    run_sbas,
)
from gep.core.errors import InvalidInput
from gep.io.hrefs import local_path
from gep.io.ifg_stack import (
    BlockWriter,
    Grid,
    Interferogram,
    check_same_grid,
    mean_coherence,
    read_interferogram,
    read_pixels,
    read_rows,
)
from gep.io.slc_product import geometry_of
from gep.processes.base import ITEM_REF, Process, ProcessContext
from gep.processes.dinsar import DinsarInputs, form_interferogram
from gep.processes.sar_common import (
    SlcPair,
    check_items,
    footprint_of,
    write_kmz,
    write_png_with_legend,
)

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
#: asset keys tried, in order, when ``asset`` is not given (dinsar results, PyRate/GAMMA names)
PHASE_ASSETS = ("unwrapped_phase", "unw", "los_displacement", "displacement")
COHERENCE_ASSETS = ("coherence", "cc", "coh")
FIELD = "inputs.interferograms"
NETWORK_FIELD = "inputs.network"
MAX_NETWORK_PAIRS = 1000
#: the dinsar inputs that a network's pairs may set (the rest are the pair's or sbas's own)
DINSAR_OPTIONS = (
    "aoi", "looks_azimuth", "looks_range", "coherence_window", "filter_strength", "unwrap_method",
)  # fmt: skip
#: columns of the time-series CSV: one row per point and date (long format: filter by point,
#: plot date against displacement_mm, draw model_mm as the fitted trend)
CSV_COLUMNS = [
    "point", "longitude", "latitude", "row", "col", "date", "decimal_year",
    "displacement_mm", "model_mm", "velocity_mm_yr", "temporal_coherence",
]  # fmt: skip


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


# -- the stack ----------------------------------------------------------------------------


@dataclass
class Stack:
    """Interferograms checked to share a grid and to form a network."""

    ifgs: list[Interferogram]
    grid: Grid
    network: Network
    wavelength: float
    #: the interferograms' labels, in the network's (= the input's) order
    labels: list[str]


def _asset_key(item: dict[str, Any], wanted: str | None, choices: tuple[str, ...], k: int) -> str:
    assets = item.get("assets") or {}
    if wanted is not None:
        if wanted not in assets:
            raise InvalidInput(
                f"{FIELD}[{k}]: item '{item.get('id')}' has no asset '{wanted}' (it has: "
                f"{', '.join(sorted(assets))})",
                field=f"{FIELD}[{k}]",
            )
        return wanted
    for key in choices:
        if key in assets:
            return key
    raise InvalidInput(
        f"{FIELD}[{k}]: item '{item.get('id')}' has none of the assets {', '.join(choices)} "
        f"(it has: {', '.join(sorted(assets))}); name one with 'asset'",
        field=f"{FIELD}[{k}]",
    )


def _prop_date(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    return str(value)[:10] if value else None


def interferogram_of(
    item: dict[str, Any], k: int, inputs: SbasInputs, paths: dict[str, Path]
) -> Interferogram:
    """An interferogram from its item and its staged files (``paths`` by asset key)."""
    key = _asset_key(item, inputs.asset, PHASE_ASSETS, k)
    coh_key = inputs.coherence_asset
    if coh_key is None:
        coh_key = next((c for c in COHERENCE_ASSETS if c in (item.get("assets") or {})), None)
    elif coh_key not in (item.get("assets") or {}):
        raise InvalidInput(
            f"inputs.coherence_asset: item '{item.get('id')}' has no asset '{coh_key}'",
            field="inputs.coherence_asset",
        )
    label = f"{item.get('collection', '')}/{item.get('id', k)}"
    ifg = read_interferogram(paths[key], f"{FIELD}[{k}]", paths.get(coh_key) if coh_key else None)
    props = item.get("properties") or {}
    ifg = ifg.with_metadata(
        label=label,
        first_date=ifg.first_date or _prop_date(props, "start_datetime"),
        second_date=ifg.second_date or _prop_date(props, "end_datetime"),
        wavelength=ifg.wavelength or props.get("gep:wavelength"),
        bperp=props.get("gep:perpendicular_baseline", ifg.bperp),
        slant_range=props.get("gep:slant_range", ifg.slant_range),
        incidence=props.get("gep:incidence", ifg.incidence),
    )
    if key in ("los_displacement", "displacement") and "DATA_UNITS" not in ifg.tags:
        ifg = ifg.with_metadata(units="metres")
    return ifg


def build_stack(ifgs: list[Interferogram]) -> Stack:
    """Every check a stack can fail before its inversion: dates, network, grid, wavelength."""
    for k, ifg in enumerate(ifgs):
        if not ifg.first_date or not ifg.second_date:
            raise InvalidInput(
                f"{FIELD}[{k}] ({ifg.label}) has no acquisition dates: give the raster the tags "
                "FIRST_DATE and SECOND_DATE, or the item start_datetime and end_datetime",
                field=f"{FIELD}[{k}]",
            )
    network = Network.from_pairs([(i.first_date, i.second_date) for i in ifgs], field=FIELD)  # type: ignore[misc]
    grid = check_same_grid(ifgs, FIELD)
    if not grid.crs or "4326" not in grid.crs:
        raise InvalidInput(
            f"{FIELD}: the interferograms must be geocoded in EPSG:4326 (as dinsar writes them); "
            f"got {grid.crs or 'no CRS'}",
            field=FIELD,
        )
    wavelengths = {round(i.wavelength, 6) for i in ifgs if i.wavelength}
    if len(wavelengths) > 1:
        raise InvalidInput(
            f"{FIELD}: the interferograms come from different wavelengths ({sorted(wavelengths)})",
            field=FIELD,
        )
    if not wavelengths:
        from gep.core.sar import S1_WAVELENGTH

        wavelength = S1_WAVELENGTH
    else:
        wavelength = float(next(iter(wavelengths)))
    return Stack(ifgs, grid, network, wavelength, [i.label for i in ifgs])


def reference_window(stack: Stack, inputs: SbasInputs) -> tuple[int, int, int, int] | None:
    """(row, col, rows, cols) of the reference point or area, checked inside the grid."""
    grid = stack.grid
    if inputs.reference_point is not None:
        lon, lat = inputs.reference_point
        r, c = grid.pixel_of(lon, lat)
        if not grid.contains(r, c):
            raise InvalidInput(
                f"inputs.reference_point [{lon}, {lat}] lies outside the interferograms "
                f"({_bounds(grid)})",
                field="inputs.reference_point",
            )
        return r, c, 1, 1
    if inputs.reference_area is not None:
        w, s, e, n = inputs.reference_area
        r0, c0 = grid.pixel_of(w, n)
        r1, c1 = grid.pixel_of(e, s)
        r0, r1 = sorted((r0, r1))
        c0, c1 = sorted((c0, c1))
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(r1, grid.height - 1), min(c1, grid.width - 1)
        if r0 > r1 or c0 > c1:
            raise InvalidInput(
                f"inputs.reference_area lies outside the interferograms ({_bounds(grid)})",
                field="inputs.reference_area",
            )
        return r0, c0, r1 - r0 + 1, c1 - c0 + 1
    return None


def _bounds(grid: Grid) -> str:
    w, s, e, n = geogrid(grid).bounds
    return f"they cover [{w:.5f}, {s:.5f}, {e:.5f}, {n:.5f}]"


def geogrid(grid: Grid) -> GeoGrid:
    a, _, c, _, e, f = grid.transform[:6]
    return GeoGrid(f + e / 2, c + a / 2, e, a, grid.height, grid.width)


def reference_offsets(
    stack: Stack, window: tuple[int, int, int, int], field: str
) -> NDArray[np.float64]:
    """Each interferogram's value at the reference (phase, radians), refused on no-data."""
    r, c, h, w = window
    samples = np.concatenate(
        [read_pixels(stack.ifgs, r + i, c, w) for i in range(h)], axis=1
    )  # (M, h*w)
    samples = _as_phase(stack, samples)
    return reference_phase(samples, stack.labels, field)


def _as_phase(stack: Stack, values: NDArray[np.floating]) -> NDArray[np.float32]:
    """Interferograms given in metres become phase, so every one is inverted in radians."""
    metres = np.array([i.units == "metres" for i in stack.ifgs])
    out = np.asarray(values, dtype=np.float32)
    if metres.any():
        out = out.copy()
        out[metres] = displacement_to_phase(out[metres], stack.wavelength)
    return out


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


def check_points(stack: Stack, inputs: SbasInputs) -> list[tuple[str, int, int]]:
    found = []
    for k, (name, lon, lat) in enumerate(parse_points(inputs.points)):
        r, c = stack.grid.pixel_of(lon, lat)
        if not stack.grid.contains(r, c):
            raise InvalidInput(
                f"inputs.points[{k}] [{lon}, {lat}] lies outside the interferograms "
                f"({_bounds(stack.grid)})",
                field=f"inputs.points[{k}]",
            )
        found.append((name, r, c))
    return found


def options_of(stack: Stack, inputs: SbasInputs) -> SbasOptions:
    years = stack.network.years
    dates = stack.network.dates
    steps = []
    for k, s in enumerate(inputs.steps):
        day = as_day(s)
        if not dates[0] < day <= dates[-1]:
            raise InvalidInput(
                f"inputs.steps[{k}] {day} is not inside the stack ({dates[0]} - {dates[-1]})",
                field=f"inputs.steps[{k}]",
            )
        steps.append(float((day - dates[0]).astype(int) / 365.25))
    dem = None
    if inputs.dem_error:
        dem = _dem_geometry(stack)
    model = TemporalModel(seasonal=inputs.seasonal, steps=tuple(steps), dem_error=dem)
    n_terms = model.design(years)[0].shape[1]
    if stack.network.n_dates <= n_terms:
        raise InvalidInput(
            f"{stack.network.n_dates} acquisitions cannot fit a model of {n_terms} terms; drop "
            "seasonal, steps or dem_error",
            field="inputs.seasonal",
        )
    return SbasOptions(
        wavelength=stack.wavelength,
        min_coherence=inputs.min_coherence,
        weighting=inputs.weighting,
        looks=inputs.looks,
        min_interferograms=inputs.min_interferograms,
        model=model,
    )


def _dem_geometry(stack: Stack) -> DemErrorGeometry:
    missing = [i.label for i in stack.ifgs if i.bperp is None]
    if missing or any(i.slant_range is None or i.incidence is None for i in stack.ifgs):
        raise InvalidInput(
            "inputs.dem_error needs each interferogram's perpendicular baseline, slant range and "
            f"incidence; missing in {', '.join(missing[:3]) or 'some'}",
            field="inputs.dem_error",
        )
    net = stack.network
    # per-date baselines from the per-interferogram differences (first date at 0)
    per_ifg = np.array([float(i.bperp or 0.0) for i in stack.ifgs])
    b = np.linalg.lstsq(net.displacement_design, per_ifg, rcond=None)[0]
    return DemErrorGeometry(
        tuple([0.0, *b.tolist()]),
        float(np.mean([i.slant_range for i in stack.ifgs])),  # type: ignore[arg-type]
        float(np.mean([i.incidence for i in stack.ifgs])),  # type: ignore[arg-type]
    )


def check_stack(ifgs: list[Interferogram], inputs: SbasInputs) -> tuple[Stack, SbasOptions]:
    """The checks of ``preflight`` and of the job's start."""
    stack = build_stack(ifgs)
    window = reference_window(stack, inputs)
    if window is not None:
        field = "inputs.reference_point" if inputs.reference_point else "inputs.reference_area"
        reference_offsets(stack, window, field)
    check_points(stack, inputs)
    return stack, options_of(stack, inputs)


# -- a network of SLC pairs ---------------------------------------------------------------


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


def network_pairs(inputs: SbasInputs) -> list[DinsarInputs]:
    assert inputs.network is not None
    return [
        pair_inputs(inputs.dinsar, p.reference, p.secondary, inputs.dem)
        for p in inputs.network.pairs
    ]


def _ref_label(ref: str | dict[str, Any]) -> str:
    return ref if isinstance(ref, str) else str(ref.get("href") or ref.get("id") or ref)


def check_network(inputs: SbasInputs, items: dict[str, dict[str, Any]]) -> Network | None:
    """Every check a network can fail before its pairs are formed, from the catalogue items:
    dinsar's per pair (same track and swath, the secondary later, overlapping footprints, the
    aoi and the DEM over them) and the dates' (at least 3 acquisitions, no pair twice). None
    when the API did not resolve the items (checked again when the job starts)."""
    days = []
    for k, pair in enumerate(network_pairs(inputs)):
        field = f"{NETWORK_FIELD}.pairs[{k}]"
        ref = items.get(f"network.pairs[{k}].reference")
        sec = items.get(f"network.pairs[{k}].secondary")
        if ref is None or sec is None or (inputs.dem is not None and "dem" not in items):
            return None
        found = {
            "reference": ref,
            "secondary": sec,
            **({"dem": items["dem"]} if inputs.dem else {}),
        }
        try:
            check_items(pair, found)
        except InvalidInput as exc:
            sub = (exc.field or "").removeprefix("inputs.")
            where = {"aoi": "inputs.dinsar.aoi", "dem": "inputs.dem"}.get(
                sub, f"{field}.{sub}" if sub else field
            )
            raise InvalidInput(
                f"{field} ({_ref_label(pair.reference)} → {_ref_label(pair.secondary)}): "
                f"{exc.message}",
                field=where,
            ) from None
        days.append((acquisition_day(ref), acquisition_day(sec)))
    return Network.from_pairs(days, field=f"{NETWORK_FIELD}.pairs")


def acquisition_day(item: dict[str, Any]) -> str:
    """An SLC product's date, as dinsar tags its interferograms (FIRST/SECOND_DATE)."""
    return str(geometry_of(item).first_line_time.astype("datetime64[D]"))


@dataclass
class FormedNetwork:
    ifgs: list[Interferogram]
    #: per pair: its unwrapped phase and coherence COGs (in the job's output folder)
    files: list[dict[str, Path]]


def form_network(ctx: ProcessContext, inputs: SbasInputs, start: int, end: int) -> FormedNetwork:
    """Form every pair's unwrapped interferogram with the dinsar chain, all geocoded on the
    first pair's grid, as COGs under ``output_dir/interferograms``; progress from ``start`` to
    ``end`` percent, per pair."""
    pairs = network_pairs(inputs)
    grid: GeoGrid | None = None
    ifgs, files = [], []
    for k, pair in enumerate(pairs):
        name = f"{_ref_label(pair.reference)} → {_ref_label(pair.secondary)}"
        ctx.logger.info("pair %d/%d (%s): forming the interferogram", k + 1, len(pairs), name)

        def progress(fraction: float, message: str, k: int = k) -> None:
            percent = start + int((end - start) * (k + fraction) / len(pairs))
            ctx.logger.info("%d%% pair %d/%d: %s", percent, k + 1, len(pairs), message)
            ctx.progress(percent, f"pair {k + 1}/{len(pairs)}: {message}")

        formed = form_interferogram(
            ctx, pair, ctx.output_dir / "interferograms" / f"pair{k:03d}", progress,
            grid=grid, quicklooks=False, keys=("unwrapped_phase", "coherence"),
        )  # fmt: skip
        grid = grid or formed.grid
        ifg = read_interferogram(
            formed.files["unwrapped_phase"],
            f"{NETWORK_FIELD}.pairs[{k}]",
            formed.files["coherence"],
        )
        ifgs.append(ifg.with_metadata(label=name))
        files.append(formed.files)
        ctx.logger.info(
            "pair %d/%d (%s, %s/%s): Bperp %.1f m, Bt %.0f days, mean coherence %.2f",
            k + 1, len(pairs), name, ifg.first_date, ifg.second_date,
            formed.baseline.perpendicular, formed.baseline.temporal_days,
            float(np.nanmean(formed.result.coherence)),
        )  # fmt: skip
    return FormedNetwork(ifgs, files)


# -- products -----------------------------------------------------------------------------


@dataclass
class Products:
    files: dict[str, Path]
    displacement: dict[str, Path]
    reference: dict[str, Any]
    velocity_range: tuple[float, float]
    connected: bool


def default_reference(stack: Stack, block_bytes: int) -> tuple[int, int, int, int]:
    """The most coherent pixel among those valid in every interferogram (MintPy's choice),
    else the valid pixel nearest the centre; refused when no pixel is valid in all."""
    grid = stack.grid
    best = (-np.inf, -1, -1)
    per_row = max(1, grid.width * stack.network.n_ifgs * 8)
    step = max(1, block_bytes // per_row)
    cr, cc = grid.height / 2, grid.width / 2
    for r0 in range(0, grid.height, step):
        rows = slice(r0, min(grid.height, r0 + step))
        phase, _ = read_rows(stack.ifgs, rows, coherence=False)
        ok = np.isfinite(phase).all(axis=0)
        del phase
        coh = mean_coherence(stack.ifgs, rows)
        if coh is not None:
            score = np.where(ok, coh, -np.inf)
        else:
            yy, xx = np.mgrid[rows, 0 : grid.width]
            score = np.where(ok, -np.hypot(yy - cr, xx - cc), -np.inf)
        k = int(np.argmax(score))
        if score.flat[k] > best[0]:
            best = (float(score.flat[k]), r0 + k // grid.width, k % grid.width)
    if best[1] < 0:
        raise InvalidInput(
            "no pixel is valid in every interferogram, so no reference can be chosen; "
            "give reference_area",
            field="inputs.reference_point",
        )
    return best[1], best[2], 1, 1


def produce(
    stack: Stack,
    inputs: SbasInputs,
    options: SbasOptions,
    out: Path,
    scratch: Path,
    progress: Callable[[int, str], None],
    log: Callable[[str], None],
) -> Products:
    """Invert the stack block by block and write every product under ``out``."""
    grid = stack.grid
    net = stack.network
    block_bytes = inputs.block_mb * 2**20 if inputs.block_mb else BLOCK_BYTES
    window = reference_window(stack, inputs)
    field = "inputs.reference_point" if inputs.reference_point else "inputs.reference_area"
    if window is None:
        window = default_reference(stack, block_bytes)
        field = "inputs.reference_point"
        log(f"reference: the most coherent pixel valid in all interferograms, row {window[0]}, "
            f"col {window[1]}")  # fmt: skip
    offsets = reference_offsets(stack, window, field)
    r, c, h, w = window
    ref_lon, ref_lat = grid.centre_of(r + (h - 1) / 2, c + (w - 1) / 2)  # type: ignore[arg-type]
    points = [("reference", r + h // 2, c + w // 2), *check_points(stack, inputs)]
    components = net.components()
    if len(components) > 1:
        log(f"the network splits into {len(components)} subsets: minimum-norm velocity (SVD)")
    dates = [str(d).replace("-", "") for d in net.dates]
    scratch.mkdir(parents=True, exist_ok=True)
    writers = {
        name: BlockWriter(scratch, name, grid)
        for name in ("velocity", "velocity_std", "temporal_coherence")
    }
    if options.model.seasonal:
        writers["seasonal_amplitude"] = BlockWriter(scratch, "seasonal_amplitude", grid)
    if options.model.dem_error is not None:
        writers["dem_error"] = BlockWriter(scratch, "dem_error", grid)
    disp_writers = [
        BlockWriter(scratch, f"displacement_{d}", grid, tags={"DATE": str(net.dates[k])})
        for k, d in enumerate(dates)
    ]
    series: dict[str, dict[str, Any]] = {}
    blocks = row_blocks(grid.height, grid.width, net.n_ifgs, net.n_dates, block_bytes)
    log(f"{net.n_ifgs} interferograms, {net.n_dates} acquisitions, {grid.width} × {grid.height} "
        f"px, {len(blocks)} block(s) of rows")  # fmt: skip

    def read(rows: slice) -> tuple[NDArray[np.floating], NDArray[np.floating] | None]:
        phase, coh = read_rows(stack.ifgs, rows, coherence=options.min_coherence > 0
                               or options.weighting == "coherence")  # fmt: skip
        return _as_phase(stack, phase), coh

    def report(fraction: float, message: str) -> None:
        pct = 5 + int(80 * fraction)
        log(f"{pct}% {message}")
        progress(pct, message)

    try:
        for block in run_sbas(
            net, (grid.height, grid.width), read, offsets, options,
            max_block_bytes=block_bytes, progress=report,
        ):  # fmt: skip
            rs = block.rows
            writers["velocity"].write(rs, block.velocity * 1000)
            writers["velocity_std"].write(rs, block.velocity_std * 1000)
            writers["temporal_coherence"].write(rs, block.temporal_coherence)
            if block.seasonal_amplitude is not None:
                writers["seasonal_amplitude"].write(rs, block.seasonal_amplitude * 1000)
            if block.dem_error is not None:
                writers["dem_error"].write(rs, block.dem_error)
            for k, wr in enumerate(disp_writers):
                wr.write(rs, block.displacement[k] * 1000)
            for name, pr, pc in points:
                if rs.start <= pr < rs.stop:
                    j = (pr - rs.start) * grid.width + pc
                    lon, lat = grid.centre_of(pr, pc)
                    series[name] = {
                        "lon": lon, "lat": lat, "row": pr, "col": pc,
                        "disp": block.displacement[:, pr - rs.start, pc] * 1000,
                        "model": block.fit.evaluate(np.array([j]))[:, 0] * 1000,
                        "velocity": float(block.velocity[pr - rs.start, pc]) * 1000,
                        "tcoh": float(block.temporal_coherence[pr - rs.start, pc]),
                    }  # fmt: skip
    except BaseException:
        for wr in [*writers.values(), *disp_writers]:
            wr.close()
        raise
    progress(88, "writing COGs, quicklooks, the KMZ and the CSV")
    out.mkdir(parents=True, exist_ok=True)
    files = {name: wr.finish(out / f"{name}.tif") for name, wr in writers.items()}
    displacement = {
        str(net.dates[k]): wr.finish(out / f"displacement_{d}.tif")
        for k, (d, wr) in enumerate(zip(dates, disp_writers, strict=True))
    }
    vel_range = _quicklooks(files, geogrid(grid), out, stack)
    ordered = {name: series[name] for name, _, _ in points if name in series}
    files["timeseries_csv"] = _write_csv(out / "timeseries.csv", net, ordered)
    return Products(
        files=files,
        displacement=displacement,
        reference={
            "longitude": round(ref_lon, 7),
            "latitude": round(ref_lat, 7),
            "row": r,
            "col": c,
            "rows": h,
            "cols": w,
        },
        velocity_range=vel_range,
        connected=len(components) == 1,
    )


def _read_band(path: Path) -> NDArray[np.float32]:
    import rasterio

    with rasterio.open(path) as src:
        return src.read(1).astype(np.float32)


def _quicklooks(
    files: dict[str, Path], grid: GeoGrid, out: Path, stack: Stack
) -> tuple[float, float]:
    vel = _read_band(files["velocity"])
    finite = vel[np.isfinite(vel)]
    lo, hi = np.percentile(finite, [2, 98]) if finite.size else (-1.0, 1.0)
    lim = float(max(abs(lo), abs(hi), 1e-3))
    n0, n1 = stack.network.dates[0], stack.network.dates[-1]
    title = f"Mean LOS velocity {n0} – {n1} ({stack.network.n_ifgs} interferograms)"
    write_png_with_legend(
        out / "velocity.png", vel, grid, title=title,
        label="mm/yr (+ towards the satellite)", cmap="RdBu_r", vmin=-lim, vmax=lim,
    )  # fmt: skip
    files["velocity_png"] = out / "velocity.png"
    write_kmz(out / "velocity.kmz", vel, grid, name="GEP sbas velocity (mm/yr)", cmap="RdBu_r",
              vmin=-lim, vmax=lim)  # fmt: skip
    files["kmz"] = out / "velocity.kmz"
    tc = _read_band(files["temporal_coherence"])
    write_png_with_legend(
        out / "temporal_coherence.png", tc, grid, title="Temporal coherence",
        label="temporal coherence", cmap="gray", vmin=0.0, vmax=1.0,
    )  # fmt: skip
    files["temporal_coherence_png"] = out / "temporal_coherence.png"
    return float(lo), float(hi)


def _write_csv(path: Path, net: Network, series: dict[str, dict[str, Any]]) -> Path:
    years = net.years
    first = net.dates[0].astype("datetime64[D]").item()
    start = first.year + (first.timetuple().tm_yday - 1) / 365.25
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for name, s in series.items():
            for k, d in enumerate(net.dates):
                w.writerow([
                    name, f"{s['lon']:.7f}", f"{s['lat']:.7f}", s["row"], s["col"], str(d),
                    f"{start + years[k]:.5f}", _num(s["disp"][k]), _num(s["model"][k]),
                    _num(s["velocity"]), _num(s["tcoh"], 4),
                ])  # fmt: skip
    return path


def _num(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if np.isfinite(v) else ""


# -- the service --------------------------------------------------------------------------


class Sbas(Process):
    id = "sbas"
    version = "1.0.0"
    title = "SBAS ground-motion time series"
    description = (
        "Small-baseline inversion (Berardino et al. 2002) of a stack of geocoded unwrapped "
        "interferograms: mean LOS velocity (mm/yr, positive towards the satellite) with its "
        "standard error, temporal coherence and the LOS displacement of every date as COGs, "
        "PNG quicklooks with legends, a KMZ and a CSV of time series at chosen points. The "
        "interferograms are catalogue items (dinsar results, GeoTIFFs), or a network of SLC "
        "pairs as POST /insar/network answers it, whose interferograms the job forms first "
        "with the dinsar chain."
    )
    keywords = ["InSAR", "SBAS", "time series", "velocity", "subsidence", "deformation"]
    Inputs = SbasInputs
    Outputs = SbasOutputs

    def preflight(self, inputs: Any, items: dict[str, dict[str, Any]]) -> None:
        if inputs.network is not None:
            check_network(inputs, items)
            return
        ifgs = []
        for k in range(len(inputs.interferograms)):
            item = items.get(f"interferograms[{k}]")
            if item is None:
                return  # the API did not resolve them: checked when the job starts
            paths = _local_assets(item)
            if paths is None:
                return  # remote assets: checked once staged
            ifgs.append(interferogram_of(item, k, inputs, paths))
        check_stack(ifgs, inputs)

    def execute(self, ctx: ProcessContext, inputs: SbasInputs) -> SbasOutputs:
        if inputs.network is not None:
            return self._execute_network(ctx, inputs)
        ctx.progress(1, "staging the interferograms")
        ifgs = []
        assert inputs.interferograms is not None
        for k, ref in enumerate(inputs.interferograms):
            item, _ = ctx.stage(ref)
            keys = [_asset_key(item, inputs.asset, PHASE_ASSETS, k)]
            keys += [c for c in (inputs.coherence_asset, *COHERENCE_ASSETS) if c and c in
                     (item.get("assets") or {})][:1]  # fmt: skip
            paths: dict[str, Path] = {}
            for key in keys:  # through the gateway: local files in place, others downloaded
                _, path = ctx.stage(ref, key)
                assert path is not None
                paths[key] = path
            ifgs.append(interferogram_of(item, k, inputs, paths))
        ctx.progress(3, "checking the stack")
        return self._invert(ctx, inputs, ifgs, ctx.progress)

    def _execute_network(self, ctx: ProcessContext, inputs: SbasInputs) -> SbasOutputs:
        assert inputs.network is not None
        ctx.progress(1, f"forming the interferograms of {len(inputs.network.pairs)} pairs")
        formed = form_network(ctx, inputs, 2, 50)  # each pair's checks run as it is staged
        ctx.progress(50, "checking the stack")

        def progress(percent: int, message: str = "") -> None:  # the inversion: 50-100 %
            ctx.progress(50 + percent // 2, message)

        formed_hrefs = {}
        for ifg, files in zip(formed.ifgs, formed.files, strict=True):
            key = f"interferogram_{ifg.first_date}_{ifg.second_date}"
            formed_hrefs[f"{ifg.first_date}_{ifg.second_date}"] = ctx.add_asset(
                key, files["unwrapped_phase"], COG, ["data"],
                f"Unwrapped phase {ifg.first_date} – {ifg.second_date} (rad), formed by dinsar",
            )  # fmt: skip
            ctx.add_asset(
                f"coherence_{ifg.first_date}_{ifg.second_date}", files["coherence"], COG,
                ["data", "quality"], f"Coherence {ifg.first_date} – {ifg.second_date}",
            )  # fmt: skip
        outputs = self._invert(ctx, inputs, formed.ifgs, progress)
        return outputs.model_copy(update={"network_interferograms": formed_hrefs})

    def _invert(
        self,
        ctx: ProcessContext,
        inputs: SbasInputs,
        ifgs: list[Interferogram],
        progress: Callable[[int, str], None],
    ) -> SbasOutputs:
        stack, options = check_stack(ifgs, inputs)
        products = produce(
            stack, inputs, options, ctx.output_dir, ctx.scratch, progress, ctx.logger.info
        )
        hrefs = publish_products(ctx.add_asset, products)
        ctx.set_footprint(footprint_of(geogrid(stack.grid)))
        ctx.progress(100, "done")
        return SbasOutputs(
            velocity=hrefs["velocity"],
            velocity_std=hrefs["velocity_std"],
            temporal_coherence=hrefs["temporal_coherence"],
            displacement={d: hrefs[f"displacement_{d}"] for d in products.displacement},
            timeseries_csv=hrefs["timeseries_csv"],
            kmz=hrefs["kmz"],
            dates=[str(d) for d in stack.network.dates],
            interferograms=stack.network.n_ifgs,
            acquisitions=stack.network.n_dates,
            connected=products.connected,
            reference=products.reference,
            velocity_range_mm_yr=[round(v, 3) for v in products.velocity_range],
            network_interferograms=None,
        )


#: (media type, roles, title) of each product
_ASSETS: dict[str, tuple[str, list[str], str]] = {
    "velocity": (COG, ["data"], "Mean LOS velocity (mm/yr, + towards the satellite)"),
    "velocity_std": (COG, ["data"], "Standard error of the velocity (mm/yr)"),
    "temporal_coherence": (COG, ["data", "quality"], "Temporal coherence"),
    "seasonal_amplitude": (COG, ["data"], "Annual amplitude (mm)"),
    "dem_error": (COG, ["data"], "DEM error (m)"),
    "velocity_png": ("image/png", ["overview", "visual"], "Velocity quicklook with legend"),
    "temporal_coherence_png": ("image/png", ["overview"], "Temporal coherence quicklook"),
    "kmz": ("application/vnd.google-earth.kmz", ["visual"], "KMZ overlay of the velocity"),
    "timeseries_csv": ("text/csv", ["data"], "Time series at the points (long format)"),
}


def publish_products(add_asset: Callable[..., str], products: Products) -> dict[str, str]:
    """Declare every product as an asset (the job's, or the demo's item); returns the hrefs."""
    hrefs = {}
    for key, path in products.files.items():
        media, roles, title = _ASSETS[key]
        hrefs[key] = add_asset(key, path, media, roles, title)
    for date, path in products.displacement.items():
        key = f"displacement_{date}"
        hrefs[key] = add_asset(key, path, COG, ["data"], f"LOS displacement on {date} (mm)")
    return hrefs


def _local_assets(item: dict[str, Any]) -> dict[str, Path] | None:
    out = {}
    for key, asset in (item.get("assets") or {}).items():
        path = local_path(str(asset.get("href", "")))  # confined by the API before preflight
        if path is None:
            return None
        out[key] = path
    return out
