"""Scheduled harvests inside ``gep serve``: a daemon thread that runs due sources in turn.

One thread, one source at a time: harvests are I/O-bound and polite to remote archives when
they do not overlap; the database claim (:meth:`HarvestStore.claim`) keeps several servers on
one database from running the same source twice.
"""

from __future__ import annotations

import logging

from gep.catalog.store import CatalogStore
from gep.core.periodic import Periodic
from gep.harvest.runner import run_harvest
from gep.harvest.store import HarvestStore

log = logging.getLogger("gep.harvest")


class HarvestScheduler:
    def __init__(self, catalog: CatalogStore, harvests: HarvestStore, poll_s: float = 30.0):
        self.catalog = catalog
        self.harvests = harvests
        self.poll_s = poll_s
        self._periodic = Periodic(
            "gep-harvest", lambda stop: self.run_due(), poll_s, log, first_s=0
        )
        self._stop = self._periodic.stopping

    def start(self) -> None:
        self._periodic.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._periodic.stop(timeout)

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
