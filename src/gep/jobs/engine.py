"""Running jobs on Dask distributed: a LocalCluster by default, or a scheduler's cluster.

The job record lives in the database, not in this process: a worker moves its job to
``running``, reports progress and log lines there, and writes the outputs there, so the API shows
them from any process, and nothing is lost when the server restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shutil
import threading
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson

from gep.accounts.store import AccountStore
from gep.accounts.usage import JobUsage, UsageStore
from gep.catalog.access import Access
from gep.catalog.backends import open_store
from gep.catalog.store import CatalogStore
from gep.core.access import ANONYMOUS, SYSTEM, Viewer
from gep.core.errors import InvalidInput, NotFound
from gep.core.timeutil import format_rfc3339, from_micros
from gep.gateway.config import GatewayConfig
from gep.gateway.resolver import Gateway
from gep.jobs.deployed import DeployedStore
from gep.jobs.pricing import actual_cost
from gep.jobs.store import (
    ACCEPTED,
    DISMISSED,
    FAILED,
    FINAL,
    RUNNING,
    SUCCESSFUL,
    JobStore,
    now_us,
)
from gep.processes.registry import ProcessRegistry

log = logging.getLogger("gep.jobs")


class JobDismissed(Exception):
    """Raised inside a running service when its job was dismissed: stops it cooperatively."""


class JobContext:
    """The :class:`~gep.processes.base.ProcessContext` a worker gives a service."""

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        scratch: Path,
        output_dir: Path,
        catalog: CatalogStore | None,
        viewer: Viewer,
        gateway: Gateway,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.scratch = scratch
        self.output_dir = output_dir
        self.catalog = catalog
        #: whose permissions the job reads the catalogue with: the user who submitted it
        self.viewer = viewer
        #: the one way the job reads an asset href (confined to what its owner may read)
        self.gateway = gateway
        #: bytes of the input files the job staged (usage accounting)
        self.bytes_read = 0
        self.assets: dict[str, dict[str, Any]] = {}
        self.footprint: dict[str, Any] | None = None
        self.extra_items: list[dict[str, Any]] = []
        #: the catalogue items the job read, for processing:lineage
        self.lineage: list[str] = []
        self.logger = logging.getLogger(f"gep.job.{job_id}")
        self.logger.propagate = False
        self.logger.handlers = [_DbLogHandler(store, job_id)]
        self.logger.setLevel(logging.DEBUG)

    def progress(self, percent: int, message: str = "") -> None:
        if not self.store.set_progress(self.job_id, percent, message):
            raise JobDismissed(self.job_id)

    def stage(self, item: Any, asset: str | None = None) -> tuple[dict[str, Any], Path | None]:
        if self.catalog is None:
            raise InvalidInput("this job has no catalogue to read items from", field="inputs")
        collection, item_id = parse_item_ref(item)
        record = orjson.loads(self.catalog.get_item(collection, item_id, self.viewer))
        if f"{collection}/{item_id}" not in self.lineage:
            self.lineage.append(f"{collection}/{item_id}")
        if asset is None:
            return record, None
        assets = record.get("assets") or {}
        if asset not in assets:
            raise InvalidInput(
                f"item '{collection}/{item_id}' has no asset '{asset}'; it has: "
                + ", ".join(sorted(assets)),
                field="inputs.asset",
            )
        href = str(assets[asset].get("href", ""))
        local = self.gateway.stage(
            href, self.scratch, self.viewer, field=f"{collection}/{item_id}: asset {asset}"
        )
        self.bytes_read += _size(local)
        self.logger.info("staged %s/%s asset %s", collection, item_id, asset)
        return record, local

    def add_asset(
        self, key: str, path: Path, media_type: str, roles: list[str], title: str = ""
    ) -> str:
        href = path.resolve().as_uri()
        self.assets[key] = {
            "href": href,
            "type": media_type,
            "roles": roles,
            **({"title": title} if title else {}),
        }
        return href

    def set_footprint(self, geometry: dict[str, Any]) -> None:
        self.footprint = geometry

    def publish_item(self, item: dict[str, Any]) -> str:
        """Queue an item of the job's own (e.g. from a STAC catalogue output) for publication
        with the job: its id is prefixed with the job's, so jobs never overwrite each other."""
        source_id = str(item.get("id", "item"))
        published = {
            **item,
            "id": f"{self.job_id}-{source_id}",
            "collection": RESULTS_COLLECTION,
            "links": [],
        }
        props = dict(published.get("properties") or {})
        props["gep:source_id"] = source_id
        published["properties"] = props
        self.extra_items.append(published)
        return f"{RESULTS_COLLECTION}/{published['id']}"

    def search(self, params: dict[str, Any], limit: int = 500) -> list[dict[str, Any]]:
        if self.catalog is None:
            raise InvalidInput("this job has no catalogue to search", field="inputs")
        from gep.catalog.search import build_search

        req = build_search({**params, "limit": max(1, min(int(limit), 10_000))}, from_get=False)
        req.viewer = self.viewer
        page = self.catalog.search(req)
        return [orjson.loads(raw) for _, _, raw in page.items]


