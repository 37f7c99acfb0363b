"""OGC API - Processes execution and jobs, on a real Dask LocalCluster (worker processes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.app import api_client, app_settings, client_for, wait_for_job


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("jobs")
    with api_client(Path(home), base_url="http://gep.test") as c:
        yield c


def test_sync_execute_returns_the_outputs(client: TestClient) -> None:
    r = client.post("/processes/echo/execution", json={"inputs": {"message": "Etna"}})
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "Etna"}
    assert r.headers["location"].startswith("http://gep.test/jobs/")


def test_async_execute_poll_and_results(client: TestClient) -> None:
    r = client.post(
        "/processes/wait/execution",
        json={"inputs": {"seconds": 0.5, "steps": 5}},
        headers={"Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job_id = r.json()["jobID"]
    assert r.headers["location"] == f"http://gep.test/jobs/{job_id}"
    assert r.json()["status"] in ("accepted", "running")
    seen_progress = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = client.get(f"/jobs/{job_id}").json()
        seen_progress.add(info["progress"])
        if info["status"] == "successful":
            break
        time.sleep(0.05)
    assert info["status"] == "successful" and info["progress"] == 100
    assert len(seen_progress) >= 3  # intermediate progress was visible while it ran
    assert 0.45 <= client.get(f"/jobs/{job_id}/results").json()["waited"] < 5
    logs = client.get(f"/jobs/{job_id}/logs").json()["logs"]
    assert any("waited" in line["message"] for line in logs)
    listed = client.get("/jobs", params={"processID": "wait", "status": "successful"}).json()
    assert job_id in [j["jobID"] for j in listed["jobs"]]


def test_invalid_inputs_are_refused_before_queueing(client: TestClient) -> None:
    before = client.get("/jobs").json()["numberMatched"]
    r = client.post("/processes/wait/execution", json={"inputs": {"seconds": -3}})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == "inputs.seconds"
    r = client.post("/processes/echo/execution", json={"inputs": {}})
    assert r.status_code == 400 and r.json()["field"] == "inputs.message"
    assert client.get("/jobs").json()["numberMatched"] == before


def test_ogc_exception_types(client: TestClient) -> None:
    r = client.post("/processes/nope/execution", json={"inputs": {}})
    assert r.status_code == 404 and r.json()["type"].endswith("/no-such-process")
    r = client.get("/jobs/does-not-exist")
    assert r.status_code == 404 and r.json()["type"].endswith("/no-such-job")
    r = client.post(
        "/processes/wait/execution",
        json={"inputs": {"seconds": 3, "steps": 3}},
        headers={"Prefer": "respond-async"},
    )
    job_id = r.json()["jobID"]
    r = client.get(f"/jobs/{job_id}/results")
    assert r.status_code == 404 and r.json()["type"].endswith("/result-not-ready")
    client.delete(f"/jobs/{job_id}")


def test_listing_offsets_are_checked(client: TestClient) -> None:
    """An offset past the databases' 64-bit integers was a 500 from the driver."""
    for url in ("/jobs?offset=-1", "/jobs?offset=10000000000000000000000", "/jobs/x/logs?offset=x"):
        r = client.get(url)
        assert r.status_code == 400 and r.json()["field"] == "offset", (url, r.text)
    assert client.get("/jobs?offset=1000000").json()["jobs"] == []


def test_failed_job_reports_its_reason(client: TestClient) -> None:
    r = client.post(
        "/processes/wait/execution",
        json={"inputs": {"seconds": 0.1, "steps": 1, "fail": True}},
        headers={"Prefer": "respond-async"},
    )
    job_id = r.json()["jobID"]
    info = wait_for_job(client, job_id, states={"failed"}, timeout_s=30)
    assert "fail=true" in info["message"]
    r = client.get(f"/jobs/{job_id}/results")
    assert r.status_code == 500 and "fail=true" in r.json()["detail"]
    assert r.json()["title"] == "Job failed" and r.json()["type"].endswith("/job-failed")
    errors = client.get(f"/jobs/{job_id}/logs", params={"level": "ERROR"}).json()["logs"]
    assert errors and "RuntimeError" in errors[0]["message"]


