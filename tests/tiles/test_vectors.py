"""Vector assets as GeoJSON pages and Mapbox vector tiles: the features equal the ones written
(count, attributes, coordinates within 1e-9° after reprojection), and a tile decodes to the
features inside it at their tile coordinates (within one tile unit)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import morecantile
import numpy as np
import pyogrio.raw
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from gep.api.app import create_app
from gep.settings import Settings
from tests.support.items import make_item, square
from tests.support.problems import assert_problem

BASE = "http://gep.test"
N_POINTS = 250
UTM = "EPSG:32614"
AREA = (-99.2, 19.3, -98.9, 19.55)  # w, s, e, n


def _points(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lon = rng.uniform(AREA[0], AREA[2], N_POINTS)
    lat = rng.uniform(AREA[1], AREA[3], N_POINTS)
    return lon, lat


def _write(path: Path, geoms: np.ndarray, crs: str, fields: dict[str, Any], **kw: Any) -> None:
    pyogrio.raw.write(
        str(path), shapely.to_wkb(geoms), field_data=list(fields.values()),
        fields=list(fields), geometry_type=kw.pop("geometry_type", "Point"), crs=crs, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    tmp = Path(tmp_path_factory.mktemp("vec"))
    rng = np.random.default_rng(11)
    lon, lat = _points(rng)
    ll = shapely.points(lon, lat)
    fields = {
        "name": np.array([f"p{k}" for k in range(N_POINTS)], dtype=object),
        "value": rng.normal(0, 1, N_POINTS),
        "n": np.arange(N_POINTS, dtype=np.int32),
    }
    _write(tmp / "points.geojson", ll, "EPSG:4326", fields, driver="GeoJSON")
    x, y = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(lon, lat)
    _write(tmp / "points.shp", shapely.points(x, y), UTM, fields)
    with zipfile.ZipFile(tmp / "points_shp.zip", "w") as z:
        for ext in ("shp", "shx", "dbf", "prj"):
            z.write(tmp / f"points.{ext}", f"points.{ext}")
    polys = np.array([shapely.box(AREA[0] + 0.05 * k, AREA[1], AREA[0] + 0.05 * k + 0.04,
                      AREA[1] + 0.2) for k in range(5)])  # fmt: skip
    pfields = {"cls": np.arange(5, dtype=np.int32)}
    _write(tmp / "layers.gpkg", polys, "EPSG:4326", pfields, layer="hotspots",
           geometry_type="Polygon", driver="GPKG")  # fmt: skip
    _write(tmp / "layers.gpkg", ll[:10], "EPSG:4326", {"n": fields["n"][:10]}, layer="pts",
           driver="GPKG", append=True)  # fmt: skip
    _write(tmp / "points.kml", ll[:20], "EPSG:4326", {"Name": fields["name"][:20]},
           driver="KML")  # fmt: skip
    with zipfile.ZipFile(tmp / "points.kmz", "w") as z:
        z.write(tmp / "points.kml", "doc.kml")
    (tmp / "broken.geojson").write_text('{"type": "FeatureCollection", "features": [')

    def asset(name: str, media: str) -> dict[str, Any]:
        return {"href": (tmp / name).as_uri(), "type": media}

    item = make_item("vec", square(-99.2, 19.3, 0.3), "2020-01-01T00:00:00Z", "v")
    item["assets"] = {
        "geojson": asset("points.geojson", "application/geo+json"),
        "shp": asset("points.shp", "application/x-shapefile"),
        "zipped": asset("points_shp.zip", "application/zip"),
        "gpkg": asset("layers.gpkg", "application/geopackage+sqlite3"),
        "kml": asset("points.kml", "application/vnd.google-earth.kml+xml"),
        "kmz": asset("points.kmz", "application/vnd.google-earth.kmz"),
        "broken": asset("broken.geojson", "application/geo+json"),
        "outside": {"href": "file:///etc/passwd", "type": "application/geo+json"},
        "raster": {"href": (tmp / "points.geojson").as_uri(), "type": "image/tiff"},
    }
    app = create_app(Settings(home=tmp / "home", base_url=BASE, data_roots=str(tmp)))
    with TestClient(app) as client:
        store = app.state.services.store
        store.create_collection({"id": "v"})
        assert store.write_items([item], collection="v").written == 1
        store.create_collection({"id": "secret"}, owner="u-alice", visibility="private")
        hidden = {**item, "id": "hidden", "collection": "secret"}
        store.write_items([hidden], collection="secret")
        yield client, {"lon": lon, "lat": lat, "fields": fields, "polys": polys}


URL = "/stac/collections/v/items/vec/vector"


def _all(client: TestClient, asset: str, limit: int, **extra: Any) -> list[dict[str, Any]]:
    """Every feature, following the next links."""
    feats: list[dict[str, Any]] = []
    url: str | None = f"{URL}/features"
    params: dict[str, Any] | None = {"assets": asset, "limit": limit, **extra}
    while url:
        r = client.get(url, params=params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/geo+json"
        body = r.json()
        assert body["numberReturned"] == len(body["features"]) <= limit
        feats += body["features"]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url, params = (nxt[0], None) if nxt else (None, None)
        assert body["numberMatched"] == (len(feats) if url is None else body["numberMatched"])
    return feats


@pytest.mark.parametrize("asset", ["geojson", "shp", "zipped"])
def test_features_equal_the_file(env: tuple[TestClient, dict[str, Any]], asset: str) -> None:
    client, truth = env
    feats = _all(client, asset, limit=60)
    assert len(feats) == N_POINTS
    xy = np.array([f["geometry"]["coordinates"] for f in feats])
    # the UTM shapefile comes back in WGS84: within 1e-9° of the points written
    assert np.abs(xy[:, 0] - truth["lon"]).max() < 1e-9
    assert np.abs(xy[:, 1] - truth["lat"]).max() < 1e-9
    assert [f["properties"]["name"] for f in feats] == list(truth["fields"]["name"])
    assert [f["properties"]["n"] for f in feats] == list(range(N_POINTS))
    np.testing.assert_allclose([f["properties"]["value"] for f in feats], truth["fields"]["value"])


def test_geopackage_layers_kml_and_kmz(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, truth = env
    hot = _all(client, "gpkg", limit=100)  # the first layer
    assert len(hot) == 5 and [f["properties"]["cls"] for f in hot] == list(range(5))
    for f, poly in zip(hot, truth["polys"], strict=True):
        assert shapely.geometry.shape(f["geometry"]).equals_exact(poly, 1e-12)
    pts = _all(client, "gpkg", limit=100, layer="pts")
    assert [f["properties"]["n"] for f in pts] == list(range(10))
    for asset in ("kml", "kmz"):
        feats = _all(client, asset, limit=7)
        assert [f["properties"]["Name"] for f in feats] == list(truth["fields"]["name"][:20])
        xy = np.array([f["geometry"]["coordinates"][:2] for f in feats])
        assert np.abs(xy[:, 0] - truth["lon"][:20]).max() < 1e-9


def test_a_tile_decodes_to_the_features_inside_it(
    env: tuple[TestClient, dict[str, Any]], tmp_path: Path
) -> None:
    client, truth = env
    tms = morecantile.tms.get("WebMercatorQuad")
    z = 12
    tile = tms.tile(-99.05, 19.42, z)
    r = client.get(f"{URL}/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}.pbf",
                   params={"assets": "shp"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True})
    layer = decoded["shp"]
    assert layer["extent"] == 4096
    # the independent answer: the points inside the tile, in tile units
    west, south, east, north = tms.xy_bounds(tile)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(
        truth["lon"], truth["lat"]
    )
    tx = (np.asarray(x) - west) / (east - west) * 4096
    ty = (north - np.asarray(y)) / (north - south) * 4096
    inside = np.flatnonzero((tx >= 0) & (tx < 4096) & (ty >= 0) & (ty < 4096))
    assert inside.size > 3  # the tile holds some of the points, not all
    assert inside.size < N_POINTS
    got = {f["properties"]["n"]: f["geometry"]["coordinates"] for f in layer["features"]}
    assert sorted(got) == sorted(int(k) for k in inside)
    for k in inside:
        gx, gy = got[int(k)]
        assert abs(gx - tx[k]) <= 1 and abs(gy - ty[k]) <= 1
    assert {f["properties"]["name"] for f in layer["features"]} == {f"p{k}" for k in inside}
    # polygons are clipped to the tile (and its buffer)
    r = client.get(f"{URL}/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}.pbf",
                   params={"assets": "gpkg"})  # fmt: skip
    assert r.status_code == 200, r.text
    polys = mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True})
    assert polys["gpkg"]["features"]
    for f in polys["gpkg"]["features"]:  # each box is taller than the tile: cut at the buffer
        xy = np.array(f["geometry"]["coordinates"][0])
        assert xy[:, 1].min() == -64 and xy[:, 1].max() == 4096 + 64
    _draw(tmp_path / "vector-tile.png", layer["features"], polys["gpkg"]["features"])
    # a tile far away is empty: 204
    r = client.get(f"{URL}/tiles/WebMercatorQuad/12/0/0.pbf", params={"assets": "shp"})
    assert r.status_code == 204 and not r.content


def _draw(path: Path, points: list[dict[str, Any]], polygons: list[dict[str, Any]]) -> None:
    """The decoded tile as a picture (tile units, y down), to look at."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for f in polygons:
        ring = np.array(f["geometry"]["coordinates"][0])
        ax.fill(ring[:, 0], ring[:, 1], alpha=0.3, label=f"cls {f['properties']['cls']}")
    xy = np.array([f["geometry"]["coordinates"] for f in points])
    ax.scatter(xy[:, 0], xy[:, 1], s=12, c="k")
    ax.add_patch(plt.Rectangle((0, 0), 4096, 4096, fill=False, ec="r"))
    ax.set_xlim(-200, 4296)
    ax.set_ylim(4296, -200)
    ax.set_title("MVT tile: points (shp) and clipped polygons (gpkg)")
    ax.legend(loc="lower right", fontsize=7)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def test_a_dense_tile_is_thinned_to_the_cap(env: tuple[TestClient, dict[str, Any]]) -> None:
    from gep.tiles import vectors

    client, _ = env
    old = vectors.MAX_TILE_POINTS
    vectors.MAX_TILE_POINTS = 50
    try:
        r = client.get(f"{URL}/tiles/WebMercatorQuad/0/0/0.pbf", params={"assets": "geojson"})
    finally:
        vectors.MAX_TILE_POINTS = old
    assert r.status_code == 200
    feats = mapbox_vector_tile.decode(r.content)["geojson"]["features"]
    assert 0 < len(feats) <= 50


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("features", {"assets": ""}, 400, "assets"),
        ("features", {"assets": "nope"}, 404, "assets"),
        ("features", {"assets": "geojson", "limit": 0}, 400, "limit"),
        ("features", {"assets": "geojson", "limit": "x"}, 400, "limit"),
        ("features", {"assets": "geojson", "offset": -1}, 400, "offset"),
        ("features", {"assets": "gpkg", "layer": "nope"}, 400, "layer"),
        ("features", {"assets": "broken"}, 404, "assets"),
        ("features", {"assets": "outside"}, 404, "assets"),
        ("features", {"assets": "raster"}, 404, "assets"),
        ("tiles/Nope/1/0/0.pbf", {"assets": "shp"}, 404, "tileMatrixSetId"),
        ("tiles/WebMercatorQuad/40/0/0.pbf", {"assets": "shp"}, 400, "z"),
        ("tiles/WebMercatorQuad/1/5/0.pbf", {"assets": "shp"}, 400, "x"),
    ],
)
def test_bad_inputs_are_problems(
    env: tuple[TestClient, dict[str, Any]], path: str, params: dict[str, Any], status: int,
    field: str,
) -> None:  # fmt: skip
    client, _ = env
    assert_problem(client.get(f"{URL}/{path}", params=params), status, field)


def test_hidden_items_are_404_like_missing_ones(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, _ = env
    hidden = client.get("/stac/collections/secret/items/hidden/vector/features",
                        params={"assets": "geojson"})  # fmt: skip
    missing = client.get("/stac/collections/v/items/nope/vector/features",
                         params={"assets": "geojson"})  # fmt: skip
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["title"] == missing.json()["title"]
    t = client.get("/stac/collections/secret/items/hidden/vector/tiles/WebMercatorQuad/0/0/0.pbf",
                   params={"assets": "geojson"})  # fmt: skip
    assert t.status_code == 404
