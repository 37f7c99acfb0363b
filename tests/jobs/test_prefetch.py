"""Remote inputs of real jobs (a LocalCluster worker, the API in process): failover between
two HTTP mirrors — one answering 500s, then timeouts, then a wrong checksum — with the job
log naming the source that served the bytes; a job queued behind a busy worker finds its input
prefetched ("cache hit"); credentials appear in no log, result or item."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.support.app import api_client, run_job, wait_for_job
from tests.support.rasters import write_test_raster
from tests.support.replay_server import ReplayServer

SECRET = "mirror-token-0f3b9c2e77"


@dataclass
class World:
    c: TestClient
    good: ReplayServer
    bad: ReplayServer
    raster: bytes


def _item(item_id: str, href: str, **asset: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": item_id,
        "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": {"data": {"href": href, "type": "image/tiff", "roles": ["data"], **asset}},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp("prefetch"))
    raster = write_test_raster(tmp / "r.tif").read_bytes()
    with (
        pytest.MonkeyPatch.context() as mp,
        ReplayServer() as good,
        ReplayServer() as bad,
    ):
        # read by the worker processes the cluster starts (they inherit the environment)
        mp.setenv("GEP_MIRROR_TEST_TOKEN", SECRET)
        with api_client(
            tmp / "home",
            base_url="http://gep.test",
            fetch_allow="127.0.0.1",
            fetch_timeout_s=1.0,
            fetch_attempts=2,
            fetch_backoff_s=0.05,
            jobs_workers=1,
        ) as c:
            for coll in ("remote", "direct"):
                coll_doc = {"id": coll, "description": coll, "gep:visibility": "public"}
                assert c.post("/stac/collections", json=coll_doc).is_success
            for name, url, prio, creds in (
                ("bad", f"{bad.url}/m", 1, {}),
                ("good", f"{good.url}/m", 2, {"token_env": "GEP_MIRROR_TEST_TOKEN"}),
            ):
                body: dict[str, Any] = {
                    "kind": "http",
                    "url": url,
                    "collections": ["remote"],
                    "priority": prio,
                    "credentials": creds,
                }
                r = c.put(f"/gateway/mirrors/{name}", json=body)
                assert r.status_code == 201, r.text
            yield World(c, good, bad, raster)


def _logs(c: TestClient, job: str) -> list[str]:
    return [line["message"] for line in c.get(f"/jobs/{job}/logs").json()["logs"]]


def test_failover_between_mirrors_is_logged_and_keeps_credentials_out(world: World) -> None:
    w = world
    checksum = "1220" + hashlib.sha256(w.raster).hexdigest()
    faults = {"p500": "HTTP 500", "ptimeout": "ReadTimeout", "pchecksum": "wrong checksum"}
    for name in faults:
        path = f"/m/{name}.tif"
        w.good.add(
            "GET",
            path,
            w.raster,
            "image/tiff",
            match=lambda r: r.headers.get("authorization") == f"Bearer {SECRET}",
        )
        # the archive the href names is down: the mirrors are what serve
        href = f"{w.bad.url}/archive/{name}.tif"
        item = _item(name, href, **{"file:checksum": checksum})
        assert w.c.post("/stac/collections/remote/items", json=item).status_code == 201
    w.bad.fail("/m/p500.tif", times=10, status=500)
    w.bad.fail("/m/ptimeout.tif", times=10, status=0, delay_s=2.5)
    w.bad.add("GET", "/m/pchecksum.tif", w.raster[:-10] + b"0123456789", "image/tiff")
    for name, why in faults.items():
        job = run_job(w.c, "quicklook", {"item": f"remote/{name}", "asset": "data"})
        logs = _logs(w.c, job)
        # fetched while the job waited for the cluster (or by the job itself, when it was
        # quicker): either way the log names the source that served the bytes
        served = [
            m for m in logs if f"remote/{name} asset data" in m and "served by mirror good" in m
        ]
        assert served and served[0].startswith(("prefetched", "cache miss")), logs
        assert any(
            m.startswith("remote/" + name) and "mirror bad" in m and why in m for m in logs
        ), logs
        assert why in served[0]  # the line that names the source says why the others failed
        results = w.c.get(f"/jobs/{job}/results").content
        published = w.c.get(f"/stac/collections/quicklook/items/{job}").content
        for text in (orjson.dumps(logs), results, published):
            assert SECRET.encode() not in text
        # what the job computed comes from the right bytes: the quicklook of the raster
        assert orjson.loads(results)["width"] == 64
    # the token reached the good mirror, never the bad one nor the archive
    assert all("authorization" not in r.headers for r in w.bad.requests)
    assert any(r.headers.get("authorization") == f"Bearer {SECRET}" for r in w.good.requests)
    stats = w.c.get("/gateway/stats").json()
    assert stats["sources"]["mirror:good"]["misses"] == 3
    assert stats["sources"]["mirror:bad"]["failures"] == 3
    assert SECRET not in orjson.dumps(w.c.get("/gateway/mirrors").json()).decode()


def test_a_job_queued_behind_a_busy_worker_finds_its_input_prefetched(world: World) -> None:
    w = world
    w.good.add("GET", "/direct/q.tif", w.raster, "image/tiff")
    href = f"{w.good.url}/direct/q.tif"
    assert w.c.post("/stac/collections/direct/items", json=_item("q", href)).status_code == 201
    busy = []
    for _ in range(2):  # the worker's two threads
        r = w.c.post(
            "/processes/wait/execution",
            json={"inputs": {"seconds": 2.5, "steps": 5}},
            headers={"Prefer": "respond-async"},
        )
        assert r.status_code == 201
        busy.append(r.json()["jobID"])
    for job in busy:  # both running: the next job waits in the queue
        wait_for_job(w.c, job, states={"running"}, timeout_s=60)
    r = w.c.post(
        "/processes/quicklook/execution",
        json={"inputs": {"item": "direct/q", "asset": "data"}},
        headers={"Prefer": "respond-async"},
    )
    assert r.status_code == 201
    job = r.json()["jobID"]
    # fetched while the job waits: before it starts, the cache holds its input
    source, deadline = "href:" + w.good.url.removeprefix("http://"), time.monotonic() + 10
    while source not in w.c.get("/gateway/stats").json()["sources"]:
        assert time.monotonic() < deadline, _logs(w.c, job)
        time.sleep(0.05)
    assert w.c.get(f"/jobs/{job}").json()["status"] == "accepted"
    assert wait_for_job(w.c, job)["status"] == "successful"
    logs = _logs(w.c, job)
    prefetched = [i for i, m in enumerate(logs) if m.startswith("prefetched direct/q asset data")]
    hits = [i for i, m in enumerate(logs) if m.startswith("cache hit: direct/q asset data")]
    assert prefetched and hits and prefetched[0] < hits[0], logs
    assert not any(m.startswith("cache miss") for m in logs), logs
    assert len([r for r in w.good.requests if r.path == "/direct/q.tif"]) == 1  # fetched once
