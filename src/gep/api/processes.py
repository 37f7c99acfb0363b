"""OGC API - Processes - Part 1: processes, execution (sync and async) and jobs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gep.accounts.credits import CreditStore, check_price
from gep.api.asset_urls import asset_url
from gep.api.auth import caller, require_admin, require_deployer, require_user
from gep.api.deps import asset_urls, base_url, json_body
from gep.api.openapi import answer, json_request, param, problems, query, request_header
from gep.api.services import services
from gep.api.sharing import check_sharing, delete_route, share, share_route
from gep.catalog.search import parse_limit, parse_offset
from gep.core.access import PRIVATE, Viewer
from gep.core.enums import JobStatus
from gep.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gep.core.ids import check_id
from gep.core.timeutil import format_rfc3339, from_micros, parse_datetime_interval
from gep.jobs.deployed import DeployedStore
from gep.jobs.publish import main_result, result_items
from gep.jobs.service import JobService
from gep.jobs.store import Job
from gep.jobs.validation import Validations
from gep.processes.base import Process
from gep.processes.cwl import (
    MEDIA_TYPES,
    CwlProcess,
    main_process,
    parse_package,
    validate_with_cwltool,
)
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

_PACKAGE = json_request(
    "A CWL application package (a Workflow or CommandLineTool with an id)",
    {"type": "string"},
    media=MEDIA_TYPES,
)
_EXECUTE = json_request(
    "An execute request: the service's inputs by name (see the process description)",
    {"type": "object", "properties": {"inputs": {"type": "object"}}},
)
_PRICE_PART = {"type": "number", "minimum": 0}
_STATUS_INFO = {
    "type": "object",
    "required": ["jobID", "status", "type", "links"],
    "properties": {
        "jobID": {"type": "string"},
        "processID": {"type": "string"},
        "type": {"const": "process"},
        "status": {
            "type": "string",
            "enum": ["accepted", "running", "successful", "failed", "dismissed"],
        },
        "message": {"type": "string"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}


def registry(request: Request) -> ProcessRegistry:
    return services(request).processes


@router.get(
    "/processes",
    summary="The processing services the caller may use",
    responses=problems(401),
)
def list_processes(request: Request) -> Response:
    base = base_url(request)
    reg = registry(request)
    hidden = deployed(request).hidden_from(caller(request))
    body = {
        "processes": [
            describe(reg.get(pid), base, full=False) for pid in reg.ids() if pid not in hidden
        ],
        "links": [{"rel": "self", "type": JSON, "href": f"{base}/processes"}],
    }
    return Response(orjson.dumps(body), media_type=JSON)


def deployed(request: Request) -> DeployedStore:
    return services(request).deployed


def jobs(request: Request) -> JobService:
    return services(request).jobs


def validations(request: Request) -> Validations:
    return Validations(jobs(request))


def visible_process(request: Request, process_id: str) -> Process:
    """The process, when the caller may see it (built-ins are everyone's); no-such-process as
    for an unknown id otherwise."""
    return jobs(request).visible_process(caller(request), process_id)


def _own_deployed(request: Request, process_id: str, *, deploying: bool = True) -> None:
    """A deployed package the caller may change: 404 when they may not see it, 403 when it is
    someone else's or a built-in (or, when ``deploying``, the caller may not deploy)."""
    viewer = require_deployer(request) if deploying else require_user(request)
    visible_process(request, process_id)
    acc = deployed(request).access(process_id)
    if acc is None:
        raise Forbidden(f"'{process_id}' is a built-in service, not a deployed package")
    if not viewer.may_change(acc.owner):
        raise Forbidden(f"process '{process_id}' was deployed by someone else", field="processId")


async def _package(request: Request) -> tuple[CwlProcess, str, str]:
    media = request.headers.get("content-type", "")
    doc, text_ = parse_package(await request.body(), media)
    proc_doc = main_process(doc)
    process_id = str(proc_doc.get("id") or doc.get("id") or "").split("/")[-1].lstrip("#")
    if not process_id or process_id == "main":
        raise InvalidInput("the package's entry point needs an id (the process id)", field="id")
    check_id(process_id, "id", "the process id")
    process = CwlProcess(process_id, text_, doc)  # maps the inputs: 400 when it cannot
    await run_in_threadpool(validate_with_cwltool, text_)
    process.runtime = services(request).cwl_runtime
    return process, text_, media.split(";")[0].strip()


@router.post(
    "/processes",
    status_code=201,
    summary="Deploy an application package (CWL)",
    dependencies=[Depends(require_deployer)],
    responses=problems(400, 401, 403, 409, 415),
    openapi_extra=_PACKAGE,
)
async def deploy(request: Request, visibility: str = Query(PRIVATE)) -> Response:
    """The deployer owns the service; it is private (to try it on sample data) until it has
    passed a validation (``POST /processes/{id}/validation``) and is shared with
    ``PATCH /processes/{id}``: ``?visibility=`` other than private is refused (409)."""
    viewer = require_deployer(request)
    visibility = check_sharing(request, viewer, visibility)
    process, text_, media = await _package(request)
    if visibility != PRIVATE:
        raise Conflict(
            f"a new service is private until it has passed validation: deploy '{process.id}' "
            f"private, POST /processes/{process.id}/validation to run its samples, then share "
            f"it with PATCH /processes/{process.id}",
            field="visibility",
        )
    reg = registry(request)
    acc = deployed(request).access(process.id)
    if acc is not None and not viewer.may_see(acc.owner, acc.visibility):
        # hidden must look like missing: not "already exists", and not why
        raise Forbidden(f"process id '{process.id}' is not available; choose another", field="id")
    if reg.has(process.id):
        raise Conflict(
            f"process '{process.id}' already exists; PUT /processes/{process.id} "
            "replaces a deployed one",
            field="id",
        )
    await run_in_threadpool(
        lambda: deployed(request).save(
            process.id, text_, media, replace=False, owner=viewer.user_id, visibility=visibility
        )
    )
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
    responses=problems(400, 401, 403, 404, 415),
    openapi_extra=_PACKAGE,
)
async def replace(process_id: str, request: Request) -> Response:
    _own_deployed(request, process_id)
    process, text_, media = await _package(request)
    if process.id != process_id:
        raise InvalidInput(
            f"the package's id is '{process.id}', the URL's '{process_id}'", field="id"
        )
    await run_in_threadpool(lambda: deployed(request).save(process_id, text_, media, replace=True))
    registry(request).add(process)
    return Response(status_code=204)


