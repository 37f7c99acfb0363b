"""Retention on both catalogue backends and both kinds of storage (a local folder, a real S3
server): results older than their service's result collection's policy (``echo`` here; the
former shared ``results`` collection's as the default) expire with their files and items,
logged; younger and pinned ones stay; collections without a policy keep everything; a sweep
interrupted midway is finished by the next; bad policies are refused naming the member;
pins are their owner's (or an administrator's).

Jobs here are made the way the worker makes them (``JobStore`` transitions, files stored under
``jobs/<id>/``, ``publish``), without a cluster, so that the tests stay quick."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from gep.api.services import Services
from gep.catalog.store import CatalogStore
from gep.cli.main import app as cli
from gep.core.enums import JobStatus
from gep.gateway.storage import Storage, StorageConfig
from gep.jobs.publish import publish, publish_items
from gep.jobs.retention import Retention, pin_job
from gep.jobs.store import JobStore, now_us
from tests.support.app import ADMIN_HEADERS, BASE_URL, api_client
from tests.support.rasters import write_test_raster
from tests.support.stores import scratch_postgis_database

DAY_US = 86_400 * 1_000_000
ECHO = SimpleNamespace(id="echo", title="Echo", version="1.0")
POLICY = {"gep:retention": {"days": 30}}
#: the result collection of ECHO's jobs (gep.jobs.publish: one per service)
RESULTS = "echo"


@dataclass
class World:
    c: TestClient
    svc: Services
    users: dict[str, dict[str, str]]
    ids: dict[str, str]

    @property
    def storage(self) -> Storage:
        return self.svc.gateway.storage

    def files(self, job_id: str) -> list[str]:
        return sorted(self.storage.walk(f"jobs/{job_id}"))

    def item(self, job_id: str, who: str = "admin") -> int:
        return self.c.get(f"/stac/collections/{RESULTS}/items/{job_id}",
                          headers=self.users[who]).status_code  # fmt: skip

    def sweep(self, **params: str) -> dict[str, Any]:
        r = self.c.post("/retention/run", params=params, headers=ADMIN_HEADERS)
        assert r.status_code == 200, r.text
        return dict(r.json())


@contextmanager
def world(
    tmp_path: Path, backend: str, storage_config: StorageConfig, retention_poll_s: float = 0
) -> Iterator[World]:
    storage = Storage(storage_config)
    storage.ensure()
    with ExitStack() as stack:
        settings: dict[str, Any] = {
            "storage_url": storage_config.url,
            "s3_endpoint_url": storage_config.s3_endpoint_url,
            "retention_poll_s": retention_poll_s,
        }
        if backend == "postgis":
            settings["database_url"] = stack.enter_context(scratch_postgis_database("gep_ret"))
        c = stack.enter_context(
            api_client(tmp_path / "home", admin=False, base_url=BASE_URL, **settings)
        )
        users = {"admin": ADMIN_HEADERS, "anonymous": {}}
        ids: dict[str, str] = {}
        for name in ("alice", "bob"):
            r = c.post("/accounts/users", json={"name": name, "token": True}, headers=ADMIN_HEADERS)
            assert r.status_code == 201, r.text
            users[name] = {"Authorization": f"Bearer {r.json()['token']}"}
            ids[name] = r.json()["id"]
        yield World(c, c.app.state.services, users, ids)  # type: ignore[attr-defined]


def finished_job(w: World, owner: str, *, days_ago: float = 0, extra_item: bool = False) -> str:
    """A successful job of ``owner``'s with two result files and its published item, as the
    worker leaves one; ``days_ago``: when it finished."""
    jobs, catalog, storage = w.svc.job_store, w.svc.store, w.storage
    job = jobs.create("echo", {}, owner=w.ids[owner])
    assert jobs.transition(job.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING)
    assets = {}
    for name in ("a.txt", "sub/b.txt"):
        href = storage.put_bytes(f"{job.id} {name}".encode(), f"jobs/{job.id}/outputs/{name}")
        assets[name.replace("/", "-")] = {"href": href, "type": "text/plain"}
    finished = now_us() - int(days_ago * DAY_US)
    publish(catalog, job, ECHO, assets=assets, footprint=None, inputs=[], finished_us=finished)
    if extra_item:  # an item of the service's own, whose datetime is its data's, not the job's
        item = {"type": "Feature", "id": f"{job.id}-scene", "geometry": None,
                "assets": {},
                "properties": {"datetime": "2001-01-01T00:00:00Z"}}  # fmt: skip
        publish_items(catalog, job, ECHO, [item], [], finished)
    assert jobs.transition(job.id, (JobStatus.RUNNING,), JobStatus.SUCCESSFUL, outputs={})
    with jobs.engine.begin() as conn:  # it finished then (the item's datetime says so too)
        conn.execute(text("UPDATE jobs SET finished = :f WHERE id = :id"),
                     {"f": finished, "id": job.id})  # fmt: skip
    return job.id


def test_results_expire_by_the_results_policy(
    tmp_path: Path, backend: str, storage_config: StorageConfig, caplog: pytest.LogCaptureFixture
) -> None:
    with world(tmp_path, backend, storage_config) as w:
        old = finished_job(w, "alice", days_ago=40, extra_item=True)
        young = finished_job(w, "alice", days_ago=10, extra_item=True)
        pinned = finished_job(w, "alice", days_ago=40)
        r = w.c.post(f"/jobs/{pinned}/pin", headers=w.users["alice"])
        assert r.status_code == 200 and r.json()["gep:pinned"] is True, r.text
        everyone = (old, young, pinned)
        # no policy: everything is kept, however old
        report = w.sweep()
        assert report["expired"] == [] and report["policies"] == {}
        assert all(len(w.files(j)) == 2 and w.item(j) == 200 for j in everyone)
        # an administrator gives the service's result collection a policy; users may not
        assert w.c.patch(f"/stac/collections/{RESULTS}", json=POLICY,
                         headers=w.users["alice"]).status_code == 403  # fmt: skip
        r = w.c.patch(f"/stac/collections/{RESULTS}", json=POLICY, headers=ADMIN_HEADERS)
        assert r.status_code == 200, r.text
        assert w.c.get(f"/stac/collections/{RESULTS}").json()["gep:retention"] == {"days": 30}
        # a dry run says what would go and removes nothing
        dry = w.sweep(dry_run="true")
        assert [e["jobID"] for e in dry["expired"]] == [old]
        assert dry["expired"][0]["files"] == 2
        assert sorted(dry["expired"][0]["items"]) == [old, f"{old}-scene"]
        assert len(w.files(old)) == 2 and w.item(old) == 200
        # the sweep: the old job's items and files go together, the job says why
        with caplog.at_level(logging.INFO, logger="gep.retention"):
            report = w.sweep()
        assert [e["jobID"] for e in report["expired"]] == [old]
        assert report["kept_pinned"] == 1 and report["policies"] == {RESULTS: {"days": 30}}
        assert w.files(old) == []
        assert w.item(old) == 404
        assert w.c.get(f"/stac/collections/{RESULTS}/items/{old}-scene",
                       headers=ADMIN_HEADERS).status_code == 404  # fmt: skip
        status = w.c.get(f"/jobs/{old}", headers=w.users["alice"]).json()
        assert status["status"] == "dismissed"
        assert "results expired" in status["message"] and "30 days" in status["message"]
        assert "gep:expired" in status
        logs = w.c.get(f"/jobs/{old}/logs", headers=w.users["alice"]).json()["logs"]
        assert any("results expired" in line["message"] and "2 items and 2 files removed"
                   in line["message"] for line in logs)  # fmt: skip
        assert any(old in rec.getMessage() and "expired" in rec.getMessage()
                   for rec in caplog.records)  # fmt: skip
        # the younger one (though its scene item's datetime is 2001) and the pinned one stay
        for kept in (young, pinned):
            assert len(w.files(kept)) == 2 and w.item(kept) == 200
            assert w.c.get(f"/jobs/{kept}", headers=ADMIN_HEADERS).json()["status"] == "successful"
        # a second sweep finds nothing more to do
        assert w.sweep()["expired"] == []
        # unpinned, the old one goes at the next sweep; the young one once it is old enough
        r = w.c.delete(f"/jobs/{pinned}/pin", headers=w.users["alice"])
        assert r.status_code == 200 and r.json()["gep:pinned"] is False
        assert [e["jobID"] for e in w.sweep()["expired"]] == [pinned]
        assert w.files(pinned) == [] and w.item(pinned) == 404
        later = datetime.now(UTC) + timedelta(days=21)
        retention = Retention(w.svc.store, w.svc.job_store, w.storage)
        assert [e.job for e in retention.sweep(now=later).expired] == [young]
        assert w.files(young) == [] and w.item(young) == 404
        # an expired job cannot be pinned any more
        r = w.c.post(f"/jobs/{old}/pin", headers=w.users["alice"])
        assert r.status_code == 409 and r.json()["field"] == "jobId"


def test_an_interrupted_sweep_is_finished_by_the_next(
    tmp_path: Path, backend: str, storage_config: StorageConfig
) -> None:
    with world(tmp_path, backend, storage_config) as w:
        job = finished_job(w, "alice", days_ago=31)
        other = finished_job(w, "bob", days_ago=31)
        assert w.c.patch(f"/stac/collections/{RESULTS}", json=POLICY,
                         headers=ADMIN_HEADERS).status_code == 200  # fmt: skip
        retention = Retention(w.svc.store, w.svc.job_store, w.storage)
        # a sweep claims the job and deletes its items, then dies before its files go
        cutoff = now_us() - 30 * DAY_US
        assert retention._claim(job, cutoff, now_us())
        w.svc.store.delete_item(RESULTS, job)
        assert len(w.files(job)) == 2  # unnamed files: no item names a file that is gone
        # once claimed, the owner cannot pin it back
        assert w.c.post(f"/jobs/{job}/pin", headers=w.users["alice"]).status_code == 409
        # the next sweep (another server process) finishes it, and does the rest
        report = Retention(w.svc.store, w.svc.job_store, w.storage).sweep()
        assert sorted(e.job or "" for e in report.expired) == sorted([job, other])
        assert w.files(job) == [] and w.files(other) == []
        assert w.c.get(f"/jobs/{job}", headers=ADMIN_HEADERS).json()["status"] == "dismissed"
        assert Retention(w.svc.store, w.svc.job_store, w.storage).sweep().expired == []


def test_a_users_own_collection_keeps_its_items_by_its_policy(
    tmp_path: Path, backend: str, storage_config: StorageConfig
) -> None:
    with world(tmp_path, backend, storage_config) as w:
        alice = w.users["alice"]
        tif = write_test_raster(tmp_path / "scene.tif")
        with open(tif, "rb") as f:
            r = w.c.post("/uploads", files={"file": ("scene.tif", f, "image/tiff")}, headers=alice)
        assert r.status_code == 201, r.text
        coll, upload = r.json()["collection"], r.json()["id"]
        folder = f"uploads/{w.ids['alice']}/{upload}"
        assert list(w.storage.walk(folder))
        for item_id, extra in (("old", {}), ("kept", {"gep:pinned": True})):
            item = {"type": "Feature", "id": item_id, "geometry": None, "assets": {},
                    "properties": {"datetime": "2020-01-01T00:00:00Z",
                                   "created": "2020-01-02T00:00:00Z", **extra}}  # fmt: skip
            r = w.c.post(f"/stac/collections/{coll}/items", json=item, headers=alice)
            assert r.status_code == 201, r.text
        # another user may not set the policy of alice's collection; she may
        assert w.c.patch(f"/stac/collections/{coll}", json=POLICY,
                         headers=w.users["bob"]).status_code == 403  # fmt: skip
        r = w.c.patch(f"/stac/collections/{coll}", json=POLICY, headers=alice)
        assert r.status_code == 200, r.text
        report = w.sweep()
        assert [(e["collection"], e["items"]) for e in report["expired"]] == [(coll, ["old"])]
        assert report["kept_pinned"] == 1
        items = w.c.get(f"/stac/collections/{coll}/items", headers=alice).json()["features"]
        assert sorted(i["id"] for i in items) == sorted(["kept", upload])
        # the upload (created now) goes when it is 30 days old, and its file with it
        later = datetime.now(UTC) + timedelta(days=31)
        report_later = Retention(w.svc.store, w.svc.job_store, w.storage).sweep(now=later)
        assert [(e.items, e.files) for e in report_later.expired] == [((upload,), 1)]
        assert list(w.storage.walk(folder)) == []
        assert w.c.get(f"/stac/collections/{coll}/items/{upload}", headers=alice).status_code == 404
        # removing the policy keeps the rest forever
        assert w.c.patch(f"/stac/collections/{coll}", json={"gep:retention": None},
                         headers=alice).status_code == 200  # fmt: skip
        far = datetime.now(UTC) + timedelta(days=3650)
        assert Retention(w.svc.store, w.svc.job_store, w.storage).sweep(now=far).expired == []


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"days": 0}, "gep:retention.days"),
        ({"days": -3}, "gep:retention.days"),
        ({"days": 1.5}, "gep:retention.days"),
        ({"days": "30"}, "gep:retention.days"),
        ({"days": True}, "gep:retention.days"),
        ({"days": 36_501}, "gep:retention.days"),
        ({}, "gep:retention.days"),
        ({"days": 3, "weeks": 2}, "gep:retention.weeks"),
        (30, "gep:retention"),
        ([{"days": 3}], "gep:retention"),
    ],
)
def test_bad_policies_are_refused_naming_the_member(
    tmp_path: Path, policy: Any, field: str
) -> None:
    with api_client(tmp_path / "home", retention_poll_s=0) as c:
        body = {"id": "mine", "description": "d", "gep:retention": policy}
        r = c.post("/stac/collections", json=body)
        assert r.status_code == 400 and r.json()["field"] == field, r.text
        assert c.get("/stac/collections/mine").status_code == 404
        assert c.post("/stac/collections", json={"id": "mine", "description": "d"}).is_success
        r = c.patch("/stac/collections/mine", json={"gep:retention": policy})
        assert r.status_code == 400 and r.json()["field"] == field, r.text
        assert "gep:retention" not in c.get("/stac/collections/mine").json()
        bad = c.post("/retention/run", params={"dry_run": "maybe"})
        assert bad.status_code == 400 and bad.json()["field"] == "dry_run"


def test_pins_are_the_owners_and_administrators(tmp_path: Path) -> None:
    with world(tmp_path, "sqlite", StorageConfig((tmp_path / "storage").as_uri())) as w:
        job = finished_job(w, "alice")
        url = f"/jobs/{job}/pin"
        assert w.c.post(url).status_code == 401  # anonymous
        assert w.c.post(url, headers=w.users["bob"]).status_code == 404  # cannot see it
        assert w.c.post("/jobs/no-such-job/pin", headers=w.users["alice"]).status_code == 404
        r = w.c.post(url, headers=w.users["alice"])
        assert r.status_code == 200 and r.json()["gep:pinned"] is True
        assert w.c.get(f"/jobs/{job}", headers=w.users["alice"]).json()["gep:pinned"] is True
        # shared, bob sees it but may not change its pin
        assert w.c.patch(f"/jobs/{job}", json={"visibility": "public"},
                         headers=w.users["alice"]).status_code == 200  # fmt: skip
        assert w.c.delete(url, headers=w.users["bob"]).status_code == 403
        assert w.c.delete(url).status_code == 401
        assert w.c.get(f"/jobs/{job}").json()["gep:pinned"] is True
        r = w.c.delete(url, headers=ADMIN_HEADERS)  # an administrator may
        assert r.status_code == 200 and r.json()["gep:pinned"] is False
        # only administrators run the sweep
        assert w.c.post("/retention/run", headers=w.users["alice"]).status_code == 403
        assert w.c.post("/retention/run").status_code == 401
        # a dismissed job has no results left to pin
        assert w.c.delete(f"/jobs/{job}", headers=w.users["alice"]).status_code == 200
        r = w.c.post(url, headers=w.users["alice"])
        assert r.status_code == 409 and r.json()["field"] == "jobId"


def test_the_store_reads_pins_on_both_backends(store: CatalogStore) -> None:
    jobs = JobStore(store.engine)
    job = jobs.create("echo", {})
    assert jobs.get(job.id).pinned is False and jobs.get(job.id).expired is None
    assert pin_job(jobs, job.id, True) and jobs.get(job.id).pinned is True
    assert pin_job(jobs, job.id, False) and jobs.get(job.id).pinned is False


def test_gep_serve_sweeps_by_itself(tmp_path: Path) -> None:
    local = StorageConfig((tmp_path / "storage").as_uri())
    with world(tmp_path, "sqlite", local, retention_poll_s=0.2) as w:
        old, young = finished_job(w, "alice", days_ago=31), finished_job(w, "alice", days_ago=1)
        assert w.c.patch(f"/stac/collections/{RESULTS}", json=POLICY,
                         headers=ADMIN_HEADERS).status_code == 200  # fmt: skip
        deadline = time.monotonic() + 20
        while w.files(old) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert w.files(old) == [] and w.item(old) == 404
        assert w.c.get(f"/jobs/{old}", headers=ADMIN_HEADERS).json()["status"] == "dismissed"
        assert len(w.files(young)) == 2 and w.item(young) == 200


def test_the_operators_command(tmp_path: Path) -> None:
    """``gep retention`` through the API, as the administrator (the CLI's own home is empty:
    it opens no database)."""
    from gep.cli import common
    from gep.client import GepClient

    local = StorageConfig((tmp_path / "storage").as_uri())
    env = {"GEP_HOME": str(tmp_path / "cli-home"), "COLUMNS": "250"}
    runner = CliRunner()
    with world(tmp_path, "sqlite", local) as w, _admin_cli(w) as admin:
        common.CLIENT_FACTORY[:] = [lambda: GepClient(http=admin)]  # type: ignore[arg-type]
        old, young = finished_job(w, "alice", days_ago=31), finished_job(w, "alice", days_ago=1)
        r = runner.invoke(cli, ["retention", "policies"], env=env)
        assert r.exit_code == 0 and "no collection has a retention policy" in r.output
        assert w.c.patch(f"/stac/collections/{RESULTS}", json=POLICY,
                         headers=ADMIN_HEADERS).status_code == 200  # fmt: skip
        r = runner.invoke(cli, ["retention", "policies"], env=env)
        assert r.exit_code == 0 and re.search(r"echo\s+30\b", r.output), r.output
        r = runner.invoke(cli, ["retention", "run", "--dry-run"], env=env)
        assert r.exit_code == 0 and old in r.output and young not in r.output, r.output
        assert "1 would expire" in r.output and len(w.files(old)) == 2
        r = runner.invoke(cli, ["retention", "run"], env=env)
        assert r.exit_code == 0 and "1 expired" in r.output, r.output
        assert w.files(old) == [] and w.item(old) == 404 and len(w.files(young)) == 2


@contextmanager
def _admin_cli(w: World) -> Iterator[TestClient]:
    """The world's app as the administrator's CLI reaches it; the CLI's client is reset."""
    from gep.cli import common

    try:
        yield TestClient(w.c.app, headers=ADMIN_HEADERS, base_url=BASE_URL)
    finally:
        common.CLIENT_FACTORY.clear()


