"""Vector tiles of a million points (issue #17, "millions of PS points draw fluidly").

    .venv/bin/python bench/vector_tiles.py [--points 1000000] [--repeats 20]

Writes ``points`` random points with three attributes (an id, a velocity, a coherence) as a
FlatGeobuf over the Mexico City area, then, in process (the functions the route calls):
reads and caches the layer (:class:`gep.tiles.vectors.LayerCache`: pyogrio + reprojection +
the STRtree on first tile), and times ``tile_bytes`` at zoom 8 (one tile holds everything:
thinned to ``MAX_TILE_POINTS``), 11, 14 and 17 at random tiles over the area (median and p95
of ``repeats``), with the tile sizes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AREA = (-99.3, 19.2, -98.9, 19.6)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    import morecantile
    import pyogrio.raw
    import shapely

    from gep.tiles.sources import GdalSource
    from gep.tiles.vectors import MAX_TILE_POINTS, LayerCache, tile_bytes

    rng = np.random.default_rng(0)
    n = args.points
    lon = rng.uniform(AREA[0], AREA[2], n)
    lat = rng.uniform(AREA[1], AREA[3], n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ps.fgb"
        t = time.perf_counter()
        pyogrio.raw.write(
            str(path), shapely.to_wkb(shapely.points(lon, lat)), geometry_type="Point",
            crs="EPSG:4326", driver="FlatGeobuf", fields=["id", "velocity", "coherence"],
            field_data=[np.arange(n, dtype=np.int64), rng.normal(-50, 30, n),
                        rng.uniform(0.3, 1, n)],
        )  # fmt: skip
        print(f"wrote {n} points ({path.stat().st_size / 2**20:.0f} MB FlatGeobuf) in "
              f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        cache = LayerCache()
        source = GdalSource(str(path))
        t = time.perf_counter()
        lyr = cache.get(source)
        read_s = time.perf_counter() - t
        t = time.perf_counter()
        _ = lyr.tree
        tree_s = time.perf_counter() - t
        t = time.perf_counter()
        assert cache.get(source) is lyr
        hit_s = time.perf_counter() - t
        print(f"layer read + reprojection {read_s:.2f} s, STRtree {tree_s:.2f} s, cache hit "
              f"{hit_s * 1e6:.0f} µs")  # fmt: skip
        tms = morecantile.tms.get("WebMercatorQuad")
        first = tms.tile(lon[0], lat[0], 17)
        t = time.perf_counter()
        tile_bytes(lyr, "WebMercatorQuad", 17, first.x, first.y, "ps")
        print(f"first tile (projects and sorts every point once per tile matrix set): "
              f"{(time.perf_counter() - t) * 1000:.0f} ms")  # fmt: skip
        print(f"tiles ({platform.node()}, {os.cpu_count()} CPUs, load "
              f"{os.getloadavg()[0]:.1f}; cap {MAX_TILE_POINTS} points per tile):")  # fmt: skip
        for z in (8, 11, 14, 17):
            times, sizes = [], []
            for _ in range(args.repeats):
                k = int(rng.integers(n))
                tile = tms.tile(lon[k], lat[k], z)
                t = time.perf_counter()
                data = tile_bytes(lyr, "WebMercatorQuad", z, tile.x, tile.y, "ps")
                times.append(time.perf_counter() - t)
                sizes.append(len(data))
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            size = statistics.median(sizes) / 1024
            print(f"  z{z:2d}: median {statistics.median(times) * 1000:7.1f} ms, p95 "
                  f"{p95 * 1000:7.1f} ms, median size {size:7.1f} KiB")  # fmt: skip


if __name__ == "__main__":
    main()
