"""Systematic production inside ``gep serve``: one daemon thread that runs the dispatcher's
rounds (the ingestion log, the schedules) and sends due webhook notifications.

One thread per server is enough and keeps rounds from overlapping in a process; several servers
on one database are safe because everything they decide is decided in the database (trigger
keys, the cursor's conditional move, schedule claims, delivery claims).
"""

from __future__ import annotations

import logging

from gep.core.periodic import Periodic
from gep.production.dispatcher import Dispatcher
from gep.production.webhooks import WebhookSender

log = logging.getLogger("gep.production")


class ProductionScheduler:
    def __init__(self, dispatcher: Dispatcher, sender: WebhookSender, poll_s: float) -> None:
        self.dispatcher = dispatcher
        self.sender = sender
        self._periodic = Periodic(
            "gep-production", lambda stop: self.round(), poll_s, log, first_s=0
        )

    def round(self) -> None:
        out = self.dispatcher.run_once()
        if out.submitted or out.failed or out.paused:
            log.info(
                "subscriptions: %d job(s) submitted, %d failed, paused: %s",
                len(out.submitted),
                out.failed,
                out.paused,
            )
        self.sender.deliver_due()

    def start(self) -> None:
        self._periodic.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._periodic.stop(timeout)
