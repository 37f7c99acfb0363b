"""Strict ids, the platform's own collections, and nothing private leaking through metadata.

On each backend, user A keeps private things with names nobody else uses (a collection with a
unique property, a private item with another in a public collection, a private service); user
B (a developer, so that deploying is theirs to try) and anonymous callers must not learn of
them from queryables, counts, error texts or an "already exists". P is a plain user who tries
to take the ``results`` collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gep.catalog.access import Access, is_reserved_collection
from gep.catalog.store import CatalogStore
from gep.core.errors import Forbidden
from gep.core.ids import ID_PATTERN, check_id, is_valid_id
from gep.jobs.publish import RESULTS_COLLECTION
from tests.support.app import ADMIN_HEADERS, api_client, wait_for_job
from tests.support.problems import assert_problem
from tests.support.rasters import write_test_raster
from tests.support.services import ECHO_VALIDATION, validate_and_share
from tests.support.stores import BACKENDS, scratch_postgis_database

TOOL = """
cwlVersion: v1.2
class: CommandLineTool
id: "{id}"
{validation}baseCommand: echo
inputs:
  message: {{type: string, inputBinding: {{position: 1}}}}
outputs:
  result: {{type: stdout}}
stdout: out.txt
"""
SECRET_COLL = "a-secret-coll"
SECRET_PROP = "a_only_secret_prop"
HIDDEN_ITEM_PROP = "a_only_item_prop"
PUBLIC_PROP = "everyone_prop"


def _tool(process_id: str) -> str:
    """A's test package, with the samples that validate it."""
    return TOOL.format(validation=ECHO_VALIDATION, id=process_id)


def _item(item_id: str, props: dict[str, Any], href: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "Feature",
        "id": item_id,
        "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
        "properties": {"datetime": "2024-01-01T00:00:00Z", **props},
        "assets": {},
    }
    if href is not None:
        item["assets"] = {"data": {"href": href, "type": "image/tiff", "roles": ["data"]}}
    return item


@dataclass
class World:
    client: TestClient
    headers: dict[str, dict[str, str]]

    def call(self, who: str, method: str, path: str, **kw: Any) -> Any:
        return self.client.request(
            method, path, headers={**self.headers[who], **kw.pop("headers", {})}, **kw
        )


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp(f"leaks-{request.param}"))
    raster = tmp / "data" / "tiny.tif"
    raster.parent.mkdir()
    write_test_raster(raster)
    with ExitStack() as stack:
        db = ""
        if request.param == "postgis":
            db = stack.enter_context(scratch_postgis_database("gep_leaks"))
        yield from _world(tmp, raster, db)


def _world(tmp: Path, raster: Path, db: str) -> Iterator[World]:
    with api_client(
        tmp / "home",
        admin=False,
        base_url="http://gep.test",
        database_url=db,
        data_roots=str(raster.parent),
    ) as c:
        headers: dict[str, dict[str, str]] = {"anonymous": {}, "admin": ADMIN_HEADERS}
        assert c.post("/accounts/groups", json={"name": "g1"}, headers=ADMIN_HEADERS).is_success
        for user, role in (("A", "developer"), ("B", "developer"), ("P", "user")):
            r = c.post(
                "/accounts/users",
                json={"name": user, "role": role, "credits": 50, "token": True},
                headers=ADMIN_HEADERS,
            )
            assert r.status_code == 201, r.text
            headers[user] = {"Authorization": f"Bearer {r.json()['token']}"}
        w = World(c, headers)
        # A: a private collection with a property no one else has
        coll = {"id": SECRET_COLL, "description": "A's", "gep:visibility": "private"}
        assert w.call("A", "POST", "/stac/collections", json=coll).status_code == 201
        r = w.call("A", "POST", f"/stac/collections/{SECRET_COLL}/items",
                   json=_item("s1", {SECRET_PROP: 7}))  # fmt: skip
        assert r.status_code == 201, r.text
        # A: a public collection, one public item and one made private, with its own name
        coll = {"id": "a-open", "description": "A's open", "gep:visibility": "public"}
        assert w.call("A", "POST", "/stac/collections", json=coll).status_code == 201
        for iid, props in (("o1", {PUBLIC_PROP: 1}), ("o2", {HIDDEN_ITEM_PROP: "x"})):
            r = w.call("A", "POST", "/stac/collections/a-open/items", json=_item(iid, props))
            assert r.status_code == 201, r.text
        r = w.call("A", "PATCH", "/stac/collections/a-open/items/o2",
                   json={"visibility": "private"})  # fmt: skip
        assert r.status_code == 200, r.text
        # A: a private service, and a public one
        for sid in ("svc-hidden", "svc-open"):
            r = w.call("A", "POST", "/processes",
                       content=_tool(sid),
                       headers={"content-type": "application/cwl+yaml"})  # fmt: skip
            assert r.status_code == 201, r.text
        validate_and_share(c, {"svc-open": "public"}, headers["A"])
        # the administrator: a public raster item jobs can read
        coll = {"id": "rasters", "description": "public rasters"}
        assert w.call("admin", "POST", "/stac/collections", json=coll).status_code == 201
        r = w.call("admin", "POST", "/stac/collections/rasters/items",
                   json=_item("tiny", {}, href=raster.as_uri()))  # fmt: skip
        assert r.status_code == 201, r.text
        yield w


