"""A real ``dinsar`` job's item is map-ready: renders, raster metadata, web-map links, legends.

The job runs on the simulated Colli Albani pair (``gep.demo.sar``, as ``test_sar_services``);
every claim the item makes is checked against an independent reading of the same COG:
statistics against numpy over the array rasterio reads, ``proj:*`` against rasterio's grid,
``file:size`` against the bytes the asset route serves, and the legend's colours against the
pixels of a tile the tile route draws for the same values (read with rio-tiler directly).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from rasterio.io import MemoryFile
from rio_tiler.io import Reader

from gep.demo.sar import build_demo, collections
from gep.io.legend import colours
from tests.processes.test_sar_services import DEM, REF, SEC, SMALL
from tests.support.app import BASE_URL, api_client

RENDERED = {"wrapped_phase", "coherence", "amplitude", "unwrapped_phase", "los_displacement"}
EXTENSIONS = {
    "https://stac-extensions.github.io/render/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.2.0/schema.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json",
}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    tmp = Path(tmp_path_factory.mktemp("render"))
    items = build_demo(tmp / "demo", pairs=SMALL, log=lambda m: None)
    with api_client(tmp / "home", base_url=BASE_URL, data_roots=str(tmp)) as c:
        store = c.app.state.services.store  # type: ignore[attr-defined]
        for coll in collections():
            store.create_collection(coll, upsert=True)
        store.write_items(items, mode="upsert")
        r = c.post(
            "/processes/dinsar/execution",
            json={"inputs": {"reference": REF, "secondary": SEC, "dem": DEM}},
        )
        assert r.status_code == 200, r.text
        found = c.get("/stac/search", params={"limit": 100}).json()["features"]
        mine = [f for f in found if f["properties"].get("gep:process") == "dinsar"]
        assert len(mine) == 1
        yield c, mine[0]


def _cog(c: TestClient, href: str) -> tuple[bytes, np.ndarray, Any]:
    body = c.get(href).content
    with MemoryFile(body) as mem, mem.open() as src:
        return body, src.read(1), (src.crs, src.transform, src.shape, src.nodata, src.units)


def test_item_declares_its_renders_and_extensions(result: tuple[TestClient, dict]) -> None:
    _, item = result
    renders = item["properties"]["renders"]
    assert set(renders) == RENDERED
    assert set(item["stac_extensions"]) >= EXTENSIONS
    los = renders["los_displacement"]
    assert los["assets"] == ["los_displacement"] and los["colormap_name"] == "rdbu_r"
    ((lo, hi),) = los["rescale"]
    assert lo == -hi and 0 < hi < 0.2  # symmetric about zero, a few centimetres
    assert los["nodata"] == "nan"
    assert renders["wrapped_phase"]["colormap_name"] == "twilight"
    assert renders["wrapped_phase"]["rescale"] == [[-np.pi, np.pi]]
    assert renders["coherence"]["rescale"] == [[0.0, 1.0]]
    assert renders["coherence"]["colormap_name"] == "greys_r"


def test_raster_assets_describe_their_files(result: tuple[TestClient, dict]) -> None:
    c, item = result
    for key in sorted(RENDERED):
        asset = item["assets"][key]
        body, data, (crs, transform, shape, _, units) = _cog(c, asset["href"])
        assert asset["file:size"] == len(body)  # the stored file, as the asset route sends it
        assert asset["proj:code"] == f"EPSG:{crs.to_epsg()}" == "EPSG:4326"
        assert asset["proj:shape"] == list(shape)
        assert asset["proj:transform"] == list(transform)[:6]
        assert asset["title"]
        (band,) = asset["raster:bands"]
        assert band["data_type"] == "float32" and band["nodata"] == "nan"
        # the COG carries its unit too (coherence has none: it is a ratio)
        assert band.get("unit", "") == (units[0] or "") and (bool(units[0]) or key == "coherence")
        v = data[np.isfinite(data)].astype("float64")
        stats = band["statistics"]
        # the whole array is read (small result): equal to numpy's up to float64 rounding
        assert stats["minimum"] == pytest.approx(v.min(), rel=1e-9, abs=1e-12), key
        assert stats["maximum"] == pytest.approx(v.max(), rel=1e-9, abs=1e-12), key
        assert stats["mean"] == pytest.approx(v.mean(), rel=1e-9, abs=1e-12), key
        assert stats["stddev"] == pytest.approx(v.std(), rel=1e-9, abs=1e-12), key
        assert stats["valid_percent"] == pytest.approx(100 * v.size / data.size, abs=1e-3)
    # PNG quicklooks and the KMZ are not rasters to describe
    assert "raster:bands" not in item["assets"]["kmz"]


def test_kmz_holds_the_legend(result: tuple[TestClient, dict]) -> None:
    c, item = result
    with zipfile.ZipFile(io.BytesIO(c.get(item["assets"]["kmz"]["href"]).content)) as z:
        assert "<ScreenOverlay>" in z.read("doc.kml").decode()
        legend = Image.open(io.BytesIO(z.read("legend.png")))
        assert legend.format == "PNG" and legend.width > 200


def test_web_map_links_draw_with_the_legends_colours(result: tuple[TestClient, dict]) -> None:
    c, item = result
    root = f"{BASE_URL}/stac/collections/{item['collection']}/items/{item['id']}"
    xyz = {ln["title"]: ln for ln in item["links"] if ln["rel"] == "xyz"}
    tilejson = [ln for ln in item["links"] if ln["rel"] == "tilejson"]
    assert len(xyz) == len(tilejson) == len(RENDERED)
    los = item["properties"]["renders"]["los_displacement"]
    link = xyz[los["title"]]
    assert link["type"] == "image/png"
    assert link["href"].startswith(f"{root}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png?")
    assert "assets=los_displacement" in link["href"] and "colormap_name=rdbu_r" in link["href"]
    tj = next(ln for ln in tilejson if "assets=los_displacement" in ln["href"])
    r = c.get(tj["href"])
    assert r.status_code == 200, r.text
    assert r.json()["tiles"][0].startswith(f"{root}/tiles/WebMercatorQuad/")
    # one tile through the xyz link, against the COG read with rio-tiler and the legend
    w, s, e, n = item["bbox"]
    tile = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (s + n) / 2, 13)
    url = link["href"].replace("{z}", str(tile.z)).replace("{x}", str(tile.x))
    r = c.get(url.replace("{y}", str(tile.y)))
    assert r.status_code == 200, r.text
    png = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    body = c.get(item["assets"]["los_displacement"]["href"]).content
    with MemoryFile(body) as mem, Reader(mem.name) as cog:
        img = cog.tile(tile.x, tile.y, tile.z, resampling_method=los["resampling"])
    values = img.array.data[0]
    valid = ~img.array.mask[0] & np.isfinite(values)
    assert valid.sum() > 5000  # thousands of pixels with data
    ((lo, hi),) = los["rescale"]
    expected = colours(values[valid], "rdbu_r", (lo, hi))
    got = png[valid]
    # the same values through the same colour map: equal but for the odd pixel where the
    # tile's resampling differs by one rescaled step (tolerance: one step of 256 in a channel)
    diff = np.abs(got[:, :3].astype(int) - expected[:, :3].astype(int)).max(axis=1)
    assert np.mean(diff == 0) > 0.95 and diff.max() <= 12
    assert (got[:, 3] == 255).all()
    r = c.get(f"{root}/legend", params={"assets": "los_displacement"})
    assert r.status_code == 200 and r.json()["rescale"] == [lo, hi]
    stops = r.json()["stops"]
    assert stops[0]["color"] == "#" + "".join(
        f"{v:02x}" for v in colours(np.array([lo]), "rdbu_r", (lo, hi))[0]
    )


def test_legend_route(result: tuple[TestClient, dict], tmp_path: Path) -> None:
    c, item = result
    root = f"/stac/collections/{item['collection']}/items/{item['id']}/legend"
    r = c.get(root, params={"assets": "wrapped_phase", "f": "png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    (tmp_path / "wrapped_phase_legend.png").write_bytes(r.content)
    body = c.get(root, params={"assets": "coherence"}).json()
    assert body["colormap_name"] == "greys_r" and body["rescale"] == [0.0, 1.0]
    # low coherence dark, high bright (greys_r)
    assert body["stops"][0]["color"] == "#000000ff" and body["stops"][-1]["color"] == "#ffffffff"
    over = c.get(root, params={"assets": "coherence", "colormap_name": "viridis", "rescale": "0,2"})
    assert over.json()["colormap_name"] == "viridis" and over.json()["rescale"] == [0.0, 2.0]
    for params, field, status in [
        ({"assets": "coherence", "colormap_name": "nope"}, "colormap_name", 400),
        ({"assets": "coherence", "rescale": "1,x"}, "rescale", 400),
        ({"assets": "coherence", "f": "gif"}, "f", 400),
        ({"assets": "nope"}, "assets", 404),
    ]:
        r = c.get(root, params=params)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field and field in r.json()["detail"]
    # another user may not see the job's result: the legend is the same 404 as a missing item
    r = c.post("/accounts/users", json={"name": "stranger", "token": True})
    stranger = {"Authorization": f"Bearer {r.json()['token']}"}
    hidden = c.get(root, params={"assets": "coherence"}, headers=stranger)
    missing = c.get(f"/stac/collections/{item['collection']}/items/nope/legend", headers=stranger)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(item["id"], "X") == missing.json()["detail"].replace(
        "nope", "X"
    )


def test_generic_legend(result: tuple[TestClient, dict]) -> None:
    c, _ = result
    r = c.get("/legend", params={"colormap_name": "viridis", "rescale": "0,10", "title": "T",
                                  "unit": "mm"})  # fmt: skip
    assert r.status_code == 200 and r.json()["title"] == "T" and r.json()["unit"] == "mm"
    assert len(r.json()["stops"]) == 11
    r = c.get("/legend", params={"colormap_name": "viridis", "f": "png"})
    assert r.headers["content-type"] == "image/png"
    for params, field in [({"colormap_name": "Viridis2"}, "colormap_name"), ({}, "colormap_name"),
                          ({"colormap_name": "viridis", "rescale": "3"}, "rescale"),
                          ({"colormap_name": "viridis", "rescale": "5,1"}, "rescale")]:  # fmt: skip
        r = c.get("/legend", params=params)
        assert r.status_code == 400 and r.json()["field"] == field, r.text


def test_stac_validator_accepts_the_item_and_its_extensions(
    result: tuple[TestClient, dict], tmp_path: Path
) -> None:
    from tests.support.stac_validation import assert_valid_stac

    _, item = result
    checked = assert_valid_stac([item], tmp_path)
    assert set(checked) >= EXTENSIONS
