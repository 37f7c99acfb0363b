"""``dinsar``: a differential interferogram and LOS displacement from an SLC pair.

Runs :func:`gep.algorithms.sar.dinsar.dinsar` (geometric + cross-correlation coregistration,
interferogram with flat-earth and topographic phase removed, multilook, coherence,
Goldstein filter, unwrapping, LOS displacement, geocoding) and publishes every product as a
COG, a PNG with its legend, and a KMZ overlay for Google Earth.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from gep.algorithms.sar.dinsar import DinsarResult, dinsar
from gep.algorithms.sar.geocode import GeoGrid
from gep.algorithms.sar.pair import PairBaseline
from gep.algorithms.sar.tops_chain import TopsDinsarResult, tops_dinsar
from gep.core.media import COG, KMZ, PNG
from gep.core.render import (
    AMPLITUDE_DB,
    COHERENCE,
    LOS_DISPLACEMENT_M,
    UNWRAPPED_PHASE,
    WRAPPED_PHASE,
)
from gep.io.writers import GEOGRAPHIC, bounds_footprint, write_cog, write_kmz, write_png_map
from gep.processes.base import Process, ProcessContext
from gep.processes.s1_inputs import load_safe_pair, pair_kind
from gep.processes.sar_common import PairInputs, check_items, load_pair


class DinsarInputs(PairInputs):
    filter_strength: float = Field(
        0.5, ge=0.0, le=1.0, description="Goldstein filter exponent alpha (0: no filter)"
    )
    unwrap: bool = Field(True, description="Unwrap the phase and convert it to LOS displacement")
    unwrap_method: Literal["gep", "whirlwind", "snaphu"] = Field(
        "gep", description="Phase unwrapper (see docs/science.md for their speed and accuracy)"
    )
    reference_point: list[float] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="[longitude, latitude] of the point whose displacement is taken as zero; "
        "default: the most coherent area",
    )


class DinsarOutputs(BaseModel):
    wrapped_phase: str
    coherence: str
    amplitude: str
    unwrapped_phase: str | None = None
    los_displacement: str | None = None
    kmz: str
    perpendicular_baseline: float = Field(..., description="m")
    temporal_baseline: float = Field(..., description="days")
    coregistration: dict[str, float] = Field(
        ...,
        description="Refinements (px) the cross-correlation found, and for Sentinel-1 SAFE "
        "pairs the azimuth shift enhanced spectral diversity added (esd_shift_px)",
    )
    input_bytes_read: dict[str, int] | None = Field(
        None,
        description="Sentinel-1 SAFE pairs: bytes read from each product's measurement files "
        "(only the bursts' windows over the area) and their total",
    )


class Dinsar(Process):
    id = "dinsar"
    version = "1.0.0"
    title = "Differential SAR interferometry (DInSAR)"
    description = (
        "Interferogram, coherence, unwrapped phase and line-of-sight displacement (m, positive "
        "towards the satellite) of a Sentinel-1 SLC pair, geocoded to latitude/longitude; COGs, "
        "PNG quicklooks with legends and a KMZ overlay."
    )
    keywords = ["InSAR", "DInSAR", "interferogram", "deformation", "Sentinel-1"]
    Inputs = DinsarInputs
    Outputs = DinsarOutputs
    output_formats = {
        "wrapped_phase": COG,
        "coherence": COG,
        "amplitude": COG,
        "unwrapped_phase": COG,
        "los_displacement": COG,
        "kmz": KMZ,
    }
    renders = {
        "wrapped_phase": WRAPPED_PHASE,
        "coherence": COHERENCE,
        "amplitude": AMPLITUDE_DB,
        "unwrapped_phase": UNWRAPPED_PHASE,
        "los_displacement": LOS_DISPLACEMENT_M,
    }

    def preflight(self, inputs: Any, items: dict[str, dict[str, Any]]) -> None:
        check_items(inputs, items)

    def execute(self, ctx: ProcessContext, inputs: DinsarInputs) -> DinsarOutputs:
        ctx.progress(2, "staging the pair")

        def progress(fraction: float, message: str) -> None:
            percent = 5 + int(80 * fraction)
            ctx.logger.info("%d%% %s", percent, message)  # each step also stays in the log
            ctx.progress(percent, message)

        pair = form_interferogram(ctx, inputs, ctx.output_dir, progress)
        baseline, grid, layers = pair.baseline, pair.grid, pair.layers
        ctx.progress(88, "publishing the COGs, quicklooks and the KMZ")
        hrefs: dict[str, str] = {}
        for key, _, title, unit, *_ in layers:
            hrefs[key] = ctx.add_asset(key, pair.files[key], COG, ["data"], f"{title} ({unit})")
            ctx.add_asset(
                f"{key}_png", pair.files[f"{key}_png"], PNG, ["overview", "visual"],
                f"{title} quicklook",
            )  # fmt: skip
        geo = pair.result.geocoded
        kmz_key, kmz_data, kmz_title, kmz_unit, kmz_cmap, kmz_min, kmz_max = (
            layers[-1] if "los_displacement" in geo else layers[0]
        )
        kmz = ctx.output_dir / "dinsar.kmz"
        write_kmz(
            kmz,
            kmz_data,
            grid.bounds,
            name=f"GEP dinsar {kmz_key}",
            cmap=kmz_cmap,
            vmin=kmz_min,
            vmax=kmz_max,
            title=kmz_title,
            unit=kmz_unit,
        )
        kmz_href = ctx.add_asset("kmz", kmz, KMZ, ["visual"], "KMZ overlay")
        ctx.set_footprint(bounds_footprint(grid.bounds))
        ctx.progress(100, "done")
        return DinsarOutputs(
            wrapped_phase=hrefs["wrapped_phase"],
            coherence=hrefs["coherence"],
            amplitude=hrefs["amplitude"],
            unwrapped_phase=hrefs.get("unwrapped_phase"),
            los_displacement=hrefs.get("los_displacement"),
            kmz=kmz_href,
            perpendicular_baseline=round(baseline.perpendicular, 2),
            temporal_baseline=round(baseline.temporal_days, 3),
            coregistration=pair.coregistration,
            input_bytes_read=pair.bytes_read,
        )


Layer = tuple[str, Any, str, str, str, float, float]


@dataclass
class FormedPair:
    """One pair through the dinsar chain: the result, its COGs (and PNGs) on disk."""

    result: DinsarResult | TopsDinsarResult
    baseline: PairBaseline
    grid: GeoGrid
    #: (key, data, title, unit, colour map, vmin, vmax) of each geocoded layer
    layers: list[Layer]
    #: the written files by key (``<layer>`` COG, ``<layer>_png`` quicklook)
    files: dict[str, Path]
    #: what the coregistration found (px), as the ``coregistration`` output
    coregistration: dict[str, float] = field(default_factory=dict)
    #: Sentinel-1 SAFE pairs: bytes read per product and ``total``
    bytes_read: dict[str, int] | None = None


def form_interferogram(
    ctx: ProcessContext,
    inputs: DinsarInputs,
    out: Path,
    progress: Callable[[float, str], None],
    *,
    grid: GeoGrid | None = None,
    quicklooks: bool = True,
    keys: Collection[str] | None = None,
) -> FormedPair:
    """Stage a pair, run the dinsar chain and write its geocoded layers as COGs under ``out``
    (with PNG quicklooks unless ``quicklooks`` is False; only the layers ``keys`` names, if given).

    GEP SLC pairs go through :func:`gep.algorithms.sar.dinsar.dinsar`, Sentinel-1 SAFE pairs
    through the burst chain (:func:`gep.algorithms.sar.tops_chain.tops_dinsar`); both publish
    the same layers. ``grid`` geocodes onto that lat/lon grid (a stack's common grid, as
    ``sbas`` needs) instead of the one covering the pair. ``progress`` gets the chain's
    fraction done (0-1).
    """
    ref_item, _ = ctx.stage(inputs.reference)
    sec_item, _ = ctx.stage(inputs.secondary)
    if pair_kind({"reference": ref_item, "secondary": sec_item}) == "safe":
        return _form_safe(ctx, inputs, out, progress, grid=grid, quicklooks=quicklooks, keys=keys)
    ref, sec, ref_geom, sec_geom, dem, baseline = load_pair(ctx, inputs)
    ctx.logger.info(
        "pair: Bperp %.1f m, Bt %.1f days, critical baseline %.0f m, window %d x %d",
        baseline.perpendicular, baseline.temporal_days, baseline.critical, *ref.shape,
    )  # fmt: skip
    reference_px = None
    looks = (inputs.looks_azimuth, inputs.looks_range)
    if inputs.reference_point is not None:
        reference_px = _reference_pixel(inputs.reference_point, ref_geom, dem, looks)
    result = dinsar(
        ref, sec, ref_geom, sec_geom, dem,
        looks=looks,
        coherence_window=tuple(inputs.coherence_window) if inputs.coherence_window else None,  # type: ignore[arg-type]
        alpha=inputs.filter_strength,
        unwrap=inputs.unwrap,
        unwrap_method=inputs.unwrap_method,
        reference_point=reference_px,
        geocode_grid=grid,
        progress=progress,
    )  # fmt: skip
    del ref, sec
    out_grid = result.grid
    assert out_grid is not None
    layers, files = write_layers(
        result.geocoded, out_grid, ref_geom, sec_geom, baseline.perpendicular, out,
        quicklooks=quicklooks, keys=keys,
    )  # fmt: skip
    return FormedPair(result, baseline, out_grid, layers, files, _coregistration(result))


def _coregistration(result: DinsarResult | TopsDinsarResult) -> dict[str, float]:
    r = result.refinement
    out = {
        "azimuth_refinement_px": r.azimuth,
        "range_refinement_px": r.range,
        "azimuth_error_px": r.azimuth_error,
        "range_error_px": r.range_error,
        "chips": float(r.chips),
    }
    if isinstance(result, TopsDinsarResult):
        out["esd_shift_px"] = float(result.esd_shift)
    return out


def _form_safe(
    ctx: ProcessContext,
    inputs: DinsarInputs,
    out: Path,
    progress: Callable[[float, str], None],
    *,
    grid: GeoGrid | None,
    quicklooks: bool,
    keys: Collection[str] | None,
) -> FormedPair:
    """A Sentinel-1 SAFE pair: the bursts over the area through the TOPS chain."""
    pairs, dem, info = load_safe_pair(ctx, inputs)
    baseline = info.baseline
    ctx.logger.info(
        "pair: Bperp %.1f m, Bt %.1f days, critical baseline %.0f m, %d burst pair(s), %s",
        baseline.perpendicular, baseline.temporal_days, baseline.critical, len(pairs),
        info.polarisation,
    )  # fmt: skip
    point = inputs.reference_point
    result = tops_dinsar(
        pairs, dem,
        looks=(inputs.looks_azimuth, inputs.looks_range),
        alpha=inputs.filter_strength,
        unwrap=inputs.unwrap,
        unwrap_method=inputs.unwrap_method,
        reference_lonlat=(point[0], point[1]) if point is not None else None,
        grid=grid,
        bounds=info.area.bounds,
        progress=progress,
    )  # fmt: skip
    del pairs
    ctx.logger.info("ESD: azimuth shift %.4f px", result.esd_shift)
    layers, files = write_layers(
        result.geocoded, result.grid, result.reference_geometry, result.secondary_geometry,
        baseline.perpendicular, out, quicklooks=quicklooks, keys=keys,
    )  # fmt: skip
    read = {**info.bytes_read, "total": info.total_bytes_read}
    return FormedPair(result, baseline, result.grid, layers, files, _coregistration(result), read)


def write_layers(
    geo: dict[str, Any],
    grid: GeoGrid,
    ref_geom: Any,
    sec_geom: Any,
    bperp: float,
    out: Path,
    *,
    quicklooks: bool = True,
    keys: Collection[str] | None = None,
) -> tuple[list[Layer], dict[str, Path]]:
    """The geocoded layers of a pair (``geo``: wrapped_phase, coherence, amplitude and, when
    unwrapped, unwrapped_phase and los_displacement on ``grid``) as COGs tagged with the pair's
    dates and geometry (:func:`pair_tags`) and dinsar's render hints, with PNG quicklooks; the
    one way both chains publish, so a SAFE pair's results read like a GEP SLC pair's."""
    amp_db = 20 * np.log10(np.where(geo["amplitude"] > 0, geo["amplitude"], np.nan))
    finite = amp_db[np.isfinite(amp_db)]
    lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
    layers_out: list[Layer] = [
        (
            "wrapped_phase",
            geo["wrapped_phase"],
            "Wrapped phase",
            "rad",
            "twilight",
            -np.pi,
            np.pi,
        ),
        ("coherence", geo["coherence"], "Coherence", "coherence", "gray", 0.0, 1.0),
        (
            "amplitude",
            amp_db.astype("float32"),
            "Amplitude",
            "dB",
            "gray",
            float(lo),
            float(hi),
        ),
    ]
    if "los_displacement" in geo:
        los_mm = geo["los_displacement"] * 1000
        lim = float(np.nanpercentile(np.abs(los_mm), 99)) if np.isfinite(los_mm).any() else 1.0
        unw = geo["unwrapped_phase"]
        ulim = float(np.nanpercentile(np.abs(unw), 99)) if np.isfinite(unw).any() else 1.0
        layers_out += [
            ("unwrapped_phase", unw, "Unwrapped phase", "rad", "RdBu_r", -ulim, ulim),
            (
                "los_displacement",
                geo["los_displacement"],
                "LOS displacement",
                "m (towards the satellite)",
                "RdBu_r",
                -lim / 1000,
                lim / 1000,
            ),
        ]
    tags = pair_tags(ref_geom, sec_geom, bperp)
    units = {"unwrapped_phase": "RADIANS", "los_displacement": "METRES"}
    if keys is not None:
        layers_out = [layer for layer in layers_out if layer[0] in keys]
    files: dict[str, Path] = {}
    out.mkdir(parents=True, exist_ok=True)
    for key, data, title, unit, cmap, vmin, vmax in layers_out:
        files[key] = out / f"{key}.tif"
        write_cog(files[key], np.asarray(data, "float32"), GEOGRAPHIC, grid.transform,
                  tags={**tags, "DATA_UNITS": units.get(key, unit.upper())},
                  render=Dinsar.render_for(key))  # fmt: skip
        if quicklooks:
            files[f"{key}_png"] = out / f"{key}.png"
            write_png_map(
                files[f"{key}_png"], data, grid.bounds, title=title, label=unit, cmap=cmap,
                vmin=vmin, vmax=vmax, geographic=True,
            )  # fmt: skip
    return layers_out, files


def pair_tags(ref: Any, sec: Any, bperp: float) -> dict[str, str]:
    """The interferogram's metadata as GeoTIFF tags (PyRate's names), so that a result can go
    into a time series (``sbas``) with nothing but the file: dates, wavelength, geometry."""
    return {
        "FIRST_DATE": str(np.datetime64(ref.first_line_time, "D")),
        "SECOND_DATE": str(np.datetime64(sec.first_line_time, "D")),
        "WAVELENGTH_METRES": repr(float(ref.wavelength)),
        "INCIDENCE_DEGREES": f"{ref.incidence_angle_mid:.4f}",
        "SLANT_RANGE_METRES": f"{float(ref.slant_range(ref.samples / 2)):.3f}",
        "BPERP_METRES": f"{bperp:.3f}",
    }


def _reference_pixel(
    lonlat: list[float], geom: Any, dem: Any, looks: tuple[int, int]
) -> tuple[int, int]:
    """Multilooked (row, col) of a [lon, lat] reference point; refused outside the window."""
    from gep.algorithms.sar.geometry import lonlat_to_radar
    from gep.core.errors import InvalidInput

    lines, samples = lonlat_to_radar(geom, np.array([lonlat[1]]), np.array([lonlat[0]]), dem)
    line, sample = float(lines[0]), float(samples[0])
    row, col = int(line // looks[0]), int(sample // looks[1])
    if not (0 <= row < geom.lines // looks[0] and 0 <= col < geom.samples // looks[1]):
        raise InvalidInput(
            "inputs.reference_point lies outside the processed area", field="inputs.reference_point"
        )
    return row, col
