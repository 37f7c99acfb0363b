"""The worker's side of a job: :func:`run_job`, run by Dask on whichever worker gets it.

Everything it needs travels as plain values (the database URL, the storage root, the gateway's
configuration) and is opened here, once per worker process: the job record in the database is
the only channel between the server and the worker. The worker moves its job to ``running``,
renews its lease, runs the service with its owner's permissions, publishes the results,
settles the credits through the final transition and records the usage.
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from gep.accounts.data_usage import DataDirection, DataEvent, DataUsageStore
from gep.accounts.store import AccountStore
from gep.accounts.usage import JobUsage, UsageStore
from gep.catalog.backends import open_store
from gep.catalog.store import CatalogStore
from gep.core.access import ANONYMOUS, SYSTEM, Viewer
from gep.core.enums import JobStatus
from gep.core.errors import NotFound
from gep.gateway.config import GatewayConfig
from gep.gateway.resolver import Gateway
from gep.gateway.storage import TMP_AREA, Storage
from gep.jobs.asset_meta import describe_items, describe_results
from gep.jobs.context import JobContext, JobDismissed, outputs_prefix
from gep.jobs.deployed import DeployedStore
from gep.jobs.pricing import actual_cost
from gep.jobs.publish import publish, publish_items
from gep.jobs.store import JobStore, job_visible, now_us
from gep.processes.registry import ProcessRegistry

_WORKER_STORES: dict[str, JobStore] = {}
_WORKER_CATALOGS: dict[str, CatalogStore] = {}
_WORKER_REGISTRY: list[ProcessRegistry] = []
_WORK_ROOT: list[Path] = []

#: a running worker renews its job's lease this often; the server's watchdog re-queues a job
#: whose lease is older than LEASE_S (its worker died)
HEARTBEAT_S = 2.0
LEASE_S = 10.0


def _worker_store(db_url: str) -> JobStore:
    if db_url not in _WORKER_STORES:
        _WORKER_CATALOGS[db_url] = open_store(db_url)
        _WORKER_STORES[db_url] = JobStore(_WORKER_CATALOGS[db_url].engine)
    return _WORKER_STORES[db_url]


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
) -> JobStatus:
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
    if not store.transition(
        job_id, (JobStatus.ACCEPTED,), JobStatus.RUNNING, message="started", worker=me
    ):
        return store.get(job_id).status
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(HEARTBEAT_S):
            if not store.heartbeat(job_id, me):
                return

    beat = threading.Thread(target=renew, name=f"gep-lease-{job_id}", daemon=True)
    beat.start()
    catalog = _WORKER_CATALOGS[db_url]
    gateway = Gateway(
        gateway_config or GatewayConfig(storage_root=Path(storage_root)),
        job_visible=lambda other, viewer: job_visible(store, other, viewer),
    )
    work = _work_folder(gateway.storage, job_id)
    shutil.rmtree(work, ignore_errors=True)  # what a dead attempt left
    scratch, output_dir = work / "scratch", work / "outputs"
    scratch.mkdir(parents=True, exist_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    data_usage = DataUsageStore(store.engine)
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
        # proj:*, raster:bands, file:size and the declared renders, read while local
        described = describe_results(ctx.assets, ctx.asset_files, process.render_for, ctx.logger)
        describe_items(ctx.extra_items, ctx.local_file, process.render_for, ctx.logger)
        # every file the service wrote is stored before any item names it; items it
        # published from its own files get their stored hrefs
        written = gateway.storage.store_folder(
            output_dir, outputs_prefix(job_id), ctx.extra_items, move=gateway.storage.is_local
        )
        if written:
            ctx.logger.info("%d bytes of results stored", written)
        processed = now_us()  # the results' ``created``; their ``datetime`` is the inputs'
        if ctx.assets:
            ref = publish(
                catalog,
                job,
                process,
                assets=ctx.assets,
                footprint=ctx.footprint,
                inputs=ctx.inputs,
                finished_us=processed,
                properties=described.properties,
                extensions=described.extensions,
            )
            ctx.logger.info("results published as %s", ref)
        if ctx.extra_items:
            n = publish_items(catalog, job, process, ctx.extra_items, ctx.inputs, processed)
            ctx.logger.info("%d catalogue items published", n)
        # the data the job read and wrote, at the administrator's data prices, is charged
        # with the job (within its hold, like the CPU part)
        data_cents = math.ceil(data_usage.job_cost_cents(_data_of(ctx, job, written)))
        store.transition(
            job_id,
            (JobStatus.RUNNING,),
            JobStatus.SUCCESSFUL,
            charge_cents=actual_cost(job.charge, cpu_s()) + data_cents,
            progress=100,
            message="done",
            outputs=outputs.model_dump(mode="json"),
        )
    except JobDismissed:
        # stopped by its user after it started: what it used is charged
        store.transition(
            job_id,
            (JobStatus.RUNNING,),
            JobStatus.DISMISSED,
            charge_cents=actual_cost(job.charge, cpu_s()),
            message="dismissed",
        )
    except Exception as exc:  # a failing service fails its job, never the worker
        ctx.logger.error("%s", traceback.format_exc())
        store.transition(
            job_id,
            (JobStatus.RUNNING,),
            JobStatus.FAILED,
            message=f"failed: {exc}",
            error=f"{type(exc).__name__}: {exc}",
        )
    finally:
        stop.set()
        shutil.rmtree(work, ignore_errors=True)
    final = store.get(job_id)
    data_usage.record(_data_of(ctx, job, written))
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
            bytes_written=written,
            started=final.started,
            finished=final.finished or now_us(),
        )
    )
    return final.status


def _data_of(ctx: JobContext, job: Any, written: int) -> list[DataEvent]:
    """What a job read (its staged inputs) and wrote (its results), for data accounting."""
    results = DataEvent(
        job.owner, DataDirection.WRITE, "storage", job.process_id, written, job.id
    )  # written into the service's result collection (``gep.jobs.publish``)
    return [*ctx.data_events, results]


def set_work_root(folder: Path) -> None:
    """Where this worker process writes jobs' files before storing them (``gep worker``
    sets ``GEP_HOME/work``)."""
    _WORK_ROOT[:] = [folder]


def _work_folder(storage: Storage, job_id: str) -> Path:
    """A job's local working folder: beside a local storage's files (the same filesystem, so
    results are renamed into place, not copied), else this worker's own work folder."""
    if storage.local_root is not None:
        base = storage.local_root / TMP_AREA / "work"
    elif _WORK_ROOT:
        base = _WORK_ROOT[0]
    else:
        base = Path(tempfile.gettempdir()) / "gep-work"
    return base / job_id


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (cwltool's tools, for one)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
