"""``…/timeseries?lon=&lat=``: one item's dated bands and a collection's dated items at a point,
checked value by value against rasterio reading the same pixel of the same files."""

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

from gep.api.app import create_app
from gep.settings import Settings
from tests.support.items import make_item, square
from tests.support.problems import assert_problem

BASE = "http://gep.test"
UTM = "EPSG:32614"
#: a point inside every raster (WGS84) and the dates of the multi-band stack
LON, LAT = -99.05, 19.42
STACK_DATES = ["2018-01-06", "2018-01-18", "2018-01-30", "2018-02-11", "2018-02-23"]
LAYER_DATES = [f"2019-{m:02d}-15" for m in range(1, 13)]


def _utm_stack(path: Path, rng: np.random.Generator) -> None:
    """5 dated bands in UTM (the point is reprojected to read it), no-data -9999 in band 3
    around the point, dates in the band descriptions."""
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(LON, LAT)
    transform = from_origin(x - 1000, y + 1000, 30, 30)
    data = rng.normal(0, 50, (5, 70, 70)).astype("float32")
    data[2, 30:36, 30:36] = -9999
    with rasterio.open(
        path, "w", driver="COG", width=70, height=70, count=5, dtype="float32", crs=UTM,
        transform=transform, nodata=-9999,
    ) as dst:  # fmt: skip
        dst.write(data)
        for k, d in enumerate(STACK_DATES):
            dst.set_band_description(k + 1, f"displacement {d}")
        dst.units = ["mm"] * 5


def _layer(path: Path, value_at: float, rng: np.random.Generator, nan: bool = False) -> None:
    data = rng.normal(value_at, 1, (40, 40)).astype("float32")
    if nan:
        data[:] = np.nan
    with rasterio.open(
        path, "w", driver="COG", width=40, height=40, count=1, dtype="float32",
        crs="EPSG:4326", transform=from_origin(-99.1, 19.45, 0.0025, 0.0025), nodata=np.nan,
    ) as dst:  # fmt: skip
        dst.write(data, 1)


def _asset(path: Path, **extra: Any) -> dict[str, Any]:
    return {"href": path.as_uri(), "type": "image/tiff; application=geotiff", **extra}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    tmp = Path(tmp_path_factory.mktemp("ts"))
    rng = np.random.default_rng(7)
    _utm_stack(tmp / "stack.tif", rng)
    area = square(-99.1, 19.35, 0.1)
    items = [make_item("stack", area, "2018-02-23T00:00:00Z", "layer")]
    items[0]["assets"] = {"stack": _asset(tmp / "stack.tif")}
    items.append(make_item("single", area, "2018-02-23T00:00:00Z", "layer"))
    _layer(tmp / "single.tif", 1.0, rng)
    items[1]["assets"] = {"data": _asset(tmp / "single.tif")}
    per_date = make_item("perdate", area, "2019-12-15T00:00:00Z", "layer")
    for k, d in enumerate(LAYER_DATES):  # reversed on disk, one NaN layer
        _layer(tmp / f"layer_{d}.tif", float(k), rng, nan=k == 4)
        items.append(make_item(f"L{d}", area, f"{d}T10:00:00Z", "layer"))
        items[-1]["assets"] = {
            "v": _asset(tmp / f"layer_{d}.tif", **{"raster:bands": [{"unit": "cm"}]})
        }
        per_date["assets"][f"v_{d}"] = _asset(tmp / f"layer_{d}.tif")
    items.append(per_date)
    elsewhere = make_item("far", square(10, 10, 1), "2019-06-01T00:00:00Z", "layer")
    elsewhere["assets"] = {"v": _asset(tmp / "single.tif")}
    items.append(elsewhere)
    app = create_app(Settings(home=tmp / "home", base_url=BASE, data_roots=str(tmp)))
    with TestClient(app) as client:
        store = app.state.services.store
        store.create_collection({"id": "layer"})
        assert store.write_items(items, collection="layer").written == len(items)
        store.create_collection({"id": "secret"}, owner="u-alice", visibility="private")
        hidden = make_item("hidden", area, "2019-01-01T00:00:00Z", "secret")
        hidden["assets"] = {"stack": _asset(tmp / "stack.tif"), "v": _asset(tmp / "single.tif")}
        store.write_items([hidden], collection="secret")
        yield client, tmp


def _truth(path: Path, band: int = 1, lon: float = LON, lat: float = LAT) -> float | None:
    """rasterio's value at the pixel holding the point (no-data as None)."""
    from pyproj import Transformer

    with rasterio.open(path) as src:
        x, y = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True).transform(lon, lat)
        row, col = src.index(x, y)
        v = float(src.read(band)[row, col])
        nodata = src.nodata
    if not np.isfinite(v) or (nodata is not None and v == nodata):
        return None
    return v


