"""Every source kind against its real recorded archive, replayed by a local HTTP server.

What the issue asks to see, for the OpenSearch (Atom and resto GeoJSON), OData (CDSE and
CREODIAS) and ASF (search API and CMR) sources: harvesting the recording twice yields each
item once (and one ingestion event per item); a harvest cut off after its first page, then
failing on the second, then resumed ends with exactly the catalogue an uninterrupted harvest
makes; an unreachable or misbehaving archive is logged as failed with nothing ingested.
SQLite only: the runner and the stores are shared with the STAC source, whose runs are also
tested on PostGIS (test_harvest_runs.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gep.catalog.store import CatalogStore
from gep.harvest.base import SourceConfig
from gep.harvest.runner import run_harvest
from gep.harvest.sources import make_source
from gep.harvest.store import FAILED, INTERRUPTED, SUCCEEDED, HarvestStore
from tests.support.harvest_kit import ARCHIVES, Recorded, catalogue, events, quiet_fetcher
from tests.support.replay_server import ReplayServer
from tests.support.stores import make_store


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[CatalogStore]:
    store = make_store("sqlite", tmp_path / "main")
    yield store
    store.close()


@pytest.fixture(params=sorted(ARCHIVES))
def archive(request: pytest.FixtureRequest) -> Recorded:
    return ARCHIVES[request.param]()


def test_harvest_twice_yields_each_item_once(sqlite: CatalogStore, archive: Recorded) -> None:
    harvests = HarvestStore(sqlite.engine)
    with archive.server() as server:
        harvests.add(archive.config(server.url))
        first = run_harvest(sqlite, harvests, archive.name, fetcher=quiet_fetcher()[0])
        assert first.status == SUCCEEDED, first.errors
        assert first.errors == [] and first.skipped == 0
        assert (first.pages, first.new) == (archive.pages, len(archive.ids))
        assert first.updated == archive.rereads
        checkpoint = harvests.get(archive.name).checkpoint
        assert checkpoint is not None
        second = run_harvest(sqlite, harvests, archive.name, fetcher=quiet_fetcher()[0])
        assert second.status == SUCCEEDED, second.errors
        assert second.new == 0 and second.since == checkpoint
    assert set(catalogue(sqlite, archive.collection)) == archive.ids
    assert sorted(events(sqlite)) == sorted(archive.ids)  # one event per item, ever


def test_interrupted_harvest_resumes_to_the_same_catalogue(
    sqlite: CatalogStore, archive: Recorded, tmp_path: Path
) -> None:
    reference = make_store("sqlite", tmp_path / "reference")
    with archive.server() as server:
        ref_harvests = HarvestStore(reference.engine)
        ref_harvests.add(archive.config(server.url))
        done = run_harvest(reference, ref_harvests, archive.name, fetcher=quiet_fetcher()[0])
        assert done.status == SUCCEEDED, done.errors
        expected = catalogue(reference, archive.collection)
        reference.close()

        harvests = HarvestStore(sqlite.engine)
        harvests.add(archive.config(server.url))
        cut = run_harvest(sqlite, harvests, archive.name, fetcher=quiet_fetcher()[0], max_pages=1)
        assert cut.status == INTERRUPTED and cut.pages == 1
        after_first = catalogue(sqlite, archive.collection)
        assert 0 < len(after_first) < len(archive.ids)
        # the second page then fails on every attempt of the next run
        server.fail(archive.path, 3, status=502, match=archive.second_page)
        fetcher, slept = quiet_fetcher(max_attempts=3)
        failed = run_harvest(sqlite, harvests, archive.name, fetcher=fetcher)
        assert failed.status == FAILED and failed.new == 0
        assert "HTTP 502" in failed.errors[-1] and slept == [0.5, 1.0]
        assert catalogue(sqlite, archive.collection) == after_first  # nothing half-ingested
        assert harvests.get(archive.name).cursor is not None
        assert harvests.get(archive.name).checkpoint is None

        resumed = run_harvest(sqlite, harvests, archive.name, fetcher=quiet_fetcher()[0])
        assert resumed.status == SUCCEEDED, resumed.errors
        assert resumed.pages == archive.pages - 1
        assert cut.new + resumed.new == len(archive.ids)
    assert catalogue(sqlite, archive.collection) == expected
    assert sorted(events(sqlite)) == sorted(archive.ids)
    statuses = [r.status for r in harvests.runs(archive.name)]
    assert statuses == [SUCCEEDED, FAILED, INTERRUPTED]


@pytest.mark.parametrize("kind", ["opensearch", "odata", "asf"])
def test_unreachable_archive_fails_cleanly(sqlite: CatalogStore, kind: str) -> None:
    with ReplayServer() as server:
        url = server.url  # the port is closed once the server has stopped
    harvests = HarvestStore(sqlite.engine)
    harvests.add(SourceConfig("gone", kind, f"{url}/search", "c", {}))
    fetcher, slept = quiet_fetcher(max_attempts=3)
    run = run_harvest(sqlite, harvests, "gone", fetcher=fetcher)
    assert run.status == FAILED and run.pages == 0
    assert "ConnectError" in run.errors[-1] and "gave up after 3 attempts" in run.errors[-1]
    assert slept == [0.5, 1.0]
    record = harvests.get("gone")
    assert record.checkpoint is None and record.cursor is None
    assert sqlite.ingestion_events() == [] and catalogue(sqlite, "c") == {}


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("opensearch", "not an Atom feed"),
        ("odata", "not JSON"),
        ("asf", "not JSON"),
    ],
)
def test_misbehaving_archive_is_logged_not_retried(
    sqlite: CatalogStore, kind: str, said: str
) -> None:
    harvests = HarvestStore(sqlite.engine)
    with ReplayServer() as server:
        server.add("GET", "/search", "<html><body>maintenance</body></html>", "text/html")
        harvests.add(SourceConfig("html", kind, f"{server.url}/search", "c", {}))
        run = run_harvest(sqlite, harvests, "html", fetcher=quiet_fetcher()[0])
    assert run.status == FAILED and said in run.errors[-1]
    assert run.retries == 0  # a wrong answer is not a transient failure
    assert sqlite.ingestion_events() == [] and catalogue(sqlite, "c") == {}


def test_rate_limit_spaces_the_requests(sqlite: CatalogStore) -> None:
    """``params.min_interval_s``: the fetcher waits out the rest of the interval between two
    requests (the waits are recorded, not slept)."""
    archive = ARCHIVES["odata-creodias"]()
    archive.params["min_interval_s"] = 30.0
    assert make_source(archive.config("https://a.example")).fetcher.min_interval_s == 30.0
    harvests = HarvestStore(sqlite.engine)
    with archive.server() as server:
        harvests.add(archive.config(server.url))
        fetcher, slept = quiet_fetcher(min_interval_s=30.0)
        run = run_harvest(sqlite, harvests, archive.name, fetcher=fetcher)
    assert run.status == SUCCEEDED and run.requests == archive.pages
    # no wait before the first request, then one before each later page, the interval less
    # the (sub-second) time the previous page took
    assert len(slept) == archive.pages - 1 and all(29.0 < s <= 30.0 for s in slept)
