"""``/gazetteer/search``: GVP volcanoes, GeoNames places and PB2002 plates by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.app import api_client


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = Path(tmp_path_factory.mktemp("gazetteer"))
    with api_client(home, base_url="http://gep.test") as c:
        yield c


@pytest.mark.parametrize(
    ("q", "kind", "name", "lon", "lat"),
    [
        ("Etna", "volcano", "Etna", 14.999, 37.748),  # GVP 211060
        ("popocatépetl", "volcano", "Popocatepetl", -98.622, 19.023),  # accents do not matter
        ("Vesuvio", "volcano", "Vesuvius", 14.426, 40.821),  # nor the Italian spelling
        ("Kumamoto", "place", "Kumamoto", 130.7, 32.8),
        ("Rome", "place", "Rome", 12.48, 41.89),  # the largest Rome first
    ],
)
def test_best_match_first(
    client: TestClient, q: str, kind: str, name: str, lon: float, lat: float
) -> None:
    r = client.get("/gazetteer/search", params={"q": q})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    best = r.json()["features"][0]
    assert best["properties"]["name"] == name and best["properties"]["kind"] == kind
    x, y = best["geometry"]["coordinates"]
    assert abs(x - lon) < 0.2 and abs(y - lat) < 0.2
    w, s, e, n = best["bbox"]
    assert w < x < e and s < y < n


def test_plates_and_kinds(client: TestClient) -> None:
    r = client.get("/gazetteer/search", params={"q": "Pacific", "kind": "plate"}).json()
    best = r["features"][0]
    assert best["properties"]["name"] == "Pacific plate"
    assert best["geometry"]["type"] in ("Polygon", "MultiPolygon")
    ids = [f["id"] for f in r["features"]]
    assert len(ids) == len(set(ids))
    volcanoes = client.get("/gazetteer/search", params={"q": "Nazca", "kind": "volcano"})
    assert volcanoes.status_code == 404


def test_unknown_names_suggest_close_ones(client: TestClient) -> None:
    r = client.get("/gazetteer/search", params={"q": "Stromboly Volcanoo Zzz"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "close names" in r.json()["detail"]
    assert client.get("/gazetteer/search", params={"q": "  "}).status_code == 400
    assert client.get("/gazetteer/search", params={"q": "Etna", "kind": "river"}).status_code == 400


def _item(item_id: str, lon: float, lat: float) -> dict[str, object]:
    d = 0.05
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    return {
        "type": "Feature",
        "id": item_id,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": {},
    }


def test_catalogue_search_by_place(client: TestClient) -> None:
    client.post("/stac/collections", json={"id": "places", "description": "items by place"})
    for item in (
        _item("over-etna", 14.99, 37.75),
        _item("near-etna", 15.25, 37.75),
        _item("over-rome", 12.5, 41.9),
    ):
        assert client.post("/stac/collections/places/items", json=item).status_code == 201
    got = client.get("/stac/search", params={"collections": "places", "place": "Etna"}).json()
    assert [f["id"] for f in got["features"]] == ["over-etna"]
    # 20 km around Etna's box reaches the second item
    wider = client.get(
        "/stac/search", params={"collections": "places", "place": "Etna", "place_buffer": 20}
    )
    assert sorted(f["id"] for f in wider.json()["features"]) == ["near-etna", "over-etna"]
    posted = client.post("/stac/search", json={"collections": ["places"], "place": "Rome"}).json()
    assert [f["id"] for f in posted["features"]] == ["over-rome"]
    for params, word in (
        ({"place": "Etna", "bbox": "0,0,1,1"}, "place"),
        ({"place": "Stromboly Volcanoo Zzz"}, "close names"),
        ({"place": "Etna", "place_buffer": "far"}, "kilometres"),
    ):
        r = client.get("/stac/search", params={"collections": "places", **params})
        assert r.status_code == 400 and word in r.json()["detail"], r.text


# ---------------------------------------------------------------- named areas


def _square(lon: float, lat: float, d: float) -> dict[str, object]:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_named_areas_are_found_by_name_everywhere(client: TestClient) -> None:
    client.post("/stac/collections", json={"id": "areas", "description": "items by named area"})
    for item in (_item("inside-area", 15.3, 38.1), _item("outside-area", 15.8, 38.1)):
        assert client.post("/stac/collections/areas/items", json=item).status_code == 201
    r = client.post(
        "/gazetteer/areas",
        json={
            "name": "Peloritani  landslides",  # spaces are tidied
            "geometry": _square(15.3, 38.1, 0.1),
            "description": "slow landslides north of Messina",
        },
    )
    assert r.status_code == 201, r.text
    area = r.json()
    assert area["properties"]["name"] == "Peloritani landslides"
    assert area["properties"]["kind"] == "area"
    assert r.headers["location"].endswith(f"/gazetteer/areas/{area['properties']['id']}")
    area_id = area["properties"]["id"]
    assert client.get(f"/gazetteer/areas/{area_id}").json()["geometry"] == area["geometry"]
    listed = client.get("/gazetteer/areas").json()["features"]
    assert [f["properties"]["id"] for f in listed] == [area_id]

    # the gazetteer finds it with a typo, accent-insensitively, ranked as its own kind
    best = client.get("/gazetteer/search", params={"q": "peloritani landslide"}).json()
    assert best["features"][0]["properties"]["kind"] == "area"
    only = client.get(
        "/gazetteer/search", params={"q": "Peloritani landslides", "kind": "area"}
    ).json()
    assert [f["properties"]["id"] for f in only["features"]] == [area_id]
    # STAC search by place uses the area's polygon (not the gazetteer's point boxes)
    got = client.get(
        "/stac/search", params={"collections": "areas", "place": "Peloritani landslides"}
    ).json()
    assert [f["id"] for f in got["features"]] == ["inside-area"]
    # OpenSearch geo:name, alone and grown by geo:radius (metres)
    os_got = client.get(
        "/opensearch/areas/search",
        params={"name": "Peloritani landslides", "format": "json"},
    ).json()
    assert [f["id"] for f in os_got["features"]] == ["inside-area"]
    grown = client.get(
        "/opensearch/areas/search",
        params={"geo:name": "Peloritani landslides", "geo:radius": 50_000, "format": "json"},
    ).json()
    assert sorted(f["id"] for f in grown["features"]) == ["inside-area", "outside-area"]
    unknown = client.get("/opensearch/areas/search", params={"name": "Zzyzx Qqq"})
    assert unknown.status_code == 400 and "close names" in unknown.json()["detail"]

    # one owner, one name; deleting makes the name unknown again
    again = client.post(
        "/gazetteer/areas", json={"name": "peloritani LANDSLIDES", "bbox": [1, 1, 2, 2]}
    )
    assert again.status_code == 409 and area_id in again.json()["detail"]
    assert client.delete(f"/gazetteer/areas/{area_id}").status_code == 204
    assert client.get(f"/gazetteer/areas/{area_id}").status_code == 404
    assert client.delete(f"/gazetteer/areas/{area_id}").status_code == 404
    gone = client.get(
        "/stac/search", params={"collections": "areas", "place": "Peloritani landslides"}
    )
    assert gone.status_code == 400


def test_geo_name_in_the_description_document(client: TestClient) -> None:
    client.post("/stac/collections", json={"id": "described", "description": "described"})
    doc = client.get("/opensearch/described/description.xml").text
    assert "{geo:name?}" in doc


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
            "name",
        ),
        ({"name": "no area"}, "geometry"),
        ({"name": "both", "bbox": [0, 0, 1, 1], "geometry": _square(0, 0, 1)}, "geometry"),
        ({"name": "a point", "geometry": {"type": "Point", "coordinates": [1, 2]}}, "geometry"),
        (
            {
                "name": "bow tie",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                },
            },
            "geometry",
        ),
        ({"name": "off the globe", "bbox": [170, 0, 190, 1]}, "geometry"),
        ({"name": "x" * 101, "bbox": [0, 0, 1, 1]}, "name"),
        ({"name": "extra", "bbox": [0, 0, 1, 1], "colour": "red"}, "colour"),
    ],
)
def test_bad_named_areas_are_refused(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    r = client.post("/gazetteer/areas", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in r.json()["detail"]
