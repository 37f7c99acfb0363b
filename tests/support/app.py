"""The API in process: the administrator tests act as, one client factory, and job polling.

One factory instead of a ``TestClient(create_app(Settings(...)))`` per test module: each test
still states the settings it depends on (home, base URL, data roots, database…), and only the
boilerplate (the operator's bootstrap token, the lifespan, the admin headers) lives here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gep.api.app import create_app
from gep.settings import Settings

#: an administrator's API token, made valid by ``Settings(admin_token=ADMIN_TOKEN)`` (the
#: operator's bootstrap token); tests that are not about accounts act as this administrator
ADMIN_TOKEN = "gep_testadmin_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
#: the public URL most tests give the API, so that links and Location headers are predictable
BASE_URL = "http://gep.test"

#: the states a job does not leave
FINAL = ("successful", "failed", "dismissed")


def app_settings(home: Path, **settings: Any) -> Settings:
    """``Settings`` in ``home`` that accept the test administrator's token (pass
    ``admin_token`` to have another)."""
    return Settings(**{"admin_token": ADMIN_TOKEN, "home": home, **settings})


@contextmanager
def client_for(
    settings: Settings,
    *,
    admin: bool = True,
    headers: dict[str, str] | None = None,
    client_base_url: str | None = None,
    raise_server_exceptions: bool = True,
) -> Iterator[TestClient]:
    """A ``TestClient`` over ``create_app(settings)``, its lifespan run (the job engine, the
    harvest scheduler), for tests that need the ``Settings`` object itself (its database URL).

    ``admin``: every request carries the administrator's token unless the test sends its own
    ``Authorization`` (tests about permissions pass ``admin=False`` and choose per request);
    ``headers``: other headers every request carries, instead of the administrator's.
    ``client_base_url``: the URL the client itself talks to (cookies are scoped to it).
    """
    kwargs: dict[str, Any] = {"raise_server_exceptions": raise_server_exceptions}
    if headers is not None:
        kwargs["headers"] = headers
    elif admin:
        kwargs["headers"] = ADMIN_HEADERS
    if client_base_url is not None:
        kwargs["base_url"] = client_base_url
    with TestClient(create_app(settings), **kwargs) as client:
        yield client


@contextmanager
def api_client(
    home: Path,
    *,
    admin: bool = True,
    headers: dict[str, str] | None = None,
    client_base_url: str | None = None,
    raise_server_exceptions: bool = True,
    **settings: Any,
) -> Iterator[TestClient]:
    """The API in process on ``app_settings(home, **settings)``: the one way the tests build a
    client (see ``client_for`` for the options)."""
    with client_for(
        app_settings(home, **settings),
        admin=admin,
        headers=headers,
        client_base_url=client_base_url,
        raise_server_exceptions=raise_server_exceptions,
    ) as client:
        yield client


def wait_for_stored_job(jobs: Any, job_id: str, timeout_s: float) -> Any:
    """The job as the ``JobStore`` ``jobs`` holds it once it has ended, for tests that watch
    the store itself (workers killed under it); fails the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        if job.status in FINAL:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s: {jobs.get(job_id)}")


def wait_for_job(
    client: Any,
    job_id: str,
    headers: dict[str, str] | None = None,
    timeout_s: float = 90.0,
    states: tuple[str, ...] | set[str] = FINAL,
) -> dict[str, Any]:
    """The job's status document once it is in one of ``states`` (by default: once it has
    ended, successful, failed or dismissed); fails the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = dict(client.get(f"/jobs/{job_id}", headers=headers or {}).json())
        if job["status"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {sorted(states)} within {timeout_s} s: {job}")


def run_job(client: Any, process: str, inputs: dict[str, Any], timeout_s: float = 180.0) -> str:
    """Execute ``process`` asynchronously through the API, wait for the job to end and check
    that it succeeded; returns the job's id (its results at ``/jobs/{id}/results``)."""
    r = client.post(
        f"/processes/{process}/execution",
        json={"inputs": inputs},
        headers={"Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job = str(r.json()["jobID"])
    status = wait_for_job(client, job, timeout_s=timeout_s)
    assert status["status"] == "successful", (status, client.get(f"/jobs/{job}/logs").json())
    return job


def user_headers(client: Any, name: str, admin: dict[str, str] | None = None) -> dict[str, str]:
    """A new user ``name`` (role user, with an API token) created by the administrator; its
    ``Authorization`` header. ``admin``: the administrator's headers when ``client`` does not
    send them itself."""
    r = client.post(
        "/accounts/users",
        headers=admin if admin is not None else ADMIN_HEADERS,
        json={"name": name, "role": "user", "token": True},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def post_catalogue(
    client: Any, collections: list[dict[str, Any]], items: list[dict[str, Any]]
) -> None:
    """Create ``collections`` (or keep them) and add ``items`` through the API, as a client
    (``client`` is the administrator's: a TestClient or an httpx.Client of a live server)."""
    for coll in collections:
        r = client.post("/stac/collections", json=coll)
        assert r.status_code in (200, 201), r.text
    for item in items:
        r = client.post(f"/stac/collections/{item['collection']}/items", json=item)
        assert r.status_code == 201, r.text


def result_href(output: Any) -> str:
    """The GEP URL of a file output: the results document gives each file as a link
    ``{"href", "type"}`` (OGC API - Processes 1.0)."""
    assert isinstance(output, dict) and "href" in output, f"a file output is a link: {output!r}"
    return str(output["href"])


@contextmanager
def open_result(client: Any, href: str | dict[str, Any]) -> Iterator[Any]:
    """A result raster read the way any client reads it: over HTTP, from the GEP URL the
    API gave (through the asset route, with the client's credentials)."""
    from rasterio.io import MemoryFile

    if isinstance(href, dict):
        href = result_href(href)
    assert href.startswith("http"), f"a result href must be a GEP URL, not {href!r}"
    r = client.get(href)
    assert r.status_code == 200, r.text
    with MemoryFile(r.content) as mem, mem.open() as src:
        yield src


def fetch_result(client: Any, href: str | dict[str, Any]) -> bytes:
    """A result file's bytes, read over HTTP from its GEP URL (or its link)."""
    if isinstance(href, dict):
        href = result_href(href)
    assert href.startswith("http"), f"a result href must be a GEP URL, not {href!r}"
    r = client.get(href)
    assert r.status_code == 200, r.text
    return bytes(r.content)
