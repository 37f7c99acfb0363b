"""What the SAR services (``dinsar``, ``coin``, ``sbas``) share: pair inputs, checks, loading.

The checks run twice: in ``preflight`` from the catalogue items alone, before a job is
queued (the user hears at once why a pair cannot work), and again when the job starts, on
the staged items, in case the catalogue changed in between.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field, field_validator
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from gep.algorithms.sar.geometry import Dem, crop_geometry, lonlat_to_radar
from gep.algorithms.sar.pair import PairBaseline, check_pair
from gep.core.errors import InvalidInput
from gep.core.geometry import parse_area
from gep.core.sar import SwathGeometry
from gep.io.dem import read_dem
from gep.io.slc_product import geometry_of, read_slc
from gep.processes.base import ITEM_REF, ProcessContext

ITEM_DESCRIPTION = '{"href": ".../stac/collections/C/items/I"} or "C/I"'
#: smallest window the coregistration refinement can work with (chips of 64 + margins)
MIN_WINDOW = (160, 320)


class SlcPair(BaseModel):
    """A reference/secondary pair of SLC products in the catalogue."""

    reference: str | dict[str, Any] = Field(
        ...,
        description="The reference (earlier) SLC product: " + ITEM_DESCRIPTION,
        json_schema_extra={"format": ITEM_REF},
    )
    secondary: str | dict[str, Any] = Field(
        ...,
        description="The secondary (later) SLC product, same track, swath and polarisation",
        json_schema_extra={"format": ITEM_REF},
    )


class PairInputs(SlcPair):
    """Inputs common to the services that take a reference/secondary SLC pair."""

    dem: str | dict[str, Any] | None = Field(
        None,
        description="A DEM item (asset 'dem', geographic GeoTIFF) covering the area; without "
        "one the ellipsoid is used and topography stays in the phase",
        json_schema_extra={"format": ITEM_REF},
    )
    aoi: list[float] | dict[str, Any] | None = Field(
        None,
        description="Area of interest: [west, south, east, north] or a GeoJSON geometry; "
        "only the part of the scene that covers it is processed",
    )
    looks_azimuth: int = Field(4, ge=1, le=64, description="Multilook factor in azimuth")
    looks_range: int = Field(16, ge=1, le=256, description="Multilook factor in range")
    coherence_window: list[int] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="[azimuth, range] odd sizes of a sliding boxcar coherence estimate at full "
        "resolution (then multilooked); default: the estimate over each looks window",
    )
    polarisation: Literal["VV", "VH", "HH", "HV"] | None = Field(
        None,
        description="Sentinel-1 SAFE products: the polarisation to process (both must have "
        "it); default VV when both have it, else the first they share. GEP SLC products have "
        "one polarisation, which this must match when given",
    )
    reference_slices: list[str | dict[str, Any]] | None = Field(
        None,
        max_length=4,
        description="Sentinel-1 SAFE products: further products of the reference's pass (the "
        "consecutive slices of its data take) whose bursts continue it, for an area across a "
        "slice boundary",
        json_schema_extra={
            "items": {"anyOf": [{"type": "string"}, {"type": "object"}], "format": ITEM_REF}
        },
    )
    secondary_slices: list[str | dict[str, Any]] | None = Field(
        None,
        max_length=4,
        description="Sentinel-1 SAFE products: the consecutive slices of the secondary's pass",
        json_schema_extra={
            "items": {"anyOf": [{"type": "string"}, {"type": "object"}], "format": ITEM_REF}
        },
    )
    orbit: Literal["annotation", "precise"] = Field(
        "annotation",
        description="Sentinel-1 SAFE products: the orbit of each product's annotation, or "
        "'precise': the orbit files (EOF, POEORB preferred over RESORB) of the catalogue that "
        "cover each acquisition; the job fails naming the product when none does",
    )

    @field_validator("aoi")
    @classmethod
    def _aoi(cls, value: Any) -> Any:
        if value is not None:
            parse_area(value)
        return value

    @field_validator("coherence_window")
    @classmethod
    def _window(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(v < 1 or v % 2 == 0 or v > 101 for v in value):
            raise ValueError("coherence_window sizes must be odd numbers between 1 and 101")
        return value


def dem_asset(item: dict[str, Any]) -> str:
    """The DEM raster's asset key: ``dem``, else the only asset with the ``data`` role."""
    assets = item.get("assets") or {}
    if "dem" in assets:
        return "dem"
    data = [k for k, a in assets.items() if "data" in (a.get("roles") or [])]
    if len(data) == 1:
        return data[0]
    raise InvalidInput(
        f"inputs.dem: item '{item.get('id')}' has no 'dem' asset "
        f"(it has: {', '.join(sorted(assets))})",
        field="inputs.dem",
    )


