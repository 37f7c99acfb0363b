"""Jobs with the PostGIS backend: the server and the Dask workers share a PostgreSQL job store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.app import api_client, wait_for_job
from tests.support.stores import scratch_postgis_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    with scratch_postgis_database("gep_jobs") as url:
        yield url


def test_execute_sync_and_async_on_postgis(pg_url: str, tmp_path: Path) -> None:
    with api_client(tmp_path, database_url=pg_url) as c:
        r = c.post("/processes/echo/execution", json={"inputs": {"message": "Ecuador"}})
        assert r.status_code == 200 and r.json() == {"message": "Ecuador"}
        r = c.post(
            "/processes/wait/execution",
            json={"inputs": {"seconds": 0.3, "steps": 3}},
            headers={"Prefer": "respond-async"},
        )
        job_id = r.json()["jobID"]
        status = wait_for_job(c, job_id, timeout_s=30)
        assert status["status"] == "successful" and status["progress"] == 100
        assert c.get("/jobs", params={"status": "successful"}).json()["numberMatched"] == 2