def legacy_job(w: World, owner: str, *, days_ago: float) -> str:
    """A job published the way GEP did before per-service collections: its item in the
    shared ``results`` collection."""
    from gep.catalog.access import Access
    from gep.jobs.publish import RESULTS_COLLECTION, results_collection

    jobs, catalog, storage = w.svc.job_store, w.svc.store, w.storage
    job = jobs.create("echo", {}, owner=w.ids[owner])
    assert jobs.transition(job.id, (JobStatus.ACCEPTED,), JobStatus.RUNNING)
    href = storage.put_bytes(b"old", f"jobs/{job.id}/outputs/a.txt")
    finished = now_us() - int(days_ago * DAY_US)
    if not catalog.collection_exists(RESULTS_COLLECTION):
        catalog.create_collection(results_collection(), upsert=True)
    catalog.set_item_access(RESULTS_COLLECTION, [job.id], Access(job.owner, job.visibility))
    catalog.write_items(
        [{"type": "Feature", "id": job.id, "collection": RESULTS_COLLECTION, "geometry": None,
          "properties": {"datetime": "2020-01-01T00:00:00Z", "gep:job": job.id},
          "assets": {"a": {"href": href, "type": "text/plain"}}, "links": []}],
        mode="upsert",
    )  # fmt: skip
    assert jobs.transition(job.id, (JobStatus.RUNNING,), JobStatus.SUCCESSFUL, outputs={"a": href})
    with jobs.engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET finished = :f WHERE id = :id"),
                     {"f": finished, "id": job.id})  # fmt: skip
    return job.id


