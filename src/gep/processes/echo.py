"""``echo``: returns its input; the smallest real service, for conformance and smoke tests."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gep.processes.base import Process, ProcessContext


class EchoInputs(BaseModel):
    message: str = Field(..., description="Any text; it comes back unchanged")


class EchoOutputs(BaseModel):
    message: str = Field(..., description="The input message")


class Echo(Process):
    id = "echo"
    version = "1.0.0"
    title = "Echo"
    description = "Returns the message it is given (OGC API - Processes conformance service)."
    keywords = ["test", "conformance"]
    Inputs = EchoInputs
    Outputs = EchoOutputs

    def execute(self, ctx: ProcessContext, inputs: EchoInputs) -> EchoOutputs:
        ctx.progress(50, "echoing")
        return EchoOutputs(message=inputs.message)
