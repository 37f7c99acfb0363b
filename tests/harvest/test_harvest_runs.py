"""Harvest runs end to end: a real local HTTP server replays recorded archive answers.

What the issue asks to see: harvesting the recorded responses twice yields each item once; a
harvest cut off midway (failure, or the process killed) and restarted ends with exactly the
catalogue an uninterrupted one makes; an unreachable or misbehaving source leaves a log line
and nothing half-ingested. These run on SQLite and on PostGIS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gep.catalog.store import CatalogStore
from gep.harvest.base import SourceConfig
from gep.harvest.runner import run_harvest
from gep.harvest.store import FAILED, INTERRUPTED, SUCCEEDED, HarvestStore
from tests.support.harvest_kit import catalogue, events, quiet_fetcher
from tests.support.replay_server import ReplayServer, Request
from tests.support.stores import make_store

DATA = Path(__file__).parents[1] / "data" / "harvest" / "stac"
RECORDED_HOST = "https://earth-search.aws.element84.com"


def _page(n: int) -> dict[str, Any]:
    return json.loads((DATA / f"earth_search_page{n}.json").read_text())


PAGE1, PAGE2 = _page(1), _page(2)
RECORDED_IDS = {f["id"] for f in PAGE1["features"] + PAGE2["features"]}
PAGE2_TOKEN = next(ln for ln in PAGE1["links"] if ln["rel"] == "next")["body"]["next"]


def _no_next(doc: dict[str, Any]) -> dict[str, Any]:
    # the recording ends after page 2: its next link leads to a page nobody recorded
    return {**doc, "links": [ln for ln in doc["links"] if ln["rel"] != "next"]}


def _is_page(token: str | None):  # type: ignore[no-untyped-def]
    def match(req: Request) -> bool:
        return (req.json or {}).get("next") == token

    return match


def earth_search() -> ReplayServer:
    server = ReplayServer(rewrite={RECORDED_HOST: ""})
    server.add("GET", "/v1", (DATA / "earth_search_landing.json").read_bytes())
    server.add("POST", "/v1/search", PAGE1, "application/geo+json", match=_is_page(None))
    server.add("POST", "/v1/search", _no_next(PAGE2), "application/geo+json", _is_page(PAGE2_TOKEN))
    return server


def _source(harvests: HarvestStore, url: str, name: str = "earth-search") -> None:
    harvests.add(
        SourceConfig(name, "stac", f"{url}/v1", "s2-harvested", {"collections": ["sentinel-2-l2a"]})
    )


def _catalogue(store: CatalogStore) -> dict[str, bytes]:
    return catalogue(store, "s2-harvested")


@pytest.fixture
def harvests(store: CatalogStore) -> HarvestStore:
    return HarvestStore(store.engine)


def test_harvest_twice_yields_each_item_once(store: CatalogStore, harvests: HarvestStore) -> None:
    with earth_search() as server:
        _source(harvests, server.url)
        first = run_harvest(store, harvests, "earth-search", fetcher=quiet_fetcher()[0])
        assert first.status == SUCCEEDED, first.errors
        assert (first.pages, first.seen, first.new, first.updated) == (2, 20, 20, 0)
        # the query: oldest first, and what the source was configured with
        body = server.requests[0].json
        assert body["sortby"] == [{"field": "properties.datetime", "direction": "asc"}]
        assert body["collections"] == ["sentinel-2-l2a"]
        assert "datetime" not in body  # no checkpoint yet: everything

        second = run_harvest(store, harvests, "earth-search", fetcher=quiet_fetcher()[0])
        assert second.status == SUCCEEDED
        assert (second.new, second.updated) == (0, 20)
        # the second run starts at the checkpoint: the newest datetime of the first
        newest = max(f["properties"]["datetime"] for f in PAGE1["features"] + PAGE2["features"])
        assert server.requests[-2].json["datetime"].startswith(newest.rstrip("Z")[:19])
        assert harvests.get("earth-search").checkpoint == second.since

    items = _catalogue(store)
    assert set(items) == RECORDED_IDS
    # one event per new item, none for the second run's updates
    assert sorted(events(store)) == sorted(RECORDED_IDS)
    one = json.loads(items["S2B_24MVV_20250731_0_L2A"])
    assert one["collection"] == "s2-harvested"
    assert one["properties"]["gep:harvest_source"] == "earth-search"
    assert one["properties"]["gep:remote_collection"] == "sentinel-2-l2a"
    # asset hrefs stay absolute, pointing at the archive
    assert all(a["href"].startswith(("https://", "s3://")) for a in one["assets"].values())
    via = [ln for ln in one["links"] if ln["rel"] == "via"]
    assert via and via[0]["href"].endswith("/S2B_24MVV_20250731_0_L2A")


def test_interrupted_harvest_resumes_to_the_same_catalogue(
    store: CatalogStore, harvests: HarvestStore, tmp_path: Path
) -> None:
    # uninterrupted reference, in a separate SQLite catalogue
    reference = make_store("sqlite", tmp_path / "ref")
    ref_harvests = HarvestStore(reference.engine)
    with earth_search() as server:
        _source(ref_harvests, server.url)
        assert run_harvest(reference, ref_harvests, "earth-search").status == SUCCEEDED
        expected = _catalogue(reference)
        reference.close()

        _source(harvests, server.url)
        # cut off after page 1 (as --max-pages does)
        first = run_harvest(
            store, harvests, "earth-search", fetcher=quiet_fetcher()[0], max_pages=1
        )
        assert first.status == INTERRUPTED and first.pages == 1
        assert len(_catalogue(store)) == 10
        # then page 2 keeps failing: every attempt of the next run is used up on it
        server.fail("/v1/search", 3, status=502, match=_is_page(PAGE2_TOKEN))
        fetcher, slept = quiet_fetcher(max_attempts=3)
        failed = run_harvest(store, harvests, "earth-search", fetcher=fetcher)
        assert failed.status == FAILED
        assert failed.retries == 2 and "HTTP 502" in failed.errors[-1]
        assert "gave up after 3 attempts" in failed.errors[-1]
        assert slept == [0.5, 1.0]  # exponential backoff
        assert len(_catalogue(store)) == 10  # nothing of page 2 half-ingested
        assert harvests.get("earth-search").cursor is not None  # it will resume at page 2

        resumed = run_harvest(store, harvests, "earth-search", fetcher=quiet_fetcher()[0])
        assert resumed.status == SUCCEEDED, resumed.errors
        assert resumed.pages == 1 and resumed.new == 10  # page 2 only
        assert (server.requests[-1].json or {}).get("next") == PAGE2_TOKEN
        assert harvests.get("earth-search").cursor is None

        got = _catalogue(store)
    assert got == expected
    assert sorted(events(store)) == sorted(RECORDED_IDS)
    statuses = [r.status for r in harvests.runs("earth-search")]
    assert statuses == [SUCCEEDED, FAILED, INTERRUPTED]


def test_killed_harvest_process_resumes(tmp_path: Path) -> None:
    """`gep harvest run --local` (the administrative run, in its own process on the database)
    SIGKILLed while it waits for page 2; the next run finishes the job."""
    home = tmp_path / "home"
    env = {**os.environ, "GEP_HOME": str(home), "GEP_DATABASE_URL": ""}
    gep = str(Path(sys.executable).parent / "gep")
    with earth_search() as server:
        setup = make_store("sqlite", home)
        config = SourceConfig("es", "stac", f"{server.url}/v1", "s2-harvested",
                              {"collections": ["sentinel-2-l2a"]})  # fmt: skip
        HarvestStore(setup.engine).add(config)
        setup.close()
        # page 2 hangs for a minute: the harvester is killed while it waits for it
        server.fail("/v1/search", 1, status=0, delay_s=60, match=_is_page(PAGE2_TOKEN))
        proc = subprocess.Popen(
            [gep, "harvest", "run", "es", "--local"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120

        def page2_requested() -> bool:
            return any((r.json or {}).get("next") == PAGE2_TOKEN for r in server.requests)

        while not page2_requested() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert page2_requested(), proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = make_store("sqlite", home)
        assert len(_catalogue(store)) == 10  # page 1 committed, page 2 never arrived
        store.close()
        done = subprocess.run(
            [gep, "harvest", "run", "es", "--local", "--json"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        run = json.loads(done.stdout)[0]
        assert (run["status"], run["pages"], run["new"]) == ("succeeded", 1, 10)
    store = make_store("sqlite", home)
    assert [r.status for r in HarvestStore(store.engine).runs("es")] == [SUCCEEDED, INTERRUPTED]
    assert set(_catalogue(store)) == RECORDED_IDS
    assert sorted(events(store)) == sorted(RECORDED_IDS)
    store.close()
