"""Time series and vector assets when GEP's storage is an S3 bucket (a real SeaweedFS): the
rasters are read through ``/vsis3/`` with the storage's endpoint and credentials, the vector
file is copied once into the server's cache; the answers equal the local files'."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from gep.gateway.storage import Storage, StorageConfig
from tests.support.app import api_client
from tests.support.items import make_item, square

LON, LAT = 12.61, 41.74
DATES = ["2022-01-04", "2022-01-16", "2022-01-28"]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, s3_server: Any
) -> Iterator[tuple[TestClient, Path, Path]]:
    tmp = Path(tmp_path_factory.mktemp("s3-series"))
    rng = np.random.default_rng(5)
    stack = tmp / "stack.tif"
    with rasterio.open(
        stack, "w", driver="COG", width=64, height=64, count=3, dtype="float32",
        crs="EPSG:4326", transform=from_origin(12.55, 41.8, 0.002, 0.002),
    ) as dst:  # fmt: skip
        dst.write(rng.normal(0, 10, (3, 64, 64)).astype("float32"))
        for k, d in enumerate(DATES):
            dst.update_tags(k + 1, DATE=d)
    arrows = tmp / "arrows.geojson"
    pts = shapely.points(rng.uniform(12.55, 12.68, 40), rng.uniform(41.67, 41.8, 40))
    pyogrio.raw.write(
        str(arrows), shapely.to_wkb(pts), geometry_type="Point", crs="EPSG:4326",
        driver="GeoJSON", fields=["k"], field_data=[np.arange(40, dtype=np.int32)],
    )  # fmt: skip
    url = f"s3://{s3_server.new_place()}/gep"
    storage = Storage(StorageConfig(url, s3_server.endpoint_url))
    storage.ensure()
    item = make_item("r", square(12.55, 41.67, 0.13), "2022-01-28T00:00:00Z", "pub")
    item["assets"] = {
        "stack": {"href": storage.put_file(stack, "uploads/s3test/stack.tif"),
                  "type": "image/tiff; application=geotiff"},
        "arrows": {"href": storage.put_file(arrows, "uploads/s3test/arrows.geojson"),
                   "type": "application/geo+json"},
    }  # fmt: skip
    with api_client(
        tmp / "home", base_url="http://gep.test", storage_url=url,
        s3_endpoint_url=s3_server.endpoint_url,
    ) as c:  # fmt: skip
        assert (
            c.post("/stac/collections", json={"id": "pub", "description": "p"}).status_code == 201
        )
        r = c.post("/stac/collections/pub/items", json=item)
        assert r.status_code == 201, r.text
        yield c, stack, arrows


def test_a_series_from_s3_equals_the_file(world: tuple[TestClient, Path, Path]) -> None:
    c, stack, _ = world
    r = c.get("/stac/collections/pub/items/r/timeseries",
              params={"lon": LON, "lat": LAT, "assets": "stack"})  # fmt: skip
    assert r.status_code == 200, r.text
    with rasterio.open(stack) as src:
        row, col = src.index(LON, LAT)
        truth = [float(v) for v in src.read()[:, row, col]]
    values = r.json()["values"]
    assert [v["datetime"][:10] for v in values] == DATES
    assert [v["value"] for v in values] == truth


def test_vector_features_from_s3_equal_the_file(world: tuple[TestClient, Path, Path]) -> None:
    c, _, arrows = world
    r = c.get("/stac/collections/pub/items/r/vector/features",
              params={"assets": "arrows", "limit": 100})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["numberMatched"] == 40
    _, _, wkb, _ = pyogrio.raw.read(str(arrows))
    truth = shapely.get_coordinates(shapely.from_wkb(wkb))
    got = np.array([f["geometry"]["coordinates"] for f in body["features"]])
    assert np.abs(got - truth).max() < 1e-12
    assert [f["properties"]["k"] for f in body["features"]] == list(range(40))
    t = c.get("/stac/collections/pub/items/r/vector/tiles/WebMercatorQuad/6/34/23.pbf",
              params={"assets": "arrows"})  # fmt: skip
    assert t.status_code == 200, t.text  # the z6 tile holding the whole area
    feats = mapbox_vector_tile.decode(t.content)["arrows"]["features"]
    assert sorted(f["properties"]["k"] for f in feats) == list(range(40))
