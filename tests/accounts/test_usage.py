"""Usage accounting measured on the workers, reported per user, service and provider (JSON and
CSV), and jobs that read the catalogue with their submitter's permissions."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from gep.core.access import Viewer
from gep.core.errors import NotFound
from gep.jobs.context import JobContext
from tests.support.app import ADMIN_HEADERS, api_client, wait_for_job


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    tmp = Path(tmp_path_factory.mktemp("usage"))
    raster = tmp / "r.tif"
    with rasterio.open(
        raster, "w", driver="GTiff", width=200, height=100, count=1, dtype="float32",
        crs="EPSG:32633", transform=from_origin(500_000, 4_180_000, 30, 30),
    ) as dst:  # fmt: skip
        dst.write(np.random.default_rng(0).random((100, 200), dtype="float32"), 1)
    with api_client(
        tmp / "home", admin=False, base_url="http://gep.test", provider="lab",
        data_roots=str(tmp),
    ) as c:  # fmt: skip
        users = {}
        for name in ("ula", "ugo"):
            r = c.post("/accounts/users", json={"name": name, "token": True}, headers=ADMIN_HEADERS)
            users[name] = {"Authorization": f"Bearer {r.json()['token']}"}
        c.post("/stac/collections", json={"id": "mine", "description": "ula's"},
               headers=users["ula"])  # fmt: skip
        item = {
            "type": "Feature", "id": "r",
            "geometry": {"type": "Point", "coordinates": [15.0, 37.7]},
            "properties": {"datetime": "2024-01-01T00:00:00Z"},
            "assets": {"data": {"href": str(raster), "type": "image/tiff", "roles": ["data"]}},
        }  # fmt: skip
        refused = c.post("/stac/collections/mine/items", json=item, headers=users["ula"])
        assert refused.status_code == 400  # a server file: an administrator catalogues it
        assert c.post("/stac/collections/mine/items", json=item, headers=ADMIN_HEADERS).is_success
        jobs = []
        for inputs in ({"item": "mine/r", "asset": "data"}, {"item": "mine/r", "asset": "data"}):
            r = c.post("/processes/quicklook/execution", json={"inputs": inputs},
                       headers={**users["ula"], "Prefer": "respond-async"})  # fmt: skip
            jobs.append(r.json()["jobID"])
        r = c.post("/processes/wait/execution", json={"inputs": {"seconds": 0.2, "fail": True}},
                   headers={**users["ugo"], "Prefer": "respond-async"})  # fmt: skip
        jobs.append(r.json()["jobID"])
        for j, who in zip(jobs, ("ula", "ula", "ugo"), strict=True):
            wait_for_job(c, j, users[who])
        yield c, {"users": users, "raster": raster, "jobs": jobs}


def test_usage_is_measured_and_reported(world: tuple[TestClient, dict[str, Any]]) -> None:
    c, w = world
    mine = c.get("/accounts/usage", headers=w["users"]["ula"]).json()["usage"]
    assert len(mine) == 1
    row = mine[0]
    assert (row["user"], row["process"], row["provider"]) == ("ula", "quicklook", "lab")
    assert (row["jobs"], row["successful"], row["failed"]) == (2, 2, 0)
    assert row["bytes_read"] == 2 * w["raster"].stat().st_size  # each job staged the raster
    assert row["bytes_written"] > 0 and row["cpu_s"] > 0 and row["wall_s"] >= row["cpu_s"] / 4
    everyone = c.get("/accounts/usage", headers=ADMIN_HEADERS).json()["usage"]
    assert {(r["user"], r["process"], r["failed"]) for r in everyone} == {
        ("ula", "quicklook", 0),
        ("ugo", "wait", 1),
    }
    as_csv = c.get("/accounts/usage", params={"format": "csv"}, headers=ADMIN_HEADERS)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {r["user"] for r in rows} == {"ula", "ugo"} and "bytes_written" in rows[0]
    accepted = c.get("/accounts/usage", headers={**ADMIN_HEADERS, "Accept": "text/csv"})
    assert accepted.headers["content-type"].startswith("text/csv")
    # the time window: everything ended today, nothing in 2020
    assert c.get("/accounts/usage", params={"from": "2020-01-01", "to": "2020-12-31"},
                 headers=ADMIN_HEADERS).json()["usage"] == []  # fmt: skip
    for params in ({"from": "2021-01-01", "to": "2020-01-01"}, {"from": "soon"},
                   {"format": "xml"}):  # fmt: skip
        r = c.get("/accounts/usage", params=params, headers=ADMIN_HEADERS)
        assert r.status_code == 400, params


def test_data_is_accounted_per_user_source_and_collection(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    c, w = world
    ula, size = w["users"]["ula"], w["raster"].stat().st_size
    # a download through the asset route: what was sent, counted as ula's read of "mine"
    r = c.get("/stac/collections/mine/items/r/assets/data", headers={**ula, "Range": "bytes=0-999"})
    assert r.status_code == 206 and len(r.content) == 1000
    data = c.get("/accounts/usage", headers=ula).json()["data"]
    assert {d["user"] for d in data} == {"ula"}  # a user sees their own rows only
    rows = {(d["direction"], d["source"], d["collection"]): d for d in data}
    # two quicklook jobs staged the raster from the data root, then the download
    assert rows[("read", "data-root", "mine")]["bytes"] == 2 * size + 1000
    assert rows[("read", "data-root", "mine")]["events"] == 3
    assert rows[("write", "storage", "quicklook")]["bytes"] > 0  # results, in their collection
    assert all(d["cost_cents"] == 0 for d in data)  # no price yet
    # an administrator prices the collection's data; the report costs the rows
    bad = c.put("/accounts/data-prices/mine", json={"read_cents_per_gb": -1}, headers=ADMIN_HEADERS)
    assert bad.status_code == 400 and bad.json()["field"] == "read_cents_per_gb"
    price = {"read_cents_per_gb": 1e6, "write_cents_per_gb": 0}
    assert c.put("/accounts/data-prices/mine", json=price, headers=ula).status_code == 403
    assert c.put("/accounts/data-prices/mine", json=price, headers=ADMIN_HEADERS).status_code == 200
    assert c.get("/accounts/data-prices", headers=ula).json()["mine"] == price
    data = c.get("/accounts/usage", headers=ula).json()["data"]
    read = next(d for d in data if (d["direction"], d["collection"]) == ("read", "mine"))
    assert read["cost_cents"] == pytest.approx(read["bytes"] * 1e6 / 1e9, rel=1e-6)
    assert c.delete("/accounts/data-prices/mine", headers=ADMIN_HEADERS).status_code == 204
    assert c.delete("/accounts/data-prices/mine", headers=ADMIN_HEADERS).status_code == 404


def test_jobs_read_with_their_submitters_permissions(
    world: tuple[TestClient, dict[str, Any]], tmp_path: Path
) -> None:
    """A job (a developer's service included) sees the catalogue as the user who ran it."""
    c, w = world
    refused = c.post(
        "/processes/quicklook/execution",
        json={"inputs": {"item": "mine/r", "asset": "data"}},
        headers=w["users"]["ugo"],
    )
    assert refused.status_code == 400 and "does not exist" in refused.json()["detail"]
    app = c.app
    ugo = app.state.services.accounts.user_by_name("ugo").viewer()  # type: ignore[attr-defined]
    ula = app.state.services.accounts.user_by_name("ula").viewer()  # type: ignore[attr-defined]
    for viewer, sees in ((ugo, False), (ula, True), (Viewer(), False)):
        ctx = JobContext(
            app.state.services.job_store,
            "j",
            tmp_path,
            tmp_path,
            app.state.services.store,
            viewer,  # type: ignore[attr-defined]
            app.state.services.gateway,  # type: ignore[attr-defined]
        )
        if sees:
            item, path = ctx.stage("mine/r", "data")
            assert item["id"] == "r" and path == w["raster"]
        else:
            with pytest.raises(NotFound):
                ctx.stage("mine/r", "data")
