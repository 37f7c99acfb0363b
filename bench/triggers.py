"""Subscriptions and triggers: 10 000 subscriptions against 100 000 new items.

    .venv/bin/python bench/triggers.py [--subs 10000] [--items 100000] [--rate 1000]
        [--seconds 25] [--naive-items 1000] [--quick] [--json PATH]

Two figures of systematic production (``gep.production``):

1. **Matching throughput.** ``SubscriptionIndex.match`` (what the dispatcher calls for every
   batch of the ingestion log) over ``--items`` generated Sentinel-1 SLC items
   (``s1_items.generate_items``: real tracks, global footprints weighted like the real archive)
   in batches of 1 000 (the dispatcher's batch), against ``--subs`` data-driven subscriptions
   built in memory. The subscriptions are what a geohazard service holds: small boxes
   (0.2-1° a side, "a volcano", "a landslide") on land, drawn with the items' own regional
   weights, of which 45 % follow one track (``sat:relative_orbit = N and sat:orbit_state =
   '…'``, N a track that crosses the box, as an InSAR monitoring rule does), 20 % one pass
   direction (``sat:orbit_state = 'ascending'``), 20 % a period of one or two years and 15 %
   every new item. The peer, in the same run: the naive dispatcher, which tests every
   subscription for every item (shapely ``intersects``, then the period and ``cql2``'s
   ``matches`` on those that intersect), timed on the first ``--naive-items`` items and
   extrapolated to all of them (it says so). Both must find the same pairs on that subsample.

2. **Ingestion → job queued.** The same subscriptions created in a real SQLite database
   (``SubscriptionStore.create``, process ``echo``), the app's own services
   (``create_app``: catalogue, ``JobService``, ``JobEngine`` on a Dask ``LocalCluster``), a
   feeder that writes ``--rate`` new items per second in batches of 100
   (``write_items(origin="harvest:bench")``) for ``--seconds``, and a thread running
   ``Dispatcher.poll_ingestion`` in a loop. Latency per job = ``jobs.created`` minus the
   ``created`` of its item's ingestion event (joined by the trigger key); p50/p95/max, jobs/s,
   target p95 <= 1 s. The job count must equal what the index matches over the fed items.

Other processes on a shared machine move every figure: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from shapely.geometry import box, mapping, shape
from sqlalchemy import text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import s1_items  # noqa: E402

from gep.core.enums import SubscriptionState, TriggerKind  # noqa: E402
from gep.core.timeutil import parse_datetime_interval  # noqa: E402
from gep.production.matching import SubscriptionIndex, _matches  # noqa: E402
from gep.production.pairing import item_time_us  # noqa: E402
from gep.production.spec import DataTrigger, trigger_from_stored  # noqa: E402
from gep.production.store import Subscription  # noqa: E402

COLLECTION = s1_items.COLLECTION_ID
#: the dispatcher's batch (``gep.production.dispatcher.BATCH``)
MATCH_BATCH = 1000


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"
    )


# ---------------------------------------------------------------------- the subscriptions


def subscription_triggers(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` stored data triggers (the JSON ``SubscriptionStore`` keeps): small boxes on land,
    with the mix of filters and periods the module docstring gives."""
    rng = np.random.default_rng([seed, 0x5B5])
    regions = s1_items._REGIONS[: s1_items._N_LAND]
    land_p = regions[:, 4] / regions[:, 4].sum()
    reg = rng.choice(len(regions), size=n, p=land_p)
    b = regions[reg]
    lat = np.clip(b[:, 1] + (b[:, 3] - b[:, 1]) * rng.random(n), -70.0, 70.0)
    lon = np.clip(b[:, 0] + (b[:, 2] - b[:, 0]) * rng.random(n), -178.0, 178.0)
    side = rng.uniform(0.2, 1.0, size=n)
    kind = rng.random(n)
    asc = rng.random(n) < 0.5
    year0 = rng.integers(2015, 2026, size=n)
    years = rng.integers(1, 3, size=n)
    out = []
    for k in range(n):
        h = float(side[k]) / 2
        area = box(lon[k] - h, lat[k] - h, lon[k] + h, lat[k] + h)
        trig: dict[str, Any] = {
            "type": "data",
            "collection": COLLECTION,
            "resolved_area": orjson.loads(orjson.dumps(mapping(area))),  # lists, as JSON
        }
        state = "ascending" if asc[k] else "descending"
        if kind[k] < 0.45:
            rel = s1_items.relative_orbit_at(float(lat[k]), float(lon[k]), bool(asc[k]))
            trig["filter"] = {
                "op": "and",
                "args": [
                    {"op": "=", "args": [{"property": "sat:relative_orbit"}, rel]},
                    {"op": "=", "args": [{"property": "sat:orbit_state"}, state]},
                ],
            }
        elif kind[k] < 0.65:
            trig["filter"] = {"op": "=", "args": [{"property": "sat:orbit_state"}, state]}
        elif kind[k] < 0.85:
            end = int(year0[k] + years[k])
            trig["period"] = f"{year0[k]}-01-01T00:00:00Z/{end}-01-01T00:00:00Z"
        out.append(trig)
    return out


