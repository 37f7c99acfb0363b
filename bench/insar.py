"""Interferometric stack and network timing (issue #5).

    .venv/bin/python bench/insar.py [--acquisitions 300] [--repeats 5]

A 300-acquisition Sentinel-1 stack, every 6 days, on the real orbit of the Rome annotation
(track 117): each acquisition's two state vectors (as catalogue records carry them) come from
that orbit displaced by a random perpendicular (σ 80 m) and parallel (σ 30 m) baseline. The
items are ingested into an embedded SQLite catalogue, then timed, best of ``repeats``:

* ``stack``: ``stack_search`` over an area (the catalogue query, one acquisition a day, every
  baseline relative to the middle acquisition at the area's centroid);
* ``network``: ``small_baseline_network`` on it (Btemp ≤ 48 days, |Bperp| ≤ 150 m);
* ``baselines only``: the 300 baseline computations alone.

Target: stack + network ≤ 1 s. The pair-search latency on a 1 000 000-item catalogue is not
measured by this script yet.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import box, mapping

from gep.algorithms.sar.baseline import baselines_at
from gep.algorithms.sar.geometry import llh_to_ecef, radar_times, rdr2geo
from gep.algorithms.simulate.scene import baseline_orbit
from gep.catalog.backends import open_store
from gep.catalog.insar import item_orbit, small_baseline_network, stack_search
from gep.core.sar import state_vectors_to_json
from gep.io.sentinel1 import open_swath

ROOT = Path(__file__).resolve().parents[1]
SAFE = (
    ROOT
    / "tests/data/s1"
    / "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
)


def make_items(n: int, seed: int = 0) -> tuple[list[dict[str, Any]], Any]:
    geom = open_swath(SAFE, "IW1", "VV")
    rng = np.random.default_rng(seed)
    t = float(radar_times(geom, 6000))
    lat, lon, _, x = rdr2geo(
        np.array([t]), np.array([float(geom.slant_range(10000))]), geom.orbit, 0.0
    )
    area = box(
        float(lon[0]) - 0.05, float(lat[0]) - 0.05, float(lon[0]) + 0.05, float(lat[0]) + 0.05
    )
    footprint = mapping(area.buffer(0.3))
    i = int(np.searchsorted((geom.orbit.time - geom.orbit.time[0]) / np.timedelta64(1, "s"), t))
    items = []
    for k in range(n):
        sec = baseline_orbit(geom.orbit, x[0], t, rng.normal(0, 80), rng.normal(0, 30), 6.0 * k)
        sv = type(sec)(
            sec.time[i - 1 : i + 1], sec.position[i - 1 : i + 1], sec.velocity[i - 1 : i + 1]
        )
        when = np.datetime_as_string(sec.time[i - 1], unit="s") + "Z"
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.1.0",
                "id": f"S1A_SIM_{k:04d}",
                "collection": "bench-insar",
                "geometry": footprint,
                "bbox": list(area.buffer(0.3).bounds),
                "properties": {
                    "datetime": when,
                    "constellation": "sentinel-1",
                    "platform": "sentinel-1a",
                    "sat:relative_orbit": 117,
                    "sat:orbit_state": "ascending",
                    "sar:instrument_mode": "IW",
                    "sar:polarizations": ["VV"],
                    "gep:state_vectors": state_vectors_to_json(sv),
                },
                "links": [],
                "assets": {},
            }
        )
    return items, area


def best(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run(n: int = 300, repeats: int = 5) -> dict[str, Any]:
    items, area = make_items(n)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        store.upgrade()
        store.write_items(items, mode="upsert", create_collections=True)
        t_stack, stack = best(lambda: stack_search(store, aoi=area), repeats)
        acqs = stack["acquisitions"]
        t_net, net = best(
            lambda: small_baseline_network(acqs, max_btemp=48, max_bperp=150, min_connections=2),
            repeats,
        )
        store.close()
    centre = llh_to_ecef(area.centroid.y, area.centroid.x, 0.0)
    ref = item_orbit(items[n // 2])
    orbits = [item_orbit(i) for i in items]
    t_base, _ = best(lambda: baselines_at(centre, ref, orbits), repeats)
    return {
        "acquisitions": len(acqs),
        "stack_s": t_stack,
        "network_s": t_net,
        "stack_plus_network_s": t_stack + t_net,
        "baselines_only_s": t_base,
        "pairs": len(net["pairs"]),
        "connected": net["connected"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--acquisitions", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    r = run(args.acquisitions, args.repeats)
    n, pairs, connected = r["acquisitions"], r["pairs"], r["connected"]
    print(f"{n} acquisitions, {pairs} network pairs (connected: {connected})")
    total = r["stack_plus_network_s"] * 1000
    print(f"  stack (query + baselines)   {r['stack_s'] * 1000:8.1f} ms")
    print(f"  network                     {r['network_s'] * 1000:8.1f} ms")
    print(f"  stack + network             {total:8.1f} ms (target <= 1000 ms)")
    print(f"  baselines alone             {r['baselines_only_s'] * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
