"""``coin``: coherence and intensity change of a pre/post-event SLC pair (damage mapping).

Publishes the coherence, the pre- and post-event intensities and their ratio (dB) as COGs
with PNG quicklooks, and an RGB composite (R coherence, G mean intensity, B |change|) as a
COG and a PNG.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from gep.algorithms.sar.coin import coin
from gep.algorithms.sar.geocode import geocode, scene_grid
from gep.core.errors import InvalidInput
from gep.core.media import COG, PNG
from gep.core.render import COHERENCE, RenderHint, RenderKind
from gep.io.writers import GEOGRAPHIC, bounds_footprint, write_cog, write_png_map
from gep.processes.base import Process, ProcessContext
from gep.processes.s1_inputs import pair_kind
from gep.processes.sar_common import PairInputs, check_items, load_pair

#: coin compares full-resolution coregistered SLCs; the burst chain (``tops_dinsar``) gives
#: only geocoded multilooked layers, so Sentinel-1 SAFE pairs are refused rather than mapped
#: with an intensity change the chain never computed
SAFE_NOT_SUPPORTED = (
    "coin on Sentinel-1 SAFE items is not supported yet (it needs the coregistered "
    "full-resolution bursts, which the TOPS chain does not return); use GEP SLC products "
    "('gep-slc'), or dinsar, whose coherence layer covers SAFE pairs"
)


def _refuse_safe(items: dict[str, dict[str, Any]]) -> None:
    if pair_kind(items) == "safe":
        raise InvalidInput(SAFE_NOT_SUPPORTED, field="inputs.reference")


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
        _refuse_safe(items)
        check_items(inputs, items)

    def execute(self, ctx: ProcessContext, inputs: PairInputs) -> CoinOutputs:
        ctx.progress(2, "staging the pair")
        _refuse_safe({"reference": ctx.stage(inputs.reference)[0],
                      "secondary": ctx.stage(inputs.secondary)[0]})  # fmt: skip
        ref, sec, ref_geom, sec_geom, dem, baseline = load_pair(ctx, inputs)
        looks = (inputs.looks_azimuth, inputs.looks_range)

        def progress(fraction: float, message: str) -> None:
            percent = 5 + int(75 * fraction)
            ctx.logger.info("%d%% %s", percent, message)  # each step also stays in the log
            ctx.progress(percent, message)

        result = coin(
            ref, sec, ref_geom, sec_geom, dem, looks=looks,
            coherence_window=tuple(inputs.coherence_window) if inputs.coherence_window else None,  # type: ignore[arg-type]
            progress=progress,
        )  # fmt: skip
        del ref, sec
        ctx.progress(82, "geocoding")
        grid, line, sample = scene_grid(ref_geom, dem, looks)
        layers = {
            "coherence": ("Coherence", "coherence", "gray", result.coherence, 0.0, 1.0),
            "intensity_pre": (
                "Pre-event intensity",
                "dB",
                "gray",
                result.intensity_pre,
                None,
                None,
            ),
            "intensity_post": (
                "Post-event intensity",
                "dB",
                "gray",
                result.intensity_post,
                None,
                None,
            ),
            "intensity_ratio": (
                "Intensity ratio post/pre",
                "dB",
                "RdBu_r",
                result.intensity_ratio,
                -6.0,
                6.0,
            ),
        }
        hrefs: dict[str, str] = {}
        for key, (title, unit, cmap, data, vmin, vmax) in layers.items():
            g = geocode(data, line, sample, looks)
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
        rgb_radar = result.rgb()
        rgb = np.stack(
            [geocode(b.astype("float32"), line, sample, looks, order=0) for b in rgb_radar]
        )
        rgb8 = np.where(np.isfinite(rgb), rgb, 0).astype(np.uint8)
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