@delete_route(
    router,
    "/processes/{process_id}",
    summary="Undeploy a package",
    dependencies=[Depends(require_deployer)],
)
def undeploy(process_id: str, request: Request) -> Response:
    _own_deployed(request, process_id)
    deployed(request).delete(process_id)
    registry(request).remove(process_id)
    return Response(status_code=204)


@router.get(
    "/processes/{process_id}/package",
    summary="A deployed package, as deployed",
    response_class=Response,
    responses={
        **answer(MEDIA_TYPES, "The package, in the media type it was deployed with"),
        **problems(401, 404, s404="No such process, or a built-in one (no package)"),
    },
)
def package(process_id: str, request: Request) -> Response:
    visible_process(request, process_id)
    text_, media = deployed(request).package(process_id)
    return Response(text_, media_type=media if "yaml" in media else "application/cwl+yaml")


@router.get(
    "/processes/{process_id}", summary="One service's description", responses=problems(401, 404)
)
def describe_process(process_id: str, request: Request) -> Response:
    process = visible_process(request, process_id)
    doc = describe(process, base_url(request))
    if isinstance(process, CwlProcess):  # how its tools run: confined, or not
        doc["gep:runtime"] = process.runtime_description()
    doc["gep:price"] = credits_of(request).price(process_id).as_dict()
    acc = deployed(request).access(process_id)
    if acc is not None:
        doc["gep:visibility"] = acc.visibility
        doc["gep:validation"] = _validation_summary(request, process)
    return Response(orjson.dumps(doc), media_type=JSON)


def _validation_summary(request: Request, process: Process) -> dict[str, Any]:
    """What a deployed service's description says of its validation: whether it declares
    samples, and its last validation (status, times, job, reasons; the log is its own)."""
    declared = isinstance(process, CwlProcess) and process.validation is not None
    checks = validations(request)
    last = checks.last(process.id)
    if last is None:
        return {"declared": declared, "status": "none"}
    return {"declared": declared, **checks.describe(last, base_url(request), full=False)}