def check_items(
    inputs: PairInputs, items: dict[str, dict[str, Any]]
) -> tuple[PairBaseline | None, BaseGeometry]:
    """Every check a pair can fail before processing; returns the baselines and the area.

    GEP SLC items carry their whole geometry, so their baselines are known here; Sentinel-1
    SAFE items (:mod:`gep.processes.s1_inputs`) carry only the manifest's facts, and their
    baselines come from the bursts when the job reads them (None here).
    """
    from gep.processes.s1_inputs import check_safe_pair, pair_kind

    if pair_kind(items) == "safe":
        return None, check_safe_pair(inputs, items).area
    return check_slc_items(inputs, items)


def check_slc_items(
    inputs: PairInputs, items: dict[str, dict[str, Any]]
) -> tuple[PairBaseline, BaseGeometry]:
    """The checks of a pair of GEP SLC products (``gep:swath_geometry`` items)."""
    ref_item, sec_item = items["reference"], items["secondary"]
    ref_geom, sec_geom = geometry_of(ref_item), geometry_of(sec_item)
    if inputs.polarisation is not None and inputs.polarisation != ref_geom.polarisation:
        raise InvalidInput(
            f"inputs.polarisation {inputs.polarisation}: the GEP SLC products are "
            f"{ref_geom.polarisation}; leave it out or give {ref_geom.polarisation}",
            field="inputs.polarisation",
        )
    if inputs.orbit != "annotation":
        raise InvalidInput(
            "inputs.orbit 'precise' applies to Sentinel-1 SAFE products; GEP SLC products "
            "carry their own orbit (give 'annotation' or leave it out)",
            field="inputs.orbit",
        )
    baseline = check_pair(ref_geom, sec_geom)
    check_order(baseline.temporal_days)
    return baseline, check_area(inputs, ref_item, sec_item, items.get("dem"))


def check_order(temporal_days: float) -> None:
    """The secondary must be the later acquisition (the sign of every product depends on it)."""
    if temporal_days <= 0:
        raise InvalidInput(
            "the secondary must be acquired after the reference "
            f"(it is {-temporal_days:.1f} days earlier); swap them",
            field="inputs.secondary",
        )


def check_area(
    inputs: PairInputs,
    ref_item: dict[str, Any],
    sec_item: dict[str, Any],
    dem_item: dict[str, Any] | None,
) -> BaseGeometry:
    """The area to process: the footprints' overlap met by the aoi, inside the DEM."""
    overlap = shape(ref_item["geometry"]).intersection(shape(sec_item["geometry"]))
    if overlap.is_empty or overlap.area <= 0:
        raise InvalidInput(
            "the reference and secondary footprints do not overlap", field="inputs.secondary"
        )
    area = overlap
    if inputs.aoi is not None:
        aoi = parse_area(inputs.aoi)
        area = overlap.intersection(aoi)
        if area.is_empty or area.area <= 0:
            raise InvalidInput(
                f"inputs.aoi lies outside the scene (the pair covers {_fmt_bounds(overlap)})",
                field="inputs.aoi",
            )
    if dem_item is not None:
        dem_asset(dem_item)
        w, s, e, n = dem_item.get("bbox") or shape(dem_item["geometry"]).bounds
        if not box(w, s, e, n).buffer(1e-9).contains(area):
            raise InvalidInput(
                f"inputs.dem covers {_fmt_bounds(box(w, s, e, n))}, not the area to process "
                f"({_fmt_bounds(area)}); give a DEM over it or a smaller aoi",
                field="inputs.dem",
            )
    return area


