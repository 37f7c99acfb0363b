"""``wait``: a diagnostic service that sleeps, reporting progress; checks a deployment's workers,
progress reporting, dismissal and failure handling end to end."""

from __future__ import annotations

import ctypes
import time

from pydantic import BaseModel, Field

from gep.core.errors import InvalidInput
from gep.processes.base import Process, ProcessContext


class WaitInputs(BaseModel):
    seconds: float = Field(1.0, ge=0, le=3600, description="How long to run")
    steps: int = Field(10, ge=1, le=1000, description="Progress reports along the way")
    fail: bool = Field(False, description="End with an error instead of a result")
    hold_gil: bool = Field(
        False,
        description="Administrators only: wait inside one native call that keeps Python's "
        "interpreter lock, as a deadlocked native library does. The worker stops answering "
        "(no progress, no lease renewal), which checks that the server restarts a wedged worker",
    )


class WaitOutputs(BaseModel):
    waited: float = Field(..., description="Seconds actually waited")


class Wait(Process):
    id = "wait"
    version = "1.0.0"
    title = "Wait (diagnostics)"
    description = (
        "Runs for the given time, reporting progress in steps; optionally fails. "
        "For checking workers, progress, dismissal and error reporting."
    )
    keywords = ["diagnostics"]
    Inputs = WaitInputs
    Outputs = WaitOutputs

    def execute(self, ctx: ProcessContext, inputs: WaitInputs) -> WaitOutputs:
        start = time.monotonic()
        if inputs.hold_gil:
            if not ctx.viewer.is_admin:
                raise InvalidInput(
                    "inputs.hold_gil: wedging a worker is for administrators only",
                    field="inputs.hold_gil",
                )
            # a PyDLL call does not release the interpreter lock: every thread of the worker
            # process (its lease renewal, Dask's own) stops until the call returns
            ctypes.PyDLL(None).sleep(ctypes.c_uint(max(1, round(inputs.seconds))))
        for step in range(inputs.steps):
            time.sleep(inputs.seconds / inputs.steps)
            ctx.progress(int(100 * (step + 1) / inputs.steps), f"step {step + 1}/{inputs.steps}")
        ctx.logger.info("waited %.2f s", time.monotonic() - start)
        if inputs.fail:
            raise RuntimeError("failed on request (fail=true)")
        return WaitOutputs(waited=round(time.monotonic() - start, 3))
