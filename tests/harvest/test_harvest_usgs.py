"""The ``usgs`` source against USGS ComCat's real recorded answers (``tests/data/usgs``).

A local server plays ComCat's FDSN event service over the recorded searches: it answers each
(``starttime``, ``offset``, ``limit``) with the recorded events at or after ``starttime``, cut
at ``offset`` (1-based) and ``limit``, as ComCat does. Checked: every one of the 124 events of
the January 2017 search catalogued with the recorded magnitude, depth and time, over three
offset pages; a re-run from the checkpoint adds nothing (one ingestion event per event, ever);
a feature that cannot be mapped is reported while its page goes in; and an endpoint answering
anything but a GeoJSON FeatureCollection is refused when the source is added, naming ``url``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput
from gep.harvest.base import SourceConfig
from gep.harvest.runner import run_harvest
from gep.harvest.sources import check_config
from gep.harvest.store import FAILED, SUCCEEDED, HarvestStore
from gep.harvest.usgs import (
    ALERT,
    DEPTH,
    EVENT_TYPE,
    MAGNITUDE,
    MAGNITUDE_TYPE,
    NETWORK,
    PLACE,
    SIGNIFICANCE,
    STATUS,
    TSUNAMI,
    URL,
    event_item,
)
from tests.support.harvest_kit import DATA, events, items, quiet_fetcher, utc
from tests.support.replay_server import ReplayServer, Request
from tests.support.stac_validation import assert_valid_stac
from tests.support.stores import make_store

USGS = DATA / "usgs"
NORTHRIDGE = json.loads((USGS / "northridge_1994.json").read_text())
JANUARY_2017 = json.loads((USGS / "search_2017-01-01_2017-01-30.json").read_text())
QUERY = "/fdsnws/event/1/query"
FEED = "/earthquakes/feed/v1.0/summary/all_day.geojson"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def origin(feature: dict[str, Any]) -> datetime:
    """The recorded origin time (epoch milliseconds), read independently of the source."""
    return EPOCH + timedelta(milliseconds=feature["properties"]["time"])


def collection(doc: dict[str, Any], features: list[dict[str, Any]], **meta: Any) -> bytes:
    page = copy.deepcopy(doc)
    page["features"] = features
    page["metadata"].update(count=len(features), **meta)
    return json.dumps(page).encode()


def fdsn_request(start: datetime | None, offset: int, limit: int) -> Callable[[Request], bool]:
    def match(req: Request) -> bool:
        got = req.query.get("starttime")
        same_start = got is None if start is None else got is not None and utc(got[0]) == start
        return (
            same_start
            and req.query.get("offset") == [str(offset)]
            and req.query.get("limit") == [str(limit)]
        )

    return match


def comcat(
    server: ReplayServer, doc: dict[str, Any], starts: list[datetime | None], limit: int
) -> None:
    """Serve ``doc``'s events as ComCat would, for each start time and every offset."""
    for start in starts:
        matching = [f for f in doc["features"] if start is None or origin(f) >= start]
        for offset in range(1, len(matching) + 2, limit):
            page = matching[offset - 1 : offset - 1 + limit]
            body = collection(doc, page, limit=limit, offset=offset)
            server.add("GET", QUERY, body, "application/json", fdsn_request(start, offset, limit))


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[CatalogStore]:
    store = make_store("sqlite", tmp_path / "main")
    yield store
    store.close()


