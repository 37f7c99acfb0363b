"""``offset-tracking`` and ``hotspots`` through the API on a real Dask-backed job engine: known
shifts in uploaded GeoTIFFs, a real Landsat-8 scene with and without a simulated lava flow and
clouded over, and the bad inputs refused before a job exists."""

from __future__ import annotations

import copy
import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from gep.demo.optical import (
    OPTICAL_COLLECTION,
    clouded_copy,
    collection,
    landsat_item,
    lava_scene,
    shifted_stack,
)
from tests.support.app import api_client, fetch_result, open_result, run_job, wait_for_job

DATA = Path(__file__).parents[1] / "data" / "optical" / "landsat8"
S2_META = Path(__file__).parents[1] / "data" / "optical" / "s2_l1c"
SCENE = "LC08_L1TP_016037_20170813_20170814_01_RT"
# (rows, cols) shifts of each date's content: 10 m pixels, so dx = +0.35 px is 3.5 m east and
# dy = -0.5 px (up) 5 m north
SHIFTS = [(0.0, 0.0), (-0.2, 0.15), (-0.5, 0.35)]
DATES = ["2021-05-01", "2021-06-10", "2021-07-20"]
AOI = [-80.6, 32.7, -79.9, 33.4]  # inland South Carolina, inside the Landsat scene


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    tmp = Path(tmp_path_factory.mktemp("optical"))
    real = tmp / "real"
    real.mkdir()
    for f in DATA.glob(f"{SCENE}_*"):
        shutil.copyfile(f, real / f.name)
    truth = lava_scene(real, tmp / "lava", centre=(212, 163))  # a clear-sky spot
    clouded_copy(real, tmp / "clouded")
    items = [
        landsat_item(real, "landsat-real"),
        landsat_item(tmp / "lava", "landsat-lava"),
        landsat_item(tmp / "clouded", "landsat-clouded"),
        *shifted_stack(tmp / "stack", SHIFTS, DATES),
    ]
    # the same scene as the lava one, a day later: the time series has two dated scenes
    s2_item, s2_truth = _sentinel2_lava(tmp / "s2")
    items.append(s2_item)
    later = copy.deepcopy(items[1])
    later["id"] = "landsat-lava-later"
    later["properties"]["datetime"] = "2017-08-29T15:54:15Z"
    items.append(later)
    with api_client(tmp / "home", base_url="http://gep.test", data_roots=str(tmp)) as c:
        store = c.app.state.services.store  # type: ignore[attr-defined]
        store.create_collection(collection(), upsert=True)
        assert store.write_items(items, mode="upsert").written == len(items)
        yield c, {"items": {i["id"]: i for i in items}, "truth": truth, "s2_truth": s2_truth}


