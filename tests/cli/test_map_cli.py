"""``gep map``: tile URLs that the tile service answers, a point value, a legend PNG and a time
series at a point, through the SDK against the API (values checked against rasterio)."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin
from typer.testing import CliRunner

from gep.cli import common
from gep.cli.main import app as cli
from gep.client import GepClient
from tests.support.app import ADMIN_HEADERS, api_client

runner = CliRunner()
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
LON, LAT = 12.61, 41.77


def _cog(path: Path, value: float) -> Path:
    arr = (value + np.arange(300 * 400, dtype="float32").reshape(300, 400) * 1e-6).astype("float32")
    plain = path.with_suffix(".plain.tif")
    profile = {"driver": "GTiff", "width": 400, "height": 300, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": from_origin(12.5, 41.9, 0.001, 0.001),
               "nodata": float("nan")}  # fmt: skip
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(arr, 1)
    rasterio.shutil.copy(plain, path, driver="COG")
    plain.unlink()
    return path


def _item(item_id: str, path: Path, when: str) -> dict[str, Any]:
    ring = [[12.5, 41.6], [12.9, 41.6], [12.9, 41.9], [12.5, 41.9], [12.5, 41.6]]
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": item_id, "bbox": [12.5, 41.6, 12.9, 41.9],
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"datetime": when, "renders": {"los": {
            "title": "LOS", "assets": ["los"], "rescale": [[-0.05, 0.05]],
            "colormap_name": "rdbu"}}},
        "assets": {"los": {"href": path.as_uri(), "type": COG, "roles": ["data"],
                           "raster:bands": [{"data_type": "float32", "unit": "m"}]}},
        "links": [],
    }  # fmt: skip


@pytest.fixture(scope="module")
def gep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GepClient, list[Path]]]:
    tmp = Path(tmp_path_factory.mktemp("map-cli"))
    data = tmp / "data"
    data.mkdir()
    files = [_cog(data / f"d{k}.tif", 0.01 * k) for k in range(3)]
    with api_client(tmp / "home", base_url="http://gep.test", data_roots=str(data)) as c:
        pub = {"id": "layer", "description": "public", "gep:visibility": "public"}
        assert c.post("/stac/collections", json=pub, headers=ADMIN_HEADERS).status_code == 201
        for k, path in enumerate(files):
            item = _item(f"d{k}", path, f"2022-0{k + 1}-01T00:00:00Z")
            r = c.post("/stac/collections/layer/items", json=item, headers=ADMIN_HEADERS)
            assert r.status_code == 201, r.text
        sdk = GepClient(http=c)  # type: ignore[arg-type]
        common.CLIENT_FACTORY[:] = [lambda: sdk]
        try:
            yield sdk, files
        finally:
            common.CLIENT_FACTORY.clear()


def _truth(path: Path) -> float:
    with rasterio.open(path) as src:
        return float(next(src.sample([(LON, LAT)]))[0])


def test_urls_are_served_by_the_tile_service(gep: tuple[GepClient, list[Path]]) -> None:
    sdk, _ = gep
    r = runner.invoke(cli, ["map", "urls", "layer", "d0", "--asset", "los"])
    assert r.exit_code == 0, r.output
    urls = dict(line.split(None, 1) for line in r.output.splitlines() if line.strip())
    assert set(urls) == {"xyz", "tilejson", "wmts"}
    http: httpx.Client = sdk.http
    tilejson = http.get(urls["tilejson"]).json()
    assert "/items/d0/tiles/WebMercatorQuad/{z}/{x}/{y}" in tilejson["tiles"][0]
    tile = http.get(urls["xyz"].format(z=11, x=1095, y=761))
    assert tile.status_code == 200 and tile.content[:4] == b"\x89PNG"
    assert b"<Capabilities" in http.get(urls["wmts"]).content
    mosaic = runner.invoke(cli, ["map", "urls", "layer", "--asset", "los", "--rescale", "0,1"])
    layer = dict(line.split(None, 1) for line in mosaic.output.splitlines() if line.strip())
    assert "/stac/collections/layer/tiles/WebMercatorQuad/" in layer["xyz"]
    mosaic_tilejson = http.get(layer["tilejson"])  # the mosaic's URLs are served too
    assert mosaic_tilejson.status_code == 200, mosaic_tilejson.text
    assert "rescale=0%2C1" in mosaic_tilejson.json()["tiles"][0]


def test_point_legend_and_timeseries(gep: tuple[GepClient, list[Path]], tmp_path: Path) -> None:
    _, files = gep
    r = runner.invoke(cli, ["map", "point", "layer", "d1", "--lon", str(LON), "--lat", str(LAT),
                            "--asset", "los", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["values"][0] == pytest.approx(_truth(files[1]), abs=1e-7)
    out = tmp_path / "legend.png"
    r = runner.invoke(cli, ["map", "legend", "layer", "d0", "--asset", "los", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    r = runner.invoke(cli, ["map", "timeseries", "layer", "--lon", str(LON), "--lat", str(LAT),
                            "--asset", "los", "--csv"])  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert [row["item"] for row in rows] == ["d0", "d1", "d2"]
    got = [float(row["value"]) for row in rows]
    assert got == pytest.approx([_truth(p) for p in files], abs=1e-7)
    bad = runner.invoke(cli, ["map", "legend", "layer", "nope", "--asset", "los"])
    assert bad.exit_code == 2 and "nope" in bad.output


def test_permalink_opens_the_geobrowser_on_the_item(gep: tuple[GepClient, list[Path]]) -> None:
    sdk, _ = gep
    r = runner.invoke(cli, ["map", "permalink", "layer", "d0", "--render", "los"])
    assert r.exit_code == 0, r.output
    url = r.output.strip()
    page, _, fragment = url.partition("#")
    assert page == f"{sdk.http.base_url}".rstrip("/") + "/ui/"
    # the fragment the app reads (src/gep/web/src/main.js: item, render, map)
    assert dict(urllib.parse.parse_qsl(fragment)) == {"item": "layer/d0", "render": "los"}
    view = sdk.permalink("layer", "d0", view=(9.5, 41.75, 12.7))
    assert view.endswith("#item=layer%2Fd0&map=9.50%2F41.75000%2F12.70000")