def test_recorded_northridge_event_maps_to_a_stac_item() -> None:
    (feature,) = NORTHRIDGE["features"]
    item = event_item(feature, "earthquakes")
    assert item == {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "ci3144585",
        "collection": "earthquakes",
        "geometry": {"type": "Point", "coordinates": [-118.537, 34.213]},
        "bbox": [-118.537, 34.213, -118.537, 34.213],
        "properties": {
            "datetime": "1994-01-17T12:30:55.390000Z",
            "updated": "2018-02-15T17:40:30.169000Z",
            "title": "M 6.7 - 1km NNW of Reseda, CA",
            MAGNITUDE: 6.7,
            DEPTH: 18.202,
            MAGNITUDE_TYPE: "mw",
            PLACE: "1km NNW of Reseda, CA",
            EVENT_TYPE: "earthquake",
            STATUS: "reviewed",
            URL: "https://earthquake.usgs.gov/earthquakes/eventpage/ci3144585",
            NETWORK: "ci",
            TSUNAMI: False,
            "earthquake:mmi": 8.6,
            SIGNIFICANCE: 1551,
        },
        "assets": {
            "detail": {
                "href": "https://earthquake.usgs.gov/fdsnws/event/1/query?eventid=ci3144585&format=geojson",
                "type": "application/geo+json",
                "title": "ComCat event detail (origins, ShakeMap, moment tensor, …)",
                "roles": ["metadata"],
            }
        },
        "links": [
            {
                "rel": "via",
                "href": "https://earthquake.usgs.gov/earthquakes/eventpage/ci3144585",
                "type": "text/html",
                "title": "event page",
            }
        ],
    }
    assert ALERT not in item["properties"]  # ComCat's null: no PAGER alert
    assert origin(feature) == utc(item["properties"]["datetime"])


def test_mapped_events_are_valid_stac(tmp_path: Path) -> None:
    """STAC 1.1 (stac-validator), with the collection link the catalogue adds when serving."""
    features = NORTHRIDGE["features"] + JANUARY_2017["features"][::10]
    mapped = [event_item(f, "earthquakes") for f in features]
    for item in mapped:
        item["links"].append({"rel": "collection", "href": "http://gep/collections/earthquakes"})
    assert_valid_stac(mapped, tmp_path)


def test_harvest_124_events_by_offset_pages_then_nothing_new(sqlite: CatalogStore) -> None:
    features = JANUARY_2017["features"]
    newest = origin(features[-1])
    harvests = HarvestStore(sqlite.engine)
    params = {"page_size": 50, "starttime": "2017-01-01T00:00:00Z", "minmagnitude": 0}
    params |= {"maxmagnitude": 0.1, "endtime": "2017-01-30", "mindepth": -100}
    with ReplayServer() as server:
        comcat(server, JANUARY_2017, [datetime(2017, 1, 1, tzinfo=UTC), newest], 50)
        server.add("GET", QUERY, collection(JANUARY_2017, features[:1]), match=fdsn_limit_1)
        config = SourceConfig("comcat", "usgs", server.url + QUERY, "earthquakes", params)
        check_config(config)  # one event asked (limit=1), a FeatureCollection: accepted
        checked = server.requests[-1].query
        assert checked["limit"] == ["1"] and checked["offset"] == ["1"]
        harvests.add(config)
        first = run_harvest(sqlite, harvests, "comcat", fetcher=quiet_fetcher()[0])
        assert first.status == SUCCEEDED, first.errors
        assert (first.pages, first.new, first.updated, first.errors) == (3, 124, 0, [])
        sent = [r.query for r in server.requests[1:]]
        assert [q["offset"] for q in sent] == [["1"], ["51"], ["101"]]
        assert all(q["limit"] == ["50"] for q in sent)
        assert sent[0]["format"] == ["geojson"] and sent[0]["orderby"] == ["time-asc"]
        assert sent[0]["eventtype"] == ["earthquake"]
        assert sent[0]["endtime"] == ["2017-01-30T00:00:00"]
        assert (sent[0]["minmagnitude"], sent[0]["maxmagnitude"]) == (["0"], ["0.1"])
        assert sent[0]["starttime"] == ["2017-01-01T00:00:00"]
        checkpoint = harvests.get("comcat").checkpoint
        assert checkpoint is not None and utc(checkpoint) == newest

        again = run_harvest(sqlite, harvests, "comcat", fetcher=quiet_fetcher()[0])
        assert again.status == SUCCEEDED, again.errors
        # ComCat's starttime is inclusive: the newest event comes back, and is only updated
        assert (again.pages, again.new, again.updated) == (1, 0, 1)
        assert utc(server.requests[-1].query["starttime"][0]) == newest

    stored = items(sqlite, "earthquakes")
    assert set(stored) == {f["id"] for f in features}
    assert sorted(events(sqlite)) == sorted(f["id"] for f in features)  # each event once, ever
    for feature in features:
        props = stored[feature["id"]]["properties"]
        lon, lat, depth = feature["geometry"]["coordinates"]
        assert props[MAGNITUDE] == feature["properties"]["mag"]
        assert isinstance(props[MAGNITUDE], float) and isinstance(props[DEPTH], float)
        assert props[DEPTH] == depth
        assert utc(props["datetime"]) == origin(feature)
        assert props[MAGNITUDE_TYPE] == feature["properties"]["magType"]
        assert stored[feature["id"]]["geometry"]["coordinates"] == [lon, lat]
        assert props["gep:harvest_source"] == "comcat"
    # a few against the raw recording, spelled out
    first_event = stored["nc72746875"]["properties"]
    assert (first_event[MAGNITUDE], first_event[DEPTH]) == (0.02, 1.59)
    assert first_event["datetime"] == "2017-01-01T08:08:00.330000Z"
    assert first_event[PLACE] == "4km E of Mammoth Lakes, California"
    deepest = max(features, key=lambda f: f["geometry"]["coordinates"][2])
    assert stored[deepest["id"]]["properties"][DEPTH] == 22.5
    whole = [f for f in features if isinstance(f["properties"]["mag"], int)]
    assert whole and all(stored[f["id"]]["properties"][MAGNITUDE] == 0.0 for f in whole)


