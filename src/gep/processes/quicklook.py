"""``quicklook``: a PNG preview and a small Cloud-Optimised GeoTIFF of a raster asset.

The raster is read decimated (GDAL overviews when the file has them), stretched between its 2nd
and 98th percentiles per band, and written twice: as a PNG for eyes and as a georeferenced COG
for the map, both published with the job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from gep.core.media import COG, PNG
from gep.core.render import RenderHint, RenderKind
from gep.processes.base import ITEM_REF, Process, ProcessContext


class QuicklookInputs(BaseModel):
    item: str | dict[str, Any] = Field(
        ...,
        description='The catalogue item: {"href": ".../stac/collections/C/items/I"} or "C/I"',
        json_schema_extra={"format": ITEM_REF},
    )
    asset: str = Field(
        ...,
        description="Key of the raster asset to render",
        json_schema_extra={"x-gep-asset-of": "item"},
    )
    bands: list[int] | None = Field(
        None,
        min_length=1,
        max_length=3,
        description="1-based bands (1 grey or 3 RGB); default: the first, or the first three",
    )
    max_size: int = Field(1024, ge=16, le=8192, description="Longest side, in pixels")


class QuicklookOutputs(BaseModel):
    png: str = Field(..., description="The PNG preview")
    cog: str = Field(..., description="The decimated, georeferenced COG")
    width: int
    height: int


def stretch(band: np.ndarray, nodata: float | None) -> np.ndarray:
    """2-98 % linear stretch to 1-255 (0 stays for no-data)."""
    data = band.astype("float64")
    valid = np.isfinite(data) if nodata is None else np.isfinite(data) & (data != nodata)
    out = np.zeros(data.shape, dtype="uint8")
    if not valid.any():
        return out
    lo, hi = np.percentile(data[valid], [2, 98])
    scale = 254.0 / (hi - lo) if hi > lo else 0.0
    out[valid] = np.clip((data[valid] - lo) * scale, 0, 254).astype("uint8") + 1
    return out


class Quicklook(Process):
    id = "quicklook"
    version = "1.0.0"
    title = "Quicklook"
    description = (
        "Renders a PNG preview and a decimated Cloud-Optimised GeoTIFF of a raster "
        "asset of a catalogue item."
    )
    keywords = ["preview", "raster"]
    Inputs = QuicklookInputs
    Outputs = QuicklookOutputs
    output_formats = {
        "png": PNG,
        "cog": COG,
    }
    #: the COG holds stretched bytes (1-255, 0 no-data): grey or RGB as they are
    renders = {
        "cog": RenderHint(RenderKind.COMPOSITE, "Quicklook", nodata=0),
    }

    def execute(self, ctx: ProcessContext, inputs: QuicklookInputs) -> QuicklookOutputs:
        import rasterio
        from rasterio.enums import Resampling
        from rasterio.warp import transform_geom

        _, path = ctx.stage(inputs.item, inputs.asset)
        assert path is not None
        ctx.progress(20, "reading")
        with rasterio.open(path) as src:
            bands = inputs.bands or ([1, 2, 3] if src.count >= 3 else [1])
            if max(bands) > src.count:
                raise ValueError(f"band {max(bands)} requested; the asset has {src.count}")
            factor = max(1.0, max(src.width, src.height) / inputs.max_size)
            width = max(1, round(src.width / factor))
            height = max(1, round(src.height / factor))
            data = src.read(
                bands, out_shape=(len(bands), height, width), resampling=Resampling.average
            )
            transform = src.transform @ src.transform.scale(src.width / width, src.height / height)
            crs = src.crs
            nodata = src.nodata
            bounds = rasterio.transform.array_bounds(height, width, transform)
        ctx.progress(60, "rendering")
        image = np.stack([stretch(b, nodata) for b in data])
        png = ctx.output_dir / "quicklook.png"
        with rasterio.open(
            png, "w", driver="PNG", width=width, height=height, count=image.shape[0], dtype="uint8"
        ) as dst:
            dst.write(image)
        cog = ctx.output_dir / "quicklook.tif"
        profile = {
            "driver": "COG",
            "width": width,
            "height": height,
            "count": image.shape[0],
            "dtype": "uint8",
            "crs": crs,
            "transform": transform,
            "nodata": 0,
            "compress": "deflate",
        }
        with rasterio.open(cog, "w", **profile) as dst:
            dst.write(image)
        if crs is not None:
            west, south, east, north = bounds
            ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
            ctx.set_footprint(
                transform_geom(crs, "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})
            )
        png_href = ctx.add_asset("quicklook", png, PNG, ["overview", "visual"], "PNG preview")
        cog_href = ctx.add_asset("cog", cog, COG, ["data", "visual"], "COG preview")
        ctx.progress(100, "done")
        return QuicklookOutputs(png=png_href, cog=cog_href, width=width, height=height)