def test_results_in_the_former_shared_collection_keep_working(tmp_path: Path) -> None:
    """Items published into ``results`` before per-service collections are found by the job's
    results, sharing, dismissal and retention; ``results``'s policy is the default for services
    whose own collection has none."""
    local = StorageConfig((tmp_path / "storage").as_uri())
    with world(tmp_path, "sqlite", local) as w:
        alice, bob = w.users["alice"], w.users["bob"]
        old = legacy_job(w, "alice", days_ago=40)
        kept = legacy_job(w, "alice", days_ago=40)
        new = finished_job(w, "alice", days_ago=40)  # in ``echo``, which has no policy
        url = f"/stac/collections/results/items/{old}"
        # the results document links the file through the item in ``results``
        out = w.c.get(f"/jobs/{old}/results", headers=alice).json()
        assert out["a"]["href"] == f"{BASE_URL}/stac/collections/results/items/{old}/assets/a"
        assert w.c.get(out["a"]["href"], headers=alice).content == b"old"
        status = w.c.get(f"/jobs/{old}", headers=alice).json()
        assert any(ln["href"].endswith(url) and ln["type"] == "application/geo+json"
                   for ln in status["links"])  # fmt: skip
        # sharing reaches it
        assert w.c.get(url, headers=bob).status_code == 404
        r = w.c.patch(f"/jobs/{old}", json={"visibility": "public"}, headers=alice)
        assert r.status_code == 200 and r.json()["results_shared"] == 1, r.text
        assert w.c.get(url, headers=bob).status_code == 200
        # ``results``'s policy applies to echo jobs (``echo`` has none): old items in
        # ``results`` and new ones in ``echo`` alike
        assert w.c.patch("/stac/collections/results", json=POLICY,
                         headers=ADMIN_HEADERS).status_code == 200  # fmt: skip
        assert w.c.post(f"/jobs/{kept}/pin", headers=alice).status_code == 200
        report = w.sweep()
        assert sorted(e["jobID"] for e in report["expired"]) == sorted([old, new])
        assert all(e["collection"] == "results" for e in report["expired"])
        assert w.c.get(url, headers=ADMIN_HEADERS).status_code == 404
        assert w.item(new) == 404 and w.files(old) == [] and w.files(new) == []
        # a service's own policy wins over the default, for its jobs wherever their items
        # are: ``echo`` keeps for 100 days, the unpinned 40-day-old jobs stay
        assert w.c.delete(f"/jobs/{kept}/pin", headers=alice).status_code == 200
        newer = finished_job(w, "alice", days_ago=40)
        assert w.c.patch(f"/stac/collections/{RESULTS}", json={"gep:retention": {"days": 100}},
                         headers=ADMIN_HEADERS).status_code == 200  # fmt: skip
        assert w.sweep()["expired"] == []
        assert w.item(newer) == 200
        assert w.c.get(f"/stac/collections/results/items/{kept}", headers=alice).status_code == 200
        later = datetime.now(UTC) + timedelta(days=61)
        expired = Retention(w.svc.store, w.svc.job_store, w.storage).sweep(now=later).expired
        assert sorted(e.job or "" for e in expired) == sorted([kept, newer])
        assert {e.collection for e in expired} == {RESULTS}
        # dismissing a finished job removes its item in ``results``
        last = legacy_job(w, "alice", days_ago=1)
        assert w.c.delete(f"/jobs/{last}", headers=alice).status_code == 200
        assert w.c.get(f"/stac/collections/results/items/{last}",
                       headers=ADMIN_HEADERS).status_code == 404  # fmt: skip
