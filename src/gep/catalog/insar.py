"""Interferometric baselines for catalogue items and Sentinel-1 products.

The geometry lives in :mod:`gep.algorithms.sar.baseline`; this module finds its inputs: the
orbit state vectors an item carries (``gep:state_vectors``, or the whole swath geometry of a
GEP SLC product), a target at the scene centre, and for SAFE products every burst of the
reference that the secondary also covers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from shapely.geometry import shape

from gep.algorithms.sar.baseline import Baseline, baseline_at
from gep.algorithms.sar.geometry import geo2rdr, llh_to_ecef, radar_times, rdr2geo
from gep.algorithms.sar.orbit import seconds_since
from gep.core.errors import InvalidInput
from gep.core.sar import StateVectors, SwathGeometry, state_vectors_from_json
from gep.io.sentinel1 import bursts, list_swaths, open_swath


def item_orbit(item: Mapping[str, Any]) -> StateVectors:
    """The orbit an item carries; a clear error naming what is missing when it has none."""
    props = item.get("properties") or {}
    geometry = props.get("gep:swath_geometry")
    rows = props.get("gep:state_vectors")
    if rows is None and isinstance(geometry, Mapping):
        rows = geometry.get("state_vectors")
    if not isinstance(rows, list) or len(rows) < 2:
        found = "one state vector" if isinstance(rows, list) and rows else "none"
        raise InvalidInput(
            f"item '{item.get('id')}' has no orbit to compute baselines from: it needs "
            "'gep:state_vectors' (at least 2 of {time, position, velocity}) or "
            f"'gep:swath_geometry.state_vectors'; found {found}",
            field="reference",
        )
    try:
        return state_vectors_from_json(rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"item '{item.get('id')}': unreadable state vectors ({exc})") from exc


def item_baseline(reference: Mapping[str, Any], secondary: Mapping[str, Any]) -> Baseline:
    """Baselines of a pair of items at the centre of the reference's footprint."""
    ref_orbit, sec_orbit = item_orbit(reference), item_orbit(secondary)
    if reference.get("geometry") is None:
        raise InvalidInput(f"item '{reference.get('id')}' has no footprint", field="reference")
    centre = shape(reference["geometry"]).centroid
    target = llh_to_ecef(centre.y, centre.x, 0.0)
    try:
        return baseline_at(target, ref_orbit, sec_orbit)
    except ValueError as exc:
        raise InvalidInput(
            f"the orbits of '{reference.get('id')}' and '{secondary.get('id')}' do not both "
            f"see the reference's centre: {exc}",
            field="secondary",
        ) from exc


@dataclass(frozen=True)
class BurstBaseline:
    swath: str
    burst: int  # 1-based index of the burst in the reference
    bperp: float
    bpar: float
    btemp: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _swath(
    product: str | os.PathLike[str], swath: str, pol: str, orbit_files: Sequence[str]
) -> SwathGeometry:
    if orbit_files:
        try:
            return open_swath(product, swath, pol, orbit_files)
        except InvalidInput as exc:
            print(f"note: {exc.message}; using the annotation orbit", file=sys.stderr)
    return open_swath(product, swath, pol)


def safe_pair_baselines(
    reference: str | os.PathLike[str],
    secondary: str | os.PathLike[str],
    *,
    orbit_files: Sequence[str] = (),
) -> list[BurstBaseline]:
    """Per swath, every burst of the reference the secondary also covers, at mid-range.

    Works from the annotation alone (measurement files may be absent). The target of each
    burst is its mid-burst, mid-range point on the ellipsoid; a burst counts as covered when
    its target's zero-Doppler time on the secondary orbit falls inside one of the
    secondary's bursts.
    """
    ref_swaths = dict(list_swaths(reference))
    sec_swaths = dict(list_swaths(secondary))
    shared = sorted(set(ref_swaths) & set(sec_swaths))
    if not shared:
        raise InvalidInput(
            f"the two products share no swath (reference: {sorted(ref_swaths)}, "
            f"secondary: {sorted(sec_swaths)})",
            field="secondary",
        )
    out: list[BurstBaseline] = []
    for swath in shared:
        pols_ref = {p for s, p in list_swaths(reference) if s == swath}
        pols_sec = {p for s, p in list_swaths(secondary) if s == swath}
        common = sorted(pols_ref & pols_sec, key=lambda p: (p != "VV", p))
        pol = common[0] if common else sorted(pols_ref)[0]
        ref_geom = _swath(reference, swath, pol, orbit_files)
        sec_geom = _swath(secondary, swath, sorted(pols_sec)[0] if not common else pol, orbit_files)
        if ref_geom.relative_orbit != sec_geom.relative_orbit:
            raise InvalidInput(
                f"the products are from relative orbits {ref_geom.relative_orbit} and "
                f"{sec_geom.relative_orbit}: baselines need one track",
                field="secondary",
            )
        sec_bursts = bursts(secondary, swath, sec_geom.polarisation)
        t_sec0 = sec_geom.orbit.time[0]
        spans = [
            (
                float(seconds_since(np.array([b.azimuth_time]), t_sec0)[0]),
                float(seconds_since(np.array([b.azimuth_time_last]), t_sec0)[0]),
            )
            for b in sec_bursts
        ]
        mid_range = ref_geom.slant_range(ref_geom.samples / 2)
        for k, burst in enumerate(bursts(reference, swath, ref_geom.polarisation)):
            t_mid = float(
                seconds_since(np.array([burst.azimuth_time]), ref_geom.orbit.time[0])[0]
                + (burst.lines - 1) / 2 * ref_geom.azimuth_time_interval
            )
            _, _, _, target = rdr2geo(
                np.array([t_mid]), np.array([float(mid_range)]), ref_geom.orbit, 0.0
            )
            guess = float(radar_times(sec_geom, sec_geom.lines / 2))
            try:
                t2, _ = geo2rdr(target, sec_geom.orbit, np.array([guess]))
            except ValueError:
                continue
            if not any(lo <= t2[0] <= hi for lo, hi in spans):
                continue
            b = baseline_at(target[0], ref_geom.orbit, sec_geom.orbit)
            out.append(BurstBaseline(swath, k + 1, b.bperp, b.bpar, b.btemp))
    return out
