"""Restart: 20 jobs submitted, `gep serve` (and its LocalCluster) SIGKILLed mid-way, started
again on the same home: every job ends successful and each result is published once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import rasterio
from rasterio.transform import from_origin

from tests.support.app import ADMIN_HEADERS
from tests.support.serving import free_port, start_gep_serve, stop

N_JOBS = 20


def test_sigkill_mid_way_loses_no_job_and_publishes_once(tmp_path: Path) -> None:
    raster = tmp_path / "tiny.tif"
    # big enough that 20 quicklooks take a few seconds: the kill lands while they run
    size = 2500
    with rasterio.open(
        raster,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(20.0, 40.0, 0.0001, 0.0001),
    ) as dst:
        dst.write(np.random.default_rng(0).random((1, size, size), dtype="float32"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    home = tmp_path / "home"
    server = start_gep_serve(home, port, jobs_lease_s="3", data_roots=str(tmp_path))
    try:
        httpx.post(
            headers=ADMIN_HEADERS, url=f"{base}/stac/collections", json={"id": "src"}
        ).raise_for_status()
        httpx.post(
            headers=ADMIN_HEADERS,
            url=f"{base}/stac/collections/src/items",
            json={
                "type": "Feature",
                "id": "tiny",
                "geometry": {"type": "Point", "coordinates": [20.1, 39.9]},
                "properties": {"datetime": "2024-01-01T00:00:00Z"},
                "assets": {"data": {"href": str(raster)}},
            },
        ).raise_for_status()
        ids = []
        for _ in range(N_JOBS):
            r = httpx.post(
                f"{base}/processes/quicklook/execution",
                json={"inputs": {"item": "src/tiny", "asset": "data"}},
                headers={**ADMIN_HEADERS, "Prefer": "respond-async"},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["jobID"])
        # kill while some are done and others are queued or running
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = httpx.get(
                headers=ADMIN_HEADERS, url=f"{base}/jobs", params={"status": "successful"}
            ).json()
            if done["numberMatched"] >= 3:
                break
            time.sleep(0.05)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
        assert done["numberMatched"] < N_JOBS  # the kill really came mid-way
        time.sleep(0.5)
        states = {}
        server = start_gep_serve(home, port, jobs_lease_s="3", data_roots=str(tmp_path))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = {
                i: httpx.get(headers=ADMIN_HEADERS, url=f"{base}/jobs/{i}").json()["status"]
                for i in ids
            }
            if all(s in ("successful", "failed", "dismissed") for s in states.values()):
                break
            time.sleep(0.5)
        assert all(s == "successful" for s in states.values()), states
        published = httpx.get(
            headers=ADMIN_HEADERS,
            url=f"{base}/stac/search",
            params={"collections": "quicklook", "limit": 100},
        ).json()
        assert sorted(f["id"] for f in published["features"]) == sorted(ids)  # once each
    finally:
        stop(server)
