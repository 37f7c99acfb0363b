"""Every stored asset over HTTP (``/stac/collections/{c}/items/{i}/assets/{key}``), on both
backends: whole, by Range, HEAD, ETag and date revalidation, 416; the item's visibility and
the gateway's roots decide who reads (anything else is a 404, as if missing); remote hrefs are
named, not served; GDAL reads a window of the COG through ``/vsicurl/`` from a real
``gep serve``; CORS preflights and simple requests are answered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from tests.support.app import ADMIN_HEADERS, ADMIN_TOKEN, api_client, user_headers
from tests.support.rasters import write_test_raster
from tests.support.serving import free_port, start_gep_serve, stop
from tests.support.stores import BACKENDS, scratch_postgis_database

TIFF = "image/tiff; application=geotiff"
PUBLIC = "/stac/collections/pub/items/scene/assets"
SECRET = "/stac/collections/own-V/items/secret/assets/data"
ORIGIN = "https://map.example"


@dataclass
class World:
    c: TestClient
    h: dict[str, dict[str, str]]
    data: Path
    tif: Path
    raw: bytes


def _item(item_id: str, assets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": item_id,
        "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": assets,
    }


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp("assets"))
    data = tmp / "mirror"
    data.mkdir()
    tif = write_test_raster(data / "scene.tif")
    outside = write_test_raster(tmp / "outside.tif")  # not in a data root: never served
    settings: dict[str, Any] = {}
    with ExitStack() as stack:
        if request.param == "postgis":
            settings["database_url"] = stack.enter_context(scratch_postgis_database("gep_assets"))
        c = stack.enter_context(
            api_client(tmp / "home", admin=False, data_roots=str(data), **settings)
        )
        h: dict[str, dict[str, str]] = {"anonymous": {}, "admin": ADMIN_HEADERS}
        for name in ("U", "V"):
            h[name] = user_headers(c, name)
        pub = {"id": "pub", "description": "public", "gep:visibility": "public"}
        assert c.post("/stac/collections", json=pub, headers=ADMIN_HEADERS).status_code == 201
        assets = {
            "data": {"href": tif.as_uri(), "type": TIFF, "roles": ["data"]},
            "untyped": {"href": str(tif), "roles": ["data"]},
            "remote": {"href": "https://archive.example/scene.tif", "type": TIFF},
            "s3": {"href": "s3://bucket/scene.tif", "type": TIFF},
            "outside": {"href": outside.as_uri(), "type": TIFF},
            "folder": {"href": data.as_uri()},
            "missing": {"href": (data / "nothing.tif").as_uri()},
            "climbing": {"href": f"{data}/../outside.tif"},
        }
        r = c.post(
            "/stac/collections/pub/items", headers=ADMIN_HEADERS, json=_item("scene", assets)
        )
        assert r.status_code == 201, r.text
        # V's private collection; an administrator catalogues a data-root file into it
        assert c.post("/stac/collections", json={"id": "own-V", "description": "V's"},
                      headers=h["V"]).status_code == 201  # fmt: skip
        r = c.post("/stac/collections/own-V/items", headers=ADMIN_HEADERS,
                   json=_item("secret", {"data": assets["data"]}))  # fmt: skip
        assert r.status_code == 201, r.text
        yield World(c, h, data, tif, tif.read_bytes())


def test_whole_file(world: World) -> None:
    r = world.c.get(f"{PUBLIC}/data")
    assert r.status_code == 200, r.text
    assert r.content == world.raw
    assert r.headers["content-type"] == TIFF
    assert r.headers["content-length"] == str(len(world.raw))
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"].startswith('"') and r.headers["last-modified"].endswith("GMT")
    assert "content-range" not in r.headers
    # no declared type: guessed from the name
    assert world.c.get(f"{PUBLIC}/untyped").headers["content-type"] == "image/tiff"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=100-1123", 100, 1123), ("bytes=-16", -16, -1), ("bytes=2000-", 2000, -1),
     ("bytes=0-0", 0, 0)],
)  # fmt: skip
def test_one_range(world: World, header: str, first: int, last: int) -> None:
    size = len(world.raw)
    first, last = first % size, last % size
    r = world.c.get(f"{PUBLIC}/data", headers={"Range": header})
    assert r.status_code == 206, r.text
    assert r.content == world.raw[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert r.headers["content-length"] == str(last + 1 - first)
    assert r.headers["content-type"] == TIFF


def test_several_ranges_are_answered_whole(world: World) -> None:
    r = world.c.get(f"{PUBLIC}/data", headers={"Range": "bytes=0-9,100-109"})
    assert r.status_code == 200 and r.content == world.raw


def test_unsatisfiable_range(world: World) -> None:
    size = len(world.raw)
    r = world.c.get(f"{PUBLIC}/data", headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["content-range"] == f"bytes */{size}"
    assert r.json()["status"] == 416


def test_head(world: World) -> None:
    r = world.c.head(f"{PUBLIC}/data")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == str(len(world.raw))
    assert r.headers["content-type"] == TIFF and r.headers["accept-ranges"] == "bytes"
    r = world.c.head(f"{PUBLIC}/data", headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.headers["content-length"] == "10"
    assert world.c.head(f"{PUBLIC}/remote").status_code == 404


def test_revalidation(world: World) -> None:
    first = world.c.get(f"{PUBLIC}/data")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    r = world.c.get(f"{PUBLIC}/data", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert world.c.get(f"{PUBLIC}/data", headers={"If-None-Match": '"old"'}).status_code == 200
    r = world.c.get(f"{PUBLIC}/data", headers={"If-Modified-Since": modified})
    assert r.status_code == 304
    # If-Range naming another version: the range is off, the new file comes whole
    r = world.c.get(f"{PUBLIC}/data", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert r.status_code == 200 and r.content == world.raw
    r = world.c.get(f"{PUBLIC}/data", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert r.status_code == 206 and r.content == world.raw[:10]


@pytest.mark.parametrize("key", ["remote", "s3"])
def test_remote_hrefs_are_named_not_served(world: World, key: str) -> None:
    r = world.c.get(f"{PUBLIC}/{key}")
    assert r.status_code == 404
    body = r.json()
    assert "not stored on this server" in body["detail"]
    assert body["href"] in ("https://archive.example/scene.tif", "s3://bucket/scene.tif")


@pytest.mark.parametrize("key", ["outside", "folder", "missing", "climbing", "nosuchkey"])
def test_what_the_gateway_refuses_is_missing(world: World, key: str) -> None:
    for who in ("anonymous", "admin"):
        r = world.c.get(f"{PUBLIC}/{key}", headers=world.h[who])
        assert r.status_code == 404, (who, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert str(world.tif.parent.parent) not in r.text  # no path of the server told


def test_private_asset_follows_its_item(world: World) -> None:
    for who in ("anonymous", "U"):
        r = world.c.get(SECRET, headers=world.h[who])
        assert r.status_code == 404, (who, r.text)
        assert world.c.head(SECRET, headers=world.h[who]).status_code == 404
    unseen = world.c.get("/stac/collections/own-V/items/nothing/assets/data", headers=world.h["U"])
    assert unseen.json()["detail"] == world.c.get(SECRET, headers=world.h["U"]).json()["detail"]
    for who in ("V", "admin"):
        r = world.c.get(SECRET, headers={**world.h[who], "Range": "bytes=8-15"})
        assert r.status_code == 206 and r.content == world.raw[8:16], who
    bad = {"Authorization": "Bearer gep_nobody_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"}
    assert world.c.get(SECRET, headers=bad).status_code == 401


def test_cors(world: World) -> None:
    r = world.c.options(
        f"{PUBLIC}/data",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, range",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    allowed = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "range" in allowed
    r = world.c.get(f"{PUBLIC}/data", headers={"Origin": ORIGIN, "Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.headers["access-control-allow-origin"] == "*"
    exposed = r.headers["access-control-expose-headers"].lower()
    for header in ("etag", "content-range", "accept-ranges", "location", "content-length"):
        assert header in exposed
    assert "access-control-allow-credentials" not in r.headers  # never with a wildcard
    # and on the rest of the API, errors included
    assert world.c.get("/stac/collections", headers={"Origin": ORIGIN}).headers[
        "access-control-allow-origin"] == "*"  # fmt: skip
    r = world.c.get(SECRET, headers={"Origin": ORIGIN})
    assert r.status_code == 404 and r.headers["access-control-allow-origin"] == "*"


def test_cors_with_named_origins(tmp_path: Path) -> None:
    with api_client(tmp_path / "home", cors_origins=f"{ORIGIN}, https://other.example") as c:
        preflight = {"Access-Control-Request-Method": "POST"}
        r = c.options("/stac/search", headers={"Origin": ORIGIN, **preflight})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert r.headers["access-control-allow-credentials"] == "true"
        r = c.options("/stac/search", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in r.headers
        r = c.get("/", headers={"Origin": "https://evil.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    with api_client(tmp_path / "off", cors_origins="") as c:
        assert "access-control-allow-origin" not in c.get("/", headers={"Origin": ORIGIN}).headers


def test_gdal_reads_a_window_through_vsicurl(tmp_path: Path) -> None:
    """A real server, a real GDAL: the COG is opened lazily by URL and a window read equals the
    same window of the file; a private asset opens only with the owner's token."""
    data = tmp_path / "mirror"
    data.mkdir()
    tif = write_test_raster(data / "scene.tif")
    port = free_port()
    server = start_gep_serve(tmp_path / "home", port, data_roots=str(data))
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=30) as admin:
            for coll, visibility in (("pub", "public"), ("vault", "private")):
                body = {"id": coll, "description": coll, "gep:visibility": visibility}
                assert admin.post("/stac/collections", json=body).status_code == 201
                item = _item("scene", {"data": {"href": tif.as_uri(), "type": TIFF}})
                r = admin.post(f"/stac/collections/{coll}/items", json=item)
                assert r.status_code == 201, r.text
        with rasterio.open(tif) as src:
            expected = src.read(1, window=Window(10, 5, 20, 12))
        env = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
        url = f"/vsicurl/{base}/stac/collections/pub/items/scene/assets/data"
        with rasterio.Env(**env), rasterio.open(url) as src:
            assert (src.width, src.height, src.crs.to_epsg()) == (64, 48, 32633)
            np.testing.assert_array_equal(src.read(1, window=Window(10, 5, 20, 12)), expected)
        private = f"/vsicurl/{base}/stac/collections/vault/items/scene/assets/data"
        auth = {"GDAL_HTTP_HEADERS": f"Authorization: Bearer {ADMIN_TOKEN}"}
        with rasterio.Env(**env, **auth), rasterio.open(private) as src:
            np.testing.assert_array_equal(src.read(1, window=Window(10, 5, 20, 12)), expected)
        # (another URL for the anonymous try: GDAL caches what it read per URL, not per header)
        with rasterio.Env(**env), pytest.raises(RasterioIOError, match="404"):
            rasterio.open(f"{private}?anonymous")
    finally:
        stop(server)
