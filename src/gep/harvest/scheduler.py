"""Scheduled harvests inside ``gep serve``: a daemon thread that runs due sources in turn.

One thread, one source at a time: harvests are I/O-bound and polite to remote archives when
they do not overlap; the database claim (:meth:`HarvestStore.claim`) keeps several servers on
one database from running the same source twice.
"""

from __future__ import annotations

import logging
import threading

from gep.catalog.store import CatalogStore
from gep.harvest.runner import run_harvest
from gep.harvest.store import HarvestStore

log = logging.getLogger("gep.harvest")


class HarvestScheduler:
    def __init__(self, catalog: CatalogStore, harvests: HarvestStore, poll_s: float = 30.0):
        self.catalog = catalog
        self.harvests = harvests
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="gep-harvest", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_due(self) -> int:
        """Run every source that is due now; the number run."""
        ran = 0
        for record in self.harvests.due():
            if self._stop.is_set():
                break
            if not self.harvests.claim(record):
                continue
            run = run_harvest(self.catalog, self.harvests, record.config.name)
            log.info(
                "harvest %s: %s, %d new, %d updated, %d skipped",
                record.config.name,
                run.status,
                run.new,
                run.updated,
                run.skipped,
            )
            ran += 1
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:  # the scheduler must outlive one bad source or a DB hiccup
                log.exception("harvest scheduler")
            self._stop.wait(self.poll_s)
