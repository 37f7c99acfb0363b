"""The one periodic thread: rounds on time, a failing round does not end it, stop is bounded."""

from __future__ import annotations

import logging
import threading
import time

from gep.core.periodic import Periodic


def test_rounds_run_survive_failures_and_stop() -> None:
    rounds: list[float] = []
    done = threading.Event()

    def work(stop: threading.Event) -> None:
        rounds.append(time.monotonic())
        if len(rounds) == 2:
            raise RuntimeError("a bad round")  # logged; the next round still runs
        if len(rounds) >= 4:
            done.set()

    p = Periodic("test-periodic", work, 0.02, logging.getLogger("test"), first_s=0)
    assert not p.running
    p.start()
    p.start()  # a second start is a no-op: still one thread
    assert done.wait(5), rounds
    p.stop(timeout=2)
    assert not p.running
    n = len(rounds)
    time.sleep(0.1)
    assert len(rounds) == n  # nothing runs after stop
    assert n >= 4


def test_a_zero_period_never_starts() -> None:
    p = Periodic("never", lambda stop: None, 0, logging.getLogger("test"))
    p.start()
    assert not p.running
    p.stop()
