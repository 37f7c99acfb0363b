"""A real OGC API - Processes client nobody here wrote (OWSLib) against `gep serve`: list,
describe, execute ``quicklook`` asynchronously, poll, fetch the results."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import rasterio
from owslib.ogcapi.processes import Processes
from rasterio.transform import from_origin

from tests.support.app import ADMIN_HEADERS
from tests.support.serving import free_port, start_gep_serve, stop


def test_owslib_runs_quicklook_against_gep_serve(tmp_path: Path) -> None:
    raster = tmp_path / "scene.tif"
    with rasterio.open(
        raster,
        "w",
        driver="GTiff",
        width=64,
        height=48,
        count=3,
        dtype="uint16",
        crs="EPSG:4326",
        transform=from_origin(14.9, 37.8, 0.001, 0.001),
    ) as dst:
        dst.write(np.random.default_rng(1).integers(0, 4000, (3, 48, 64), dtype="uint16"))
    port = free_port()
    server = start_gep_serve(tmp_path / "home", port, data_roots=str(tmp_path))
    base = f"http://127.0.0.1:{port}"
    try:
        httpx.post(
            headers=ADMIN_HEADERS, url=f"{base}/stac/collections", json={"id": "optical"}
        ).raise_for_status()
        httpx.post(
            headers=ADMIN_HEADERS,
            url=f"{base}/stac/collections/optical/items",
            json={
                "type": "Feature",
                "id": "scene",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [14.9, 37.752],
                            [14.964, 37.752],
                            [14.964, 37.8],
                            [14.9, 37.8],
                            [14.9, 37.752],
                        ]
                    ],
                },
                "properties": {"datetime": "2024-05-01T10:00:00Z"},
                "assets": {"visual": {"href": str(raster), "type": "image/tiff"}},
            },
        ).raise_for_status()

        api = Processes(base, headers=ADMIN_HEADERS)
        assert "quicklook" in [p["id"] for p in api.processes()]
        desc = api.process("quicklook")
        assert {"item", "asset"} <= set(desc["inputs"])
        accepted = api.execute(
            "quicklook",
            {"item": f"{base}/stac/collections/optical/items/scene", "asset": "visual"},
            async_=True,
        )
        job_id = accepted["jobID"]
        status = accepted
        deadline = time.monotonic() + 60
        while status["status"] not in ("successful", "failed") and time.monotonic() < deadline:
            time.sleep(0.3)
            status = api._request(path=f"jobs/{job_id}")
        assert status["status"] == "successful", status
        results = api._request(path=f"jobs/{job_id}/results")
        assert (results["width"], results["height"]) == (64, 48)
        assert results["png"].endswith(f"/stac/collections/results/items/{job_id}/assets/quicklook")
        assert httpx.get(results["png"], headers=ADMIN_HEADERS).content.startswith(b"\x89PNG")
    finally:
        stop(server)
