"""A real ``gep serve`` dispatching a subscription is SIGKILLed in the middle of a burst of
ingestion, more items arrive while it is down, and it is started again: every expected pair is
submitted, none twice (checked against a brute-force oracle over the same items)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
from shapely.geometry import mapping, shape

from bench.s1_archive import archive
from gep.catalog.backends import open_store
from gep.settings import Settings
from tests.production.test_subscriptions import _oracle
from tests.support.app import ADMIN_HEADERS
from tests.support.serving import free_port, start_gep_serve, stop


def _pairs(base: str, sub_id: str) -> list[tuple[str, ...]]:
    jobs = httpx.get(f"{base}/subscriptions/{sub_id}/jobs", headers=ADMIN_HEADERS, timeout=30)
    return [tuple(j["inputs"]["message"].split(" ")) for j in jobs.json()["jobs"]]


def test_sigkill_mid_burst_submits_none_twice_and_misses_none(tmp_path: Path) -> None:
    items, areas = archive(2, 120, 6.0, collection="s1-live", seed=5)
    old, new = items[:4], items[4:]
    old_ids = {it["id"] for it in old}
    new = [it for it in new if it["id"] not in old_ids]
    store = open_store(Settings(home=tmp_path).resolved_database_url())
    store.upgrade()
    store.write_items(old, mode="upsert", create_collections=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {"subscriptions_poll_s": "0.2", "harvest_poll_s": "0", "jobs_workers": "1"}
    server = start_gep_serve(tmp_path, port, **settings)
    try:
        body = {
            "title": "live pairs",
            "process": "echo",
            "inputs": {"message": "{{reference}} {{secondary}}"},
            "trigger": {
                "type": "data",
                "collection": "s1-live",
                "intersects": mapping(
                    shape(areas[0].geometry).union(shape(areas[1].geometry)).envelope
                ),
                "pairing": {"btemp_days": [6, 12]},
            },
        }
        r = httpx.post(f"{base}/subscriptions", json=body, headers=ADMIN_HEADERS, timeout=60)
        assert r.status_code == 201, r.text
        sub_id = r.json()["id"]
        time.sleep(1.0)  # the dispatcher's first round sets its cursor at the log's end
        batches = [new[i : i + 4] for i in range(0, len(new), 4)]
        killed_at = len(batches) // 2
        for n, batch in enumerate(batches):
            store.write_items(batch, mode="upsert", origin="harvest:live")
            time.sleep(0.15)
            if n == killed_at:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
        before_restart = len(store.ingestion_events(after=0, limit=100_000))
        server = start_gep_serve(tmp_path, port, **settings)
        expected = _oracle(
            items, (6, 12), 0.5, None, lambda a, b: a["id"] not in old_ids or b["id"] not in old_ids
        )
        deadline = time.monotonic() + 90
        got = _pairs(base, sub_id)
        while set(got) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
            got = _pairs(base, sub_id)
        time.sleep(1.0)  # and nothing more comes
        got = _pairs(base, sub_id)
        assert before_restart == len(new)
        assert len(got) == len(set(got)), "a pair was submitted twice"
        assert set(got) == expected
        assert len(expected) > 30
    finally:
        stop(server)
        store.close()
