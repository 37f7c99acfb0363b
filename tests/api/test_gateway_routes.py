"""``/gateway``: mirrors are the administrators' (403 for users, 401 for anonymous callers,
problems naming the member for bad definitions), prefetching is any signed-in user's on what
they may see (404 otherwise, before anything is queued), the counters are the
administrators'."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import ADMIN_HEADERS, api_client, user_headers
from tests.support.replay_server import ReplayServer

PRODUCT = b"II*\x00" + bytes(range(256)) * 40


@dataclass
class World:
    c: TestClient
    h: dict[str, dict[str, str]]
    files: ReplayServer
    data: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp("gateway-routes"))
    data = tmp / "data"
    (data / "mirror").mkdir(parents=True)
    (data / "local.tif").write_bytes(PRODUCT)
    with (
        ReplayServer() as files,
        api_client(tmp / "home", admin=False, data_roots=str(data), fetch_allow="127.0.0.1") as c,
    ):
        h: dict[str, dict[str, str]] = {"anonymous": {}, "admin": ADMIN_HEADERS}
        for name in ("U", "V"):
            h[name] = user_headers(c, name)
        pub = {"id": "pub", "description": "public", "gep:visibility": "public"}
        assert c.post("/stac/collections", json=pub, headers=ADMIN_HEADERS).is_success
        assert c.post(
            "/stac/collections", json={"id": "own-V", "description": "V's"}, headers=h["V"]
        ).is_success
        files.add("GET", "/p/a.tif", PRODUCT, "image/tiff")
        files.add("GET", "/p/secret.tif", PRODUCT, "image/tiff")
        for coll, item_id, href, who in (
            ("pub", "a", f"{files.url}/p/a.tif", "admin"),
            ("pub", "local", (data / "local.tif").as_uri(), "admin"),
            ("own-V", "secret", f"{files.url}/p/secret.tif", "V"),
        ):
            r = c.post(f"/stac/collections/{coll}/items", json=_item(item_id, href), headers=h[who])
            assert r.status_code == 201, r.text
        yield World(c, h, files, data)


def _item(item_id: str, href: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": item_id,
        "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": {
            "data": {"href": href, "type": "image/tiff", "roles": ["data"]},
            "thumbnail": {"href": href, "type": "image/tiff", "roles": ["thumbnail"]},
        },
    }


MIRROR = {
    "kind": "http",
    "url": "https://archive.test/s1",
    "collections": ["pub"],
    "priority": 5,
    "credentials": {"token_env": "GEP_MIRROR_ARCHIVE_TOKEN"},
}


def test_mirrors_are_for_administrators(world: World) -> None:
    w = world
    for who, status in (("anonymous", 401), ("U", 403)):
        for method, path, body in (
            ("GET", "/gateway/mirrors", None),
            ("GET", "/gateway/mirrors/m1", None),
            ("PUT", "/gateway/mirrors/m1", MIRROR),
            ("DELETE", "/gateway/mirrors/m1", None),
            ("GET", "/gateway/stats", None),
        ):
            r = w.c.request(method, path, json=body, headers=w.h[who])
            assert r.status_code == status, (who, method, path, r.text)
            assert r.headers["content-type"] == "application/problem+json"
    admin = w.h["admin"]
    r = w.c.put("/gateway/mirrors/m1", json=MIRROR, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["credentials"] == {"token_env": "GEP_MIRROR_ARCHIVE_TOKEN"}
    r = w.c.put("/gateway/mirrors/m1", json={**MIRROR, "priority": 7}, headers=admin)
    assert r.status_code == 200 and r.json()["priority"] == 7
    local = {"kind": "local", "url": str(w.data / "mirror"), "collections": ["*"]}
    assert w.c.put("/gateway/mirrors/m0", json=local, headers=admin).status_code == 201
    listed = w.c.get("/gateway/mirrors", headers=admin).json()["mirrors"]
    assert [m["name"] for m in listed] == ["m1", "m0"]  # the order they are tried in
    assert w.c.get("/gateway/mirrors/m1", headers=admin).json()["url"] == MIRROR["url"]
    for name in ("m1", "m0"):
        assert w.c.delete(f"/gateway/mirrors/{name}", headers=admin).status_code == 204
    assert w.c.get("/gateway/mirrors/m1", headers=admin).status_code == 404
    assert w.c.delete("/gateway/mirrors/m1", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("change", "member"),
    [
        ({"credentials": {"token": "s3cr3t"}}, "credentials.token"),
        ({"credentials": {"token_env": "HOME"}}, "credentials.token_env"),
        ({"url": "https://user:pw@archive.test/s1"}, "url"),
        ({"kind": "local", "url": "/etc", "credentials": {}}, "url"),
        ({"collections": "not a list of one"}, "collections"),
        ({"priority": -1}, "priority"),
        ({"kind": "gopher"}, "kind"),
    ],
)
def test_bad_mirror_definitions_are_refused_naming_the_member(
    world: World, change: dict[str, Any], member: str
) -> None:
    r = world.c.put("/gateway/mirrors/bad", json={**MIRROR, **change}, headers=ADMIN_HEADERS)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == member
    assert world.c.get("/gateway/mirrors/bad", headers=ADMIN_HEADERS).status_code == 404


def _stats(w: World) -> dict[str, Any]:
    return dict(w.c.get("/gateway/stats", headers=ADMIN_HEADERS).json())


def test_a_user_prefetches_what_they_may_see(world: World) -> None:
    w = world
    assert w.c.post("/gateway/prefetch", json={"items": ["pub/a"]}).status_code == 401
    r = w.c.post("/gateway/prefetch", json={"items": ["own-V/secret"]}, headers=w.h["U"])
    assert r.status_code == 404, r.text
    r = w.c.post("/gateway/prefetch", json={"items": ["pub/a", "own-V/secret"]}, headers=w.h["U"])
    assert r.status_code == 404  # nothing queued when one of them is not theirs to see
    assert not any(q.path == "/p/a.tif" for q in w.files.requests)
    r = w.c.post("/gateway/prefetch", json={"items": ["pub/a", "pub/local"]}, headers=w.h["U"])
    assert r.status_code == 202, r.text
    assert r.json() == {
        "assets": [
            {"item": "pub/a", "asset": "data", "status": "queued"},  # the data asset only
            {"item": "pub/local", "asset": "data", "status": "local"},
        ],
        "queued": 1,
    }
    source = "href:" + w.files.url.removeprefix("http://")
    deadline = time.monotonic() + 10
    while source not in _stats(w)["sources"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stats = _stats(w)
    assert stats["sources"][source]["misses"] == 1
    assert stats["sources"][source]["bytes_fetched"] == len(PRODUCT)
    assert stats["cache"]["entries"] == 1 and stats["cache"]["bytes"] == len(PRODUCT)
    r = w.c.post(
        "/gateway/prefetch", json={"items": ["pub/a"], "assets": ["data"]}, headers=w.h["V"]
    )
    assert r.json()["assets"][0]["status"] == "cached" and r.json()["queued"] == 0
    assert len([q for q in w.files.requests if q.path == "/p/a.tif"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "items"),
        ({"items": []}, "items"),
        ({"items": ["no-slash"]}, "items[0]"),
        ({"items": ["pub/a"] * 101}, "items"),
        ({"items": ["pub/a"], "assets": "data"}, "assets"),
        ({"items": ["pub/a"], "assets": ["nope"]}, "assets"),
        ([1, 2], "body"),
    ],
)
def test_bad_prefetch_requests_are_refused(world: World, body: Any, field: str) -> None:
    r = world.c.post("/gateway/prefetch", json=body, headers=world.h["U"])
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
