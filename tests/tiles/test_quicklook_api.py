"""GET /stac/collections/{c}/items/{i}/quicklook, and the thumbnail asset that points to it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from gep.api.app import create_app
from gep.settings import Settings
from tests.support.quicklook_items import L8, L8_BAND, decode, item, landsat8_item, tif_asset

BASE = "http://gep.test"
ITEMS = f"{BASE}/stac/collections/eo/items"
#: a legal item id (no "/" or "\\" since ids have one rule) that starts like a climb out of a
#: folder and holds characters no file name should
HOSTILE = "..:..:evil"
HOSTILE_URL = "..%3A..%3Aevil"


def _remote(item_id: str) -> dict[str, Any]:
    asset = {"href": "https://example.com/B4.TIF", "type": "image/tiff", "file:size": 1}
    return item(item_id, {"B4": asset}, platform="landsat-8")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """A server whose catalogue holds local and remote items; yields (client, home)."""
    bands = tmp_path / "bands"
    bands.mkdir()
    for n in (2, 3, 4):
        shutil.copy(L8 / L8_BAND.format(n), bands / L8_BAND.format(n))
    l8 = landsat8_item(bands, "local")
    thumbed = landsat8_item(bands, "thumbed")
    thumbed["assets"]["thumbnail"] = {"href": "https://example.com/t.png", "roles": ["thumbnail"]}
    gone = item("gone", {"data": tif_asset(tmp_path / "missing.tif")})
    (tmp_path / "corrupt.tif").write_bytes(b"II*\x00" + bytes(100))
    corrupt = item("corrupt", {"data": tif_asset(tmp_path / "corrupt.tif")})
    hostile = landsat8_item(bands, HOSTILE)
    items = [l8, thumbed, gone, corrupt, hostile, _remote("remote")]
    app = create_app(Settings(home=tmp_path / "home", base_url=BASE, data_roots=str(tmp_path)))
    with TestClient(app) as client:
        # written through the store (public, as harvested items are): this file tests reading
        store = app.state.services.store
        store.create_collection({"id": "eo"})
        report = store.write_items(items, collection="eo")
        assert report.written == len(items), report
        store.create_collection({"id": "secret"}, owner="u-alice", visibility="private")
        store.write_items([landsat8_item(bands, "hidden")], collection="secret")
        yield client, tmp_path / "home"


def _problem(r: Any, status: int, kind: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["type"].endswith(kind), body
    if field is not None:
        assert body.get("field") == field, body
    return body


def test_quicklook_is_made_once_cached_and_revalidated(env: tuple[TestClient, Path]) -> None:
    client, home = env
    r = client.get("/stac/collections/eo/items/local/quicklook")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert decode(r.content).shape == (259, 255, 4)  # smaller than 512: kept at full size
    etag = r.headers["etag"]
    assert etag.startswith('"') and r.headers["cache-control"] == "max-age=300"
    (png,) = (home / "storage" / "quicklooks" / "eo").glob("local-*.png")
    assert png.read_bytes() == r.content and etag.strip('"') in png.name
    stamp = png.stat().st_mtime_ns, png.stat().st_ino

    again = client.get("/stac/collections/eo/items/local/quicklook")
    assert again.content == r.content and again.headers["etag"] == etag
    assert (png.stat().st_mtime_ns, png.stat().st_ino) == stamp  # served, not rewritten

    r304 = client.get(
        "/stac/collections/eo/items/local/quicklook", headers={"If-None-Match": f'W/"x", {etag}'}
    )
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag
    r200 = client.get(
        "/stac/collections/eo/items/local/quicklook", headers={"If-None-Match": '"other"'}
    )
    assert r200.status_code == 200 and r200.content == r.content


def test_a_changed_item_gets_a_new_quicklook(env: tuple[TestClient, Path]) -> None:
    client, home = env
    first = client.get("/stac/collections/eo/items/local/quicklook")
    shown = client.get("/stac/collections/eo/items/local").json()
    assert "thumbnail" in shown["assets"]  # generated, never stored
    catalogue = client.app.state.services.store  # type: ignore[attr-defined]
    stored = orjson.loads(catalogue.get_item("eo", "local"))  # as stored: storage hrefs
    assert "thumbnail" not in stored["assets"]
    stored["assets"]["B4"]["raster:bands"] = [{"nodata": 1}]
    client.app.state.services.store.write_items([stored], collection="eo", mode="upsert")  # type: ignore[attr-defined]
    old_etag = first.headers["etag"]
    second = client.get(
        "/stac/collections/eo/items/local/quicklook", headers={"If-None-Match": old_etag}
    )
    assert second.status_code == 200 and second.headers["etag"] != old_etag
    pngs = list((home / "storage" / "quicklooks" / "eo").glob("local-*.png"))
    assert [p.name for p in pngs] == [f"local-{second.headers['etag'].strip(chr(34))}.png"]

    # the raster itself changing (same metadata) also makes a new one
    band = Path(stored["assets"]["B2"]["href"].removeprefix("file://"))
    os.utime(band, ns=(band.stat().st_atime_ns, band.stat().st_mtime_ns + 10**9))
    third = client.get("/stac/collections/eo/items/local/quicklook")
    assert third.headers["etag"] not in (old_etag, second.headers["etag"])


def test_items_without_a_local_raster_are_404_problems(env: tuple[TestClient, Path]) -> None:
    client, home = env
    body = _problem(
        client.get("/stac/collections/eo/items/remote/quicklook"),
        404,
        "no-quicklook-source",
        "assets",
    )
    assert "remote assets are not rendered" in body["detail"] and "'B4'" in body["detail"]
    _problem(
        client.get("/stac/collections/eo/items/gone/quicklook"),
        404,
        "not-found",
        "assets.data.href",
    )
    _problem(client.get("/stac/collections/eo/items/nope/quicklook"), 404, "not-found")
    _problem(client.get("/stac/collections/none/items/local/quicklook"), 404, "not-found")
    body = _problem(
        client.get("/stac/collections/eo/items/corrupt/quicklook"), 404, "quicklook-failed"
    )
    assert "asset(s) data" in body["detail"] and "corrupt.tif" in body["detail"]
    # what the caller may not see has no quicklook either (as if it did not exist)
    assert client.app.state.services.store.get_item("secret", "hidden")  # type: ignore[attr-defined]
    _problem(client.get("/stac/collections/secret/items/hidden/quicklook"), 404, "not-found")
    assert not (home / "storage" / "quicklooks").exists() or not any(
        (home / "storage" / "quicklooks").rglob("*.png")
    )


def test_traversal_ids_never_leave_the_cache(env: tuple[TestClient, Path]) -> None:
    client, home = env
    r = client.get(f"/stac/collections/eo/items/{HOSTILE_URL}/quicklook")
    assert r.status_code == 200, r.text
    root = (home / "storage" / "quicklooks").resolve()
    files = [p for p in (home / "storage").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].resolve().parent == root / "eo"
    assert files[0].name.startswith("evil_")  # not a plain file name: slug + hash of the id


def test_thumbnail_is_advertised_only_where_needed(env: tuple[TestClient, Path]) -> None:
    client, _ = env
    local = client.get("/stac/collections/eo/items/local").json()
    assert local["assets"]["thumbnail"] == {
        "href": f"{ITEMS}/local/quicklook",
        "type": "image/png",
        "roles": ["thumbnail"],
        "title": "Quicklook (generated by GEP)",
    }
    assert local["links"][0] == {
        "rel": "self",
        "type": "application/geo+json",
        "href": f"{ITEMS}/local",
    }
    # its own thumbnail stays; remote or missing rasters get none
    thumbed = client.get("/stac/collections/eo/items/thumbed").json()
    assert thumbed["assets"]["thumbnail"]["href"] == "https://example.com/t.png"
    assert "thumbnail" not in client.get("/stac/collections/eo/items/remote").json()["assets"]
    # "gone" names a local file that is missing: advertised (metadata only), then 404 on use
    hostile = client.get(f"/stac/collections/eo/items/{HOSTILE_URL}").json()
    assert hostile["assets"]["thumbnail"]["href"] == f"{ITEMS}/{HOSTILE_URL}/quicklook"

    expected = {
        "local": True,
        "thumbed": False,
        "gone": True,
        "corrupt": True,
        HOSTILE: True,
        "remote": False,
    }
    pages = [
        client.get("/stac/search", params={"collections": "eo"}).json(),
        client.post("/stac/search", json={"collections": ["eo"]}).json(),
        client.get("/stac/collections/eo/items").json(),
        client.get("/stac/search", params={"collections": "eo", "fields": "assets"}).json(),
    ]
    for page in pages:
        got = {
            f["id"]: f["assets"].get("thumbnail", {}).get("href", "").endswith("/quicklook")
            for f in page["features"]
        }
        assert got == expected