def in_memory(triggers: list[dict[str, Any]]) -> list[tuple[Subscription, DataTrigger]]:
    """Subscription records (as the store returns them) and their parsed triggers."""
    entries = []
    for k, trig in enumerate(triggers):
        sub = Subscription(
            id=f"sub-{k:06d}",
            title=f"bench {k}",
            owner=None,
            visibility="private",
            process_id="echo",
            inputs={"message": "{{item}}"},
            kind=TriggerKind.DATA,
            trigger=trig,
            layer=f"bench-{k}",
            state=SubscriptionState.ACTIVE,
            reason=None,
            budget_cents=None,
            budget_period=None,
            max_jobs_per_trigger=20,
            webhook_url=None,
            webhook_nonce=None,
            webhook_failures=0,
            webhook_disabled=None,
            last_trigger=None,
            next_run=None,
            paused_seq=None,
            created=0,
            updated=0,
        )
        # built directly: trigger_from_stored re-validates each filter with cql2's
        # ``validate`` (~20 ms apiece here), which is the dispatcher's index build, not matching
        period = trig.get("period")
        rng = None if period is None else parse_datetime_interval(period, field="period")
        parsed = DataTrigger(
            collection=trig["collection"],
            area=shape(trig["resolved_area"]),
            filter=trig.get("filter"),
            start_us=None if rng is None else rng.start_us,
            end_us=None if rng is None else rng.end_us,
        )
        if k < 20:  # the same trigger as the dispatcher's own parse of the stored JSON
            assert trigger_from_stored(trig) == parsed, trig
        entries.append((sub, parsed))
    return entries


# ---------------------------------------------------------------------- (1) matching


def naive_match(
    entries: list[tuple[Subscription, DataTrigger]], items: list[dict[str, Any]]
) -> set[tuple[int, str]]:
    """Every subscription for every item: the dispatcher without an index."""
    import cql2

    compiled = [
        (sub.id, trig, None if trig.filter is None else cql2.Expr(trig.filter))
        for sub, trig in entries
    ]
    found: set[tuple[int, str]] = set()
    for k, item in enumerate(items):
        g = shape(item["geometry"])
        t = item_time_us(item)
        for sid, trig, expr in compiled:
            if not trig.area.intersects(g):  # type: ignore[union-attr]
                continue
            if trig.start_us is not None and (t is None or t < trig.start_us):
                continue
            if trig.end_us is not None and (t is None or t > trig.end_us):
                continue
            if expr is not None and not _matches(expr, item):
                continue
            found.add((k, sid))
    return found