def _size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (a SAFE)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def parse_item_ref(ref: Any) -> tuple[str, str]:
    """``{"href": ".../collections/C/items/I"}``, ``".../collections/C/items/I"`` or ``"C/I"``."""
    text = ref.get("href") if isinstance(ref, dict) else ref
    if not isinstance(text, str) or not text:
        raise InvalidInput(
            'an item reference is {"href": ".../collections/C/items/I"} or "C/I"', field="inputs"
        )
    parts = [p for p in urlparse(text).path.split("/") if p]
    if "items" in parts and "collections" in parts:
        i = parts.index("collections")
        if len(parts) >= i + 4 and parts[i + 2] == "items":
            return unquote(parts[i + 1]), unquote(parts[i + 3])
    if len(parts) == 2:
        return parts[0], parts[1]
    raise InvalidInput(
        f"'{text}' is not an item reference (.../collections/C/items/I or C/I)", field="inputs"
    )


def job_visible(store: JobStore, job_id: str, viewer: Viewer) -> bool:
    """Whether ``viewer`` may see job ``job_id`` (and so read its storage folder)."""
    try:
        store.get(job_id, viewer)
    except NotFound:
        return False
    return True


def remove_results(catalog: CatalogStore, storage_root: Path, job_id: str) -> int:
    """Delete a dismissed job's files and its published items; returns the items removed."""
    shutil.rmtree(storage_root / "jobs" / job_id, ignore_errors=True)
    page = _results_page(catalog, job_id)
    for _, item_id, _ in page.items:
        catalog.delete_item(RESULTS_COLLECTION, item_id)
    return len(page.items)


def _results_page(catalog: CatalogStore, job_id: str) -> Any:
    """The items a job published (its own id, or prefixed with it)."""
    from gep.catalog.search import build_search
    from gep.catalog.store import SearchPage

    if not catalog.collection_exists(RESULTS_COLLECTION):
        return SearchPage([], None)
    mine = {
        "op": "or",
        "args": [
            {"op": "=", "args": [{"property": "id"}, job_id]},
            {"op": "like", "args": [{"property": "id"}, f"{job_id}-%"]},
        ],
    }
    return catalog.search(
        build_search(
            {"collections": [RESULTS_COLLECTION], "filter": mine, "limit": 10_000}, from_get=False
        )
    )


def publish(
    catalog: CatalogStore, job: Any, process: Any, ctx: JobContext, finished_us: int
) -> str:
    """The job's results as one STAC item in the ``results`` collection (upsert: a job
    published twice is still one item)."""
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": ["https://stac-extensions.github.io/processing/v1.2.0/schema.json"],
        "id": job.id,
        "collection": RESULTS_COLLECTION,
        "geometry": ctx.footprint,
        "properties": {
            "datetime": format_rfc3339(from_micros(finished_us)),
            "title": f"{process.title or process.id} results",
            "processing:lineage": "GEP job "
            + job.id
            + (" on " + ", ".join(ctx.lineage) if ctx.lineage else ""),
            "processing:software": {process.id: process.version},
            "gep:job": job.id,
            "gep:process": process.id,
            "gep:inputs": ctx.lineage,
        },
        "assets": ctx.assets,
        "links": [],
    }
    write_results(catalog, job, [item])
    return f"{RESULTS_COLLECTION}/{job.id}"


def write_results(catalog: CatalogStore, job: Any, items: list[dict[str, Any]]) -> None:
    """Publish a job's items in ``results``, visible as the job is: the visibility is set
    before the items exist, so that no reader ever sees them with the collection's."""
    if not catalog.collection_exists(RESULTS_COLLECTION):
        catalog.create_collection(results_collection(), upsert=True)
    catalog.set_item_access(
        RESULTS_COLLECTION, [it["id"] for it in items], Access(job.owner, job.visibility)
    )
    catalog.write_items(items, mode="upsert", atomic=True)


