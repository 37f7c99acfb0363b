"""Subscriptions in the database: their records, the dispatcher's cursor, failures, counts.

Everything the dispatcher decides from is here rather than in memory, so that any server on the
database (after a restart, or beside another) carries on where the last one stopped: the place
in the ingestion log (``subscription_cursor``), the next scheduled run (claimed by a conditional
UPDATE, like harvest sources), and which triggers became jobs (``jobs.trigger_key``) or failures
(``subscription_failures``, keyed the same way).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, text

from gep.core.access import PRIVATE, Viewer
from gep.core.enums import BudgetPeriod, JobStatus, SubscriptionState, TriggerKind
from gep.core.errors import NotFound
from gep.core.timeutil import format_rfc3339, from_micros
from gep.db.values import values_in
from gep.db.visible import select_all_visible, select_visible

#: the dispatcher's row in ``subscription_cursor``
INGEST_CURSOR = "ingestion"
#: failures listed per subscription (all are counted)
FAILURES_SHOWN = 50


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class Subscription:
    id: str
    title: str
    owner: str | None
    visibility: str
    process_id: str
    inputs: dict[str, Any]
    kind: TriggerKind
    trigger: dict[str, Any]
    layer: str
    state: SubscriptionState
    reason: str | None
    budget_cents: int | None
    budget_period: BudgetPeriod | None
    max_jobs_per_trigger: int
    webhook_url: str | None
    webhook_nonce: str | None
    webhook_failures: int
    webhook_disabled: str | None
    last_trigger: int | None
    next_run: int | None
    paused_seq: int | None
    created: int
    updated: int

    @property
    def active(self) -> bool:
        return self.state == SubscriptionState.ACTIVE


_COLS = (
    "id, title, owner, visibility, process_id, inputs, kind, trig, layer, state, reason, "
    "budget_cents, budget_period, max_jobs_per_trigger, webhook_url, webhook_nonce, "
    "webhook_failures, webhook_disabled, last_trigger, next_run, paused_seq, created, updated"
)


def _row(r: Any) -> Subscription:
    return Subscription(
        id=r[0],
        title=r[1],
        owner=r[2],
        visibility=r[3],
        process_id=r[4],
        inputs=orjson.loads(r[5]),
        kind=TriggerKind(r[6]),
        trigger=orjson.loads(r[7]),
        layer=r[8],
        state=SubscriptionState(r[9]),
        reason=r[10],
        budget_cents=None if r[11] is None else int(r[11]),
        budget_period=None if r[12] is None else BudgetPeriod(r[12]),
        max_jobs_per_trigger=int(r[13]),
        webhook_url=r[14],
        webhook_nonce=r[15],
        webhook_failures=int(r[16] or 0),
        webhook_disabled=r[17],
        last_trigger=None if r[18] is None else int(r[18]),
        next_run=None if r[19] is None else int(r[19]),
        paused_seq=None if r[20] is None else int(r[20]),
        created=int(r[21]),
        updated=int(r[22]),
    )


def _ts(us: int | None) -> str | None:
    return None if us is None else format_rfc3339(from_micros(us))


class SubscriptionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ records

    def create(
        self,
        *,
        title: str,
        owner: str | None,
        process_id: str,
        inputs: dict[str, Any],
        kind: TriggerKind,
        trigger: dict[str, Any],
        layer: str,
        max_jobs_per_trigger: int,
        budget_cents: int | None = None,
        budget_period: BudgetPeriod | None = None,
        webhook_url: str | None = None,
        visibility: str = PRIVATE,
        next_run: int | None = None,
        sub_id: str | None = None,
    ) -> Subscription:
        t = now_us()
        sid = sub_id or "sub-" + uuid.uuid4().hex[:16]
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO subscriptions ({_COLS}) VALUES (:id, :title, :owner, :vis, "
                    ":proc, :inputs, :kind, :trig, :layer, :state, NULL, :bc, :bp, :mj, :wu, "
                    ":wn, 0, NULL, NULL, :nr, NULL, :t, :t)"
                ),
                {
                    "id": sid,
                    "title": title,
                    "owner": owner,
                    "vis": visibility,
                    "proc": process_id,
                    "inputs": orjson.dumps(inputs).decode(),
                    "kind": kind,
                    "trig": orjson.dumps(trigger).decode(),
                    "layer": layer,
                    "state": SubscriptionState.ACTIVE,
                    "bc": budget_cents,
                    "bp": budget_period,
                    "mj": max_jobs_per_trigger,
                    "wu": webhook_url,
                    "wn": uuid.uuid4().hex if webhook_url else None,
                    "nr": next_run,
                    "t": t,
                },
            )
        return self.get(sid)

    def get(self, sub_id: str, viewer: Viewer | None = None) -> Subscription:
        """A subscription ``viewer`` may see (all for None); NotFound otherwise, alike for a
        hidden one and a missing one."""
        with self.engine.connect() as conn:
            row = select_visible(conn, "subscriptions", _COLS, {"id": sub_id}, viewer)
        if row is None:
            raise NotFound(
                f"subscription '{sub_id}' does not exist (GET /subscriptions lists yours)",
                field="subscriptionId",
            )
        return _row(row)

    def all(self, viewer: Viewer | None = None) -> list[Subscription]:
        with self.engine.connect() as conn:
            rows = select_all_visible(conn, "subscriptions", _COLS, viewer, "created")
        return [_row(r) for r in rows]

    def active(self, kinds: tuple[TriggerKind, ...] | None = None) -> list[Subscription]:
        """Every active subscription (of ``kinds``), for the dispatcher."""
        sql = f"SELECT {_COLS} FROM subscriptions WHERE state = :s"
        params: dict[str, Any] = {"s": SubscriptionState.ACTIVE}
        if kinds:
            sql += " AND kind IN (" + ", ".join(f":k{i}" for i in range(len(kinds))) + ")"
            params.update({f"k{i}": k for i, k in enumerate(kinds)})
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY created, id"), params).all()
        return [_row(r) for r in rows]

    def version(self) -> tuple[int, int]:
        """What changes whenever a subscription is created, edited, paused or removed: the
        dispatcher rebuilds its index when it moves."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT count(*), coalesce(max(updated), 0) FROM subscriptions")
            ).one()
        return int(row[0]), int(row[1])

    def update(self, sub_id: str, **fields: Any) -> Subscription:
        """Change stored members (``inputs``/``trigger`` as dicts); ``updated`` moves."""
        sets = ["updated = :t"]
        params: dict[str, Any] = {"id": sub_id, "t": now_us()}
        for key, value in fields.items():
            column = "trig" if key == "trigger" else key
            sets.append(f"{column} = :f_{key}")
            params[f"f_{key}"] = (
                orjson.dumps(value).decode() if key in ("inputs", "trigger") else value
            )
        with self.engine.begin() as conn:
            conn.execute(text(f"UPDATE subscriptions SET {', '.join(sets)} WHERE id = :id"), params)
        return self.get(sub_id)

    def pause(self, sub_id: str, reason: str, seq: int | None) -> bool:
        """Pause an active subscription with ``reason``, remembering the ingestion log's
        position (what a resume catches up from); False when it was paused already."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                text(
                    "UPDATE subscriptions SET state = :p, reason = :r, paused_seq = :q, "
                    "updated = :t WHERE id = :id AND state = :a"
                ),
                {
                    "p": SubscriptionState.PAUSED,
                    "a": SubscriptionState.ACTIVE,
                    "r": reason,
                    "q": seq,
                    "t": now_us(),
                    "id": sub_id,
                },
            ).rowcount
        return bool(changed)

    def resume(self, sub_id: str) -> int | None:
        """Make a paused subscription active; returns where its catch-up starts (None: it was
        not paused)."""
        sub = self.get(sub_id)
        if sub.active:
            return None
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE subscriptions SET state = :a, reason = NULL, paused_seq = NULL, "
                    "updated = :t WHERE id = :id"
                ),
                {"a": SubscriptionState.ACTIVE, "t": now_us(), "id": sub_id},
            )
        return sub.paused_seq if sub.paused_seq is not None else 0

    def delete(self, sub_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM subscriptions WHERE id = :id"), {"id": sub_id})
            conn.execute(
                text("DELETE FROM subscription_failures WHERE subscription = :id"), {"id": sub_id}
            )
            conn.execute(
                text("DELETE FROM webhook_deliveries WHERE subscription = :id"), {"id": sub_id}
            )

    def claim_run(self, sub_id: str, old_next: int, new_next: int) -> bool:
        """Move a time-driven subscription's next run on, if nobody else did first: of several
        servers, the one whose UPDATE changes the row submits the due runs."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                text(
                    "UPDATE subscriptions SET next_run = :n, last_trigger = :t WHERE id = :id "
                    "AND next_run = :o AND state = :a"
                ),
                {
                    "n": new_next,
                    "o": old_next,
                    "t": now_us(),
                    "id": sub_id,
                    "a": SubscriptionState.ACTIVE,
                },
            ).rowcount
        return bool(changed)

    # ------------------------------------------------------------------ the ingestion cursor

    def cursor(self, name: str = INGEST_CURSOR) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT seq FROM subscription_cursor WHERE name = :n"), {"n": name}
            ).first()
        if row is not None:
            return int(row[0])
        # a new cursor starts at the end of the log: subscriptions see what arrives after
        # them (the archive before is what a backfill is for)
        with self.engine.begin() as conn:
            top = int(
                conn.execute(text("SELECT coalesce(max(seq), 0) FROM ingestion_events")).scalar()
                or 0
            )
            conn.execute(
                text(
                    "INSERT INTO subscription_cursor (name, seq, updated) VALUES (:n, :s, :t) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"n": name, "s": top, "t": now_us()},
            )
        return self.cursor(name)

    def advance(self, old: int, new: int, name: str = INGEST_CURSOR) -> bool:
        """Move the cursor from ``old`` to ``new``; False when another server moved it."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                text(
                    "UPDATE subscription_cursor SET seq = :new, updated = :t "
                    "WHERE name = :n AND seq = :old"
                ),
                {"new": new, "old": old, "n": name, "t": now_us()},
            ).rowcount
        return bool(changed)

    def log_top(self) -> int:
        """The newest ingestion event's seq."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(text("SELECT coalesce(max(seq), 0) FROM ingestion_events")).scalar()
                or 0
            )

    # ------------------------------------------------------------------ failures

    def fail(self, sub_id: str, key: str, reason: str, inputs: dict[str, Any] | None) -> bool:
        """Record a trigger that could not become a job (once per key)."""
        with self.engine.begin() as conn:
            exists = conn.execute(
                text(
                    "SELECT 1 FROM subscription_failures WHERE subscription = :s AND "
                    "trigger_key = :k"
                ),
                {"s": sub_id, "k": key},
            ).first()
            if exists:
                return False
            conn.execute(
                text(
                    "INSERT INTO subscription_failures (subscription, trigger_key, time, reason, "
                    "inputs) VALUES (:s, :k, :t, :r, :i)"
                ),
                {
                    "s": sub_id,
                    "k": key,
                    "t": now_us(),
                    "r": reason[:2000],
                    "i": None if inputs is None else orjson.dumps(inputs).decode(),
                },
            )
        return True

    def failed_keys(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` are recorded failures (a key names its subscription)."""
        return self._keys_in("subscription_failures", keys)

    def _keys_in(self, table: str, keys: list[str]) -> set[str]:
        with self.engine.connect() as conn:
            return values_in(conn, table, "trigger_key", keys)

    def touch_triggers(self, sub_ids: list[str]) -> None:
        """The subscriptions' last trigger is now (one statement for a round's)."""
        if not sub_ids:
            return
        binds = {f"s{i}": v for i, v in enumerate(dict.fromkeys(sub_ids))}
        marks = ", ".join(f":{b}" for b in binds)
        with self.engine.begin() as conn:
            conn.execute(
                text(f"UPDATE subscriptions SET last_trigger = :t WHERE id IN ({marks})"),
                {"t": now_us(), **binds},
            )

    def paused_among(self, sub_ids: list[str]) -> set[str]:
        if not sub_ids:
            return set()
        binds = {f"s{i}": v for i, v in enumerate(dict.fromkeys(sub_ids))}
        marks = ", ".join(f":{b}" for b in binds)
        with self.engine.connect() as conn:
            return {
                r[0]
                for r in conn.execute(
                    text(f"SELECT id FROM subscriptions WHERE state = :p AND id IN ({marks})"),
                    {"p": SubscriptionState.PAUSED, **binds},
                )
            }

    def submitted_keys(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` have a job (one test for a round, before any check)."""
        return self._keys_in("jobs", keys)

    # ------------------------------------------------------------------ monitoring

    def status(self, sub: Subscription) -> dict[str, Any]:
        """Counts of matched, submitted, running, succeeded and failed jobs, the last trigger,
        the next run and the latest failures with their reasons."""
        with self.engine.connect() as conn:
            by_status = {
                r[0]: int(r[1])
                for r in conn.execute(
                    text(
                        "SELECT status, count(*) FROM jobs WHERE subscription = :s GROUP BY status"
                    ),
                    {"s": sub.id},
                )
            }
            n_failures = int(
                conn.execute(
                    text("SELECT count(*) FROM subscription_failures WHERE subscription = :s"),
                    {"s": sub.id},
                ).scalar()
                or 0
            )
            failures = [
                {"trigger": r[0], "time": _ts(int(r[1])), "reason": r[2]}
                for r in conn.execute(
                    text(
                        "SELECT trigger_key, time, reason FROM subscription_failures WHERE "
                        f"subscription = :s ORDER BY time DESC LIMIT {FAILURES_SHOWN}"
                    ),
                    {"s": sub.id},
                )
            ]
        submitted = sum(by_status.values())
        return {
            "matched": submitted + n_failures,
            "submitted": submitted,
            "accepted": by_status.get(JobStatus.ACCEPTED, 0),
            "running": by_status.get(JobStatus.RUNNING, 0),
            "succeeded": by_status.get(JobStatus.SUCCESSFUL, 0),
            "failed": by_status.get(JobStatus.FAILED, 0),
            "dismissed": by_status.get(JobStatus.DISMISSED, 0),
            "not_submitted": n_failures,
            "last_trigger": _ts(sub.last_trigger),
            "next_run": _ts(sub.next_run),
            "failures": failures,
        }

    def spent_cents(self, sub_id: str, since_us: int) -> int:
        """What the subscription's jobs created since ``since_us`` were quoted (held or
        charged): what its budget has used in the period."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT charge FROM jobs WHERE subscription = :s AND created >= :t"),
                {"s": sub_id, "t": since_us},
            ).all()
        total = 0
        for (charge,) in rows:
            if charge:
                total += round(float(orjson.loads(charge).get("credits", 0)) * 100)
        return total

    def job_ids(self, sub_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return [
                r[0]
                for r in conn.execute(
                    text("SELECT id FROM jobs WHERE subscription = :s ORDER BY created"),
                    {"s": sub_id},
                )
            ]
