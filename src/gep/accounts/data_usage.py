"""Data usage accounting: bytes each user reads and writes, per source and per collection.

Where the bytes are counted:

* a job staging an input (read; its source — the storage, a data root, a mirror, a remote
  host, the cache — and the item's collection), measured by the worker;
* a job's results stored (written; ``storage``, collection ``results``);
* an upload (written; ``upload``, the collection it lands in);
* a download through the asset route (read; ``storage`` or ``data-root``, the item's
  collection), counted by the API process in memory and written in batches by
  :class:`DataMeter`, so a range request does not wait for a database write (at most one
  flush interval of downloads is lost when a server process is killed).

An administrator prices data per collection (``data_prices``: cents per GB read and per GB
written; ``*`` applies to collections without a price of their own); the report gives each
row's cost from those prices, and jobs are charged for what they read and wrote through the
existing credits (:mod:`gep.accounts.credits`), in the job's one settlement.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, text

from gep.accounts.usage import window_where
from gep.core.errors import InvalidInput
from gep.core.periodic import Periodic

log = logging.getLogger("gep.accounts.data_usage")

GB = 1_000_000_000
#: the price row that applies to collections without one of their own
ANY_COLLECTION = "*"


class DataDirection(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class DataEvent:
    user_id: str | None
    direction: DataDirection
    source: str
    collection: str
    bytes: int
    job_id: str | None = None


@dataclass(frozen=True)
class DataPrice:
    """Cents per GB (10⁹ bytes) read and written."""

    read_cents_per_gb: float = 0.0
    write_cents_per_gb: float = 0.0

    def cost(self, direction: DataDirection, n_bytes: int) -> float:
        rate = (
            self.read_cents_per_gb if direction is DataDirection.READ else self.write_cents_per_gb
        )
        return rate * n_bytes / GB


def check_data_price(body: Any) -> DataPrice:
    """A price from a request body; 400 naming the field otherwise."""
    if not isinstance(body, dict):
        raise InvalidInput(
            'a data price is {"read_cents_per_gb": n, "write_cents_per_gb": n}', field="body"
        )
    unknown = set(body) - {"read_cents_per_gb", "write_cents_per_gb"}
    if unknown:
        raise InvalidInput(
            f"unknown member(s) {sorted(unknown)}; a data price has read_cents_per_gb and "
            "write_cents_per_gb",
            field=sorted(unknown)[0],
        )
    values: dict[str, float] = {}
    for name in ("read_cents_per_gb", "write_cents_per_gb"):
        value = body.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not (0 <= value <= 1e9):
            raise InvalidInput(f"{name} must be a number of cents from 0 to 1e9", field=name)
        values[name] = float(value)
    return DataPrice(**values)


class DataUsageStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, events: Iterable[DataEvent], at_us: int | None = None) -> int:
        """Append events (empty ones are skipped); returns how many were written."""
        now = at_us if at_us is not None else int(time.time() * 1e6)
        rows = [
            {
                "t": now,
                "u": e.user_id,
                "j": e.job_id,
                "d": str(e.direction),
                "s": e.source[:200],
                "c": e.collection[:200],
                "b": int(e.bytes),
            }
            for e in events
            if e.bytes > 0
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO data_usage (time, user_id, job_id, direction, source, "
                        "collection, bytes) VALUES (:t, :u, :j, :d, :s, :c, :b)"
                    ),
                    rows,
                )
        return len(rows)

    def job_bytes(self, job_id: str) -> dict[str, int]:
        """A job's bytes per direction (what it is charged for)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT direction, sum(bytes) FROM data_usage WHERE job_id = :j "
                    "GROUP BY direction"
                ),
                {"j": job_id},
            ).all()
        return {str(r[0]): int(r[1] or 0) for r in rows}

    def job_cost_cents(self, events: Iterable[DataEvent]) -> float:
        """What a job's data costs at the current prices (cents, fractional)."""
        prices = self.prices()
        return sum(self._price(prices, e.collection).cost(e.direction, e.bytes) for e in events)

    # ------------------------------------------------------------------ prices
    def set_price(self, collection: str, price: DataPrice) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM data_prices WHERE collection = :c"), {"c": collection})
            conn.execute(
                text(
                    "INSERT INTO data_prices (collection, read_cents_per_gb, write_cents_per_gb) "
                    "VALUES (:c, :r, :w)"
                ),
                {"c": collection, "r": price.read_cents_per_gb, "w": price.write_cents_per_gb},
            )

    def remove_price(self, collection: str) -> bool:
        with self.engine.begin() as conn:
            gone = conn.execute(
                text("DELETE FROM data_prices WHERE collection = :c"), {"c": collection}
            ).rowcount
        return bool(gone)

    def prices(self) -> dict[str, DataPrice]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT collection, read_cents_per_gb, write_cents_per_gb FROM data_prices")
            ).all()
        return {str(r[0]): DataPrice(float(r[1]), float(r[2])) for r in rows}

    @staticmethod
    def _price(prices: dict[str, DataPrice], collection: str) -> DataPrice:
        return prices.get(collection) or prices.get(ANY_COLLECTION) or DataPrice()

    # ------------------------------------------------------------------ reports
    def report(
        self, *, user_id: str | None, start_us: int | None = None, end_us: int | None = None
    ) -> list[dict[str, Any]]:
        """Bytes per (user, direction, source, collection) in [start, end], with their cost
        at the current prices; one user's or, with ``user_id`` None, everyone's."""
        clause, params = window_where("d.user_id", "d.time", user_id, start_us, end_us)
        sql = (
            "SELECT coalesce(u.name, '(none)'), d.direction, d.source, d.collection, "
            "count(*), sum(d.bytes) "
            f"FROM data_usage d LEFT JOIN users u ON u.id = d.user_id{clause} "
            "GROUP BY coalesce(u.name, '(none)'), d.direction, d.source, d.collection "
            "ORDER BY 1, 2, 3, 4"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), params).all()
        prices = self.prices()
        out = []
        for r in rows:
            n = int(r[5] or 0)
            direction = DataDirection(r[1])
            cost = self._price(prices, str(r[3])).cost(direction, n)
            out.append(
                {
                    "user": r[0],
                    "direction": str(direction),
                    "source": r[2],
                    "collection": r[3],
                    "events": int(r[4]),
                    "bytes": n,
                    "cost_cents": round(cost, 6),
                }
            )
        return out


class DataMeter:
    """Download counts kept in memory and written in batches (every ``flush_s`` seconds and
    at shutdown), so that serving a range never waits for a database write."""

    def __init__(self, store: DataUsageStore, flush_s: float = 5.0) -> None:
        self.store = store
        self.flush_s = flush_s
        self._lock = threading.Lock()
        self._pending: dict[tuple[str | None, str, str], list[int]] = {}
        self._periodic = Periodic("gep-data-meter", lambda stop: self.flush(), flush_s, log)

    def add(self, user_id: str | None, source: str, collection: str, n_bytes: int) -> None:
        if n_bytes <= 0:
            return
        with self._lock:
            self._pending.setdefault((user_id, source, collection), [0])[0] += n_bytes
        if not self._periodic.running:
            self._periodic.start()

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, {}
        events = [
            DataEvent(user, DataDirection.READ, source, collection, total[0])
            for (user, source, collection), total in pending.items()
        ]
        return self.store.record(events)

    def close(self) -> None:
        self._periodic.stop(timeout=10)
        self.flush()
