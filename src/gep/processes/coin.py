"""``coin``: coherence and intensity change of a pre/post-event SLC pair (damage mapping).

Publishes the coherence, the pre- and post-event intensities and their ratio (dB) as COGs
with PNG quicklooks, and an RGB composite (R coherence, G mean intensity, B |change|) as a
COG and a PNG.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from gep.algorithms.sar.coin import CoinResult, coin, power_db
from gep.algorithms.sar.geocode import GeoGrid, geocode, scene_grid
from gep.algorithms.sar.pair import PairBaseline
from gep.algorithms.sar.tops_chain import tops_dinsar
from gep.core.media import COG, PNG
from gep.core.render import COHERENCE, RenderHint, RenderKind
from gep.io.writers import GEOGRAPHIC, bounds_footprint, write_cog, write_png_map
from gep.processes.base import Process, ProcessContext
from gep.processes.s1_inputs import load_safe_pair, pair_kind
from gep.processes.sar_common import PairInputs, check_items, load_pair

Progress = Callable[[float, str], None]


class CoinOutputs(BaseModel):
    coherence: str
    intensity_pre: str
    intensity_post: str
    intensity_ratio: str
    rgb: str
    rgb_png: str
    perpendicular_baseline: float
    temporal_baseline: float


class Coin(Process):
    id = "coin"
    version = "1.0.0"
    title = "Coherence and intensity change (COIN)"
    description = (
        "Coherence, pre/post-event intensity and intensity ratio of a Sentinel-1 SLC pair, "
        "geocoded, with an RGB composite (R coherence, G mean intensity, B |intensity change|) "
        "for damage mapping."
    )
    keywords = ["InSAR", "coherence", "change detection", "damage", "Sentinel-1"]
    Inputs = PairInputs
    Outputs = CoinOutputs
    output_formats = {
        "coherence": COG,
        "intensity_pre": COG,
        "intensity_post": COG,
        "intensity_ratio": COG,
        "rgb": COG,
        "rgb_png": PNG,
    }
    renders = {
        "coherence": COHERENCE,
        "intensity_pre": RenderHint(RenderKind.SEQUENTIAL, "Pre-event intensity", "dB", "greys_r"),
        "intensity_post": RenderHint(
            RenderKind.SEQUENTIAL, "Post-event intensity", "dB", "greys_r"
        ),
        "intensity_ratio": RenderHint(
            RenderKind.DIVERGING, "Intensity ratio post/pre", "dB", "rdbu_r", rescale=(-6.0, 6.0)
        ),
        "rgb": RenderHint(
            RenderKind.COMPOSITE, "RGB: coherence, mean intensity, |change|", nodata=None
        ),
    }

    def preflight(self, inputs: Any, items: dict[str, dict[str, Any]]) -> None:
        check_items(inputs, items)

    def execute(self, ctx: ProcessContext, inputs: PairInputs) -> CoinOutputs:
        ctx.progress(2, "staging the pair")
        looks = (inputs.looks_azimuth, inputs.looks_range)

        def progress(fraction: float, message: str) -> None:
            percent = 5 + int(75 * fraction)
            ctx.logger.info("%d%% %s", percent, message)  # each step also stays in the log
            ctx.progress(percent, message)

        items = {role: ctx.stage(getattr(inputs, role))[0] for role in ("reference", "secondary")}
        if pair_kind(items) == "safe":
            grid, geo, rgb8, baseline = _coin_safe(ctx, inputs, looks, progress)
        else:
            grid, geo, rgb8, baseline = _coin_slc(ctx, inputs, looks, progress)
        layers = {
            "coherence": ("Coherence", "coherence", "gray", 0.0, 1.0),
            "intensity_pre": ("Pre-event intensity", "dB", "gray", None, None),
            "intensity_post": ("Post-event intensity", "dB", "gray", None, None),
            "intensity_ratio": ("Intensity ratio post/pre", "dB", "RdBu_r", -6.0, 6.0),
        }
        hrefs: dict[str, str] = {}
        for key, (title, unit, cmap, vmin, vmax) in layers.items():
            g = geo[key]
            if vmin is None or vmax is None:
                finite = g[np.isfinite(g)]
                vmin, vmax = (
                    (float(v) for v in np.percentile(finite, [2, 98]))
                    if finite.size
                    else (0.0, 1.0)
                )
            cog = ctx.output_dir / f"{key}.tif"
            write_cog(cog, g, GEOGRAPHIC, grid.transform, render=self.render_for(key))
            hrefs[key] = ctx.add_asset(key, cog, COG, ["data"], f"{title} ({unit})")
            png = ctx.output_dir / f"{key}.png"
            write_png_map(
                png, g, grid.bounds, title=title, label=unit, cmap=cmap, vmin=vmin, vmax=vmax,
                geographic=True,
            )  # fmt: skip
            ctx.add_asset(f"{key}_png", png, PNG, ["overview", "visual"], f"{title} quicklook")
        cog = ctx.output_dir / "rgb.tif"
        write_cog(
            cog, rgb8, GEOGRAPHIC, grid.transform, nodata=None,
            descriptions=["coherence", "mean intensity", "|intensity change|"],
        )  # fmt: skip
        rgb_href = ctx.add_asset(
            "rgb", cog, COG, ["data", "visual"], "RGB: coherence, mean intensity, |change|"
        )
        png = ctx.output_dir / "rgb.png"
        from PIL import Image

        Image.fromarray(np.moveaxis(rgb8, 0, -1), "RGB").save(png)
        rgb_png = ctx.add_asset("rgb_png", png, PNG, ["overview", "visual"], "RGB composite")
        ctx.set_footprint(bounds_footprint(grid.bounds))
        ctx.progress(100, "done")
        return CoinOutputs(
            coherence=hrefs["coherence"],
            intensity_pre=hrefs["intensity_pre"],
            intensity_post=hrefs["intensity_post"],
            intensity_ratio=hrefs["intensity_ratio"],
            rgb=rgb_href,
            rgb_png=rgb_png,
            perpendicular_baseline=round(baseline.perpendicular, 2),
            temporal_baseline=round(baseline.temporal_days, 3),
        )


Layers = dict[str, NDArray[np.float32]]


def _coin_slc(
    ctx: ProcessContext, inputs: PairInputs, looks: tuple[int, int], progress: Progress
) -> tuple[GeoGrid, Layers, NDArray[np.uint8], PairBaseline]:
    """A GEP SLC pair: coin in radar geometry, then every layer geocoded."""
    ref, sec, ref_geom, sec_geom, dem, baseline = load_pair(ctx, inputs)
    result = coin(
        ref, sec, ref_geom, sec_geom, dem, looks=looks,
        coherence_window=tuple(inputs.coherence_window) if inputs.coherence_window else None,  # type: ignore[arg-type]
        progress=progress,
    )  # fmt: skip
    del ref, sec
    ctx.progress(82, "geocoding")
    grid, line, sample = scene_grid(ref_geom, dem, looks)
    geo = {
        key: geocode(getattr(result, key), line, sample, looks)
        for key in ("coherence", "intensity_pre", "intensity_post", "intensity_ratio")
    }
    rgb = np.stack(
        [geocode(b.astype("float32"), line, sample, looks, order=0) for b in result.rgb()]
    )
    return grid, geo, np.where(np.isfinite(rgb), rgb, 0).astype(np.uint8), baseline


def _coin_safe(
    ctx: ProcessContext, inputs: PairInputs, looks: tuple[int, int], progress: Progress
) -> tuple[GeoGrid, Layers, NDArray[np.uint8], PairBaseline]:
    """A Sentinel-1 SAFE pair: the burst chain's coregistered, stitched and geocoded
    coherence and powers (no filter, no unwrapping), compared on the map grid."""
    pairs, dem, info = load_safe_pair(ctx, inputs)
    result = tops_dinsar(
        pairs, dem, looks=looks, alpha=0.0, unwrap=False, bounds=info.area.bounds,
        progress=progress,
    )  # fmt: skip
    del pairs
    ctx.logger.info("ESD: azimuth shift %.4f px", result.esd_shift)
    g = result.geocoded
    pre, post = power_db(g["intensity_pre"]), power_db(g["intensity_post"])
    compared = CoinResult(
        looks, g["coherence"], pre, post, (post - pre).astype("float32"), result.refinement
    )
    geo = {
        "coherence": compared.coherence,
        "intensity_pre": pre,
        "intensity_post": post,
        "intensity_ratio": compared.intensity_ratio,
    }
    return result.grid, geo, compared.rgb(), info.baseline
