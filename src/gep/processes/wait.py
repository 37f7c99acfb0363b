"""``wait``: a diagnostic service that sleeps, reporting progress; checks a deployment's workers,
progress reporting, dismissal and failure handling end to end."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from gep.processes.base import Process, ProcessContext


class WaitInputs(BaseModel):
    seconds: float = Field(1.0, ge=0, le=3600, description="How long to run")
    steps: int = Field(10, ge=1, le=1000, description="Progress reports along the way")
    fail: bool = Field(False, description="End with an error instead of a result")


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
        for step in range(inputs.steps):
            time.sleep(inputs.seconds / inputs.steps)
            ctx.progress(int(100 * (step + 1) / inputs.steps), f"step {step + 1}/{inputs.steps}")
        ctx.logger.info("waited %.2f s", time.monotonic() - start)
        if inputs.fail:
            raise RuntimeError("failed on request (fail=true)")
        return WaitOutputs(waited=round(time.monotonic() - start, 3))
