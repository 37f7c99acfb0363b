"""Bounded requests (issue #14): caps on search inputs, a body size cap, and no 500 from input.

Each input here was a 500 (or a crash of the whole server) before the caps: deep CQL2 that
overflows the ``cql2`` parser's stack, a filter SQLite finds too deep, NUL in free text,
a million ids, OpenSearch offsets past 64 bits, tampered paging tokens, a repeated id in a
bulk write. The crash cases run against a real ``gep serve`` process, which must still answer.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gep.catalog.db_refusals import refused_by_database
from gep.catalog.opensearch.translate import parse_opensearch
from gep.catalog.search import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_TERMS,
    MAX_GEOMETRY_VERTICES,
    MAX_IDS,
    MAX_OFFSET,
    MAX_PARAM_CHARS,
    build_search,
)
from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput
from tests.support.app import api_client
from tests.support.problems import assert_problem
from tests.support.serving import free_port, start_gep_serve, stop
from tests.support.stores import BACKENDS, scratch_postgis_database

PROBLEM = "application/problem+json"
COLL = "bounded"


def _item(iid: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": iid,
        "geometry": {"type": "Point", "coordinates": [15.0, 37.7]},
        "bbox": [15.0, 37.7, 15.0, 37.7],
        "properties": {
            "datetime": "2024-05-01T10:00:00Z",
            "title": f"scene {iid}",
            "eo:cloud_cover": 10,
            **props,
        },
        "links": [],
        "assets": {},
    }


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A database of its own, so the shared test database's truncations do not interfere."""
    with scratch_postgis_database("gep_bounded") as url:
        yield url


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An API on each backend with one collection of three items (default body cap)."""
    db = request.getfixturevalue("pg_database") if request.param == "postgis" else ""
    home = Path(tmp_path_factory.mktemp(f"bounded-{request.param}"))
    with api_client(
        home, raise_server_exceptions=False, base_url="http://gep.test", database_url=db
    ) as c:
        coll = {"id": COLL, "description": "bounded", "gep:visibility": "public"}
        assert c.post("/stac/collections", json=coll).status_code == 201
        feats = [_item(f"s{n}") for n in range(3)]
        r = c.post(f"/stac/collections/{COLL}/items", json={"type": "FeatureCollection",
                                                          "features": feats})  # fmt: skip
        assert r.status_code == 201, r.text
        yield c


# ---------------------------------------------------------------------- the former 500s


def _or_terms(n: int) -> str:
    return " OR ".join(f"id = 's{i}'" for i in range(n))


def test_a_thousand_filter_terms_are_refused_naming_the_limit(api: TestClient) -> None:
    r = api.get("/stac/search", params={"filter": _or_terms(1000)})  # was 500 on SQLite
    body = assert_problem(r, 400, "filter")
    assert body["limit"] == MAX_FILTER_TERMS and str(MAX_FILTER_TERMS) in body["detail"]
    r = api.post("/stac/search", json={"filter": _or_terms(1000), "filter-lang": "cql2-text"})
    assert_problem(r, 400, "filter")


def test_a_long_filter_under_the_cap_still_runs(api: TestClient) -> None:
    """600 OR-ed comparisons (1 801 terms) are accepted, and SQLite runs them: the OR chain
    is grouped so it is not 600 expression levels deep."""
    r = api.get("/stac/search", params={"filter": _or_terms(600)})
    assert r.status_code == 200, r.text
    assert sorted(f["id"] for f in r.json()["features"]) == ["s0", "s1", "s2"]
    flat = {"op": "or", "args": [True] * (MAX_FILTER_TERMS - 2)}
    r = api.post("/stac/search", json={"filter": flat})
    assert r.status_code == 200, r.text
    assert len(r.json()["features"]) == 3


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/stac/search", "q"),
        (f"/stac/collections/{COLL}/items", "q"),
        (f"/opensearch/{COLL}/search", "q"),
        (f"/opensearch/{COLL}/search", "searchTerms"),
        ("/stac/collections", "q"),
        ("/stac/search", "ids"),
        ("/stac/search", "collections"),
        ("/stac/search", "filter"),
    ],
)
def test_a_nul_character_is_a_400(api: TestClient, path: str, key: str) -> None:
    value = "id = 'a\x00b'" if key == "filter" else "etna\x00"
    r = api.get(path, params={key: value})
    body = assert_problem(r, 400, key)
    assert "NUL" in body["detail"]


def test_a_nul_character_in_a_post_search_is_a_400(api: TestClient) -> None:
    assert_problem(api.post("/stac/search", json={"q": ["etna\x00"]}), 400, "q")
    r = api.post("/stac/search", json={"query": {"title": {"eq": "a\x00"}}})
    assert_problem(r, 400, "query")


def test_a_million_ids_are_refused_at_once(api: TestClient) -> None:
    ids = [f"S1A_{n:07d}" for n in range(1_000_000)]
    r = api.post("/stac/search", json={"ids": ids})  # 13 MB: under the body cap
    body = assert_problem(r, 400, "ids")
    assert body["limit"] == MAX_IDS
    # a GET query as long as a URL may be (64 kB for httpx) with one id too many
    many = ",".join(str(n) for n in range(MAX_IDS + 1))
    assert assert_problem(api.get(f"/stac/search?ids={many}"), 400, "ids")["limit"] == MAX_IDS
    r = api.get(f"/opensearch/{COLL}/search?uid={many}")
    assert assert_problem(r, 400, "uid")["limit"] == MAX_IDS
    # longer parameters (servers without a URL limit) are refused before they are split
    with pytest.raises(InvalidInput) as info:
        build_search({"ids": ",".join(ids)}, from_get=True)
    assert info.value.field == "ids" and info.value.extra["limit"] == MAX_PARAM_CHARS


def test_the_most_ids_allowed_run_on_the_database(api: TestClient) -> None:
    ids = [f"s{n}" for n in range(MAX_IDS)]
    r = api.post("/stac/search", json={"ids": ids, "limit": 100})
    assert r.status_code == 200, r.text
    assert sorted(f["id"] for f in r.json()["features"]) == ["s0", "s1", "s2"]


def test_opensearch_offsets_past_64_bits_are_400(api: TestClient) -> None:
    path = f"/opensearch/{COLL}/search"
    body = assert_problem(api.get(path, params={"startIndex": str(2**70)}), 400, "startIndex")
    assert body["limit"] == MAX_OFFSET + 1
    r = api.get(path, params={"startPage": str(2**62), "count": "100"})
    assert_problem(r, 400, "startPage")
    r = api.get(path, params={"startPage": str(MAX_OFFSET), "count": "100"})
    assert_problem(r, 400, "startPage")
    r = api.get(path, params={"startIndex": "9" * 5000})
    assert_problem(r, 400, "startIndex")
    # the largest start there is answers, with nothing on the page
    r = api.get(path, params={"startIndex": str(MAX_OFFSET + 1), "format": "json"})
    assert r.status_code == 200 and r.json()["features"] == []


def _token(values: list[Any]) -> str:
    # json, not orjson: orjson cannot write an integer past 64 bits
    return base64.urlsafe_b64encode(json.dumps({"d": "next", "k": values}).encode()).decode()


@pytest.mark.parametrize(
    "values",
    [
        [2**80, "s1", COLL],  # past 64 bits
        ["yesterday", "s1", COLL],  # text where the datetime goes
        [{"a": 1}, "s1", COLL],  # an object
        [1714557600000000, "s\x001", COLL],  # NUL
    ],
)
def test_tampered_tokens_are_400(api: TestClient, values: list[Any]) -> None:
    assert_problem(api.get("/stac/search", params={"token": _token(values)}), 400, "token")
    r = api.get(f"/stac/collections/{COLL}/items", params={"token": _token(values)})
    assert_problem(r, 400, "token")


def test_paging_numbers_out_of_range_are_400(api: TestClient) -> None:
    assert_problem(api.post("/stac/search", content=b'{"limit": 1e400}'), 400, "body")
    assert_problem(api.get("/stac/search", params={"limit": "9" * 5000}), 400, "limit")
    assert_problem(api.get("/stac/collections", params={"token": str(2**70)}), 400, "token")
    assert_problem(
        api.get(f"/opensearch/{COLL}/search", params={"count": str(2**70)}), 400, "count"
    )


def _ring(n: int) -> list[list[float]]:
    pts = [[15 + 0.001 * (k % 500), 37 + 0.001 * (k // 500)] for k in range(n)]
    return [*pts, pts[0]]


def test_intersects_vertices_are_capped(api: TestClient) -> None:
    big = {"type": "Polygon", "coordinates": [_ring(MAX_GEOMETRY_VERTICES + 10)]}
    body = assert_problem(api.post("/stac/search", json={"intersects": big}), 400, "intersects")
    assert body["limit"] == MAX_GEOMETRY_VERTICES
    r = api.post("/stac/search", json={"filter": {"op": "s_intersects", "args": [
        {"property": "geometry"}, big]}})  # fmt: skip
    assert_problem(r, 400, "filter")
    # WKT that long does not fit in a URL httpx sends: translated directly
    wkt = "POLYGON((" + ",".join("15 37" for _ in range(MAX_GEOMETRY_VERTICES + 10)) + "))"
    with pytest.raises(InvalidInput) as info:
        parse_opensearch(COLL, {"geometry": wkt})
    assert info.value.field == "geometry" and info.value.extra["limit"] == MAX_GEOMETRY_VERTICES
    deep = "GEOMETRYCOLLECTION(" * 200 + "POINT(15 37)" + ")" * 200
    assert_problem(
        api.get(f"/opensearch/{COLL}/search", params={"geometry": deep}), 400, "geometry"
    )


@pytest.mark.parametrize(
    "path", ["/stac/search", f"/stac/collections/{COLL}/items"], ids=["search", "items"]
)
def test_deep_filters_are_refused_before_the_parser(api: TestClient, path: str) -> None:
    deep = {
        "parentheses": "(" * 1600 + "id = 'x'" + ")" * 1600,
        "NOT": "NOT " * 5000 + "id = 'x'",
        "signs": "- " * 5000 + "5 = id",
    }
    for text_ in deep.values():
        body = assert_problem(api.get(path, params={"filter": text_}), 400, "filter")
        assert body["limit"] == MAX_FILTER_DEPTH
    tree: dict[str, Any] = {"op": "=", "args": [{"property": "id"}, "x"]}
    for _ in range(MAX_FILTER_DEPTH + 20):
        tree = {"op": "not", "args": [tree]}
    r = api.get(path, params={"filter": orjson.dumps(tree).decode(), "filter-lang": "cql2-json"})
    assert_problem(r, 400, "filter")
    # just inside the limit is parsed and run
    ok = "(" * (MAX_FILTER_DEPTH - 1) + "id = 's1'" + ")" * (MAX_FILTER_DEPTH - 1)
    r = api.get(path, params={"filter": ok})
    assert r.status_code == 200, r.text
    assert [f["id"] for f in r.json()["features"]] == ["s1"]


def test_a_deep_json_filter_in_a_post_body_is_refused(api: TestClient) -> None:
    depth = 300  # 600 JSON levels: orjson reads it, the filter's cap refuses it
    raw = '{"filter": ' + '{"op": "not", "args": [' * depth + "true" + "]}" * depth + "}"
    assert_problem(api.post("/stac/search", content=raw.encode()), 400, "filter")
    raw = '{"filter": ' + "[" * 2000 + "]" * 2000 + "}"  # past orjson's own depth limit
    assert_problem(api.post("/stac/search", content=raw.encode()), 400, "body")


# ---------------------------------------------------------------------- the database's refusals


def test_a_database_refusal_is_an_invalid_input(store: CatalogStore) -> None:
    # SQLite: an expression 1 200 levels deep; PostgreSQL: a NUL in text, a number too big
    refused: list[tuple[str, dict[str, Any]]] = (
        [("SELECT 1" + " + 1" * 1200, {})]
        if store.dialect.name == "sqlite"
        else [("SELECT CAST(:v AS text)", {"v": "a\x00b"}),
              ("SELECT CAST(:v AS bigint)", {"v": "9" * 30})]
    )  # fmt: skip
    for sql, params in refused:
        with (
            pytest.raises(InvalidInput) as info,
            refused_by_database("filter"),
            store.engine.connect() as conn,
        ):
            conn.execute(text(sql), params)
        assert info.value.field == "filter" and "cannot run this search" in info.value.message
    # an error that is not about the input stays what it is (a 500 for the API)
    with (
        pytest.raises(Exception) as other,
        refused_by_database("filter"),
        store.engine.connect() as conn,
    ):
        conn.execute(text("SELEKT 1"))
    assert not isinstance(other.value, InvalidInput)


# ---------------------------------------------------------------------- bulk writes


def test_a_repeated_id_in_a_bulk_write_keeps_the_last(api: TestClient) -> None:
    feats = [_item("dup", version=1), _item("single"), _item("dup", version=2)]
    r = api.post(f"/stac/collections/{COLL}/items",
                 json={"type": "FeatureCollection", "features": feats})  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json() == {"created": 2, "superseded": [{"position": 0, "id": "dup"}]}
    got = api.get(f"/stac/collections/{COLL}/items/dup").json()
    assert got["properties"]["version"] == 2
    assert api.get(f"/stac/collections/{COLL}/items/single").status_code == 200
    r = api.get("/stac/search", params={"q": "dup", "collections": COLL})
    assert [f["id"] for f in r.json()["features"]] == ["dup"]  # one full-text row
    for iid in ("dup", "single"):
        assert api.delete(f"/stac/collections/{COLL}/items/{iid}").status_code == 204


def test_store_ingest_with_a_repeated_id_writes_the_rest(store: CatalogStore) -> None:
    store.create_collection({"id": "c", "description": "c"})
    items = [_item("a", version=1), _item("b"), _item("a", version=2), _item("c")]
    report = store.write_items(items, collection="c", atomic=False)
    assert report.failed == [] and report.written == 3
    assert [(f.position, f.item_id) for f in report.superseded] == [(0, "a")]
    assert orjson.loads(store.get_item("c", "a"))["properties"]["version"] == 2
    for iid in ("b", "c"):
        assert orjson.loads(store.get_item("c", iid))["id"] == iid
    report = store.write_items(items, collection="c", mode="upsert", atomic=True)
    assert report.written == 3 and len(report.superseded) == 1


# ---------------------------------------------------------------------- body size cap


def test_a_body_over_the_cap_is_413_in_process(tmp_path: Path) -> None:
    with api_client(tmp_path, admin=False, raise_server_exceptions=False, max_body_bytes=4096) as c:
        r = c.post("/stac/search", content=b'{"q": "' + b"x" * 5000 + b'"}')
        body = assert_problem(r, 413, "body")
        assert body["limit"] == 4096 and "4096" in body["detail"]
        assert body["type"].endswith("/payload-too-large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"q": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}'

        assert_problem(c.post("/stac/search", content=chunks()), 413, "body")
        ids = [f"i{n}" for n in range(300)]  # 3.5 kB
        assert c.post("/stac/search", json={"ids": ids}).status_code == 200


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``gep serve`` with a 64 KiB body cap."""
    port = free_port()
    proc = start_gep_serve(
        Path(tmp_path_factory.mktemp("bounded-serve")), port, max_body_bytes="65536"
    )
    try:
        yield f"http://127.0.0.1:{port}"
        assert proc.poll() is None, "gep serve died"
    finally:
        stop(proc)