def _sentinel2_lava(folder: Path) -> tuple[dict[str, Any], np.ndarray]:
    """A Sentinel-2 L1C product with the real metadata of tile 31TDH (2018-01-01, sun 67°
    from the zenith) and the bands of the simulated lava-flow scene written as its digital
    numbers (ρ = π L / (E_sun cos θs U), DN = 10000 ρ): B8A/B11/B12 at 20 m, B02/B04 at 10 m
    for the spectral cloud test (this product has no QA band)."""
    from gep.algorithms.simulate.optical import lava_flow_scene
    from gep.demo.optical import raster_asset, stac_item
    from gep.io.optical import SENTINEL2_MSI, read_s2_metadata
    from gep.io.writers import write_cog

    folder.mkdir()
    for name in ("MTD_MSIL1C.xml", "MTD_TL.xml"):
        shutil.copyfile(S2_META / name, folder / name)
    meta = read_s2_metadata(folder / "MTD_MSIL1C.xml", folder / "MTD_TL.xml")
    scene = lava_flow_scene((120, 150), seed=4)
    mu = np.cos(np.radians(meta.sun_zenith))
    # visible reflectance of each strip (vegetation, basalt, sand, snow, cloud)
    names = list(scene.surfaces)
    vis = {"vegetation": (0.04, 0.05), "basalt": (0.06, 0.07), "sand": (0.25, 0.40),
           "snow": (0.90, 0.88), "cloud": (0.75, 0.74)}  # fmt: skip
    label = np.zeros(scene.hot.shape, dtype=int)
    for k, n in enumerate(names):
        label[scene.surfaces[n]] = k
    bands = {
        "B8A": scene.radiance["nir"], "B11": scene.radiance["swir1"],
        "B12": scene.radiance["swir2"],
    }  # fmt: skip
    assets = {}
    for band, rad in bands.items():
        e = meta.bands[band].solar_irradiance
        rho = rad * np.pi / (e * mu * meta.sun_distance_factor)
        dn = np.clip(np.rint(rho * 10000), 1, 65534).astype("uint16")
        path = folder / f"T31TDH_20180101T105441_{band}.tif"
        write_cog(path, dn, "EPSG:32631", (20.0, 0, 447960.0, 0, -20.0, 4752000.0), nodata=None)
        common = SENTINEL2_MSI[band][0]
        assets[band] = raster_asset(
            path, ["data"], {"eo:bands": [{"name": band, "common_name": common}]}
        )
    for k, band in enumerate(("B02", "B04")):
        rho = np.array([vis[n][k] for n in names])[label]
        dn = np.kron(np.rint(rho * 10000), np.ones((2, 2))).astype("uint16")
        path = folder / f"T31TDH_20180101T105441_{band}.tif"
        write_cog(path, dn, "EPSG:32631", (10.0, 0, 447960.0, 0, -10.0, 4752000.0), nodata=None)
        assets[band] = raster_asset(path, ["data"], {})
    for key, name in (("product_metadata", "MTD_MSIL1C.xml"), ("granule_metadata", "MTD_TL.xml")):
        assets[key] = {"href": (folder / name).resolve().as_uri(), "roles": ["metadata"]}
    item = stac_item("sentinel2-lava", assets, meta.datetime, {"platform": "sentinel-2a"})
    return item, scene.hot


def ref(item_id: str) -> str:
    return f"{OPTICAL_COLLECTION}/{item_id}"


