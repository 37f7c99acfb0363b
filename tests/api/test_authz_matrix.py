"""The authorization matrix: every endpoint family, for each caller and each visibility.

User A owns one object of every kind at each visibility (private, group:g1, public); C is in
g1 with A, B is not, and some callers are anonymous. The expected status of every request is
*generated* from the rules (an owner may do everything; a caller who may see an object reads it
and gets 403 for changes; one who may not gets 404, as if it did not exist; anonymous writes
get 401), then every cell is asserted, with the counts of the listings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import ADMIN_HEADERS, api_client, wait_for_job
from tests.support.rasters import write_test_raster
from tests.support.services import ECHO_VALIDATION, validate_and_share

VISIBILITIES = {"private": "private", "group": "group:g1", "public": "public"}
CALLERS = ("A", "C", "B", "anonymous", "admin")

TOOL = """
cwlVersion: v1.2
class: CommandLineTool
id: {id}
{validation}baseCommand: echo
inputs:
  message: {{type: string, inputBinding: {{position: 1}}}}
outputs:
  result: {{type: stdout}}
stdout: out.txt
"""


def sees(caller: str, visibility: str) -> bool:
    if caller in ("A", "admin") or visibility == "public":
        return True
    return caller == "C" and visibility == "group"


def read_status(caller: str, visibility: str) -> int:
    return 200 if sees(caller, visibility) else 404


def write_status(caller: str, visibility: str, ok: int = 200) -> int:
    if caller == "anonymous":
        return 401
    if caller in ("A", "admin"):
        return ok
    return 403 if sees(caller, visibility) else 404


def use_status(caller: str, visibility: str) -> int:
    """Running a service: any user who may see it; anonymous callers never."""
    if caller == "anonymous":
        return 401
    return 200 if sees(caller, visibility) else 404


@dataclass
class World:
    client: TestClient
    headers: dict[str, dict[str, str]]
    jobs: dict[str, str]  # visibility tag -> job id
    areas: dict[str, str]  # visibility tag -> area id

    def call(self, caller: str, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, path, json=body, headers=self.headers[caller])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp("authz"))
    raster = tmp / "tiny.tif"
    write_test_raster(raster)
    with api_client(
        tmp / "home", admin=False, base_url="http://gep.test", data_roots=str(tmp)
    ) as c:
        headers: dict[str, dict[str, str]] = {"anonymous": {}, "admin": ADMIN_HEADERS}
        assert c.post("/accounts/groups", json={"name": "g1"}, headers=ADMIN_HEADERS).is_success
        for name, role, groups in (("A", "developer", ["g1"]), ("B", "user", []),
                                   ("C", "user", ["g1"])):  # fmt: skip
            r = c.post(
                "/accounts/users",
                json={"name": name, "role": role, "groups": groups, "credits": 50, "token": True},
                headers=ADMIN_HEADERS,
            )
            assert r.status_code == 201, r.text
            headers[name] = {"Authorization": f"Bearer {r.json()['token']}"}
        a = headers["A"]
        jobs: dict[str, str] = {}
        areas: dict[str, str] = {}
        for tag, vis in VISIBILITIES.items():
            coll = {"id": f"c-{tag}", "description": tag, "gep:visibility": vis}
            assert c.post("/stac/collections", json=coll, headers=a).status_code == 201
            item = {
                "type": "Feature",
                "id": "i",
                "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
                "properties": {"datetime": "2024-01-01T00:00:00Z"},
                "assets": {"data": {"href": str(raster), "type": "image/tiff", "roles": ["data"]}},
            }
            # a server file: only an administrator may catalogue it (in A's collection)
            r = c.post(f"/stac/collections/c-{tag}/items", json=item, headers=ADMIN_HEADERS)
            assert r.status_code == 201, r.text
            r = c.post(  # private until validated: shared below
                "/processes",
                content=TOOL.format(validation=ECHO_VALIDATION, id=f"svc-{tag}"),
                headers={**a, "content-type": "application/cwl+yaml"},
            )
            assert r.status_code == 201, r.text
            r = c.post(
                "/processes/quicklook/execution",
                json={"inputs": {"item": f"c-{tag}/i", "asset": "data", "max_size": 32}},
                headers={**a, "Prefer": "respond-async"},
            )
            assert r.status_code == 201, r.text
            jobs[tag] = r.json()["jobID"]
            assert wait_for_job(c, jobs[tag], a)["status"] == "successful"
            r = c.patch(f"/jobs/{jobs[tag]}", json={"visibility": vis}, headers=a)
            assert r.status_code == 200 and r.json()["results_shared"] == 1, r.text
            r = c.post(
                "/gazetteer/areas",
                json={"name": f"area {tag}", "bbox": [14, 37, 15, 38], "visibility": vis},
                headers=a,
            )
            assert r.status_code == 201, r.text
            areas[tag] = r.json()["properties"]["id"]
        shares = {f"svc-{tag}": vis for tag, vis in VISIBILITIES.items() if vis != "private"}
        validate_and_share(c, shares, a)
        yield World(c, headers, jobs, areas)


def _object_requests(w: World, tag: str) -> list[tuple[str, str, str, Any, int]]:
    """(family, method, path, body, ok-status) of the requests on one visibility's objects."""
    job = w.jobs[tag]
    return [
        ("catalogue read", "GET", f"/stac/collections/c-{tag}", None, 0),
        ("catalogue read", "GET", f"/stac/collections/c-{tag}/items/i", None, 0),
        ("catalogue read", "GET", f"/stac/collections/c-{tag}/items", None, 0),
        ("catalogue read", "GET", f"/stac/collections/c-{tag}/queryables", None, 0),
        ("catalogue read", "GET", f"/opensearch/c-{tag}/search?format=json", None, 0),
        ("catalogue write", "PATCH", f"/stac/collections/c-{tag}", {"title": tag}, 200),
        (
            "catalogue write",
            "PATCH",
            f"/stac/collections/c-{tag}/items/i",
            {"properties": {"note": tag}},
            200,
        ),
        (
            "catalogue write",
            "PATCH",
            f"/stac/collections/c-{tag}",
            {"visibility": VISIBILITIES[tag]},
            200,
        ),
        ("processes", "GET", f"/processes/svc-{tag}", None, 0),
        ("processes", "GET", f"/processes/svc-{tag}/package", None, 0),
        (
            "processes use",
            "POST",
            f"/processes/svc-{tag}/execution?quote=true",
            {"inputs": {"message": "hi"}},
            0,
        ),
        (
            "processes write",
            "PATCH",
            f"/processes/svc-{tag}",
            {"visibility": VISIBILITIES[tag]},
            200,
        ),
        ("jobs", "GET", f"/jobs/{job}", None, 0),
        ("jobs", "GET", f"/jobs/{job}/results", None, 0),
        ("jobs", "GET", f"/jobs/{job}/logs", None, 0),
        ("jobs write", "PATCH", f"/jobs/{job}", {"visibility": VISIBILITIES[tag]}, 200),
        ("results", "GET", f"/stac/collections/quicklook/items/{job}", None, 0),
        ("tiles", "GET", f"/stac/collections/c-{tag}/items/i/quicklook", None, 0),
        ("tiles", "GET", f"/stac/collections/quicklook/items/{job}/quicklook", None, 0),
        ("areas", "GET", f"/gazetteer/areas/{w.areas[tag]}", None, 0),
        (
            "areas write",
            "PATCH",
            f"/gazetteer/areas/{w.areas[tag]}",
            {"visibility": VISIBILITIES[tag]},
            200,
        ),
    ]


