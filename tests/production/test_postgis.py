"""Subscriptions on PostgreSQL + PostGIS, with concurrent servers: two dispatchers (as two
``gep serve`` on one database would run) read the same ingestion log at the same time, and
replay it, while new acquisitions arrive; every expected pair is submitted once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from shapely.geometry import mapping, shape

from bench.s1_archive import archive
from gep.production.dispatcher import Dispatcher
from tests.production.test_subscriptions import _oracle
from tests.support.app import api_client
from tests.support.stores import scratch_postgis_database


def test_two_dispatchers_on_one_postgis_database_submit_each_pair_once(tmp_path: Path) -> None:
    items, areas = archive(2, 90, 6.0, collection="s1-pg", seed=9)
    old, new = items[:3], items[3:]
    with (
        scratch_postgis_database("gep_subs") as url,
        api_client(tmp_path, database_url=url, subscriptions_poll_s=0, jobs_workers=1) as client,
    ):
        svc = client.app.state.services  # type: ignore[attr-defined]
        svc.store.write_items(old, mode="upsert", create_collections=True)
        body = {
            "title": "pairs",
            "process": "echo",
            "inputs": {"message": "{{reference}} {{secondary}}"},
            "trigger": {
                "type": "data",
                "collection": "s1-pg",
                "intersects": mapping(
                    shape(areas[0].geometry).union(shape(areas[1].geometry)).envelope
                ),
                "pairing": {"btemp_days": [6, 12]},
            },
        }
        r = client.post("/subscriptions", json=body)
        assert r.status_code == 201, r.text
        sub = r.json()
        first = svc.subscriptions.dispatcher
        second = Dispatcher(svc.store, svc.subscriptions.store, svc.jobs)
        first.run_once()
        stop = threading.Event()
        errors: list[BaseException] = []

        def loop(d: Dispatcher) -> None:
            try:
                while not stop.is_set():
                    d.poll_ingestion()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=loop, args=(d,)) for d in (first, second)]
        for t in threads:
            t.start()
        for i in range(0, len(new), 5):
            svc.store.write_items(new[i : i + 5], mode="upsert", origin="harvest:pg")
            if i == 15:  # a replay of the log in the middle of it all
                store = svc.subscriptions.store
                store.advance(store.cursor(), 0)
        deadline = time.monotonic() + 60
        while svc.subscriptions.store.cursor() < svc.subscriptions.store.log_top():
            assert time.monotonic() < deadline, "the dispatchers did not reach the log's end"
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(30)
        assert not errors, errors
        jobs = client.get(f"/subscriptions/{sub['id']}/jobs").json()["jobs"]
        got = [tuple(j["inputs"]["message"].split(" ")) for j in jobs]
        new_ids = {it["id"] for it in new}
        expected = _oracle(
            items, (6, 12), 0.5, None, lambda a, b: a["id"] in new_ids or b["id"] in new_ids
        )
        assert len(got) == len(set(got))
        assert set(got) == expected and len(expected) > 30
