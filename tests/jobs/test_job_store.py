"""The job store on both backends (SQLite and PostGIS): atomic transitions, leases, logs."""

from __future__ import annotations

import time

import pytest

from gep.catalog.store import CatalogStore
from gep.core.enums import JobStatus
from gep.jobs.store import JobStore, NoSuchJob, now_us


@pytest.fixture
def jobs(store: CatalogStore) -> JobStore:
    return JobStore(store.engine)


def test_only_one_claim_wins_and_final_states_stick(jobs: JobStore) -> None:
    job = jobs.create("echo", {"message": "x"})
    assert jobs.get(job.id).status == JobStatus.ACCEPTED
    assert jobs.transition(job.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING, worker="w1")
    # already claimed
    assert not jobs.transition(job.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING, worker="w2")
    running = jobs.get(job.id)
    assert running.attempts == 1 and running.worker_address == "w1" and running.started
    assert jobs.set_progress(job.id, 40, "half")
    assert jobs.transition(
        job.id, (JobStatus.RUNNING,), JobStatus.SUCCESSFUL, outputs={"message": "x"}
    )
    done = jobs.get(job.id)
    assert done.outputs == {"message": "x"} and done.finished is not None
    assert not jobs.set_progress(job.id, 50, "late")  # a finished job takes no progress
    assert not jobs.transition(job.id, (JobStatus.RUNNING,), JobStatus.FAILED)
    assert jobs.dismiss_finished(job.id) and jobs.get(job.id).status == JobStatus.DISMISSED
    with pytest.raises(NoSuchJob):
        jobs.get("nope")


def test_dismissal_of_accepted_and_running_jobs(jobs: JobStore) -> None:
    queued = jobs.create("wait", {})
    assert jobs.request_dismiss(queued.id).status == JobStatus.DISMISSED
    busy = jobs.create("wait", {})
    jobs.transition(busy.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING, worker="w")
    flagged = jobs.request_dismiss(busy.id)
    assert flagged.status == JobStatus.RUNNING and flagged.dismiss_requested
    assert not jobs.set_progress(busy.id, 10, "")  # the worker learns it must stop


def test_leases_retry_then_give_up(jobs: JobStore) -> None:
    job = jobs.create("wait", {}, max_attempts=2)
    jobs.transition(job.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING, worker="w1")
    assert jobs.heartbeat(job.id, "w1") and not jobs.heartbeat(job.id, "w2")
    assert jobs.stale_running(lease_s=5) == []
    time.sleep(0.3)
    stale = jobs.stale_running(lease_s=0.2)
    assert [j.id for j in stale] == [job.id]
    assert jobs.release_stale(stale[0], lease_s=0.2) == JobStatus.ACCEPTED  # attempt 2 may run
    jobs.transition(job.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING, worker="w2")
    time.sleep(0.3)
    second = jobs.stale_running(lease_s=0.2)[0]
    assert second.attempts == 2
    assert jobs.release_stale(second, lease_s=0.2) == JobStatus.FAILED
    failed = jobs.get(job.id)
    assert failed.status == JobStatus.FAILED and "giving up" in (failed.error or "")


def test_timeouts_listing_and_logs(jobs: JobStore) -> None:
    slow = jobs.create("wait", {}, timeout_s=0.1)
    jobs.transition(slow.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING, worker="w")
    time.sleep(0.2)
    assert [j.id for j in jobs.overdue()] == [slow.id]
    other = jobs.create("echo", {"message": "y"})
    found, total = jobs.list_jobs(process_id=["echo"])
    assert total == 1 and found[0].id == other.id
    found, total = jobs.list_jobs(status=[JobStatus.RUNNING, JobStatus.ACCEPTED])
    assert total == 2
    assert jobs.list_jobs(created=(now_us() + 10**9, None))[1] == 0
    for level, msg in (("INFO", "one"), ("ERROR", "two"), ("DEBUG", "three")):
        jobs.log(slow.id, level, msg)
    assert [x["message"] for x in jobs.logs(slow.id)] == ["one", "two", "three"]
    assert [x["message"] for x in jobs.logs(slow.id, level="warning")] == ["two"]
    assert [x["message"] for x in jobs.logs(slow.id, limit=1, offset=1)] == ["two"]
