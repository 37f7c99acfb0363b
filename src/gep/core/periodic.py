"""One daemon thread that does a piece of work every so often, inside a server process.

The harvest scheduler, the retention sweep and the download meter each need one: started on
demand, stopped at shutdown within a bound, and never killed by one failing round (a database
hiccup must not end scheduled work until the next restart).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Periodic:
    """Calls ``work(stop)`` every ``period_s`` seconds (the first time after ``first_s``,
    default ``period_s``; 0 = at once) until :meth:`stop`; ``work`` may watch ``stop`` to end
    a long round early. A round that raises is logged on ``log`` and the next one still runs."""

    def __init__(
        self,
        name: str,
        work: Callable[[threading.Event], object],
        period_s: float,
        log: logging.Logger,
        first_s: float | None = None,
    ) -> None:
        self.name = name
        self.work = work
        self.period_s = period_s
        self.first_s = period_s if first_s is None else first_s
        self.log = log
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        with self._lock:
            if self._thread is None and self.period_s > 0:
                self.stopping.clear()
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        wait = self.first_s
        while not self.stopping.wait(wait):
            try:
                self.work(self.stopping)
            except Exception:  # the thread must outlive one bad round
                self.log.exception("%s", self.name)
            wait = self.period_s
