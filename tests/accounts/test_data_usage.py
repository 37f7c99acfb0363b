"""The data usage log and its report on both backends: events per user, direction, source and
collection, prices (a collection's own, else ``*``), and downloads batched by the meter."""

from __future__ import annotations

import pytest

from gep.accounts.data_usage import (
    DataDirection,
    DataEvent,
    DataMeter,
    DataPrice,
    DataUsageStore,
    check_data_price,
)
from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput
from gep.core.units import human_bytes

READ, WRITE = DataDirection.READ, DataDirection.WRITE


def test_report_groups_and_prices(store: CatalogStore) -> None:
    data = DataUsageStore(store.engine)
    events = [
        DataEvent("u1", READ, "storage", "s1", 3_000, "j1"),
        DataEvent("u1", READ, "storage", "s1", 2_000, "j2"),
        DataEvent("u1", READ, "archive.example", "s1", 500, "j2"),
        DataEvent("u1", WRITE, "storage", "results", 7_000, "j2"),
        DataEvent("u2", READ, "storage", "s2", 1_000_000_000),
        DataEvent("u2", READ, "storage", "s2", 0),  # nothing read: not logged
    ]
    assert data.record(events, at_us=1_000) == 5
    data.set_price("s1", DataPrice(read_cents_per_gb=100.0))
    data.set_price("*", DataPrice(read_cents_per_gb=1.0, write_cents_per_gb=2.0))
    rows = {
        (r["user"], r["direction"], r["source"], r["collection"]): r
        for r in data.report(user_id=None)
    }  # users that do not exist in the accounts are "(none)"
    assert rows[("(none)", "read", "storage", "s1")]["bytes"] == 5_000
    assert rows[("(none)", "read", "storage", "s1")]["events"] == 2
    assert rows[("(none)", "read", "storage", "s1")]["cost_cents"] == pytest.approx(5e-4)
    assert rows[("(none)", "write", "storage", "results")]["cost_cents"] == pytest.approx(1.4e-5)
    assert rows[("(none)", "read", "storage", "s2")]["cost_cents"] == pytest.approx(1.0)
    assert data.report(user_id="u1", start_us=2_000) == []  # the window
    assert len(data.report(user_id="u1", end_us=1_000)) == 3
    assert data.job_bytes("j2") == {"read": 2_500, "write": 7_000}
    assert data.job_cost_cents(events[:2]) == pytest.approx(5e-4)
    assert data.remove_price("s1") and not data.remove_price("s1")


def test_the_meter_batches_downloads(store: CatalogStore) -> None:
    data = DataUsageStore(store.engine)
    meter = DataMeter(data, flush_s=3600)  # only explicit flushes
    for _ in range(100):
        meter.add("u1", "storage", "c", 16_384)
    meter.add("u1", "data-root", "c", 10)
    meter.add("u1", "storage", "c", 0)
    assert data.report(user_id="u1") == []  # nothing written per request
    assert meter.flush() == 2
    rows = {r["source"]: r for r in data.report(user_id="u1")}
    assert rows["storage"]["bytes"] == 1_638_400 and rows["storage"]["events"] == 1
    meter.add("u1", "storage", "c", 1)
    meter.close()  # what is pending is written at shutdown
    assert sum(r["bytes"] for r in data.report(user_id="u1")) == 1_638_411


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"read_cents_per_gb": -1}, "read_cents_per_gb"),
        ({"write_cents_per_gb": "1"}, "write_cents_per_gb"),
        ({"read_cents_per_gb": True}, "read_cents_per_gb"),
        ({"per_gb": 1}, "per_gb"),
        ([], "body"),
    ],
)
def test_bad_prices_name_their_field(body: object, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_data_price(body)
    assert err.value.field == field


def test_human_units() -> None:
    assert [human_bytes(n) for n in (0, 999, 1000, 1_500_000, 2.5e9, 3e15)] == [
        "0 B", "999 B", "1.0 kB", "1.5 MB", "2.5 GB", "3000.0 TB",
    ]  # fmt: skip
