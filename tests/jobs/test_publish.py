"""Publication of results on both catalogue backends: the time, platform, track and inputs a
result item takes from its inputs, searchable by CQL2; one collection per service with
``item_assets`` and ``summaries``; a taken process id; a job's items found wherever they are."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.timeutil import format_rfc3339, from_micros
from gep.jobs.publish import (
    InputItem,
    publish,
    publish_items,
    result_collection_id,
    result_item_ids,
    result_properties,
    share_results,
)

DINSAR = SimpleNamespace(
    id="dinsar", title="DInSAR", version="1.0.0", description="Interferograms.", keywords=["x"]
)
PROCESSED = 1_800_000_000_000_000  # 2027-01-15T08:00:00Z


def s1(day: str, platform: str = "sentinel-1a", orbit: int = 117) -> dict[str, Any]:
    return {
        "datetime": f"2022-01-{day}T17:05:57Z",
        "platform": platform,
        "constellation": "sentinel-1",
        "instruments": ["c-sar"],
        "sat:relative_orbit": orbit,
        "sat:orbit_state": "ascending",
        "sar:instrument_mode": "IW",
    }


REF = InputItem("gep-slc/ref", s1("04"), False)
SEC = InputItem("gep-slc/sec", s1("16"), False)
DEM = InputItem("gep-dem/dem", {"datetime": "2000-02-11T00:00:00Z", "title": "SRTM"}, True)
#: a DEM with a platform (as Copernicus DEM items have) is still no acquisition
DEM_WITH_PLATFORM = InputItem("gep-dem/cop", {"datetime": "2011-01-01T00:00:00Z",
                                              "platform": "tandem-x"}, True)  # fmt: skip


def job(job_id: str, owner: str = "u1", visibility: str = "private") -> SimpleNamespace:
    return SimpleNamespace(id=job_id, owner=owner, visibility=visibility, process_id="dinsar")


def _publish(store: CatalogStore, job_id: str, inputs: list[InputItem], **kw: Any) -> str:
    assets = {
        "los_displacement": {
            "href": f"file:///storage/jobs/{job_id}/outputs/los.tif",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data"],
            "title": "LOS displacement (m)",
        }
    }
    footprint = {
        "type": "Polygon",
        "coordinates": [[[12, 41], [13, 41], [13, 42], [12, 42], [12, 41]]],
    }
    return publish(
        store, kw.pop("j", job(job_id)), DINSAR, assets=assets, footprint=footprint,
        inputs=inputs, finished_us=PROCESSED,
    )  # fmt: skip


def _search(store: CatalogStore, body: dict[str, Any]) -> list[str]:
    page = store.search(build_search({"collections": ["dinsar"], **body}, from_get=False))
    return [item_id for _, item_id, _ in page.items]


def test_a_pair_result_is_dated_by_its_acquisitions_and_searchable(store: CatalogStore) -> None:
    ref = _publish(store, "job-a", [REF, SEC, DEM, DEM_WITH_PLATFORM])
    assert ref == "dinsar/job-a"
    item = orjson.loads(store.get_item("dinsar", "job-a"))
    props = item["properties"]
    # the pair: start = the earlier, end and datetime = the later acquisition; DEMs not counted
    assert props["start_datetime"] == "2022-01-04T17:05:57Z"
    assert props["end_datetime"] == props["datetime"] == "2022-01-16T17:05:57Z"
    assert props["created"] == props["updated"] == format_rfc3339(from_micros(PROCESSED))
    assert props["platform"] == "sentinel-1a" and props["constellation"] == "sentinel-1"
    assert props["sat:relative_orbit"] == 117 and props["sat:orbit_state"] == "ascending"
    # every input once, and one derived_from link each, relative to the item
    assert props["gep:inputs"] == ["gep-slc/ref", "gep-slc/sec", "gep-dem/dem", "gep-dem/cop"]
    derived = [ln["href"] for ln in item["links"] if ln["rel"] == "derived_from"]
    assert derived == [
        "../../gep-slc/items/ref", "../../gep-slc/items/sec",
        "../../gep-dem/items/dem", "../../gep-dem/items/cop",
    ]  # fmt: skip
    assert "https://stac-extensions.github.io/sat/v1.0.0/schema.json" in item["stac_extensions"]
    # another track's result, for the filters to tell apart
    other = [InputItem("gep-slc/o1", s1("05", orbit=44), False),
             InputItem("gep-slc/o2", s1("17", orbit=44), False)]  # fmt: skip
    _publish(store, "job-b", other)
    # CQL2 on the searchable properties, on this backend
    track = {"op": "=", "args": [{"property": "sat:relative_orbit"}, 117]}
    assert _search(store, {"filter": track}) == ["job-a"]
    plat = {"op": "and", "args": [
        {"op": "=", "args": [{"property": "platform"}, "sentinel-1a"]},
        {"op": "=", "args": [{"property": "sat:orbit_state"}, "ascending"]}]}  # fmt: skip
    assert sorted(_search(store, {"filter": plat})) == ["job-a", "job-b"]
    used = {"op": "a_contains", "args": [{"property": "gep:inputs"}, ["gep-slc/sec"]]}
    assert _search(store, {"filter": used}) == ["job-a"]
    # time: the acquisitions' dates, not the processing's
    assert sorted(_search(store, {"datetime": "2022-01-10T00:00:00Z"})) == ["job-a", "job-b"]
    assert _search(store, {"datetime": "2022-01-04T00:00:00Z/2022-01-04T23:00:00Z"}) == ["job-a"]
    assert _search(store, {"datetime": "2027-01-15T08:00:00Z"}) == []


def test_times_of_one_input_a_stack_and_none() -> None:
    one = result_properties([REF], PROCESSED)
    assert one["datetime"] == "2022-01-04T17:05:57Z" and "start_datetime" not in one
    stack = result_properties([InputItem(f"c/{d}", s1(d), False) for d in ("10", "04", "28")],
                              PROCESSED)  # fmt: skip
    assert (stack["start_datetime"], stack["end_datetime"], stack["datetime"]) == (
        "2022-01-04T17:05:57Z", "2022-01-28T17:05:57Z", "2022-01-28T17:05:57Z",
    )  # fmt: skip
    # mixed platforms: no platform claimed, the constellation they share is
    mixed = result_properties([REF, InputItem("c/b", s1("16", "sentinel-1b"), False)], PROCESSED)
    assert "platform" not in mixed and mixed["constellation"] == "sentinel-1"
    # only a DEM, or an input without a date: dated when processed
    for inputs in ([DEM], [InputItem("c/x", {"platform": "p"}, False)], []):
        assert result_properties(inputs, PROCESSED)["datetime"] == "2027-01-15T08:00:00Z"


def test_the_service_collection_has_item_assets_and_summaries(store: CatalogStore) -> None:
    _publish(store, "job-a", [REF, SEC])
    coll = store.get_collection("dinsar")
    assert coll["gep:results"] is True and store.collection_access("dinsar").platform
    assert coll["item_assets"]["los_displacement"] == {
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "roles": ["data"],
        "title": "LOS displacement (m)",
    }
    assert coll["summaries"]["gep:process"] == ["dinsar"]
    assert coll["summaries"]["platform"] == ["sentinel-1a"]
    assert coll["summaries"]["sat:orbit_state"] == ["ascending"]
    # nothing that places or dates one user's private result on the shared collection
    assert "sat:relative_orbit" not in coll["summaries"]
    assert coll["extent"]["spatial"]["bbox"] == [[-180, -90, 180, 90]]
    # a later job adds what is new
    b = [InputItem("c/1", s1("05", "sentinel-1b"), False),
         InputItem("c/2", s1("17", "sentinel-1b"), False)]  # fmt: skip
    _publish(store, "job-b", b)
    assert store.get_collection("dinsar")["summaries"]["platform"] == ["sentinel-1a", "sentinel-1b"]


def test_items_a_service_publishes_itself_get_the_same_treatment(store: CatalogStore) -> None:
    date_item = {
        "type": "Feature",
        "id": "job-s-20220116",
        "geometry": None,
        "properties": {"datetime": "2022-01-16T00:00:00Z"},
        "assets": {},
        "links": [],
    }
    assert publish_items(store, job("job-s"), DINSAR, [date_item], [REF, SEC, DEM],
                         PROCESSED) == 1  # fmt: skip
    item = orjson.loads(store.get_item("dinsar", "job-s-20220116"))
    props = item["properties"]
    assert props["datetime"] == "2022-01-16T00:00:00Z"  # its own date is kept, whole
    assert "start_datetime" not in props and "end_datetime" not in props
    assert props["sat:relative_orbit"] == 117 and props["gep:job"] == "job-s"
    assert len([ln for ln in item["links"] if ln["rel"] == "derived_from"]) == 3


def test_a_taken_process_id_sends_results_elsewhere_and_visibility_holds(
    store: CatalogStore,
) -> None:
    # a user's own collection named like the service: results never go into it
    store.create_collection({"id": "dinsar", "description": "mine"}, owner="u9")
    assert result_collection_id(store, "dinsar") == "results-dinsar"
    assert _publish(store, "job-a", [REF, SEC]) == "results-dinsar/job-a"
    assert store.collection_access("results-dinsar").platform
    # the item is its job's owner's, private: another user does not see it
    stranger = Viewer(user_id="u2")
    owner = Viewer(user_id="u1")
    assert _search_as(store, stranger) == [] and _search_as(store, owner) == ["job-a"]
    # shared, found and re-shared where it is
    assert result_item_ids(store, "job-a") == ["job-a"]
    assert share_results(store, job("job-a", visibility="public"), "public") == 1
    assert _search_as(store, stranger) == ["job-a"]


def _search_as(store: CatalogStore, viewer: Viewer) -> list[str]:
    req = build_search({"collections": ["results-dinsar"]}, from_get=False)
    req.viewer = viewer
    return [i for _, i, _ in store.search(req).items]


@pytest.mark.parametrize("cap", [1, 5])
def test_number_matched_is_counted_up_to_the_cap(store: CatalogStore, cap: int) -> None:
    for n in range(3):
        _publish(store, f"job-{n}", [REF, SEC])
    req = build_search({"collections": ["dinsar"], "limit": 1}, from_get=False)
    req.count_cap = cap
    page = store.search(req)
    assert page.number_matched == (None if cap < 3 else 3)
    # the next pages do not count again
    following = build_search(
        {"collections": ["dinsar"], "limit": 1, "token": page.next_token}, from_get=False
    )
    following.count_cap = cap
    assert following.token and store.search(following).number_matched is None
    refused = build_search({"collections": ["dinsar"], "count": "false"}, from_get=False)
    refused.count_cap = cap
    assert store.search(refused).number_matched is None
    exact = build_search({"collections": ["dinsar"], "count": "true"}, from_get=False)
    exact.count_cap = cap
    assert store.search(exact).number_matched == 3
