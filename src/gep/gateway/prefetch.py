"""Prefetching: remote inputs fetched into the cache before anyone reads them.

A job waits in the queue behind others; its inputs need not wait with it. When a job is
submitted (``gep.jobs.prefetch``) or a user asks for an early cache (``POST /gateway/prefetch``),
the assets to fetch are queued here and a few background threads of the server process
retrieve them (:mod:`gep.gateway.retrieve`, the same sources, checks and log lines as a job's
own staging) into the cache, pinned for the job that will read them. When the job starts, its
staging finds them: "cache hit".

Bounded on purpose: ``PREFETCH_THREADS`` downloads at a time, at most ``MAX_WAITING`` assets
waiting (beyond that a user's request is refused with 429; a job's inputs are then simply
fetched when it runs). An asset already cached or already queued is not queued twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.errors import InvalidInput, TooManyRequests
from gep.gateway.retrieve import AssetRequest, Log, RetrievalFailed, Retriever, is_remote

PREFETCH_THREADS = 2
MAX_WAITING = 256
#: the most items one prefetch request may name
MAX_ITEMS = 100

log = logging.getLogger("gep.gateway.prefetch")


class PrefetchState(StrEnum):
    """What became of one asset of a prefetch request."""

    #: waiting for (or being fetched by) a prefetch thread
    QUEUED = "queued"
    #: in the cache already
    CACHED = "cached"
    #: a local file: read in place, nothing to fetch
    LOCAL = "local"


@dataclass(frozen=True)
class PrefetchTask:
    request: AssetRequest
    viewer: Viewer
    #: the job that will read it (its pin), if any
    job: str | None
    log: Log


def server_log(level: str, message: str) -> None:
    """Where a prefetch that no job asked for writes its lines."""
    log.log(logging.getLevelName(level), "%s", message)


class Prefetcher:
    """A bounded pool of background threads retrieving assets into the cache."""

    def __init__(
        self, retriever: Retriever, threads: int = PREFETCH_THREADS, waiting: int = MAX_WAITING
    ) -> None:
        self.retriever = retriever
        self.threads = threads
        self._queue: queue.Queue[PrefetchTask] = queue.Queue(maxsize=waiting)
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._started: list[threading.Thread] = []

    def submit(self, task: PrefetchTask, *, refuse_when_full: bool = True) -> PrefetchState:
        """Queue one asset (pinning it for the task's job at once); its state. TooManyRequests
        when the queue is full and ``refuse_when_full``."""
        req = task.request
        if not is_remote(self.retriever.gateway, req.href):
            return PrefetchState.LOCAL
        cache = self.retriever.cache
        key = self.retriever.key_of(req)
        if task.job is not None:
            cache.pin(key, task.job)
        if cache.contains(key):
            return PrefetchState.CACHED
        with self._lock:
            if key in self._busy:
                return PrefetchState.QUEUED
            try:
                self._queue.put_nowait(task)
            except queue.Full:
                if refuse_when_full:
                    raise TooManyRequests(
                        f"{MAX_WAITING} assets are waiting to be prefetched already; "
                        "ask again later",
                        field="items",
                        retry_after=30,
                    ) from None
                return PrefetchState.QUEUED  # a job's input: fetched when the job runs
            self._busy.add(key)
            self._start()
        return PrefetchState.QUEUED

    def idle(self) -> bool:
        """Nothing waiting or being fetched."""
        with self._lock:
            return not self._busy

    def _start(self) -> None:
        while len(self._started) < self.threads:
            t = threading.Thread(
                target=self._run, name=f"gep-prefetch-{len(self._started)}", daemon=True
            )
            self._started.append(t)
            t.start()

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            req = task.request
            try:
                got = self.retriever.retrieve(
                    req, task.viewer, task.log, job=task.job, prefetch=True
                )
                if got.cache_hit:
                    task.log("INFO", f"prefetch: {req.what} was cached already")
                else:
                    earlier = f"; before it: {'; '.join(got.failures)}" if got.failures else ""
                    task.log(
                        "INFO",
                        f"prefetched {req.what} into the cache: served by {got.source} "
                        f"({got.size} bytes){earlier}",
                    )
            except RetrievalFailed as exc:
                task.log("WARNING", f"prefetch of {exc.message}")
            except Exception:  # a prefetch thread outlives any one product
                log.exception("prefetch of %s failed", req.what)
            finally:
                with self._lock:
                    self._busy.discard(self.retriever.key_of(req))
                self._queue.task_done()


def select_assets(
    item: Mapping[str, Any], keys: Sequence[str] | None, where: str
) -> list[tuple[str, Mapping[str, Any]]]:
    """The assets of an item to fetch: those named (400 for one it lacks), else its data
    assets (role ``data``), else all of them."""
    assets = item.get("assets") or {}
    if not isinstance(assets, Mapping):
        return []
    if keys:
        missing = [k for k in keys if k not in assets]
        if missing:
            raise InvalidInput(
                f"{where}: item has no asset '{missing[0]}'; it has: " + ", ".join(sorted(assets)),
                field="assets",
            )
        return [(k, assets[k]) for k in keys if isinstance(assets[k], Mapping)]
    found = [(k, a) for k, a in assets.items() if isinstance(a, Mapping)]
    data = [(k, a) for k, a in found if "data" in (a.get("roles") or [])]
    return data or found


def parse_prefetch_body(body: Any) -> tuple[list[str], list[str] | None]:
    """``{"items": ["C/I", …], "assets": ["key", …]}`` → (item references, asset keys)."""
    if not isinstance(body, Mapping):
        raise InvalidInput('the body must be {"items": ["collection/item", …]}', field="body")
    items = body.get("items")
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(i, str) and i.strip() for i in items)
    ):
        raise InvalidInput(
            'items must be a non-empty list of item references "collection/item"', field="items"
        )
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} items per request", field="items")
    keys = body.get("assets")
    if keys is not None and (
        not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys)
    ):
        raise InvalidInput("assets must be a list of asset keys", field="assets")
    return [str(i).strip() for i in items], (list(keys) if keys else None)


def prefetch_items(
    prefetcher: Prefetcher,
    catalog: CatalogStore,
    viewer: Viewer,
    refs: Sequence[str],
    keys: Sequence[str] | None,
) -> list[dict[str, str]]:
    """A user's early-cache request: every item read as they see it (404 for one they may not
    see, before anything is queued), its hrefs checked by the gateway as for a job (400),
    then its assets queued. What became of each asset."""
    gateway = prefetcher.retriever.gateway
    wanted: list[tuple[str, str, str, Mapping[str, Any]]] = []
    for k, ref in enumerate(refs):
        collection, sep, item_id = ref.partition("/")
        if not sep or not collection or not item_id or "/" in item_id:
            raise InvalidInput(
                f"items[{k}]: '{ref[:200]}' is not an item reference 'collection/item'",
                field=f"items[{k}]",
            )
        item = orjson.loads(catalog.get_item(collection, item_id, viewer))
        gateway.check_item_reads(item, viewer, field=f"items[{k}]")
        for key, asset in select_assets(item, keys, f"items[{k}]"):
            wanted.append((collection, item_id, key, asset))
    out = []
    for collection, item_id, key, asset in wanted:
        req = AssetRequest(collection, item_id, key, asset)
        state = prefetcher.submit(PrefetchTask(req, viewer, None, server_log))
        out.append({"item": f"{collection}/{item_id}", "asset": key, "status": str(state)})
    return out
