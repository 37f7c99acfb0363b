"""The inversion streamed block by block into ``sbas``'s products, and their assets.

Rows are read, inverted and written a block at a time (memory bounded by ``block_mb``); the
COGs are assembled from the blocks, then the quicklooks, the KMZ and the time-series CSV.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gep.algorithms.sar.geocode import GeoGrid
from gep.algorithms.timeseries.network import Network
from gep.algorithms.timeseries.sbas import BLOCK_BYTES, SbasOptions, row_blocks, run_sbas
from gep.core.media import COG, CSV, KMZ, PNG
from gep.io.ifg_stack import BlockWriter, read_rows
from gep.io.writers import write_kmz, write_png_map
from gep.processes.sbas.inputs import SbasInputs
from gep.processes.sbas.stack import (
    Stack,
    as_phase,
    check_points,
    default_reference,
    geogrid,
    reference_offsets,
    reference_window,
)

#: columns of the time-series CSV: one row per point and date (long format: filter by point,
#: plot date against displacement_mm, draw model_mm as the fitted trend)
CSV_COLUMNS = [
    "point", "longitude", "latitude", "row", "col", "date", "decimal_year",
    "displacement_mm", "model_mm", "velocity_mm_yr", "temporal_coherence",
]  # fmt: skip


@dataclass
class Products:
    files: dict[str, Path]
    displacement: dict[str, Path]
    reference: dict[str, Any]
    velocity_range: tuple[float, float]
    connected: bool


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
        return as_phase(stack, phase), coh

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
    for name, wr in writers.items():  # band descriptions and units, for QGIS and gdalinfo
        wr.describe(_ASSETS[name][2], _UNITS[name])
    for wr in disp_writers:
        wr.describe("LOS displacement (+ towards the satellite)", "mm")
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
    write_png_map(
        out / "velocity.png", vel, grid.bounds, title=title,
        label="mm/yr (+ towards the satellite)", cmap="RdBu_r", vmin=-lim, vmax=lim,
        geographic=True,
    )  # fmt: skip
    files["velocity_png"] = out / "velocity.png"
    write_kmz(out / "velocity.kmz", vel, grid.bounds, name="GEP sbas velocity (mm/yr)",
              cmap="RdBu_r", vmin=-lim, vmax=lim, title="Mean LOS velocity",
              unit="mm/yr")  # fmt: skip
    files["kmz"] = out / "velocity.kmz"
    tc = _read_band(files["temporal_coherence"])
    write_png_map(
        out / "temporal_coherence.png", tc, grid.bounds, title="Temporal coherence",
        label="temporal coherence", cmap="gray", vmin=0.0, vmax=1.0, geographic=True,
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


#: the unit of each product COG's band
_UNITS = {
    "velocity": "mm/yr", "velocity_std": "mm/yr", "temporal_coherence": "",
    "seasonal_amplitude": "mm", "dem_error": "m",
}  # fmt: skip
#: (media type, roles, title) of each product
_ASSETS: dict[str, tuple[str, list[str], str]] = {
    "velocity": (COG, ["data"], "Mean LOS velocity (mm/yr, + towards the satellite)"),
    "velocity_std": (COG, ["data"], "Standard error of the velocity (mm/yr)"),
    "temporal_coherence": (COG, ["data", "quality"], "Temporal coherence"),
    "seasonal_amplitude": (COG, ["data"], "Annual amplitude (mm)"),
    "dem_error": (COG, ["data"], "DEM error (m)"),
    "velocity_png": (PNG, ["overview", "visual"], "Velocity quicklook with legend"),
    "temporal_coherence_png": (PNG, ["overview"], "Temporal coherence quicklook"),
    "kmz": (KMZ, ["visual"], "KMZ overlay of the velocity"),
    "timeseries_csv": (CSV, ["data"], "Time series at the points (long format)"),
}


#: the asset key of the displacement COG on each per-date item
DISPLACEMENT_ASSET = "displacement"


def date_items(
    products: Products, footprint: dict[str, Any], stored_href: Callable[[Path], str]
) -> list[dict[str, Any]]:
    """One STAC item per acquisition, its displacement COG as the asset ``displacement``.

    Why items and not one multi-band COG: odc-stac and stackstac build their time axis from
    items' ``datetime`` and their grid from the assets' ``proj:*``; one item per date on one
    grid is what both load as ``(time, y, x)`` with no hints (a multi-band asset is refused by
    stackstac and read as bands, not time, by odc-stac). The item ids are the dates
    (``YYYYMMDD``); :meth:`ProcessContext.publish_item` prefixes them with the job's id, which
    is how ``gep.jobs.publish`` finds a job's items. The assets' ``proj:*``, ``raster:bands``
    and ``file:size`` are added on the worker from the files, as for every result asset
    (``gep.jobs.asset_meta.describe_items``)."""
    from shapely.geometry import shape

    bbox = [round(v, 9) for v in shape(footprint).bounds]
    first = min(products.displacement) if products.displacement else ""
    items = []
    for date, path in sorted(products.displacement.items()):
        asset = {
            "href": stored_href(path),
            "type": COG,
            "roles": ["data"],
            "title": f"LOS displacement on {date} relative to {first} (mm)",
        }
        items.append({
            "type": "Feature",
            "stac_version": "1.1.0",
            "stac_extensions": [],
            "id": date.replace("-", ""),
            "geometry": footprint,
            "bbox": bbox,
            "properties": {
                "datetime": f"{date}T00:00:00Z",
                "title": f"SBAS LOS displacement on {date} (mm, relative to {first})",
                "gep:reference_date": first,
            },
            "assets": {DISPLACEMENT_ASSET: asset},
            "links": [],
        })  # fmt: skip
    return items


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
