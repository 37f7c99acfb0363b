"""Subscriptions end to end through the API: data-driven pairs against an oracle (exactly once,
whatever the replays and arrival order), backfill of "all 6- and 12-day pairs" over a 2-year
archive of 22 areas, time-driven schedules with their catch-up policies, event-driven pairs
from the recorded USGS feed, budgets and caps, layers, the Atom feed, and bad input refused at
creation.

The dispatcher is driven by hand (``subscriptions_poll_s=0``), so each step is deterministic;
``tests/production/test_restart.py`` runs it inside a real ``gep serve`` that is killed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import mapping, shape
from shapely.ops import unary_union

from bench.s1_archive import archive
from gep.catalog.insar import item_baseline
from gep.core.enums import CatchUp
from gep.core.timeutil import parse_instant, to_micros
from gep.production.schedule import due_times
from tests.support.app import api_client

DATA = Path(__file__).resolve().parent.parent / "data" / "usgs"


def _services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("subs")
    with api_client(home, subscriptions_poll_s=0, harvest_poll_s=0, jobs_workers=1) as c:
        yield c


def _oracle(
    items: list[dict[str, Any]],
    days: tuple[float, ...],
    tol: float,
    max_bperp: float | None,
    wanted: Any,
) -> set[tuple[str, str]]:
    """Every pair of the same track (and area) whose temporal baseline is one of ``days``
    (and within ``max_bperp``, computed from the later acquisition as the rule does), for
    which ``wanted(earlier, later)`` holds: brute force over all items."""
    by_area: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        by_area.setdefault(it["id"][:6], []).append(it)
    out = set()
    for group in by_area.values():
        for a in group:
            for b in group:
                ta = to_micros(parse_instant(a["properties"]["datetime"]))
                tb = to_micros(parse_instant(b["properties"]["datetime"]))
                dt = (tb - ta) / 86_400e6
                if dt <= 0 or not any(abs(dt - d) <= tol for d in days):
                    continue
                if max_bperp is not None and abs(item_baseline(b, a).bperp) > max_bperp:
                    continue
                if wanted(a, b):
                    out.add((f"{a['collection']}/{a['id']}", f"{b['collection']}/{b['id']}"))
    return out


def _submitted(client: TestClient, sub_id: str) -> list[tuple[str, str]]:
    jobs = client.get(f"/subscriptions/{sub_id}/jobs").json()["jobs"]
    return [tuple(j["inputs"]["message"].split(" ")) for j in jobs]  # type: ignore[misc]


def test_data_driven_pairs_exactly_once_against_the_oracle(client: TestClient) -> None:
    svc = _services(client)
    items, areas = archive(3, 96, 6.0, collection="s1-data", seed=1)
    old = [it for it in items if it["properties"]["datetime"] < "2022-02-15"]
    new = [it for it in items if it not in old]
    svc.store.write_items(old, mode="upsert", create_collections=True)  # the archive: no events
    area = unary_union([shape(areas[0].geometry), shape(areas[1].geometry)]).convex_hull
    body = {
        "title": "6/12-day pairs",
        "process": "echo",
        "inputs": {"message": "{{reference}} {{secondary}}"},
        "trigger": {
            "type": "data",
            "collection": "s1-data",
            "intersects": mapping(area),
            "pairing": {"btemp_days": [6, 12], "max_bperp": 150},
        },
        "max_jobs_per_trigger": 10,
    }
    r = client.post("/subscriptions", json=body)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["layer"].startswith("layer-") and sub["state"] == "active"
    svc.subscriptions.dispatcher.run_once()  # the cursor starts at the end of the log
    # new acquisitions arrive in batches, one batch out of order (a late-published product)
    rng = random.Random(3)
    batches = [new[i : i + 7] for i in range(0, len(new), 7)]
    batches[1], batches[2] = batches[2], batches[1]
    for batch in batches:
        rng.shuffle(batch)
        svc.store.write_items(batch, mode="upsert", origin="harvest:test")
        svc.subscriptions.dispatcher.run_once()
    new_ids = {it["id"] for it in new}
    in_area = [it for it in items if it["id"][:6] in ("S1_A00", "S1_A01")]
    expected = _oracle(
        in_area, (6, 12), 0.5, 150, lambda a, b: a["id"] in new_ids or b["id"] in new_ids
    )
    got = _submitted(client, sub["id"])
    assert len(got) == len(set(got)), "a pair was submitted twice"
    assert set(got) == expected
    assert len(expected) > 20  # the test means something: both areas, both baselines
    # replaying the whole ingestion log submits nothing more
    subs = svc.subscriptions.store
    subs.advance(subs.cursor(), 0)
    svc.subscriptions.dispatcher.run_once()
    assert sorted(_submitted(client, sub["id"])) == sorted(got)
    status = client.get(f"/subscriptions/{sub['id']}").json()["status"]
    assert status["submitted"] == len(expected) and status["last_trigger"] is not None
    # a backfill over everything catalogued adds the pairs of the old archive, and only those
    report = client.post(f"/subscriptions/{sub['id']}/backfill").json()
    everything = _oracle(in_area, (6, 12), 0.5, 150, lambda a, b: True)
    assert report["submitted"] == len(everything) - len(expected)
    assert set(_submitted(client, sub["id"])) == everything


def test_backfill_of_the_6_and_12_day_rule_over_22_areas_and_2_years(client: TestClient) -> None:
    """Dry run of the InSAR Browse rule over a generated archive: exactly the oracle's pairs."""
    svc = _services(client)
    items, _ = archive(22, 730, 6.0, collection="s1-browse", seed=2)
    svc.store.write_items(items, mode="upsert", create_collections=True)
    body = {
        "title": "InSAR Browse",
        "process": "echo",
        "inputs": {"message": "{{reference}} {{secondary}}"},
        "trigger": {"type": "data", "collection": "s1-browse", "pairing": {"btemp_days": [6, 12]}},
    }
    sub = client.post("/subscriptions", json=body).json()
    report = client.post(f"/subscriptions/{sub['id']}/backfill", params={"dry_run": True}).json()
    planned = {tuple(p["inputs"]["message"].split(" ")) for p in report["planned"]}
    expected = _oracle(items, (6, 12), 0.5, None, lambda a, b: True)
    assert report["items"] == len(items) == 22 * 122
    assert len(report["planned"]) == len(planned) == len(expected) == 22 * (121 + 120)
    assert planned == expected
    assert client.get(f"/subscriptions/{sub['id']}/jobs").json()["jobs"] == []


