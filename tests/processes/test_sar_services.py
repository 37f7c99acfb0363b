"""``dinsar`` and ``coin`` through the API on simulated pairs, and the pair checks that refuse
bad input before a job exists."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient

from gep.algorithms.simulate.scene import MogiSource
from gep.demo.sar import DemoPair, build_demo, collections
from tests.support.app import api_client, fetch_result, open_result, wait_for_job

# a small Colli Albani pair (Mogi, 5 cm uplift) over the synthetic volcano DEM
SMALL = (
    DemoPair(
        "albani-small", "Colli Albani, small", 41.73, 12.70, 320, 768,
        MogiSource(41.73, 12.70, 2000.0, 0.84e6), "colli-albani", 5,
    ),
)  # fmt: skip
REF = "gep-slc/SIM_S1A_IW1_VV_20220104_albani-small"
SEC = "gep-slc/SIM_S1A_IW1_VV_20220116_albani-small"
DEM = "gep-dem/colli-albani-synthetic-dem"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    tmp = Path(tmp_path_factory.mktemp("sar"))
    items = build_demo(tmp / "demo", pairs=SMALL, log=lambda m: None)
    slc = sorted((tmp / "demo" / "slc").glob("*/slc.tif"))
    written = [p.stat().st_mtime_ns for p in slc]
    messages: list[str] = []
    again = build_demo(tmp / "demo", pairs=SMALL, log=messages.append)
    assert [i["id"] for i in again] == [i["id"] for i in items]
    # products are reused, not simulated again: nothing is logged and no file is rewritten
    assert messages == [] and [p.stat().st_mtime_ns for p in slc] == written
    with api_client(tmp / "home", base_url="http://gep.test", data_roots=str(tmp)) as c:
        store = c.app.state.services.store  # type: ignore[attr-defined]
        for coll in collections():
            store.create_collection(coll, upsert=True)
        assert store.write_items(items, mode="upsert").written == len(items)
        yield c, {i["id"]: i for i in items}


def _execute(c: TestClient, process: str, inputs: dict[str, Any]) -> Any:
    return c.post(f"/processes/{process}/execution", json={"inputs": inputs})


def test_dinsar_publishes_products_that_match_the_truth(
    world: tuple[TestClient, dict[str, Any]], tmp_path: Path
) -> None:
    c, items = world
    r = c.post(
        "/processes/dinsar/execution",
        json={"inputs": {"reference": REF, "secondary": SEC, "dem": DEM, "looks_azimuth": 4}},
        headers={"Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job = r.json()["jobID"]
    status = wait_for_job(c, job, timeout_s=180)
    assert status["status"] == "successful", status
    out = c.get(f"/jobs/{job}/results").json()
    assert out["perpendicular_baseline"] == pytest.approx(-100.0, abs=1.0)  # ISCE2 sign
    assert out["temporal_baseline"] == pytest.approx(12.0, abs=0.01)
    assert abs(out["coregistration"]["value"]["azimuth_refinement_px"] - 0.31) <= 0.05
    assert abs(out["coregistration"]["value"]["range_refinement_px"] + 0.23) <= 0.05
    # progress per step is in the job's log
    logs = " ".join(line["message"] for line in c.get(f"/jobs/{job}/logs").json()["logs"])
    for step in ("geometry", "coregistration", "Goldstein", "unwrapping", "geocoding"):
        assert step in logs, step
    with open_result(c, out["los_displacement"]) as src:
        assert src.crs.to_epsg() == 4326
        los = src.read(1)
        transform = src.transform
    # the uplift peaks over the source (Mogi at 41.73 N, 12.70 E), at the truth's amplitude
    finite = np.isfinite(los)
    assert finite.mean() > 0.4
    los = los - np.nanmedian(los[finite])
    row, col = np.unravel_index(int(np.nanargmax(np.where(finite, los, -np.inf))), los.shape)
    lon, lat = transform @ (col + 0.5, row + 0.5)
    assert abs(lat - 41.73) < 0.01 and abs(lon - 12.70) < 0.012
    truth = items[REF.split("/")[1]]
    with rasterio.open(urlparse(truth["assets"]["truth"]["href"]).path) as src:
        names = list(src.descriptions)
        d = src.read(names.index("los_displacement") + 1)
    assert np.nanmax(los) == pytest.approx(float(d.max() - np.median(d)), abs=0.008)
    for key in ("wrapped_phase", "coherence", "amplitude", "unwrapped_phase", "kmz"):
        assert fetch_result(c, out[key])
    # the job's results are a catalogued item with the PNG quicklooks beside the COGs
    found = c.get("/stac/search", params={"collections": "dinsar", "limit": 50}).json()["features"]
    mine = [f for f in found if job in f["id"]]
    assert mine and {"los_displacement_png", "coherence_png", "kmz"} <= set(mine[0]["assets"])
    _check_result_item(c, job, items, tmp_path)


def _check_result_item(c: TestClient, job: str, items: dict[str, Any], tmp_path: Path) -> None:
    """The dinsar result as STAC clients find it: in the ``dinsar`` collection, dated by the
    pair, carrying its platform and track, searchable by them, linked to its three inputs
    (the DEM once); the collection describes its assets; users cannot write into it."""
    ref, sec = items[REF.split("/")[1]]["properties"], items[SEC.split("/")[1]]["properties"]
    item = c.get(f"/stac/collections/dinsar/items/{job}").json()
    props = item["properties"]
    assert props["start_datetime"] == ref["datetime"] < sec["datetime"]
    assert props["end_datetime"] == props["datetime"] == sec["datetime"]
    assert props["created"] > "2026" and props["created"] != props["datetime"]
    for key in ("platform", "constellation", "sat:relative_orbit", "sat:orbit_state"):
        assert props[key] == ref[key] == sec[key], key
    assert props["gep:inputs"] == [REF, SEC, DEM]  # the DEM once, though staged twice
    assert props["processing:lineage"].count(DEM) == 1
    derived = [ln["href"] for ln in item["links"] if ln["rel"] == "derived_from"]
    assert derived == [f"http://gep.test/stac/collections/{r.replace('/', '/items/')}"
                       for r in (REF, SEC, DEM)]  # fmt: skip
    for href in derived:  # absolute GEP URLs of items that exist
        assert c.get(href).status_code == 200, href
    # searchable by track, platform and input, by CQL2 (text and JSON)
    track = (
        f"\"sat:relative_orbit\" = {ref['sat:relative_orbit']} AND platform = '{ref['platform']}'"
    )
    r = c.get("/stac/search", params={"collections": "dinsar", "filter": track})
    assert job in [f["id"] for f in r.json()["features"]], r.text
    assert r.json()["numberMatched"] >= 1  # counted by default
    body = {"collections": ["dinsar"], "filter-lang": "cql2-json", "filter": {
        "op": "a_contains", "args": [{"property": "gep:inputs"}, [SEC]]}}  # fmt: skip
    assert job in [f["id"] for f in c.post("/stac/search", json=body).json()["features"]]
    other = f'"sat:relative_orbit" = {ref["sat:relative_orbit"] + 1}'
    r = c.get("/stac/search", params={"collections": "dinsar", "filter": other})
    assert r.json()["features"] == [] and r.json()["numberMatched"] == 0
    # the service's collection: item_assets and summaries
    coll = c.get("/stac/collections/dinsar").json()
    assert coll["item_assets"]["los_displacement"]["type"].startswith("image/tiff")
    assert {"coherence", "wrapped_phase", "kmz"} <= set(coll["item_assets"])
    assert coll["summaries"]["gep:process"] == ["dinsar"]
    assert coll["summaries"]["platform"] == [ref["platform"]]
    # the platform's: a user can neither take the id nor write into it
    r = c.post("/accounts/users", json={"name": "writer", "token": True})
    user = {"Authorization": f"Bearer {r.json()['token']}"}
    r = c.post("/stac/collections", json={"id": "coin", "description": "mine"}, headers=user)
    assert r.status_code == 403 and r.json()["field"] == "id", r.text
    # stac-validator (local schemas) accepts it with the sat and processing extensions
    from tests.support.stac_validation import assert_valid_stac

    checked = assert_valid_stac([item], tmp_path)
    assert {
        "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
        "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    } <= set(checked)
    planted = {**item, "id": "planted", "links": []}
    r = c.post("/stac/collections/dinsar/items", json=planted, headers=user)
    assert r.status_code in (403, 404), r.text
    assert c.get("/stac/collections/dinsar/items/planted").status_code == 404


def test_coin_publishes_coherence_intensity_and_rgb(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    c, _ = world
    r = _execute(
        c, "coin", {"reference": REF, "secondary": SEC, "dem": "gep-dem/colli-albani-synthetic-dem"}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    with open_result(c, out["rgb"]) as src:
        assert src.count == 3 and src.dtypes[0] == "uint8"
    with open_result(c, out["coherence"]) as src:
        coh = src.read(1)
    finite = coh[np.isfinite(coh)]
    # the simulated coherence spans 0.3-0.95; the estimate must too
    assert 0.25 < np.percentile(finite, 5) < 0.5 and 0.8 < np.percentile(finite, 95) <= 1.0
    with open_result(c, out["intensity_ratio"]) as src:
        ratio = src.read(1)
    # no change was simulated: the ratio is centred on 0 dB
    assert abs(float(np.nanmedian(ratio))) < 0.5


def _variant(c: TestClient, items: dict[str, Any], new_id: str, edit: Any) -> str:
    item = copy.deepcopy(items[SEC.split("/")[1]])
    item["id"] = new_id
    edit(item)
    store = c.app.state.services.store  # type: ignore[attr-defined]
    assert store.write_items([item], mode="upsert").written == 1
    return f"gep-slc/{new_id}"


def _shift_orbit(item: dict[str, Any], metres: float) -> None:
    geom = item["properties"]["gep:swath_geometry"]
    for sv in geom["state_vectors"]:
        r = np.array(sv["position"])
        sv["position"] = [float(v) for v in r + metres * r / np.linalg.norm(r)]


@pytest.mark.parametrize(
    ("edit", "inputs", "message"),
    [
        (
            lambda i: i["properties"]["gep:swath_geometry"].update(relative_orbit=118),
            {},
            "relative orbit",
        ),
        (
            lambda i: i["properties"]["gep:swath_geometry"].update(polarisation="VH"),
            {},
            "polarisation",
        ),
        (lambda i: i["properties"]["gep:swath_geometry"].update(swath="IW2"), {}, "swath"),
        (lambda i: _shift_orbit(i, 15_000.0), {}, "critical baseline"),
        (
            lambda i: i.update(
                geometry={
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
                },
                bbox=[0, 0, 1, 1],
            ),
            {},
            "do not overlap",
        ),
        (None, {"aoi": [10.0, 40.0, 10.1, 40.1]}, "outside the scene"),
        (None, {"dem": "gep-dem/rome-dem-30m"}, "inputs.dem covers"),
        (None, {"reference": "gep-dem/rome-dem-30m"}, "not a GEP SLC product"),
        (None, {"secondary": REF, "reference": SEC}, "after the reference"),
        (None, {"looks_range": 0}, "looks_range"),
        (None, {"coherence_window": [4, 5]}, "odd"),
        (None, {"aoi": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}}, "aoi"),
    ],
)
def test_bad_pairs_are_refused_before_a_job_exists(
    world: tuple[TestClient, dict[str, Any]], edit: Any, inputs: dict[str, Any], message: str
) -> None:
    c, items = world
    body: dict[str, Any] = {"reference": REF, "secondary": SEC}
    if edit is not None:
        body["secondary"] = _variant(c, items, f"bad-{abs(hash(message))}", edit)
    body.update(inputs)
    before = len(c.get("/jobs", params={"limit": 1000}).json()["jobs"])
    for process in ("dinsar", "coin"):
        r = _execute(c, process, body)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert message in r.json()["detail"], r.json()
    assert len(c.get("/jobs", params={"limit": 1000}).json()["jobs"]) == before


def test_descriptions(world: tuple[TestClient, dict[str, Any]]) -> None:
    c, _ = world
    d = c.get("/processes/dinsar").json()
    assert d["inputs"]["reference"]["schema"]["format"] == "stac-item-ref"
    assert d["inputs"]["filter_strength"]["schema"]["maximum"] == 1.0
    assert {"los_displacement", "kmz", "coherence"} <= set(d["outputs"])
    coin = c.get("/processes/coin").json()
    assert {"rgb", "intensity_ratio"} <= set(coin["outputs"])