@share_route(router, "/processes/{process_id}", summary="Share or unshare a deployed service")
async def share_process(process_id: str, request: Request) -> Response:
    """Body ``{"visibility": "private" | "group:<name>" | "public"}``: offering a service to a
    community, or to everyone, is its deployer's choice."""
    viewer = require_user(request)

    def give(_: None, visibility: str) -> None:
        # beyond its developer only once it passed; making it private again is always allowed
        if visibility != PRIVATE:
            validations(request).check_shareable(process_id)
        deployed(request).set_visibility(process_id, visibility)

    _, visibility = await share(
        request, viewer, lambda: _own_deployed(request, process_id, deploying=False), give
    )
    return Response(orjson.dumps({"id": process_id, "visibility": visibility}), media_type=JSON)


@router.post(
    "/processes/{process_id}/validation",
    status_code=201,
    summary="Validate a deployed service: run its declared samples as a job",
    responses=problems(400, 401, 402, 403, 404, 409, 429),
)
async def validate_process(process_id: str, request: Request) -> Response:
    """The package's ``gep:Validation`` samples run as a job of the caller's (its developer,
    or an administrator), checked and charged as any execution; 201 with the validation,
    ``running``, and ``Location`` where its verdict comes (passed, or failed with each broken
    expectation named, and the job's log). 409 when the package declares no samples, or a
    validation of it is running."""
    viewer = require_user(request)
    await run_in_threadpool(_own_deployed, request, process_id, deploying=False)
    checks = validations(request)
    rec = await checks.start(viewer, process_id)
    base = base_url(request)
    return Response(
        orjson.dumps(checks.describe(rec, base)),
        status_code=201,
        media_type=JSON,
        headers={"Location": f"{base}/processes/{process_id}/validation"},
    )


@router.get(
    "/processes/{process_id}/validation",
    summary="A deployed service's last validation",
    responses=problems(401, 404, s404="No such process, or it has never been validated"),
)
def last_validation(process_id: str, request: Request) -> Response:
    """Its verdict once the job has ended (recorded the first time it is read so); the job's
    log only for the service's developer and administrators."""
    process = visible_process(request, process_id)
    checks = validations(request)
    last = checks.last(process.id)
    if last is None:
        raise NotFound(
            f"process '{process_id}' has no validation; POST /processes/{process_id}/"
            "validation runs its samples",
            field="processId",
        )
    acc = deployed(request).access(process_id)
    mine = acc is not None and caller(request).may_change(acc.owner)
    return Response(
        orjson.dumps(checks.describe(last, base_url(request), full=mine)), media_type=JSON
    )


@router.get(
    "/processes/{process_id}/validations",
    summary="A deployed service's validations, newest first",
    responses=problems(400, 401, 404),
    openapi_extra=query(param("limit", "How many (1…10000)", {"type": "integer"})),
)
def validation_history(process_id: str, request: Request) -> Response:
    process = visible_process(request, process_id)
    limit = parse_limit(request.query_params.get("limit", 20))
    checks = validations(request)
    base = base_url(request)
    found = [checks.describe(r, base, full=False) for r in checks.history(process.id, limit)]
    return Response(orjson.dumps({"validations": found}), media_type=JSON)


def credits_of(request: Request) -> CreditStore:
    return services(request).credits


@router.get(
    "/processes/{process_id}/price",
    summary="A service's price in credits",
    responses=problems(401, 404),
)
def get_price(process_id: str, request: Request) -> Response:
    visible_process(request, process_id)
    return Response(orjson.dumps(credits_of(request).price(process_id).as_dict()), media_type=JSON)


