"""Jobs' remote inputs: retrieved through the gateway's sources and cache, prefetched while the
job waits.

Two sides of one thing, kept together so that they agree on which assets a job reads and how
its pins are named (the job's id):

* the worker's: :func:`stage_remote`, which ``JobContext.stage`` calls for an asset whose href
  is remote — a cache hit is hard-linked into the job's folder ("cache hit" in the job's
  log), a miss is retrieved from the first source that serves it ("cache miss … served by");
* the server's: :class:`JobPrefetch`, which the job service calls when it queues a job — the
  job's remote inputs are fetched into the cache while it waits, pinned for it.

A pin holds while its job is accepted or running (:func:`job_active`, read from the job store),
so a job that ends — successful, failed, dismissed, or lost with its worker — releases its
inputs without anyone having to remember to.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.enums import ACTIVE_STATUSES
from gep.core.errors import NotFound
from gep.gateway.cache import Cache, JobActive, link_into
from gep.gateway.mirrors import MirrorStore
from gep.gateway.prefetch import Prefetcher, PrefetchState, PrefetchTask, select_assets
from gep.gateway.resolver import Gateway
from gep.gateway.retrieve import AssetRequest, Retriever
from gep.jobs.store import JobStore
from gep.processes.base import Process, item_refs, parse_item_ref

log = logging.getLogger("gep.jobs.staging")


def job_active(store: JobStore) -> JobActive:
    """Whether a job still needs what it pinned (accepted or running)."""

    def active(job_id: str) -> bool:
        try:
            return store.get(job_id).status in ACTIVE_STATUSES
        except NotFound:
            return False

    return active


def retriever_for(gateway: Gateway, store: JobStore) -> Retriever:
    """The retrieval of one process (server or worker): its gateway, the shared cache index
    and the mirrors, pins judged by the job store."""
    cache = Cache(store.engine, gateway.config, job_active(store))
    return Retriever(gateway, cache, MirrorStore(store.engine))


def stage_remote(
    gateway: Gateway,
    store: JobStore,
    job_id: str,
    scratch: Path,
    viewer: Viewer,
    request: AssetRequest,
    logger: logging.Logger,
) -> tuple[Path, str]:
    """A remote asset for a running job: from the cache (a hard link into ``scratch``) or
    from the first source that serves it; the job's log says which. Returns the local path
    and the source as data accounting names it (``cache``, ``mirror:<name>``, ``href:<host>``)."""

    def job_log(level: str, message: str) -> None:
        logger.log(logging.getLevelName(level), "%s", message)

    got = retriever_for(gateway, store).retrieve(
        request, viewer, job_log, job=job_id, folder=scratch
    )
    earlier = f"; before it: {'; '.join(got.failures)}" if got.failures else ""
    if got.cache_hit:
        logger.info(
            "cache hit: %s (%d bytes, served earlier by %s)", request.what, got.size, got.source
        )
    elif got.in_place:
        logger.info("%s read in place from %s%s", request.what, got.source, earlier)
    elif got.cached is not None:
        logger.info(
            "cache miss: %s served by %s (%d bytes)%s", request.what, got.source, got.size, earlier
        )
    else:
        logger.info(
            "%s served by %s (%d bytes; this host keeps no cache)%s",
            request.what, got.source, got.size, earlier,
        )  # fmt: skip
    path = link_into(got.cached, scratch) if got.cached is not None else got.path
    return path, got.stat


class JobPrefetch:
    """The job service's prefetcher: started on first use, in the server process."""

    def __init__(self, catalog: CatalogStore, gateway: Gateway, store: JobStore) -> None:
        self.catalog = catalog
        self.gateway = gateway
        self.store = store

    @cached_property
    def prefetcher(self) -> Prefetcher:
        return Prefetcher(retriever_for(self.gateway, self.store))

    @cached_property
    def _planner(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="gep-prefetch-plan")

    def job_queued(
        self, job_id: str, viewer: Viewer, process: Process, inputs: dict[str, Any]
    ) -> Future[int]:
        """Plan the prefetch of a job just created, off the submitting thread (reading its
        items and pinning a network's worth of products is not the caller's wait)."""
        return self._planner.submit(self.prefetch_job, job_id, viewer, process, inputs)

    def prefetch_job(
        self, job_id: str, viewer: Viewer, process: Process, inputs: dict[str, Any]
    ) -> int:
        """Queue the remote inputs of a job, pinned for it; how many were queued. Never
        fails: a prefetch that cannot start is the job's own staging, later."""
        try:
            if not self.prefetcher.retriever.cache.usable():
                return 0
            queued = 0
            for request in self._requests(viewer, process, inputs):
                task = PrefetchTask(request, viewer, job_id, self._job_log(job_id))
                state = self.prefetcher.submit(task, refuse_when_full=False)
                queued += state is PrefetchState.QUEUED
            return queued
        except Exception:  # the job runs all the same
            log.exception("could not prefetch the inputs of job %s", job_id)
            return 0

    def _requests(
        self, viewer: Viewer, process: Process, inputs: dict[str, Any]
    ) -> list[AssetRequest]:
        out: list[AssetRequest] = []
        for ref in item_refs(process, inputs):
            collection, item_id = parse_item_ref(ref.ref)
            item = orjson.loads(self.catalog.get_item(collection, item_id, viewer))
            keys = [str(inputs[a]) for a in ref.asset_inputs if inputs.get(a)]
            if isinstance(ref.ref, Mapping) and isinstance(ref.ref.get("asset"), str):
                keys.append(ref.ref["asset"])  # a CWL File input names its asset
            assets = item.get("assets") or {}
            keys = [k for k in keys if k in assets]
            for key, asset in select_assets(item, keys or None, ref.path):
                out.append(AssetRequest(collection, item_id, key, asset))
        return out

    def _job_log(self, job_id: str) -> Any:
        def write(level: str, message: str) -> None:
            self.store.log(job_id, level, message)

        return write
