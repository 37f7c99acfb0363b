"""Real clients nobody here wrote against `gep serve`: OWSLib (OGC API - Processes: list,
describe, execute ``quicklook`` asynchronously, poll, fetch the results), the OGC API -
Processes 1.0 JSON schemas over every document it read, pystac-client and GDAL's OAPIF driver
opening the root ``/`` as a STAC catalogue / OGC API - Features service."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import rasterio
from owslib.ogcapi.processes import Processes
from rasterio.transform import from_origin

from tests.support.app import ADMIN_HEADERS
from tests.support.ogc_schemas import errors
from tests.support.serving import free_port, start_gep_serve, stop

OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"


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
                "properties": {
                    "datetime": "2024-05-01T10:00:00Z",
                    "platform": "sentinel-2a",
                    "constellation": "sentinel-2",
                },
                "assets": {"visual": {"href": str(raster), "type": "image/tiff"}},
            },
        ).raise_for_status()

        api = Processes(base, headers=ADMIN_HEADERS)
        # the landing page: OGC links to the processes and the jobs, valid against 1.0
        landing = api._request(path="")
        assert errors("landingPage.yaml", landing) == []
        rels = {ln["rel"]: ln["href"] for ln in landing["links"]}
        assert rels[OGC_REL + "processes"] == f"{base}/processes"
        assert rels[OGC_REL + "job-list"] == f"{base}/jobs"
        assert errors("confClasses.yaml", api._request(path="conformance")) == []
        listing = api._request(path="processes")
        assert errors("processList.yaml", listing) == []
        assert "quicklook" in [p["id"] for p in api.processes()]
        for summary in listing["processes"]:  # every description validates
            described = api.process(summary["id"])
            assert errors("process.yaml", described) == [], summary["id"]
            assert "$defs" not in str(described) and "'null'" not in str(described)
        desc = api.process("quicklook")
        assert {"item", "asset"} <= set(desc["inputs"])
        # file outputs are declared with their media type
        assert desc["outputs"]["png"]["format"] == {"mediaType": "image/png"}
        assert desc["outputs"]["png"]["schema"]["contentMediaType"] == "image/png"
        accepted = api.execute(
            "quicklook",
            {"item": f"{base}/stac/collections/optical/items/scene", "asset": "visual"},
            async_=True,
        )
        assert errors("statusInfo.yaml", accepted) == []
        job_id = accepted["jobID"]
        status = accepted
        deadline = time.monotonic() + 60
        while status["status"] not in ("successful", "failed") and time.monotonic() < deadline:
            time.sleep(0.3)
            status = api._request(path=f"jobs/{job_id}")
        assert status["status"] == "successful", status
        assert errors("statusInfo.yaml", status) == []
        assert errors("jobList.yaml", api._request(path="jobs")) == []
        # the status links the results document and the result as a STAC item
        item_url = f"{base}/stac/collections/quicklook/items/{job_id}"
        links = [ln for ln in status["links"] if ln["rel"] == OGC_REL + "results"]
        assert {(ln["type"], ln["href"]) for ln in links} == {
            ("application/json", f"{base}/jobs/{job_id}/results"),
            ("application/geo+json", item_url),
        }
        results = api._request(path=f"jobs/{job_id}/results")
        assert errors("results.yaml", results) == []
        assert (results["width"], results["height"]) == (64, 48)
        # a file output is a link {"href", "type"}
        assert results["png"] == {"href": f"{item_url}/assets/quicklook", "type": "image/png"}
        png = httpx.get(results["png"]["href"], headers=ADMIN_HEADERS)
        assert png.content.startswith(b"\x89PNG")
        assert png.headers["content-type"] == results["png"]["type"]
        _stac_clients(base, job_id)
    finally:
        stop(server)


def _stac_clients(base: str, job_id: str) -> None:
    """pystac-client and GDAL's OAPIF driver open the root as they find it."""
    from pystac_client import Client

    client = Client.open(base + "/", headers=ADMIN_HEADERS)
    assert client.id and client.description
    # numberMatched comes by default (counted up to a cap), so matched() needs no count=true
    search = client.search(collections=["optical"], max_items=10)
    assert search.matched() == 1
    assert [i.id for i in search.items()] == ["scene"]
    results = client.get_collection("quicklook")
    assert "quicklook" in results.extra_fields["item_assets"]
    assert results.summaries.lists["gep:process"] == ["quicklook"]
    assert results.summaries.lists["platform"] == ["sentinel-2a"]
    # the result: dated by its input's acquisition, searchable by platform, linked to it
    found = client.search(
        collections=["quicklook"], filter={"op": "=", "args": [{"property": "platform"},
                                                                "sentinel-2a"]},
    )  # fmt: skip
    (item,) = list(found.items())
    assert item.id == job_id and found.matched() == 1
    assert item.properties["datetime"] == "2024-05-01T10:00:00Z"
    assert item.properties["created"] != item.properties["datetime"]
    derived = [ln.href for ln in item.links if ln.rel == "derived_from"]
    assert derived == [f"{base}/stac/collections/optical/items/scene"]

    import pyogrio

    layers = {str(name) for name, _ in pyogrio.list_layers("OAPIF:" + base)}
    assert {"optical", "quicklook"} <= layers, layers
    _, _, geometry, _ = pyogrio.raw.read("OAPIF:" + base, layer="optical")
    assert len(geometry) == 1
