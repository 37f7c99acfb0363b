"""The ``sbas`` process: preflight from the catalogue, execution from staged files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gep.core.media import COG, CSV, KMZ
from gep.core.render import (
    COHERENCE,
    LOS_DISPLACEMENT_MM,
    LOS_VELOCITY_MM_YR,
    UNWRAPPED_PHASE,
    RenderHint,
    RenderKind,
)
from gep.io.hrefs import local_path
from gep.io.ifg_stack import Interferogram
from gep.io.writers import bounds_footprint
from gep.processes.base import Process, ProcessContext
from gep.processes.sbas.inputs import COHERENCE_ASSETS, PHASE_ASSETS, SbasInputs, SbasOutputs
from gep.processes.sbas.network import check_network, form_network
from gep.processes.sbas.products import date_items, produce, publish_products
from gep.processes.sbas.stack import asset_key, check_stack, geogrid, interferogram_of


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
    output_formats = {
        "velocity": COG,
        "velocity_std": COG,
        "temporal_coherence": COG,
        "displacement": COG,
        "timeseries_csv": CSV,
        "kmz": KMZ,
        "network_interferograms": COG,
    }
    renders = {
        "velocity": LOS_VELOCITY_MM_YR,
        "velocity_std": RenderHint(
            RenderKind.SEQUENTIAL, "Standard error of the velocity", "mm/yr", "viridis", floor=0.0
        ),
        "temporal_coherence": RenderHint(
            RenderKind.SEQUENTIAL, "Temporal coherence", "", "greys_r", rescale=(0.0, 1.0)
        ),
        "seasonal_amplitude": RenderHint(
            RenderKind.SEQUENTIAL, "Annual amplitude", "mm", "viridis", floor=0.0
        ),
        "dem_error": RenderHint(RenderKind.DIVERGING, "DEM error", "m", "brbg", half_range=10.0),
        "displacement_*": LOS_DISPLACEMENT_MM,
        # the per-date items' one asset (the time dimension: products.date_items)
        "displacement": LOS_DISPLACEMENT_MM,
        "interferogram_*": UNWRAPPED_PHASE,
        "coherence_*": COHERENCE,
    }

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
            keys = [asset_key(item, inputs.asset, PHASE_ASSETS, k)]
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
        footprint = bounds_footprint(geogrid(stack.grid).bounds)
        ctx.set_footprint(footprint)
        for item in date_items(products, footprint, ctx.stored_href):  # the time dimension
            ctx.publish_item(item)
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


def _local_assets(item: dict[str, Any]) -> dict[str, Path] | None:
    out = {}
    for key, asset in (item.get("assets") or {}).items():
        path = local_path(str(asset.get("href", "")))  # confined by the API before preflight
        if path is None:
            return None
        out[key] = path
    return out