def results_collection() -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": RESULTS_COLLECTION,
        "title": "Processing results",
        "description": "The published results of GEP jobs; each is visible to its owner and "
        "whoever they share it with.",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        "links": [],
    }


def share_results(catalog: CatalogStore, job: Any, visibility: str) -> int:
    """Give a job's published items the job's new visibility; returns how many."""
    ids = [item_id for _, item_id, _ in _results_page(catalog, job.id).items]
    catalog.set_item_access(RESULTS_COLLECTION, ids, Access(job.owner, visibility))
    return len(ids)


class _DbLogHandler(logging.Handler):
    def __init__(self, store: JobStore, job_id: str) -> None:
        super().__init__()
        self.store = store
        self.job_id = job_id

    def emit(self, record: logging.LogRecord) -> None:
        self.store.log(self.job_id, record.levelname, record.getMessage())


# ------------------------------------------------------------------ worker side

RESULTS_COLLECTION = "results"

_WORKER_STORES: dict[str, JobStore] = {}
_WORKER_CATALOGS: dict[str, CatalogStore] = {}
_WORKER_REGISTRY: list[ProcessRegistry] = []


def _worker_store(db_url: str) -> JobStore:
    if db_url not in _WORKER_STORES:
        _WORKER_CATALOGS[db_url] = open_store(db_url)
        _WORKER_STORES[db_url] = JobStore(_WORKER_CATALOGS[db_url].engine)
    return _WORKER_STORES[db_url]


#: a running worker renews its job's lease this often; the server's watchdog re-queues a job
#: whose lease is older than LEASE_S (its worker died)
HEARTBEAT_S = 2.0
LEASE_S = 10.0


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"local-{os.getpid()}"


def _owner_viewer(store: JobStore, owner: str | None) -> Viewer:
    """The submitter's permissions, which a job (a developer's service included) runs with."""
    if owner is None:
        return SYSTEM
    try:
        return AccountStore(store.engine).user(owner).viewer()
    except NotFound:  # the account was removed: only public data remains readable
        return ANONYMOUS