def _expected(family: str, caller: str, tag: str, ok: int) -> int:
    if family.endswith("write"):
        if family == "processes write" and caller == "admin":
            return ok
        return write_status(caller, tag, ok)
    if family == "processes use":
        return use_status(caller, tag)
    return read_status(caller, tag)


def test_object_matrix(world: World) -> None:
    """Every family × caller × visibility, each status asserted; the table is printed."""
    rows: list[tuple[str, str, str, str, int, int]] = []
    for tag in VISIBILITIES:
        for family, method, path, body, ok in _object_requests(world, tag):
            for caller in CALLERS:
                got = world.call(caller, method, path, body)
                want = _expected(family, caller, tag, ok)
                rows.append((family, f"{method} {path}", caller, tag, want, got.status_code))
                if got.status_code >= 400:
                    assert got.headers["content-type"] == "application/problem+json", path
    print("\n".join(f"{r[0]:16} {r[1]:60} {r[2]:9} {r[3]:8} want {r[4]} got {r[5]}" for r in rows))
    wrong = [r for r in rows if r[4] != r[5]]
    assert not wrong, "\n".join(f"{r[:4]}: want {r[4]}, got {r[5]}" for r in wrong)
    assert len(rows) == len(VISIBILITIES) * 21 * len(CALLERS)


