"""``GET /insar/pairs`` on the real ASF stack (176 Sentinel-1 SLC frames of track 13)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gep.catalog.insar import item_baseline
from gep.io.crosswalk.asf import asf_stack_reference, asf_to_stac_item
from gep.io.crosswalk.asf_records import load_asf_records
from tests.support.app import api_client

STACK = (
    Path(__file__).parents[1]
    / "data/asf/S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C_stack.yml"
)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, Any], str]]:
    records = load_asf_records(STACK)
    ref_id = asf_stack_reference(records)
    assert ref_id is not None
    items = [asf_to_stac_item(r, stack_reference=ref_id) for r in records]
    home = Path(tmp_path_factory.mktemp("insar"))
    with api_client(home, base_url="http://gep.test") as c:
        store = c.app.state.services.store  # type: ignore[attr-defined]
        assert store.write_items(items, mode="upsert", create_collections=True).written == len(
            items
        )
        by_id = {i["id"]: i for i in items}
        yield c, by_id, ref_id


def test_pairs_with_baselines_filters_and_order(
    world: tuple[TestClient, dict[str, Any], str],
) -> None:
    c, items, ref_id = world
    ref = items[ref_id]
    r = c.get(
        "/insar/pairs",
        params={"reference": f"{ref['collection']}/{ref_id}", "max_bperp": 60, "max_btemp": 120},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    pairs = body["pairs"]
    assert pairs, body
    assert all(p["id"] != ref_id for p in pairs)
    for p in pairs:
        assert abs(p["bperp"]) <= 60 and abs(p["btemp"]) <= 120 and p["overlap"] >= 0.5
        expected = item_baseline(ref, items[p["id"]])
        assert p["bperp"] == pytest.approx(expected.bperp, abs=1e-2)
        assert p["btemp"] == pytest.approx(expected.btemp, abs=1e-3)
        earlier, later = p["dinsar_inputs"]["reference"], p["dinsar_inputs"]["secondary"]
        assert (earlier.endswith(ref_id)) == (p["btemp"] > 0)
        assert later != earlier
    assert [abs(p["btemp"]) for p in pairs] == sorted(abs(p["btemp"]) for p in pairs)
    # without filters there are more, and sorting by |Bperp| works
    everything = c.get(
        "/insar/pairs",
        params={"reference": f"{ref['collection']}/{ref_id}", "sortby": "bperp", "limit": 500},
    ).json()
    assert everything["numberMatched"] > len(pairs)
    bperps = [abs(p["bperp"]) for p in everything["pairs"]]
    assert bperps == sorted(bperps)
    # every compatible frame of the stack that overlaps enough is found
    assert everything["numberMatched"] + everything["numberSkipped"] >= 100


def test_bad_requests(world: tuple[TestClient, dict[str, Any], str]) -> None:
    c, items, ref_id = world
    ref = items[ref_id]
    coll = ref["collection"]
    r = c.get("/insar/pairs", params={"reference": f"{coll}/nope"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert "nope" in r.json()["detail"]
    r = c.get("/insar/pairs", params={"reference": f"{coll}/{ref_id}", "sortby": "colour"})
    assert r.status_code == 400 and "sortby" in r.json()["detail"]
    bare = copy.deepcopy(ref)
    bare["id"] = "no-orbit"
    bare["properties"].pop("gep:state_vectors", None)
    store = c.app.state.services.store  # type: ignore[attr-defined]
    store.write_items([bare], mode="upsert")
    r = c.get("/insar/pairs", params={"reference": f"{coll}/no-orbit"})
    assert r.status_code == 400
    assert "gep:state_vectors" in r.json()["detail"]


def test_cli_pairs(
    world: tuple[TestClient, dict[str, Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from gep.cli import common
    from gep.cli.main import app
    from gep.client import GepClient

    c, items, ref_id = world
    monkeypatch.setattr(common, "CLIENT_FACTORY", [lambda: GepClient(http=c)])
    ref = f"{items[ref_id]['collection']}/{ref_id}"
    out = CliRunner().invoke(
        app, ["insar", "pairs", ref, "--max-bperp", "60", "--max-btemp", "120", "--json"]
    )
    assert out.exit_code == 0, out.output
    api = c.get("/insar/pairs", params={"reference": ref, "max_bperp": 60, "max_btemp": 120}).json()
    assert [p["id"] for p in json.loads(out.output)["pairs"]] == [p["id"] for p in api["pairs"]]


def _aoi_box(item: dict[str, Any], half: float = 0.1) -> list[float]:
    from shapely.geometry import shape

    c = shape(item["geometry"]).centroid
    return [c.x - half, c.y - half, c.x + half, c.y + half]


def test_stack_and_network(world: tuple[TestClient, dict[str, Any], str]) -> None:
    import numpy as np
    from shapely.geometry import box

    from gep.algorithms.sar.baseline import baseline_at
    from gep.algorithms.sar.geometry import llh_to_ecef
    from gep.catalog.insar import item_orbit

    c, items, ref_id = world
    aoi = _aoi_box(items[ref_id])
    body = {"aoi": aoi, "datetime": "2016-01-01T00:00:00Z/2017-12-31T23:59:59Z"}
    r = c.post("/insar/stack", json=body)
    assert r.status_code == 200, r.text
    stack = r.json()
    assert stack["track"]["relative_orbit"] == 13 and stack["track"]["orbit_state"] == "descending"
    acqs = stack["acquisitions"]
    days = [a["datetime"][:10] for a in acqs]
    assert len(days) == len(set(days)) > 20  # one acquisition a day
    assert all("2016" <= d[:4] <= "2017" for d in days)
    # baselines relative to the reference, at the area's centroid
    by_id = {a["id"]: a for a in acqs}
    ref = items[stack["reference"]]
    centre = box(*aoi).centroid
    target = llh_to_ecef(centre.y, centre.x, 0.0)
    assert by_id[stack["reference"]]["bperp"] == 0 and by_id[stack["reference"]]["btemp"] == 0
    for a in acqs[::7]:
        expected = baseline_at(target, item_orbit(ref), item_orbit(items[a["id"]]))
        assert a["bperp"] == pytest.approx(expected.bperp, abs=1e-2)
    # a small-baseline network on it
    net_body = {"stack": body, "max_btemp": 48, "max_bperp": 100, "min_connections": 2}
    n = c.post("/insar/network", json=net_body)
    assert n.status_code == 200, n.text
    net = n.json()
    assert net["acquisitions"] == len(acqs) and net["pairs"]
    for p in net["pairs"]:
        assert 0 < p["btemp"] <= 48 and abs(p["bperp"]) <= 100
    # connectivity, checked independently of the service's union-find
    ids = [a["id"] for a in acqs]
    adj: dict[str, set[str]] = {i: set() for i in ids}
    for p in net["pairs"]:
        a, b = p["reference"].split("/")[-1], p["secondary"].split("/")[-1]
        adj[a].add(b)
        adj[b].add(a)
    seen, todo = {ids[0]}, [ids[0]]
    while todo:
        for nxt in adj[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert net["connected"] == (len(seen) == len(ids))
    assert sorted(net["isolated"]) == sorted(i for i in ids if not adj[i])
    assert sorted(net["under_connected"]) == sorted(i for i in ids if 0 < len(adj[i]) < 2)
    assert sum(len(comp) for comp in net["components"]) == len(ids)
    # the baseline/time plot
    png = c.post("/insar/network", json={**net_body, "format": "png"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    svg = c.post("/insar/stack", json={**body, "format": "svg"})
    assert svg.status_code == 200 and b"<svg" in svg.content[:500]
    assert np.isfinite([a["bperp"] for a in acqs]).all()


def test_stack_and_network_bad_input(world: tuple[TestClient, dict[str, Any], str]) -> None:
    c, items, ref_id = world
    r = c.post("/insar/stack", json={"aoi": [0.0, 0.0, 0.1, 0.1]})
    assert r.status_code == 400 and "no track covers" in r.json()["detail"]
    r = c.post("/insar/stack", json={"aoi": _aoi_box(items[ref_id]), "colour": 1})
    assert r.status_code == 400 and "colour" in r.json()["detail"]
    r = c.post(
        "/insar/network",
        json={"stack": {"aoi": _aoi_box(items[ref_id])}, "max_btemp": 0.5, "max_bperp": 1},
    )
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    r = c.post(
        "/insar/network", json={"acquisitions": [{"id": "a"}], "max_btemp": 10, "max_bperp": 10}
    )
    assert r.status_code == 400
    # bodies schemathesis sent that were 500s: each member of the wrong type is named
    aoi = _aoi_box(items[ref_id])
    acqs = [{"id": "a", "btemp": 0, "bperp": 0}, {"id": "b", "btemp": 12, "bperp": 30}]
    net = {"acquisitions": acqs, "max_btemp": 50, "max_bperp": 100}
    for path, body, field in [
        ("/insar/stack", {"aoi": aoi, "datetime": [None, None]}, "datetime"),
        ("/insar/stack", {"aoi": aoi, "min_coverage": "half"}, "min_coverage"),
        ("/insar/stack", {"aoi": aoi, "collections": "s1"}, "collections"),
        ("/insar/network", {**net, "min_connections": {}}, "min_connections"),
        ("/insar/network", {**net, "acquisitions": [{**acqs[0], "btemp": {}}]}, "acquisitions"),
        ("/insar/network", {**net, "stack": {"aoi": aoi}}, "stack"),
    ]:
        r = c.post(path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, r.json()
    assert c.post("/insar/network", json=net).status_code == 200


def test_cli_stack_and_network(
    world: tuple[TestClient, dict[str, Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from gep.cli import common
    from gep.cli.main import app
    from gep.client import GepClient

    c, items, ref_id = world
    monkeypatch.setattr(common, "CLIENT_FACTORY", [lambda: GepClient(http=c)])
    bbox = ",".join(str(v) for v in _aoi_box(items[ref_id]))
    when = "2016-01-01T00:00:00Z/2017-12-31T23:59:59Z"
    out = CliRunner().invoke(app, ["insar", "stack", "--bbox", bbox, "--datetime", when, "--json"])
    assert out.exit_code == 0, out.output
    api = c.post("/insar/stack", json={"aoi": _aoi_box(items[ref_id]), "datetime": when}).json()
    assert json.loads(out.output)["acquisitions"] == api["acquisitions"]
    net = CliRunner().invoke(
        app,
        [
            "insar",
            "network",
            "--bbox",
            bbox,
            "--datetime",
            when,
            "--max-btemp",
            "48",
            "--max-bperp",
            "100",
            "--json",
        ],
    )
    assert net.exit_code == 0, net.output
    assert json.loads(net.output)["acquisitions"] == len(api["acquisitions"])


def test_pair_and_stack_candidates_are_only_those_the_caller_may_see(
    world: tuple[TestClient, dict[str, Any], str],
) -> None:
    """A secondary made private to its owner is neither a pair nor a stack date for anybody
    else (anonymous here), and is both again for the administrator."""
    c, items, ref_id = world
    ref = items[ref_id]
    coll = ref["collection"]
    params = {"reference": f"{coll}/{ref_id}", "sortby": "bperp", "limit": 500}
    before = c.get("/insar/pairs", params=params).json()
    hidden = before["pairs"][0]["id"]
    stack_body = {"aoi": _aoi_box(ref), "relative_orbit": 13}
    stack_before = {a["id"] for a in c.post("/insar/stack", json=stack_body).json()["acquisitions"]}
    r = c.patch(f"/stac/collections/{coll}/items/{hidden}", json={"visibility": "private"})
    assert r.status_code == 200, r.text
    try:
        anon = {"Authorization": ""}
        theirs = c.get("/insar/pairs", params=params, headers=anon)
        assert theirs.status_code == 200, theirs.text
        assert hidden not in {p["id"] for p in theirs.json()["pairs"]}
        assert theirs.json()["numberMatched"] == before["numberMatched"] - 1
        mine = c.get("/insar/pairs", params=params).json()
        assert hidden in {p["id"] for p in mine["pairs"]}
        assert hidden in stack_before  # so that the stack's check below means something
        stack = c.post("/insar/stack", json=stack_body, headers=anon)
        assert stack.status_code == 200, stack.text
        assert hidden not in {a["id"] for a in stack.json()["acquisitions"]}
        net = c.post(
            "/insar/network",
            json={"stack": stack_body, "max_btemp": 48, "max_bperp": 100},
            headers=anon,
        )
        assert net.status_code == 200, net.text
        assert hidden not in {a["id"] for a in net.json()["stack"]["acquisitions"]}
    finally:
        c.patch(f"/stac/collections/{coll}/items/{hidden}", json={"visibility": "public"})
