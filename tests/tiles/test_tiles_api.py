"""Tiles of catalogued rasters: pixel truth against rio-tiler and rasterio reading the same COG
directly, defaults from the item's ``renders``, TileJSON against the TileJSON 3.0.0 schema,
WMTS capabilities, the collection mosaic (newest on top), visibility (a hidden item's tiles
are the 404 of a missing one) and bad input — on local storage and on a real S3 server."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from fastapi.testclient import TestClient
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rio_tiler.colormap import apply_cmap, cmap
from rio_tiler.io import Reader
from rio_tiler.utils import linear_rescale

from gep.gateway.storage import Storage, StorageConfig
from tests.support.app import ADMIN_HEADERS, api_client, user_headers
from tests.support.http_files import FileServer

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
SCHEMA = json.loads((Path(__file__).parents[1] / "data/tilejson/schema-3.0.0.json").read_text())
ITEM = "/stac/collections/pub/items/old"
#: a tile inside the data (zoom 11 over 12.5-12.9 E, 41.6-41.9 N)
Z, X, Y = 11, 1095, 761
#: a tile over both items (old: 12.5-12.9 E, new: 12.7-13.1 E)
MX, MY = 1096, 761


@dataclass
class World:
    c: TestClient
    h: dict[str, dict[str, str]]
    old: Path  # the COGs as files, for the direct reads
    new: Path
    kind: str


def _cog(path: Path, west: float, value: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    arr = (value + rng.normal(0, 0.02, (600, 800))).astype("float32")
    arr[:40, :40] = np.nan  # no-data corner
    plain = path.with_suffix(".plain.tif")
    profile = {"driver": "GTiff", "width": 800, "height": 600, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": from_origin(west, 41.9, 0.0005, 0.0005),
               "nodata": float("nan")}  # fmt: skip
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(arr, 1)
    rasterio.shutil.copy(plain, path, driver="COG")
    plain.unlink()
    return path


def _item(item_id: str, href: str, west: float, when: str) -> dict[str, Any]:
    box = [west, 41.6, west + 0.4, 41.9]
    ring = [
        [box[0], box[1]],
        [box[2], box[1]],
        [box[2], box[3]],
        [box[0], box[3]],
        [box[0], box[1]],
    ]
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": item_id, "bbox": box,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"datetime": when, "title": f"displacement {item_id}", "renders": {
            "los": {"title": "LOS", "assets": ["los"], "rescale": [[-0.05, 0.05]],
                    "colormap_name": "rdbu"}}},
        "assets": {"los": {"href": href, "type": COG, "roles": ["data"]},
                   "kmz": {"href": href.replace(".tif", ".kmz"),
                           "type": "application/vnd.google-earth.kmz"}},
        "links": [],
    }  # fmt: skip


@pytest.fixture(scope="module", params=["local", "s3"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp(f"tiles-{request.param}"))
    data = tmp / "data"
    data.mkdir()
    old = _cog(data / "old.tif", 12.5, 0.01, 1)
    new = _cog(data / "new.tif", 12.7, -0.03, 2)  # overlaps old's eastern half
    settings: dict[str, Any] = {"base_url": "http://gep.test", "data_roots": str(data)}
    hrefs = {"old": old.as_uri(), "new": new.as_uri()}
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        url = f"s3://{server.new_place()}/gep"
        settings.update(storage_url=url, s3_endpoint_url=server.endpoint_url)
        storage = Storage(StorageConfig(url, server.endpoint_url))
        storage.ensure()
        hrefs = {k: storage.put_file(p, f"uploads/tiles/{k}.tif") for k, p in
                 (("old", old), ("new", new))}  # fmt: skip
    with api_client(tmp / "home", admin=False, **settings) as c:
        h: dict[str, dict[str, str]] = {"anonymous": {}, "admin": ADMIN_HEADERS}
        for name in ("U", "V"):
            h[name] = user_headers(c, name)
        pub = {"id": "pub", "description": "public", "gep:visibility": "public"}
        assert c.post("/stac/collections", json=pub, headers=ADMIN_HEADERS).status_code == 201
        for item_id, west, when in (("old", 12.5, "2022-01-01T00:00:00Z"),
                                    ("new", 12.7, "2022-02-01T00:00:00Z")):  # fmt: skip
            r = c.post("/stac/collections/pub/items", headers=ADMIN_HEADERS,
                       json=_item(item_id, hrefs[item_id], west, when))  # fmt: skip
            assert r.status_code == 201, r.text
        # an item naming another item's asset by its GEP URL (as a client would copy it)
        alias = _item("alias", "http://gep.test/stac/collections/pub/items/old/assets/los",
                      12.5, "2021-01-01T00:00:00Z")  # fmt: skip
        r = c.post("/stac/collections/pub/items", headers=ADMIN_HEADERS, json=alias)
        assert r.status_code == 201, r.text
        assert c.post("/stac/collections", json={"id": "own-V", "description": "V's"},
                      headers=h["V"]).status_code == 201  # fmt: skip
        r = c.post("/stac/collections/own-V/items", headers=ADMIN_HEADERS,
                   json=_item("secret", hrefs["old"], 12.5, "2022-01-01T00:00:00Z"))  # fmt: skip
        assert r.status_code == 201, r.text
        yield World(c, h, old, new, request.param)


def _tif(content: bytes) -> tuple[np.ndarray, np.ndarray]:
    with MemoryFile(content) as mem, mem.open() as ds:
        assert ds.count == 2  # data and mask
        return ds.read(1), ds.read(2) > 0


@pytest.mark.parametrize(
    ("z", "x", "y"), [(Z, X, Y), (10, 547, 380), (9, 273, 190), (14, 8763, 6093)]
)
def test_tile_values_equal_rio_tiler(world: World, z: int, x: int, y: int) -> None:
    r = world.c.get(f"{ITEM}/tiles/WebMercatorQuad/{z}/{x}/{y}.tif", params={"assets": "los"})
    assert r.status_code == 200, r.text
    data, mask = _tif(r.content)
    with Reader(str(world.old)) as ref:
        expected = ref.tile(x, y, z)
    valid = ~expected.array.mask[0]
    assert valid.any()
    assert mask.tolist() == valid.tolist()
    assert np.array_equal(data[valid], expected.array.data[0][valid])  # exact


def test_a_gep_asset_url_is_read_as_the_stored_file(world: World) -> None:
    tail = f"/tiles/WebMercatorQuad/{Z}/{X}/{Y}.tif?assets=los"
    alias = world.c.get(f"/stac/collections/pub/items/alias{tail}")
    assert alias.status_code == 200, alias.text
    assert _tif(alias.content)[0].tobytes() == _tif(world.c.get(ITEM + tail).content)[0].tobytes()


def test_point_equals_rasterio(world: World) -> None:
    lon, lat = 12.6123, 41.7456
    r = world.c.get(f"{ITEM}/point/{lon},{lat}", params={"assets": "los"})
    assert r.status_code == 200, r.text
    with rasterio.open(world.old) as ds:
        (expected,) = next(ds.sample([(lon, lat)]))
    assert r.json()["values"] == [pytest.approx(float(expected), abs=0)]


def test_png_is_drawn_as_the_item_declares(world: World, tmp_path: Path) -> None:
    url = f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png"
    plain = world.c.get(url, params={"assets": "los"})
    assert plain.status_code == 200 and plain.headers["content-type"] == "image/png"
    (tmp_path / "tile-render-default.png").write_bytes(plain.content)
    explicit = world.c.get(url, params={"assets": "los", "rescale": "-0.05,0.05",
                                        "colormap_name": "rdbu"})  # fmt: skip
    other = world.c.get(url, params={"assets": "los", "colormap_name": "viridis"})

    def rgba(content: bytes) -> np.ndarray:
        with MemoryFile(content) as mem, mem.open() as ds:
            return ds.read()

    assert np.array_equal(rgba(plain.content), rgba(explicit.content))
    assert not np.array_equal(rgba(plain.content), rgba(other.content))
    # the colours: rio-tiler's tile of the COG, rescaled to the render's range, through rdbu
    with Reader(str(world.old)) as ref:
        img = ref.tile(X, Y, Z)
    scaled = linear_rescale(img.array.data[0], in_range=(-0.05, 0.05), out_range=(0, 255))
    rgb, _ = apply_cmap(np.clip(scaled, 0, 255).astype("uint8")[None], cmap.get("rdbu"))
    got = rgba(plain.content)
    valid = ~img.array.mask[0]
    assert np.abs(got[:3][:, valid].astype(int) - rgb[:3][:, valid].astype(int)).max() <= 1
    assert (got[3][~valid] == 0).all()


def test_preview_and_statistics(world: World) -> None:
    with rasterio.open(world.old) as ds:
        arr = ds.read(1)
    finite = arr[np.isfinite(arr)]
    r = world.c.get(f"{ITEM}/statistics", params={"assets": "los"})
    assert r.status_code == 200, r.text
    stats = next(iter(r.json().values()))
    assert stats["min"] == pytest.approx(float(finite.min()))
    assert stats["max"] == pytest.approx(float(finite.max()))
    assert stats["mean"] == pytest.approx(float(finite.mean()), rel=1e-4)
    assert stats["count"] == finite.size
    p = world.c.get(f"{ITEM}/preview.png", params={"assets": "los"})
    assert p.status_code == 200 and p.headers["content-type"] == "image/png"
    with MemoryFile(p.content) as mem, mem.open() as ds:
        assert (ds.width, ds.height, ds.count) == (800, 600, 4)


def test_tilejson_validates_against_the_spec(world: World) -> None:
    for url in (f"{ITEM}/WebMercatorQuad/tilejson.json",
                "/stac/collections/pub/WebMercatorQuad/tilejson.json"):  # fmt: skip
        r = world.c.get(url, params={"assets": "los", "tile_format": "png"})
        assert r.status_code == 200, r.text
        doc = r.json()
        jsonschema.validate(doc, SCHEMA)
        assert doc["tiles"][0].startswith("http://gep.test/stac/collections/pub/")
        assert "{z}/{x}/{y}.png?assets=los" in doc["tiles"][0]
    with Reader(str(world.old)) as ref:
        expected = (ref.minzoom, ref.maxzoom)
    doc = world.c.get(f"{ITEM}/WebMercatorQuad/tilejson.json", params={"assets": "los"}).json()
    assert (doc["minzoom"], doc["maxzoom"]) == expected
    assert doc["bounds"] == pytest.approx([12.5, 41.6, 12.9, 41.9])


def test_wmts_capabilities(world: World) -> None:
    r = world.c.get(f"{ITEM}/WebMercatorQuad/WMTSCapabilities.xml", params={"rescale": "-1,1"})
    assert r.status_code == 200, r.text
    ns = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
    root = ET.fromstring(r.content)
    layers = root.findall("w:Contents/w:Layer", ns)
    assert [la.findtext("ows:Identifier", namespaces=ns) for la in layers] == ["los"]  # no kmz
    template = layers[0].find("w:ResourceURL", ns).get("template")  # type: ignore[union-attr]
    assert template == (
        "http://gep.test/stac/collections/pub/items/old/tiles/WebMercatorQuad/{TileMatrix}/"
        "{TileCol}/{TileRow}.png?assets=los&rescale=-1%2C1"
    )
    with Reader(str(world.old)) as ref:
        maxzoom = ref.maxzoom
    matrices = root.findall("w:Contents/w:TileMatrixSet/w:TileMatrix", ns)
    assert len(matrices) == maxzoom + 1
    assert root.findtext("w:Contents/w:TileMatrixSet/ows:SupportedCRS", namespaces=ns) == (
        "urn:ogc:def:crs:EPSG::3857"
    )


def test_mosaic_puts_the_newest_item_on_top(world: World) -> None:
    r = world.c.get(f"/stac/collections/pub/tiles/WebMercatorQuad/{Z}/{MX}/{MY}.tif",
                    params={"assets": "los"})  # fmt: skip
    assert r.status_code == 200, r.text
    data, mask = _tif(r.content)
    with Reader(str(world.old)) as o, Reader(str(world.new)) as n:
        old = o.tile(MX, MY, Z)
        new = n.tile(MX, MY, Z) if n.tile_exists(MX, MY, Z) else None
    assert new is not None
    from_new = ~new.array.mask[0]
    from_old = ~old.array.mask[0] & ~from_new
    assert from_new.any() and from_old.any()
    assert np.array_equal(data[from_new], new.array.data[0][from_new])
    assert np.array_equal(data[from_old], old.array.data[0][from_old])
    assert mask.tolist() == (from_new | from_old).tolist()
    # only the older item in January
    january = "2022-01-01T00:00:00Z/2022-01-31T00:00:00Z"
    r = world.c.get(f"/stac/collections/pub/tiles/WebMercatorQuad/{Z}/{MX}/{MY}.tif",
                    params={"assets": "los", "datetime": january})  # fmt: skip
    data, _ = _tif(r.content)
    valid = ~old.array.mask[0]
    assert np.array_equal(data[valid], old.array.data[0][valid])
    # a search as one layer: a CQL2 filter keeps the older item alone, and the TileJSON's
    # tile URLs carry the filter
    only_old = "id IN ('old', 'alias')"
    r = world.c.get(f"/stac/collections/pub/tiles/WebMercatorQuad/{Z}/{MX}/{MY}.tif",
                    params={"assets": "los", "filter": only_old})  # fmt: skip
    data, _ = _tif(r.content)
    assert np.array_equal(data[valid], old.array.data[0][valid])
    tj = world.c.get("/stac/collections/pub/WebMercatorQuad/tilejson.json",
                     params={"assets": "los", "filter": only_old}).json()  # fmt: skip
    assert "filter=id+IN+" in tj["tiles"][0]
    bad = world.c.get(f"/stac/collections/pub/tiles/WebMercatorQuad/{Z}/{MX}/{MY}.png",
                      params={"assets": "los", "filter": "id ==== 3"})  # fmt: skip
    assert bad.status_code == 400 and bad.json().get("field") == "filter", bad.text


def test_hidden_items_tiles_are_404_like_missing_ones(world: World) -> None:
    tail = f"/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png?assets=los"
    assert (
        world.c.get(f"/stac/collections/own-V/items/secret{tail}", headers=world.h["V"]).status_code
        == 200
    )
    missing = world.c.get(f"/stac/collections/nothing/items/secret{tail}", headers=world.h["U"])
    for who in ("U", "anonymous"):
        r = world.c.get(f"/stac/collections/own-V/items/secret{tail}", headers=world.h[who])
        assert r.status_code == 404
        assert r.json()["detail"] == missing.json()["detail"].replace("nothing", "own-V")
    # shared: within the cache's TTL, the tiles follow
    world.c.app.state.services.tile_sources.ttl_s = 0.0  # type: ignore[attr-defined]
    r = world.c.patch(
        "/stac/collections/own-V", json={"visibility": "public"}, headers=world.h["V"]
    )
    assert r.status_code in (200, 204), r.text
    assert world.c.get(f"/stac/collections/own-V/items/secret{tail}").status_code == 200
    r = world.c.patch(
        "/stac/collections/own-V", json={"visibility": "private"}, headers=world.h["V"]
    )
    assert world.c.get(f"/stac/collections/own-V/items/secret{tail}").status_code == 404


BAD = [
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/1/1.png?assets=los", 404, "tile"),
    (f"{ITEM}/tiles/WebMercatorQuad/25/1/1.png?assets=los", 404, "z"),
    (f"{ITEM}/tiles/WebMercatorQuad/3/9/1.png?assets=los", 404, "x"),
    (f"{ITEM}/tiles/WebMercatorQuad/20/560700/389800.png?assets=los", 404, "z"),  # maxzoom+5
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png?assets=nope", 404, "assets"),
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png?assets=kmz", 404, "assets"),
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png", 400, "assets"),
    (
        f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png?assets=los&colormap_name=nope",
        400,
        "colormap_name",
    ),
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png?assets=los&colormap=%7Bnot", 400, "colormap"),
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png?assets=los&rescale=a,b", 400, "rescale"),
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png?assets=los&rescale=1", 400, "rescale"),
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png?assets=los&expression=b9*", 400, "expression"),
    (f"{ITEM}/tiles/WebMercatorQuad/{Z}/{X}/{Y}.gif?assets=los", 400, "format"),
    (f"{ITEM}/tiles/NoSuchGrid/{Z}/{X}/{Y}.png?assets=los", 400, "tileMatrixSetId"),
    (f"{ITEM}/point/100.0,10.0?assets=los", 404, "lon,lat"),
    (f"{ITEM}/preview.png?assets=los&algorithm=std&algorithm_params=null", 400, "algorithm"),
    ("/stac/collections/pub/items/none/tiles/WebMercatorQuad/1/1/1.png?assets=los", 404, "itemId"),
    ("/stac/collections/pub/tiles/WebMercatorQuad/3/0/0.png?assets=los", 404, "tile"),
]


@pytest.mark.parametrize(("url", "status", "field"), BAD)
def test_bad_input_is_a_problem_naming_the_parameter(
    world: World, url: str, status: int, field: str
) -> None:
    r = world.c.get(url)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["field"] == field or field in body["detail"], body


def test_remote_cog_of_a_host_the_server_may_not_fetch_is_refused(tmp_path: Path) -> None:
    with FileServer() as server, api_client(tmp_path / "home") as c:
        base = server.url
        assert (
            c.post("/stac/collections", json={"id": "remote", "description": "r"}).status_code
            == 201
        )
        item = _item("r", f"{base}/old.tif", 12.5, "2022-01-01T00:00:00Z")
        assert c.post("/stac/collections/remote/items", json=item).status_code == 201
        r = c.get(f"/stac/collections/remote/items/r/tiles/WebMercatorQuad/{Z}/{X}/{Y}.png",
                  params={"assets": "los"})  # fmt: skip
        assert r.status_code == 400, r.text
        assert r.json()["field"] == "assets" and "GEP_FETCH_ALLOW" in r.json()["detail"]
        assert server.hits == []  # nothing was fetched