def test_time_driven_runs_and_catch_up_policies(client: TestClient) -> None:
    start = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    # a schedule every 5 s over a bounded run: on time, one run per tick
    runs, nxt, skipped = due_times("* * * * * */5", "UTC", start, start, CatchUp.ONCE)
    assert runs == [start] and nxt == start + timedelta(seconds=5) and skipped == 0
    fired = []
    t, now = start, start
    while now < start + timedelta(seconds=60):
        now += timedelta(seconds=1)
        runs, nxt, _ = due_times("* * * * * */5", "UTC", t, now, CatchUp.EACH)
        fired += runs
        t = nxt
    assert len(fired) == 13 and len(set(fired)) == 13  # 12:00:00 … 12:01:00
    # an outage of 60 s: each runs the 12 missed, once the newest, skip none
    later = start + timedelta(seconds=59)
    assert len(due_times("* * * * * */5", "UTC", start, later, CatchUp.EACH)[0]) == 12
    assert due_times("* * * * * */5", "UTC", start, later, CatchUp.ONCE)[0] == [
        start + timedelta(seconds=55)
    ]
    assert due_times("* * * * * */5", "UTC", start, later, CatchUp.SKIP)[:3:2] == ([], 12)
    # daylight saving: 06:00 Europe/Rome is 05:00 UTC in winter and 04:00 UTC in summer
    from gep.production.schedule import next_time

    assert next_time("0 6 * * *", "Europe/Rome", datetime(2026, 3, 28, 12, tzinfo=UTC)).hour == 4
    assert next_time("0 6 * * *", "Europe/Rome", datetime(2026, 3, 27, 12, tzinfo=UTC)).hour == 5

    # through the service: an outage with catch_up "each" submits every missed window once
    svc = _services(client)
    body = {
        "title": "weekly hotspots",
        "process": "echo",
        "inputs": {"message": "{{start}}/{{end}}"},
        "trigger": {"type": "time", "cron": "* * * * * */5", "window": "P7D", "catch_up": "each"},
    }
    sub = client.post("/subscriptions", json=body).json()
    assert sub["status"]["next_run"] is not None
    subs = svc.subscriptions.store
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    subs.update(sub["id"], next_run=to_micros(t0))  # the server was down for 30 s
    disp = svc.subscriptions.dispatcher
    disp.tick_schedules(t0 + timedelta(seconds=30))
    disp.tick_schedules(t0 + timedelta(seconds=30))  # the same tick again: nothing new
    jobs = client.get(f"/subscriptions/{sub['id']}/jobs").json()["jobs"]
    windows = sorted(j["inputs"]["message"] for j in jobs)
    assert len(windows) == len(set(windows)) == 7  # t0, t0+5 … t0+30
    # catch_up "skip" after an outage submits none and says so
    body["trigger"]["catch_up"] = "skip"
    skip = client.post("/subscriptions", json=body).json()
    subs.update(skip["id"], next_run=to_micros(t0))
    disp.tick_schedules(t0 + timedelta(seconds=30))
    st = client.get(f"/subscriptions/{skip['id']}").json()["status"]
    assert st["submitted"] == 0 and "7 run(s) missed" in st["failures"][0]["reason"]
    assert st["next_run"] > (t0 + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")


def _usgs_events(name: str) -> list[dict[str, Any]]:
    from gep.harvest.usgs import event_item

    doc = json.loads((DATA / name).read_text())
    return [event_item(f, "earthquakes") for f in doc["features"]]


def _event_oracle(
    events: list[dict[str, Any]],
    frames: list[dict[str, Any]],
    *,
    min_mag: float,
    max_depth: float,
    days: float,
) -> list[str]:
    """For each event passing the conditions, per track over its epicentre: the last frame
    before and the first after, within ``days`` (brute force)."""
    out = []
    for ev in events:
        p = ev["properties"]
        if p["earthquake:magnitude"] < min_mag or p["earthquake:depth"] > max_depth:
            continue
        te = parse_instant(p["datetime"])
        point = shape(ev["geometry"])
        tracks: dict[int, list[tuple[datetime, str]]] = {}
        for f in frames:
            tf = parse_instant(f["properties"]["datetime"])
            if (
                shape(f["geometry"]).intersects(point)
                and abs((tf - te).total_seconds()) <= days * 86400
            ):
                tracks.setdefault(f["properties"]["sat:relative_orbit"], []).append((tf, f["id"]))
        for acqs in tracks.values():
            before = [a for a in acqs if a[0] < te]
            after = [a for a in acqs if a[0] > te]
            if before and after:
                out.append(
                    f"s1-events/{max(before)[1]} s1-events/{min(after)[1]} earthquakes/{ev['id']}"
                )
    return sorted(out)


def test_event_driven_pairs_from_the_recorded_usgs_feed(client: TestClient) -> None:
    """The recorded events (124 micro-earthquakes of January 2017 and Northridge 1994) are
    replayed into the feed's collection; SAR frames are placed around three of them: pairs come
    for the events that pass each rule's conditions, once their post-event acquisition is
    catalogued, and for no other."""
    svc = _services(client)
    events = _usgs_events("search_2017-01-01_2017-01-30.json")
    assert len(events) == 124
    svc.harvests.add(
        __import__("gep.harvest.base", fromlist=["SourceConfig"]).SourceConfig(
            "usgs-test", "usgs", "https://earthquake.usgs.gov/fdsnws/event/1/query", "earthquakes"
        )
    )
    northridge = _usgs_events("northridge_1994.json")[0]  # M6.7, 18 km deep
    shallow = next(
        e
        for e in events
        if e["properties"]["earthquake:magnitude"] >= 0.09
        and e["properties"]["earthquake:depth"] <= 15
    )
    deep = next(
        e
        for e in events
        if e["properties"]["earthquake:magnitude"] >= 0.09
        and e["properties"]["earthquake:depth"] > 15
    )
    events.append(northridge)
    chosen = [northridge, shallow, deep]
    # pre-event frames over each chosen epicentre (6 and 12 days before)
    frames = []
    for n, ev in enumerate(chosen):
        lon, lat = ev["geometry"]["coordinates"][:2]
        te = parse_instant(ev["properties"]["datetime"])
        for days in (-12, -6, 6, 12):
            when = (te + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
            frames.append(
                {
                    "type": "Feature",
                    "stac_version": "1.1.0",
                    "id": f"EV{n}_{days:+d}",
                    "collection": "s1-events",
                    "geometry": mapping(
                        shape({"type": "Point", "coordinates": [lon, lat]}).buffer(
                            0.5, join_style="mitre"
                        )
                    ),
                    "properties": {
                        "datetime": when,
                        "platform": "sentinel-1a",
                        "constellation": "sentinel-1",
                        "sat:relative_orbit": 10 + n,
                        "sat:orbit_state": "descending",
                        "sar:instrument_mode": "IW",
                        "sar:product_type": "SLC",
                    },
                    "assets": {},
                    "links": [],
                }
            )
    pre = [f for f in frames if "-" in f["id"].split("_")[1]]
    post = [f for f in frames if f not in pre]
    svc.store.write_items(pre, mode="upsert", create_collections=True)
    body = {
        "title": "earthquake response",
        "process": "echo",
        "inputs": {"message": "{{reference}} {{secondary}} {{event}}"},
        "trigger": {
            "type": "event",
            "feed": "usgs-test",
            "collection": "s1-events",
            "min_magnitude": 5.5,
            "max_depth_km": 70,
            "days_before": 30,
            "days_after": 30,
        },
    }
    r = client.post("/subscriptions", json=body)
    assert r.status_code == 201, r.text
    sub = r.json()
    # a second rule, on the micro-seismicity: magnitude >= 0.09 and at most 15 km deep
    micro = {**body, "trigger": {**body["trigger"], "min_magnitude": 0.09, "max_depth_km": 15}}
    sub2 = client.post("/subscriptions", json=micro).json()
    disp = svc.subscriptions.dispatcher
    disp.run_once()
    # the feed is replayed: no post-event acquisition yet, so nothing to pair
    svc.store.write_items(
        events, mode="upsert", create_collections=True, origin="harvest:usgs-test"
    )
    disp.run_once()
    assert client.get(f"/subscriptions/{sub['id']}/jobs").json()["jobs"] == []
    # the post-event acquisitions arrive: one pair per strong event (last before, first after)
    svc.store.write_items(post, mode="upsert", origin="harvest:s1")
    disp.run_once()
    jobs = client.get(f"/subscriptions/{sub['id']}/jobs").json()["jobs"]
    got = sorted(j["inputs"]["message"] for j in jobs)
    assert got == [f"s1-events/EV0_-6 s1-events/EV0_+6 earthquakes/{northridge['id']}"]
    jobs2 = client.get(f"/subscriptions/{sub2['id']}/jobs").json()["jobs"]
    got2 = sorted(j["inputs"]["message"] for j in jobs2)
    assert got2 == _event_oracle(events, frames, min_mag=0.09, max_depth=15, days=30)
    assert f"s1-events/EV1_-6 s1-events/EV1_+6 earthquakes/{shallow['id']}" in got2
    assert not any(f"earthquakes/{deep['id']}" in m for m in got2)
    assert not any("EV0_" in m for m in got2)
    # a replay of the whole log changes nothing
    subs = svc.subscriptions.store
    subs.advance(subs.cursor(), 0)
    disp.run_once()
    assert len(client.get(f"/subscriptions/{sub['id']}/jobs").json()["jobs"]) == 1
    assert len(client.get(f"/subscriptions/{sub2['id']}/jobs").json()["jobs"]) == len(got2)


ITEM = {"inputs": {"message": "{{item}}"}}


def test_bad_input_is_refused_at_creation(client: TestClient) -> None:
    svc = _services(client)
    grd = [
        {
            "type": "Feature",
            "stac_version": "1.1.0",
            "id": "GRD1",
            "collection": "s1-grd",
            "geometry": {"type": "Point", "coordinates": [15, 37.7]},
            "properties": {"datetime": "2024-01-01T00:00:00Z", "sar:product_type": "GRD"},
            "assets": {},
            "links": [],
        }
    ]
    slc = {
        **grd[0],
        "id": "SLC1",
        "collection": "s1-slc",
        "properties": {**grd[0]["properties"], "sar:product_type": "SLC"},
    }
    svc.store.write_items([*grd, slc], mode="upsert", create_collections=True)
    good = {
        "title": "x",
        "process": "echo",
        "inputs": {"message": "{{start}}"},
        "trigger": {"type": "time", "cron": "0 6 * * 1"},
    }
    cases = [
        ({"trigger": {"type": "time", "cron": "61 * * * *"}}, "trigger.cron"),
        (
            {"trigger": {"type": "time", "cron": "0 6 * * 1", "timezone": "Mars/Olympus"}},
            "trigger.timezone",
        ),
        (
            {"trigger": {"type": "time", "cron": "0 6 * * 1", "catch_up": "sometimes"}},
            "trigger.catch_up",
        ),
        ({"trigger": {"type": "weekly"}}, "trigger.type"),
        ({"inputs": {"message": "{{reference}}"}}, "inputs"),
        ({"inputs": {"text": "{{start}}"}}, "inputs.text"),
        ({"process": "no-such-service"}, "process"),
        (
            {
                "inputs": {"message": "{{reference}} {{secondary}}"},
                "trigger": {
                    "type": "data",
                    "collection": "s1-grd",
                    "pairing": {"btemp_days": [12]},
                },
            },
            "trigger.collection",
        ),
        (
            {**ITEM, "trigger": {"type": "data", "collection": "s1-grd", "filter": "a <<< 3"}},
            "trigger.filter",
        ),
        ({**ITEM, "trigger": {"type": "data", "collection": "nowhere"}}, "trigger.collection"),
        (
            {**ITEM, "trigger": {"type": "data", "collection": "s1-grd", "place": "Qwxyzzz Qq"}},
            "trigger.place",
        ),
        (
            {**ITEM, "trigger": {"type": "data", "collection": "s1-grd", "pairing": {"last": 1}}},
            "trigger.pairing.last",
        ),
        (
            {**ITEM, "trigger": {"type": "data", "collection": "s1-grd", "pairing": {}}},
            "trigger.pairing",
        ),
        (
            {
                "inputs": {"message": "{{reference}} {{secondary}}"},
                "trigger": {"type": "event", "feed": "nope", "collection": "s1-slc"},
            },
            "trigger.feed",
        ),
        ({"budget": {"credits": -1}}, "budget.credits"),
        ({"max_jobs_per_trigger": 0}, "max_jobs_per_trigger"),
        ({"webhook": {"url": "ftp://x"}}, "webhook.url"),
    ]
    before = len(client.get("/subscriptions").json()["subscriptions"])
    assert (
        client.post(
            "/subscriptions",
            json={**good, **ITEM, "trigger": {"type": "data", "collection": "s1-grd"}},
        ).status_code
        == 201
    )
    before += 1
    for change, field in cases:
        r = client.post("/subscriptions", json={**good, **change})
        assert r.status_code == 400, (change, r.text)
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert problem.get("field") == field or field in problem.get("detail", ""), (
            change,
            problem,
        )
    assert len(client.get("/subscriptions").json()["subscriptions"]) == before


def test_layer_feed_webhook_budget_cap_and_visibility(client: TestClient) -> None:
    """A plain user's subscription: its layer is theirs (others see neither), a published
    result lands in it with the coverage grown, is in its Atom feed and queues a webhook; the
    cap pauses a flooding trigger with its reason and a resume catches up; the budget pauses
    before overspending."""
    from types import SimpleNamespace

    from gep.accounts.credits import Price
    from gep.jobs.publish import publish
    from gep.jobs.store import JobOrigin

    svc = _services(client)
    alice = svc.accounts.create_user("alice-subs")
    _, token = svc.accounts.issue_token(alice.id, "t")
    bob = svc.accounts.create_user("bob-subs")
    _, bob_token = svc.accounts.issue_token(bob.id, "t")
    me = {"Authorization": f"Bearer {token}"}
    other = {"Authorization": f"Bearer {bob_token}"}
    items, _areas = archive(1, 36, 6.0, collection="s1-alice", seed=7)
    svc.store.write_items(items[:3], mode="upsert", create_collections=True)
    body = {
        "title": "Alice's pairs",
        "process": "echo",
        "inputs": {"message": "{{reference}} {{secondary}}"},
        "trigger": {"type": "data", "collection": "s1-alice", "pairing": {"max_btemp": 13}},
        "max_jobs_per_trigger": 1,
        "webhook": {"url": "https://hooks.example.org/gep"},
    }
    r = client.post("/subscriptions", json=body, headers=me)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["webhook_secret"].startswith("whsec_") and sub["owner"] == alice.id
    assert "webhook_secret" not in client.get(f"/subscriptions/{sub['id']}", headers=me).json()
    # others see neither the subscription nor its layer
    assert client.get(f"/subscriptions/{sub['id']}", headers=other).status_code == 404
    assert client.get(f"/stac/collections/{sub['layer']}", headers=other).status_code == 404
    assert sub["id"] not in [
        s["id"] for s in client.get("/subscriptions", headers=other).json()["subscriptions"]
    ]
    disp = svc.subscriptions.dispatcher
    disp.run_once()
    # the next acquisition pairs with the two before it: 2 jobs > the cap of 1 → paused
    svc.store.write_items([items[3]], mode="upsert", origin="harvest:a")
    disp.run_once()
    st = client.get(f"/subscriptions/{sub['id']}", headers=me).json()
    assert st["state"] == "paused" and "max_jobs_per_trigger" in st["reason"]
    assert st["status"]["submitted"] == 0
    # while paused another acquisition arrives; raising the cap and resuming catches both up
    svc.store.write_items([items[4]], mode="upsert", origin="harvest:a")
    disp.run_once()
    assert (
        client.patch(
            f"/subscriptions/{sub['id']}", json={"max_jobs_per_trigger": 5}, headers=me
        ).status_code
        == 200
    )
    resumed = client.post(f"/subscriptions/{sub['id']}/resume", headers=me).json()
    assert resumed["state"] == "active" and resumed["catch_up"]["submitted"] == 4
    # a result published by one of its jobs lands in the layer, visible to Alice only
    job_id = client.get(f"/subscriptions/{sub['id']}/jobs", headers=me).json()["jobs"][0]["jobID"]
    job = SimpleNamespace(
        id=job_id,
        owner=alice.id,
        visibility="private",
        origin=JobOrigin(sub["id"], "k", sub["layer"]),
    )
    process = SimpleNamespace(id="echo", version="1", title="Echo")
    ref = publish(
        svc.store,
        job,
        process,
        assets={},
        footprint=items[4]["geometry"],
        inputs=[],
        finished_us=to_micros(parse_instant("2026-01-02T00:00:00Z")),
    )
    assert ref == f"{sub['layer']}/{job_id}"
    coll = client.get(f"/stac/collections/{sub['layer']}", headers=me).json()
    assert coll["extent"]["spatial"]["bbox"][0] == pytest.approx(shape(items[4]["geometry"]).bounds)
    assert (
        client.get(f"/stac/collections/{sub['layer']}/items/{job_id}", headers=other).status_code
        == 404
    )
    layer = client.get(f"/subscriptions/{sub['id']}/layer", headers=me).json()
    assert layer["dates"] == [{"date": "2026-01-02", "items": 1}]
    feed = client.get(f"/subscriptions/{sub['id']}/feed", headers=me)
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert job_id in feed.text
    disp.run_once()  # the layer's new item is in the log: a webhook delivery is queued
    deliveries = client.get(f"/subscriptions/{sub['id']}/deliveries", headers=me).json()
    events = [d["event"] for d in deliveries["deliveries"]]
    assert f"item:{sub['layer']}/{job_id}" in events and any(
        e.startswith("paused:") for e in events
    )
    # a budget: with echo priced at 1 credit a job, a budget of 1.5 pauses at the second job
    svc.credits.set_price("echo", Price(per_job=1.0))
    svc.credits.grant(alice.id, 10_000, actor=None)
    try:
        assert (
            client.patch(
                f"/subscriptions/{sub['id']}",
                json={"budget": {"credits": 1.5, "period": "day"}},
                headers=me,
            ).status_code
            == 200
        )
        # spent so far this day: the four free jobs cost nothing
        svc.store.write_items([items[5]], mode="upsert", origin="harvest:a")
        disp.run_once()
        st = client.get(f"/subscriptions/{sub['id']}", headers=me).json()
        assert st["state"] == "paused" and st["reason"].startswith("budget reached")
        assert st["status"]["submitted"] == 5 and st["budget"]["spent"] == 1.0
    finally:
        svc.credits.set_price("echo", Price())
    # shared publicly: Bob sees it, its layer and its results, but not its webhook or budget,
    # and may not change it
    shared = client.patch(f"/subscriptions/{sub['id']}", json={"visibility": "public"}, headers=me)
    assert shared.status_code == 200 and shared.json()["visibility"] == "public"
    seen = client.get(f"/subscriptions/{sub['id']}", headers=other).json()
    assert "webhook" not in seen and "budget" not in seen and seen["title"] == "Alice's pairs"
    assert (
        client.get(f"/stac/collections/{sub['layer']}/items/{job_id}", headers=other).status_code
        == 200
    )
    assert client.get(f"/jobs/{job_id}", headers=other).status_code == 200
    assert len(client.get(f"/subscriptions/{sub['id']}/jobs", headers=other).json()["jobs"]) == 5
    r = client.patch(f"/subscriptions/{sub['id']}", json={"title": "mine"}, headers=other)
    assert r.status_code == 403
    # delete, keeping the layer: the collection stays, the subscription goes
    assert client.delete(f"/subscriptions/{sub['id']}", headers=me).status_code == 204
    assert client.get(f"/subscriptions/{sub['id']}", headers=me).status_code == 404
    assert (
        client.get(f"/stac/collections/{sub['layer']}/items/{job_id}", headers=me).status_code
        == 200
    )


def test_the_demo_subscriptions_fire_on_the_demo_ingestion(client: TestClient) -> None:
    """``gep demo seed``'s InSAR-Browse-like subscription submits the 6- and 12-day pairs of
    the new acquisitions ``gep demo ingest`` brings, over both demo volcanoes; the earthquake
    subscription sees the Amatrice record (its SAFE pair is not in this catalogue, so it has
    nothing to pair)."""
    from gep.demo.production import ingest_new, seed_production

    svc = _services(client)
    seed_production(svc.store, log=lambda m: None)
    seed_production(svc.store, log=lambda m: None)  # idempotent
    subs = {s["id"]: s for s in client.get("/subscriptions").json()["subscriptions"]}
    assert {"sub-demo-insar-browse", "sub-demo-earthquakes"} <= set(subs)
    disp = svc.subscriptions.dispatcher
    disp.run_once()
    counts = ingest_new(svc.store)
    assert counts == {"acquisitions": 2 * 4, "events": 1}
    disp.run_once()
    jobs = client.get("/subscriptions/sub-demo-insar-browse/jobs").json()["jobs"]
    pairs = {tuple(j["inputs"]["message"].split(" ")) for j in jobs}
    items, _ = __import__("gep.demo.s1_archive", fromlist=["archive"]).archive(
        2, 60, 6.0, collection="sentinel-1-demo-archive", seed=11
    )
    new = {it["id"] for it in items[-4:]} | {it["id"] for it in items[:11][-4:]}
    expected = _oracle(items, (6, 12), 0.5, 300, lambda a, b: b["id"] in new or a["id"] in new)
    assert pairs == expected and len(pairs) == 2 * 4 * 2
    quake = client.get("/subscriptions/sub-demo-earthquakes").json()
    assert quake["state"] == "active" and quake["status"]["submitted"] == 0
