"""A network of SLC pairs (``POST /insar/network``'s answer): checked, then formed by dinsar.

Each pair gets dinsar's own checks and chain (:func:`gep.processes.dinsar.form_interferogram`),
all geocoded on the first pair's grid so that the interferograms form one stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gep.algorithms.sar.geocode import GeoGrid
from gep.algorithms.timeseries.network import Network
from gep.core.errors import InvalidInput
from gep.io.ifg_stack import Interferogram, read_interferogram
from gep.io.slc_product import geometry_of
from gep.processes.base import ProcessContext
from gep.processes.dinsar import DinsarInputs, form_interferogram
from gep.processes.s1_inputs import acquisition_day as safe_acquisition_day
from gep.processes.s1_inputs import is_safe_item
from gep.processes.sar_common import check_items
from gep.processes.sbas.inputs import NETWORK_FIELD, SbasInputs, pair_inputs


def network_pairs(inputs: SbasInputs) -> list[DinsarInputs]:
    assert inputs.network is not None
    return [
        pair_inputs(inputs.dinsar, p.reference, p.secondary, inputs.dem)
        for p in inputs.network.pairs
    ]


def _ref_label(ref: str | dict[str, Any]) -> str:
    return ref if isinstance(ref, str) else str(ref.get("href") or ref.get("id") or ref)


def check_network(inputs: SbasInputs, items: dict[str, dict[str, Any]]) -> Network | None:
    """Every check a network can fail before its pairs are formed, from the catalogue items:
    dinsar's per pair (same track and swath, the secondary later, overlapping footprints, the
    aoi and the DEM over them) and the dates' (at least 3 acquisitions, no pair twice). None
    when the API did not resolve the items (checked again when the job starts)."""
    days = []
    for k, pair in enumerate(network_pairs(inputs)):
        field = f"{NETWORK_FIELD}.pairs[{k}]"
        ref = items.get(f"network.pairs[{k}].reference")
        sec = items.get(f"network.pairs[{k}].secondary")
        if ref is None or sec is None or (inputs.dem is not None and "dem" not in items):
            return None
        found = {
            "reference": ref,
            "secondary": sec,
            **({"dem": items["dem"]} if inputs.dem else {}),
        }
        try:
            check_items(pair, found)
        except InvalidInput as exc:
            sub = (exc.field or "").removeprefix("inputs.")
            dinsar = {k: f"inputs.dinsar.{k}" for k in ("aoi", "polarisation", "orbit",
                                                         "coherence_window")}  # fmt: skip
            where = {**dinsar, "dem": "inputs.dem"}.get(sub, f"{field}.{sub}" if sub else field)
            raise InvalidInput(
                f"{field} ({_ref_label(pair.reference)} → {_ref_label(pair.secondary)}): "
                f"{exc.message}",
                field=where,
            ) from None
        days.append((acquisition_day(ref), acquisition_day(sec)))
    return Network.from_pairs(days, field=f"{NETWORK_FIELD}.pairs")


def acquisition_day(item: dict[str, Any]) -> str:
    """An SLC product's date, as dinsar tags its interferograms (FIRST/SECOND_DATE)."""
    if is_safe_item(item):
        return safe_acquisition_day(item)
    return str(geometry_of(item).first_line_time.astype("datetime64[D]"))


@dataclass
class FormedNetwork:
    ifgs: list[Interferogram]
    #: per pair: its unwrapped phase and coherence COGs (in the job's output folder)
    files: list[dict[str, Path]]


def form_network(ctx: ProcessContext, inputs: SbasInputs, start: int, end: int) -> FormedNetwork:
    """Form every pair's unwrapped interferogram with the dinsar chain, all geocoded on the
    first pair's grid, as COGs under ``output_dir/interferograms``; progress from ``start`` to
    ``end`` percent, per pair."""
    pairs = network_pairs(inputs)
    grid: GeoGrid | None = None
    ifgs, files = [], []
    for k, pair in enumerate(pairs):
        name = f"{_ref_label(pair.reference)} → {_ref_label(pair.secondary)}"
        ctx.logger.info("pair %d/%d (%s): forming the interferogram", k + 1, len(pairs), name)

        def progress(fraction: float, message: str, k: int = k) -> None:
            percent = start + int((end - start) * (k + fraction) / len(pairs))
            ctx.logger.info("%d%% pair %d/%d: %s", percent, k + 1, len(pairs), message)
            ctx.progress(percent, f"pair {k + 1}/{len(pairs)}: {message}")

        formed = form_interferogram(
            ctx, pair, ctx.output_dir / "interferograms" / f"pair{k:03d}", progress,
            grid=grid, quicklooks=False, keys=("unwrapped_phase", "coherence"),
        )  # fmt: skip
        grid = grid or formed.grid
        ifg = read_interferogram(
            formed.files["unwrapped_phase"],
            f"{NETWORK_FIELD}.pairs[{k}]",
            formed.files["coherence"],
        )
        ifgs.append(ifg.with_metadata(label=name))
        files.append(formed.files)
        ctx.logger.info(
            "pair %d/%d (%s, %s/%s): Bperp %.1f m, Bt %.0f days, mean coherence %.2f",
            k + 1, len(pairs), name, ifg.first_date, ifg.second_date,
            formed.baseline.perpendicular, formed.baseline.temporal_days,
            float(np.nanmean(formed.result.geocoded["coherence"])),
        )  # fmt: skip
    return FormedNetwork(ifgs, files)
