"""Credits under a real server: 50 simultaneous submissions by a user with credit for 10 start
exactly 10, and after successes, failures and cancellations the ledger balances to the cent."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.app import ADMIN_HEADERS, wait_for_job
from tests.support.serving import free_port, start_gep_serve, stop
from tests.support.stores import PG_URL, make_store

PRICE = {"per_job": 1.0, "per_cpu_s": 0.5, "estimate_cpu_s": 1.0}  # a quote of 1.50
SUBMISSIONS = 50


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_fifty_submissions_with_credit_for_ten(tmp_path: Path, backend: str) -> None:
    port = free_port()
    database = {}
    if backend == "postgis":
        make_store(backend, tmp_path)  # emptied, at the latest revision
        database = {"database_url": PG_URL}
    server = start_gep_serve(tmp_path / "home", port, jobs_workers="1", **database)
    base = f"http://127.0.0.1:{port}"
    try:
        admin = httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=60)
        r = admin.post("/accounts/users", json={"name": "u", "credits": 15, "token": True})
        assert r.status_code == 201, r.text
        user = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {r.json()['token']}"}, timeout=60
        )
        assert admin.put("/processes/wait/price", json=PRICE).status_code == 200
        quote = user.post(
            "/processes/wait/execution?quote=true", json={"inputs": {"seconds": 1}}
        ).json()
        assert quote["credits"] == 1.5

        statuses: list[int] = []
        refusals: list[dict[str, Any]] = []
        accepted: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(SUBMISSIONS)

        def submit() -> None:
            with httpx.Client(base_url=base, headers=user.headers, timeout=120) as c:
                start.wait()
                resp = c.post(
                    "/processes/wait/execution",
                    json={"inputs": {"seconds": 1, "steps": 20}},
                    headers={"Prefer": "respond-async"},
                )
            with lock:
                statuses.append(resp.status_code)
                if resp.status_code == 201:
                    accepted.append(resp.json()["jobID"])
                else:
                    refusals.append(resp.json())

        threads = [threading.Thread(target=submit) for _ in range(SUBMISSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(set(statuses)) == [201, 402], statuses
        assert statuses.count(201) == 10 and statuses.count(402) == 40
        assert all(p["price"] == 1.5 and p["balance"] == 15.0 for p in refusals)
        assert all(p["type"].endswith("insufficient-credits") for p in refusals)
        assert user.get("/jobs").json()["numberMatched"] == 10  # no job for a refusal
        me = user.get("/accounts/me").json()["credits"]
        assert (me["balance"], me["held"], me["available"]) == (15.0, 15.0, 0.0)

        # cancellations: three still queued (refunded), one running (charged what it used)
        queued = [j for j in accepted if user.get(f"/jobs/{j}").json()["status"] == "accepted"]
        assert len(queued) >= 4, "the single worker runs two at a time: the rest wait"
        cancelled_queued = queued[-3:]
        for j in cancelled_queued:
            assert user.delete(f"/jobs/{j}").json()["status"] == "dismissed"
        deadline = time.monotonic() + 30
        running = None
        while running is None and time.monotonic() < deadline:
            states = {j: user.get(f"/jobs/{j}").json()["status"] for j in accepted}
            running = next((j for j, s in states.items() if s == "running"), None)
        assert running is not None
        user.delete(f"/jobs/{running}")
        # failures: two more jobs that fail, paid for by a top-up
        assert admin.post("/accounts/credits", json={"user": "u", "amount": 3}).is_success
        failing = []
        for _ in range(2):
            resp = user.post(
                "/processes/wait/execution",
                json={"inputs": {"seconds": 0.1, "fail": True}},
                headers={"Prefer": "respond-async"},
            )
            assert resp.status_code == 201, resp.text
            failing.append(resp.json()["jobID"])
        final = {j: wait_for_job(user, j, timeout_s=90)["status"] for j in accepted + failing}
        assert all(final[j] == "dismissed" for j in [*cancelled_queued, running])
        assert all(final[j] == "failed" for j in failing)
        succeeded = [j for j, s in final.items() if s == "successful"]
        assert len(succeeded) == 6

        # the ledger balances to the cent
        entries = user.get("/accounts/ledger", params={"limit": 1000}).json()["entries"]
        me = user.get("/accounts/me").json()["credits"]
        total = sum(round(e["amount"] * 100) for e in entries)
        held = sum(round(e["held"] * 100) for e in entries)
        assert total == round(me["balance"] * 100) and held == 0 == me["held"]
        charged = 0
        for job_id, status in final.items():
            rows = [e for e in reversed(entries) if e["job"] == job_id]
            assert next(e["kind"] for e in rows) == "hold" and rows[0]["held"] == 1.5
            end = rows[1]
            assert len(rows) == 2 and end["held"] == -1.5
            if status == "successful" or job_id == running:
                assert end["kind"] == "charge" and -1.5 <= end["amount"] <= -1.0
                charged += -round(end["amount"] * 100)
            else:  # failed, or dismissed before it started: refunded whole
                assert end["kind"] == "release" and end["amount"] == 0
        assert round(me["balance"] * 100) == 1500 + 300 - charged
        # usage was measured for every job that ran
        usage = user.get("/accounts/usage").json()["usage"]
        assert sum(row["jobs"] for row in usage) == len(final) - len(cancelled_queued)
        assert all(row["wall_s"] > 0 for row in usage)
    finally:
        stop(server)
