"""OGC API - Processes - Part 1: processes, execution (sync and async) and jobs."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.api.deps import base_url, json_body
from gep.catalog.search import parse_limit
from gep.core.errors import Conflict, InvalidInput, NotFound
from gep.core.timeutil import format_rfc3339, from_micros, parse_datetime_interval
from gep.jobs.deployed import DeployedStore
from gep.jobs.engine import JobEngine, parse_item_ref, remove_results
from gep.jobs.store import (
    ACCEPTED,
    DISMISSED,
    FAILED,
    RUNNING,
    SUCCESSFUL,
    Job,
    JobFailed,
    JobStore,
    ResultNotReady,
)
from gep.processes.base import ITEM_REF
from gep.processes.cwl import CwlProcess, main_process, parse_package, validate_with_cwltool
from gep.processes.registry import ProcessRegistry, describe

router = APIRouter(tags=["OGC API - Processes"])

#: the classes the tests exercise (tests/jobs, tests/processes); no callbacks, no OpenAPI 3.0
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/deploy-replace-undeploy",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/ogcapppkg",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/cwl",
]

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


def require_deployer(request: Request) -> None:
    """Deploying is a privileged action: the one place the accounts issue will check the
    caller's role (developer or admin). Until then every caller of this server may deploy."""


def deployed(request: Request) -> DeployedStore:
    return request.app.state.deployed  # type: ignore[no-any-return]


async def _package(request: Request) -> tuple[CwlProcess, str, str]:
    media = request.headers.get("content-type", "")
    doc, text_ = parse_package(await request.body(), media)
    proc_doc = main_process(doc)
    process_id = str(proc_doc.get("id") or doc.get("id") or "").split("/")[-1].lstrip("#")
    if not process_id or process_id == "main":
        raise InvalidInput("the package's entry point needs an id (the process id)", field="id")
    process = CwlProcess(process_id, text_, doc)  # maps the inputs: 400 when it cannot
    await run_in_threadpool(validate_with_cwltool, text_)
    process.runtime = request.app.state.cwl_runtime
    return process, text_, media.split(";")[0].strip()


@router.post(
    "/processes",
    status_code=201,
    summary="Deploy an application package (CWL)",
    dependencies=[Depends(require_deployer)],
)
async def deploy(request: Request) -> Response:
    process, text_, media = await _package(request)
    reg = registry(request)
    if reg.has(process.id):
        raise Conflict(
            f"process '{process.id}' already exists; PUT /processes/{process.id} "
            "replaces a deployed one",
            field="id",
        )
    await run_in_threadpool(lambda: deployed(request).save(process.id, text_, media, replace=False))
    reg.add(process)
    base = base_url(request)
    return Response(
        orjson.dumps(describe(process, base, full=False)),
        status_code=201,
        media_type=JSON,
        headers={"Location": f"{base}/processes/{process.id}"},
    )


@router.put(
    "/processes/{process_id}",
    status_code=204,
    summary="Replace a deployed package",
    dependencies=[Depends(require_deployer)],
)
async def replace(process_id: str, request: Request) -> Response:
    process, text_, media = await _package(request)
    if process.id != process_id:
        raise InvalidInput(
            f"the package's id is '{process.id}', the URL's '{process_id}'", field="id"
        )
    await run_in_threadpool(lambda: deployed(request).save(process_id, text_, media, replace=True))
    registry(request).add(process)
    return Response(status_code=204)


@router.delete(
    "/processes/{process_id}",
    status_code=204,
    summary="Undeploy a package",
    dependencies=[Depends(require_deployer)],
)
def undeploy(process_id: str, request: Request) -> Response:
    registry(request).get(process_id)  # no-such-process for unknown ids
    deployed(request).delete(process_id)
    registry(request).remove(process_id)
    return Response(status_code=204)


@router.get("/processes/{process_id}/package", summary="A deployed package, as deployed")
def package(process_id: str, request: Request) -> Response:
    registry(request).get(process_id)
    text_, media = deployed(request).package(process_id)
    return Response(text_, media_type=media if "yaml" in media else "application/cwl+yaml")