def _run(c: TestClient, process: str, inputs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = c.get(f"/jobs/{run_job(c, process, inputs)}/results").json()
    return out


def _read(c: TestClient, href: Any) -> tuple[np.ndarray, Any]:
    with open_result(c, href) as src:
        return src.read(1), src


def test_offset_tracking_recovers_known_shifts_and_their_time_series(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    c, _ = world
    # given out of date order: the service sorts them
    products = [ref("stack-2"), ref("stack-0"), ref("stack-1")]
    out = _run(c, "offset-tracking", {"products": products, "window": 64, "step": 32})
    assert out["dates"] == DATES
    assert out["pairs"] == [[0, 1], [0, 2], [1, 2]]
    east, src = _read(c, out["east"])
    north, _ = _read(c, out["north"])
    assert src.crs.to_epsg() == 32633 and src.transform.a == pytest.approx(320.0)
    # first → last: 0.35 px × 10 m east, 0.5 px × 10 m north
    assert np.nanmedian(east) == pytest.approx(3.5, abs=0.15)
    assert np.nanmedian(north) == pytest.approx(5.0, abs=0.15)
    mag, _ = _read(c, out["magnitude"])
    assert np.nanmedian(mag) == pytest.approx(np.hypot(3.5, 5.0), abs=0.15)
    assert out["valid_fraction"] > 0.9
    snr, _ = _read(c, out["snr"])
    assert np.nanmedian(snr) > 10
    arrows = orjson.loads(fetch_result(c, out["arrows"]))
    assert len(arrows["features"]) >= 0.9 * out["windows"]
    (lon0, lat0), (lon1, lat1) = arrows["features"][0]["geometry"]["coordinates"]
    assert lon1 > lon0 and lat1 > lat0  # pointing north-east, in lon/lat
    with io.StringIO(fetch_result(c, out["timeseries"]).decode()) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == out["windows"] * 3
    middle = [r for r in rows if r["date"] == DATES[1]]
    assert np.median([float(r["east_m"]) for r in middle]) == pytest.approx(1.5, abs=0.15)
    assert np.median([float(r["north_m"]) for r in middle]) == pytest.approx(2.0, abs=0.15)
    magnitude = out["magnitude"]["href"]
    png = fetch_result(c, magnitude.replace("/assets/magnitude", "/assets/magnitude_png"))
    assert png.startswith(b"\x89PNG")


def test_offset_tracking_on_landsat_products_by_common_band_name(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    """Two dates of one Landsat scene (the later with the lava flow): nothing moved, and the
    no-data border of the scene (DN 0) does not make windows lock onto it."""
    c, _ = world
    out = _run(
        c,
        "offset-tracking",
        {"products": [ref("landsat-real"), ref("landsat-lava-later")], "band": "nir08",
         "window": 32, "step": 16},
    )  # fmt: skip
    east, src = _read(c, out["east"])
    assert src.crs.to_epsg() == 32617 and src.transform.a == pytest.approx(16 * 900.0)
    assert out["valid_fraction"] > 0.5
    assert np.nanmedian(np.abs(east)) < 0.01 * 900.0
    assert "timeseries" not in out  # an optional output not made is absent


def test_hotspots_time_series_with_lava_clouds_and_clear_sky(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    c, w = world
    out = _run(
        c,
        "hotspots",
        {"products": [ref("landsat-lava-later"), ref("landsat-real"), ref("landsat-lava"),
                      ref("landsat-clouded")]},
    )  # fmt: skip
    scenes = out["scenes"]
    assert [s["status"] for s in scenes].count("clouded") == 1
    by_id = {s["product"]: s for s in scenes}
    assert by_id["landsat-clouded"]["hot_pixels"] is None
    assert by_id["landsat-real"]["hot_pixels"] == 0
    truth = w["truth"]
    # the simulated flow is found, and only it (the rest of the scene has 26 % cloud)
    assert by_id["landsat-lava"]["hot_pixels"] >= 0.9 * truth.sum()
    masks = dict(zip([s["product"] for s in scenes], out["masks"], strict=True))
    mask, src = _read(c, masks["landsat-lava"])
    assert src.crs.to_epsg() == 32617
    hot = mask == 1
    assert not (hot & ~truth).any()
    assert (mask == 2).sum() > 5000  # the product's own cloud flag
    with io.StringIO(fetch_result(c, out["timeseries"]).decode()) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    lava = next(r for r in rows if r["product"] == "landsat-lava")
    assert float(lava["hot_area_m2"]) == pytest.approx(int(lava["hot_pixels"]) * 900.0**2)
    assert float(lava["swir2_radiance"]) > 0
    cloudy = next(r for r in rows if r["product"] == "landsat-clouded")
    assert cloudy["status"] == "clouded" and cloudy["hot_pixels"] == ""
    polygons = orjson.loads(fetch_result(c, out["polygons"]))["features"]
    assert {p["properties"]["product"] for p in polygons} == {"landsat-lava", "landsat-lava-later"}
    assert (
        sum(p["properties"]["hot_pixels"] for p in polygons)
        == 2 * by_id["landsat-lava"]["hot_pixels"]
    )
    lon, lat = np.array(polygons[0]["geometry"]["coordinates"][0]).mean(axis=0)
    assert -82 < lon < -78 and 31 < lat < 35


def test_hotspots_on_a_sentinel2_product(world: tuple[TestClient, dict[str, Any]]) -> None:
    c, w = world
    out = _run(c, "hotspots", {"products": [ref("sentinel2-lava")]})
    (scene,) = out["scenes"]
    assert scene["status"] == "ok"
    # the cloud strip (a fifth of the scene) is found by the spectral test, not the snow
    assert scene["cloud_fraction"] == pytest.approx(0.2, abs=0.02)
    mask, src = _read(c, out["masks"][0])
    assert src.crs.to_epsg() == 32631 and src.transform.a == 20.0
    truth = w["s2_truth"]
    hot = mask == 1
    assert hot[truth].mean() >= 0.98 and not (hot & ~truth).any()
    assert scene["hot_pixels"] == int(hot.sum())


def test_a_scene_outside_the_area_is_reported_not_fatal(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    c, _ = world
    out = _run(
        c, "hotspots", {"products": [ref("landsat-lava"), ref("sentinel2-lava")], "aoi": AOI}
    )
    got = {s["product"]: s["status"] for s in out["scenes"]}
    assert got == {"landsat-lava": "ok", "sentinel2-lava": "outside aoi"}
    mask, _ = _read(c, out["masks"][0])
    assert mask.shape[0] < 259 and mask.shape[1] < 255  # cut to the area


def test_hotspots_from_a_collection_search(world: tuple[TestClient, dict[str, Any]]) -> None:
    c, _ = world
    out = _run(
        c,
        "hotspots",
        {
            "collection": OPTICAL_COLLECTION,
            "aoi": AOI,
            "datetime": "2017-08-01T00:00:00Z/2017-08-20T00:00:00Z",
        },
    )
    got = {s["product"]: s["status"] for s in out["scenes"]}
    # the three 13-August Landsat scenes; not the shifted GeoTIFFs (2021), not the 29th, not
    # the Sentinel-2 tile (Pyrenees)
    assert got == {"landsat-real": "ok", "landsat-lava": "ok", "landsat-clouded": "clouded"}


def _variant(c: TestClient, w: dict[str, Any], base: str, new_id: str, edit: Any) -> str:
    item = copy.deepcopy(w["items"][base])
    item["id"] = new_id
    edit(item)
    store = c.app.state.services.store  # type: ignore[attr-defined]
    assert store.write_items([item], mode="upsert").written == 1
    return ref(new_id)


def _other_crs(item: dict[str, Any]) -> None:
    item["assets"]["image"]["proj:code"] = "EPSG:32632"


def _coarser(item: dict[str, Any]) -> None:
    t = item["assets"]["image"]["proj:transform"]
    item["assets"]["image"]["proj:transform"] = [20.0, t[1], t[2], t[3], -20.0, t[5]]


def _no_swir(item: dict[str, Any]) -> None:
    del item["assets"]["B7"]


def _no_mtl(item: dict[str, Any]) -> None:
    del item["assets"]["mtl"]


@pytest.mark.parametrize(
    ("process", "inputs", "edit", "message"),
    [
        ("offset-tracking", {"products": [ref("stack-0")]}, None, "products"),
        ("offset-tracking", {"window": 512}, None, "window"),
        ("offset-tracking", {"window": 63}, None, "even"),
        ("offset-tracking", {"band": "B7"}, None, "has no band 'B7'"),
        ("offset-tracking", {"pairs": [[0, 5]]}, None, "index 5"),
        ("offset-tracking", {"pairs": [[2, 1]]}, None, "later than image"),
        (
            "offset-tracking",
            {"aoi": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}},
            None,
            "aoi",
        ),
        ("offset-tracking", {}, ("stack-1", _other_crs), "must share one CRS"),
        ("offset-tracking", {}, ("stack-1", _coarser), "must share one resolution"),
        ("hotspots", {}, None, "either products or collection"),
        ("hotspots", {"collection": OPTICAL_COLLECTION}, None, "aoi is required"),
        ("hotspots", {"products": [ref("stack-0")]}, None, "neither a Sentinel-2 nor a Landsat"),
        ("hotspots", {}, ("landsat-real", _no_swir), "has no band 'swir2'"),
        ("hotspots", {}, ("landsat-real", _no_mtl), "lacks its metadata file"),
        (
            "hotspots",
            {"products": [ref("landsat-real")], "datetime": "yesterday"},
            None,
            "datetime",
        ),
    ],
)
def test_bad_inputs_are_refused_before_a_job_exists(
    world: tuple[TestClient, dict[str, Any]],
    process: str,
    inputs: dict[str, Any],
    edit: Any,
    message: str,
) -> None:
    c, w = world
    body: dict[str, Any] = (
        {"products": [ref("stack-0"), ref("stack-1"), ref("stack-2")]}
        if process == "offset-tracking"
        else {}
    )
    if edit is not None:
        base, fn = edit
        new = _variant(c, w, base, f"bad-{base}-{fn.__name__}", fn)
        body["products"] = [ref("stack-0"), new] if process == "offset-tracking" else [new]
    body.update(inputs)
    before = len(c.get("/jobs", params={"limit": 1000}).json()["jobs"])
    r = c.post(f"/processes/{process}/execution", json={"inputs": body})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert message in r.json()["detail"], r.json()
    assert len(c.get("/jobs", params={"limit": 1000}).json()["jobs"]) == before


def test_window_larger_than_the_area_fails_the_job_with_the_reason(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    """The images declare 256 px, but the aoi cuts 40 px: only the job can see it."""
    c, w = world
    item = w["items"]["stack-0"]
    lon0, lat0 = np.array(item["geometry"]["coordinates"][0]).min(axis=0)
    aoi = [lon0 + 0.001, lat0 + 0.001, lon0 + 0.005, lat0 + 0.004]
    r = c.post(
        "/processes/offset-tracking/execution",
        json={"inputs": {"products": [ref("stack-0"), ref("stack-1")], "aoi": aoi}},
        headers={"Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job = r.json()["jobID"]
    status = wait_for_job(c, job, timeout_s=60)
    assert status["status"] == "failed"
    assert "larger than the area read" in status["message"], status


def test_descriptions(world: tuple[TestClient, dict[str, Any]]) -> None:
    c, _ = world
    d = c.get("/processes/offset-tracking").json()
    assert d["inputs"]["products"]["schema"]["items"]["format"] == "stac-item-ref"
    assert {"east", "north", "magnitude", "snr", "arrows", "timeseries"} <= set(d["outputs"])
    h = c.get("/processes/hotspots").json()
    assert {"timeseries", "polygons", "masks"} <= set(h["outputs"])


def test_hotspot_masks_are_published_as_classes(
    world: tuple[TestClient, dict[str, Any]], tmp_path: Path
) -> None:
    """The mask asset names its classes (classification extension), the render draws them in
    the declared colours, and the COG carries the same colours as its colour table."""
    from gep.processes.hotspots import MASK_RENDER
    from tests.support.stac_validation import assert_valid_stac

    c, _ = world
    job = run_job(c, "hotspots", {"products": [ref("sentinel2-lava")]})
    (item,) = c.get("/stac/search", params={"ids": job}).json()["features"]
    (key,) = [k for k in item["assets"] if k.startswith("mask_")]
    asset = item["assets"][key]
    classes = {cl["value"]: cl for cl in asset["classification:classes"]}
    assert {v: cl["name"] for v, cl in classes.items()} == {
        0: "cold", 1: "hot", 2: "cloud", 255: "nodata"
    }  # fmt: skip
    assert classes[255]["nodata"] is True and classes[1]["color_hint"] == "D7191C"
    classification = "https://stac-extensions.github.io/classification/v1.1.0/schema.json"
    assert classification in assert_valid_stac([item], tmp_path)
    render = item["properties"]["renders"][key]
    assert render["colormap"] == {str(cl.value): list(cl.rgba) for cl in MASK_RENDER.classes}
    assert render["nodata"] == 255 and "rescale" not in render
    (band,) = asset["raster:bands"]
    assert band["data_type"] == "uint8" and band["nodata"] == 255
    with open_result(c, asset["href"]) as src:
        mask, table = src.read(1), src.colormap(1)
    assert all(table[cl.value] == cl.rgba for cl in MASK_RENDER.classes)
    valid = mask != 255
    assert band["statistics"]["valid_percent"] == pytest.approx(100 * valid.mean(), abs=1e-3)
    assert band["statistics"]["maximum"] == float(mask[valid].max())
    legend = c.get(
        f"/stac/collections/{item['collection']}/items/{item['id']}/legend",
        params={"assets": key},
    ).json()
    assert [(s["value"], s["name"]) for s in legend["stops"]] == [(0, "cold"), (1, "hot"),
                                                                  (2, "cloud")]  # fmt: skip
    # a tile through the item's xyz link shows each class in its colour (rio-tiler's read of
    # the same COG gives the classes), no-data transparent
    import morecantile
    from PIL import Image
    from rasterio.io import MemoryFile
    from rio_tiler.io import Reader

    (link,) = [ln for ln in item["links"] if ln["rel"] == "xyz" and f"assets={key}" in ln["href"]]
    w, s, e, n = item["bbox"]
    t = morecantile.tms.get("WebMercatorQuad").tile((w + e) / 2, (s + n) / 2, 14)
    r = c.get(link["href"].replace("{z}", "14").replace("{x}", str(t.x)).replace("{y}", str(t.y)))
    assert r.status_code == 200, r.text
    png = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    with MemoryFile(fetch_result(c, asset["href"])) as mem, Reader(mem.name) as cog:
        values = cog.tile(t.x, t.y, 14, resampling_method="nearest").array.data[0]
    seen = 0
    for cl in MASK_RENDER.classes:
        where = values == cl.value
        if where.any():
            seen += 1
            assert (png[where] == cl.rgba).all(axis=1).mean() > 0.98, cl.name
    assert seen >= 2  # the tile shows classes side by side
    assert (png[values == 255][:, 3] == 0).all()
