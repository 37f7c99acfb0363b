"""Stored files over HTTP on a local folder and on a real S3 server (SeaweedFS): items,
searches and OpenSearch name them by GEP URLs (the bucket as an ``alternate``), the asset route
serves them (Range, ETag, HEAD) with the item's visibility, signed URLs open private assets
without a token until they expire, and on S3 downloads may be redirected to presigned URLs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from gep.gateway.signing import UrlSigner
from gep.gateway.storage import Storage, StorageConfig
from tests.support.app import ADMIN_HEADERS, api_client, user_headers
from tests.support.rasters import write_test_raster

BASE = "http://gep.test"
TIFF = "image/tiff; application=geotiff"


@dataclass
class World:
    c: TestClient
    storage: Storage
    raw: bytes
    user: dict[str, str]


def _item(item_id: str, href: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": item_id,
        "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": {
            "data": {"href": href, "type": TIFF, "roles": ["data"]},
            "remote": {"href": "https://archive.example/x.tif", "type": TIFF},
        },
    }


@pytest.fixture
def world(tmp_path: Path, storage_config: StorageConfig) -> Iterator[World]:
    storage = Storage(storage_config)
    storage.ensure()
    tif = write_test_raster(tmp_path / "scene.tif")
    href = storage.put_file(tif, "demo/scene.tif")
    settings = {
        "storage_url": storage_config.url,
        "s3_endpoint_url": storage_config.s3_endpoint_url,
    }
    with api_client(tmp_path / "home", admin=False, base_url=BASE, **settings) as c:
        user = user_headers(c, "U")
        for coll, visibility in (("pub", "public"), ("vault", "private")):
            body = {"id": coll, "description": coll, "gep:visibility": visibility}
            assert c.post("/stac/collections", json=body, headers=ADMIN_HEADERS).status_code == 201
            r = c.post(f"/stac/collections/{coll}/items", json=_item("scene", href),
                       headers=ADMIN_HEADERS)  # fmt: skip
            assert r.status_code == 201, r.text
        yield World(c, storage, tif.read_bytes(), user)


def test_items_searches_and_feeds_name_stored_files_by_gep_urls(world: World) -> None:
    c, storage = world.c, world.storage
    url = f"{BASE}/stac/collections/pub/items/scene/assets/data"
    item = c.get("/stac/collections/pub/items/scene").json()
    asset = item["assets"]["data"]
    assert asset["href"] == url
    assert item["assets"]["remote"]["href"] == "https://archive.example/x.tif"  # untouched
    if storage.is_local:
        assert "alternate" not in asset  # a server path is never shown
        assert str(storage.root) not in c.get("/stac/collections/pub/items/scene").text
    else:
        assert asset["alternate"]["s3"]["href"] == storage.href("demo/scene.tif")
        assert any("alternate-assets" in e for e in item["stac_extensions"])
    found = c.get("/stac/search", params={"collections": "pub"}).json()["features"]
    assert found[0]["assets"]["data"]["href"] == url
    fields = c.get("/stac/search", params={"collections": "pub", "fields": "assets"}).json()
    assert fields["features"][0]["assets"]["data"]["href"] == url
    atom = c.get("/opensearch/pub/search").text
    assert f'href="{url}"' in atom
    geojson = c.get("/opensearch/pub/search", params={"format": "json"}).json()
    assert geojson["features"][0]["assets"]["data"]["href"] == url


def test_the_route_serves_stored_files_with_ranges_and_validators(world: World) -> None:
    c, raw = world.c, world.raw
    url = f"{BASE}/stac/collections/pub/items/scene/assets/data"
    r = c.get(url)
    assert r.status_code == 200 and r.content == raw
    assert r.headers["content-type"] == TIFF and r.headers["content-length"] == str(len(raw))
    part = c.get(url, headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206 and part.content == raw[100:1124]
    assert part.headers["content-range"] == f"bytes 100-1123/{len(raw)}"
    tail = c.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == raw[-10:]
    etag = r.headers["etag"]
    assert c.get(url, headers={"If-None-Match": etag}).status_code == 304
    head = c.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(raw))
    beyond = c.get(url, headers={"Range": f"bytes={len(raw) + 5}-"})
    assert beyond.status_code == 416
    # private: the owner reads, another user and an anonymous caller get 404
    secret = f"{BASE}/stac/collections/vault/items/scene/assets/data"
    assert c.get(secret, headers=ADMIN_HEADERS).content == raw
    assert c.get(secret, headers=world.user).status_code == 404
    assert c.get(secret).status_code == 404


def test_signed_urls_open_private_assets_until_they_expire(world: World) -> None:
    c, raw = world.c, world.raw
    path = "/stac/collections/vault/items/scene/assets/data"
    r = c.get(f"{path}/signed-url", params={"expires_in": 600}, headers=ADMIN_HEADERS)
    assert r.status_code == 200, r.text
    signed = r.json()["href"]
    assert signed.startswith(f"{BASE}{path}?") and r.json()["expires"].endswith("Z")
    got = c.get(signed)  # no token
    assert got.status_code == 200 and got.content == raw
    assert c.get(signed, headers={"Range": "bytes=0-9"}).content == raw[:10]
    # altered: another asset, another signer, another expiry → 403 naming what is wrong
    query = parse_qs(urlsplit(signed).query)
    other = signed.replace("/vault/", "/pub/")
    assert c.get(other).status_code == 403
    forged = signed.replace(f"gep_expires={query['gep_expires'][0]}", "gep_expires=9999999999")
    bad = c.get(forged)
    assert bad.status_code == 403 and bad.json()["field"] == "gep_signature"
    assert bad.headers["content-type"] == "application/problem+json"
    # expired: signed an hour ago for a minute, with the server's key
    key = (Path(c.app.state.services.settings.home) / "secret_key").read_bytes().strip()  # type: ignore[attr-defined]
    old = UrlSigner(key).sign(path, query["gep_user"][0], 60, now=0)
    expired = c.get(f"{path}?{old}")
    assert expired.status_code == 403 and expired.json()["field"] == "gep_expires"
    # the signer's permissions, not more: a user who cannot see the item gets no URL
    assert c.get(f"{path}/signed-url", headers=world.user).status_code == 404
    assert c.get(f"{path}/signed-url").status_code == 401
    too_long = c.get(f"{path}/signed-url", params={"expires_in": 10**9}, headers=ADMIN_HEADERS)
    assert too_long.status_code == 400 and too_long.json()["field"] == "expires_in"


def test_s3_downloads_may_redirect_to_presigned_urls(tmp_path: Path, s3_server: Any) -> None:
    config = StorageConfig(f"s3://{s3_server.new_place()}/gep", s3_server.endpoint_url)
    storage = Storage(config)
    storage.ensure()
    tif = write_test_raster(tmp_path / "scene.tif")
    href = storage.put_file(tif, "demo/scene.tif")
    with api_client(
        tmp_path / "home", storage_url=config.url, s3_endpoint_url=config.s3_endpoint_url,
        s3_presigned_redirect=True, admin=False,
    ) as c:  # fmt: skip
        h = ADMIN_HEADERS
        body = {"id": "vault", "description": "private", "gep:visibility": "private"}
        assert c.post("/stac/collections", json=body, headers=h).status_code == 201
        r = c.post("/stac/collections/vault/items", json=_item("scene", href), headers=h)
        assert r.status_code == 201
        r = c.get(
            "/stac/collections/vault/items/scene/assets/data", headers=h, follow_redirects=False
        )
        assert r.status_code == 307, r.text
        location = r.headers["location"]
        assert location.startswith(s3_server.endpoint_url) and "Signature" in location
        assert httpx.get(location, timeout=30).content == tif.read_bytes()
        # GEP's checks come first: an anonymous caller is not redirected
        anonymous = c.get("/stac/collections/vault/items/scene/assets/data", follow_redirects=False)
        assert anonymous.status_code == 404


def test_an_item_sent_back_as_shown_keeps_its_stored_hrefs(world: World) -> None:
    c, storage = world.c, world.storage
    shown = c.get("/stac/collections/pub/items/scene").json()
    shown["properties"]["title"] = "edited"
    r = c.put("/stac/collections/pub/items/scene", json=shown, headers=ADMIN_HEADERS)
    assert r.status_code == 200, r.text
    catalogue = c.app.state.services.store  # type: ignore[attr-defined]
    stored = orjson.loads(catalogue.get_item("pub", "scene"))
    assert stored["properties"]["title"] == "edited"
    assert stored["assets"]["data"]["href"] == storage.href("demo/scene.tif")
    assert "alternate" not in stored["assets"]["data"]
    assert c.get(f"{BASE}/stac/collections/pub/items/scene/assets/data").content == world.raw


def test_the_cli_downloads_assets_and_signs_urls(world: World, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gep.cli import common
    from gep.cli.main import app as cli
    from gep.client import GepClient

    c = world.c
    c.headers.update(ADMIN_HEADERS)  # this test's client is the administrator's
    common.CLIENT_FACTORY[:] = [lambda: GepClient(http=c)]
    try:
        runner = CliRunner()
        out = tmp_path / "got.tif"
        got = runner.invoke(cli, ["assets", "get", "vault", "scene", "data", "-o", str(out)])
        assert got.exit_code == 0, got.output
        assert out.read_bytes() == world.raw
        url = runner.invoke(cli, ["assets", "url", "vault", "scene", "data", "--expires-in", "60"])
        assert url.exit_code == 0, url.output
        signed = url.output.strip()
        assert "gep_signature=" in signed
        missing = runner.invoke(cli, ["assets", "get", "vault", "nope", "data", "-o", str(out)])
        assert missing.exit_code == 2 and "nope" in missing.output
        del c.headers["Authorization"]
        assert c.get(signed).content == world.raw  # no token needed
    finally:
        common.CLIENT_FACTORY.clear()