def _fmt_bounds(g: BaseGeometry) -> str:
    w, s, e, n = g.bounds
    return f"[{w:.4f}, {s:.4f}, {e:.4f}, {n:.4f}]"


def radar_window(
    geom: SwathGeometry, area: BaseGeometry, dem: Dem | float
) -> tuple[int, int, int, int]:
    """(line0, sample0, lines, samples) of ``geom`` that covers ``area`` (plus a margin)."""
    ring = np.asarray(area.envelope.exterior.coords)
    lon = np.r_[ring[:, 0], area.centroid.x]
    lat = np.r_[ring[:, 1], area.centroid.y]
    line, sample = lonlat_to_radar(geom, lat, lon, dem)
    l0, l1 = int(np.floor(line.min())) - 16, int(np.ceil(line.max())) + 16
    s0, s1 = int(np.floor(sample.min())) - 32, int(np.ceil(sample.max())) + 32
    # at least the refinement's minimum, centred on the area
    if l1 - l0 < MIN_WINDOW[0]:
        c = (l0 + l1) // 2
        l0, l1 = c - MIN_WINDOW[0] // 2, c + MIN_WINDOW[0] // 2
    if s1 - s0 < MIN_WINDOW[1]:
        c = (s0 + s1) // 2
        s0, s1 = c - MIN_WINDOW[1] // 2, c + MIN_WINDOW[1] // 2
    l0, s0 = max(l0, 0), max(s0, 0)
    l1, s1 = min(l1, geom.lines), min(s1, geom.samples)
    if l1 - l0 < MIN_WINDOW[0] or s1 - s0 < MIN_WINDOW[1]:
        raise InvalidInput(
            "the area to process covers too little of the scene "
            f"({l1 - l0} × {s1 - s0} pixels; at least {MIN_WINDOW[0]} × {MIN_WINDOW[1]} needed)",
            field="inputs.aoi",
        )
    return l0, s0, l1 - l0, s1 - s0


def stage_dem(
    ctx: ProcessContext, inputs: PairInputs, items: dict[str, dict[str, Any]]
) -> Dem | float:
    """The job's DEM (its item added to ``items`` as ``dem``), or the ellipsoid (0.0)."""
    if inputs.dem is None:
        ctx.logger.warning("no DEM given: the ellipsoid is used and topography stays in the phase")
        return 0.0
    dem_item, _ = ctx.stage(inputs.dem)
    _, dem_path = ctx.stage(inputs.dem, dem_asset(dem_item))
    items["dem"] = dem_item
    assert dem_path is not None
    raster = read_dem(dem_path)
    return Dem(raster.heights, raster.lat0, raster.lon0, raster.dlat, raster.dlon)


def load_pair(
    ctx: ProcessContext, inputs: PairInputs
) -> tuple[
    NDArray[np.complex64],
    NDArray[np.complex64],
    SwathGeometry,
    SwathGeometry,
    Dem | float,
    PairBaseline,
]:
    """Stage both products (and the DEM), check them again, cut the area's window."""
    ref_item, ref_path = ctx.stage(inputs.reference, "slc")
    sec_item, sec_path = ctx.stage(inputs.secondary, "slc")
    items = {"reference": ref_item, "secondary": sec_item}
    dem = stage_dem(ctx, inputs, items)
    baseline, area = check_slc_items(inputs, items)
    ref_geom, sec_geom = geometry_of(ref_item), geometry_of(sec_item)
    assert ref_path is not None and sec_path is not None
    l0, s0, lines, samples = radar_window(ref_geom, area, dem)
    ctx.logger.info(
        "processing window: lines %d-%d, samples %d-%d", l0, l0 + lines, s0, s0 + samples
    )
    if (sec_geom.lines, sec_geom.samples) != (ref_geom.lines, ref_geom.samples):
        raise InvalidInput(
            "the secondary's image size differs from the reference's", field="inputs.secondary"
        )
    ref = read_slc(ref_path, ref_geom, (l0, s0, lines, samples))
    sec = read_slc(sec_path, sec_geom, (l0, s0, lines, samples))
    return (
        ref,
        sec,
        crop_geometry(ref_geom, l0, s0, lines, samples),
        crop_geometry(sec_geom, l0, s0, lines, samples),
        dem,
        baseline,
    )