def test_a_multiband_item_series_equals_rasterio(env: tuple[TestClient, Path]) -> None:
    client, tmp = env
    url = "/stac/collections/layer/items/stack/timeseries"
    r = client.get(url, params={"lon": LON, "lat": LAT, "assets": "stack"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "TimeSeries" and body["unit"] == "mm"
    assert (body["lon"], body["lat"]) == (LON, LAT)
    assert [v["datetime"] for v in body["values"]] == [f"{d}T00:00:00Z" for d in STACK_DATES]
    truth = [_truth(tmp / "stack.tif", b) for b in range(1, 6)]
    assert truth[2] is None and all(t is not None for t in truth[:2])  # the no-data band
    assert [v["value"] for v in body["values"]] == truth  # exact: float32 → float
    assert [v["band"] for v in body["values"]] == [1, 2, 3, 4, 5]
    c = client.get(url, params={"lon": LON, "lat": LAT, "assets": "stack", "f": "csv"})
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert list(rows[0]) == ["datetime", "value", "item", "band", "lon", "lat", "unit"]
    assert [float(x["value"]) if x["value"] else None for x in rows] == truth
    assert rows[2]["value"] == "" and rows[0]["unit"] == "mm"


def test_dated_assets_of_one_item_form_a_series(env: tuple[TestClient, Path]) -> None:
    """The sbas summary item's shape: one asset per date, ``<asset>_<date>``."""
    client, tmp = env
    r = client.get(
        "/stac/collections/layer/items/perdate/timeseries",
        params={"lon": LON, "lat": LAT, "assets": "v"},
    )
    assert r.status_code == 200, r.text
    values = r.json()["values"]
    assert [v["datetime"][:10] for v in values] == LAYER_DATES
    assert [v["value"] for v in values] == [_truth(tmp / f"layer_{d}.tif") for d in LAYER_DATES]
    assert values[4]["value"] is None


def test_a_collection_series_equals_rasterio(env: tuple[TestClient, Path]) -> None:
    client, tmp = env
    r = client.get(
        "/stac/collections/layer/timeseries", params={"lon": LON, "lat": LAT, "assets": "v"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unit"] == "cm"  # from raster:bands
    assert [v["item"] for v in body["values"]] == [f"L{d}" for d in LAYER_DATES]  # not "far"
    assert [v["datetime"] for v in body["values"]] == [f"{d}T10:00:00Z" for d in LAYER_DATES]
    truth = [_truth(tmp / f"layer_{d}.tif") for d in LAYER_DATES]
    assert [v["value"] for v in body["values"]] == truth and truth[4] is None
    # datetime, ids and CQL2 narrow it
    r = client.get(
        "/stac/collections/layer/timeseries",
        params={"lon": LON, "lat": LAT, "assets": "v", "datetime": "2019-03-01T00:00:00Z/.."},
    )
    assert [v["item"] for v in r.json()["values"]] == [f"L{d}" for d in LAYER_DATES[2:]]
    r = client.get(
        "/stac/collections/layer/timeseries",
        params={"lon": LON, "lat": LAT, "assets": "v", "filter": "id = 'L2019-05-15'"},
    )
    assert [v["value"] for v in r.json()["values"]] == [truth[4]]
    c = client.get(
        "/stac/collections/layer/timeseries",
        params={"lon": LON, "lat": LAT, "assets": "v", "f": "csv", "job": "L2019-02-15"},
    )
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert [(r["item"], float(r["value"])) for r in rows] == [("L2019-02-15", truth[1])]


@pytest.mark.parametrize(
    ("path", "params", "status", "field", "words"),
    [
        ("items/stack/timeseries", {"lon": "abc", "lat": LAT}, 400, "lon", "number"),
        ("items/stack/timeseries", {"lon": LON, "lat": 91}, 400, "lat", "between"),
        ("items/stack/timeseries", {"lon": "nan", "lat": LAT}, 400, "lon", "between"),
        ("items/stack/timeseries", {"lat": LAT}, 400, "lon", "required"),
        ("items/stack/timeseries", {"lon": LON, "lat": LAT, "assets": ""}, 400, "assets", "one"),
        ("items/stack/timeseries", {"lon": LON, "lat": LAT, "f": "xml"}, 400, "f", "csv"),
        ("items/stack/timeseries", {"lon": 0, "lat": 0}, 400, "lon", "outside"),
        ("items/stack/timeseries", {"lon": LON, "lat": LAT, "assets": "nope"}, 404, "assets",
         "no asset 'nope'"),
        ("items/single/timeseries", {"lon": LON, "lat": LAT, "assets": "data"}, 404, "assets",
         "no dated bands"),
        ("timeseries", {"lon": 0, "lat": 0, "assets": "v"}, 404, "lon", "lon=0.0, lat=0.0"),
        ("timeseries", {"lon": LON, "lat": LAT, "assets": "v", "datetime": "2030-01-01"}, 400,
         "datetime", ""),
        ("timeseries", {"lon": LON, "lat": LAT, "assets": "v", "filter": "nope = 1"}, 400,
         "filter", "queryable"),
        ("timeseries", {"lon": LON, "lat": LAT, "assets": "v", "bbox": "1,2"}, 400, "bbox", ""),
        ("timeseries", {"lon": LON, "lat": LAT, "assets": "v", "bbox": "0,0,1,1"}, 404, "lon",
         "bbox"),
    ],
)  # fmt: skip
def test_bad_inputs_are_problems_naming_the_parameter(
    env: tuple[TestClient, Path],
    path: str,
    params: dict[str, Any],
    status: int,
    field: str,
    words: str,
) -> None:
    client, _ = env
    q = {"assets": "stack", **params}
    body = assert_problem(client.get(f"/stac/collections/layer/{path}", params=q), status, field)
    assert words in body["detail"], body


def test_what_the_caller_may_not_see_is_404(env: tuple[TestClient, Path]) -> None:
    client, _ = env
    q = {"lon": LON, "lat": LAT, "assets": "stack"}
    assert client.app.state.services.store.get_item("secret", "hidden")  # type: ignore[attr-defined]
    missing = client.get("/stac/collections/layer/items/nope/timeseries", params=q)
    hidden = client.get("/stac/collections/secret/items/hidden/timeseries", params=q)
    assert missing.status_code == hidden.status_code == 404
    assert missing.json()["title"] == hidden.json()["title"]
    r = client.get("/stac/collections/secret/timeseries", params={**q, "assets": "v"})
    assert r.status_code == 404