def test_a_synchronous_job_that_fails_is_a_failed_job_not_a_server_error(
    client: TestClient,
) -> None:
    """A service's run-time failure is the job's: the answer is its status (201, Location),
    failed, with the reason, never a 500."""
    r = client.post(
        "/processes/wait/execution", json={"inputs": {"seconds": 0.1, "steps": 1, "fail": True}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "failed" and "fail=true" in r.json()["message"]
    assert r.headers["location"].endswith(f"/jobs/{r.json()['jobID']}")


def test_dismiss_stops_a_running_job_within_two_seconds(client: TestClient) -> None:
    r = client.post(
        "/processes/wait/execution",
        json={"inputs": {"seconds": 60, "steps": 600}},
        headers={"Prefer": "respond-async"},
    )
    job_id = r.json()["jobID"]
    wait_for_job(client, job_id, states={"running"}, timeout_s=30)
    time.sleep(0.3)
    t0 = time.monotonic()
    r = client.delete(f"/jobs/{job_id}")
    assert r.status_code == 200
    info = wait_for_job(client, job_id, states={"dismissed"}, timeout_s=2)
    assert time.monotonic() - t0 <= 2.0
    stopped_at = info["progress"]
    time.sleep(0.5)  # the worker really stopped: progress no longer moves
    assert client.get(f"/jobs/{job_id}").json()["progress"] == stopped_at < 100


def test_jobs_accepted_before_a_restart_are_run_after_it(tmp_path: Path) -> None:
    """A server that stopped after accepting jobs (before any worker took them) loses none."""
    from gep.catalog.backends import open_store
    from gep.jobs.store import JobStore

    settings = app_settings(tmp_path, base_url="http://gep.test")
    store = open_store(settings.resolved_database_url())
    store.upgrade()
    pending = [JobStore(store.engine).create("echo", {"message": f"m{n}"}) for n in range(3)]
    store.close()
    with client_for(settings) as c:  # start-up re-queues them
        for job in pending:
            info = wait_for_job(c, job.id, states={"successful", "failed"}, timeout_s=30)
            assert info["status"] == "successful"
            n = job.inputs["message"]
            assert c.get(f"/jobs/{job.id}/results").json() == {"message": n}


def test_a_running_job_whose_worker_vanished_is_run_again_after_a_restart(
    tmp_path: Path,
) -> None:
    """The server (and its LocalCluster) died while a job ran: the new server's watchdog sees
    the job's lease expire and runs it again, once."""
    from gep.catalog.backends import open_store
    from gep.core.enums import JobStatus
    from gep.jobs.store import JobStore

    settings = app_settings(tmp_path, jobs_lease_s=1.0)
    store = open_store(settings.resolved_database_url())
    store.upgrade()
    jobs = JobStore(store.engine)
    orphan = jobs.create("echo", {"message": "again"}, max_attempts=2)
    assert jobs.transition(
        orphan.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING, worker="tcp://10.255.0.1:1"
    )
    with client_for(settings) as c:
        info = wait_for_job(c, orphan.id, states={"successful", "failed"}, timeout_s=30)
        assert info["status"] == "successful"
        assert c.get(f"/jobs/{orphan.id}/results").json() == {"message": "again"}
    assert jobs.get(orphan.id).attempts == 2
    store.close()


def test_a_job_past_its_timeout_fails_and_stops(tmp_path: Path) -> None:
    with api_client(tmp_path, jobs_timeout_s=1.0) as c:
        r = c.post(
            "/processes/wait/execution",
            json={"inputs": {"seconds": 20, "steps": 200}},
            headers={"Prefer": "respond-async"},
        )
        job_id = r.json()["jobID"]
        info = wait_for_job(c, job_id, states={"failed", "successful"}, timeout_s=10)
        assert info["status"] == "failed" and "timed out after 1.0 s" in info["message"]
        stopped = info["progress"]
        time.sleep(0.6)
        assert c.get(f"/jobs/{job_id}").json()["progress"] == stopped < 100