def run_job(
    db_url: str,
    storage_root: str,
    job_id: str,
    cwl_runtime: str = "none",
    provider: str = "local",
    gateway_config: GatewayConfig | None = None,
) -> str:
    """Run one job on a worker; returns its final status. Safe to call twice for one job:
    only the call that moves it from ``accepted`` to ``running`` runs it.

    CPU time is the job thread's (plus processes it started, such as cwltool's); services
    whose kernels use threads of their own (numba, BLAS) are counted only in that thread."""
    store = _worker_store(db_url)
    if not _WORKER_REGISTRY:
        _WORKER_REGISTRY.append(ProcessRegistry())
    registry = _WORKER_REGISTRY[0]
    job = store.get(job_id)
    me = _worker_name()
    if not store.transition(job_id, (ACCEPTED,), RUNNING, message="started", worker=me):
        return store.get(job_id).status
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(HEARTBEAT_S):
            if not store.heartbeat(job_id, me):
                return

    beat = threading.Thread(target=renew, name=f"gep-lease-{job_id}", daemon=True)
    beat.start()
    scratch = Path(storage_root) / "jobs" / job_id / "scratch"
    output_dir = Path(storage_root) / "jobs" / job_id / "outputs"
    scratch.mkdir(parents=True, exist_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    catalog = _WORKER_CATALOGS[db_url]
    gateway = Gateway(
        gateway_config or GatewayConfig(storage_root=Path(storage_root)),
        job_visible=lambda other, viewer: job_visible(store, other, viewer),
    )
    ctx = JobContext(
        store, job_id, scratch, output_dir, catalog, _owner_viewer(store, job.owner), gateway
    )
    wall0, cpu0, child0 = time.perf_counter(), time.thread_time(), _children_cpu()

    def cpu_s() -> float:
        return time.thread_time() - cpu0 + _children_cpu() - child0

    try:
        if registry.has(job.process_id):
            process = registry.get(job.process_id)
        else:  # a deployed application package, kept in the database
            process = DeployedStore(store.engine).load(job.process_id, cwl_runtime)
        inputs = process.Inputs.model_validate(job.inputs)
        ctx.logger.info("running %s %s", process.id, process.version)
        outputs = process.execute(ctx, inputs)
        if ctx.assets:
            ref = publish(catalog, job, process, ctx, now_us())
            ctx.logger.info("results published as %s", ref)
        if ctx.extra_items:
            lineage = {
                "gep:job": job.id,
                "gep:process": process.id,
                "processing:software": {process.id: process.version},
                "gep:inputs": ctx.lineage,
            }
            items = [
                {**it, "properties": {**it["properties"], **lineage}} for it in ctx.extra_items
            ]
            write_results(catalog, job, items)
            ctx.logger.info("%d catalogue items published", len(items))
        store.transition(
            job_id,
            (RUNNING,),
            SUCCESSFUL,
            charge_cents=actual_cost(job.charge, cpu_s()),
            progress=100,
            message="done",
            outputs=outputs.model_dump(mode="json"),
        )
    except JobDismissed:
        # stopped by its user after it started: what it used is charged
        store.transition(
            job_id,
            (RUNNING,),
            DISMISSED,
            charge_cents=actual_cost(job.charge, cpu_s()),
            message="dismissed",
        )
    except Exception as exc:  # a failing service fails its job, never the worker
        ctx.logger.error("%s", traceback.format_exc())
        store.transition(
            job_id,
            (RUNNING,),
            FAILED,
            message=f"failed: {exc}",
            error=f"{type(exc).__name__}: {exc}",
        )
    finally:
        stop.set()
        shutil.rmtree(scratch, ignore_errors=True)
    final = store.get(job_id)
    UsageStore(store.engine).record(
        JobUsage(
            job_id=job_id,
            user_id=job.owner,
            process_id=job.process_id,
            provider=provider,
            status=final.status,
            cpu_s=cpu_s(),
            wall_s=time.perf_counter() - wall0,
            bytes_read=ctx.bytes_read,
            bytes_written=_size(output_dir) if output_dir.exists() else 0,
            started=final.started,
            finished=final.finished or now_us(),
        )
    )
    return final.status


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (cwltool's tools, for one)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------ server side


class JobEngine:
    """Submits jobs to Dask, and watches them: started on first use, so that parts of the
    platform that run no job never start a cluster."""

    def __init__(
        self,
        db_url: str,
        storage_root: Path,
        scheduler: str = "",
        workers: int = 1,
        store: JobStore | None = None,
        cwl_runtime: str = "none",
        lease_s: float = LEASE_S,
        watch_every_s: float = 1.0,
        provider: str = "local",
        gateway_config: GatewayConfig | None = None,
    ) -> None:
        self.provider = provider
        #: what the jobs' hrefs may reach (travels with each job to its worker)
        self.gateway_config = gateway_config or GatewayConfig(storage_root=storage_root)
        self.db_url = db_url
        self.storage_root = storage_root
        self.scheduler = scheduler
        self.workers = workers
        self.store = store
        self.cwl_runtime = cwl_runtime
        self.lease_s = lease_s
        self.watch_every_s = watch_every_s
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._cluster: Any = None
        self._futures: dict[str, Any] = {}
        self._watchdog: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def client(self) -> Any:
        """The Dask client, connected (and the LocalCluster started) by the first caller; the
        lock keeps simultaneous first submissions from starting several clusters."""
        if self._client is not None:
            return self._client
        with self._client_lock:
            if self._client is not None:
                return self._client
            from distributed import Client, LocalCluster

            if self.scheduler:
                self._client = Client(self.scheduler)
            else:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=2,
                    processes=True,
                    dashboard_address=":0",
                )
                self._client = Client(self._cluster)
        return self._client

    def submit(self, job_id: str, attempt: int = 0) -> None:
        # one key per attempt: a retry must not be answered with the dead attempt's future
        future = self.client.submit(
            run_job,
            self.db_url,
            str(self.storage_root),
            job_id,
            self.cwl_runtime,
            self.provider,
            self.gateway_config,
            key=f"gep-job-{job_id}-{attempt}",
            pure=False,
        )
        self._futures[job_id] = future
        self.start_watchdog()

    def wait(self, job_id: str, timeout: float) -> bool:
        """Wait for a submitted job; True when it ended within ``timeout`` seconds. It blocks
        its thread: the API awaits :meth:`wait_async` instead."""
        from distributed import wait

        future = self._futures.get(job_id)
        if future is None:
            return False
        try:
            done, _ = wait([future], timeout=timeout)
        except TimeoutError:  # distributed raises, rather than answering "not done"
            return False
        return bool(done)

    async def wait_async(self, job_id: str, timeout: float) -> bool:
        """True when the job's record is final within ``timeout`` seconds; waits without
        holding a thread, so that a synchronous execution never ties up the request pool
        (45 waiting calls holding 45 of its 40 threads starved every other request).

        It watches the job's *record*, not the Dask future: the record is the truth, where a
        future ends with its attempt even when the watchdog re-queues the job under a new key,
        and a server that restarted, or another server process, holds no future at all. Each
        look is one read by primary key, run on the event loop's default executor (not the
        request pool), between ``asyncio`` sleeps backing off from 20 ms to 2 s. When this
        process holds the job's future, its done-callback wakes the waiter at once, so a short
        job answers without waiting for the next look."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        woken = asyncio.Event()
        watched: Any = None
        delay = 0.02

        def wake(_future: Any) -> None:  # called on a Dask thread
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(woken.set)

        while True:
            future = self._futures.get(job_id)
            if future is not None and future is not watched:  # a retry has a new future
                watched = future
                future.add_done_callback(wake)
            if await loop.run_in_executor(None, self._ended, job_id, future):
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(delay, left))
            woken.clear()
            delay = min(delay * 2, 2.0)

    def _ended(self, job_id: str, future: Any) -> bool:
        if self.store is None:  # no record to read: the attempt's future is all there is
            return future is not None and bool(future.done())
        return self.store.get(job_id).status in FINAL

    def requeue(self, store: JobStore) -> int:
        """Submit every job still ``accepted`` (after a restart, nothing else will)."""
        jobs, _ = store.list_jobs(status=[ACCEPTED], limit=100_000)
        for job in jobs:
            if job.id not in self._futures:
                self.submit(job.id, job.attempts)
        return len(jobs)

    def forget(self, job_id: str) -> None:
        self._futures.pop(job_id, None)

    # -------------------------------------------------------------- the watchdog
    def start_watchdog(self) -> None:
        if self._watchdog is not None or self.store is None:
            return
        self._stop.clear()
        self._watchdog = threading.Thread(target=self._watch, name="gep-job-watchdog", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_every_s):
            try:
                self.sweep()
            except Exception:  # the watchdog must outlive a database hiccup
                log.exception("job watchdog sweep failed")

    def sweep(self) -> None:
        """Re-queue jobs whose worker died (lease expired); fail those past their timeout."""
        if self.store is None:
            return
        for job in self.store.stale_running(self.lease_s):
            self._restart_wedged(job.id)
            if self.store.release_stale(job, self.lease_s) == ACCEPTED:
                log.warning("job %s lost its worker; attempt %d", job.id, job.attempts + 1)
                self.submit(job.id, job.attempts)
        for job in self.store.overdue():
            reason = f"timed out after {job.timeout_s} s"
            if self.store.transition(
                job.id, (RUNNING,), FAILED, dismiss_requested=1, message=reason, error=reason
            ):
                log.warning("job %s %s", job.id, reason)

    def _restart_wedged(self, job_id: str) -> None:
        """Restart the worker that still holds a job whose lease expired.

        A dead worker is Dask's to notice; a wedged one (a native call that deadlocked with
        the interpreter lock held) stays connected long enough for the scheduler to hand it
        the retry too, and every later job queued behind it waits with it. Such a worker is
        the one the scheduler says is still processing this job's task: its nanny restarts it
        (its other running jobs lose their leases and are retried the same way). Workers
        without a nanny (``gep worker``) cannot be restarted from here; the log says so.
        """
        if self._client is None:
            return
        prefix = f"gep-job-{job_id}-"
        try:
            wedged = [
                worker
                for worker, keys in self._client.processing().items()
                if any(str(k).startswith(prefix) for k in keys)
            ]
            if not wedged:
                return
            log.warning(
                "job %s: worker %s stopped renewing the lease but still holds the job; "
                "restarting it", job_id, ", ".join(wedged),
            )  # fmt: skip
            self._client.restart_workers(wedged, timeout=60, raise_for_error=False)
        except Exception:  # the sweep goes on: the job is retried or failed all the same
            log.exception("could not restart the worker of job %s", job_id)

    def close(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
            self._watchdog = None
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None


__all__ = ["FINAL", "JobContext", "JobDismissed", "JobEngine", "run_job"]
