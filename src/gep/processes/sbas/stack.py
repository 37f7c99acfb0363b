"""A stack of interferograms: read from items, checked, referenced, with its temporal model.

Everything here runs twice — in ``preflight`` (from the rasters' headers, before a job is
queued) and when the job starts — so a stack that cannot be inverted is refused before work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.sar.geocode import GeoGrid
from gep.algorithms.timeseries.model import DemErrorGeometry, TemporalModel
from gep.algorithms.timeseries.network import Network, as_day
from gep.algorithms.timeseries.reference import ReferenceChoice
from gep.algorithms.timeseries.sbas import SbasOptions, displacement_to_phase, reference_phase
from gep.core.errors import InvalidInput
from gep.io.ifg_stack import (
    Grid,
    Interferogram,
    check_same_grid,
    mean_coherence,
    read_interferogram,
    read_pixels,
    read_rows,
)
from gep.processes.sbas.inputs import (
    COHERENCE_ASSETS,
    FIELD,
    PHASE_ASSETS,
    SbasInputs,
    parse_points,
)


@dataclass
class Stack:
    """Interferograms checked to share a grid and to form a network."""

    ifgs: list[Interferogram]
    grid: Grid
    network: Network
    wavelength: float
    #: the interferograms' labels, in the network's (= the input's) order
    labels: list[str]


def asset_key(item: dict[str, Any], wanted: str | None, choices: tuple[str, ...], k: int) -> str:
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
    key = asset_key(item, inputs.asset, PHASE_ASSETS, k)
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
    samples = as_phase(stack, samples)
    return reference_phase(samples, stack.labels, field)


def as_phase(stack: Stack, values: NDArray[np.floating]) -> NDArray[np.float32]:
    """Interferograms given in metres become phase, so every one is inverted in radians."""
    metres = np.array([i.units == "metres" for i in stack.ifgs])
    out = np.asarray(values, dtype=np.float32)
    if metres.any():
        out = out.copy()
        out[metres] = displacement_to_phase(out[metres], stack.wavelength)
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
    return DemErrorGeometry.from_interferograms(
        stack.network.displacement_design,
        [float(i.bperp or 0.0) for i in stack.ifgs],
        [float(i.slant_range or 0.0) for i in stack.ifgs],
        [float(i.incidence or 0.0) for i in stack.ifgs],
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


def default_reference(stack: Stack, block_bytes: int) -> tuple[int, int, int, int]:
    """The most coherent pixel among those valid in every interferogram (MintPy's choice),
    else the valid pixel nearest the centre; refused when no pixel is valid in all."""
    grid = stack.grid
    choice = ReferenceChoice(grid.height, grid.width)
    per_row = max(1, grid.width * stack.network.n_ifgs * 8)
    step = max(1, block_bytes // per_row)
    for r0 in range(0, grid.height, step):
        rows = slice(r0, min(grid.height, r0 + step))
        phase, _ = read_rows(stack.ifgs, rows, coherence=False)
        ok = np.asarray(np.isfinite(phase).all(axis=0))
        del phase
        choice.add(rows, ok, mean_coherence(stack.ifgs, rows))
    best = choice.best()
    if best is None:
        raise InvalidInput(
            "no pixel is valid in every interferogram, so no reference can be chosen; "
            "give reference_area",
            field="inputs.reference_point",
        )
    return best[0], best[1], 1, 1
