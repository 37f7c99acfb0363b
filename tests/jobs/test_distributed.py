"""The distributed path: a scheduler and `gep worker` processes; a worker killed mid-job."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gep.catalog.backends import open_store
from gep.jobs.store import JobStore
from tests.support.app import app_settings, client_for, wait_for_stored_job

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


@pytest.fixture
def cluster() -> Iterator[tuple[str, dict[int, subprocess.Popen[bytes]]]]:
    sport = free_port()
    scheduler = start(
        [
            str(BIN / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(sport),
            "--no-dashboard",
        ]
    )
    workers: dict[int, subprocess.Popen[bytes]] = {}
    try:
        wait_port(sport)
        addr = f"tcp://127.0.0.1:{sport}"
        for n in range(2):
            wport = free_port()
            workers[wport] = start(
                [
                    str(BIN / "gep"),
                    "worker",
                    "--scheduler",
                    addr,
                    "--port",
                    str(wport),
                    "--nthreads",
                    "1",
                    "--name",
                    f"w{n}",
                ]
            )
            wait_port(wport)
        yield addr, workers
    finally:
        for p in [*workers.values(), scheduler]:
            stop(p)


def test_worker_killed_mid_job_is_retried_and_succeeds(
    cluster: tuple[str, dict[int, subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    addr, workers = cluster
    settings = app_settings(tmp_path, dask_scheduler=addr, jobs_lease_s=4.0, jobs_max_attempts=2)
    jobs = JobStore(open_store(settings.resolved_database_url()).engine)
    with client_for(settings) as c:
        r = c.post(
            "/processes/wait/execution",
            json={"inputs": {"seconds": 4, "steps": 40}},
            headers={"Prefer": "respond-async"},
        )
        assert r.status_code == 201, r.text
        job_id = r.json()["jobID"]
        deadline = time.monotonic() + 30
        while jobs.get(job_id).status != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        first = jobs.get(job_id)
        assert first.status == "running" and first.attempts == 1
        victim = int(str(first.worker_address).rsplit(":", 1)[1])
        os.killpg(workers[victim].pid, signal.SIGKILL)  # the worker dies mid-job
        job = wait_for_stored_job(jobs, job_id, 40)
        assert job.status == "successful", job
        assert job.attempts == 2
        assert job.worker_address != first.worker_address
        assert c.get(f"/jobs/{job_id}/results").json()["waited"] >= 3.9


def test_jobs_run_on_gep_workers(
    cluster: tuple[str, dict[int, subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    addr, workers = cluster
    settings = app_settings(tmp_path, dask_scheduler=addr)
    with client_for(settings) as c:
        r = c.post("/processes/echo/execution", json={"inputs": {"message": "Kos"}})
        assert r.status_code == 200 and r.json() == {"message": "Kos"}
        jobs = JobStore(open_store(settings.resolved_database_url()).engine)
        job_id = r.headers["location"].rsplit("/", 1)[1]
        port = int(str(jobs.get(job_id).worker_address).rsplit(":", 1)[1])
        assert port in workers  # it ran in one of the `gep worker` processes