@router.put(
    "/processes/{process_id}/price",
    summary="Set a service's price (administrators)",
    responses=problems(400, 401, 403, 404, 415),
    openapi_extra=json_request(
        "Price parts in credits",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                k: _PRICE_PART
                for k in ("per_job", "per_input", "per_km2", "per_cpu_s", "estimate_cpu_s")
            },
        },
    ),
)
async def set_price(process_id: str, request: Request) -> Response:
    """Body: any of ``per_job``, ``per_input`` (catalogue products named), ``per_km2`` (area
    processed), ``per_cpu_s`` and ``estimate_cpu_s`` (what a quote assumes), in credits."""
    require_admin(request)
    registry(request).get(process_id)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object of price parts", field="body")
    price = check_price(body)
    await run_in_threadpool(credits_of(request).set_price, process_id, price)
    return Response(orjson.dumps(price.as_dict()), media_type=JSON)


# ---------------------------------------------------------------------- execution and jobs


def _status(text: str) -> JobStatus:
    """One ``status`` value of ``GET /jobs``; 400 naming the accepted ones otherwise."""
    try:
        return JobStatus(text)
    except ValueError:
        raise InvalidInput(
            f"status '{text}' is not one of " + ", ".join(JobStatus),
            field="status",
        ) from None


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
        # retention (gep.jobs.retention): pinned results never expire; when they expired
        "gep:pinned": job.pinned,
        "gep:expired": iso(job.expired),
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


@router.post(
    "/processes/{process_id}/quote",
    summary="What an execution would cost",
    responses=problems(400, 401, 404, 415),
    openapi_extra=_EXECUTE,
)
async def quote_execution(process_id: str, request: Request) -> Response:
    """The same body as an execution; nothing runs and nothing is held."""
    viewer = require_user(request)
    quote = await jobs(request).quote(viewer, process_id, await json_body(request))
    return Response(orjson.dumps(quote.as_dict()), media_type=JSON)


@router.post(
    "/processes/{process_id}/execution",
    summary="Execute a service",
    response_class=Response,
    responses={
        **answer(JSON, "Synchronous: the outputs (or, with ?quote=true, the quote)"),
        **answer(
            JSON,
            "Asynchronous, synchronous past the server's sync timeout, or a synchronous job "
            "that failed (its reason in message): the job's status (Location: the job)",
            status=201,
            schema=_STATUS_INFO,
        ),
        **problems(
            400,
            401,
            402,
            404,
            415,
            429,
            503,
            s429="Too many of the caller's jobs queued or synchronous executions waiting",
            s503="The server cannot run this service as configured (no sandbox for packages)",
        ),
    },
    openapi_extra={
        **_EXECUTE,
        **request_header(
            "Prefer",
            "respond-async: answer 201 at once with the job's status (a synchronous execution "
            "that outlasts the server's sync timeout answers so too)",
        ),
    },
)
async def execute(
    process_id: str,
    request: Request,
    quote_only: bool = Query(False, alias="quote", description="Only say what it would cost"),
    dry_run: bool = Query(
        False,
        description="Make every check of a submission (inputs, items and their hrefs, quote, "
        "credits, queue) and run nothing: 200 with the quote, or the problem a submission "
        "would meet",
    ),
) -> Response:
    """Runs the service for the caller. Its price is held from their credits on submission
    (402 with the balance and the price when it is not there), charged on success, refunded
    on failure or when the job is dismissed before it starts.

    A synchronous execution waits on the event loop (``JobEngine.wait_async``), holding no
    thread of the request pool; past ``sync_timeout_s`` it answers 201 with the job, as for
    ``respond-async``. One user may have ``jobs_max_sync_per_user`` synchronous executions
    waiting and ``jobs_max_queued_per_user`` jobs accepted or running: beyond either, 429
    before any job or hold exists."""
    viewer = require_user(request)
    body = await json_body(request)
    service = jobs(request)
    if quote_only:
        quote = await service.quote(viewer, process_id, body)
        return Response(orjson.dumps(quote.as_dict()), media_type=JSON)
    if dry_run:
        checked = await run_in_threadpool(service.dry_run, viewer, process_id, body)
        answer_ = {
            "dry_run": True,
            "valid": True,
            "processID": process_id,
            "inputs": checked.inputs,
            "quote": checked.quote.as_dict(),
        }
        return Response(orjson.dumps(answer_), media_type=JSON)
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    asked_async = "respond-async" in prefer
    submitted = await service.submit(viewer, process_id, body, respond_async=asked_async)
    job = submitted.job
    base = base_url(request)
    location = {"Location": f"{base}/jobs/{job.id}"}
    if submitted.outputs_ready:
        outputs = await run_in_threadpool(_public_outputs, request, viewer, job.id, job.outputs)
        return Response(orjson.dumps(outputs), media_type=JSON, headers=location)
    # asynchronous, a synchronous one that outlasted the sync timeout (the job goes on, and is
    # charged once when it ends: the caller follows Location rather than retrying), one that
    # failed (a service's run-time failure is the job's, with its reason in the status, never
    # a server error) or one dismissed while it was waited for: the job's status
    applied = {"Preference-Applied": "respond-async"} if asked_async else {}
    return Response(
        orjson.dumps(_status_info(job, base)),
        status_code=201,
        media_type=JSON,
        headers={**location, **applied},
    )


