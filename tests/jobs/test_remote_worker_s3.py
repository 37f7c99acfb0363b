"""A ``dinsar`` job run by a separate ``gep worker`` whose GEP_HOME is another, empty folder,
with GEP's storage on a real S3 server (SeaweedFS): the outputs land in the bucket, the item's
hrefs are GEP URLs, GDAL opens the displacement COG through them with ``/vsicurl/`` (by HTTP
Range requests, answered 206), and the same URL is 404 to an anonymous caller while the result
is private."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
import s3fs

from gep.demo.sar import build_demo, collections
from tests.processes.test_sar_services import DEM, REF, SEC, SMALL
from tests.support.app import ADMIN_HEADERS, ADMIN_TOKEN, post_catalogue, run_job
from tests.support.s3 import S3Server
from tests.support.serving import free_port, start_gep_serve, stop


@pytest.fixture
def scheduler() -> Iterator[str]:
    """A Dask scheduler of its own: the server submits to it, the separate worker joins it."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "dask"), "scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--dashboard-address", ":0", "--no-show"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        stop(proc)  # type: ignore[arg-type]


def test_a_worker_elsewhere_writes_results_to_s3_served_as_gep_urls(
    tmp_path: Path, s3_server: S3Server, scheduler: str, capfd: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    items = build_demo(data, pairs=SMALL, log=lambda m: None)
    bucket = s3_server.new_place()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    storage = {
        "storage_url": f"s3://{bucket}/gep",
        "s3_endpoint_url": s3_server.endpoint_url,
    }
    server = start_gep_serve(
        tmp_path / "server-home", port, data_roots=str(data), dask_scheduler=scheduler,
        base_url=base, **storage,
    )  # fmt: skip
    worker_home = tmp_path / "worker-home"  # another GEP_HOME, empty
    worker_home.mkdir()
    env = {**os.environ, "GEP_HOME": str(worker_home)}
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "gep"), "worker", "--scheduler", scheduler,
         "--nthreads", "1", "--name", "elsewhere"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=60) as admin:
            post_catalogue(admin, collections(), items)
            inputs = {"reference": REF, "secondary": SEC, "dem": DEM, "looks_azimuth": 4}
            job = run_job(admin, "dinsar", inputs, timeout_s=300)
            out = admin.get(f"/jobs/{job}/results").json()
            result = admin.get(f"/stac/collections/dinsar/items/{job}").json()

        # the outputs are in the bucket, under the job's prefix, and nowhere on the worker
        fs = s3fs.S3FileSystem(
            client_kwargs={"endpoint_url": s3_server.endpoint_url}, use_listings_cache=False
        )
        stored = {p.rsplit("/", 1)[-1] for p in fs.find(f"{bucket}/gep/jobs/{job}/outputs")}
        assert {"los_displacement.tif", "coherence.tif", "dinsar.kmz"} <= stored
        tmp_keys = fs.find(f"{bucket}/gep/tmp", detail=True)
        assert not [k for k, meta in tmp_keys.items() if meta["type"] == "file"]  # none left
        leftovers = [p for p in (worker_home / "work").rglob("*") if p.is_file()]
        assert leftovers == []  # the worker kept nothing once its results were stored
        # the item's hrefs (and the job's outputs) are GEP URLs; the bucket is an alternate
        asset = result["assets"]["los_displacement"]
        url = f"{base}/stac/collections/dinsar/items/{job}/assets/los_displacement"
        assert asset["href"] == url and out["los_displacement"]["href"] == url
        assert asset["alternate"]["s3"]["href"] == (
            f"s3://{bucket}/gep/jobs/{job}/outputs/los_displacement.tif"
        )
        # GDAL opens the COG lazily through the GEP URL with the owner's token
        capfd.readouterr()
        env_gdal = {
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            "GDAL_HTTP_HEADERS": f"Authorization: Bearer {ADMIN_TOKEN}",
            "CPL_CURL_VERBOSE": "YES",
        }
        with rasterio.Env(**env_gdal), rasterio.open(f"/vsicurl/{url}") as src:
            assert src.crs.to_epsg() == 4326
            window = src.read(1, window=((0, 8), (0, 8)))
            size = src.width * src.height
        assert window.shape == (8, 8) and size > 0 and np.isfinite(window).any()
        err = capfd.readouterr().err
        assert "Range: bytes=" in err and " 206 " in err  # the server answered ranges
        # the same URL is 404 to an anonymous caller while the result is private
        assert httpx.get(url, timeout=30).status_code == 404
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        stop(server)