def test_listings_count_only_what_each_caller_sees(world: World) -> None:
    """Paging counts come from the SQL, so they equal the number of visible objects."""
    visible = {c: [t for t in VISIBILITIES if sees(c, t)] for c in CALLERS}
    for caller in CALLERS:
        n = len(visible[caller])
        h = world.headers[caller]
        c = world.client
        search = c.get(
            "/stac/search",
            params={"collections": "c-private,c-group,c-public", "limit": 1, "count": "true"},
            headers=h,
        ).json()
        assert search["numberMatched"] == n, caller
        assert len(search["features"]) == min(1, n)
        cols = {x["id"] for x in c.get("/stac/collections", headers=h).json()["collections"]}
        assert {t for t in VISIBILITIES if f"c-{t}" in cols} == set(visible[caller]), caller
        procs = {p["id"] for p in c.get("/processes", headers=h).json()["processes"]}
        assert {t for t in VISIBILITIES if f"svc-{t}" in procs} == set(visible[caller]), caller
        assert "quicklook" in procs  # built-in services are everyone's
        results = c.get(
            "/stac/search",
            params={"collections": "quicklook", "limit": 1, "count": "true"},
            headers=h,
        ).json()
        assert results["numberMatched"] == n, caller
        # A's one quicklook job per visibility (A's validation jobs of svc-* are private)
        jobs = c.get("/jobs", params={"limit": 1, "processID": "quicklook"}, headers=h).json()
        assert jobs["numberMatched"] == n, caller
        areas = c.get("/gazetteer/areas", headers=h).json()["features"]
        assert len(areas) == n, caller
        # a page beyond the visible ones is empty, not a window onto hidden objects
        page = c.get("/jobs", params={"offset": n, "processID": "quicklook"}, headers=h)
        assert page.json()["jobs"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/stac/collections", {"id": "anon-coll", "description": "x"}),
        ("POST", "/processes/echo/execution", {"inputs": {"message": "x"}}),
        ("POST", "/gazetteer/areas", {"name": "n", "bbox": [0, 0, 1, 1]}),
        ("GET", "/accounts/me", None),
        ("GET", "/accounts/tokens", None),
        ("GET", "/accounts/ledger", None),
        ("GET", "/accounts/usage", None),
        ("GET", "/accounts/groups/g1", None),
    ],
)
def test_anonymous_callers_must_authenticate(
    world: World, method: str, path: str, body: Any
) -> None:
    r = world.call("anonymous", method, path, body)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"] == "application/problem+json"


def test_account_endpoints_matrix(world: World) -> None:
    """Groups, ledgers, usage and administration, per caller."""
    cases: list[tuple[str, str, str, Any, dict[str, int]]] = [
        ("accounts", "GET", "/accounts/me", None, {"A": 200, "B": 200, "C": 200, "admin": 200}),
        (
            "accounts",
            "GET",
            "/accounts/groups/g1",
            None,
            {"A": 200, "B": 404, "C": 200, "admin": 200},
        ),
        ("accounts", "GET", "/accounts/users", None, {"A": 403, "B": 403, "C": 403, "admin": 200}),
        (
            "accounts",
            "POST",
            "/accounts/credits",
            {"user": "B", "amount": 1},
            {"A": 403, "B": 403, "C": 403, "admin": 200},
        ),
        (
            "accounts",
            "PUT",
            "/accounts/groups/g1/members/B",
            None,
            {"A": 403, "B": 403, "C": 403, "admin": 204},
        ),
        (
            "accounts",
            "DELETE",
            "/accounts/groups/g1/members/B",
            None,
            {"A": 403, "B": 403, "C": 403, "admin": 204},
        ),
        (
            "ledger",
            "GET",
            "/accounts/ledger?user=A",
            None,
            {"A": 200, "B": 404, "C": 404, "admin": 200},
        ),
        (
            "ledger",
            "GET",
            "/accounts/usage?user=A",
            None,
            {"A": 200, "B": 404, "C": 404, "admin": 200},
        ),
        (
            "processes",
            "PUT",
            "/processes/echo/price",
            {"per_job": 0},
            {"A": 403, "B": 403, "C": 403, "admin": 200},
        ),
        (
            "processes",
            "POST",
            "/processes?visibility=public",
            None,
            {"A": 415, "B": 403, "C": 403, "admin": 415},
        ),
    ]
    wrong = []
    for family, method, path, body, want in cases:
        for caller, status in want.items():
            got = world.call(caller, method, path, body).status_code
            if got != status:
                wrong.append(f"{family} {method} {path} as {caller}: want {status}, got {got}")
    assert not wrong, "\n".join(wrong)
    ledger_a = world.call("A", "GET", "/accounts/ledger").json()["entries"]
    assert ledger_a and all(e["user"] == ledger_a[0]["user"] for e in ledger_a)
    assert world.call("B", "GET", "/accounts/ledger").json()["numberMatched"] == 2  # grant + top-up


def test_harvest_sources_follow_their_visibility(world: World) -> None:
    c = world.client
    for tag, vis in VISIBILITIES.items():
        body = {"name": f"h-{tag}", "kind": "stac", "url": "https://archive.example/stac",
                "collection": f"harvested-{tag}", "visibility": vis}  # fmt: skip
        r = c.post("/harvest/sources", json=body, headers=ADMIN_HEADERS)
        assert r.status_code == 201, r.text
    for caller in CALLERS:
        h = world.headers[caller]
        names = {s["name"] for s in c.get("/harvest/sources", headers=h).json()["sources"]}
        # the administrator owns them; others see them as their visibility allows
        want = {
            f"h-{t}"
            for t in VISIBILITIES
            if caller == "admin" or (sees(caller, t) and t != "private")
        }
        assert names & {"h-private", "h-group", "h-public"} == want, caller
        assert c.get("/harvest/sources/h-private", headers=h).status_code == (
            200 if caller == "admin" else 404
        )
        assert c.get("/harvest/sources/h-private/runs", headers=h).status_code == (
            200 if caller == "admin" else 404
        )
        share = c.patch("/harvest/sources/h-public", json={"visibility": "public"}, headers=h)
        assert share.status_code == {"anonymous": 401, "admin": 200}.get(caller, 403), caller
