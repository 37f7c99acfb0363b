"""``sbas`` on a network of SLC pairs through the API: the job forms each pair's interferogram
with the dinsar chain, then inverts them. A simulated Sentinel-1 stack of 3 acquisitions with
a shallow Mogi source inflating at a constant rate gives the truth; bad networks are refused
before a job exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.interpolate import griddata

from gep.algorithms.simulate.scene import MogiSource, simulate_pair, window_around
from gep.demo.sar import _footprint, collections, demo_geometry
from gep.io.slc_product import write_slc_product
from tests.support.app import api_client, open_result, run_job

LAT, LON = 41.73, 12.70
#: the smallest window dinsar's coregistration works with (sar_common.MIN_WINDOW)
LINES, SAMPLES = 160, 320
DAYS = (36.0, 72.0)  # the secondaries, after the first acquisition (3 and 6 cycles)
#: volume change per 12 days of a Mogi source 600 m deep: ~1 cm of uplift per cycle
DV_PER_CYCLE = 1.5e4
SLC = "gep-slc"


def _ids() -> list[str]:
    return [f"SIM_S1A_IW1_VV_{d}_sbas-net" for d in ("20220104", "20220209", "20220317")]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """Three acquisitions: each secondary is simulated against the same first acquisition
    (same seed: the same speckle and coherence; no troposphere), with the source's volume
    change growing linearly in time, and its own perpendicular baseline."""
    tmp = Path(tmp_path_factory.mktemp("sbas-net"))
    geometry = demo_geometry()
    l0, s0 = window_around(geometry, LAT, LON, 0.0, LINES, SAMPLES)
    sims = [
        simulate_pair(
            geometry, 0.0, window=(l0, s0, LINES, SAMPLES), bperp=bperp, days=days,
            source=MogiSource(LAT, LON, 600.0, DV_PER_CYCLE * days / 12.0),
            atmosphere_rms=0.0, seed=5,
        )
        for days, bperp in zip(DAYS, (100.0, -40.0), strict=True)
    ]  # fmt: skip
    assert np.array_equal(sims[0].reference, sims[1].reference)
    slcs = [
        (sims[0].reference, sims[0].reference_geometry),
        (sims[0].secondary, sims[0].secondary_geometry),
        (sims[1].secondary, sims[1].secondary_geometry),
    ]
    items = [
        write_slc_product(
            tmp / "slc", item_id, slc, geom, footprint=_footprint(geom, 0.0),
            properties={"gep:simulated": True},
        )
        for item_id, (slc, geom) in zip(_ids(), slcs, strict=True)
    ]  # fmt: skip
    truth = sims[0].truth
    with api_client(tmp / "home", base_url="http://gep.test", data_roots=str(tmp)) as c:
        store = c.app.state.services.store  # type: ignore[attr-defined]
        store.create_collection(collections()[0], upsert=True)
        assert store.write_items(items, mode="upsert").written == 3
        yield (
            c,
            {
                "latitude": truth["latitude"],
                "longitude": truth["longitude"],
                # m/yr towards the satellite: the first secondary's LOS displacement, per year
                "velocity": truth["los_displacement"] * 365.25 / DAYS[0],
            },
        )


def _pair(i: int, j: int) -> dict[str, Any]:
    ids = _ids()
    return {"reference": f"{SLC}/{ids[i]}", "secondary": f"{SLC}/{ids[j]}"}


def _network(*pairs: tuple[int, int]) -> dict[str, Any]:
    """A network as POST /insar/network answers it (members beyond pairs included)."""
    return {
        "acquisitions": 3,
        "pairs": [{**_pair(i, j), "btemp": 36.0 * (j - i), "bperp": 0.0} for i, j in pairs],
        "connected": True,
        "components": [_ids()],
        "isolated": [],
        "under_connected": [],
    }


def test_sbas_forms_a_network_and_recovers_the_velocity(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    c, truth = world
    network = _network((0, 1), (1, 2), (0, 2))
    # a quote counts each product of the network once: 3 acquisitions, not 6 pair members
    quote = c.post("/processes/sbas/quote", json={"inputs": {"network": network}})
    assert quote.status_code == 200, quote.text
    assert quote.json()["inputs"] == 3
    job = run_job(c, "sbas", {"network": network})
    out = c.get(f"/jobs/{job}/results").json()
    assert out["dates"] == ["2022-01-04", "2022-02-09", "2022-03-17"]
    assert (out["interferograms"], out["acquisitions"], out["connected"]) == (3, 3, True)
    # each pair's interferogram was formed, kept and published
    formed = out["network_interferograms"]["value"]
    assert set(formed) == {
        "2022-01-04_2022-02-09",
        "2022-02-09_2022-03-17",
        "2022-01-04_2022-03-17",
    }
    for href in formed.values():
        with open_result(c, href) as src:
            assert src.tags()["DATA_UNITS"] == "RADIANS" and src.crs.to_epsg() == 4326
    # progress per pair is in the job's log
    logs = " ".join(line["message"] for line in c.get(f"/jobs/{job}/logs").json()["logs"])
    for k in (1, 2, 3):
        assert f"pair {k}/3" in logs
    assert "unwrapping" in logs
    # the velocity relative to the reference matches the truth, sampled on the output grid
    with open_result(c, out["velocity"]) as src:
        velocity = src.read(1)  # mm/yr
        transform = src.transform
    rows, cols = np.mgrid[0 : velocity.shape[0], 0 : velocity.shape[1]]
    lon, lat = transform * (cols + 0.5, rows + 0.5)
    true = griddata(
        (truth["longitude"].ravel(), truth["latitude"].ravel()), truth["velocity"].ravel(),
        (lon, lat), method="linear",
    ) * 1000  # fmt: skip
    ref = out["reference"]["value"]
    true_ref = griddata(
        (truth["longitude"].ravel(), truth["latitude"].ravel()), truth["velocity"].ravel(),
        (ref["longitude"], ref["latitude"]), method="linear",
    ) * 1000  # fmt: skip
    ok = np.isfinite(velocity) & np.isfinite(true)
    assert ok.mean() > 0.5
    error = velocity[ok] - (true[ok] - true_ref)
    signal = float(np.ptp(true[ok]))
    rms = float(np.sqrt(np.mean(error**2)))
    p90 = float(np.percentile(np.abs(error), 90))
    print(f"velocity: {ok.sum()} px, signal {signal:.1f} mm/yr, error rms {rms:.2f}, p90 {p90:.2f}")
    assert signal > 100.0  # the source is seen: hundreds of mm/yr across the scene
    # measured: rms 4.9 mm/yr (2 % of the signal), 90 % of the pixels within 8.3 mm/yr
    assert rms < 10.0 and p90 < 15.0


def test_sbas_refuses_bad_networks_before_a_job_exists(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    c, _ = world
    before = c.get("/jobs").json()["jobs"]

    def refused(inputs: dict[str, Any], field: str, words: str) -> None:
        r = c.post("/processes/sbas/execution", json={"inputs": inputs})
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["field"] == field, problem
        assert words in problem["detail"], problem

    net = _network((0, 1), (1, 2), (0, 2))
    ifgs = ["x/a", "x/b"]
    refused({}, "inputs.interferograms", "give either interferograms")
    refused({"network": net, "interferograms": ifgs}, "inputs.network", "not both")
    refused({"network": _network((0, 1))}, "inputs.network.pairs", "at least 2")
    # only 2 acquisitions: no time series
    refused({"network": _network((0, 1), (0, 1))}, "inputs.network.pairs", "at least 3")
    # a pair the wrong way round
    refused({"network": _network((0, 1), (2, 1))}, "inputs.network.pairs[1].secondary", "after")
    missing = {**net, "pairs": [*net["pairs"][:2], {**_pair(0, 2), "secondary": f"{SLC}/nope"}]}
    refused({"network": missing}, "inputs.network.pairs[2].secondary", "nope")
    refused({"network": net, "dinsar": {"looks_range": 0}}, "inputs.dinsar", "looks_range")
    refused({"network": net, "dinsar": {"unwrap": False}}, "inputs.dinsar", "not a dinsar option")
    refused({"interferograms": ifgs, "dinsar": {"looks_range": 8}}, "inputs.dinsar", "network")
    # an item the caller may not see is refused as a missing one
    third = _ids()[2]
    r = c.post(
        "/accounts/users",
        json={"name": "plain", "role": "user", "credits": 50, "token": True},
    )
    assert r.status_code == 201, r.text
    plain = {"Authorization": f"Bearer {r.json()['token']}"}
    r = c.patch(f"/stac/collections/{SLC}/items/{third}", json={"visibility": "private"})
    assert r.status_code == 200, r.text
    try:
        r = c.post("/processes/sbas/execution", json={"inputs": {"network": net}}, headers=plain)
        assert r.status_code == 400, r.text
        assert r.json()["field"] == "inputs.network.pairs[1].secondary", r.json()
    finally:
        c.patch(f"/stac/collections/{SLC}/items/{third}", json={"visibility": "public"})
    assert c.get("/jobs").json()["jobs"] == before
