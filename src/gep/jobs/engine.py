"""Running jobs on Dask distributed: a LocalCluster by default, or a scheduler's cluster.

The job record lives in the database, not in this process: a worker (:mod:`gep.jobs.worker`)
moves its job to ``running``, reports progress and log lines there, and writes the outputs
there, so the API shows them from any process, and nothing is lost when the server restarts.
This module is the server's side: submission to Dask, waiting for a job, and the watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from gep.core.enums import FINAL_STATUSES, JobStatus
from gep.gateway.config import GatewayConfig
from gep.jobs.store import JobStore
from gep.jobs.worker import LEASE_S, run_job

log = logging.getLogger("gep.jobs")


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

    def submit_many(self, job_ids: list[str]) -> None:
        """Queue new jobs (first attempts) in one call to the scheduler: a subscription's
        batch of hundreds costs one message rather than one each."""
        if not job_ids:
            return
        n = len(job_ids)
        futures = self.client.map(
            run_job,
            [self.db_url] * n,
            [str(self.storage_root)] * n,
            job_ids,
            [self.cwl_runtime] * n,
            [self.provider] * n,
            [self.gateway_config] * n,
            key=[f"gep-job-{job_id}-0" for job_id in job_ids],
            pure=False,
        )
        for job_id, future in zip(job_ids, futures, strict=True):
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
        return self.store.get(job_id).status in FINAL_STATUSES

    def requeue(self, store: JobStore) -> int:
        """Submit every job still ``accepted`` (after a restart, nothing else will)."""
        jobs, _ = store.list_jobs(status=[JobStatus.ACCEPTED], limit=100_000)
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
            if self.store.release_stale(job, self.lease_s) == JobStatus.ACCEPTED:
                log.warning("job %s lost its worker; attempt %d", job.id, job.attempts + 1)
                self.submit(job.id, job.attempts)
        for job in self.store.overdue():
            reason = f"timed out after {job.timeout_s} s"
            if self.store.transition(
                job.id,
                (JobStatus.RUNNING,),
                JobStatus.FAILED,
                dismiss_requested=1,
                message=reason,
                error=reason,
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
