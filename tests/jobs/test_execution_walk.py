"""An execution walks straight down (issue #15): from the router to the job service and the
stores it needs, never back into the API before the job is queued. Traced, not assumed: every
call into a ``gep`` module is recorded (in every thread) while one request runs."""

from __future__ import annotations

import inspect
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from tests.support.app import api_client

#: coroutines and generators: their frames are entered again at each resumption
RESUMABLE = (
    inspect.CO_COROUTINE
    | inspect.CO_ITERABLE_COROUTINE
    | inspect.CO_GENERATOR
    | inspect.CO_ASYNC_GENERATOR
)


def test_the_inputs_walk_from_router_to_service_to_stores(tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []
    seen: set[int] = set()
    lock = threading.Lock()

    def record(frame: FrameType, event: str, _arg: Any) -> None:
        # a coroutine that resumes after an await is "called" again: only its first call counts
        resumable = frame.f_code.co_flags & RESUMABLE
        if event == "call" and not (resumable and id(frame) in seen):
            module = str(frame.f_globals.get("__name__", ""))
            if module.startswith("gep."):
                with lock:
                    seen.add(id(frame))
                    calls.append((module, frame.f_code.co_name))

    threading.setprofile(record)  # threads started from here on (the client's, the pool's)
    sys.setprofile(record)
    try:
        with api_client(tmp_path) as client:
            calls.clear()  # the app's start-up is not the walk
            r = client.post(
                "/processes/echo/execution",
                json={"inputs": {"message": "Bárðarbunga"}},
                headers={"Prefer": "respond-async"},
            )
            assert r.status_code == 201, r.text
            snapshot = list(calls)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    modules = [m for m, _ in snapshot]
    assert "gep.api.processes" in modules
    first = modules.index("gep.jobs.service")
    queued = next(
        i for i, (m, f) in enumerate(snapshot) if m == "gep.jobs.engine" and f == "submit"
    )
    assert first < queued
    walk = snapshot[first:queued]
    assert not [c for c in walk if c[0].startswith("gep.api")], "the service called back up"
    visited = {m for m, _ in walk}
    assert {"gep.jobs.store", "gep.accounts.credits", "gep.processes.registry"} <= visited, visited