@router.get("/processes/{process_id}", summary="One service's description")
def describe_process(process_id: str, request: Request) -> Response:
    reg = registry(request)
    return Response(orjson.dumps(describe(reg.get(process_id), base_url(request))), media_type=JSON)


# ---------------------------------------------------------------------- execution and jobs


def jobs(request: Request) -> tuple[JobStore, JobEngine]:
    return request.app.state.job_store, request.app.state.job_engine  # type: ignore[no-any-return]


def _status_info(job: Job, base: str) -> dict[str, Any]:
    def iso(us: int | None) -> str | None:
        return None if us is None else format_rfc3339(from_micros(us))

    info: dict[str, Any] = {
        "jobID": job.id,
        "processID": job.process_id,
        "type": "process",
        "status": job.status,
        "message": job.message,
        "progress": job.progress,
        "created": iso(job.created),
        "started": iso(job.started),
        "finished": iso(job.finished),
        "updated": iso(job.updated),
        "links": [
            {"rel": "self", "type": JSON, "href": f"{base}/jobs/{job.id}"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                "type": JSON,
                "href": f"{base}/jobs/{job.id}/results",
            },
            {"rel": "logs", "type": JSON, "href": f"{base}/jobs/{job.id}/logs"},
        ],
    }
    return {k: v for k, v in info.items() if v is not None}


def check_item_inputs(
    request: Request, process: Any, inputs: dict[str, Any], model: Any = None
) -> None:
    """Inputs that name catalogue items must name existing items (and assets) — refused with
    the input's path before a job exists, rather than failing the job later. The service's own
    ``preflight`` then checks what only it understands (a pair's tracks, an area's overlap)."""
    props = process.Inputs.model_json_schema().get("properties", {})
    store = request.app.state.store
    items: dict[str, dict[str, Any]] = {}
    for name, schema in props.items():
        if schema.get("format") != ITEM_REF or inputs.get(name) is None:
            continue
        try:
            collection, item_id = parse_item_ref(inputs[name])
            item = orjson.loads(store.get_item(collection, item_id))
        except NotFound as exc:
            raise InvalidInput(f"inputs.{name}: {exc.message}", field=f"inputs.{name}") from None
        items[name] = item
        for other, oschema in props.items():
            key = inputs.get(other)
            if (
                oschema.get("x-gep-asset-of") == name
                and key is not None
                and key not in (item.get("assets") or {})
            ):
                raise InvalidInput(
                    f"inputs.{other}: item '{collection}/{item_id}' has no asset '{key}'; it "
                    "has: " + ", ".join(sorted(item.get("assets") or {})),
                    field=f"inputs.{other}",
                )
    if model is not None:
        process.preflight(model, items)


@router.post("/processes/{process_id}/execution", summary="Execute a service")
async def execute(process_id: str, request: Request) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput('the body must be an execute request {"inputs": {...}}', field="body")
    reg = registry(request)
    process = reg.get(process_id)
    inputs = body.get("inputs", {})
    model = reg.validate_inputs(process_id, inputs)  # 400 naming the input, before queueing
    await run_in_threadpool(check_item_inputs, request, process, inputs, model)
    store, engine = jobs(request)
    base = base_url(request)
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    asynchronous = "respond-async" in prefer or "sync-execute" not in process.job_control
    settings = request.app.state.settings
    job = await run_in_threadpool(
        lambda: store.create(
            process_id,
            inputs,
            max_attempts=settings.jobs_max_attempts,
            timeout_s=settings.jobs_timeout_s or None,
        )
    )
    await run_in_threadpool(engine.submit, job.id)
    location = {"Location": f"{base}/jobs/{job.id}"}
    if not asynchronous:
        done = await run_in_threadpool(engine.wait, job.id, settings.sync_timeout_s)
        if done:
            job = await run_in_threadpool(store.get, job.id)
            engine.forget(job.id)
            if job.status == SUCCESSFUL:
                return Response(orjson.dumps(job.outputs or {}), media_type=JSON, headers=location)
            raise JobFailed(job.error or job.message, field="jobId", jobID=job.id)
    return Response(
        orjson.dumps(_status_info(job, base)),
        status_code=201,
        media_type=JSON,
        headers={**location, "Preference-Applied": "respond-async"},
    )