def fdsn_limit_1(req: Request) -> bool:
    return req.query.get("limit") == ["1"]


def test_unmappable_features_are_reported_and_the_rest_go_in(sqlite: CatalogStore) -> None:
    features = copy.deepcopy(JANUARY_2017["features"][:10])
    features[3]["geometry"] = None
    del features[6]["properties"]["time"]
    harvests = HarvestStore(sqlite.engine)
    with ReplayServer() as server:
        server.add("GET", QUERY, collection(JANUARY_2017, features))
        harvests.add(SourceConfig("comcat", "usgs", server.url + QUERY, "earthquakes", {}))
        run = run_harvest(sqlite, harvests, "comcat", fetcher=quiet_fetcher()[0])
    assert run.status == SUCCEEDED, run.errors
    assert (run.pages, run.seen, run.new, run.skipped) == (1, 10, 8, 2)
    assert len(run.errors) == 2
    assert f"({features[3]['id']}): no Point geometry" in run.errors[0]
    assert f"({features[6]['id']}): no origin time" in run.errors[1]
    expected = {f["id"] for n, f in enumerate(features) if n not in (3, 6)}
    assert set(items(sqlite, "earthquakes")) == expected


def test_summary_feed_is_read_whole_each_run(sqlite: CatalogStore) -> None:
    harvests = HarvestStore(sqlite.engine)
    with ReplayServer() as server:
        server.add("GET", FEED, NORTHRIDGE, "application/geo+json")
        config = SourceConfig("feed", "usgs", server.url + FEED, "earthquakes", {})
        check_config(config)
        harvests.add(config)
        runs = [run_harvest(sqlite, harvests, "feed", fetcher=quiet_fetcher()[0]) for _ in "12"]
        assert all(r.query == {} for r in server.requests)  # a feed takes no query
    assert [(r.status, r.pages, r.new, r.updated) for r in runs] == [
        (SUCCEEDED, 1, 1, 0),
        (SUCCEEDED, 1, 0, 1),
    ]
    assert events(sqlite) == ["ci3144585"]
    with pytest.raises(InvalidInput, match="summary feed cannot be queried") as err:
        check_config(SourceConfig("f", "usgs", f"{server.url}{FEED}", "c", {"minmagnitude": 5}))
    assert err.value.field == "params"


def test_no_data_answer_is_an_empty_listing(sqlite: CatalogStore) -> None:
    """FDSN's HTTP 204 (nothing matches) is an empty page, when added and when run."""
    harvests = HarvestStore(sqlite.engine)
    with ReplayServer() as server:
        server.add("GET", QUERY, b"", "text/plain", status=204)
        config = SourceConfig("quiet", "usgs", server.url + QUERY, "earthquakes", {})
        check_config(config)
        harvests.add(config)
        run = run_harvest(sqlite, harvests, "quiet", fetcher=quiet_fetcher()[0])
    assert (run.status, run.pages, run.new, run.errors) == (SUCCEEDED, 1, 0, [])


