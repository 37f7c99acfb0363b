"""Turning triggers into jobs: the ingestion log, the schedules, backfills and catch-ups.

Exactly once, without a check in memory: every job a subscription submits carries a trigger key
(the subscription and the identity of what triggered it: an item, a pair of items, a scheduled
instant, an event and its pair), and ``jobs.trigger_key`` is unique in the database. The
dispatcher may therefore see a trigger any number of times (a replay of the log after a crash
between submitting and moving the cursor, two servers reading the same batch, a backfill over
items the live path already handled): the first insert wins, the others' inserts do nothing
(``ON CONFLICT (trigger_key) DO NOTHING``, :meth:`~gep.jobs.store.JobStore.create_many`). A
round's jobs are checked, created and queued as one batch per subscription. Its cursor in the
ingestion log moves only after a batch is submitted, so a crash repeats work and never skips
it.

Submissions go through :class:`~gep.jobs.service.JobService` like the API's, as the
subscription's owner (their permissions, credits and the service's own checks), with the
subscription's layer as the job's collection. What cannot become a job is recorded as a
failure with its reason, under the same key (so it is neither retried nor repeated on replay);
what would overrun the subscription's budget, the owner's credits or the per-trigger cap pauses
the subscription with that reason instead, at the event that did it: a resume starts there.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from shapely.geometry import mapping

from gep.accounts.store import AccountStore
from gep.catalog.search import SearchRequest, SortKey
from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.enums import BudgetPeriod, TriggerKind
from gep.core.errors import GepError, InvalidInput, NotFound
from gep.core.timeutil import TimeRange, format_rfc3339, from_micros, to_micros
from gep.harvest.usgs import MAGNITUDE
from gep.jobs.service import CheckedRequest, JobService
from gep.jobs.store import JobOrigin
from gep.production import webhooks
from gep.production.matching import Role, SubscriptionIndex
from gep.production.pairing import (
    event_area,
    event_conditions,
    event_pairs,
    events_before,
    late_pairs,
    ref_of,
    rule_pairs,
    window_values,
)
from gep.production.schedule import due_times, next_time
from gep.production.spec import DataTrigger, EventTrigger, TimeTrigger, Trigger, trigger_from_stored
from gep.production.store import Subscription, SubscriptionStore, now_us
from gep.production.template import fill

log = logging.getLogger("gep.production")

#: ingestion events read per round
BATCH = 1000
#: a hole in the log (a transaction that took a seq and has not committed) is waited for this
#: long before it is taken to be rolled back (PostgreSQL hands out seqs before commit)
GAP_GRACE_S = 30.0
#: a trigger key longer than this is stored as its hash
MAX_KEY = 400


@dataclass(frozen=True)
class Planned:
    """One job a trigger asks for."""

    key: str
    inputs: dict[str, Any]
    #: what triggered it, for reports (``pair a > b``, ``item c/i``, ``run 2026-…``)
    label: str


@dataclass
class Work:
    """One subscription's share of a round: its triggers' planned jobs, in log order, each
    with where a resume would start again."""

    sub: Subscription
    viewer: Viewer
    groups: list[tuple[int | None, list[Planned]]]


@dataclass
class Outcome:
    submitted: list[str] = field(default_factory=list)
    duplicates: int = 0
    failed: int = 0
    paused: str | None = None

    def add(self, other: Outcome) -> None:
        self.submitted.extend(other.submitted)
        self.duplicates += other.duplicates
        self.failed += other.failed
        self.paused = self.paused or other.paused


def trigger_key(sub_id: str, identity: str) -> str:
    key = f"{sub_id}|{identity}"
    if len(key) > MAX_KEY:
        key = f"{sub_id}|sha256:{hashlib.sha256(identity.encode()).hexdigest()}"
    return key


def period_start(period: BudgetPeriod, now: datetime) -> datetime:
    """The start of the UTC calendar period ``now`` is in (weeks start on Monday)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == BudgetPeriod.DAY:
        return day
    if period == BudgetPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


