"""The same searches return the same items in the same order on SQLite and on PostGIS.

A generated catalogue (random footprints, including antimeridian crossings, times with ties,
properties with NULLs) and a battery of random searches; each page is compared id for id.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from tests.support.items import make_item, square
from tests.support.stores import make_store

N_ITEMS = 1500


def _footprint(rng: random.Random) -> dict[str, Any]:
    x = rng.uniform(-180, 180)
    y = rng.uniform(-70, 70)
    w, h = rng.uniform(0.5, 3), rng.uniform(0.5, 2)
    if x + w > 180:  # split at the antimeridian, as STAC asks
        return {
            "type": "MultiPolygon",
            "coordinates": [
                [[[x, y], [180, y], [180, y + h], [x, y + h], [x, y]]],
                [[[-180, y], [x + w - 360, y], [x + w - 360, y + h], [-180, y + h], [-180, y]]],
            ],
        }
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + w, y], [x + w * 0.9, y + h], [x + w * 0.1, y + h], [x, y]]],
    }


def _items(seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for n in range(N_ITEMS):
        day = rng.randint(1, 28)
        hour = rng.choice([0, 6, 12])  # many exact ties in datetime
        props: dict[str, Any] = {
            "sat:relative_orbit": rng.randint(1, 20),
            "sat:orbit_state": rng.choice(["ascending", "descending"]),
            "platform": rng.choice(["sentinel-1a", "sentinel-1b", "Sentinel-1A"]),
            "sar:polarizations": rng.choice([["VV", "VH"], ["HH", "HV"], ["VV"]]),
            "eo:cloud_cover": None if rng.random() < 0.2 else round(rng.uniform(0, 100), 1),
            "title": rng.choice(["Etna flank", "Kos earthquake", "Mexico City", "Amatrice"]),
        }
        out.append(
            make_item(
                f"item-{n:05d}",
                _footprint(rng),
                f"2020-{rng.randint(1, 12):02d}-{day:02d}T{hour:02d}:00:00Z",
                collection=rng.choice(["s1", "s1b"]),
                **props,
            )
        )
    return out


def _searches(seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for _ in range(40):
        s: dict[str, Any] = {"limit": rng.choice([5, 17, 50])}
        kind = rng.randrange(6)
        if kind in (0, 1):
            x, y = rng.uniform(-180, 170), rng.uniform(-70, 50)
            w = rng.uniform(5, 60)
            east = x + w if x + w <= 180 else x + w - 360
            s["bbox"] = [x, y, east, y + rng.uniform(5, 30)]
        if kind == 2:
            x, y = rng.uniform(-170, 150), rng.uniform(-60, 40)
            s["intersects"] = {
                "type": "Polygon",
                "coordinates": [[[x, y], [x + 20, y + 3], [x + 10, y + 25], [x, y]]],
            }
        if rng.random() < 0.5:
            m = rng.randint(1, 11)
            s["datetime"] = f"2020-{m:02d}-01T00:00:00Z/2020-{m + 1:02d}-01T00:00:00Z"
        if rng.random() < 0.5:
            s["filter"] = rng.choice(
                [
                    f"sat:relative_orbit = {rng.randint(1, 20)}",
                    "sat:orbit_state = 'ascending' AND eo:cloud_cover < 50",
                    "platform LIKE 'sentinel-1%'",
                    "eo:cloud_cover IS NULL OR sat:relative_orbit IN (1, 2, 3)",
                    "A_CONTAINS(\"sar:polarizations\", ('VV'))",
                    "CASEI(platform) = 'sentinel-1a'",
                ]
            )
        if rng.random() < 0.5:
            s["sortby"] = rng.choice(
                [
                    [{"field": "eo:cloud_cover", "direction": "asc"}],
                    [{"field": "eo:cloud_cover", "direction": "desc"}],
                    [
                        {"field": "platform", "direction": "asc"},
                        {"field": "datetime", "direction": "desc"},
                    ],
                    [{"field": "sat:relative_orbit", "direction": "desc"}],
                    [{"field": "id", "direction": "asc"}],
                ]
            )
        if rng.random() < 0.2:
            s["q"] = ["Etna", "Amatrice"]
        if rng.random() < 0.3:
            s["collections"] = ["s1b"]
        out.append(s)
    return out


def _walk(store: CatalogStore, params: dict[str, Any], pages: int = 3) -> tuple[list[str], int]:
    got: list[str] = []
    page = store.search(build_search({**params, "count": True}, from_get=False))
    matched = page.number_matched or 0
    got += [f"{c}/{i}" for c, i, _ in page.items]
    for _ in range(pages - 1):
        if not page.next_token:
            break
        page = store.search(build_search({**params, "token": page.next_token}, from_get=False))
        got += [f"{c}/{i}" for c, i, _ in page.items]
    return got, matched


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[CatalogStore, CatalogStore]:
    items = _items()
    stores = []
    for backend in ("sqlite", "postgis"):
        s = make_store(backend, Path(tmp_path_factory.mktemp(backend)))
        s.create_collection({"id": "s1"})
        s.create_collection({"id": "s1b"})
        report = s.write_items(items)
        assert report.written == N_ITEMS
        s.analyze()
        stores.append(s)
    return stores[0], stores[1]


@pytest.mark.parametrize("n", range(40))
def test_same_items_same_order(both: tuple[CatalogStore, CatalogStore], n: int) -> None:
    params = _searches()[n]
    lite, pg = both
    a, ca = _walk(lite, params)
    b, cb = _walk(pg, params)
    assert ca == cb, params
    assert a == b, params


def test_the_battery_is_not_trivial(both: tuple[CatalogStore, CatalogStore]) -> None:
    """Guard against a battery where every search returns nothing (it would prove nothing)."""
    lite, _ = both
    nonempty = sum(1 for p in _searches() if _walk(lite, p, pages=1)[1] > 0)
    assert nonempty >= 25


def test_plan_choice_never_changes_results(both: tuple[CatalogStore, CatalogStore]) -> None:
    """The stores pick a driving index by probing counts, and PostGIS may read newest-first
    pages through time windows; whatever the plan, the pages must not move.

    Run once with tiny probe limits (every spatial search takes the datetime-order walk) and
    time windows on for both backends from the smallest span, and compare with the defaults.
    """
    lite, pg = both
    searches = [p for p in _searches() if "bbox" in p or "intersects" in p]
    before = [(_walk(lite, p), _walk(pg, p)) for p in searches]
    knobs = {
        lite: {
            "RTREE_PROBE_LIMIT": 1,
            "TIME_PROBE_LIMIT": 1,
            "TIME_WINDOWS": True,
            "TIME_WINDOW_MIN_SPAN_US": 0,
            "TIME_WINDOW_FIRST": 3,
            "TIME_WINDOW_GROWTH": 2,
        },
        pg: {
            "DENSE_PROBE_LIMIT": 1,
            "DENSE_MIN_AREA": 0.0,
            "TIME_WINDOWS": True,
            "TIME_WINDOW_MIN_SPAN_US": 0,
            "TIME_WINDOW_FIRST": 3,
            "TIME_WINDOW_GROWTH": 2,
        },
    }
    answered = {lite: 0, pg: 0}

    def counting(store: CatalogStore) -> Any:
        original = store._newest_first

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            rows = original(*args, **kwargs)
            answered[store] += rows is not None
            return rows

        return wrapper

    try:
        for store, values in knobs.items():
            for k, v in values.items():
                setattr(store, k, v)
            store._newest_first = counting(store)  # type: ignore[method-assign]
        after = [(_walk(lite, p), _walk(pg, p)) for p in searches]
    finally:
        for store, values in knobs.items():
            for k in [*values, "_newest_first"]:
                delattr(store, k)  # back to the class defaults
    assert len(searches) >= 15
    assert after == before
    # the generated catalogue is too sparse for a window to fill a page: a dense cluster is
    rng = random.Random(3)
    cluster = [
        make_item(
            f"dense-{n:04d}",
            square(rng.uniform(10, 14), rng.uniform(40, 44), 0.5),
            f"20{rng.randint(21, 23)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            f"T{rng.choice([0, 12])}:00:00Z".replace("T0:", "T00:"),
            collection="s1",
        )
        for n in range(400)
    ]
    dense = [
        {"bbox": [9, 39, 15, 45], "limit": 7},
        {
            "intersects": {
                "type": "Polygon",
                "coordinates": [[[10, 40], [13, 40], [12, 43], [10, 40]]],
            },
            "limit": 13,
        },
    ]
    for store in (lite, pg):
        store.write_items(cluster)
        plain = [_walk(store, p, pages=4) for p in dense]
        for k, v in knobs[store].items():
            setattr(store, k, v)
        store._newest_first = counting(store)  # type: ignore[method-assign]
        try:
            windowed = [_walk(store, p, pages=4) for p in dense]
        finally:
            for k in [*knobs[store], "_newest_first"]:
                delattr(store, k)
        assert windowed == plain
        assert answered[store] >= 4, answered  # the window path really answered pages
