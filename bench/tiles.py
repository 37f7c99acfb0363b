"""GEP's map tiles beside TiTiler's, in one run (issue #17, "Must show"):

    make bench-tiles                              # creates bench/.venv-titiler, then runs this
    .venv/bin/python bench/tiles.py --tiles 300   # the same, once the venv exists

Both servers serve the same 10 000 × 10 000 uint16 COG (made once into ``bench/.data``):
GEP as a public catalogued item (``…/items/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?assets=``,
the file in a data root, resolved through the gateway with the caller's visibility) and TiTiler
(``titiler.application`` from PyPI, in its own venv ``bench/.venv-titiler``) through its
``/cog/tiles/…?url=`` endpoint. Each is one uvicorn process; 8 concurrent clients (httpx,
keep-alive) request 256-px WebMercatorQuad PNG tiles with the same ``rescale``:

* **cold**: each tile for the first time on that server (each server gets its own random
  tiles of the same zoom, so neither warms the other's GDAL block cache);
* **warm**: the same tiles again.

Printed per server and pass: tiles/s and p50/p95 latency; ``--json FILE`` keeps the figures.
The machine is shared (2 cores); the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gep_server import free_port, running_gep  # noqa: E402

DATA = HERE / ".data"
TITILER_VENV = HERE / ".venv-titiler"
SIDE = 10_000
ADMIN = "gep_benchadmin_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
ZOOM = 14
RESCALE = "0,8000"


def ensure_cog(folder: Path = DATA) -> Path:
    """The 10 000² uint16 COG (DEFLATE, 512² blocks, overviews), made once."""
    path = folder / f"tiles-{SIDE}.tif"
    if path.exists():
        return path
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / f".tiles-{uuid.uuid4().hex}.plain.tif"
    part = folder / f".{path.name}.{uuid.uuid4().hex}.part"
    profile = {
        "driver": "GTiff", "width": SIDE, "height": SIDE, "count": 1, "dtype": "uint16",
        "crs": "EPSG:32633", "transform": from_origin(400_000.0, 4_700_000.0, 10.0, 10.0),
        "tiled": True, "blockxsize": 512, "blockysize": 512,
    }  # fmt: skip
    cols = np.arange(SIDE, dtype=np.float32)
    try:
        with rasterio.open(plain, "w", **profile) as dst:
            for row in range(0, SIDE, 512):
                rows = np.arange(row, min(row + 512, SIDE), dtype=np.float32)[:, None]
                block = 4000 + 3000 * np.sin(cols / 700.0) * np.cos(rows / 900.0)
                dst.write(block.astype("uint16"), 1, window=Window(0, row, SIDE, len(rows)))
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=512):
            rio_copy(plain, part, driver="COG", compress="DEFLATE", blocksize=512,
                     overview_resampling="average")  # fmt: skip
        os.replace(part, path)
    finally:
        plain.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    return path


@contextmanager
def running_titiler(port: int) -> Iterator[str]:
    """TiTiler (titiler.application) in its own venv, one uvicorn process."""
    uvicorn = TITILER_VENV / "bin" / "uvicorn"
    if not uvicorn.exists():
        raise SystemExit("bench/.venv-titiler is missing: run `make bench-tiles`")
    proc = subprocess.Popen(
        [str(uvicorn), "titiler.application.main:app", "--port", str(port), "--workers", "1",
         "--log-level", "warning"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("titiler did not start")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def tiles_over(path: Path, zoom: int) -> list[tuple[int, int, int]]:
    """Every tile of ``zoom`` inside the COG's footprint (a margin kept off the edges)."""
    import morecantile
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(path) as ds:
        west, south, east, north = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    dx, dy = (east - west) * 0.05, (north - south) * 0.05
    tms = morecantile.tms.get("WebMercatorQuad")
    return [
        (t.z, t.x, t.y) for t in tms.tiles(west + dx, south + dy, east - dx, north - dy, [zoom])
    ]


async def _run(urls: list[str], clients: int, headers: dict[str, str]) -> dict[str, float]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    latencies: list[float] = []
    failures = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while True:
            try:
                url = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t = time.perf_counter()
            r = await client.get(url, headers=headers)
            latencies.append(time.perf_counter() - t)
            if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
                failures += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        wall = time.perf_counter() - start
    lat = np.array(latencies) * 1000
    return {
        "tiles": len(urls), "failures": failures, "tiles_per_s": len(urls) / wall,
        "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
    }  # fmt: skip