@router.get(
    "/jobs",
    summary="Jobs, newest first",
    responses=problems(400, 401),
    openapi_extra=query(
        param("status", "Comma-separated: accepted, running, successful, failed, dismissed"),
        param("processID", "Comma-separated process ids"),
        param("limit", "Page size (1…10000)", {"type": "integer"}),
        param("offset", "Jobs to skip", {"type": "integer"}),
        param("datetime", "When the job was created: an RFC 3339 instant or interval"),
        param("prefix", "Only jobs whose id starts with this (a short id, as the CLI takes)"),
    ),
)
def list_jobs(request: Request) -> Response:
    qp = request.query_params
    prefix = qp.get("prefix")
    if prefix is not None and not 0 < len(prefix) <= 64:
        raise InvalidInput("prefix is the start of a job id (1 to 64 characters)", field="prefix")
    status = [_status(s) for v in qp.getlist("status") for s in v.split(",") if s] or None
    process_ids = [p for v in qp.getlist("processID") for p in v.split(",") if p] or None
    limit = parse_limit(qp.get("limit", 10))
    offset = parse_offset(qp.get("offset", 0))
    created = None
    if qp.get("datetime"):
        rng = parse_datetime_interval(qp["datetime"])
        created = (rng.start_us, rng.end_us)
    found, total = jobs(request).list_jobs(
        caller(request),
        status=status,
        process_ids=process_ids,
        limit=limit,
        offset=offset,
        created=created,
        prefix=prefix,
    )
    base = base_url(request)
    links = [{"rel": "self", "type": JSON, "href": str(request.url)}]
    if offset + limit < total:
        params = {**dict(qp), "offset": str(offset + limit), "limit": str(limit)}
        links.append({"rel": "next", "type": JSON, "href": f"{base}/jobs?{urlencode(params)}"})
    body = {"jobs": [_status_info(j, base) for j in found], "links": links, "numberMatched": total}
    return Response(orjson.dumps(body), media_type=JSON)


@router.get(
    "/jobs/{job_id}",
    summary="A job's status",
    response_class=Response,
    responses={**answer(JSON, "The job's status", schema=_STATUS_INFO), **problems(401, 404)},
)
def job_status(job_id: str, request: Request) -> Response:
    """The job's status; a successful one links its result as a STAC item too."""
    job = jobs(request).get(caller(request), job_id)
    base = base_url(request)
    info = _status_info(job, base)
    if job.status == JobStatus.SUCCESSFUL:
        collection = main_result(services(request).store, job.id)
        if collection is not None:
            info["links"].append(
                {
                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                    "type": "application/geo+json",
                    "href": f"{base}/stac/collections/{quote(collection, safe='')}"
                    f"/items/{quote(job.id, safe='')}",
                    "title": "The results as a STAC item",
                }
            )
    info["gep:visibility"] = job.visibility
    if job.charge:
        info["gep:quote"] = job.charge.get("credits")
    return Response(orjson.dumps(info), media_type=JSON)


@share_route(router, "/jobs/{job_id}", summary="Share or unshare a job and its results")
async def share_job(job_id: str, request: Request) -> Response:
    """Body ``{"visibility": …}``: the job and every item it published change together."""
    service, viewer = jobs(request), require_user(request)
    shared, visibility = await share(
        request, viewer, lambda: service.own_job(viewer, job_id), service.share
    )
    return Response(
        orjson.dumps({"jobID": job_id, "visibility": visibility, "results_shared": shared}),
        media_type=JSON,
    )