@router.get("/jobs", summary="Jobs, newest first")
def list_jobs(request: Request) -> Response:
    store, _ = jobs(request)
    qp = request.query_params
    status = [s for v in qp.getlist("status") for s in v.split(",") if s] or None
    for s in status or []:
        if s not in (ACCEPTED, RUNNING, SUCCESSFUL, FAILED, DISMISSED):
            raise InvalidInput(
                f"status '{s}' is not one of accepted, running, successful, failed, dismissed",
                field="status",
            )
    process_ids = [p for v in qp.getlist("processID") for p in v.split(",") if p] or None
    limit = parse_limit(qp.get("limit", 10))
    try:
        offset = int(qp.get("offset", 0))
    except ValueError:
        raise InvalidInput("offset must be an integer", field="offset") from None
    created = None
    if qp.get("datetime"):
        rng = parse_datetime_interval(qp["datetime"])
        created = (rng.start_us, rng.end_us)
    found, total = store.list_jobs(
        status=status, process_id=process_ids, limit=limit, offset=offset, created=created
    )
    base = base_url(request)
    links = [{"rel": "self", "type": JSON, "href": str(request.url)}]
    if offset + limit < total:
        params = {**dict(qp), "offset": str(offset + limit), "limit": str(limit)}
        links.append({"rel": "next", "type": JSON, "href": f"{base}/jobs?{urlencode(params)}"})
    body = {"jobs": [_status_info(j, base) for j in found], "links": links, "numberMatched": total}
    return Response(orjson.dumps(body), media_type=JSON)


@router.get("/jobs/{job_id}", summary="A job's status")
def job_status(job_id: str, request: Request) -> Response:
    store, _ = jobs(request)
    return Response(
        orjson.dumps(_status_info(store.get(job_id), base_url(request))), media_type=JSON
    )


@router.get("/jobs/{job_id}/results", summary="A job's results")
def job_results(job_id: str, request: Request) -> Response:
    store, _ = jobs(request)
    job = store.get(job_id)
    if job.status == SUCCESSFUL:
        return Response(orjson.dumps(job.outputs or {}), media_type=JSON)
    if job.status == FAILED:
        raise JobFailed(job.error or job.message, field="jobId", jobID=job.id)
    raise ResultNotReady(
        f"job '{job_id}' is {job.status}; results come when it is successful", field="jobId"
    )


@router.delete("/jobs/{job_id}", summary="Dismiss a job")
async def dismiss_job(job_id: str, request: Request) -> Response:
    store, engine = jobs(request)
    if await run_in_threadpool(store.dismiss_finished, job_id):
        # OGC: dismissing a finished job removes its results (files and catalogue items)
        await run_in_threadpool(
            remove_results, request.app.state.store, engine.storage_root, job_id
        )
        return Response(
            orjson.dumps(_status_info(store.get(job_id), base_url(request))), media_type=JSON
        )
    job = await run_in_threadpool(store.request_dismiss, job_id)
    for _ in range(40):  # a running job stops at its next progress report
        if job.status != RUNNING:
            break
        await asyncio.sleep(0.05)
        job = await run_in_threadpool(store.get, job_id)
    return Response(orjson.dumps(_status_info(job, base_url(request))), media_type=JSON)


@router.get("/jobs/{job_id}/logs", summary="A job's log lines")
def job_logs(job_id: str, request: Request) -> Response:
    store, _ = jobs(request)
    qp = request.query_params
    limit = parse_limit(qp.get("limit", 100))
    try:
        offset = int(qp.get("offset", 0))
    except ValueError:
        raise InvalidInput("offset must be an integer", field="offset") from None
    lines = store.logs(job_id, level=qp.get("level"), limit=limit, offset=offset)
    return Response(orjson.dumps({"jobID": job_id, "logs": lines}), media_type=JSON)
