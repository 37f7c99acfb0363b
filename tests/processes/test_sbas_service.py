"""``sbas`` through the API (jobs on the real Dask engine): the real Mexico City GAMMA stack,
a simulated stack with known truth written as GeoTIFFs, and the bad stacks refused before a job
exists."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import from_origin

from gep.algorithms.simulate.timeseries import simulate_stack
from gep.demo.sbas import COLLECTION, REFERENCE, collection, interferogram_items
from gep.processes.sbas.products import CSV_COLUMNS
from gep.settings import Settings
from tests.support.app import (
    app_settings,
    client_for,
    fetch_result,
    open_result,
    wait_for_job,
)

SIM = "sim-ifgs"
SIM_SHAPE = (40, 50)
SIM_ORIGIN = (10.0, 45.0)  # west, north
SIM_STEP = 0.001


def _settings(home: Path) -> Settings:
    # the test stacks are written beside home: a data root of this server
    return app_settings(home, base_url="http://gep.test", data_roots=str(home.parent))


def _sim_items(folder: Path) -> tuple[list[dict[str, Any]], Any]:
    """A 20-date simulated stack as GeoTIFF interferograms (radians) with PyRate-style tags,
    plus one raster on a shifted grid and one without dates, for the refusals."""
    s = simulate_stack(20, SIM_SHAPE, interval_days=60, seasonal_mm=0.0, seed=3)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    w, n = SIM_ORIGIN
    box = [w, n - SIM_SHAPE[0] * SIM_STEP, w + SIM_SHAPE[1] * SIM_STEP, n]
    geom = {"type": "Polygon", "coordinates": [[[box[0], box[1]], [box[2], box[1]],
            [box[2], box[3]], [box[0], box[3]], [box[0], box[1]]]]}  # fmt: skip
    dates = [str(d) for d in s.network.dates]

    def write(
        name: str, data: np.ndarray, tags: dict[str, str], origin: tuple[float, float]
    ) -> Path:
        path = folder / f"{name}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=SIM_SHAPE[1], height=SIM_SHAPE[0], count=1,
            dtype="float32", crs="EPSG:4326", transform=from_origin(*origin, SIM_STEP, SIM_STEP),
        ) as dst:  # fmt: skip
            dst.write(data.astype("float32"), 1)
            dst.update_tags(**tags)
        return path

    def item(name: str, path: Path) -> dict[str, Any]:
        return {
            "type": "Feature", "stac_version": "1.1.0", "id": name, "collection": SIM,
            "geometry": geom, "bbox": box, "links": [],
            "properties": {"datetime": "2019-01-01T00:00:00Z"},
            "assets": {"unwrapped_phase": {"href": path.as_uri(), "roles": ["data"]}},
        }  # fmt: skip

    for k, (i, j) in enumerate(s.network.pairs.tolist()):
        tags = {"FIRST_DATE": dates[i], "SECOND_DATE": dates[j], "DATA_UNITS": "RADIANS",
                "WAVELENGTH_METRES": repr(s.wavelength)}  # fmt: skip
        items.append(item(f"ifg{k:03d}", write(f"ifg{k:03d}", s.phase[k], tags, SIM_ORIGIN)))
    tags = {"FIRST_DATE": dates[0], "SECOND_DATE": dates[4]}  # a pair the network lacks
    items.append(item("shifted", write("shifted", s.phase[0], tags, (w + 0.01, n))))
    items.append(item("undated", write("undated", s.phase[0], {}, SIM_ORIGIN)))
    return items, s


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    tmp = Path(tmp_path_factory.mktemp("sbas"))
    mexico = interferogram_items(tmp / "mexico")
    sim_items, sim = _sim_items(tmp / "sim")
    with client_for(_settings(tmp / "home")) as c:
        store = c.app.state.services.store  # type: ignore[attr-defined]
        store.create_collection(collection(), upsert=True)
        sim_coll = {**collection(), "id": SIM, "title": "simulated"}
        store.create_collection(sim_coll, upsert=True)
        assert store.write_items(mexico, mode="upsert").written == 30
        assert store.write_items(sim_items, mode="upsert").written == len(sim_items)
        yield c, sim


def _mexico() -> list[str]:
    from gep.demo.sbas import manifest

    return [f"{COLLECTION}/{e['id']}" for e in manifest()]


def _sim_refs(n: int = 54) -> list[str]:
    return [f"{SIM}/ifg{k:03d}" for k in range(n)]


def _path(href: str) -> Path:
    return Path(urlparse(href).path)


def _read(c: TestClient, href: Any) -> tuple[np.ndarray, Any]:
    with open_result(c, href) as src:
        assert src.crs.to_epsg() == 4326
        return src.read(1), src.transform


def test_mexico_city_subsidence_through_the_api(world: tuple[TestClient, Any]) -> None:
    c, _ = world
    inputs = {
        "interferograms": _mexico(),
        "reference_point": REFERENCE,
        "points": [[-99.06, 19.405], {"id": "zocalo", "lon": -99.1332, "lat": 19.4326}],
        "block_mb": 1,  # several blocks of rows, each reported
    }
    r = c.post("/processes/sbas/execution", json={"inputs": inputs},
               headers={"Prefer": "respond-async"})  # fmt: skip
    assert r.status_code == 201, r.text
    job = r.json()["jobID"]
    status = wait_for_job(c, job, timeout_s=180)
    assert status["status"] == "successful", status
    out = c.get(f"/jobs/{job}/results").json()
    assert out["interferograms"] == 30 and out["acquisitions"] == 13 and out["connected"]
    logs = [line["message"] for line in c.get(f"/jobs/{job}/logs").json()["logs"]]
    blocks = [m for m in logs if "block " in m]
    assert len(blocks) >= 3 and any("block 1/" in m for m in blocks)
    vel, transform = _read(c, out["velocity"])
    finite = vel[np.isfinite(vel)]
    assert finite.size > 0.95 * vel.size
    # Mexico City sinks by tens of centimetres a year: large negative LOS velocities
    assert np.percentile(finite, 2) < -200 and np.percentile(finite, 50) < -50
    assert out["velocity_range_mm_yr"][0] < -200
    ref = out["reference"]["value"]
    assert vel[ref["row"], ref["col"]] == pytest.approx(0.0, abs=1e-3)
    lon, lat = transform @ (ref["col"] + 0.5, ref["row"] + 0.5)
    assert abs(lon - REFERENCE[0]) < 0.0014 and abs(lat - REFERENCE[1]) < 0.0014
    tcoh, _ = _read(c, out["temporal_coherence"])
    assert np.nanmedian(tcoh) > 0.8
    displacement = out["displacement"]["value"]  # an object output: a qualified value
    assert len(displacement) == 13
    last, _ = _read(c, displacement["2018-07-17"])
    first, _ = _read(c, displacement["2018-01-06"])
    assert np.nanmax(np.abs(first)) == 0.0 and np.nanpercentile(last, 2) < -100  # mm
    # the CSV: one row per point and date, the reference and the two points
    with io.StringIO(fetch_result(c, out["timeseries_csv"]).decode()) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == CSV_COLUMNS
    assert [r["point"] for r in rows[::13]] == ["reference", "P1", "zocalo"]
    east = [float(r["displacement_mm"]) for r in rows if r["point"] == "P1"]
    assert east[0] == 0.0 and east[-1] < -100  # Nezahualcóyotl sinks
    assert float(rows[13]["velocity_mm_yr"]) < -200
    # published as an item with the quicklook and the KMZ
    item = c.get(f"/stac/collections/sbas/items/{job}").json()
    assert {"velocity", "velocity_png", "kmz", "timeseries_csv", "displacement_2018-07-17"} <= set(
        item["assets"]
    )
    assert len(item["properties"]["gep:inputs"]) == 30
    # drawn as the service declared (docs/rendering.md): the velocity diverging about zero,
    # and each per-date item's displacement too, with its statistics
    vel_render = item["properties"]["renders"]["velocity"]
    assert vel_render["colormap_name"] == "rdbu_r"
    assert -vel_render["rescale"][0][0] == vel_render["rescale"][0][1] > 100  # mm/yr
    (late,) = c.get("/stac/search", params={"ids": f"{job}-20180717"}).json()["features"]
    assert late["properties"]["renders"]["displacement"]["assets"] == ["displacement"]
    late_stats = late["assets"]["displacement"]["raster:bands"][0]["statistics"]
    assert late_stats["minimum"] == pytest.approx(float(np.nanmin(last)), rel=1e-6)
    _check_time_dimension(c, job, out)


def _check_time_dimension(c: TestClient, job: str, out: dict[str, Any]) -> None:
    """One item per acquisition, `<job>-<YYYYMMDD>`, dated by it, on one grid, its COG the
    asset `displacement` with the proj fields odc-stac/stackstac read; and the time series at
    a point through `/timeseries?job=` equals the COGs read at that pixel."""
    dates = sorted(out["displacement"]["value"])
    ids = [f"{job}-{d.replace('-', '')}" for d in dates]
    r = c.get("/stac/search", params={"ids": ",".join(ids), "limit": 100})
    feats = sorted(r.json()["features"], key=lambda f: f["properties"]["datetime"])
    assert [f["id"] for f in feats] == ids
    assert [f["properties"]["datetime"] for f in feats] == [f"{d}T00:00:00Z" for d in dates]
    grids = {
        (a["proj:code"], tuple(a["proj:shape"]), tuple(a["proj:transform"]))
        for a in (f["assets"]["displacement"] for f in feats)
    }
    assert len(grids) == 1 and next(iter(grids))[0] == "EPSG:4326"
    last = feats[-1]["assets"]["displacement"]
    assert last["raster:bands"][0]["unit"] == "mm"
    with open_result(c, last["href"]) as src:
        assert [src.height, src.width] == last["proj:shape"]
        assert list(src.transform)[:6] == last["proj:transform"]
    # the Nezahualcóyotl point's series, read through the collection's time series
    lon, lat = -99.06, 19.405
    coll = feats[0]["collection"]
    r = c.get(f"/stac/collections/{coll}/timeseries",
              params={"lon": lon, "lat": lat, "assets": "displacement", "job": job})  # fmt: skip
    assert r.status_code == 200, r.text
    series = r.json()
    assert series["unit"] == "mm" and [v["item"] for v in series["values"]] == ids
    expected = []
    for d in dates:
        with open_result(c, out["displacement"]["value"][d]) as src:
            row, col = src.index(lon, lat)
            v = float(src.read(1)[row, col])
            expected.append(v if np.isfinite(v) else None)
    assert [v["value"] for v in series["values"]] == expected
    assert expected[0] == 0.0 and expected[-1] is not None and expected[-1] < -100
    # the summary item's displacement_<date> assets give the same series
    r = c.get(f"/stac/collections/{coll}/items/{job}/timeseries",
              params={"lon": lon, "lat": lat, "assets": "displacement", "f": "csv"})  # fmt: skip
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [float(x["value"]) if x["value"] else None for x in rows] == expected


def test_simulated_stack_through_the_api_matches_the_truth(world: tuple[TestClient, Any]) -> None:
    c, sim = world
    ref_lonlat = [SIM_ORIGIN[0] + 2.5 * SIM_STEP, SIM_ORIGIN[1] - 2.5 * SIM_STEP]  # pixel (2, 2)
    r = c.post("/processes/sbas/execution", json={"inputs": {
        "interferograms": _sim_refs(), "reference_point": ref_lonlat, "weighting": "none",
    }})  # fmt: skip
    assert r.status_code == 200, r.text
    vel, _ = _read(c, r.json()["velocity"])
    truth = (sim.velocity - sim.velocity[2, 2]) * 1000
    assert np.sqrt(np.mean((vel - truth) ** 2)) < 0.5  # no noise simulated: the fit only
    assert r.json()["dates"][0] == str(sim.network.dates[0])


@pytest.mark.parametrize(
    ("inputs", "message", "field"),
    [
        ({"interferograms": [*_sim_refs(3), f"{SIM}/shifted"]}, "another grid",
         "inputs.interferograms[3]"),
        ({"interferograms": [*_sim_refs(3), f"{SIM}/undated"]}, "no acquisition dates",
         "inputs.interferograms[3]"),
        ({"interferograms": _sim_refs(1) * 2}, "at least 3 acquisitions",
         "inputs.interferograms"),
        ({"interferograms": [*_sim_refs(3), f"{SIM}/nope"]}, "nope", "inputs.interferograms[3]"),
        ({"interferograms": _sim_refs(), "reference_point": [11.0, 44.0]}, "outside",
         "inputs.reference_point"),
        ({"interferograms": _mexico(), "reference_point": [-99.1907, 19.3690]}, "no valid value",
         "inputs.reference_point"),
        ({"interferograms": _sim_refs(), "reference_area": [11.0, 44.0, 11.1, 44.1]}, "outside",
         "inputs.reference_area"),
        ({"interferograms": _sim_refs(), "points": [[0.0, 0.0]]}, "outside", "inputs.points[0]"),
        ({"interferograms": _sim_refs(), "steps": ["2030-01-01"]}, "not inside",
         "inputs.steps[0]"),
        ({"interferograms": _sim_refs(), "dem_error": True}, "perpendicular baseline",
         "inputs.dem_error"),
        ({"interferograms": _sim_refs(), "reference_point": [10.0, 45.0],
          "reference_area": [10.0, 44.9, 10.01, 45.0]}, "not both", "inputs"),
        ({"interferograms": _sim_refs(1)}, "at least 2", "inputs.interferograms"),
        ({"interferograms": _sim_refs(), "asset": "velocity"}, "no asset 'velocity'",
         "inputs.interferograms[0]"),
    ],
)  # fmt: skip
def test_bad_stacks_are_refused_before_a_job_exists(
    world: tuple[TestClient, Any], inputs: dict[str, Any], message: str, field: str
) -> None:
    c, _ = world
    before = c.get("/jobs", params={"limit": 1000}).json()["numberMatched"]
    r = c.post("/processes/sbas/execution", json={"inputs": inputs})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert message in body["detail"], body
    assert str(body.get("field", field)).startswith(field), body
    assert c.get("/jobs", params={"limit": 1000}).json()["numberMatched"] == before


def test_the_mexico_stack_with_the_dem_error_term(world: tuple[TestClient, Any]) -> None:
    """GAMMA's baselines ride on the sample items: the DEM-error term can be estimated; the
    velocity map stays that of a subsiding city."""
    c, _ = world
    r = c.post("/processes/sbas/execution", json={"inputs": {
        "interferograms": _mexico(), "reference_point": REFERENCE, "dem_error": True,
        "min_coherence": 0.2,
    }})  # fmt: skip
    assert r.status_code == 200, r.text
    vel, _ = _read(c, r.json()["velocity"])
    assert np.nanpercentile(vel, 2) < -200
    item = c.get("/stac/search", params={"collections": "sbas", "limit": 100}).json()
    assert any("dem_error" in f["assets"] for f in item["features"])


def test_description(world: tuple[TestClient, Any]) -> None:
    c, _ = world
    d = c.get("/processes/sbas").json()
    assert d["inputs"]["interferograms"]["schema"]["items"]["format"] == "stac-item-ref"
    assert {"velocity", "displacement", "timeseries_csv", "temporal_coherence"} <= set(d["outputs"])
