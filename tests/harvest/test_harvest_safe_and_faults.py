"""The SAFE-folder source on real products, and sources that are unreachable or misbehave."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from shapely.geometry import shape

from gep.catalog.insar import item_orbit
from gep.catalog.store import CatalogStore
from gep.core.errors import Conflict, InvalidInput
from gep.harvest.base import SourceConfig
from gep.harvest.http import Fetcher
from gep.harvest.runner import run_harvest
from gep.harvest.scheduler import HarvestScheduler
from gep.harvest.sources import check_config
from gep.harvest.store import FAILED, SUCCEEDED, HarvestStore
from gep.io.sentinel1 import product_footprint
from tests.support.replay_server import ReplayServer

S1 = Path(__file__).parents[1] / "data" / "s1"
PRODUCTS = [
    "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE",
    "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE",
    "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.zip",
]


def _copy(name: str, folder: Path) -> None:
    src = S1 / name
    if src.is_dir():
        shutil.copytree(src, folder / name)
    else:
        shutil.copy(src, folder / name)


def _items(store: CatalogStore, collection: str) -> dict[str, dict[str, object]]:
    from gep.catalog.search import SearchRequest

    page = store.search(SearchRequest(collections=[collection], limit=100))
    return {iid: orjson.loads(content) for _, iid, content in page.items}


@pytest.fixture
def harvests(store: CatalogStore) -> HarvestStore:
    return HarvestStore(store.engine)


def test_safe_folder_harvest_is_incremental(
    store: CatalogStore, harvests: HarvestStore, tmp_path: Path
) -> None:
    folder = tmp_path / "safe"
    folder.mkdir()
    for name in PRODUCTS[:2]:
        _copy(name, folder)
    (folder / "notes.zip").write_bytes(b"not a product")
    harvests.add(SourceConfig("local", "safe", str(folder), "s1-slc", {"limit": 1}))
    first = run_harvest(store, harvests, "local")
    assert first.status == SUCCEEDED, first.errors
    assert (first.pages, first.new) == (2, 2)  # one product a page
    assert first.skipped == 1 and "notes.zip" in first.errors[0]

    items = _items(store, "s1-slc")
    rome = items["S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1"]
    props = rome["properties"]
    assert isinstance(props, dict)
    # what the manifest says, independently of the mapping
    assert props["sat:relative_orbit"] == 117 and props["sat:absolute_orbit"] == 41314
    assert props["sat:orbit_state"] == "ascending"
    assert props["sar:polarizations"] == ["VV", "VH"]
    assert props["sar:instrument_mode"] == "IW" and props["platform"] == "sentinel-1a"
    assert props["datetime"] == "2022-01-04T17:05:57.413478Z"
    footprint = product_footprint(S1 / PRODUCTS[1])
    assert footprint is not None
    assert shape(rome["geometry"]).equals_exact(footprint, 1e-9)
    # the annotation orbit is carried, so pair search can compute baselines
    assert len(item_orbit(rome).time) >= 10

    # a later product arrives: the next run only lists what is newer than the checkpoint
    _copy(PRODUCTS[2], folder)
    second = run_harvest(store, harvests, "local")
    assert second.status == SUCCEEDED
    # the checkpoint is inclusive: the newest product of the last run is listed again
    assert (second.new, second.updated) == (1, 1)
    assert second.since == "2022-01-04T17:05:57.413478Z"
    assert len(_items(store, "s1-slc")) == 3
    assert [e.item_id for e in store.ingestion_events()][-1].startswith("S1A_IW_SLC__1SDV_2022101")


def test_unreachable_source_fails_cleanly(store: CatalogStore, harvests: HarvestStore) -> None:
    with ReplayServer() as server:
        url = server.url  # the port is closed once the server has stopped
    harvests.add(SourceConfig("gone", "stac", url, "c", {}))
    slept: list[float] = []
    run = run_harvest(store, harvests, "gone", fetcher=Fetcher(sleep=slept.append))
    assert run.status == FAILED
    assert "ConnectError" in run.errors[-1] and "gave up after 5 attempts" in run.errors[-1]
    assert slept == [1.0, 2.0, 4.0, 8.0]
    assert harvests.get("gone").checkpoint is None
    assert store.ingestion_events() == []


def test_misbehaving_source(store: CatalogStore, harvests: HarvestStore) -> None:
    with ReplayServer() as server:
        server.add("POST", "/search", "<html>maintenance</html>", "text/html")
        harvests.add(SourceConfig("html", "stac", server.url, "c", {}))
        run = run_harvest(store, harvests, "html", fetcher=Fetcher(sleep=lambda s: None))
        assert run.status == FAILED and "not JSON" in run.errors[-1]
        assert run.retries == 0  # a wrong answer is not retried

        server.routes.clear()
        good = {"type": "Feature", "id": "ok", "geometry": None, "properties": {
            "datetime": "2024-01-01T00:00:00Z"}, "assets": {}, "links": []}  # fmt: skip
        bad = {"type": "Feature", "id": "bad", "geometry": {"type": "Polygon", "coordinates": [
            [[0, 0], [1, 1]]]}, "properties": {"datetime": "2024-01-02T00:00:00Z"}}  # fmt: skip
        server.add("POST", "/search", {"type": "FeatureCollection", "features": [good, bad]})
        run = run_harvest(store, harvests, "html", fetcher=Fetcher(sleep=lambda s: None))
        assert run.status == SUCCEEDED
        assert (run.new, run.skipped) == (1, 1)
        assert run.errors and run.errors[0].startswith("bad:")

        # 429 with Retry-After: the wait the server asks for is honoured
        server.fail("/search", 1, status=429, headers={"Retry-After": "7"})
        slept: list[float] = []
        run = run_harvest(store, harvests, "html", fetcher=Fetcher(sleep=slept.append))
        assert run.status == SUCCEEDED and slept == [7.0]


def test_bad_source_configurations(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown harvest source kind 'ftp'"):
        check_config(SourceConfig("a", "ftp", "ftp://x", "c"))
    with pytest.raises(InvalidInput, match="not an http"):
        check_config(SourceConfig("a", "stac", "earth-search", "c"))
    with pytest.raises(InvalidInput, match="not a folder"):
        check_config(SourceConfig("a", "safe", str(tmp_path / "missing"), "c"))
    with pytest.raises(InvalidInput, match="source name"):
        check_config(SourceConfig("../x", "stac", "https://x", "c"))
    with pytest.raises(InvalidInput, match="min_interval_s"):
        check_config(SourceConfig("a", "stac", "https://x", "c", {"min_interval_s": -1}))


def test_scheduled_runs_are_claimed_once(store: CatalogStore, harvests: HarvestStore) -> None:
    with ReplayServer() as server:
        server.add("POST", "/search", {"type": "FeatureCollection", "features": []})
        harvests.add(SourceConfig("tick", "stac", server.url, "c", {}), interval_s=3600)
        harvests.add(SourceConfig("manual", "stac", server.url, "c", {}))
        record = harvests.get("tick")
        scheduler = HarvestScheduler(store, harvests)
        assert scheduler.run_due() == 1  # only the scheduled source, once
        assert scheduler.run_due() == 0  # next run an hour later
        assert not harvests.claim(record)  # a second server holding the old view loses
        assert [r.status for r in harvests.runs("tick")] == [SUCCEEDED]
        assert harvests.runs("manual") == []
        with pytest.raises(Conflict):
            harvests.add(SourceConfig("tick", "stac", server.url, "c", {}))


def test_orbit_files_folder_is_harvested_for_precise_orbits(
    store: CatalogStore, harvests: HarvestStore, tmp_path: Path
) -> None:
    """A data root of EOF files becomes the ``sentinel-1-orbits`` collection that
    ``orbit: precise`` searches: each file an item over its validity."""
    from gep.catalog.search import SearchRequest
    from gep.core.timeutil import parse_datetime_interval

    folder = tmp_path / "orbits"
    shutil.copytree(S1 / "orbits", folder)
    (folder / "readme.EOF").write_text("not an orbit")
    harvests.add(SourceConfig("eof", "eof", str(folder), "sentinel-1-orbits"))
    run = run_harvest(store, harvests, "eof")
    assert run.status == SUCCEEDED, run.errors
    assert run.new == 2 and any("readme.EOF" in e for e in run.errors)
    items = _items(store, "sentinel-1-orbits")
    first = items["S1A_OPER_AUX_RESORB_OPOD_20230823T162050_V20230823T123139_20230823T154909"]
    props = first["properties"]
    assert isinstance(props, dict)
    assert props["s1:orbit_type"] == "RESORB" and props["platform"] == "sentinel-1a"
    assert props["start_datetime"].startswith("2023-08-23T12:3")
    assert props["end_datetime"].startswith("2023-08-23T15:4")
    # a search over an acquisition's time finds the files that cover it, as the job's does
    when = parse_datetime_interval("2023-08-23T15:00:00Z/2023-08-23T15:00:30Z")
    page = store.search(SearchRequest(collections=["sentinel-1-orbits"], datetime=when, limit=10))
    assert len(page.items) == 2