def _alive(url: str) -> None:
    assert httpx.get(f"{url}/", timeout=10).status_code == 200
    assert httpx.get(f"{url}/stac/search", timeout=10).status_code == 200


def test_deep_filters_do_not_kill_gep_serve(served: str) -> None:
    for deep in (
        "(" * 1600 + "id = 'x'" + ")" * 1600,
        "NOT " * 5000 + "id = 'x'",
        "- " * 5000 + "5 = id",
    ):
        r = httpx.get(f"{served}/stac/search", params={"filter": deep}, timeout=30)
        assert_problem(r, 400, "filter")
        _alive(served)
    r = httpx.get(f"{served}/stac/search", params={"filter": _or_terms(1000)}, timeout=30)
    assert_problem(r, 400, "filter")
    _alive(served)


def _raw_post(url: str, head: bytes, body: bytes) -> bytes:
    """Send a request by hand (headers, then part of a body) and read the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_bodies_over_the_cap_are_413_on_gep_serve(served: str) -> None:
    big = b'{"q": "' + b"x" * 100_000 + b'"}'
    r = httpx.post(f"{served}/stac/search", content=big, timeout=30)
    body = assert_problem(r, 413, "body")
    assert body["limit"] == 65536

    def chunks() -> Iterator[bytes]:
        yield b'{"q": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    r = httpx.post(f"{served}/stac/search", content=chunks(), timeout=30)
    assert_problem(r, 413, "body")
    _alive(served)
    # four anonymous "100 MB" searches: refused on their headers, the body never read
    head = (
        b"POST /stac/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    for _ in range(4):
        answer = _raw_post(served, head, b'{"q": "' + b"x" * 60_000)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    _alive(served)
    # at the cap, a search is served
    ids = [f"i{n}" for n in range(5000)]  # 45 kB
    r = httpx.post(f"{served}/stac/search", json={"ids": ids}, timeout=30)
    assert r.status_code == 200, r.text