def bench_matching(
    entries: list[tuple[Subscription, DataTrigger]], n_items: int, naive_items: int
) -> dict[str, Any]:
    t0 = time.perf_counter()
    items = list(s1_items.generate_items(n_items, seed=1))
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = SubscriptionIndex(entries)
    build_s = time.perf_counter() - t0
    matches = 0
    per_item: list[int] = [0] * len(items)
    sample_pairs: set[tuple[int, str]] = set()
    cpu0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, len(items), MATCH_BATCH):
        batch = items[start : start + MATCH_BATCH]
        for k, entry in index.match(COLLECTION, batch):
            matches += 1
            per_item[start + k] += 1
            if start + k < naive_items:
                sample_pairs.add((start + k, entry.sub.id))
    match_s = time.perf_counter() - t0
    match_cpu = time.process_time() - cpu0
    sample = items[:naive_items]
    cpu0, t0 = time.process_time(), time.perf_counter()
    naive = naive_match(entries, sample)
    naive_s = time.perf_counter() - t0
    naive_cpu = time.process_time() - cpu0
    if naive != sample_pairs:
        raise SystemExit(
            f"index and naive disagree on the first {naive_items} items: "
            f"{len(sample_pairs)} vs {len(naive)} pairs"
        )
    naive_rate = len(sample) / naive_s
    return {
        "items": len(items),
        "subscriptions": len(entries),
        "generate_s": round(gen_s, 2),
        "index_build_s": round(build_s, 3),
        "match_s": round(match_s, 2),
        "match_cpu_s": round(match_cpu, 2),
        "items_per_s": round(len(items) / match_s),
        "matches": matches,
        "matches_per_item": round(matches / len(items), 3),
        "items_with_a_match": sum(1 for m in per_item if m),
        "naive_items_timed": len(sample),
        "naive_s": round(naive_s, 2),
        "naive_cpu_s": round(naive_cpu, 2),
        "naive_items_per_s": round(naive_rate, 1),
        "naive_extrapolated_s": round(len(items) / naive_rate, 1),
        "naive_pairs_on_sample": len(naive),
        "speedup": round((len(items) / match_s) / naive_rate, 1),
    }