class Dispatcher:
    """Runs every subscription's triggers; one per server, any number per database."""

    def __init__(
        self,
        catalog: CatalogStore,
        subs: SubscriptionStore,
        jobs: JobService,
        *,
        batch: int = BATCH,
        gap_grace_s: float = GAP_GRACE_S,
    ) -> None:
        self.catalog = catalog
        self.subs = subs
        self.jobs = jobs
        self.accounts = AccountStore(catalog.engine)
        self.batch = batch
        self.gap_grace_s = gap_grace_s
        self._index: SubscriptionIndex | None = None
        self._layers: dict[str, Subscription] = {}
        self._version: tuple[int, int] | None = None
        self._parsed: dict[str, tuple[int, Trigger]] = {}
        #: one round at a time in this process (the API's catch-ups and the thread's rounds)
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ helpers

    def trigger(self, sub: Subscription) -> Trigger:
        """The subscription's trigger, parsed once per version of it (``updated``)."""
        cached = self._parsed.get(sub.id)
        if cached is not None and cached[0] == sub.updated:
            return cached[1]
        trigger = trigger_from_stored(sub.trigger, sub.trigger.get("feed_collection"))
        self._parsed[sub.id] = (sub.updated, trigger)
        return trigger

    def viewer(self, sub: Subscription) -> Viewer | None:
        """The owner's permissions (None: the account is gone; the subscription pauses)."""
        if sub.owner is None:
            return Viewer(user_id=None)
        try:
            return self.accounts.user(sub.owner).viewer()
        except NotFound:
            return None

    def index(self) -> SubscriptionIndex:
        version = self.subs.version()
        if self._index is None or version != self._version:
            entries: list[tuple[Subscription, Trigger]] = []
            layers: dict[str, Subscription] = {}
            for sub in self.subs.all():
                layers[sub.layer] = sub
                if not sub.active or sub.kind == TriggerKind.TIME:
                    continue
                try:
                    entries.append((sub, self.trigger(sub)))
                except GepError as exc:  # stored before a rule tightened: said, not fatal
                    log.warning("subscription %s cannot be indexed: %s", sub.id, exc)
            self._index = SubscriptionIndex(entries)
            self._layers = layers
            self._version = version
        return self._index

    def pause(self, sub: Subscription, reason: str, seq: int | None) -> None:
        if self.subs.pause(sub.id, reason, seq):
            log.warning("subscription %s paused: %s", sub.id, reason)
            self._notify(
                sub,
                f"paused:{now_us()}",
                {"type": "subscription.paused", "subscription": sub.id, "reason": reason},
            )
        self._version = None  # the index drops it at the next round

    def _notify(self, sub: Subscription, event: str, payload: dict[str, Any]) -> None:
        if not sub.webhook_url:
            return
        with self.catalog.engine.begin() as conn:
            webhooks.enqueue(conn, sub.id, event, payload)

    # ------------------------------------------------------------------ planning

    def plan(
        self,
        sub: Subscription,
        trigger: Trigger,
        role: Role,
        item: dict[str, Any],
        viewer: Viewer,
        *,
        late: bool = True,
    ) -> list[Planned]:
        """The jobs one new item asks of one subscription. ``late``: a new acquisition is also
        offered to the later ones already catalogued (live arrivals); a backfill, which walks
        the archive in time order and forms each pair from its later member, does without."""
        area = None if trigger.area is None else mapping(trigger.area)
        if isinstance(trigger, DataTrigger):
            ref = ref_of(item)
            when = (item.get("properties") or {}).get("datetime")
            if trigger.pairing is None:
                values = {
                    "item": ref,
                    "collection": item.get("collection"),
                    "datetime": when,
                    "area": area if area is not None else item.get("geometry"),
                }
                return [
                    Planned(
                        trigger_key(sub.id, f"item:{ref}"), fill(sub.inputs, values), f"item {ref}"
                    )
                ]
            pairs = rule_pairs(self.catalog, item, trigger.pairing, viewer)
            if late:
                pairs += late_pairs(self.catalog, item, trigger.pairing, viewer)
            return [
                Planned(
                    trigger_key(sub.id, f"pair:{p.reference}>{p.secondary}"),
                    fill(
                        sub.inputs,
                        {
                            "reference": p.reference,
                            "secondary": p.secondary,
                            "datetime": p.datetime,
                            "btemp": p.btemp,
                            "bperp": p.bperp,
                            "area": area if area is not None else item.get("geometry"),
                        },
                    ),
                    f"pair {p.reference} > {p.secondary}",
                )
                for p in pairs
            ]
        if isinstance(trigger, EventTrigger):
            if role == Role.EVENT:
                events = [item] if event_conditions(item, trigger) is None else []
            else:  # a new acquisition: the known events it may be the post-event image of
                events = [
                    e
                    for e in events_before(self.catalog, item, trigger, viewer)
                    if event_conditions(e, trigger) is None
                ]
            planned = []
            for event in events:
                eref = ref_of(event)
                props = event.get("properties") or {}
                for p in event_pairs(self.catalog, event, trigger, viewer):
                    planned.append(
                        Planned(
                            trigger_key(sub.id, f"event:{eref}:{p.reference}>{p.secondary}"),
                            fill(
                                sub.inputs,
                                {
                                    "reference": p.reference,
                                    "secondary": p.secondary,
                                    "event": eref,
                                    "magnitude": props.get(MAGNITUDE),
                                    "epicentre": event.get("geometry"),
                                    "event_time": props.get("datetime"),
                                    "datetime": p.datetime,
                                    "area": event_area(event, trigger.event_area_km),
                                },
                            ),
                            f"event {eref}: {p.reference} > {p.secondary}",
                        )
                    )
            return planned
        return []

    # ------------------------------------------------------------------ submitting

    def submit(
        self, sub: Subscription, viewer: Viewer, planned: list[Planned], *, resume_seq: int | None
    ) -> Outcome:
        """Submit what is not submitted yet of one trigger's jobs, as the owner; pause instead
        of flooding or overspending (``resume_seq``: where a resume catches up from)."""
        return self._submit_round([Work(sub, viewer, [(resume_seq, planned)])])

    def _submit_round(self, work: list[Work]) -> Outcome:
        """Submit a round's jobs, for every subscription at once: keys already submitted or
        failed skipped (one query), each trigger's cap, the services' checks (once per owner
        and service), each budget, then one transaction of jobs per owner and one call to the
        scheduler. A subscription's triggers come in log order, each with where a resume would
        start again; the first that pauses the subscription ends its share of the round, and
        what follows it is caught up on resume."""
        out = Outcome()
        keys = [p.key for w in work for _, group in w.groups for p in group]
        if not keys:
            return out
        done = self.subs.submitted_keys(keys) | self.subs.failed_keys(keys)
        # 1. new jobs per subscription, the per-trigger cap
        accepted: dict[str, list[tuple[int | None, Planned]]] = {}
        seen: set[str] = set()
        for w in work:
            mine = accepted.setdefault(w.sub.id, [])
            for resume, group in w.groups:
                new = [p for p in {p.key: p for p in group}.values() if p.key not in done | seen]
                out.duplicates += len(group) - len(new)
                if len(new) > w.sub.max_jobs_per_trigger:
                    out.paused = (
                        f"one trigger asked for {len(new)} jobs, more than max_jobs_per_trigger "
                        f"({w.sub.max_jobs_per_trigger}): narrow the rule or raise the cap, "
                        "then resume"
                    )
                    self.pause(w.sub, out.paused, resume)
                    break
                mine += [(resume, p) for p in new]
                seen.update(p.key for p in new)
        # 2. the services' checks, once per owner and service
        checks: dict[tuple[str | None, str], list[Work]] = {}
        for w in work:
            if accepted.get(w.sub.id):
                checks.setdefault((w.sub.owner, w.sub.process_id), []).append(w)
        checked: dict[str, list[CheckedRequest | GepError]] = {}
        for (_, process_id), ws in checks.items():
            requests = [{"inputs": p.inputs} for w in ws for _, p in accepted[w.sub.id]]
            try:
                results = self.jobs.check_many(ws[0].viewer, process_id, requests)
            except NotFound as exc:  # the service was removed, or is no longer theirs to use
                for w in ws:
                    out.paused = f"the service is not available to the owner: {exc.message}"
                    self.pause(w.sub, out.paused, accepted[w.sub.id][0][0])
                    accepted[w.sub.id] = []
                continue
            for w in ws:
                n = len(accepted[w.sub.id])
                checked[w.sub.id], results = results[:n], results[n:]
        # 3. failures and budgets, then one batch of jobs per owner
        batches: dict[str | None, list[tuple[Work, int | None, Planned, CheckedRequest]]] = {}
        for w in work:
            sub = w.sub
            spent = None
            if sub.budget_cents is not None and sub.budget_period is not None:
                start = period_start(sub.budget_period, datetime.now(UTC))
                spent = self.subs.spent_cents(sub.id, to_micros(start))
            for (resume, p), c in zip(
                accepted.get(sub.id, []), checked.get(sub.id, []), strict=True
            ):
                if isinstance(c, GepError):
                    if self.subs.fail(sub.id, p.key, f"{p.label}: {c.message}", p.inputs):
                        out.failed += 1
                    continue
                if spent is not None and sub.budget_cents is not None:
                    if spent + c.quote.total > sub.budget_cents:
                        out.paused = (
                            f"budget reached: {spent / 100:.2f} of {sub.budget_cents / 100:.2f} "
                            f"credits this {sub.budget_period} spent, and the next job costs "
                            f"{c.quote.total / 100:.2f}; resume next {sub.budget_period} or "
                            "raise the budget"
                        )
                        self.pause(sub, out.paused, resume)
                        break
                    spent += c.quote.total
                batches.setdefault(sub.owner, []).append((w, resume, p, c))
        for entries in batches.values():
            result = self.jobs.enqueue_many(
                entries[0][0].viewer,
                [
                    (c, JobOrigin(w.sub.id, p.key, w.sub.layer), w.sub.visibility)
                    for w, _, p, c in entries
                ],
            )
            out.submitted += [job.id for job in result.jobs]
            out.duplicates += result.duplicates
            if result.refused is not None:  # the owner's credits: every subscription of theirs
                made = result.processed
                out.paused = f"the owner's credits ran out: {result.refused.message}"
                first: dict[str, int | None] = {}
                for w, resume, _, _ in entries[made:]:
                    first.setdefault(w.sub.id, resume)
                for w, _, _, _ in entries[made:]:
                    if w.sub.id in first:
                        self.pause(w.sub, out.paused, first.pop(w.sub.id))
        self.subs.touch_triggers([w.sub.id for w in work if accepted.get(w.sub.id)])
        return out

    # ------------------------------------------------------------------ the ingestion log

    def poll_ingestion(self) -> Outcome:
        """One batch of the ingestion log: matched, planned, submitted; then the cursor moves.

        Events are read as the system (every collection) and each match is planned as the
        subscription's owner, who must be able to see the item: a subscription never learns
        of an item its owner may not read."""
        with self.lock:
            cursor = self.subs.cursor()
            events = self.catalog.ingestion_events(after=cursor, limit=self.batch)
            out = Outcome()
            if not events:
                return out
            upto = self._safe_end(cursor, events)
            index = self.index()
            by_coll: dict[str, list[Any]] = {}
            for e in events:
                by_coll.setdefault(e.collection, []).append(e)
            paused: set[str] = set()
            for collection, evs in by_coll.items():
                layer_sub = self._layers.get(collection)
                if layer_sub is not None and layer_sub.webhook_url:
                    for e in evs:
                        self._notify(
                            layer_sub,
                            f"item:{collection}/{e.item_id}",
                            {
                                "type": "layer.item",
                                "subscription": layer_sub.id,
                                "collection": collection,
                                "item": e.item_id,
                            },
                        )
                if collection not in index.collections:
                    continue
                items = self._items(collection, [e.item_id for e in evs])
                seqs = {e.item_id: e.seq for e in evs}
                out.add(self._dispatch(index, collection, items, seqs, paused))
            if upto > cursor:
                self.subs.advance(cursor, upto)
            return out

    def _safe_end(self, cursor: int, events: list[Any]) -> int:
        """How far the cursor may move: to the last event before a young hole in the seqs."""
        expected = cursor + 1
        now = now_us()
        for e in events:
            if e.seq != expected and now - e.created < self.gap_grace_s * 1e6:
                return expected - 1
            expected = e.seq + 1
        return events[-1].seq  # type: ignore[no-any-return]

    def _items(self, collection: str, ids: list[str]) -> list[dict[str, Any]]:
        page = self.catalog.search(
            SearchRequest(collections=[collection], ids=list(dict.fromkeys(ids)), limit=len(ids))
        )
        return [orjson.loads(raw) for _, _, raw in page.items]

    def _dispatch(
        self,
        index: SubscriptionIndex,
        collection: str,
        items: list[dict[str, Any]],
        seqs: dict[str, int],
        paused: set[str],
    ) -> Outcome:
        """Plan every match of a batch of items, then submit per subscription in one batch,
        its triggers in log order."""
        out = Outcome()
        matches = index.match(collection, items)
        # what each owner may see of these items, asked once per owner
        visible: dict[str | None, set[str]] = {}
        viewers: dict[str, Viewer | None] = {}
        planned: dict[str, tuple[Subscription, Viewer, list[tuple[int, list[Planned]]]]] = {}
        for k, entry in matches:
            sub = entry.sub
            if sub.id in paused:
                continue
            owner = sub.owner or ""
            if owner not in viewers:  # one account lookup per owner and round
                viewers[owner] = self.viewer(sub)
            viewer = viewers[owner]
            if viewer is None:
                self.pause(sub, "the owner's account no longer exists", None)
                paused.add(sub.id)
                continue
            item = items[k]
            if sub.owner not in visible:
                visible[sub.owner] = self._visible_ids(collection, items, viewer)
            if item.get("id") not in visible[sub.owner]:
                continue
            seq = seqs.get(str(item.get("id")), 0)
            try:
                jobs = self.plan(sub, entry.trigger, entry.role, item, viewer)
            except GepError as exc:
                key = trigger_key(sub.id, f"plan:{ref_of(item)}")
                if self.subs.fail(sub.id, key, f"{ref_of(item)}: {exc.message}", None):
                    out.failed += 1
                continue
            planned.setdefault(sub.id, (sub, viewer, []))[2].append((seq, jobs))
        work = []
        for sub, viewer, groups in planned.values():
            groups.sort(key=lambda g: g[0])
            work.append(Work(sub, viewer, [(seq - 1, jobs) for seq, jobs in groups]))
        out.add(self._submit_round(work))
        paused.update(self.subs.paused_among([w.sub.id for w in work]) if out.paused else ())
        return out

    def _visible_ids(
        self, collection: str, items: list[dict[str, Any]], viewer: Viewer
    ) -> set[str]:
        if viewer.is_admin:
            return {str(it.get("id")) for it in items}
        ids = [str(it.get("id")) for it in items]
        page = self.catalog.search(
            SearchRequest(collections=[collection], ids=ids, limit=len(ids), viewer=viewer)
        )
        return {item_id for _, item_id, _ in page.items}

    # ------------------------------------------------------------------ catch-up and backfill

    def catch_up(self, sub_id: str, after_seq: int) -> Outcome:
        """What a resumed subscription missed while paused: the ingestion log from where it
        paused to where the dispatcher is, for this subscription only."""
        with self.lock:
            sub = self.subs.get(sub_id)
            out = Outcome()
            if sub.kind == TriggerKind.TIME or not sub.active:
                return out
            single = SubscriptionIndex([(sub, self.trigger(sub))])
            stop = self.subs.cursor()
            seq = after_seq
            while seq < stop and not out.paused:
                events = [
                    e
                    for e in self.catalog.ingestion_events(after=seq, limit=self.batch)
                    if e.seq <= stop
                ]
                if not events:
                    break
                seq = events[-1].seq
                by_coll: dict[str, list[Any]] = {}
                for e in events:
                    if e.collection in single.collections:
                        by_coll.setdefault(e.collection, []).append(e)
                for collection, evs in by_coll.items():
                    items = self._items(collection, [e.item_id for e in evs])
                    seqs = {e.item_id: e.seq for e in evs}
                    out.add(self._dispatch(single, collection, items, seqs, set()))
                    if out.paused:
                        break
            return out

    def backfill(
        self, sub_id: str, *, dry_run: bool = False, limit: int | None = None
    ) -> dict[str, Any]:
        """The subscription's rule over the archive already catalogued: every matching item
        (or event) in time order, planned as if it had just arrived. ``dry_run``: the jobs it
        would submit (keys and inputs), none submitted. Submitted jobs are exactly-once like
        any other trigger's, so a backfill may be run again, or over what the live path did."""
        sub = self.subs.get(sub_id)
        trigger = self.trigger(sub)
        if isinstance(trigger, TimeTrigger):
            raise InvalidInput(
                "a time-driven subscription has no archive to backfill; its catch_up policy "
                "decides what missed runs do",
                field="backfill",
            )
        viewer = self.viewer(sub)
        if viewer is None:
            raise InvalidInput("the subscription's owner no longer exists", field="backfill")
        if isinstance(trigger, DataTrigger):
            collection, role = trigger.collection, Role.ITEM
            req = SearchRequest(
                collections=[collection],
                intersects=trigger.area,
                datetime=None
                if trigger.start_us is None and trigger.end_us is None
                else TimeRange(
                    None if trigger.start_us is None else from_micros(trigger.start_us),
                    None if trigger.end_us is None else from_micros(trigger.end_us),
                ),
                filter=trigger.filter,
                sortby=[SortKey("datetime", False)],
                limit=500,
                viewer=viewer,
            )
        else:
            collection, role = trigger.feed_collection, Role.EVENT
            req = SearchRequest(
                collections=[collection],
                intersects=trigger.area,
                sortby=[SortKey("datetime", False)],
                limit=500,
                viewer=viewer,
            )
        planned_all: list[Planned] = []
        out = Outcome()
        items_seen = 0
        with self.lock:
            while not out.paused:
                page = self.catalog.search(req)
                groups: list[tuple[int | None, list[Planned]]] = []
                for _, _, raw in page.items:
                    if limit is not None and items_seen >= limit:
                        break
                    item = orjson.loads(raw)
                    items_seen += 1
                    try:
                        planned = self.plan(sub, trigger, role, item, viewer, late=False)
                    except GepError as exc:
                        if not dry_run:
                            self.subs.fail(
                                sub.id,
                                trigger_key(sub.id, f"plan:{ref_of(item)}"),
                                f"{ref_of(item)}: {exc.message}",
                                None,
                            )
                        out.failed += 1
                        continue
                    groups.append((None, planned))
                    planned_all.extend(planned)
                if not dry_run:  # a page at a time, each item's jobs one trigger
                    out.add(self._submit_round([Work(sub, viewer, groups)]))
                    planned_all.clear()
                if not page.next_token or (limit is not None and items_seen >= limit):
                    break
                req.token = page.next_token
        report: dict[str, Any] = {"subscription": sub.id, "items": items_seen, "dry_run": dry_run}
        if dry_run:
            unique = list({p.key: p for p in planned_all}.values())
            done = self.subs.submitted_keys([p.key for p in unique])
            report["planned"] = [
                {"trigger": p.label, "inputs": p.inputs, "submitted": p.key in done} for p in unique
            ]
            report["jobs"] = len(unique)
        else:
            report.update(
                submitted=len(out.submitted),
                duplicates=out.duplicates,
                failed=out.failed,
                paused=out.paused,
                jobs=out.submitted,
            )
        return report

    # ------------------------------------------------------------------ schedules

    def tick_schedules(self, now: datetime | None = None) -> Outcome:
        """Submit the due runs of time-driven subscriptions, then move their next run on (in
        that order: a crash in between repeats the runs, whose keys make them no-ops)."""
        now = now or datetime.now(UTC)
        out = Outcome()
        with self.lock:
            for sub in self.subs.active((TriggerKind.TIME,)):
                trigger = self.trigger(sub)
                assert isinstance(trigger, TimeTrigger)
                if sub.next_run is None:
                    first = next_time(trigger.cron, trigger.timezone, now)
                    self.subs.update(sub.id, next_run=to_micros(first))
                    continue
                scheduled = from_micros(sub.next_run)
                runs, nxt, skipped = due_times(
                    trigger.cron, trigger.timezone, scheduled, now, trigger.catch_up
                )
                if not runs and not skipped:
                    continue
                viewer = self.viewer(sub)
                if viewer is None:
                    self.pause(sub, "the owner's account no longer exists", None)
                    continue
                area = None if trigger.area is None else mapping(trigger.area)
                planned = [
                    Planned(
                        trigger_key(sub.id, f"time:{format_rfc3339(t)}"),
                        fill(
                            sub.inputs,
                            {**window_values(to_micros(t), trigger.window), "area": area},
                        ),
                        f"run {format_rfc3339(t)}",
                    )
                    for t in runs
                ]
                result = self.submit(sub, viewer, planned, resume_seq=None)
                out.add(result)
                if result.paused:
                    continue
                if skipped:
                    self.subs.fail(
                        sub.id,
                        trigger_key(sub.id, f"skipped:{format_rfc3339(scheduled)}"),
                        f"{skipped} run(s) missed from {format_rfc3339(scheduled)} while the "
                        f"server was down were not submitted (catch_up = {trigger.catch_up})",
                        None,
                    )
                self.subs.claim_run(sub.id, sub.next_run, to_micros(nxt))
        return out

    def run_once(self) -> Outcome:
        """One round: the ingestion log (until it is drained, or a bounded number of batches)
        and the schedules."""
        out = Outcome()
        for _ in range(20):
            before = self.subs.cursor()
            out.add(self.poll_ingestion())
            after = self.subs.cursor()
            if after == before or after >= self.subs.log_top():
                break
        out.add(self.tick_schedules())
        return out