@router.get(
    "/jobs/{job_id}/inputs",
    summary="A job's inputs, as it was submitted",
    responses=problems(401, 404),
)
def job_inputs(job_id: str, request: Request) -> Response:
    """What re-submitting the job sends again (OGC API - Processes Part 4 names this
    resource); the same visibility as the job's status."""
    job = jobs(request).get(caller(request), job_id)
    body = {"jobID": job.id, "processID": job.process_id, "inputs": job.inputs}
    return Response(orjson.dumps(body), media_type=JSON)


@router.get(
    "/jobs/{job_id}/results",
    summary="A job's results",
    responses=problems(
        401,
        404,
        500,
        s404="No such job, or its results are not ready (result-not-ready)",
        s500="The job failed: its error",
    ),
)
def job_results(job_id: str, request: Request) -> Response:
    viewer = caller(request)
    outputs = jobs(request).results(viewer, job_id)
    return Response(
        orjson.dumps(_public_outputs(request, viewer, job_id, outputs)), media_type=JSON
    )


def _public_outputs(request: Request, viewer: Viewer, job_id: str, outputs: Any) -> Any:
    """A job's outputs as an OGC API - Processes 1.0 results document: each file a link
    ``{"href", "type"}`` to the GEP URL of its asset in the job's published items (the outputs
    record keeps the storage hrefs, as the items do), an object output a qualified value
    ``{"value": …}``, other values as they are."""
    urls = asset_urls(request)
    store = services(request).store
    links: dict[str, dict[str, str]] = {}
    for collection, item_id in result_items(store, job_id):  # in whichever result collection
        try:
            item = orjson.loads(store.get_item(collection, item_id, viewer))
        except NotFound:  # removed meanwhile, or not the caller's to see
            continue
        for key, asset in (item.get("assets") or {}).items():
            href = asset.get("href") if isinstance(asset, dict) else None
            if isinstance(href, str) and urls.served(href) and href not in links:
                link = {"href": asset_url(urls.base, collection, item_id, str(key))}
                if isinstance(asset.get("type"), str):
                    link["type"] = asset["type"]
                links[href] = link
    if not isinstance(outputs, dict):
        return outputs or {}
    out: dict[str, Any] = {}
    for name, value in outputs.items():
        if value is None:  # an optional output the job did not make: absent, not null
            continue
        linked = _as_links(value, links)
        out[name] = {"value": linked} if isinstance(value, dict) else linked
    return out


def _as_links(value: Any, links: dict[str, dict[str, str]]) -> Any:
    """``value`` with each stored file's href replaced by its link."""
    if isinstance(value, str):
        return links.get(value, value)
    if isinstance(value, list):
        return [_as_links(v, links) for v in value]
    if isinstance(value, dict):
        return {k: _as_links(v, links) for k, v in value.items()}
    return value


@router.delete(
    "/jobs/{job_id}",
    summary="Dismiss a job",
    response_class=Response,
    responses={**answer(JSON, "The job's status", schema=_STATUS_INFO), **problems(401, 403, 404)},
)
async def dismiss_job(job_id: str, request: Request) -> Response:
    job = await jobs(request).dismiss(require_user(request), job_id)
    return Response(orjson.dumps(_status_info(job, base_url(request))), media_type=JSON)


@router.get(
    "/jobs/{job_id}/logs",
    summary="A job's log lines",
    responses=problems(400, 401, 404),
    openapi_extra=query(
        param("limit", "Lines per page (1…10000)", {"type": "integer"}),
        param("offset", "Lines to skip", {"type": "integer"}),
        param("level", "Only lines of this level (INFO, WARNING, ERROR…)"),
    ),
)
def job_logs(job_id: str, request: Request) -> Response:
    qp = request.query_params
    limit = parse_limit(qp.get("limit", 100))
    offset = parse_offset(qp.get("offset", 0))
    lines = jobs(request).logs(
        caller(request), job_id, level=qp.get("level"), limit=limit, offset=offset
    )
    return Response(orjson.dumps({"jobID": job_id, "logs": lines}), media_type=JSON)