GARBAGE = [
    pytest.param(
        b"<!DOCTYPE html><html><head><title>Earthquake Hazards Program</title></head></html>",
        "text/html",
        200,
        "got text/html that is not JSON",
        id="html-page",
    ),
    pytest.param(
        json.dumps(NORTHRIDGE["features"][0]).encode(),  # what ComCat's ?eventid= answers
        "application/json",
        200,
        "got a JSON object of type 'Feature' with keys geometry, id, properties, type",
        id="single-feature",
    ),
    pytest.param(
        b'{"error": {"code": 500}}', "application/json", 200, "keys error", id="json-object"
    ),
    pytest.param(b"[1, 2]", "application/json", 200, "got a JSON list", id="json-list"),
    pytest.param(
        (USGS / "northridge_1994.json").read_bytes()[:700],
        "application/json",
        200,
        'that is not JSON (unexpected end of data: line 1 column 701 (char 700)): \'{"type"',
        id="truncated",
    ),
    pytest.param(b"Not Found", "text/plain", 404, "HTTP 404", id="not-found"),
]


@pytest.fixture(scope="module")
def garbage_server() -> Iterator[ReplayServer]:
    """One server for the refusals: each garbage answer on a path of its own (``/<id>``)."""
    with ReplayServer() as server:
        for param in GARBAGE:
            body, ctype, status, _ = param.values
            assert isinstance(ctype, str) and isinstance(status, int)
            server.add("GET", f"/{param.id}{QUERY}", body, ctype, status=status)
        server.add("GET", QUERY, NORTHRIDGE)
        yield server


@pytest.mark.parametrize(("body", "ctype", "status", "said"), GARBAGE)
def test_endpoint_answering_garbage_is_refused_naming_the_url(
    garbage_server: ReplayServer,
    request: pytest.FixtureRequest,
    body: bytes,
    ctype: str,
    status: int,
    said: str,
) -> None:
    case = request.node.callspec.id
    config = SourceConfig("bad", "usgs", f"{garbage_server.url}/{case}{QUERY}", "c", {})
    with pytest.raises(InvalidInput) as err:
        check_config(config)
    assert err.value.field == "url"
    assert said in err.value.message
    if status == 200:
        assert "expected a GeoJSON FeatureCollection of earthquakes" in err.value.message


def test_garbage_during_a_run_fails_it_with_nothing_ingested(sqlite: CatalogStore) -> None:
    harvests = HarvestStore(sqlite.engine)
    with ReplayServer() as server:
        server.add("GET", QUERY, b"<html>maintenance</html>", "text/html")
        harvests.add(SourceConfig("comcat", "usgs", server.url + QUERY, "earthquakes", {}))
        run = run_harvest(sqlite, harvests, "comcat", fetcher=quiet_fetcher()[0])
    assert run.status == FAILED and run.new == 0
    assert "expected a GeoJSON FeatureCollection" in run.errors[-1]
    assert "'<html>maintenance</html>'" in run.errors[-1]
    assert items(sqlite, "earthquakes") == {} and events(sqlite) == []


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"page_size": 0}, "params.page_size must be a whole number from 1 to 20000"),
        ({"page_size": 50_000}, "params.page_size must be a whole number from 1 to 20000"),
        ({"minmagnitude": "big"}, "params.minmagnitude must be a number"),
        ({"maxlatitude": 95}, "params.maxlatitude must lie in [-90, 90]"),
        ({"minmagnitude": 6, "maxmagnitude": 5}, "params.minmagnitude is above"),
        ({"starttime": "last tuesday"}, "params.starttime 'last tuesday' is not an RFC 3339"),
    ],
)
def test_bad_parameters_are_refused_before_asking(
    garbage_server: ReplayServer, params: dict[str, Any], said: str
) -> None:
    asked = len(garbage_server.requests)
    with pytest.raises(InvalidInput) as err:
        check_config(SourceConfig("bad", "usgs", garbage_server.url + QUERY, "c", params))
    assert len(garbage_server.requests) == asked  # refused without asking ComCat
    assert err.value.field == "params" and said in err.value.message
