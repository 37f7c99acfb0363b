"""A worker that hangs with Python's interpreter lock held (a native call that deadlocked) is
restarted by the server's watchdog, so that the jobs queued behind it run.

The ``wait`` service's ``hold_gil`` wedges the worker for real (a ``PyDLL`` call keeps the lock:
the job's lease renewal and Dask's own threads stop too). The LocalCluster is real, with its
nanny; nothing is mocked.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gep.accounts.store import AccountStore
from gep.catalog.backends import open_store
from gep.jobs.store import JobStore
from tests.support.app import api_client, app_settings, client_for, wait_for_stored_job


def _submit(c: TestClient, inputs: dict[str, Any], headers: dict[str, str] | None = None) -> str:
    r = c.post(
        "/processes/wait/execution",
        json={"inputs": inputs},
        headers={"Prefer": "respond-async", **(headers or {})},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["jobID"])


def test_a_wedged_worker_is_restarted_and_the_queue_moves_on(tmp_path: Path) -> None:
    settings = app_settings(tmp_path, jobs_lease_s=3.0, jobs_max_attempts=2, jobs_workers=1)
    jobs = JobStore(open_store(settings.resolved_database_url()).engine)
    with client_for(settings) as c:
        wedge = _submit(c, {"seconds": 300, "hold_gil": True})
        deadline = time.monotonic() + 60
        while jobs.get(wedge).status != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        first = jobs.get(wedge)
        assert first.status == "running", first
        behind = _submit(c, {"seconds": 0.2, "steps": 2})
        t0 = time.monotonic()
        # without the restart the job behind waits the full 300 s (the worker's two threads
        # share the one interpreter lock the wedged call holds)
        done = wait_for_stored_job(jobs, behind, 120)
        waited = time.monotonic() - t0
        assert done.status == "successful", (done, jobs.get(wedge))
        assert waited < 120
        # the wedged job was retried once (it wedged again) and then given up, with the reason
        gave_up = wait_for_stored_job(jobs, wedge, 120)
        assert gave_up.status == "failed", gave_up
        assert gave_up.attempts == 2
        assert "worker lost during attempt 2 of 2" in (gave_up.error or ""), gave_up
        # and the restarted worker still runs jobs
        after = _submit(c, {"seconds": 0.1, "steps": 1})
        assert wait_for_stored_job(jobs, after, 60).status == "successful"


def test_only_administrators_may_wedge_a_worker(tmp_path: Path) -> None:
    with api_client(tmp_path) as c:
        store = c.app.state.services.store  # type: ignore[attr-defined]
        accounts = AccountStore(store.engine)
        user = accounts.create_user("ana")
        _, token = accounts.issue_token(user.id, "test")
        job = _submit(c, {"seconds": 1, "hold_gil": True}, {"Authorization": f"Bearer {token}"})
        jobs = JobStore(store.engine)
        done = wait_for_stored_job(jobs, job, 60)
        assert done.status == "failed", done
        assert "administrators only" in (done.error or ""), done
