"""``hotspots``: volcanic thermal anomalies in Sentinel-2 MSI and Landsat-8/9 OLI scenes (the
Normalized Hotspot Indices of Marchese et al. 2019), after INGV's surface-temperature and
hotspot monitoring of Etna and the Phlegraean Fields.

For each scene (a list of products, or a collection searched over an area and a period): the
NIR / SWIR-1 / SWIR-2 bands are read over the area, converted from digital numbers to TOA
radiance with the product's metadata, clouds are flagged (the product's own QA band when it
has one, else a spectral test on TOA reflectance), and pixels with NHI_SWIR > 0 or
NHI_SWNIR > 0 are hot (:mod:`gep.algorithms.thermal`). A scene whose area is clouded over is
reported as such rather than as "no hotspot". Published: a mask COG per scene (0 cold, 1 hot,
2 cloud, 255 no data), the hot pixels as GeoJSON polygons (lon/lat) with their date, and a
CSV time series of hot-pixel count, area and SWIR radiance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import BaseModel, Field, field_validator, model_validator

from gep.algorithms.thermal import cloud_mask, hotspot_mask, hotspot_stats, nhi
from gep.core.errors import InvalidInput
from gep.core.geometry import parse_area
from gep.core.media import COG, CSV, GEOJSON
from gep.core.render import RenderClass, RenderHint, RenderKind
from gep.core.timeutil import parse_datetime_interval
from gep.io.optical import (
    OpticalMetadata,
    band_asset,
    item_family,
    metadata_assets,
    read_aligned,
    read_metadata,
    read_on_grid,
)
from gep.io.writers import footprint, write_cog, write_csv, write_geojson
from gep.processes.base import Process, ProcessContext
from gep.processes.optical_common import (
    Aoi,
    aoi_bounds,
    aoi_field,
    item_datetime,
    listed_items,
    products_field,
    stage_asset,
)

NHI_BANDS = ("nir", "swir1", "swir2")
CSV_COLUMNS = [
    "date", "product", "mission", "status", "valid_pixels", "cloud_fraction", "hot_pixels",
    "hot_area_m2", "swir1_radiance", "swir2_radiance", "swir2_intensity", "max_nhi_swir",
    "max_nhi_swnir",
]  # fmt: skip
COLD, HOT, CLOUD, NODATA = 0, 1, 2, 255
#: how a hotspot mask is drawn (and the colour table written into its COG)
MASK_RENDER = RenderHint(
    RenderKind.CLASSES,
    "Thermal hotspots",
    nodata=NODATA,
    classes=(
        RenderClass(COLD, "cold", "#2c7bb6", "valid pixel, not hot"),
        RenderClass(HOT, "hot", "#d7191c", "hot pixel (NHI)"),
        RenderClass(CLOUD, "cloud", "#bdbdbd", "cloud (not searched for hot pixels)"),
    ),
)


class HotspotsInputs(BaseModel):
    products: list[str | dict[str, Any]] | None = products_field(
        "Sentinel-2 L1C or Landsat-8/9 L1 products (band assets and their metadata file)",
        min_length=1,
        required=False,
    )
    collection: str | None = Field(
        None, description="Instead of products: a collection searched over aoi and datetime"
    )
    datetime: str | None = Field(
        None, description='With collection: the period, "start/end" (RFC 3339, open ends "..")'
    )
    aoi: Aoi = aoi_field("required with collection; default: the whole scene")
    max_cloud: float = Field(
        0.8, ge=0.0, le=1.0,
        description="A scene whose area is clouded over by this fraction or more is reported "
        "'clouded', without a hot-pixel count",
    )  # fmt: skip
    min_swir2: float = Field(
        0.0,
        ge=0.0,
        description="Optional floor on the SWIR-2 radiance of hot pixels (W m-2 sr-1 µm-1)",
    )
    limit: int = Field(100, ge=1, le=1000, description="Most scenes taken from a collection")

    @field_validator("datetime")
    @classmethod
    def _datetime(cls, value: str | None) -> str | None:
        if value is not None:
            parse_datetime_interval(value, "datetime")
        return value

    @model_validator(mode="after")
    def _source(self) -> HotspotsInputs:
        if (self.products is None) == (self.collection is None):
            raise ValueError("give either products or collection (with aoi and datetime)")
        if self.collection is not None and self.aoi is None:
            raise ValueError("aoi is required with collection")
        return self


class SceneRow(BaseModel):
    date: str
    product: str
    status: str  # ok, clouded, no data, outside aoi
    hot_pixels: int | None
    cloud_fraction: float


class HotspotsOutputs(BaseModel):
    timeseries: str = Field(..., description="CSV: one row per scene")
    polygons: str = Field(..., description="GeoJSON: hot areas (lon/lat) with their date")
    masks: list[str] = Field(..., description="COG per scene: 0 cold, 1 hot, 2 cloud, 255 none")
    scenes: list[SceneRow]


class Hotspots(Process):
    id = "hotspots"
    version = "1.0.0"
    title = "Volcanic thermal hotspots (NHI)"
    description = (
        "Hot pixels of Sentinel-2 MSI and Landsat-8/9 OLI scenes by the Normalized Hotspot "
        "Indices (Marchese et al. 2019) on TOA radiance, over an area and across many scenes: "
        "hotspot masks, polygons and a time series of hot-pixel count, area and SWIR radiance."
    )
    keywords = ["optical", "thermal", "hotspot", "volcano", "NHI", "Sentinel-2", "Landsat"]
    Inputs = HotspotsInputs
    Outputs = HotspotsOutputs
    output_formats = {
        "timeseries": CSV,
        "polygons": GEOJSON,
        "masks": COG,
    }
    renders = {"mask_*": MASK_RENDER}

    def preflight(self, inputs: Any, items: dict[str, dict[str, Any]]) -> None:
        if inputs.products is None:
            return
        for k, item in enumerate(listed_items(items, "products", len(inputs.products))):
            _check_item(item, f"inputs.products[{k}]")

    def execute(self, ctx: ProcessContext, inputs: HotspotsInputs) -> HotspotsOutputs:
        ctx.progress(2, "finding the scenes")
        refs: list[Any]
        if inputs.products is not None:
            refs = list(inputs.products)
            records = [ctx.stage(r)[0] for r in refs]
        else:
            params: dict[str, Any] = {"collections": [inputs.collection]}
            params["intersects"] = orjson.loads(
                orjson.dumps(parse_area(inputs.aoi).__geo_interface__)
            )
            if inputs.datetime:
                params["datetime"] = inputs.datetime
            records = ctx.search(params, limit=inputs.limit)
            if not records:
                raise InvalidInput(
                    f"no item of collection '{inputs.collection}' covers inputs.aoi"
                    + (f" in {inputs.datetime}" if inputs.datetime else ""),
                    field="inputs.collection",
                )
            refs = [f"{r['collection']}/{r['id']}" for r in records]
        labels = [f"inputs.products[{k}]" for k in range(len(refs))]
        if inputs.collection is not None:
            labels = [f"scene {r['id']}" for r in records]
        for item, label in zip(records, labels, strict=True):
            _check_item(item, label)
        order = sorted(range(len(records)), key=lambda k: item_datetime(records[k], labels[k]))
        bounds = aoi_bounds(inputs.aoi)
        rows: list[list[Any]] = []
        scenes: list[SceneRow] = []
        masks: list[str] = []
        features: list[dict[str, Any]] = []
        last: _Scene | None = None
        for n, k in enumerate(order):
            item = records[k]
            ctx.progress(5 + int(90 * n / len(order)), f"scene {n + 1}/{len(order)}: {item['id']}")
            scene = _scene(ctx, refs[k], item, labels[k], bounds, inputs)
            day = item_datetime(item, labels[k]).date().isoformat()
            if scene is None:
                ctx.logger.info("%s %s: does not cover the area", day, item["id"])
                rows.append([day, item["id"], "", "outside aoi", 0, "", *[""] * 7])
                scenes.append(SceneRow(date=day, product=item["id"], status="outside aoi",
                                       hot_pixels=None, cloud_fraction=0.0))  # fmt: skip
                continue
            st = scene.stats
            figures: list[Any] = [""] * 7
            if st is not None:
                figures = [
                    st.hot_pixels, st.hot_area_m2, st.swir1_radiance, st.swir2_radiance,
                    st.swir2_intensity, st.max_nhi_swir, st.max_nhi_swnir,
                ]  # fmt: skip
            head = [day, item["id"], scene.meta.mission, scene.status, scene.valid]
            rows.append([*head, scene.cloud_fraction, *figures])
            scenes.append(
                SceneRow(
                    date=day,
                    product=item["id"],
                    status=scene.status,
                    hot_pixels=st.hot_pixels if st else None,
                    cloud_fraction=round(scene.cloud_fraction, 4),
                )
            )
            ctx.logger.info(
                "%s %s: %s, cloud %.0f%%, %s hot pixels", day, item["id"], scene.status,
                100 * scene.cloud_fraction, st.hot_pixels if st else "-",
            )  # fmt: skip
            key = f"mask_{n:03d}_{day}"
            path = ctx.output_dir / f"{key}.tif"
            write_cog(
                path, scene.mask, scene.crs, scene.transform, nodata=NODATA, render=MASK_RENDER
            )
            masks.append(
                ctx.add_asset(key, path, COG, ["data"], f"Hotspot mask {day} {item['id']}")
            )
            features += _polygons(scene, day, item["id"])
            last = scene
        csv_path = ctx.output_dir / "hotspots.csv"
        write_csv(csv_path, CSV_COLUMNS, rows)
        ts = ctx.add_asset("timeseries", csv_path, CSV, ["data"], "Hot pixels per scene")
        gj = ctx.output_dir / "hotspots.geojson"
        write_geojson(gj, features)
        poly = ctx.add_asset("polygons", gj, GEOJSON, ["data"], "Hotspot polygons")
        if last is not None:
            ctx.set_footprint(footprint(last.crs, last.transform, last.mask.shape))
        ctx.progress(100, "done")
        return HotspotsOutputs(timeseries=ts, polygons=poly, masks=masks, scenes=scenes)


def _check_item(item: dict[str, Any], label: str) -> None:
    """The NHI bands and the metadata file must be among the item's assets."""
    if item_family(item) is None:
        raise InvalidInput(
            f"{label}: item '{item.get('id')}' is neither a Sentinel-2 nor a Landsat product "
            "(no platform property, no MTL / MTD_MSIL1C metadata asset)",
            field=label,
        )
    for band in NHI_BANDS:
        band_asset(item, band, field=label)
    meta = metadata_assets(item)
    family = item_family(item)
    need = ("mtl",) if family == "landsat" else ("product", "tile")
    missing = [m for m in need if m not in meta]
    if missing:
        names = {"mtl": "*_MTL.txt", "product": "MTD_MSIL1C.xml", "tile": "MTD_TL.xml"}
        raise InvalidInput(
            f"{label}: item '{item.get('id')}' lacks its metadata file "
            f"({', '.join(names[m] for m in missing)}), needed to convert digital numbers to "
            "radiance",
            field=label,
        )