# ---------------------------------------------------------------------- (2) latency


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def bench_latency(
    triggers: list[dict[str, Any]],
    rate: float,
    seconds: float,
    workdir: Path,
    drain_limit_s: float = 60.0,
) -> dict[str, Any]:
    from gep.api.app import create_app
    from gep.settings import Settings

    app = create_app(
        Settings(home=workdir, subscriptions_poll_s=0, harvest_poll_s=0, jobs_workers=1)
    )
    svc = app.state.services
    store = svc.store
    subs = svc.subscriptions.store
    dispatcher = svc.subscriptions.dispatcher
    owner = svc.accounts.create_user("bench-owner", role="admin").id
    store.create_collection(s1_items.collection_dict())
    try:
        t0 = time.perf_counter()
        for k, trig in enumerate(triggers):
            subs.create(
                title=f"bench {k}",
                owner=owner,
                process_id="echo",
                inputs={"message": "{{item}}"},
                kind=TriggerKind.DATA,
                trigger=trig,
                layer=f"bench-{k}",
                max_jobs_per_trigger=20,
            )
        create_s = time.perf_counter() - t0
        subs.cursor()  # the dispatcher's place: the end of the (empty) log
        t0 = time.perf_counter()
        svc.job_engine.client  # noqa: B018 - the cluster starts before the clock, as in a
        cluster_s = time.perf_counter() - t0  # running server (its first job pays it once)
        t0 = time.perf_counter()
        index = dispatcher.index()
        index_s = time.perf_counter() - t0

        n_items = int(rate * seconds)
        items = list(s1_items.generate_items(n_items, seed=2))
        expected = 0
        for start in range(0, len(items), MATCH_BATCH):
            expected += len(index.match(COLLECTION, items[start : start + MATCH_BATCH]))

        stop = threading.Event()
        give_up = threading.Event()
        rounds: list[tuple[float, int, int]] = []  # (seconds, events, jobs) per busy round
        errors: list[BaseException] = []

        def dispatch() -> None:
            try:
                while not give_up.is_set():
                    before = subs.cursor()
                    r0 = time.perf_counter()
                    out = dispatcher.poll_ingestion()
                    after = subs.cursor()
                    if after != before:
                        rounds.append(
                            (time.perf_counter() - r0, after - before, len(out.submitted))
                        )
                    elif stop.is_set() and after >= subs.log_top():
                        return
                    else:
                        time.sleep(0.01)
            except BaseException as exc:  # reported, not swallowed
                errors.append(exc)

        thread = threading.Thread(target=dispatch, name="bench-dispatcher", daemon=True)
        thread.start()
        per_batch = 100
        interval = per_batch / rate
        write_s: list[float] = []
        feed0 = time.perf_counter()
        for b, start in enumerate(range(0, len(items), per_batch)):
            due = feed0 + b * interval
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            w0 = time.perf_counter()
            store.write_items(items[start : start + per_batch], origin="harvest:bench")
            write_s.append(time.perf_counter() - w0)
        feed_s = time.perf_counter() - feed0
        stop.set()
        thread.join(timeout=drain_limit_s)
        if thread.is_alive():  # the backlog is not drained: stop after the current round
            give_up.set()
            thread.join()
        drain_s = time.perf_counter() - feed0 - feed_s
        if errors:
            raise errors[0]
        backlog = subs.log_top() - subs.cursor()

        with store.engine.connect() as conn:
            events = {
                r[0]: int(r[1])
                for r in conn.execute(
                    text("SELECT item_id, created FROM ingestion_events WHERE origin = :o"),
                    {"o": "harvest:bench"},
                )
            }
            jobs = conn.execute(
                text("SELECT trigger_key, created FROM jobs WHERE subscription IS NOT NULL")
            ).all()
            failures = int(
                conn.execute(text("SELECT count(*) FROM subscription_failures")).scalar() or 0
            )
            paused = int(
                conn.execute(
                    text("SELECT count(*) FROM subscriptions WHERE state != :s"),
                    {"s": SubscriptionState.ACTIVE},
                ).scalar()
                or 0
            )
        lat_ms: list[float] = []
        created: list[int] = []
        for key, jcreated in jobs:
            ref = key.split("|item:", 1)[1]
            item_id = ref.split("/", 1)[1]
            lat_ms.append((int(jcreated) - events[item_id]) / 1000.0)
            created.append(int(jcreated))
        first_event = min(events.values()) if events else 0
        span_s = (max(created) - first_event) / 1e6 if created else float("nan")
        busy = sum(r[0] for r in rounds)
        p95 = _pct(lat_ms, 95)
        return {
            "subscriptions": len(triggers),
            "create_subscriptions_s": round(create_s, 1),
            "index_build_s": round(index_s, 2),
            "cluster_start_s": round(cluster_s, 2),
            "items_fed": len(events),
            "rate_asked": rate,
            "rate_achieved": round(len(events) / feed_s, 1),
            "feed_s": round(feed_s, 1),
            "write_batch_ms_p50": round(_pct(write_s, 50) * 1000, 1),
            "write_batch_ms_p95": round(_pct(write_s, 95) * 1000, 1),
            "drain_after_feed_s": round(drain_s, 1),
            "drain_limit_s": drain_limit_s,
            "events_not_dispatched": backlog,
            "jobs": len(jobs),
            "jobs_expected": expected,
            "failures": failures,
            "paused": paused,
            "jobs_per_s": round(len(jobs) / span_s, 1) if created else 0.0,
            "dispatch_rounds": len(rounds),
            "dispatch_busy_s": round(busy, 1),
            "dispatch_ms_per_job": round(busy * 1000 / len(jobs), 2) if jobs else None,
            "dispatch_ms_per_event": round(busy * 1000 / max(1, len(events)), 3),
            "latency_ms_p50": round(_pct(lat_ms, 50), 1),
            "latency_ms_p95": round(p95, 1),
            "latency_ms_max": round(max(lat_ms), 1) if lat_ms else None,
            "p95_within_1s": bool(p95 <= 1000.0),
        }
    finally:
        svc.job_engine.close()
        store.close()


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--subs", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=100_000, help="items matched in (1)")
    ap.add_argument("--rate", type=float, default=1000.0, help="new items/s fed in (2)")
    ap.add_argument("--seconds", type=float, default=25.0, help="how long (2) feeds")
    ap.add_argument(
        "--drain-s",
        type=float,
        default=60.0,
        help="how long (2) lets the dispatcher catch up after the feed before it stops",
    )
    ap.add_argument("--naive-items", type=int, default=2000, help="items the naive peer tests")
    ap.add_argument("--quick", action="store_true", help="small sizes: check that it runs")
    ap.add_argument("--skip-latency", action="store_true", help="(1) only")
    ap.add_argument("--workdir", type=Path, help="(2)'s GEP home (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.subs, args.items, args.seconds, args.naive_items = 1000, 10_000, 3.0, 200
    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    triggers = subscription_triggers(args.subs)
    entries = in_memory(triggers)
    figures: dict[str, Any] = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }

    m = bench_matching(entries, args.items, args.naive_items)
    figures["matching"] = m
    print(
        f"\n(1) matching: {m['subscriptions']} subscriptions, {m['items']} items "
        f"(generated in {m['generate_s']} s, not timed)\n"
        f"  GEP SubscriptionIndex: build {m['index_build_s']} s; match {m['match_s']} s "
        f"(CPU {m['match_cpu_s']} s) = {m['items_per_s']:,} items/s; {m['matches']:,} matches "
        f"({m['matches_per_item']}/item, {m['items_with_a_match']:,} items with one)\n"
        f"  naive peer (every subscription per item: intersects, period, cql2), timed on the "
        f"first {m['naive_items_timed']} items: {m['naive_s']} s = {m['naive_items_per_s']} "
        f"items/s -> extrapolated to {m['items']} items: {m['naive_extrapolated_s']} s\n"
        f"  same pairs on the sample ({m['naive_pairs_on_sample']}); GEP / naive = "
        f"{m['speedup']}x"
    )
    if not args.skip_latency:
        with tempfile.TemporaryDirectory(prefix="gep-bench-triggers-") as tmp:
            lat = bench_latency(
                triggers, args.rate, args.seconds, args.workdir or Path(tmp), args.drain_s
            )
        figures["latency"] = lat
        ok = "yes" if lat["p95_within_1s"] else "NO"
        print(
            f"\n(2) ingestion -> job queued (SQLite, JobService + LocalCluster): "
            f"{lat['subscriptions']} subscriptions created in {lat['create_subscriptions_s']} s, "
            f"index {lat['index_build_s']} s, cluster started in {lat['cluster_start_s']} s\n"
            f"  fed {lat['items_fed']} items in {lat['feed_s']} s = {lat['rate_achieved']} "
            f"items/s (asked {lat['rate_asked']:g}); write of 100 p50/p95 "
            f"{lat['write_batch_ms_p50']}/{lat['write_batch_ms_p95']} ms; drained "
            f"{lat['drain_after_feed_s']} s after the last write (limit {lat['drain_limit_s']:g} "
            f"s; events not dispatched then: {lat['events_not_dispatched']})\n"
            f"  jobs {lat['jobs']} (index says {lat['jobs_expected']}), failures "
            f"{lat['failures']}, paused {lat['paused']}; {lat['jobs_per_s']} jobs/s; dispatcher "
            f"busy {lat['dispatch_busy_s']} s in {lat['dispatch_rounds']} rounds = "
            f"{lat['dispatch_ms_per_job']} ms/job\n"
            f"  latency p50 {lat['latency_ms_p50']} ms, p95 {lat['latency_ms_p95']} ms, max "
            f"{lat['latency_ms_max']} ms; p95 <= 1 s: {ok}"
        )
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
