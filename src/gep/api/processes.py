"""OGC API - Processes - Part 1: the process list and descriptions.

Execution and jobs arrive with the job engine (``gep.jobs``); this router already answers the
discovery half of the standard from the registry.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gep.api.deps import base_url
from gep.processes.registry import ProcessRegistry, describe

router = APIRouter(tags=["OGC API - Processes"])

JSON = "application/json"


def registry(request: Request) -> ProcessRegistry:
    return request.app.state.processes  # type: ignore[no-any-return]


@router.get("/processes", summary="The processing services offered")
def list_processes(request: Request) -> Response:
    base = base_url(request)
    reg = registry(request)
    body = {
        "processes": [describe(reg.get(pid), base, full=False) for pid in reg.ids()],
        "links": [{"rel": "self", "type": JSON, "href": f"{base}/processes"}],
    }
    return Response(orjson.dumps(body), media_type=JSON)


@router.get("/processes/{process_id}", summary="One service's description")
def describe_process(process_id: str, request: Request) -> Response:
    reg = registry(request)
    return Response(orjson.dumps(describe(reg.get(process_id), base_url(request))), media_type=JSON)
