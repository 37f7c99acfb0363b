"""The QGIS path on a real ``dinsar`` result: a real ``gep serve`` runs the job on the small
simulated Colli Albani pair, then GDAL's WMTS driver (what QGIS uses) opens the result's
``WMTSCapabilities.xml`` and reads the displacement through GEP's tiles; the tile GDAL gets
and the tile GEP serves as GeoTIFF equal rio-tiler's reading of the result COG itself; the
private result's tiles are 404 to another user and to anonymous callers, as a missing item's;
and the displacement tile drawn with the service's declared colours is saved as a PNG to look
at (``<pytest tmp>/…/dinsar-los-tile.png``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile
from rio_tiler.io import Reader

from gep.demo.sar import build_demo, collections
from tests.processes.test_sar_services import DEM, REF, SEC, SMALL
from tests.support.app import ADMIN_HEADERS, ADMIN_TOKEN, post_catalogue, run_job, user_headers
from tests.support.serving import free_port, start_gep_serve, stop

ASSET = "los_displacement"


@pytest.fixture(scope="module")
def dinsar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real server with one private dinsar result (the administrator's), and a second user."""
    tmp = Path(tmp_path_factory.mktemp("tiles-dinsar"))
    data = tmp / "data"
    items = build_demo(data, pairs=SMALL, log=lambda m: None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gep_serve(tmp / "home", port, data_roots=str(data), base_url=base)
    try:
        with httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=120) as admin:
            post_catalogue(admin, collections(), items)
            inputs = {"reference": REF, "secondary": SEC, "dem": DEM, "looks_azimuth": 4}
            job = run_job(admin, "dinsar", inputs, timeout_s=300)
            found = admin.get("/stac/search", params={"ids": job}).json()["features"]
            assert len(found) == 1, found
            result = found[0]
            cog = tmp / "los.tif"  # the result COG, read as any client reads it (GEP URL)
            cog.write_bytes(admin.get(result["assets"][ASSET]["href"]).content)
            other = user_headers(admin, "other")
        item_url = f"{base}/stac/collections/{result['collection']}/items/{result['id']}"
        yield {"base": base, "item_url": item_url, "cog": cog, "other": other, "tmp": tmp}
    finally:
        stop(server)


def test_gdal_wmts_driver_reads_the_dinsar_displacement(dinsar: dict[str, Any]) -> None:
    caps = f"{dinsar['item_url']}/WebMercatorQuad/WMTSCapabilities.xml?assets={ASSET}"
    r = httpx.get(caps, headers=ADMIN_HEADERS)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    # GDAL sends the administrator's token with every request, as QGIS's auth config would
    auth = f"Authorization: Bearer {ADMIN_TOKEN}"
    with rasterio.Env(GDAL_HTTP_HEADERS=auth), rasterio.open(f"WMTS:{caps}") as ds:
        assert ds.crs.to_epsg() == 3857
        assert ds.count == 4  # RGBA PNG tiles
        with Reader(str(dinsar["cog"])) as ref:
            west, south, east, north = ref.get_geographic_bounds("EPSG:4326")
            maxzoom = ref.maxzoom
        # the layer covers the result, at the result's resolution
        tms = morecantile.tms.get("WebMercatorQuad")
        left, bottom = tms.xy(west, south)
        right, top = tms.xy(east, north)
        assert ds.bounds.left <= left + 1 and ds.bounds.right >= right - 1
        assert ds.bounds.bottom <= bottom + 1 and ds.bounds.top >= top - 1
        assert abs(ds.res[0] - tms.matrix(maxzoom).cellSize) < 1e-6 * ds.res[0]
        # the whole layer (GDAL fetches the tiles it needs through the ResourceURL)
        rgba = ds.read()
    assert rgba.shape == (4, ds.height, ds.width) and ds.width * ds.height > 1000
    assert (rgba[3] == 255).mean() > 0.3  # the displacement covers the layer
    assert len(np.unique(rgba[:3].reshape(3, -1), axis=1).T) > 20  # a colour ramp, not a fill


def test_dinsar_tile_equals_rio_tiler_and_looks_right(dinsar: dict[str, Any]) -> None:
    with Reader(str(dinsar["cog"])) as ref:
        west, south, east, north = ref.get_geographic_bounds("EPSG:4326")
        z = ref.maxzoom
        tile = ref.tms.tile((west + east) / 2, (south + north) / 2, z)
        expected = ref.tile(tile.x, tile.y, tile.z)
    url = f"{dinsar['item_url']}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
    r = httpx.get(f"{url}.tif", params={"assets": ASSET}, headers=ADMIN_HEADERS)
    assert r.status_code == 200, r.text
    with MemoryFile(r.content) as mem, mem.open() as got:
        assert got.count == 2  # the data and its mask (rio-tiler's GeoTIFF: an alpha band)
        data = got.read(1)
        mask = got.read(2)
    valid = ~expected.array.mask[0]
    assert (mask > 0).tolist() == valid.tolist()
    assert np.array_equal(data[valid], expected.array.data[0][valid])  # exact: same reads
    # the PNG with the service's declared rendering (no colormap or rescale asked)
    png = httpx.get(f"{url}.png", params={"assets": ASSET}, headers=ADMIN_HEADERS)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    out = dinsar["tmp"] / "dinsar-los-tile.png"
    out.write_bytes(png.content)
    with MemoryFile(png.content) as mem, mem.open() as img:
        rgba = img.read()
    assert rgba.shape == (4, 256, 256)
    assert ((rgba[3] > 0) == valid).all()


def test_private_result_tiles_are_404_to_others(dinsar: dict[str, Any]) -> None:
    with Reader(str(dinsar["cog"])) as ref:
        west, south, east, north = ref.get_geographic_bounds("EPSG:4326")
        tile = ref.tms.tile((west + east) / 2, (south + north) / 2, ref.maxzoom)
    path = f"/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png?assets={ASSET}"
    missing = httpx.get(
        f"{dinsar['base']}/stac/collections/nothing/items/nothing{path}", headers=dinsar["other"]
    )
    assert missing.status_code == 404
    callers: list[dict[str, str]] = [dinsar["other"], {}]  # another user, anonymous
    for headers in callers:
        point = f"/point/{(west + east) / 2},{(south + north) / 2}?assets={ASSET}"
        for tail in (path, f"/WebMercatorQuad/tilejson.json?assets={ASSET}",
                     f"/WebMercatorQuad/WMTSCapabilities.xml?assets={ASSET}", point):  # fmt: skip
            r = httpx.get(dinsar["item_url"] + tail, headers=headers)
            assert r.status_code == 404, (tail, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"] == missing.json()["type"]
            assert "visib" not in r.text and "private" not in r.text
    assert httpx.get(dinsar["item_url"] + path, headers=ADMIN_HEADERS).status_code == 200
