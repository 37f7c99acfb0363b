"""``quicklook`` end to end: a catalogue item's raster asset → PNG + COG, published as a STAC
item in ``results`` with its lineage; checked against the source raster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from tests.support.app import api_client, fetch_result, open_result


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    tmp = Path(tmp_path_factory.mktemp("quicklook"))
    # a 300 x 500 UTM 33N raster over Etna: a ramp west→east, one no-data corner
    raster = tmp / "ramp.tif"
    data = np.tile(np.linspace(0, 1000, 500, dtype="float32"), (300, 1))
    data[:10, :10] = -9999
    with rasterio.open(
        raster,
        "w",
        driver="GTiff",
        width=500,
        height=300,
        count=1,
        dtype="float32",
        crs="EPSG:32633",
        transform=from_origin(480_000, 4_190_000, 30, 30),
        nodata=-9999,
    ) as dst:
        dst.write(data, 1)
    with api_client(tmp / "home", base_url="http://gep.test", data_roots=str(tmp)) as c:
        c.post("/stac/collections", json={"id": "dem", "description": "test rasters"})
        item = {
            "type": "Feature",
            "id": "etna-ramp",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[14.7, 37.6], [15.3, 37.6], [15.3, 37.9], [14.7, 37.9], [14.7, 37.6]]
                ],
            },
            "properties": {"datetime": "2024-01-01T00:00:00Z"},
            "assets": {"data": {"href": str(raster), "type": "image/tiff", "roles": ["data"]}},
        }
        assert c.post("/stac/collections/dem/items", json=item).status_code == 201
        yield c, raster


def test_quicklook_renders_and_publishes(world: tuple[TestClient, Path]) -> None:
    c, raster = world
    r = c.post(
        "/processes/quicklook/execution",
        json={
            "inputs": {
                "item": {"href": "http://gep.test/stac/collections/dem/items/etna-ramp"},
                "asset": "data",
                "max_size": 100,
            }
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["width"], out["height"]) == (100, 60)
    with open_result(c, out["png"]) as src:
        img = src.read(1)
    assert img.shape == (60, 100)
    assert img[0, 0] == 0  # no-data stays transparent-black
    row = img[30].astype(int)
    assert (np.diff(row) >= 0).all() and row[-1] - row[1] > 200  # the ramp survives
    with open_result(c, out["cog"]) as cog, rasterio.open(raster) as src:
        assert cog.crs == src.crs
        assert np.allclose(cog.bounds, src.bounds)  # same place, decimated
        assert cog.profile.get("compress", "").lower() == "deflate"
    job_id = r.headers["location"].rsplit("/", 1)[1]
    item = c.get(f"/stac/collections/quicklook/items/{job_id}").json()
    assert item["properties"]["gep:inputs"] == ["dem/etna-ramp"]
    assert item["properties"]["processing:software"] == {"quicklook": "1.0.0"}
    assert set(item["assets"]) == {"quicklook", "cog"}
    lon0, lat0, lon1, lat1 = item["bbox"]
    assert 14.7 < lon0 < lon1 < 15.1 and 37.7 < lat0 < lat1 < 37.9  # UTM 33N → Etna
    found = c.get("/stac/search", params={"collections": "quicklook", "bbox": "14.9,37.8,15,37.85"})
    assert job_id in [f["id"] for f in found.json()["features"]]


def test_quicklook_refuses_missing_items_and_assets_before_queueing(
    world: tuple[TestClient, Path],
) -> None:
    c, _ = world
    before = c.get("/jobs").json()["numberMatched"]
    r = c.post(
        "/processes/quicklook/execution",
        json={"inputs": {"item": "dem/etna-ramp", "asset": "visual"}},
    )
    assert r.status_code == 400 and r.json()["field"] == "inputs.asset"
    assert "has no asset 'visual'" in r.json()["detail"] and "data" in r.json()["detail"]
    r = c.post(
        "/processes/quicklook/execution", json={"inputs": {"item": "dem/nope", "asset": "data"}}
    )
    assert r.status_code == 400 and r.json()["field"] == "inputs.item"
    assert "does not exist" in r.json()["detail"]
    r = c.post(
        "/processes/quicklook/execution", json={"inputs": {"item": "not a ref", "asset": "data"}}
    )
    assert r.status_code == 400
    assert c.get("/jobs").json()["numberMatched"] == before  # nothing was queued


def test_dismissing_a_finished_job_removes_its_results(world: tuple[TestClient, Path]) -> None:
    c, _ = world
    r = c.post(
        "/processes/quicklook/execution",
        json={"inputs": {"item": "dem/etna-ramp", "asset": "data"}},
    )
    assert r.status_code == 200
    job_id = r.headers["location"].rsplit("/", 1)[1]
    png = r.json()["png"]["href"]  # a file output: a link {"href", "type"}
    assert r.json()["png"]["type"] == "image/png"
    assert fetch_result(c, png).startswith(b"\x89PNG")
    stored = c.get(f"/stac/collections/quicklook/items/{job_id}").json()["assets"]["quicklook"]
    assert stored["href"] == png
    assert c.get(f"/stac/collections/quicklook/items/{job_id}").status_code == 200
    d = c.delete(f"/jobs/{job_id}")
    assert d.status_code == 200 and d.json()["status"] == "dismissed"
    assert c.get(png).status_code == 404
    storage = c.app.state.services.gateway.storage  # type: ignore[attr-defined]
    assert list(storage.walk(f"jobs/{job_id}")) == []  # the files went with the job
    assert c.get(f"/stac/collections/quicklook/items/{job_id}").status_code == 404
    assert c.get(f"/jobs/{job_id}/results").status_code == 404