@dataclass
class _Scene:
    meta: OpticalMetadata
    status: str
    valid: int
    cloud_fraction: float
    mask: NDArray[np.uint8]
    crs: str
    transform: tuple[float, float, float, float, float, float]
    stats: Any
    swir2: NDArray[np.float32]


def _scene(
    ctx: ProcessContext,
    ref: Any,
    item: dict[str, Any],
    label: str,
    bounds: tuple[float, float, float, float] | None,
    inputs: HotspotsInputs,
) -> _Scene | None:
    meta_paths = {k: stage_asset(ctx, ref, key) for k, key in metadata_assets(item).items()}
    meta = read_metadata(meta_paths)
    keys = {b: band_asset(item, b, field=label) for b in NHI_BANDS}
    paths = [stage_asset(ctx, ref, keys[b]) for b in NHI_BANDS]
    try:
        rasters = read_aligned(paths, [f"{label} band {b}" for b in NHI_BANDS], bounds)
    except InvalidInput as exc:
        if exc.field != "inputs.aoi":
            raise
        return None  # the scene does not cover the area
    grid = rasters[0]
    rad = {b: meta.radiance(b, r.data) for b, r in zip(NHI_BANDS, rasters, strict=True)}
    valid = np.isfinite(rad["nir"]) & np.isfinite(rad["swir1"]) & np.isfinite(rad["swir2"])
    cloud = _clouds(ctx, ref, item, meta, grid, rasters, label)
    cloud &= valid
    n_valid = int(valid.sum())
    fraction = float(cloud.sum() / n_valid) if n_valid else 0.0
    mask = np.full(grid.data.shape, NODATA, dtype=np.uint8)
    mask[valid] = COLD
    mask[cloud] = CLOUD
    stats = None
    if n_valid == 0:
        status = "no data"
    elif fraction >= inputs.max_cloud:
        status = "clouded"
    else:
        status = "ok"
        swir, swnir = nhi(rad["nir"], rad["swir1"], rad["swir2"])
        hot = hotspot_mask(
            swir, swnir, swir2=rad["swir2"], min_swir2=inputs.min_swir2, valid=valid & ~cloud
        )
        mask[hot] = HOT
        res = grid.resolution
        stats = hotspot_stats(hot, rad["swir1"], rad["swir2"], swir, swnir, res[0] * res[1])
    return _Scene(
        meta, status, n_valid, fraction, mask, grid.crs, grid.transform, stats, rad["swir2"]
    )  # type: ignore[arg-type]


