"""The must-show of thematic apps: the demo volcano app exported from one ``gep serve`` and
imported into a second one with another home and database, where the same layers, services and
areas are, and its services run — after a first import into the second server, which lacks two
of the app's collections, was refused with the list of what is missing and wrote nothing.

Server A is the session's seeded demo (``demo_server``, shared with tests/ui and the notebooks).
Server B is seeded with the demo's catalogue but not its apps (``gep demo seed --no-sar
--no-apps``: its collections, subscriptions and areas, ~10 s, seeded while A starts), so it
has neither the volcano app nor its deployed service, and not the SAR pair's collections.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.app import ADMIN_HEADERS, wait_for_job
from tests.support.demo_server import GEP, Server
from tests.support.serving import free_port, start_gep_serve, stop

VOLCANO = "demo-volcanoes"


@pytest.fixture(scope="module")
def b_seeding(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """B's seed, started before A is asked for (so that both seed at once on a fresh run)."""
    home = tmp_path_factory.mktemp("apps-b")
    env = {**os.environ, "GEP_HOME": str(home), "GEP_DATABASE_URL": "", "GEP_DASK_SCHEDULER": ""}
    proc = subprocess.Popen(
        [str(GEP), "demo", "seed", "--no-sar", "--no-apps"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield home, proc
    if proc.poll() is None:
        proc.kill()


@pytest.fixture(scope="module")
def server_b(b_seeding: tuple[Path, Any], demo_server: Server) -> Iterator[httpx.Client]:
    home, seeding = b_seeding
    out, _ = seeding.communicate(timeout=300)
    assert seeding.returncode == 0, out.decode()
    port = free_port()
    proc = start_gep_serve(home, port, base_url=f"http://127.0.0.1:{port}")
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=ADMIN_HEADERS, timeout=60
        ) as c:
            yield c
    finally:
        stop(proc)


def _same(app: dict[str, Any]) -> dict[str, Any]:
    """What must be the same on both servers (the ids of areas and URLs differ)."""
    return {
        "title": app["title"],
        "bbox": app["bbox"],
        "services": [s["id"] for s in app["services"]],
        "collections": [c["id"] for c in app["collections"]],
        "subscriptions": [s["id"] for s in app["subscriptions"]],
        "layers": [(x["title"], x["collection"], x["item"], x["opacity"]) for x in app["layers"]],
        "areas": [(f["properties"]["name"], f["geometry"]) for f in app["areas"]["features"]],
        "searches": app["searches"],
    }


def test_the_volcano_app_moves_between_two_servers(
    demo_server: Server, server_b: httpx.Client
) -> None:
    with httpx.Client(base_url=demo_server.url, headers=ADMIN_HEADERS, timeout=60) as a:
        on_a = a.get(f"/apps/{VOLCANO}").json()
        r = a.get(f"/apps/{VOLCANO}/export")
    assert r.status_code == 200, r.text
    portable = r.json()
    assert on_a["missing"] == [] and len(on_a["areas"]["features"]) == 4
    assert [p["id"] for p in portable["applicationPackages"]] == ["volcano-note"]
    assert {"hotspots", "sbas", "dinsar", "volcano-note"} <= {s["id"] for s in on_a["services"]}

    b = server_b
    assert b.get(f"/apps/{VOLCANO}").status_code == 404
    areas_before = b.get("/gazetteer/areas").json()["features"]
    # B lacks the SAR pair's collections: refused, with both named, and nothing written
    r = b.post("/apps/import", json=portable)
    assert r.status_code == 400, r.text
    assert sorted(p["detail"] for p in r.json()["problems"]) == [
        "collection 'gep-dem' does not exist here",
        "collection 'gep-slc' does not exist here",
    ]
    assert b.get("/processes/volcano-note").status_code == 404
    assert b.get("/gazetteer/areas").json()["features"] == areas_before
    assert [x["id"] for x in b.get("/apps").json()["apps"]] == ["my-uploads"]

    # the operator creates them from the STAC records the document carries; the import passes
    for coll in portable["collections"]:
        if coll["id"] in ("gep-dem", "gep-slc"):
            assert b.post("/stac/collections", json=coll).status_code == 201
    r = b.post("/apps/import", json=portable)
    assert r.status_code == 201, r.text
    on_b = r.json()
    assert on_b["id"] == VOLCANO and on_b["missing"] == []
    assert _same(on_b) == _same(on_a)
    assert b.get(f"/apps/{VOLCANO}").json()["layers"] == on_b["layers"]
    # layers are tile-ready there: the SBAS velocity layer's TileJSON answers with its tiles
    velocity = on_b["layers"][0]
    assert velocity["item"] == "sbas-mexico-city-2018" and velocity["asset"] == "velocity"
    tilejson = b.get(velocity["tilejson"])
    assert tilejson.status_code == 200, tilejson.text
    assert tilejson.json()["tiles"][0].startswith(
        f"{b.base_url}".rstrip("/") + "/stac/collections/sbas/items/"
    )

    # its services run there, the deployed one included
    jobs = []
    for process, inputs in (
        ("volcano-note", {"volcano": "Etna", "note": "degassing"}),
        ("hotspots", {"products": ["gep-optical/landsat-lava"]}),
    ):
        r = b.post(
            f"/processes/{process}/execution",
            json={"inputs": inputs},
            headers={"Prefer": "respond-async"},
        )
        assert r.status_code == 201, r.text
        jobs.append(r.json()["jobID"])
    for job_id in jobs:
        job = wait_for_job(b, job_id, timeout_s=120)
        assert job["status"] == "successful", b.get(f"/jobs/{job_id}/logs").text
    results = b.get(f"/jobs/{jobs[0]}/results").json()
    assert "result" in results, results
