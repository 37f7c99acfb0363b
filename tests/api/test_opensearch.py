"""OpenSearch 1.1 per collection: translation, Atom and GeoJSON responses, description, errors.

The fixture catalogue is small and hand-made so that each query has exactly one right answer:
Sentinel-1-like scenes over Etna, Iceland, Chile and Fiji (the last one across the antimeridian),
and Sentinel-2-like scenes with known cloud cover.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import cql2
import orjson
import pytest
from fastapi.testclient import TestClient

from gep.catalog.opensearch.translate import opensearch_to_search, parse_opensearch, parse_range
from gep.core.errors import InvalidInput
from tests.support.app import api_client

BASE = "http://gep.test"
ATOM = "{http://www.w3.org/2005/Atom}"
OS = "{http://a9.com/-/spec/opensearch/1.1/}"
GEORSS = "{http://www.georss.org/georss}"
EO = "{http://a9.com/-/opensearch/extensions/eo/1.0/}"
PARAMS = "{http://a9.com/-/spec/opensearch/extensions/parameters/1.0/}"
GEO = "{http://a9.com/-/opensearch/extensions/geo/1.0/}"


def _box(w: float, s: float, e: float, n: float) -> list[list[list[float]]]:
    return [[[w, s], [e, s], [e, n], [w, n], [w, s]]]


def _s1(
    iid: str,
    geometry: dict[str, Any],
    when: str,
    *,
    platform: str,
    state: str,
    track: int,
    orbit: int,
    pols: list[str],
    mode: str = "IW",
    ptype: str = "SLC",
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": iid,
        "geometry": geometry,
        "properties": {
            "datetime": when,
            "start_datetime": when,
            "end_datetime": when[:-3] + "27Z",
            "platform": platform,
            "constellation": "sentinel-1",
            "instruments": ["c-sar"],
            "sat:orbit_state": state,
            "sat:relative_orbit": track,
            "sat:absolute_orbit": orbit,
            "sar:instrument_mode": mode,
            "sar:polarizations": pols,
            "sar:product_type": ptype,
            "sar:frequency_band": "C",
        },
        "assets": {
            "data": {
                "href": f"https://datapool.example/{iid}.zip",
                "type": "application/zip",
                "roles": ["data"],
                "file:size": 4_200_000_000,
            },
            "thumbnail": {
                "href": f"https://datapool.example/{iid}.png",
                "type": "image/png",
                "roles": ["thumbnail"],
            },
        },
        "links": [],
    }


ETNA = {"type": "Polygon", "coordinates": _box(14.5, 37.3, 15.5, 38.0)}
S1_ITEMS = [
    _s1(
        "S1A_ETNA_A044_0105",
        ETNA,
        "2021-01-05T05:00:00Z",
        platform="sentinel-1a",
        state="ascending",
        track=44,
        orbit=36000,
        pols=["VV", "VH"],
    ),
    _s1(
        "S1B_ETNA_D124_0110",
        ETNA,
        "2021-01-10T17:00:00Z",
        platform="sentinel-1b",
        state="descending",
        track=124,
        orbit=25000,
        pols=["VV", "VH"],
    ),
    _s1(
        "S1A_ETNA_A044_0117",
        ETNA,
        "2021-01-17T05:00:00Z",
        platform="sentinel-1a",
        state="ascending",
        track=44,
        orbit=36175,
        pols=["VV"],
    ),
    _s1(
        "S1A_ICEL_A016_0201",
        {"type": "Polygon", "coordinates": _box(-23, 63.5, -21, 64.5)},
        "2021-02-01T07:00:00Z",
        platform="sentinel-1a",
        state="ascending",
        track=16,
        orbit=36400,
        pols=["HH", "HV"],
    ),
    _s1(
        "S1B_FIJI_D015_0215",
        {
            "type": "MultiPolygon",
            "coordinates": [_box(179.0, -18.5, 180.0, -17.0), _box(-180.0, -18.5, -179.5, -17.0)],
        },
        "2021-02-15T06:00:00Z",
        platform="sentinel-1b",
        state="descending",
        track=15,
        orbit=25700,
        pols=["HH"],
        mode="EW",
    ),
    _s1(
        "S1A_CHIL_D156_0301",
        {"type": "Polygon", "coordinates": _box(-72, -34, -70, -32)},
        "2021-03-01T10:00:00Z",
        platform="sentinel-1a",
        state="descending",
        track=156,
        orbit=36800,
        pols=["VV", "VH"],
        ptype="GRD",
    ),
]
ALL_S1 = {i["id"] for i in S1_ITEMS}


def _s2(iid: str, cloud: float, when: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": iid,
        "geometry": {"type": "Polygon", "coordinates": _box(14.0, 37.0, 15.0, 38.0)},
        "properties": {
            "datetime": when,
            "platform": "sentinel-2b",
            "eo:cloud_cover": cloud,
            "s2:product_type": "S2MSI2A",
            "sat:relative_orbit": 79,
        },
        "assets": {
            "B04": {
                "href": f"https://s2.example/{iid}/B04.tif",
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
            }
        },
        "links": [],
    }


S2_ITEMS = [
    _s2("S2_C05", 5.0, "2021-06-01T10:00:00Z"),
    _s2("S2_C15", 15.5, "2021-06-06T10:00:00Z"),
    _s2("S2_C20", 20.0, "2021-06-11T10:00:00Z"),
    _s2("S2_C40", 40.0, "2021-06-16T10:00:00Z"),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("opensearch")
    with api_client(home, base_url=BASE) as c:
        r = c.post(
            "/stac/collections",
            json={
                "id": "s1-slc",
                "title": "Sentinel-1 SLC",
                "description": "Sentinel-1 IW/EW SLC",
                "keywords": ["sentinel-1", "sar", "insar"],
                "summaries": {
                    "platform": ["sentinel-1a", "sentinel-1b"],
                    "sar:instrument_mode": ["EW", "IW"],
                },
                "providers": [
                    {
                        "name": "ESA",
                        "roles": ["producer", "licensor"],
                        "description": "Contains modified Copernicus Sentinel data 2021",
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        r = c.post("/stac/collections", json={"id": "s2-l2a", "description": "Sentinel-2 L2A"})
        assert r.status_code == 201, r.text
        for cid, items in (("s1-slc", S1_ITEMS), ("s2-l2a", S2_ITEMS)):
            r = c.post(
                f"/stac/collections/{cid}/items",
                json={"type": "FeatureCollection", "features": items},
            )
            assert r.status_code == 201, r.text
        yield c


def search_json(
    client: TestClient, params: dict[str, Any] | None = None, collection: str = "s1-slc"
) -> dict[str, Any]:
    r = client.get(f"/opensearch/{collection}/search", params={**(params or {}), "format": "json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return r.json()  # type: ignore[no-any-return]


def ids(client: TestClient, params: dict[str, Any], collection: str = "s1-slc") -> set[str]:
    body = search_json(client, {**params, "count": 100}, collection)
    found = {f["id"] for f in body["features"]}
    assert body["properties"]["totalResults"] == len(found)
    return found


def assert_problem(r: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
        assert field in body["detail"], body
    return body


# ---------------------------------------------------------------------- spatial


def test_geo_box_selects_exactly_the_scenes_it_touches(client: TestClient) -> None:
    etna = {i for i in ALL_S1 if "ETNA" in i}
    assert ids(client, {"geo:box": "14.9,37.6,15.1,37.8"}) == etna
    assert ids(client, {"bbox": "14.9,37.6,15.1,37.8"}) == etna
    assert ids(client, {"bbox": "-30,60,-20,70"}) == {"S1A_ICEL_A016_0201"}
    assert ids(client, {"bbox": "0,0,1,1"}) == set()


def test_antimeridian_box(client: TestClient) -> None:
    # west > east: from 170E eastwards across 180 to 170W
    assert ids(client, {"geo:box": "170,-20,-170,-15"}) == {"S1B_FIJI_D015_0215"}
    # only the part east of the antimeridian
    assert ids(client, {"geo:box": "-179.8,-18,-179,-17.5"}) == {"S1B_FIJI_D015_0215"}


def test_wkt_geometry(client: TestClient) -> None:
    iceland = "POLYGON((-22.5 64,-21.5 64,-21.5 64.2,-22.5 64.2,-22.5 64))"
    assert ids(client, {"geo:geometry": iceland}) == {"S1A_ICEL_A016_0201"}
    assert ids(client, {"geometry": "POINT(15 37.7)"}) == {i for i in ALL_S1 if "ETNA" in i}
    assert ids(client, {"geometry": "MULTIPOINT((-71 -33),(-22 64))"}) == {
        "S1A_CHIL_D156_0301",
        "S1A_ICEL_A016_0201",
    }


def test_point_and_radius_in_metres(client: TestClient) -> None:
    # 15.7E is 0.2 degree (about 17.6 km at 37.7N) east of the Etna footprint edge
    etna = {i for i in ALL_S1 if "ETNA" in i}
    assert ids(client, {"geo:lat": 37.7, "geo:lon": 15.7, "geo:radius": 30_000}) == etna
    assert ids(client, {"lat": 37.7, "lon": 15.7, "radius": 10_000}) == set()
    # a disc centred on the antimeridian is split, and still finds the Fiji scene
    assert ids(client, {"lat": -17.7, "lon": 180, "radius": 5_000}) == {"S1B_FIJI_D015_0215"}


def test_geo_relation_contains_and_disjoint(client: TestClient) -> None:
    etna = {i for i in ALL_S1 if "ETNA" in i}
    assert ids(client, {"bbox": "14,37,16,38.5", "relation": "contains"}) == etna
    assert ids(client, {"bbox": "15,37,16,38.5", "relation": "contains"}) == set()
    assert ids(client, {"bbox": "14,37,16,38.5", "geo:relation": "disjoint"}) == ALL_S1 - etna


def test_uid(client: TestClient) -> None:
    assert ids(client, {"geo:uid": "S1A_ETNA_A044_0105"}) == {"S1A_ETNA_A044_0105"}
    assert ids(client, {"uid": "S1A_ETNA_A044_0105,S1A_CHIL_D156_0301"}) == {
        "S1A_ETNA_A044_0105",
        "S1A_CHIL_D156_0301",
    }


# ---------------------------------------------------------------------- time


def test_time_window(client: TestClient) -> None:
    assert ids(client, {"time:start": "2021-01-08", "time:end": "2021-01-31"}) == {
        "S1B_ETNA_D124_0110",
        "S1A_ETNA_A044_0117",
    }
    # a date as end means the whole day
    assert ids(client, {"start": "2021-01-17", "end": "2021-01-17"}) == {"S1A_ETNA_A044_0117"}
    # open ends
    assert ids(client, {"start": "2021-02-10T00:00:00Z"}) == {
        "S1B_FIJI_D015_0215",
        "S1A_CHIL_D156_0301",
    }
    assert ids(client, {"time:end": "2021-01-05T05:00:10Z"}) == {"S1A_ETNA_A044_0105"}


def test_time_relation_during(client: TestClient) -> None:
    # the scene runs 05:00:00-05:00:27: it intersects a window ending 05:00:10, is not during it
    window = {"start": "2021-01-05T04:00:00Z", "end": "2021-01-05T05:00:10Z"}
    assert ids(client, window) == {"S1A_ETNA_A044_0105"}
    assert ids(client, {**window, "timeRelation": "during"}) == set()
    assert ids(client, {**window, "end": "2021-01-05T05:01:00Z", "time:relation": "during"}) == {
        "S1A_ETNA_A044_0105"
    }


# ---------------------------------------------------------------------- EO parameters


def test_track_exact_range_and_set(client: TestClient) -> None:
    assert ids(client, {"eo:track": "44"}) == {"S1A_ETNA_A044_0105", "S1A_ETNA_A044_0117"}
    assert ids(client, {"track": "[10,20]"}) == {"S1A_ICEL_A016_0201", "S1B_FIJI_D015_0215"}
    assert ids(client, {"track": "]15,20]"}) == {"S1A_ICEL_A016_0201"}
    assert ids(client, {"track": "[10,16["}) == {"S1B_FIJI_D015_0215"}
    assert ids(client, {"eo:relativeOrbitNumber": "{15,156}"}) == {
        "S1B_FIJI_D015_0215",
        "S1A_CHIL_D156_0301",
    }
    assert ids(client, {"track": "[124"}) == {"S1B_ETNA_D124_0110", "S1A_CHIL_D156_0301"}
    assert ids(client, {"track": "]124"}) == {"S1A_CHIL_D156_0301"}
    assert ids(client, {"track": "16]"}) == {"S1A_ICEL_A016_0201", "S1B_FIJI_D015_0215"}
    assert ids(client, {"track": "16["}) == {"S1B_FIJI_D015_0215"}
    assert ids(client, {"eo:orbitNumber": "[36000,36200]"}) == {
        "S1A_ETNA_A044_0105",
        "S1A_ETNA_A044_0117",
    }


def test_cloud_cover(client: TestClient) -> None:
    assert ids(client, {"eo:cloudCover": "[0,20]"}, "s2-l2a") == {"S2_C05", "S2_C15", "S2_C20"}
    assert ids(client, {"cloudCover": "[0,20["}, "s2-l2a") == {"S2_C05", "S2_C15"}
    assert ids(client, {"cloudCover": "15.5"}, "s2-l2a") == {"S2_C15"}
    assert ids(client, {"cloudCover": "20["}, "s2-l2a") == {"S2_C05", "S2_C15"}


def test_eo_parameter_the_collection_lacks_is_ignored_and_reported(client: TestClient) -> None:
    body = search_json(client, {"cloudCover": "[0,20]", "count": 100, "foo": "bar"})
    assert {f["id"] for f in body["features"]} == ALL_S1
    assert set(body["properties"]["ignoredParameters"]) == {"cloudCover", "foo"}
    # still validated: a malformed value is an error even where it would be ignored
    r = client.get("/opensearch/s1-slc/search", params={"cloudCover": "[0,"})
    assert_problem(r, 400, "cloudCover")


def test_orbit_direction_platform_mode_product_type(client: TestClient) -> None:
    descending = {"S1B_ETNA_D124_0110", "S1B_FIJI_D015_0215", "S1A_CHIL_D156_0301"}
    assert ids(client, {"eo:orbitDirection": "DESCENDING"}) == descending
    assert ids(client, {"orbitDirection": "ascending"}) == ALL_S1 - descending
    s1b = {"S1B_ETNA_D124_0110", "S1B_FIJI_D015_0215"}
    assert ids(client, {"eo:platform": "Sentinel-1B"}) == s1b
    assert ids(client, {"platform": "SENTINEL-1"}) == ALL_S1  # the constellation
    assert ids(client, {"platform": "sentinel-1b,sentinel-2a"}) == s1b
    assert ids(client, {"eo:sensorMode": "ew"}) == {"S1B_FIJI_D015_0215"}
    assert ids(client, {"productType": "grd"}) == {"S1A_CHIL_D156_0301"}
    assert ids(client, {"eo:productType": "S2MSI2A"}, "s2-l2a") == {i["id"] for i in S2_ITEMS}


def test_polarisation_channels(client: TestClient) -> None:
    dual = {"S1A_ETNA_A044_0105", "S1B_ETNA_D124_0110", "S1A_CHIL_D156_0301"}
    assert ids(client, {"eo:polarisationChannels": "VV VH"}) == dual
    assert ids(client, {"polarisationChannels": "vh,vv"}) == dual
    assert ids(client, {"polarisationChannels": "VV"}) == dual | {"S1A_ETNA_A044_0117"}
    assert ids(client, {"polarizationChannels": "HH+HV"}) == {"S1A_ICEL_A016_0201"}


def test_parameters_combine(client: TestClient) -> None:
    assert ids(
        client,
        {
            "bbox": "14.9,37.6,15.1,37.8",
            "track": "44",
            "start": "2021-01-10",
            "polarisationChannels": "VV",
        },
    ) == {"S1A_ETNA_A044_0117"}


def test_empty_values_mean_absent(client: TestClient) -> None:
    # clients fill unused optional template parameters with empty strings
    assert ids(client, {"bbox": "", "start": "", "track": "", "q": "", "startIndex": ""}) == ALL_S1


# ---------------------------------------------------------------------- paging


def test_paging_with_start_index_and_count(client: TestClient) -> None:
    seen: list[str] = []
    first = search_json(client, {"count": 2})
    props = first["properties"]
    assert (props["totalResults"], props["startIndex"], props["itemsPerPage"]) == (6, 1, 2)
    rels = {ln["rel"]: ln["href"] for ln in first["links"]}
    assert "previous" not in rels
    assert parse_qs(urlsplit(rels["next"]).query)["startIndex"] == ["3"]
    assert parse_qs(urlsplit(rels["last"]).query)["startIndex"] == ["5"]
    assert rels["search"] == f"{BASE}/opensearch/s1-slc/description.xml"
    seen += [f["id"] for f in first["features"]]
    page = first
    while "next" in {ln["rel"] for ln in page["links"]}:
        nxt = next(ln["href"] for ln in page["links"] if ln["rel"] == "next")
        assert nxt.startswith(BASE)
        r = client.get(nxt[len(BASE) :])
        assert r.status_code == 200
        page = r.json()
        assert page["properties"]["totalResults"] == 6
        seen += [f["id"] for f in page["features"]]
    assert len(seen) == 6 and set(seen) == ALL_S1
    last = page
    rels = {ln["rel"]: ln["href"] for ln in last["links"]}
    assert last["properties"]["startIndex"] == 5 and "next" not in rels
    assert parse_qs(urlsplit(rels["previous"]).query)["startIndex"] == ["3"]
    # newest first, as on the STAC API
    assert seen[0] == "S1A_CHIL_D156_0301" and seen[-1] == "S1A_ETNA_A044_0105"


def test_start_page_and_count_zero(client: TestClient) -> None:
    page2 = search_json(client, {"count": 2, "startPage": 2})
    assert page2["properties"]["startIndex"] == 3
    assert [f["id"] for f in page2["features"]] == [
        f["id"] for f in search_json(client, {"count": 2, "startIndex": 3})["features"]
    ]
    only_total = search_json(client, {"count": 0, "track": "44"})
    assert only_total["features"] == [] and only_total["properties"]["totalResults"] == 2
    beyond = search_json(client, {"startIndex": 50})
    assert beyond["features"] == [] and beyond["properties"]["totalResults"] == 6


# ---------------------------------------------------------------------- Atom


def test_atom_feed_is_well_formed_and_namespaced(client: TestClient) -> None:
    r = client.get(
        "/opensearch/s1-slc/search",
        params={"count": 3, "startIndex": 2, "geo:box": "-180,-90,180,90"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(r.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{OS}totalResults") == "6"
    assert feed.findtext(f"{OS}startIndex") == "2"
    assert feed.findtext(f"{OS}itemsPerPage") == "3"
    query = feed.find(f"{OS}Query")
    assert query is not None and query.get("role") == "request"
    assert query.get(f"{GEO}box") == "-180,-90,180,90"
    assert feed.findtext(f"{ATOM}title") and feed.findtext(f"{ATOM}updated")
    links = {ln.get("rel"): ln for ln in feed.findall(f"{ATOM}link")}
    assert {"self", "alternate", "first", "previous", "next", "last", "search"} <= set(links)
    assert links["search"].get("type") == "application/opensearchdescription+xml"
    assert parse_qs(urlsplit(links["next"].get("href", "")).query)["startIndex"] == ["5"]
    assert parse_qs(urlsplit(links["previous"].get("href", "")).query)["startIndex"] == ["1"]
    assert links["alternate"].get("type") == "application/geo+json"
    entries = feed.findall(f"{ATOM}entry")
    by_id = {e.findtext("{http://purl.org/dc/elements/1.1/}identifier"): e for e in entries}
    # newest first: the second to the fourth newest
    assert list(by_id) == ["S1B_FIJI_D015_0215", "S1A_ICEL_A016_0201", "S1A_ETNA_A044_0117"]

    iceland = by_id["S1A_ICEL_A016_0201"]
    self_url = f"{BASE}/stac/collections/s1-slc/items/S1A_ICEL_A016_0201"
    assert iceland.findtext(f"{ATOM}id") == self_url
    assert iceland.findtext(f"{ATOM}title") == "S1A_ICEL_A016_0201"
    assert iceland.findtext(f"{ATOM}updated") == "2021-02-01T07:00:00Z"
    assert iceland.findtext("{http://purl.org/dc/elements/1.1/}date") == (
        "2021-02-01T07:00:00Z/2021-02-01T07:00:27Z"
    )
    polygon = iceland.findtext(f"{GEORSS}polygon") or ""
    assert polygon.split()[:4] == ["63.5", "-23", "63.5", "-21"]  # lat lon order
    assert iceland.findtext(f"{EO}orbitDirection") == "ascending"
    assert iceland.findtext(f"{EO}track") == "16"
    assert iceland.findtext(f"{EO}polarisationChannels") == "HH HV"
    entry_links = {ln.get("rel"): ln for ln in iceland.findall(f"{ATOM}link")}
    assert entry_links["alternate"].get("href") == self_url
    assert entry_links["alternate"].get("type") == "application/geo+json"
    assert entry_links["enclosure"].get("href") == (
        "https://datapool.example/S1A_ICEL_A016_0201.zip"
    )
    assert entry_links["enclosure"].get("length") == "4200000000"
    assert entry_links["icon"].get("type") == "image/png"
    # the antimeridian scene is a multi-polygon: GML inside georss:where
    fiji = by_id["S1B_FIJI_D015_0215"]
    assert fiji.find(f"{GEORSS}where/{{http://www.opengis.net/gml}}MultiSurface") is not None


def test_format_negotiation(client: TestClient) -> None:
    url = "/opensearch/s1-slc/search"
    assert client.get(url).headers["content-type"].startswith("application/atom+xml")
    r = client.get(url, params={"httpAccept": "application/geo+json"})
    assert r.headers["content-type"] == "application/geo+json"
    r = client.get(url, headers={"Accept": "application/geo+json"})
    assert r.json()["type"] == "FeatureCollection"
    assert_problem(client.get(url, params={"format": "kml"}), 400, "format")


def test_geojson_features_are_stac_items(client: TestClient) -> None:
    body = search_json(client, {"uid": "S1A_CHIL_D156_0301"})
    assert body["type"] == "FeatureCollection"
    (feat,) = body["features"]
    assert feat["stac_version"] == "1.1.0" and feat["properties"]["sar:product_type"] == "GRD"
    assert {
        "rel": "self",
        "type": "application/geo+json",
        "href": f"{BASE}/stac/collections/s1-slc/items/S1A_CHIL_D156_0301",
    } in feat["links"]
    assert body["properties"]["query"] == {"geo:uid": "S1A_CHIL_D156_0301"}


# ---------------------------------------------------------------------- description document


def test_description_document(client: TestClient) -> None:
    r = client.get("/opensearch/s1-slc/description.xml")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/opensearchdescription+xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{OS}OpenSearchDescription"
    assert root.findtext(f"{OS}ShortName") == "Sentinel-1 SLC"
    assert root.findtext(f"{OS}Description") == "Sentinel-1 IW/EW SLC"
    assert "sar" in (root.findtext(f"{OS}Tags") or "").split()
    urls = {u.get("type"): u for u in root.findall(f"{OS}Url")}
    assert {
        "application/atom+xml",
        "application/geo+json",
        "application/opensearchdescription+xml",
    } <= set(urls)
    template = urls["application/atom+xml"].get("template", "")
    assert template.startswith(f"{BASE}/opensearch/s1-slc/search?")
    for placeholder in (
        "{searchTerms?}",
        "{startIndex?}",
        "{count?}",
        "{geo:box?}",
        "{geo:geometry?}",
        "{geo:uid?}",
        "{time:start?}",
        "{time:end?}",
        "{eo:track?}",
        "{eo:orbitDirection?}",
        "{eo:polarisationChannels?}",
        "{eo:platform?}",
        "{eo:sensorMode?}",
        "{eo:productType?}",
    ):
        assert placeholder in template, placeholder
    assert "{eo:cloudCover?}" not in template  # a radar collection has no cloud cover
    assert urls["application/geo+json"].get("template", "").endswith("format=json")
    params = {p.get("name"): p for p in urls["application/atom+xml"].findall(f"{PARAMS}Parameter")}
    assert params["bbox"].get("value") == "{geo:box}"
    assert params["count"].get("maxInclusive") == "10000"
    assert [o.get("value") for o in params["orbitDirection"]] == ["ascending", "descending"]
    assert [o.get("value") for o in params["sensorMode"]] == ["EW", "IW"]
    assert params["track"].get("pattern")

    s2 = ET.fromstring(client.get("/opensearch/s2-l2a/description.xml").content)
    s2_template = s2.find(f"{OS}Url").get("template", "")  # type: ignore[union-attr]
    assert "{eo:cloudCover?}" in s2_template and "{eo:polarisationChannels?}" not in s2_template


def test_description_templates_work_when_filled_in(client: TestClient) -> None:
    """A client fills the template's placeholders (empty when unused): the URL must work."""
    root = ET.fromstring(client.get("/opensearch/s1-slc/description.xml").content)
    url = next(u for u in root.findall(f"{OS}Url") if u.get("type") == "application/geo+json")
    template = url.get("template", "")
    filled = template.replace("{eo:track?}", "44").replace("{geo:box?}", "14,37,16,38")
    filled = re.sub(r"\{[^}]+\}", "", filled)
    r = client.get(filled[len(BASE) :])
    assert r.status_code == 200, r.text
    assert {f["id"] for f in r.json()["features"]} == {"S1A_ETNA_A044_0105", "S1A_ETNA_A044_0117"}


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"track": "[10,abc]"}, "track"),
        ({"eo:track": "[20,10]"}, "eo:track"),
        ({"cloudCover": "{1,}"}, "cloudCover"),
        ({"geometry": "POLYGON((0 0, 1 1"}, "geometry"),
        ({"geo:geometry": "POLYGON((0 0,1 1,1 0,0 1,0 0))"}, "geo:geometry"),  # self-intersecting
        ({"startIndex": "0"}, "startIndex"),
        ({"startIndex": "x"}, "startIndex"),
        ({"count": "10001"}, "count"),
        ({"start": "2021-13-45"}, "start"),
        ({"time:start": "2021-02-01", "time:end": "2021-01-01"}, "time:end"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"orbitDirection": "sideways"}, "orbitDirection"),
        ({"radius": "1000"}, "radius"),
        ({"lat": "95", "lon": "0"}, "lat"),
        ({"bbox": "0,0,1,1", "geo:box": "0,0,2,2"}, "bbox"),
        ({"relation": "touches"}, "relation"),
    ],
)
def test_malformed_values_are_problems_naming_the_parameter(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    assert_problem(client.get("/opensearch/s1-slc/search", params=params), 400, field)


def test_unknown_collection_is_404(client: TestClient) -> None:
    assert_problem(client.get("/opensearch/nope/search"), 404)
    assert_problem(client.get("/opensearch/nope/description.xml"), 404)


# ---------------------------------------------------------------------- translation unit tests


def test_translation_produces_valid_cql2() -> None:
    queryables = {
        "sat:relative_orbit": "integer",
        "sat:orbit_state": "string",
        "platform": "string",
        "constellation": "string",
        "sar:polarizations": "array",
        "sar:product_type": "string",
        "eo:cloud_cover": "number",
    }
    q = parse_opensearch(
        "s1",
        {
            "track": "[10,20[",
            "platform": "Sentinel-1A,sentinel-1b",
            "orbitDirection": "ASCENDING",
            "polarisationChannels": "VV VH",
            "productType": "slc",
            "cloudCover": "{1,2}",
            "relation": "disjoint",
            "bbox": "170,-20,-170,-10",
            "lat": "10",
            "lon": "20",
            "radius": "1000",
            "start": "2021-01-01",
            "timeRelation": "disjoint",
        },
        queryables,
    )
    assert q.request.collections == ["s1"] and q.request.count is True
    assert q.request.limit == 10 and q.request.offset == 0
    assert q.request.filter is not None
    expr = cql2.parse_json(orjson.dumps(q.request.filter).decode())
    expr.validate()  # standard CQL2-JSON, not a private dialect
    text = expr.to_text()
    assert "s_disjoint" in text and "casei(sat:orbit_state)" in text
    assert q.ignored == []


def test_opensearch_to_search_without_queryables_adds_every_clause() -> None:
    req = opensearch_to_search("s2", {"cloudCover": "[0,20]", "startIndex": "11", "count": "5"})
    assert req.filter == {
        "op": "and",
        "args": [
            {"op": ">=", "args": [{"property": "eo:cloud_cover"}, 0]},
            {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 20]},
        ],
    }
    assert (req.offset, req.limit) == (10, 5)


def test_parse_range_syntax() -> None:
    assert parse_range("5", "k").to_cql2("p") == {"op": "=", "args": [{"property": "p"}, 5]}
    assert parse_range("]1.5,2]", "k").comparisons == ((">", 1.5), ("<=", 2))
    assert parse_range("{1, 2,3}", "k").members == (1, 2, 3)
    with pytest.raises(InvalidInput) as err:
        parse_range("[1,2", "eo:track")
    assert err.value.field == "eo:track"