# ---------------------------------------------------------------------- the id rule

VALID = [
    "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1",
    "S2A_MSIL1C_20200815T005251_N0209_R002_T55PBQ_20200815T023440.SAFE",
    "continent:NorthAmerica:6255149",
    "...",
    "a b",
    "Étna-2024",
    "x" * 256,
]
INVALID = [".", "..", "", "a/b", "a\\b", "a\x00b", "a\nb", "a\x7f", " lead", "trail ", "x" * 257]


@pytest.mark.parametrize("value", VALID)
def test_the_id_rule_accepts_product_names(value: str) -> None:
    assert is_valid_id(value) and check_id(value) == value


@pytest.mark.parametrize("value", INVALID)
def test_the_id_rule_refuses_path_segments_and_control_characters(value: str) -> None:
    assert not is_valid_id(value)
    with pytest.raises(Exception, match="not a valid id") as info:
        check_id(value, "item.id")
    assert getattr(info.value, "field", None) == "item.id"


def test_the_published_pattern_is_the_rule() -> None:
    import re

    pattern = re.compile(ID_PATTERN)
    for v in VALID:
        assert pattern.search(v), v
    for v in [*INVALID, "abc\n"]:
        assert not pattern.search(v), v


BAD_IDS = [".", "..", "a\x00b", "a/b"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_are_refused_on_collections_and_items(world: World, bad: str) -> None:
    r = world.call("B", "POST", "/stac/collections", json={"id": bad, "description": "x"})
    assert_problem(r, 400, "id", "not a valid id")
    coll = f"b-ids-{BAD_IDS.index(bad)}"
    assert world.call("B", "POST", "/stac/collections", json={"id": coll}).status_code == 201
    r = world.call("B", "POST", f"/stac/collections/{coll}/items", json=_item(bad, {}))
    assert_problem(r, 400, "items[0].id", "not a valid id")
    bulk = {"type": "FeatureCollection", "features": [_item("fine", {}), _item(bad, {})]}
    r = world.call("B", "POST", f"/stac/collections/{coll}/items", json=bulk)
    assert_problem(r, 400, "items[1].id", "not a valid id")
    r = world.call("B", "POST", f"/stac/collections/{coll}/bulk_items",
                   json={"items": {bad: _item(bad, {})}})  # fmt: skip
    assert r.status_code == 400 and "not a valid id" in r.json()["detail"], r.text
    # nothing went in
    r = world.call("B", "GET", f"/stac/collections/{coll}/items")
    assert r.json()["features"] == []


@pytest.mark.parametrize("bad", [".", "..", "a\\\\b", "a\\0b", "a\\x01b"])
def test_bad_process_ids_are_refused_on_deploy(world: World, bad: str) -> None:
    r = world.call("B", "POST", "/processes", content=_tool(bad),
                   headers={"content-type": "application/cwl+yaml"})  # fmt: skip
    assert_problem(r, 400, "id", "not a valid id")


# ---------------------------------------------------------------------- hidden looks missing


def test_a_hidden_collections_id_is_not_available_rather_than_taken(world: World) -> None:
    r = world.call("B", "POST", "/stac/collections", json={"id": SECRET_COLL})
    body = assert_problem(r, 403, "id", "not available")
    assert "exists" not in body["detail"] and "private" not in body["detail"]
    # an id the caller may see stays a conflict, and the owner's own too
    assert_problem(world.call("B", "POST", "/stac/collections", json={"id": "a-open"}), 409, "id",
                   "already exists")  # fmt: skip
    assert_problem(
        world.call("A", "POST", "/stac/collections", json={"id": SECRET_COLL}), 409, "id"
    )
    # and nothing changed for A
    r = world.call("A", "GET", f"/stac/collections/{SECRET_COLL}")
    assert r.status_code == 200 and r.json()["description"] == "A's"


def test_a_hidden_services_id_is_not_available_rather_than_taken(world: World) -> None:
    r = world.call("B", "POST", "/processes", content=_tool("svc-hidden"),
                   headers={"content-type": "application/cwl+yaml"})  # fmt: skip
    body = assert_problem(r, 403, "id", "not available")
    assert "exists" not in body["detail"]
    r = world.call("B", "POST", "/processes", content=_tool("svc-open"),
                   headers={"content-type": "application/cwl+yaml"})  # fmt: skip
    assert_problem(r, 409, "id", "already exists")
    assert world.call("A", "GET", "/processes/svc-hidden").status_code == 200


# ---------------------------------------------------------------------- metadata


def _queryable_names(world: World, who: str, path: str = "/stac/queryables") -> set[str]:
    r = world.call(who, "GET", path)
    assert r.status_code == 200, r.text
    return set(r.json()["properties"])


def test_queryables_list_only_what_the_caller_may_see(world: World) -> None:
    for who in ("B", "anonymous", "P"):
        names = _queryable_names(world, who)
        assert PUBLIC_PROP in names, who
        assert SECRET_PROP not in names and HIDDEN_ITEM_PROP not in names, (who, names)
        names = _queryable_names(world, who, "/stac/collections/a-open/queryables")
        assert PUBLIC_PROP in names and HIDDEN_ITEM_PROP not in names, (who, names)
        assert (
            world.call(who, "GET", f"/stac/collections/{SECRET_COLL}/queryables").status_code == 404
        )
    for who in ("A", "admin"):
        assert {SECRET_PROP, HIDDEN_ITEM_PROP, PUBLIC_PROP} <= _queryable_names(world, who)
        assert HIDDEN_ITEM_PROP in _queryable_names(
            world, who, "/stac/collections/a-open/queryables"
        )


def test_filter_and_sort_errors_name_only_visible_properties(world: World) -> None:
    for who, sees in (("B", False), ("anonymous", False), ("A", True)):
        r = world.call(who, "GET", "/stac/search", params={"filter": "no_such_prop = 1"})
        assert r.status_code == 400, r.text
        assert (SECRET_PROP in r.text) is sees and (HIDDEN_ITEM_PROP in r.text) is sees, (
            who,
            r.text,
        )
        r = world.call(who, "GET", "/stac/search", params={"sortby": "-no_such_prop"})
        assert r.status_code == 400, r.text
        assert (SECRET_PROP in r.text) is sees, (who, r.text)
        # a hidden property is not a queryable for them: filtering on it is refused as unknown
        r = world.call(who, "GET", "/stac/search", params={"filter": f"{SECRET_PROP} = 7"})
        if sees:
            assert r.status_code == 200 and [f["id"] for f in r.json()["features"]] == ["s1"]
        else:
            assert r.status_code == 400 and "s1" not in r.text, r.text


def test_counts_exclude_what_the_caller_may_not_see(world: World) -> None:
    def matched(who: str, **params: Any) -> int:
        r = world.call(who, "GET", "/stac/search", params={"count": "true", **params})
        assert r.status_code == 200, r.text
        return int(r.json()["numberMatched"])

    # A's three items and the administrator's raster, plus whatever results jobs published
    a_only = {"collections": f"{SECRET_COLL},a-open,rasters"}
    assert matched("A", **a_only) == 4
    assert matched("admin", **a_only) == 4
    assert matched("B", **a_only) == 2  # o1 and the raster
    assert matched("anonymous", **a_only) == 2
    assert matched("B", collections="a-open") == 1
    assert matched("B", ids="s1,o2") == 0 and matched("A", ids="s1,o2") == 2
    r = world.call("B", "GET", "/stac/collections/a-open/items")
    assert [f["id"] for f in r.json()["features"]] == ["o1"]
    page = world.call("B", "GET", "/stac/collections").json()
    ids = {c["id"] for c in page["collections"]}
    assert SECRET_COLL not in ids and "a-open" in ids
    assert page["numberMatched"] == len(ids)
    page = world.call("A", "GET", "/stac/collections").json()
    assert SECRET_COLL in {c["id"] for c in page["collections"]}
    assert page["numberMatched"] == len(page["collections"])


def test_sharing_with_a_group_says_the_same_whether_it_exists(world: World) -> None:
    coll = {"id": "b-share", "description": "B's"}
    assert world.call("B", "POST", "/stac/collections", json=coll).status_code == 201
    answers = []
    for group in ("g1", "no-such-group"):
        r = world.call(
            "B", "PATCH", "/stac/collections/b-share", json={"visibility": f"group:{group}"}
        )
        body = assert_problem(r, 403, "visibility", "you are not in")
        answers.append(body["detail"].replace(group, "<g>"))
    assert answers[0] == answers[1]


# ---------------------------------------------------------------------- the platform's results


def _wait(world: World, who: str, job_id: str) -> dict[str, Any]:
    return wait_for_job(world.client, job_id, world.headers[who], timeout_s=120)


def test_results_cannot_be_squatted_and_still_publish(world: World) -> None:
    assert is_reserved_collection(RESULTS_COLLECTION)
    # ``results``, ``results-…`` and every service's id (where its results are published)
    for cid in (RESULTS_COLLECTION, f"{RESULTS_COLLECTION}-sbas", "quicklook", "sbas"):
        r = world.call("P", "POST", "/stac/collections", json={"id": cid, "description": "mine"})
        assert_problem(r, 403, "id", "reserved", cid)
    # echo answers and publishes nothing; the quicklook service publishes its PNG
    r = world.call("P", "POST", "/processes/echo/execution", json={"inputs": {"message": "hi"}})
    assert r.status_code == 200 and r.json() == {"message": "hi"}, r.text
    r = world.call("P", "POST", "/processes/quicklook/execution",
                   json={"inputs": {"item": "rasters/tiny", "asset": "data", "max_size": 32}},
                   headers={"Prefer": "respond-async"})  # fmt: skip
    assert r.status_code == 201, r.text
    job = r.json()["jobID"]
    assert _wait(world, "P", job)["status"] == "successful"
    results_id = "quicklook"  # the service's result collection (gep.jobs.publish)
    item_url = f"/stac/collections/{results_id}/items/{job}"
    assert world.call("P", "GET", item_url).status_code == 200
    for who in ("B", "anonymous"):
        assert world.call(who, "GET", item_url).status_code == 404, who
    assert world.call("admin", "GET", item_url).status_code == 200
    coll = world.call("P", "GET", f"/stac/collections/{results_id}").json()
    assert coll["gep:owned"] is False and coll["gep:visibility"] == "public"

    # the collection and what it holds are the platform's, even the caller's own result
    results = f"/stac/collections/{results_id}"
    for method, path, body in (
        ("PUT", results, {"id": results_id, "description": "mine now"}),
        ("PATCH", results, {"title": "mine"}),
        ("PATCH", results, {"visibility": "private"}),
        ("DELETE", results, None),
        ("POST", f"{results}/items", _item("planted", {})),
        ("PATCH", item_url, {"visibility": "public"}),
        ("PUT", item_url, _item(job, {})),
        ("DELETE", item_url, None),
    ):
        r = world.call("P", method, path, json=body)
        assert_problem(r, 403, "collectionId", "belongs to the platform", results_id)
    assert world.call("P", "GET", item_url).status_code == 200

    # who sees a result follows the job: shared public, everyone does
    r = world.call("P", "PATCH", f"/jobs/{job}", json={"visibility": "public"})
    assert r.status_code == 200 and r.json()["results_shared"] == 1, r.text
    for who in ("B", "anonymous"):
        assert world.call(who, "GET", item_url).status_code == 200, who
    r = world.call("B", "GET", "/stac/search",
                   params={"collections": results_id, "count": "true"})  # fmt: skip
    assert r.json()["numberMatched"] == 1


# ---------------------------------------------------------------------- the store's rules


def test_the_store_keeps_reserved_ids_for_the_platform(store: CatalogStore) -> None:
    with pytest.raises(Forbidden, match="reserved"):
        store.create_collection({"id": RESULTS_COLLECTION}, owner="u1", visibility="private")
    store.create_collection({"id": RESULTS_COLLECTION})  # the platform's: allowed
    assert store.collection_access(RESULTS_COLLECTION).platform


def test_a_squatted_results_collection_is_taken_back(store: CatalogStore) -> None:
    """A database from before the ids were reserved: user u1 made ``results`` (private) and put
    an item of their own in it; a job of u2's published one there too."""
    store.create_collection({"id": RESULTS_COLLECTION})
    store.set_collection_access(RESULTS_COLLECTION, Access("u1", "private"))
    store.write_items([_item("planted", {"k": 1})], collection=RESULTS_COLLECTION)
    store.set_item_access(RESULTS_COLLECTION, ["job-1"], Access("u2", "private"))
    store.write_items([_item("job-1", {"gep:job": "job-1"})], collection=RESULTS_COLLECTION)

    store.upgrade()  # start-up

    acc = store.collection_access(RESULTS_COLLECTION)
    assert acc.platform and acc.visibility == "public"
    # the squatter's item keeps the visibility it had, the job's result its own
    assert store.item_access(RESULTS_COLLECTION, "planted") == Access("u1", "private")
    assert store.item_access(RESULTS_COLLECTION, "job-1") == Access("u2", "private")
    store.upgrade()  # idempotent
    assert store.item_access(RESULTS_COLLECTION, "planted") == Access("u1", "private")