def _listening(port: int) -> list[psutil.Process]:
    """The server process answering on ``port`` (and its children)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            proc = psutil.Process(conn.pid)
            return [proc, *proc.children(recursive=True)]
    raise RuntimeError(f"no process listens on {port}")


def _cpu(procs: list[psutil.Process]) -> float:
    """CPU seconds (user + system) the processes have used."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _setup_gep(base: str, cog: Path) -> str:
    h = {"Authorization": f"Bearer {ADMIN}"}
    coll = {"id": "bench-tiles", "description": "tiles bench", "gep:visibility": "public"}
    r = httpx.post(f"{base}/stac/collections", json=coll, headers=h)
    assert r.status_code in (200, 201), r.text
    item = {
        "type": "Feature", "stac_version": "1.1.0", "id": "cog", "bbox": [-180, -90, 180, 90],
        "geometry": {"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90],
                                                         [-180, 90], [-180, -90]]]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": {"data": {"href": cog.as_uri(),
                            "type": "image/tiff; application=geotiff; profile=cloud-optimized"}},
        "links": [],
    }  # fmt: skip
    r = httpx.post(f"{base}/stac/collections/bench-tiles/items", json=item, headers=h)
    assert r.status_code == 201, r.text
    return f"{base}/stac/collections/bench-tiles/items/cog/tiles/WebMercatorQuad"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiles", type=int, default=200, help="tiles per server, pass and round")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--zoom", type=int, default=ZOOM)
    ap.add_argument("--rounds", type=int, default=3, help="rounds, servers alternating")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    cog = ensure_cog()
    print(f"COG {cog} ({cog.stat().st_size / 1e6:.0f} MB, {SIDE}²) ready in "
          f"{time.perf_counter() - t:.1f} s")  # fmt: skip
    every = tiles_over(cog, args.zoom)
    random.Random(0).shuffle(every)
    n = min(args.tiles, len(every) // (2 * args.rounds))
    results: dict[str, dict[str, Any]] = {}
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as home:
        env = {"GEP_HOME": home, "GEP_DATABASE_URL": "", "GEP_ADMIN_TOKEN": ADMIN,
               "GEP_DATA_ROOTS": str(DATA), "GEP_DASK_SCHEDULER": ""}  # fmt: skip
        titiler_port = free_port()
        with running_gep(env, ready_path="/") as gep, running_titiler(titiler_port) as titiler:
            gep_tiles = _setup_gep(gep, cog)
            procs = {"GEP": _listening(int(gep.rsplit(":", 1)[1])),
                     "TiTiler": _listening(titiler_port)}  # fmt: skip

            def url(name: str, z: int, x: int, y: int) -> str:
                if name == "GEP":
                    return f"{gep_tiles}/{z}/{x}/{y}.png?assets=data&rescale={RESCALE}"
                return (f"{titiler}/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={cog}"
                        f"&rescale={RESCALE}")  # fmt: skip

            # one request each first (imports, first open), not counted
            for name in ("GEP", "TiTiler"):
                asyncio.run(_run([url(name, *every[-1])], 1, {}))
            for r in range(args.rounds):
                for i, name in enumerate(("GEP", "TiTiler")):
                    start = (2 * r + i) * n
                    urls = [url(name, *t) for t in every[start : start + n]]
                    for phase in ("cold", "warm"):
                        load = os.getloadavg()[0]
                        cpu0 = _cpu(procs[name])
                        fig = asyncio.run(_run(urls, args.clients, {}))
                        fig["server_cpu_ms_per_tile"] = (_cpu(procs[name]) - cpu0) / n * 1000
                        fig["load1"] = load
                        rounds.append({"round": r, "server": name, "phase": phase, **fig})
                        print(f"round {r} {name:8s} {phase}: {fig['tiles_per_s']:6.1f} tiles/s"
                              f"  p50 {fig['p50_ms']:6.1f} ms  p95 {fig['p95_ms']:6.1f} ms  "
                              f"server CPU {fig['server_cpu_ms_per_tile']:5.1f} ms/tile  "
                              f"failures {fig['failures']}  (load {load:.2f})")  # fmt: skip
    for name in ("GEP", "TiTiler"):
        for phase in ("cold", "warm"):
            mine = [f for f in rounds if f["server"] == name and f["phase"] == phase]
            best = max(mine, key=lambda f: f["tiles_per_s"])
            results[f"{name} {phase}"] = {
                "best_tiles_per_s": best["tiles_per_s"],
                "best_p95_ms": min(f["p95_ms"] for f in mine),
                "median_cpu_ms_per_tile": float(
                    np.median([f["server_cpu_ms_per_tile"] for f in mine])
                ),
            }
            fig = results[f"{name} {phase}"]
            print(f"best of {args.rounds}: {name:8s} {phase}: "
                  f"{fig['best_tiles_per_s']:6.1f} tiles/s, p95 {fig['best_p95_ms']:6.1f} ms, "
                  f"server CPU {fig['median_cpu_ms_per_tile']:5.1f} ms/tile (median)")  # fmt: skip
    machine = f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores"
    print(f"machine: {machine}; zoom {args.zoom}, {n} tiles per server and pass, "
          f"{args.clients} clients")  # fmt: skip
    if args.json:
        args.json.write_bytes(
            orjson.dumps({"machine": machine, "results": results, "rounds": rounds})
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
