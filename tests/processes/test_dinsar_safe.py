"""``dinsar`` on Sentinel-1 IW SLC products as ESA distributes them: SAFE zips uploaded through
the gateway, and SAFE folders harvested from a data root, each to a geocoded LOS layer that
matches the simulated truth.

The products are written by ``gep.io.safe_writer`` from the real Rome annotation (S1A, IW1 VV:
two bursts, 400 samples) with a Mogi source; the chain reads them through the same reader,
burst selection and TOPS processing as any product.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gep.algorithms.sar.geometry import geolocation, radar_times, rdr2geo
from gep.algorithms.simulate.scene import MogiSource
from gep.algorithms.simulate.tops import SimulatedTopsPair, crop_bursts, simulate_tops_pair
from gep.cli import common
from gep.cli.main import app as cli
from gep.client import GepClient
from gep.io.safe_writer import SafeSwath, write_safe
from gep.io.sentinel1_bursts import tops_bursts
from gep.io.sentinel1_stac import safe_item
from tests.support.app import (
    ADMIN_HEADERS,
    api_client,
    open_result,
    post_catalogue,
    user_headers,
    wait_for_job,
)
from tests.support.s3 import S3Server

ROME = (
    Path(__file__).parents[1]
    / "data/s1/S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
)
TWELVE_DAYS = np.timedelta64(12 * 86400, "s")
ELLIPSOID = geolocation(0.0)


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulatedTopsPair, Path]:
    """The pair written twice: as zips (``zips/``) and as SAFE folders (``safe/``)."""
    root = Path(tmp_path_factory.mktemp("s1"))
    ref = crop_bursts(tops_bursts(ROME, "IW1", "VV"), 4, 2, 9000, 400)
    g = ref[0].geometry
    lat, lon, _, _ = rdr2geo(
        radar_times(g, np.array([1400.0])), g.slant_range(np.array([200.0])), g.orbit, 0.0
    )
    source = MogiSource(lat=float(lat[0]), lon=float(lon[0]), depth=2500.0, dv=2e6)
    sim = simulate_tops_pair(ref, 0.0, source=source, geometry_step=4, seed=5)
    acquisitions = (
        (sim.reference, sim.reference_data, g.orbit, np.timedelta64(0, "s")),
        (sim.secondary, sim.secondary_data, sim.secondary_orbit, TWELVE_DAYS),
    )
    for folder, as_zip in (("zips", True), ("safe", False)):
        (root / folder).mkdir()
        for bursts, data, orbit, shift in acquisitions:
            write_safe(
                ROME, root / folder, [SafeSwath("IW1", "VV", bursts, data)], orbit=orbit,
                time_shift=shift, scale=200.0, as_zip=as_zip, geolocate=ELLIPSOID,
            )  # fmt: skip
    # each acquisition cut into two consecutive products of one pass, a burst each
    (root / "slices").mkdir()
    for bursts, data, orbit, shift in acquisitions:
        for k in range(2):
            write_safe(
                ROME, root / "slices", [SafeSwath("IW1", "VV", bursts[k : k + 1], data[k : k + 1])],
                orbit=orbit, time_shift=shift, scale=200.0, as_zip=True, geolocate=ELLIPSOID,
            )  # fmt: skip
    return sim, root


@pytest.fixture(scope="module")
def client(products: tuple[SimulatedTopsPair, Path]) -> Iterator[TestClient]:
    _, root = products
    with api_client(
        root / "home", base_url="http://gep.test", data_roots=str(root), harvest_poll_s=0
    ) as c:
        yield c


def _rmse_mm(c: TestClient, sim: SimulatedTopsPair, results: dict[str, Any]) -> float:
    with open_result(c, results["los_displacement"]) as src:
        los = src.read(1)
        rows, cols = np.indices(los.shape)
        xs, ys = src.transform @ (cols + 0.5, rows + 0.5)
    with open_result(c, results["coherence"]) as src:
        coh = src.read(1)
    ok = np.isfinite(los) & (coh > 0.5)
    assert ok.sum() > 1000
    diff = (los - sim.truth_los(np.asarray(ys), np.asarray(xs), 0.0))[ok]
    diff -= np.median(diff)
    return float(np.sqrt(np.mean(diff**2)) * 1000)


def _run(
    c: TestClient, inputs: dict[str, Any], headers: dict[str, str], process: str = "dinsar"
) -> dict[str, Any]:
    r = c.post(
        f"/processes/{process}/execution",
        json={"inputs": inputs},
        headers={**headers, "Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job = r.json()["jobID"]
    status = wait_for_job(c, job, headers=headers, timeout_s=240)
    logs = c.get(f"/jobs/{job}/logs", headers=headers).json()["logs"]
    assert status["status"] == "successful", (status, logs)
    out = c.get(f"/jobs/{job}/results", headers=headers).json()
    out["_log"] = " ".join(line["message"] for line in logs)
    return dict(out)


def test_uploaded_safe_zips_make_an_interferogram(
    client: TestClient, products: tuple[SimulatedTopsPair, Path]
) -> None:
    sim, root = products
    alice = user_headers(client, "alice")
    refs = []
    for path in sorted((root / "zips").glob("*.zip")):
        with open(path, "rb") as f:
            r = client.post(
                "/uploads", files={"file": (path.name, f, "application/zip")}, headers=alice
            )
        assert r.status_code == 201, r.text
        item = r.json()
        assert item["properties"]["sar:product_type"] == "SLC"
        refs.append(f"{item['collection']}/{item['id']}")
    # the pair search finds the secondary for the reference, and what it suggests runs
    found = client.get("/insar/pairs", params={"reference": refs[0]}, headers=alice)
    assert found.status_code == 200, found.text
    (pair,) = found.json()["pairs"]
    assert pair["dinsar_inputs"] == {"reference": refs[0], "secondary": refs[1]}
    out = _run(client, pair["dinsar_inputs"], alice)
    assert _rmse_mm(client, sim, out) <= 3.0
    coreg = out["coregistration"]["value"]
    assert abs(coreg["azimuth_refinement_px"] + coreg["esd_shift_px"] - 0.0123) <= 0.002
    assert out["temporal_baseline"] == pytest.approx(12.0, abs=0.01)
    # both bursts of both products were read, once: the measurements and nothing much else
    read = out["input_bytes_read"]["value"]
    measurement = 2 * 2 * 1501 * 400 * 4
    assert measurement <= read["total"] <= 1.2 * measurement, read
    for step in ("deramp", "enhanced spectral diversity", "debursting", "unwrapping"):
        assert step in out["_log"], step


def test_a_harvested_safe_folder_pair_reads_only_the_bursts_over_the_area(
    client: TestClient, products: tuple[SimulatedTopsPair, Path]
) -> None:
    sim, root = products
    r = client.post(
        "/harvest/sources",
        json={"name": "s1-local", "kind": "safe", "url": str(root / "safe"), "collection": "s1"},
        headers=ADMIN_HEADERS,
    )
    assert r.status_code == 201, r.text
    assert client.post("/harvest/sources/s1-local/run", headers=ADMIN_HEADERS).status_code == 202
    deadline = time.monotonic() + 60
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = client.get("/harvest/sources/s1-local/runs", headers=ADMIN_HEADERS).json()["runs"]
        if runs and runs[0]["status"] != "running":
            break
        time.sleep(0.1)
    assert runs and runs[0]["status"] == "succeeded" and runs[0]["new"] == 2, runs
    found = client.get("/stac/search", params={"collections": "s1", "sortby": "datetime"}).json()
    ids = [f"s1/{f['id']}" for f in found["features"]]
    assert len(ids) == 2
    # an area inside the second burst only: the first burst's lines are never read
    aoi = _area_in_second_burst(sim)
    # submitted from the command line, as a scientist would
    common.CLIENT_FACTORY[:] = [lambda: GepClient(http=client)]
    try:
        r = CliRunner().invoke(
            cli,
            ["jobs", "submit", "dinsar", "--input", f"reference={ids[0]}",
             "--input", f"secondary={ids[1]}", "--input", f"aoi={json.dumps(aoi)}", "--watch"],
        )  # fmt: skip
    finally:
        common.CLIENT_FACTORY.clear()
    assert r.exit_code == 0, r.output
    job = r.output.splitlines()[0].strip()
    out = client.get(f"/jobs/{job}/results", headers=ADMIN_HEADERS).json()
    # the layer covers the area asked for (widened to 48 nodes a side), not the whole burst
    with open_result(client, out["los_displacement"]) as src:
        margin = 30 * abs(src.transform.e)
        left, bottom, right, top = src.bounds
    assert left >= aoi[0] - margin and right <= aoi[2] + margin
    assert bottom >= aoi[1] - margin and top <= aoi[3] + margin
    read = out["input_bytes_read"]["value"]
    one_burst = 2 * 1501 * 400 * 4
    assert read["total"] <= 1.2 * one_burst, read  # of 2 bursts per product
    assert _rmse_mm(client, sim, out) <= 3.0


def _area_in_second_burst(sim: SimulatedTopsPair) -> list[float]:
    """A box inside the second burst only (lines 700-1000, samples 120-280)."""
    g = sim.reference[1].geometry
    lat, lon, _, _ = rdr2geo(
        radar_times(g, np.array([700.0, 1000.0])), g.slant_range(np.array([120.0, 280.0])),
        g.orbit, 0.0,
    )  # fmt: skip
    return [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]


def _collection(cid: str) -> dict[str, Any]:
    return {
        "type": "Collection", "stac_version": "1.1.0", "id": cid, "license": "other",
        "description": cid, "links": [],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [[None, None]]}},
    }  # fmt: skip


def _area_across_bursts(sim: SimulatedTopsPair) -> list[float]:
    """A box over the end of the first burst and the start of the second."""
    first, second = sim.reference[0].geometry, sim.reference[1].geometry
    lat, lon, _, _ = rdr2geo(
        np.r_[radar_times(first, np.array([1200.0])), radar_times(second, np.array([300.0]))],
        first.slant_range(np.array([120.0, 280.0])), first.orbit, 0.0,
    )  # fmt: skip
    return [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]


def test_an_area_across_a_slice_boundary_takes_bursts_from_both_slices(
    client: TestClient, products: tuple[SimulatedTopsPair, Path]
) -> None:
    sim, root = products
    items = []
    for path in sorted((root / "slices").glob("*.zip")):
        item = safe_item(path)
        item["collection"] = "s1-slices"
        items.append(item)
    post_catalogue(client, [_collection("s1-slices")], items)
    ids = [f"s1-slices/{i['id']}" for i in items]  # sorted by name: by start time
    ref_a, ref_b, sec_a, sec_b = ids
    inputs = {
        "reference": ref_a, "reference_slices": [ref_b],
        "secondary": sec_a, "secondary_slices": [sec_b],
        "aoi": _area_across_bursts(sim),
    }  # fmt: skip
    # without the slices the area runs past the products: still a result, over one burst;
    # with them, both bursts, their overlap's ESD, and each slice read for its own burst
    out = _run(client, inputs, ADMIN_HEADERS)
    read = out["input_bytes_read"]["value"]
    assert len([k for k in read if k != "total"]) == 4 and all(v > 0 for v in read.values())
    assert "enhanced spectral diversity on 1 burst overlap" in out["_log"]
    assert _rmse_mm(client, sim, out) <= 3.0
    # a "slice" of another pass is refused before any job
    bad = client.post(
        "/processes/dinsar/execution",
        json={"inputs": {**inputs, "reference_slices": [sec_b]}},
        headers=ADMIN_HEADERS,
    )
    assert bad.status_code == 400, bad.text
    assert "reference_slices[0]" in bad.json()["detail"]


def test_the_demo_pair_is_two_safe_zips_either_side_of_amatrice(tmp_path: Path) -> None:
    """``gep demo seed``'s Sentinel-1 pair (cut to 1 burst x 400 samples here): SAFE zips of
    one track, 12 days apart around 24 August 2016, over the fault, written once."""
    from shapely.geometry import Point, shape

    from gep.demo.sentinel1 import AMATRICE, build_tops_demo

    small = replace(AMATRICE, samples=400, bursts=1, name="amatrice-small")
    items = build_tops_demo(tmp_path, demo=small, log=lambda m: None)
    ref, sec, dem = items
    assert (ref["collection"], sec["collection"], dem["collection"]) == (
        "sentinel-1-slc", "sentinel-1-slc", "gep-dem",
    )  # fmt: skip
    assert ref["properties"]["datetime"].startswith("2016-08-15")
    assert sec["properties"]["datetime"].startswith("2016-08-27")
    for item in (ref, sec):
        p = item["properties"]
        assert p["sat:relative_orbit"] == 117 and p["sar:product_type"] == "SLC"
        assert item["assets"]["product"]["type"] == "application/zip"
        assert shape(item["geometry"]).distance(Point(small.source.lon, small.source.lat)) < 0.1
    zips = sorted((tmp_path / "s1").glob("*.zip"))
    assert len(zips) == 2
    stamps = [z.stat().st_mtime_ns for z in zips]
    again = build_tops_demo(tmp_path, demo=small, log=lambda m: pytest.fail(m))
    assert [i["id"] for i in again] == [i["id"] for i in items]
    assert [z.stat().st_mtime_ns for z in zips] == stamps


def test_coin_on_safe_zips_maps_coherence_and_no_intensity_change(
    client: TestClient, products: tuple[SimulatedTopsPair, Path]
) -> None:
    """The simulated pair changes no backscatter: the ratio is ~0 dB, and the coherence is
    the simulated one."""
    sim, root = products
    items = []
    for path in sorted((root / "safe").glob("*.SAFE")):
        item = safe_item(path)
        item["collection"] = "s1-coin"
        items.append(item)
    post_catalogue(client, [_collection("s1-coin")], items)
    ids = [f"s1-coin/{i['id']}" for i in items]
    r = client.post(
        "/processes/coin/execution",
        json={"inputs": {"reference": ids[0], "secondary": ids[1]}},
        headers={"Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job = r.json()["jobID"]
    status = wait_for_job(client, job, timeout_s=240)
    assert status["status"] == "successful", client.get(f"/jobs/{job}/logs").json()
    out = client.get(f"/jobs/{job}/results").json()
    with open_result(client, out["intensity_ratio"]) as src:
        ratio = src.read(1)
    with open_result(client, out["coherence"]) as src:
        coh = src.read(1)
        rows, cols = np.indices(coh.shape)
        xs, ys = src.transform @ (cols + 0.5, rows + 0.5)
    ok = np.isfinite(coh) & np.isfinite(ratio)
    assert ok.sum() > 2000
    assert abs(float(np.median(ratio[ok]))) < 0.3
    truth = sim.fields.coherence_at(np.asarray(ys), np.asarray(xs))
    assert float(np.median(np.abs(coh - truth)[ok])) < 0.1


def test_sbas_network_of_safe_products_recovers_the_velocity(
    client: TestClient, products: tuple[SimulatedTopsPair, Path]
) -> None:
    """Three acquisitions as SAFE folders (the same first acquisition simulated twice with one
    seed: the same speckle), a Mogi source inflating at a constant rate, no troposphere: the
    sbas network path forms the three interferograms with the burst chain and inverts them."""
    sim0, root = products
    ref = sim0.reference[:1]  # one burst: the network path, not the bursts, is on test
    g = ref[0].geometry
    source = sim0.source
    assert isinstance(source, MogiSource)
    sims = [
        simulate_tops_pair(
            ref, 0.0, source=replace(source, dv=source.dv * days / 24.0), days=days,
            bperp=bperp, atmosphere_rms=0.0, geometry_step=4, seed=9,
        )
        for days, bperp in ((12.0, 60.0), (24.0, -40.0))
    ]  # fmt: skip
    assert all(np.array_equal(a, b) for a, b in zip(*(s.reference_data for s in sims), strict=True))
    stack = root / "stack"
    stack.mkdir()
    acquisitions = [
        (sims[0].reference, sims[0].reference_data, g.orbit, 0),
        (sims[0].secondary, sims[0].secondary_data, sims[0].secondary_orbit, 12),
        (sims[1].secondary, sims[1].secondary_data, sims[1].secondary_orbit, 24),
    ]
    items = []
    for bursts, data, orbit, days in acquisitions:
        path = write_safe(
            ROME, stack, [SafeSwath("IW1", "VV", bursts, data)], orbit=orbit,
            time_shift=np.timedelta64(days * 86400, "s"), scale=200.0, geolocate=ELLIPSOID,
        )  # fmt: skip
        item = safe_item(path)
        item["collection"] = "s1-stack"
        items.append(item)
    post_catalogue(client, [_collection("s1-stack")], items)
    ids = [f"s1-stack/{i['id']}" for i in items]
    pairs = [(0, 1), (1, 2), (0, 2)]
    network = {
        "acquisitions": 3,
        "pairs": [
            {"reference": ids[i], "secondary": ids[j], "btemp": 12.0 * (j - i), "bperp": 0.0}
            for i, j in pairs
        ],
        "connected": True,
        "components": [ids],
        "isolated": [],
        "under_connected": [],
    }
    out = _run(client, {"network": network}, ADMIN_HEADERS, "sbas")
    assert (out["interferograms"], out["acquisitions"]) == (3, 3)
    with open_result(client, out["velocity"]) as src:
        velocity = src.read(1)  # mm/yr
        rows, cols = np.indices(velocity.shape)
        xs, ys = src.transform @ (cols + 0.5, rows + 0.5)
    lat, lon = np.asarray(ys), np.asarray(xs)
    true = sims[1].truth_los(lat, lon, 0.0) * 365.25 / 24.0 * 1000
    point = out["reference"]["value"]
    true_ref = (
        sims[1].truth_los(np.array([point["latitude"]]), np.array([point["longitude"]]), 0.0)[0]
        * 365.25
        / 24.0
        * 1000
    )
    # the grid bounds a narrow, tilted swath: a fifth of its nodes see it
    ok = np.isfinite(velocity)
    assert ok.sum() > 10_000
    error = velocity[ok] - (true[ok] - true_ref)
    rms = float(np.sqrt(np.mean(error**2)))
    print(f"sbas on SAFE: signal {np.ptp(true[ok]):.0f} mm/yr, error rms {rms:.2f} mm/yr")
    assert float(np.ptp(true[ok])) > 50.0  # the inflation is seen
    assert rms < 10.0, rms  # measured: 5.8 mm/yr of ~1 000 mm/yr of signal


def test_zips_uploaded_to_object_storage_are_read_by_ranges(
    products: tuple[SimulatedTopsPair, Path], s3_server: S3Server
) -> None:
    """On an S3 storage (the real SeaweedFS server) an uploaded product is not copied into
    the job: its manifest and annotations, then the bursts over the area, are read by ranged
    GETs; the bytes read are what the job's outputs and the owner's data usage report."""
    sim, root = products
    storage = f"s3://{s3_server.new_place()}/gep"
    with api_client(
        root / "home-s3", base_url="http://gep.test", storage_url=storage,
        s3_endpoint_url=s3_server.endpoint_url,
    ) as c:  # fmt: skip
        alice = user_headers(c, "alice")
        refs, sizes = [], []
        for path in sorted((root / "zips").glob("*.zip")):
            with open(path, "rb") as f:
                r = c.post(
                    "/uploads", files={"file": (path.name, f, "application/zip")}, headers=alice
                )
            assert r.status_code == 201, r.text
            assert r.json()["assets"]["product"]["href"].startswith("http://gep.test/")
            refs.append(f"{r.json()['collection']}/{r.json()['id']}")
            sizes.append(path.stat().st_size)
        aoi = _area_in_second_burst(sim)
        out = _run(c, {"reference": refs[0], "secondary": refs[1], "aoi": aoi}, alice)
        read = out["input_bytes_read"]["value"]
        one_burst = 1501 * 400 * 4
        # per product: one burst and the metadata; the other burst never moved
        for name, size in zip(sorted(k for k in read if k != "total"), sizes, strict=True):
            assert one_burst <= read[name] <= size - 0.8 * one_burst, (read, sizes)
        assert "opened" in out["_log"] and "in place" in out["_log"]
        usage = c.get("/accounts/usage", headers=alice).json()["data"]
        reads = sum(d["bytes"] for d in usage if d["direction"] == "read")
        assert reads == read["total"], usage
        assert _rmse_mm(c, sim, out) <= 3.0