def _clouds(
    ctx: ProcessContext,
    ref: Any,
    item: dict[str, Any],
    meta: OpticalMetadata,
    grid: Any,
    rasters: list[Any],
    label: str,
) -> NDArray[np.bool_]:
    """The product's cloud flag where it has one, else the spectral test (needs blue and red),
    else no clouds (logged)."""
    shape = grid.data.shape
    qa_key = _qa_asset(item)
    if qa_key is not None and meta.cloud_flag is not None:
        qa = read_on_grid(
            stage_asset(ctx, ref, qa_key), grid.crs, grid.transform, shape, label=label
        )
        return ((qa.astype(np.int64) >> meta.cloud_flag[1]) & 1).astype(bool)
    try:
        blue_key = band_asset(item, "blue", field=label)
        red_key = band_asset(item, "red", field=label)
    except InvalidInput:
        ctx.logger.warning("%s: no QA band and no blue/red bands: clouds are not screened", label)
        return np.zeros(shape, dtype=bool)
    blue = read_on_grid(
        stage_asset(ctx, ref, blue_key), grid.crs, grid.transform, shape, label=label
    )
    red = read_on_grid(stage_asset(ctx, ref, red_key), grid.crs, grid.transform, shape, label=label)
    return cloud_mask(
        meta.reflectance("blue", blue),
        meta.reflectance("red", red),
        meta.reflectance("swir1", rasters[1].data),
        meta.reflectance("swir2", rasters[2].data),
    )


