"""One behaviour suite, run on both backends (SQLite and PostgreSQL + PostGIS)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from gep.core.errors import Conflict, InvalidInput, NotFound
from tests.support.items import make_item, square


def ids(store: CatalogStore, **params: Any) -> list[str]:
    page = store.search(build_search(params, from_get=False))
    return [iid for _, iid, _ in page.items]


def count(store: CatalogStore, **params: Any) -> int:
    page = store.search(build_search({**params, "count": True, "limit": 1}, from_get=False))
    assert page.number_matched is not None
    return page.number_matched


@pytest.fixture
def grid(store: CatalogStore) -> CatalogStore:
    """Ten 1°×1° squares along the equator, one per day, with EO properties."""
    store.create_collection({"id": "s1", "description": "test"})
    items = [
        make_item(
            f"i{n}",
            square(n, 0),
            f"2021-01-{n + 1:02d}T10:00:00Z",
            **{
                "sat:relative_orbit": n % 3,
                "sat:orbit_state": "ascending" if n % 2 else "descending",
                "platform": "sentinel-1a" if n < 5 else "Sentinel-1B",
                "sar:polarizations": ["VV", "VH"] if n % 2 else ["HH"],
                "title": "Etna eruption" if n == 3 else f"scene {n}",
                "eo:cloud_cover": None if n == 9 else n * 10.0,
            },
        )
        for n in range(10)
    ]
    report = store.write_items(items)
    assert report.written == 10 and not report.failed
    return store


def test_get_and_upsert_is_idempotent(grid: CatalogStore) -> None:
    item = orjson.loads(grid.get_item("s1", "i3"))
    assert item["id"] == "i3" and item["collection"] == "s1"
    assert item["bbox"] == [3.0, 0.0, 4.0, 1.0]
    grid.write_items([make_item("i3", square(3, 0), "2021-01-04T10:00:00Z", title="changed")])
    assert count(grid) == 10
    assert orjson.loads(grid.get_item("s1", "i3"))["properties"]["title"] == "changed"


def test_create_conflict_and_replace_missing(grid: CatalogStore) -> None:
    with pytest.raises(Conflict):
        grid.write_items([make_item("i1", square(1, 0), "2021-01-02T00:00:00Z")], mode="create")
    with pytest.raises(NotFound):
        grid.write_items([make_item("zz", square(1, 0), "2021-01-02T00:00:00Z")], mode="replace")
    with pytest.raises(NotFound):
        grid.get_item("s1", "zz")
    with pytest.raises(NotFound):
        grid.get_item("nope", "i1")


def test_atomic_bulk_writes_nothing_on_one_bad_item(grid: CatalogStore) -> None:
    bad = make_item(
        "bad",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        "2021-02-01T00:00:00Z",
    )
    good = make_item("good", square(0, 0), "2021-02-01T00:00:00Z")
    with pytest.raises(InvalidInput, match=r"items\[1\]\.geometry.*Self-intersection"):
        grid.write_items([good, bad], mode="create")
    assert count(grid) == 10


def test_non_atomic_ingest_reports_failures_and_keeps_the_rest(grid: CatalogStore) -> None:
    report = grid.write_items(
        [
            make_item("ok1", square(0, 0), "2021-02-01T00:00:00Z"),
            {
                "type": "Feature",
                "id": "nodate",
                "collection": "s1",
                "geometry": None,
                "properties": {},
            },
            make_item("ok2", square(0, 0), "2021-02-02T00:00:00Z"),
        ],
        atomic=False,
    )
    assert report.written == 2
    assert [(f.position, f.item_id) for f in report.failed] == [(1, "nodate")]
    assert "datetime" in report.failed[0].message


def test_bbox_and_3d_bbox(grid: CatalogStore) -> None:
    assert sorted(ids(grid, bbox=[2.5, 0.2, 4.5, 0.8])) == ["i2", "i3", "i4"]
    assert sorted(ids(grid, bbox=[2.5, 0.2, -100, 4.5, 0.8, 100])) == ["i2", "i3", "i4"]
    assert ids(grid, bbox=[20, 20, 30, 30]) == []


def test_antimeridian(store: CatalogStore) -> None:
    store.create_collection({"id": "s1"})
    across = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[179, 10], [180, 10], [180, 11], [179, 11], [179, 10]]],
            [[[-180, 10], [-179, 10], [-179, 11], [-180, 11], [-180, 10]]],
        ],
    }
    store.write_items(
        [
            make_item("across", across, "2021-01-01T00:00:00Z"),
            make_item("east", square(178, 10), "2021-01-01T00:00:00Z"),
            make_item("west", square(-178.5, 10, 0.4), "2021-01-01T00:00:00Z"),
            make_item("greenwich", square(0, 10), "2021-01-01T00:00:00Z"),
        ]
    )
    assert sorted(ids(store, bbox=[179.5, 9, -179.5, 12])) == ["across"]
    assert sorted(ids(store, bbox=[178.5, 9, -178.3, 12])) == ["across", "east", "west"]
    assert "greenwich" not in ids(store, bbox=[170, 0, -170, 20])


def test_intersects_is_exact_not_bbox(grid: CatalogStore) -> None:
    # a thin diagonal triangle whose bbox covers i0..i2 but whose area touches only i0 and i2
    tri = {"type": "Polygon", "coordinates": [[[0.1, 0.1], [0.2, 0.1], [2.9, 0.95], [0.1, 0.1]]]}
    got = sorted(ids(grid, intersects=tri))
    assert got == ["i0", "i1", "i2"]
    line_far = {
        "type": "Polygon",
        "coordinates": [[[0.5, 0.5], [2.5, 0.5], [2.5, 0.6], [0.5, 0.5]]],
    }
    assert sorted(ids(grid, intersects=line_far)) == ["i0", "i1", "i2"]
    notch = {
        "type": "Polygon",
        "coordinates": [[[0.5, 0.5], [0.9, 0.5], [0.9, 0.9], [0.5, 0.9], [0.5, 0.5]]],
    }
    assert ids(grid, intersects=notch) == ["i0"]


def test_datetime_instants_and_intervals(grid: CatalogStore) -> None:
    assert ids(grid, datetime="2021-01-03T10:00:00Z") == ["i2"]
    assert sorted(ids(grid, datetime="2021-01-03T00:00:00Z/2021-01-04T23:00:00Z")) == ["i2", "i3"]
    assert len(ids(grid, datetime="../2021-01-02T10:00:00Z")) == 2
    assert len(ids(grid, datetime="2021-01-09T10:00:00Z/..")) == 2
    assert ids(grid, datetime="2021-01-05") == ["i4"]  # a whole day


def test_interval_items(store: CatalogStore) -> None:
    store.create_collection({"id": "s1"})
    long = make_item("long", square(0, 0), "2020-01-01T00:00:00Z")
    del long["properties"]["datetime"]
    long["properties"].update(
        start_datetime="2020-01-01T00:00:00Z", end_datetime="2020-12-31T00:00:00Z"
    )
    store.write_items([long, make_item("short", square(0, 0), "2020-06-01T00:00:00Z")])
    assert sorted(ids(store, datetime="2020-07-01T00:00:00Z/2020-07-02T00:00:00Z")) == ["long"]
    assert sorted(ids(store, datetime="2020-05-31T00:00:00Z/2020-06-02T00:00:00Z")) == [
        "long",
        "short",
    ]


def test_ids_and_collections(grid: CatalogStore) -> None:
    grid.create_collection({"id": "other"})
    grid.write_items([make_item("i1", square(0, 0), "2021-01-01T00:00:00Z", collection="other")])
    assert sorted(ids(grid, ids=["i1", "i2"])) == ["i1", "i1", "i2"]
    assert ids(grid, ids=["i1"], collections=["other"]) == ["i1"]
    assert count(grid, collections=["s1", "other"]) == 11


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ('"sat:relative_orbit" = 1', ["i1", "i4", "i7"]),
        ("sat:orbit_state = 'ascending' AND sat:relative_orbit > 1", ["i5"]),
        ("platform LIKE 'sentinel%'", ["i0", "i1", "i2", "i3", "i4"]),  # case-sensitive
        ("CASEI(platform) = 'sentinel-1b'", ["i5", "i6", "i7", "i8", "i9"]),
        ("eo:cloud_cover BETWEEN 10 AND 30", ["i1", "i2", "i3"]),
        ("eo:cloud_cover IS NULL", ["i9"]),
        ("NOT (eo:cloud_cover < 80)", ["i8"]),
        ("id IN ('i1', 'i8', 'zz')", ["i1", "i8"]),
        ("S_INTERSECTS(geometry, BBOX(3.5, 0.5, 4.5, 0.6))", ["i3", "i4"]),
        ("S_WITHIN(geometry, POLYGON((1.5 -1, 3.5 -1, 3.5 2, 1.5 2, 1.5 -1)))", ["i2"]),
        (
            "T_INTERSECTS(datetime, INTERVAL('2021-01-02T00:00:00Z', '2021-01-03T23:00:00Z'))",
            ["i1", "i2"],
        ),
        ("datetime >= TIMESTAMP('2021-01-09T00:00:00Z')", ["i8", "i9"]),
        ("datetime < DATE('2021-01-02')", ["i0"]),
        ("A_CONTAINS(\"sar:polarizations\", ('VH'))", ["i1", "i3", "i5", "i7", "i9"]),
        (
            "A_OVERLAPS(\"sar:polarizations\", ('HH', 'XX')) AND sat:relative_orbit = 0",
            ["i0", "i6"],
        ),
        (
            "title = 'Etna eruption' OR sat:relative_orbit = 2 AND sat:orbit_state = 'descending'",
            ["i2", "i3", "i8"],
        ),
    ],
)
def test_cql2_text(grid: CatalogStore, cql: str, expected: list[str]) -> None:
    assert sorted(ids(grid, filter=cql, limit=100)) == expected
    assert count(grid, filter=cql) == len(expected)


def test_cql2_json_and_query_extension(grid: CatalogStore) -> None:
    flt = {
        "op": "and",
        "args": [
            {"op": ">=", "args": [{"property": "sat:relative_orbit"}, 1]},
            {"op": "=", "args": [{"property": "sat:orbit_state"}, "descending"]},
        ],
    }
    assert sorted(ids(grid, filter=flt, **{"filter-lang": "cql2-json"})) == ["i2", "i4", "i8"]
    assert sorted(
        ids(grid, query={"sat:relative_orbit": {"gte": 1}, "sat:orbit_state": {"eq": "descending"}})
    ) == ["i2", "i4", "i8"]


def test_unknown_queryable_lists_the_queryables(grid: CatalogStore) -> None:
    with pytest.raises(InvalidInput) as err:
        ids(grid, filter="sat:relativ_orbit = 3")
    assert "sat:relativ_orbit" in err.value.message
    assert "sat:relative_orbit" in err.value.message  # the list helps the user fix the typo


def test_malformed_cql2_says_where(grid: CatalogStore) -> None:
    with pytest.raises(InvalidInput) as err:
        ids(grid, filter="sat:relative_orbit = = 3")
    assert "1:22" in err.value.message or "^" in err.value.message


def test_sort_with_nulls_and_paging_covers_everything(grid: CatalogStore) -> None:
    order = ids(grid, sortby=[{"field": "eo:cloud_cover", "direction": "desc"}], limit=100)
    assert order == ["i9", "i8", "i7", "i6", "i5", "i4", "i3", "i2", "i1", "i0"]  # NULL largest
    order = ids(
        grid, sortby=[{"field": "properties.eo:cloud_cover", "direction": "asc"}], limit=100
    )
    assert order[0] == "i0" and order[-1] == "i9"
    for sortby in (
        [{"field": "sat:relative_orbit", "direction": "asc"}],
        [{"field": "eo:cloud_cover", "direction": "desc"}],
        [{"field": "eo:cloud_cover", "direction": "asc"}],
        [{"field": "platform", "direction": "desc"}, {"field": "datetime", "direction": "asc"}],
        [],
    ):
        full = ids(grid, sortby=sortby, limit=100)
        walked: list[str] = []
        token = None
        while True:
            params: dict[str, Any] = {"sortby": sortby, "limit": 3}
            if token:
                params["token"] = token
            page = grid.search(build_search(params, from_get=False))
            walked += [iid for _, iid, _ in page.items]
            token = page.next_token
            if not token:
                break
        assert walked == full, sortby


def test_paging_is_stable_while_items_are_inserted(grid: CatalogStore) -> None:
    first = grid.search(build_search({"limit": 4}, from_get=False))
    seen = [iid for _, iid, _ in first.items]
    assert seen == ["i9", "i8", "i7", "i6"]
    # newer items (before the cursor) and older ones (after it) arrive while the user pages
    grid.write_items(
        [
            make_item("new", square(0, 0), "2021-02-01T00:00:00Z"),
            make_item("old", square(0, 0), "2020-12-01T00:00:00Z"),
        ]
    )
    token = first.next_token
    while token:
        page = grid.search(build_search({"limit": 4, "token": token}, from_get=False))
        seen += [iid for _, iid, _ in page.items]
        token = page.next_token
    assert seen == [f"i{n}" for n in range(9, -1, -1)] + ["old"]


def test_sort_on_unknown_field_is_refused(grid: CatalogStore) -> None:
    with pytest.raises(InvalidInput, match="not sortable"):
        ids(grid, sortby="-nope")


def test_free_text(grid: CatalogStore) -> None:
    assert ids(grid, q=["etna"]) == ["i3"]
    assert sorted(ids(grid, q=["eruption", "scene 7"])) == ["i3", "i7"]


def test_delete_item_and_collection(grid: CatalogStore) -> None:
    grid.delete_item("s1", "i1")
    assert count(grid) == 9
    with pytest.raises(NotFound):
        grid.delete_item("s1", "i1")
    grid.delete_collection("s1")
    assert count(grid) == 0
    with pytest.raises(NotFound):
        grid.get_collection("s1")


def test_queryables_are_derived_from_data(grid: CatalogStore) -> None:
    schema = grid.queryables_schema("s1")
    props = schema["properties"]
    assert props["sat:relative_orbit"]["type"] == "integer"
    assert props["eo:cloud_cover"]["type"] == "number"
    assert props["sar:polarizations"]["type"] == "array"
    assert props["platform"]["type"] == "string"
    with pytest.raises(NotFound):
        grid.queryables_schema("nope")


@pytest.mark.parametrize("size", [5.0, 40.0])  # small boxes drive the R*Tree, big ones the index
def test_bbox_is_exact_for_small_and_big_boxes(store: CatalogStore, size: float) -> None:
    store.create_collection({"id": "s1"})
    # a thin diagonal strip: its bbox overlaps the query box's corner, its area does not
    strip = {
        "type": "Polygon",
        "coordinates": [
            [
                [size - 1, size + 1.5],
                [size + 1.5, size - 1],
                [size + 2, size - 1],
                [size - 0.5, size + 1.5],
                [size - 1, size + 1.5],
            ]
        ],
    }
    store.write_items(
        [
            make_item("strip", strip, "2021-01-01T00:00:00Z"),
            make_item("inside", square(1, 1), "2021-01-01T00:00:00Z"),
            make_item("edge", square(size - 0.5, 1), "2021-01-01T00:00:00Z"),
        ]
    )
    assert sorted(ids(store, bbox=[0, 0, size, size])) == ["edge", "inside"]
    assert count(store, bbox=[0, 0, size, size]) == 2


def test_ingestion_events_hide_items_the_viewer_may_not_see(store: CatalogStore) -> None:
    """A private item in a public collection (a result in a shared layer) is logged, but its
    event is listed only to whoever may see the item."""
    from gep.catalog.access import Access
    from gep.core.access import Viewer

    store.create_collection(
        {
            "type": "Collection",
            "stac_version": "1.1.0",
            "id": "pub",
            "description": "d",
            "license": "other",
            "extent": {
                "spatial": {"bbox": [[-180, -90, 180, 90]]},
                "temporal": {"interval": [[None, None]]},
            },
            "links": [],
        }
    )
    store.set_item_access("pub", ["secret"], Access("alice", "private"))
    items = [
        make_item("secret", square(0, 0), "2024-01-01T00:00:00Z", "pub"),
        make_item("open", square(0, 0), "2024-01-02T00:00:00Z", "pub"),
    ]
    store.write_items(items, mode="upsert", origin="test")
    alice, bob = Viewer("alice"), Viewer("bob")
    assert [e.item_id for e in store.ingestion_events(viewer=alice)] == ["secret", "open"]
    assert [e.item_id for e in store.ingestion_events(viewer=bob)] == ["open"]
    assert [e.item_id for e in store.ingestion_events(viewer=Viewer())] == ["open"]
