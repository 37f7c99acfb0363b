"""Time series at a point (issue #17, "time-series read of 100 dates at a point ≤ 100 ms").

    .venv/bin/python bench/timeseries_point.py [--dates 100] [--size 512] [--repeats 20]

Builds ``dates`` dated float32 COGs of ``size``² pixels (128-px blocks, deflate, predictor 3,
as GEP writes results; ``--block`` for others) as items of one collection in a SQLite
catalogue, serves GEP with uvicorn on a free port (a real server: the request goes through
HTTP, auth, the catalogue search with ``intersects=point``, the gateway and 100 one-pixel
windowed reads) and times ``GET /stac/collections/{c}/timeseries?lon=&lat=&assets=v`` with
httpx: the first request (cold: GDAL has opened none of the files) and then ``repeats``
requests at random points (warm OS page cache; every request opens every file again). Prints
the median, p95 and the cold time, and checks every answer against rasterio reading the same
pixels.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gep.io.writers import COG_BLOCK  # noqa: E402

WEST, NORTH, STEP = -99.2, 19.5, 0.0005
#: the COGs' block size: what GEP writes its results with (``gep.io.writers.COG_BLOCK``)
BLOCK = COG_BLOCK


def build(folder: Path, dates: int, size: int) -> list[dict[str, object]]:
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(1)
    items = []
    box = [WEST, NORTH - size * STEP, WEST + size * STEP, NORTH]
    geom = {
        "type": "Polygon",
        "coordinates": [[[box[0], box[1]], [box[2], box[1]], [box[2], box[3]],
                         [box[0], box[3]], [box[0], box[1]]]],
    }  # fmt: skip
    start = np.datetime64("2018-01-01")
    for k in range(dates):
        day = str(start + np.timedelta64(6 * k, "D"))
        path = folder / f"v_{day}.tif"
        with rasterio.open(
            path, "w", driver="COG", width=size, height=size, count=1, dtype="float32",
            crs="EPSG:4326", transform=from_origin(WEST, NORTH, STEP, STEP), nodata=np.nan,
            compress="deflate", predictor=3, blocksize=BLOCK, overviews="NONE",
        ) as dst:  # fmt: skip
            dst.write(rng.normal(-k, 5, (size, size)).astype("float32"), 1)
        items.append({
            "type": "Feature", "stac_version": "1.1.0", "id": f"d{day}", "collection": "ts",
            "geometry": geom, "bbox": box, "links": [],
            "properties": {"datetime": f"{day}T12:00:00Z"},
            "assets": {"v": {"href": path.as_uri(), "type": "image/tiff; application=geotiff",
                             "raster:bands": [{"unit": "mm", "data_type": "float32"}]}},
        })  # fmt: skip
    return items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--size", type=int, default=1536)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--block", type=int, default=COG_BLOCK, help="the COGs' block size")
    args = ap.parse_args()
    global BLOCK
    BLOCK = args.block

    import httpx
    import rasterio

    from tests.support.app import ADMIN_TOKEN
    from tests.support.serving import free_port, start_gep_serve, stop

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        t0 = time.perf_counter()
        items = build(data, args.dates, args.size)
        print(f"built {args.dates} COGs of {args.size}² in {time.perf_counter() - t0:.1f} s")
        home = root / "home"
        port = free_port()
        proc = start_gep_serve(home, port, data_roots=str(data))
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        api = f"http://127.0.0.1:{port}"
        r = httpx.post(f"{api}/stac/collections", headers=admin, json={
            "type": "Collection", "stac_version": "1.1.0", "id": "ts", "description": "bench",
            "license": "other", "links": [], "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]}},
        })  # fmt: skip
        assert r.status_code in (200, 201), r.text
        r = httpx.post(f"{api}/stac/collections/ts/items", headers=admin, timeout=60,
                       json={"type": "FeatureCollection", "features": items})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        url = f"{api}/stac/collections/ts/timeseries"
        rng = np.random.default_rng(2)
        blocks = args.size // BLOCK
        cells = [(i, j) for i in range(blocks) for j in range(blocks)]
        rng.shuffle(cells)

        def in_block(i: int, j: int) -> tuple[float, float]:
            lon = WEST + (j * BLOCK + rng.uniform(1, BLOCK - 1)) * STEP
            lat = NORTH - (i * BLOCK + rng.uniform(1, BLOCK - 1)) * STEP
            return float(lon), float(lat)

        # the first request (the server's first), then one request per block not read yet
        # (every file decompresses one new block), then requests in blocks already read
        plan = [("first", *in_block(*cells[0]))]
        plan += [("new block", *in_block(*c)) for c in cells[1:]]
        plan += [("warm", *in_block(*cells[int(rng.integers(len(cells)))]))
                 for _ in range(args.repeats)]  # fmt: skip
        times: dict[str, list[float]] = {"first": [], "new block": [], "warm": []}
        try:
            with httpx.Client(timeout=60) as client:
                for k, (kind, lon, lat) in enumerate(plan):
                    t = time.perf_counter()
                    r = client.get(url, params={"lon": lon, "lat": lat, "assets": "v"},
                                   headers=admin)  # fmt: skip
                    times[kind].append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
                    values = r.json()["values"]
                    assert len(values) == args.dates
                    if k % 5 == 0:  # the answer is what rasterio reads at the same pixel
                        for v, it in zip(values, items, strict=True):
                            path = it["assets"]["v"]["href"].removeprefix("file://")  # type: ignore[index]
                            with rasterio.open(path) as src:
                                row, col = src.index(lon, lat)
                                win = ((row, row + 1), (col, col + 1))
                                truth = float(src.read(1, window=win)[0, 0])
                            assert v["value"] == truth, (v, truth)
        finally:
            stop(proc)
    load = os.getloadavg()[0]
    print(f"{args.dates} dates of {args.size}² COGs ({BLOCK}² deflate blocks) at a point over "
          f"HTTP ({platform.node()}, {os.cpu_count()} CPUs, load {load:.1f}):")  # fmt: skip
    for kind, ts in times.items():
        if ts:
            ts.sort()
            p95 = ts[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))]
            print(f"  {kind:10s} n={len(ts):3d} median {statistics.median(ts) * 1000:7.1f} ms, "
                  f"p95 {p95 * 1000:7.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
