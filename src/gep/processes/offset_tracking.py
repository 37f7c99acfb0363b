"""``offset-tracking``: ground displacement from optical image correlation (landslides,
co-seismic offsets), after EOST-CNRS's multiple pairwise image correlation (MPIC).

Two or more co-registered images of one band (Landsat, Sentinel-2 or uploaded GeoTIFFs on one
grid) are cut to the area, correlated pair by pair on a grid of windows
(:func:`gep.algorithms.optical.correlation.offset_tracking`) and, with more than two dates,
the pairs are inverted into a displacement time series per grid node
(:func:`gep.algorithms.optical.mpic.invert_offsets`). Published: east, north and magnitude of
the displacement (first to last date, metres) as COGs with PNG maps, the correlation SNR as a
COG, the vectors as GeoJSON arrows and, with more than two dates, a CSV time series per node.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field, field_validator

from gep.algorithms.optical.correlation import OffsetField, offset_tracking, to_east_north
from gep.algorithms.optical.mpic import default_pairs, invert_offsets
from gep.core.errors import InvalidInput
from gep.core.media import COG, CSV, GEOJSON, PNG
from gep.core.render import RenderHint, RenderKind, Resampling
from gep.io.optical import Raster, read_aligned
from gep.io.writers import (
    bounds_of,
    footprint,
    to_lonlat,
    write_cog,
    write_csv,
    write_geojson,
    write_png_map,
)
from gep.processes.base import Process, ProcessContext
from gep.processes.optical_common import (
    Aoi,
    aoi_bounds,
    aoi_field,
    check_band_grids,
    item_datetime,
    item_grid,
    listed_items,
    products_field,
    stage_asset,
)

CSV_COLUMNS = [
    "node", "row", "col", "x", "y", "longitude", "latitude", "date",
    "east_m", "north_m", "magnitude_m", "residual_px",
]  # fmt: skip


class OffsetTrackingInputs(BaseModel):
    products: list[str | dict[str, Any]] = products_field(
        "Two or more co-registered optical images of one area (Landsat / Sentinel-2 products "
        "or uploaded GeoTIFFs on one grid), in any order: they are sorted by date",
        min_length=2,
    )
    band: str | None = Field(
        None,
        description="The band to correlate: an asset key, a band name (B4, B04, B8A) or a "
        "common name (red, nir08, pan); default: the item's only raster, else its red band",
    )
    window: int = Field(64, ge=16, le=256, description="Correlation window (pixels, even)")
    step: int = Field(16, ge=1, le=256, description="Spacing of the windows (pixels)")
    method: Literal["phase", "ncc"] = Field(
        "phase",
        description="phase: frequency-domain phase correlation with a sub-pixel phase-plane "
        "fit (~0.01 px); ncc: spatial normalised cross-correlation with a parabolic peak fit",
    )
    aoi: Aoi = aoi_field("default: the area the images cover together")
    pairs: list[list[int]] | None = Field(
        None,
        description="With more than two images: the pairs to correlate, as [i, j] indices "
        "of the images sorted by date (i earlier); default: every pair at most two dates apart",
    )
    min_coherence: float = Field(
        0.3, ge=0.0, le=1.0, description="Windows whose fit coherence is lower are masked"
    )
    median_threshold: float | None = Field(
        2.0, gt=0, description="Normalised median test threshold (null: no outlier test)"
    )

    @field_validator("window")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("window must be an even number of pixels")
        return value

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: list[list[int]] | None) -> list[list[int]] | None:
        if value is not None:
            for k, p in enumerate(value):
                if len(p) != 2 or p[0] == p[1] or min(p) < 0:
                    raise ValueError(f"pairs[{k}] must be two different image indices [i, j]")
        return value


class OffsetTrackingOutputs(BaseModel):
    east: str = Field(..., description="COG: east displacement, first to last date (m)")
    north: str = Field(..., description="COG: north displacement (m)")
    magnitude: str = Field(..., description="COG: horizontal displacement magnitude (m)")
    snr: str = Field(..., description="COG: correlation SNR (median over the pairs)")
    arrows: str = Field(..., description="GeoJSON: one arrow per valid window")
    timeseries: str | None = Field(None, description="CSV per node and date (> 2 images)")
    dates: list[str]
    pairs: list[list[int]]
    windows: int
    valid_fraction: float
    median_magnitude_m: float


class OffsetTracking(Process):
    id = "offset-tracking"
    version = "1.0.0"
    title = "Optical offset tracking (image correlation, MPIC)"
    description = (
        "Horizontal ground displacement (east, north, magnitude in metres) from the sub-pixel "
        "correlation of two or more co-registered optical images (landslides, co-seismic "
        "offsets); with more than two dates, a displacement time series per grid node from "
        "multiple pairwise correlations."
    )
    keywords = ["optical", "image correlation", "offset tracking", "landslide", "MPIC"]
    Inputs = OffsetTrackingInputs
    Outputs = OffsetTrackingOutputs
    output_formats = {
        "east": COG,
        "north": COG,
        "magnitude": COG,
        "snr": COG,
        "arrows": GEOJSON,
        "timeseries": CSV,
    }
    renders = {
        "east": RenderHint(
            RenderKind.DIVERGING, "East displacement", "m", "rdbu_r", half_range=1.0,
            resampling=Resampling.BILINEAR,
        ),
        "north": RenderHint(
            RenderKind.DIVERGING, "North displacement", "m", "rdbu_r", half_range=1.0,
            resampling=Resampling.BILINEAR,
        ),
        "magnitude": RenderHint(
            RenderKind.SEQUENTIAL, "Horizontal displacement", "m", "viridis", floor=0.0,
            resampling=Resampling.BILINEAR,
        ),
        "snr": RenderHint(RenderKind.SEQUENTIAL, "Correlation SNR", "", "magma"),
    }  # fmt: skip

    def preflight(self, inputs: Any, items: dict[str, dict[str, Any]]) -> None:
        listed = listed_items(items, "products", len(inputs.products))
        if len(listed) != len(inputs.products):
            return  # not every reference resolved (checked by the API)
        _check(inputs, listed)

    def execute(self, ctx: ProcessContext, inputs: OffsetTrackingInputs) -> OffsetTrackingOutputs:
        ctx.progress(2, "staging the images")
        records = [ctx.stage(ref)[0] for ref in inputs.products]
        keys, order, pairs = _check(inputs, records)
        paths = [stage_asset(ctx, inputs.products[k], keys[k]) for k in order]
        labels = [f"inputs.products[{k}]" for k in order]
        dates = [item_datetime(records[k], labels[i]) for i, k in enumerate(order)]
        rasters = read_aligned(paths, labels, aoi_bounds(inputs.aoi))
        shape = rasters[0].data.shape
        if inputs.window > min(shape):
            raise InvalidInput(
                f"inputs.window: {inputs.window} pixels is larger than the area read "
                f"({shape[0]} × {shape[1]} pixels); choose a window of at most {min(shape)} "
                "or a larger aoi",
                field="inputs.window",
            )
        ctx.logger.info(
            "%d images, %d × %d pixels of %g m, %d pairs", len(paths), *shape,
            rasters[0].resolution[0], len(pairs),
        )  # fmt: skip
        images = [_as_float(r) for r in rasters]
        fields: list[OffsetField] = []
        for n, (i, j) in enumerate(pairs):
            ctx.progress(5 + int(75 * n / len(pairs)), f"correlating pair {n + 1}/{len(pairs)}")
            fields.append(
                offset_tracking(
                    images[i], images[j], window=inputs.window, step=inputs.step,
                    method=inputs.method, min_coherence=inputs.min_coherence,
                    median_threshold=inputs.median_threshold,
                )
            )  # fmt: skip
            ctx.logger.info(
                "pair %s-%s: %d windows, %.0f%% valid", dates[i].date(), dates[j].date(),
                fields[-1].windows, 100 * fields[-1].valid.mean(),
            )  # fmt: skip
        ctx.progress(82, "displacements and outputs")
        return _publish(ctx, inputs, rasters[0], dates, pairs, fields)


def _check(
    inputs: OffsetTrackingInputs, items: list[dict[str, Any]]
) -> tuple[list[str], list[int], list[tuple[int, int]]]:
    """Asset keys (in input order), the date order, and the pairs (indices in date order)."""
    keys = check_band_grids(items, inputs.band)
    stamps = [item_datetime(it, f"inputs.products[{k}]") for k, it in enumerate(items)]
    order = sorted(range(len(items)), key=lambda k: stamps[k])
    n = len(items)
    if n > 2 and len({stamps[k].date() for k in order}) < n:
        raise InvalidInput(
            "inputs.products: with more than two images each must be of a different day "
            "(the time series has one displacement per date)",
            field="inputs.products",
        )
    if inputs.pairs is None:
        pairs = default_pairs(n)
    else:
        pairs = [(int(p[0]), int(p[1])) for p in inputs.pairs]
        for k, (i, j) in enumerate(pairs):
            if max(i, j) >= n:
                raise InvalidInput(
                    f"inputs.pairs[{k}]: index {max(i, j)} but there are {n} images",
                    field=f"inputs.pairs[{k}]",
                )
            if i > j:
                raise InvalidInput(
                    f"inputs.pairs[{k}]: image {i} is later than image {j}; give [earlier, later]",
                    field=f"inputs.pairs[{k}]",
                )
    # a window larger than an image is refused now when the items declare their size
    for k, (item, key) in enumerate(zip(items, keys, strict=True)):
        _, _, shape = item_grid(item, key)
        if shape is not None and inputs.aoi is None and inputs.window > min(shape):
            raise InvalidInput(
                f"inputs.window: {inputs.window} pixels is larger than inputs.products[{k}] "
                f"({shape[0]} × {shape[1]} pixels); choose a window of at most {min(shape)}",
                field="inputs.window",
            )
    return keys, order, pairs


def _as_float(r: Raster) -> NDArray[np.float32]:
    """Pixels as float32; no-data (the file's declared value, NaN, or 0 in integer L1
    products) filled with the image mean so that a window touching it decorrelates instead
    of locking onto the border."""
    data = r.data.astype("float32")
    nodata = ~np.isfinite(data)
    if r.nodata is not None and np.isfinite(r.nodata):
        nodata |= r.data == r.nodata
    elif np.issubdtype(r.data.dtype, np.integer):
        nodata |= r.data == 0
    if nodata.any() and not nodata.all():
        data[nodata] = float(data[~nodata].mean())
    return data


def _publish(
    ctx: ProcessContext,
    inputs: OffsetTrackingInputs,
    grid: Raster,
    dates: list[Any],
    pairs: list[tuple[int, int]],
    fields: list[OffsetField],
) -> OffsetTrackingOutputs:
    f0 = fields[0]
    shape = f0.dy.shape
    res = grid.resolution[0]
    snr = np.nanmedian(np.stack([f.snr for f in fields]), axis=0).astype("float32")
    series = None
    if len(dates) == 2:
        dy = np.where(f0.valid, f0.dy, np.nan)
        dx = np.where(f0.valid, f0.dx, np.nan)
    else:
        series = invert_offsets(
            [d.date() for d in dates],
            pairs,
            np.stack([f.dy for f in fields]),
            np.stack([f.dx for f in fields]),
            np.stack([f.valid for f in fields]),
        )
        dy, dx = series.dy[-1], series.dx[-1]
    east, north = to_east_north(dy, dx, grid.transform)
    magnitude = np.hypot(east, north)
    # the window grid: node (i, j) is centred on pixel (rows[i], cols[j]) of the area read
    a, _, c, _, e, f = grid.transform
    step = f0.step
    out_t = (
        a * step, 0.0, c + a * (f0.cols[0] + 0.5 - step / 2),
        0.0, e * step, f + e * (f0.rows[0] + 0.5 - step / 2),
    )  # fmt: skip
    xs = c + a * (f0.cols + 0.5)
    ys = f + e * (f0.rows + 0.5)
    hrefs: dict[str, str] = {}
    lim = float(np.nanpercentile(np.abs(np.r_[east.ravel(), north.ravel()]), 99)) if np.isfinite(
        east
    ).any() else 1.0  # fmt: skip
    lim = max(lim, 1e-3)
    mlim = max(
        float(np.nanpercentile(magnitude, 99)) if np.isfinite(magnitude).any() else lim, 1e-3
    )
    span = f"{dates[0].date()} → {dates[-1].date()}"
    layers = [
        ("east", east, "East displacement", "RdBu_r", -lim, lim),
        ("north", north, "North displacement", "RdBu_r", -lim, lim),
        ("magnitude", magnitude, "Horizontal displacement", "viridis", 0.0, mlim),
    ]
    xx, yy = np.meshgrid(xs, ys)
    ok = np.isfinite(magnitude)
    # arrows drawn so that the 95th percentile spans 0.8 of the node spacing; motion below a
    # twentieth of a pixel is not magnified further (still ground would give endless arrows)
    typical = float(np.nanpercentile(magnitude[ok], 95)) if ok.any() else 0.0
    scale = 0.8 * step * res / max(typical, 0.05 * res)
    for key, data, title, cmap, vmin, vmax in layers:
        path = ctx.output_dir / f"{key}.tif"
        write_cog(
            path, data.astype("float32"), grid.crs, out_t, render=OffsetTracking.render_for(key)
        )
        hrefs[key] = ctx.add_asset(key, path, COG, ["data"], f"{title}, {span} (m)")
        png = ctx.output_dir / f"{key}.png"
        arrows = (
            (xx[ok], yy[ok], east[ok] * scale, north[ok] * scale) if key == "magnitude" else None
        )
        write_png_map(
            png, data, bounds_of(out_t, data.shape[-2:]), title=f"{title}, {span}", label="m",
            cmap=cmap, vmin=vmin, vmax=vmax, arrows=arrows,
        )  # fmt: skip
        ctx.add_asset(f"{key}_png", png, PNG, ["overview", "visual"], f"{title} map")
    path = ctx.output_dir / "snr.tif"
    write_cog(path, snr, grid.crs, out_t, render=OffsetTracking.render_for("snr"))
    hrefs["snr"] = ctx.add_asset("snr", path, COG, ["data"], "Correlation SNR")
    # arrows: from each valid node to node + displacement × scale (lon/lat, RFC 7946)
    lon0, lat0 = to_lonlat(grid.crs, xx[ok], yy[ok])
    lon1, lat1 = to_lonlat(grid.crs, xx[ok] + east[ok] * scale, yy[ok] + north[ok] * scale)
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[a0, b0], [a1, b1]]},
            "properties": {
                "east_m": float(ev),
                "north_m": float(nv),
                "magnitude_m": float(mv),
                "snr": float(sv),
                "arrow_scale": scale,
            },
        }
        for a0, b0, a1, b1, ev, nv, mv, sv in zip(
            lon0, lat0, lon1, lat1, east[ok], north[ok], magnitude[ok], snr[ok], strict=True
        )
    ]
    path = ctx.output_dir / "arrows.geojson"
    write_geojson(path, feats)
    hrefs["arrows"] = ctx.add_asset("arrows", path, GEOJSON, ["data"], "Displacement arrows")
    timeseries = None
    if series is not None:
        lon, lat = to_lonlat(grid.crs, xx, yy)
        rows = []
        for i in range(shape[0]):
            for j in range(shape[1]):
                node = i * shape[1] + j
                for k, day in enumerate(series.dates):
                    e_k, n_k = to_east_north(series.dy[k, i, j], series.dx[k, i, j], grid.transform)
                    rows.append([
                        node, i, j, float(xx[i, j]), float(yy[i, j]), float(lon[i, j]),
                        float(lat[i, j]), day, float(e_k), float(n_k), float(np.hypot(e_k, n_k)),
                        float(series.residual[i, j]),
                    ])  # fmt: skip
        path = ctx.output_dir / "timeseries.csv"
        write_csv(path, CSV_COLUMNS, rows)
        timeseries = ctx.add_asset("timeseries", path, CSV, ["data"], "Displacement per node")
    ctx.set_footprint(footprint(grid.crs, grid.transform, grid.data.shape))
    ctx.progress(100, "done")
    valid = np.isfinite(magnitude)
    return OffsetTrackingOutputs(
        east=hrefs["east"],
        north=hrefs["north"],
        magnitude=hrefs["magnitude"],
        snr=hrefs["snr"],
        arrows=hrefs["arrows"],
        timeseries=timeseries,
        dates=[str(d.date()) for d in dates],
        pairs=[list(p) for p in pairs],
        windows=int(magnitude.size),
        valid_fraction=round(float(valid.mean()), 4),
        median_magnitude_m=round(float(np.nanmedian(magnitude)) if valid.any() else 0.0, 4),
    )
