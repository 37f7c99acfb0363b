"""The STAC API over HTTP: responses, links, paging, extensions and problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import api_client


def _item(n: int, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": f"S1_{n:03d}",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[n, 40], [n + 1, 40], [n + 1, 41], [n, 41], [n, 40]]],
        },
        "properties": {
            "datetime": f"2022-03-{n % 28 + 1:02d}T05:00:00Z",
            "sat:relative_orbit": n % 4,
            "platform": "sentinel-1a",
            **props,
        },
        "assets": {"data": {"href": f"https://example.com/{n}.zip", "roles": ["data"]}},
        "links": [],
    }


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with api_client(tmp_path, base_url="http://gep.test") as c:
        r = c.post("/stac/collections", json={"id": "sentinel-1-slc", "description": "S1 SLC"})
        assert r.status_code == 201
        r = c.post(
            "/stac/collections/sentinel-1-slc/items",
            json={"type": "FeatureCollection", "features": [_item(n) for n in range(12)]},
        )
        assert r.status_code == 201, r.text
        yield c


def assert_problem(r: Any, status: int, field: str | None = None, says: str = "") -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["detail"] and body["type"] and body["title"]
    if field is not None:
        assert body.get("field") == field, body
    assert says.lower() in body["detail"].lower(), body


def test_landing_and_conformance(client: TestClient) -> None:
    root = client.get("/").json()
    assert any(ln["rel"] == "service-desc" for ln in root["links"])
    stac = client.get("/stac").json()
    assert (
        stac["type"] == "Catalog" and "https://api.stacspec.org/v1.0.0/core" in stac["conformsTo"]
    )
    assert {ln["href"] for ln in stac["links"] if ln["rel"] == "child"} == {
        "http://gep.test/stac/collections/sentinel-1-slc"
    }
    assert client.get("/conformance").json()["conformsTo"]
    assert client.get("/api").json()["openapi"].startswith("3.")


def test_item_and_links(client: TestClient) -> None:
    r = client.get("/stac/collections/sentinel-1-slc/items/S1_003")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    item = r.json()
    rels = {ln["rel"]: ln["href"] for ln in item["links"]}
    assert rels["self"] == "http://gep.test/stac/collections/sentinel-1-slc/items/S1_003"
    assert rels["collection"] == "http://gep.test/stac/collections/sentinel-1-slc"


def test_get_search_paging_by_next_links(client: TestClient) -> None:
    url: str | None = "/stac/search?limit=5&sortby=-datetime"
    seen: list[str] = []
    while url:
        page = client.get(url).json()
        seen += [f["id"] for f in page["features"]]
        nxt = [ln for ln in page["links"] if ln["rel"] == "next"]
        url = nxt[0]["href"].replace("http://gep.test", "") if nxt else None
    assert seen == [f"S1_{n:03d}" for n in range(11, -1, -1)]


def test_post_search_next_link_carries_the_body(client: TestClient) -> None:
    body = {"limit": 4, "bbox": [2.5, 40.2, 8.5, 40.8], "count": True}
    page = client.post("/stac/search", json=body).json()
    assert page["numberMatched"] == 7 and page["numberReturned"] == 4
    nxt = next(ln for ln in page["links"] if ln["rel"] == "next")
    assert nxt["method"] == "POST" and nxt["body"]["bbox"] == body["bbox"]
    page2 = client.post("/stac/search", json=nxt["body"]).json()
    assert [f["id"] for f in page2["features"]] == ["S1_004", "S1_003", "S1_002"]


def test_fields_keep_geojson_media_type(client: TestClient) -> None:
    r = client.get("/stac/search?fields=id,properties.datetime,-geometry&limit=1")
    assert r.headers["content-type"] == "application/geo+json"
    f = r.json()["features"][0]
    assert set(f["properties"]) == {"datetime"} and "geometry" not in f and "assets" not in f


def test_three_d_bbox_works(client: TestClient) -> None:
    r = client.get("/stac/search?bbox=2.5,40.2,-10,3.5,40.8,1000")
    assert r.status_code == 200
    assert sorted(f["id"] for f in r.json()["features"]) == ["S1_002", "S1_003"]


def test_filter_get_and_post(client: TestClient) -> None:
    r = client.get(
        "/stac/search", params={"filter": "sat:relative_orbit = 3", "filter-lang": "cql2-text"}
    )
    assert sorted(f["id"] for f in r.json()["features"]) == ["S1_003", "S1_007", "S1_011"]
    r = client.post(
        "/stac/search",
        json={
            "filter-lang": "cql2-json",
            "filter": {"op": "=", "args": [{"property": "sat:relative_orbit"}, 3]},
        },
    )
    assert len(r.json()["features"]) == 3


def test_queryables(client: TestClient) -> None:
    r = client.get("/stac/collections/sentinel-1-slc/queryables")
    assert r.headers["content-type"] == "application/schema+json"
    assert r.json()["properties"]["sat:relative_orbit"]["type"] == "integer"


def test_collection_search(client: TestClient) -> None:
    client.post(
        "/stac/collections",
        json={
            "id": "sentinel-2-l2a",
            "description": "optical",
            "extent": {
                "spatial": {"bbox": [[100, -10, 120, 10]]},
                "temporal": {"interval": [[None, None]]},
            },
        },
    )
    r = client.get("/stac/collections?q=optical").json()
    assert [c["id"] for c in r["collections"]] == ["sentinel-2-l2a"]
    r = client.get("/stac/collections?bbox=0,40,5,45").json()
    assert [c["id"] for c in r["collections"]] == ["sentinel-1-slc"]


def test_transactions(client: TestClient) -> None:
    base = "/stac/collections/sentinel-1-slc/items"
    assert client.post(base, json=_item(50)).status_code == 201
    assert_problem(client.post(base, json=_item(50)), 409, "id", "already exists")
    changed = _item(50, title="updated")
    assert client.put(f"{base}/S1_050", json=changed).json()["properties"]["title"] == "updated"
    r = client.patch(f"{base}/S1_050", json={"properties": {"title": None, "note": "x"}})
    assert r.status_code == 200 and "title" not in r.json()["properties"]
    assert client.delete(f"{base}/S1_050").status_code == 204
    assert_problem(client.get(f"{base}/S1_050"), 404, "itemId")
    # a bulk request with one bad item writes nothing
    bad = _item(61)
    bad["geometry"]["coordinates"][0][-1] = [99, 99]
    r = client.post(base, json={"type": "FeatureCollection", "features": [_item(60), bad]})
    assert_problem(r, 400, "items[1].geometry", "not closed")
    assert_problem(client.get(f"{base}/S1_060"), 404)
    r = client.post(
        "/stac/collections/sentinel-1-slc/bulk_items",
        json={"items": {"S1_070": _item(70)}, "method": "upsert"},
    )
    assert r.status_code == 200 and r.json() == {"written": 1}


@pytest.mark.parametrize(
    ("url", "field", "says"),
    [
        ("/stac/search?bbox=10,50,0,40", "bbox", "south (50.0) is greater than north"),
        ("/stac/search?bbox=0,0,200,10", "bbox", "outside [-180, 180]"),
        ("/stac/search?bbox=0,0,1", "bbox", "4 numbers"),
        ("/stac/search?datetime=2020-13-45", "datetime", "not a valid date"),
        ("/stac/search?datetime=yesterday", "datetime", "rfc 3339"),
        (
            "/stac/search?datetime=2021-01-01T00:00:00Z/2020-01-01T00:00:00Z",
            "datetime",
            "after end",
        ),
        ("/stac/search?limit=0", "limit", "between 1 and 10000"),
        ("/stac/search?limit=-5", "limit", "between 1 and 10000"),
        ("/stac/search?limit=ten", "limit", "integer"),
        ("/stac/search?filter=sat:relative_orbit%20%3D%3D%203", "filter", "malformed cql2"),
        ("/stac/search?filter=cloudy%20%3D%201", "filter", "queryables are:"),
        ("/stac/search?sortby=-nope", "sortby", "not sortable"),
        ("/stac/search?token=garbage", "token", "paging token"),
        ("/stac/search?place_buffer=10", "place", "give place too"),
        ("/stac/collections?token=-3", "token", "'next' link"),
        ("/stac/collections?token=99999999999999999999999999", "token", "'next' link"),
    ],
)
def test_bad_input_is_problem_json(client: TestClient, url: str, field: str, says: str) -> None:
    assert_problem(client.get(url), 400, field, says)


def test_bad_geometries(client: TestClient) -> None:
    unclosed = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}
    assert_problem(
        client.post("/stac/search", json={"intersects": unclosed}), 400, "intersects", "not closed"
    )
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    assert_problem(
        client.post("/stac/search", json={"intersects": bowtie}),
        400,
        "intersects",
        "self-intersection",
    )
    assert_problem(
        client.post("/stac/search", json={"intersects": {"type": "Blob"}}),
        400,
        "intersects",
        "not a geojson geometry type",
    )


def test_not_found_and_bad_bodies(client: TestClient) -> None:
    assert_problem(client.get("/stac/collections/nope"), 404, "collectionId")
    assert_problem(client.get("/stac/collections/sentinel-1-slc/items/nope"), 404, "itemId")
    r = client.post(
        "/stac/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(r, 400, "body", "not valid json")
    assert_problem(
        client.post("/stac/search", json={"colections": ["x"]}),
        400,
        "colections",
        "unknown search parameter",
    )


def test_limit_above_the_maximum_is_clamped(client: TestClient) -> None:
    """OGC API - Features /req/core/fc-limit-response-1 C: not an error, the maximum applies."""
    r = client.get("/stac/search?limit=10001")
    assert r.status_code == 200 and r.json()["numberReturned"] == 12


def test_antimeridian_bbox_over_http(client: TestClient) -> None:
    client.post(
        "/stac/collections/sentinel-1-slc/items",
        json={
            **_item(0),
            "id": "fiji",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[179.2, -17], [179.8, -17], [179.8, -16], [179.2, -16], [179.2, -17]]
                ],
            },
        },
    )
    r = client.get("/stac/search?bbox=179,-18,-179,-15")
    assert r.status_code == 200 and [f["id"] for f in r.json()["features"]] == ["fiji"]