def _qa_asset(item: dict[str, Any]) -> str | None:
    for key, asset in (item.get("assets") or {}).items():
        name = Path(str(asset.get("href", ""))).name.upper()
        if key.lower() in ("qa", "bqa", "qa_pixel") or name.endswith(("_BQA.TIF", "_QA_PIXEL.TIF")):
            return key
    return None


def _polygons(scene: _Scene, day: str, product: str) -> list[dict[str, Any]]:
    """Connected hot areas as lon/lat polygons, with their pixel count and SWIR-2 radiance."""
    from rasterio.features import shapes
    from rasterio.transform import Affine
    from rasterio.warp import transform_geom

    hot = scene.mask == HOT
    if not hot.any():
        return []
    from scipy import ndimage

    labels, _ = ndimage.label(hot, structure=np.ones((3, 3)))
    out = []
    for geom, value in shapes(
        labels.astype(np.int32), mask=hot, transform=Affine(*scene.transform)
    ):
        region = labels == int(value)
        out.append(
            {
                "type": "Feature",
                "geometry": transform_geom(scene.crs, "EPSG:4326", geom),
                "properties": {
                    "date": day,
                    "product": product,
                    "hot_pixels": int(region.sum()),
                    "swir2_radiance": float(np.nansum(scene.swir2[region])),
                },
            }
        )
    return out
