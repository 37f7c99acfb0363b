"""The job service: what may be asked of jobs, whoever asks (the API, the CLI, triggers).

One object owns a submission from the execute request to the queued job: the process the
caller may see, the inputs (declared, required, valid), the catalogue items they name
(resolved with the caller's permissions, their hrefs checked by the gateway), the service's own
preflight, the quote, the credit hold and the per-user limits, the job's creation and its
queueing on the engine, and, for a synchronous execution, the wait. Dismissing, sharing and
reading jobs live here too, so the API's routes only translate HTTP to these calls and back,
and a caller that is not the API (systematic processing) submits exactly as a user does.

The service reads no settings: its limits come as an object with the settings' attribute names
(:class:`JobLimits`), read at each call, so that what the server was started with (or a test
changed) applies at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import anyio.to_thread
import orjson
from pydantic import BaseModel

from gep.accounts.credits import CreditStore, Price, Quote
from gep.catalog.store import CatalogStore
from gep.core.access import Viewer
from gep.core.enums import JobStatus
from gep.core.errors import (
    Conflict,
    Forbidden,
    GepError,
    InvalidInput,
    NotFound,
    PaymentRequired,
    TooManyRequests,
)
from gep.gateway.resolver import Gateway
from gep.jobs.deployed import DeployedStore
from gep.jobs.engine import JobEngine
from gep.jobs.pricing import job_quote
from gep.jobs.publish import remove_results, share_results
from gep.jobs.retention import pin_job
from gep.jobs.staging import JobPrefetch
from gep.jobs.store import Job, JobFailed, JobOrigin, JobStore, NewJob, ResultNotReady
from gep.processes.base import Process, item_refs, parse_item_ref
from gep.processes.registry import NoSuchProcess, ProcessRegistry, input_names, required_inputs

T = TypeVar("T")

#: what a refusal for too many waiting synchronous executions suggests waiting (seconds)
SYNC_RETRY_AFTER_S = 5


class JobLimits(Protocol):
    """The limits a submission obeys; ``gep.settings.Settings`` has them under these names."""

    @property
    def jobs_max_attempts(self) -> int: ...
    @property
    def jobs_timeout_s(self) -> float: ...
    @property
    def jobs_max_queued_per_user(self) -> int: ...
    @property
    def jobs_max_sync_per_user(self) -> int: ...
    @property
    def sync_timeout_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    """An execute request with every check made: what a job is created from."""

    process: Process
    inputs: dict[str, Any]
    #: the inputs as the process's model validated them
    model: BaseModel
    quote: Quote


@dataclass
class Batch:
    """What :meth:`JobService.enqueue_many` made of a batch."""

    jobs: list[Job] = field(default_factory=list)
    #: requests whose trigger key had a job already
    duplicates: int = 0
    #: jobs created but failed at once (no cluster to queue them on)
    unqueued: int = 0
    #: how many of the batch's requests were handled (created or repeats) before a refusal
    processed: int = 0
    #: why the rest was not created (the owner's credits ran out)
    refused: PaymentRequired | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """A queued job, as the caller should hear of it."""

    job: Job
    #: answered at once (asked for, or the process runs only asynchronously)
    asynchronous: bool
    #: a synchronous execution whose job ended within the sync timeout
    done: bool = False

    @property
    def outputs_ready(self) -> bool:
        """A synchronous execution that ended successfully: the caller gets the outputs; in
        every other case (asynchronous, past the timeout, failed, dismissed) the job's status."""
        return not self.asynchronous and self.done and self.job.status == JobStatus.SUCCESSFUL


async def _in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking work (database, files) off the event loop, on the same worker threads the API
    runs its blocking routes on (AnyIO's), as the routes did before the service existed."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


@dataclass
class JobService:
    """Jobs, for every caller: quote, submit, dismiss, share, results, logs, list."""

    catalog: CatalogStore
    processes: ProcessRegistry
    deployed: DeployedStore
    credits: CreditStore
    store: JobStore
    engine: JobEngine
    gateway: Gateway
    limits: JobLimits
    #: the synchronous executions waiting, per user, in this server process (see
    #: :meth:`sync_waiting_place`)
    sync_waiting: dict[str, int] = field(default_factory=dict)
    #: fetches queued jobs' remote inputs into the cache while they wait (gep.jobs.staging)
    prefetch: JobPrefetch = field(init=False)

    def __post_init__(self) -> None:
        self.prefetch = JobPrefetch(self.catalog, self.gateway, self.store)

    # ------------------------------------------------------------------ processes

    def visible_process(self, viewer: Viewer, process_id: str) -> Process:
        """The process, when ``viewer`` may see it (built-ins are everyone's); no-such-process
        as for an unknown id otherwise."""
        process = self.processes.get(process_id)
        acc = self.deployed.access(process_id)
        if acc is not None and not viewer.may_see(acc.owner, acc.visibility):
            raise NoSuchProcess(f"process '{process_id}' does not exist", field="processId")
        return process

    # ------------------------------------------------------------------ submission

    def check(self, viewer: Viewer, process_id: str, request: Any) -> CheckedRequest:
        """An execute request (``{"inputs": {...}}``) of ``viewer``'s, every check made before
        anything exists: 400 for a malformed request, undeclared, missing or invalid inputs,
        items that do not exist for the caller (or an asset they lack), hrefs the job could
        not read, and what the service's preflight refuses; 404 for a process they may not
        see."""
        if not isinstance(request, dict):
            raise InvalidInput(
                'the body must be an execute request {"inputs": {...}}', field="body"
            )
        process = self.visible_process(viewer, process_id)
        return self._checked(viewer, process, self.credits.price(process_id), request)

    def check_many(
        self, viewer: Viewer, process_id: str, requests: list[dict[str, Any]]
    ) -> list[CheckedRequest | GepError]:
        """:meth:`check` of many requests to one process (a subscription's batch): the process
        and its price are looked up once; each request gets its CheckedRequest or the error
        that refused it (a process the viewer may not see refuses them all: raised)."""
        process = self.visible_process(viewer, process_id)
        price = self.credits.price(process_id)
        out: list[CheckedRequest | GepError] = []
        for request in requests:
            try:
                out.append(self._checked(viewer, process, price, request))
            except GepError as exc:
                out.append(exc)
        return out

    def _checked(
        self, viewer: Viewer, process: Process, price: Price, request: dict[str, Any]
    ) -> CheckedRequest:
        if "inputs" not in request:
            _no_inputs(process, request)
        inputs = request.get("inputs", {})
        # 400 naming an undeclared or missing input, with what the process accepts
        model = self.processes.validate_inputs(process.id, inputs)
        items = self.resolve_items(viewer, process, inputs)
        process.preflight(model, items)
        quote = job_quote(process, inputs, price)
        return CheckedRequest(process, inputs, model, quote)

    def resolve_items(
        self, viewer: Viewer, process: Process, inputs: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """The catalogue items the inputs name (:func:`gep.processes.base.item_refs`), by
        path, as ``viewer`` sees them: refused with the input's path before a job exists,
        rather than failing the job later, when one does not exist for them, lacks an asset
        an input names (``x-gep-asset-of``), or has an href the job could not read."""
        items: dict[str, dict[str, Any]] = {}
        for found in item_refs(process, inputs):
            try:
                collection, item_id = parse_item_ref(found.ref)
                item = orjson.loads(self.catalog.get_item(collection, item_id, viewer))
            except NotFound as exc:
                raise InvalidInput(
                    f"inputs.{found.path}: {exc.message}", field=f"inputs.{found.path}"
                ) from None
            items[found.path] = item
            assets = item.get("assets") or {}
            for other in found.asset_inputs:
                key = inputs.get(other)
                if key is not None and key not in assets:
                    raise InvalidInput(
                        f"inputs.{other}: item '{collection}/{item_id}' has no asset '{key}'; "
                        "it has: " + ", ".join(sorted(assets)),
                        field=f"inputs.{other}",
                    )
        for path, item in items.items():  # what the job will read: confined before it exists
            self.gateway.check_item_reads(item, viewer, field=f"inputs.{path}")
        return items

    async def quote(self, viewer: Viewer, process_id: str, request: Any) -> Quote:
        """What the execution would cost; nothing runs and nothing is held."""
        return (await _in_thread(self.check, viewer, process_id, request)).quote

    def dry_run(self, viewer: Viewer, process_id: str, request: Any) -> CheckedRequest:
        """Every check a submission makes, and none of its effects: :meth:`check` (inputs,
        items, hrefs, preflight, quote), then whether ``viewer``'s credits would hold the
        price (402) and whether their queue has room (429), answered with the problems a
        real submission would meet; no job, hold or charge exists after it."""
        checked = self.check(viewer, process_id, request)
        if viewer.user_id is not None:
            self.credits.check_affordable(viewer.user_id, checked.quote.total)
            limit = self.limits.jobs_max_queued_per_user
            active = self.store.count_active(viewer.user_id)
            if active >= limit:
                raise TooManyRequests(
                    f"you have {active} jobs accepted or running, the most one user may have "
                    f"(jobs_max_queued_per_user = {limit}); wait for some to finish or "
                    "dismiss some, then submit again",
                    field="jobs_max_queued_per_user",
                    limit=limit,
                    active=active,
                )
        return checked

    def enqueue(self, viewer: Viewer, checked: CheckedRequest) -> Job:
        """Create the job (its price held from ``viewer``'s credits, 402 when it is not
        there; 429 when they have ``jobs_max_queued_per_user`` jobs accepted or running) and
        queue it on the engine. A job that cannot be queued fails at once, its hold refunded,
        and the error is raised."""
        limits = self.limits
        job = self.store.create(
            checked.process.id,
            checked.inputs,
            max_attempts=limits.jobs_max_attempts,
            timeout_s=limits.jobs_timeout_s or None,
            owner=viewer.user_id,
            quote=checked.quote,
            max_active=limits.jobs_max_queued_per_user,
        )
        self.prefetch.job_queued(job.id, viewer, checked.process, checked.inputs)
        try:
            self.engine.submit(job.id)
        except Exception as exc:  # no cluster to run it on: the job fails now, its hold refunded
            reason = f"could not be queued: {exc}"
            self.store.transition(
                job.id, (JobStatus.ACCEPTED,), JobStatus.FAILED, message=reason, error=reason
            )
            raise
        return job

    def enqueue_many(
        self, viewer: Viewer, batch: list[tuple[CheckedRequest, JobOrigin, str]]
    ) -> Batch:
        """A subscription round's checked requests of one owner as jobs (each with its origin
        and visibility): created in one transaction (the repeats of a trigger key skipped),
        then queued in one call. When the owner's credits cannot hold the whole batch, it is
        created one job at a time up to where they run out (``Batch.refused``). Not counted
        against the owner's queue of interactive jobs (``jobs_max_queued_per_user``): a
        subscription's own cap and budget bound it, and a full queue must not drop systematic
        triggers."""
        limits = self.limits
        new = [
            NewJob(
                checked.process.id,
                checked.inputs,
                origin,
                owner=viewer.user_id,
                visibility=visibility,
                quote=checked.quote,
                max_attempts=limits.jobs_max_attempts,
                timeout_s=limits.jobs_timeout_s or None,
            )
            for checked, origin, visibility in batch
        ]
        out = Batch()
        try:
            created = self.store.create_many(new)
        except PaymentRequired:
            created = []
            for one in new:
                try:
                    created += self.store.create_many([one])
                except PaymentRequired as exc:
                    out.refused = exc
                    break
        out.processed = len(created)
        made: list[Job] = []
        for (checked, _, _), job in zip(batch, created, strict=False):
            if job is None:
                out.duplicates += 1
                continue
            self.prefetch.job_queued(job.id, viewer, checked.process, checked.inputs)
            made.append(job)
        try:
            self.engine.submit_many([job.id for job in made])
        except Exception as exc:  # no cluster: the jobs fail now, their holds refunded
            reason = f"could not be queued: {exc}"
            for job in made:
                self.store.transition(
                    job.id, (JobStatus.ACCEPTED,), JobStatus.FAILED, message=reason, error=reason
                )
            out.unqueued += len(made)
            return out
        out.jobs = made
        return out

    async def submit(
        self, viewer: Viewer, process_id: str, request: Any, *, respond_async: bool = False
    ) -> Submission:
        """Check, create and queue a job; a synchronous one (the process allows it and the
        caller did not ask ``respond_async``) is waited for up to ``sync_timeout_s``.

        The wait is on the event loop (``JobEngine.wait_async``), holding no worker thread.
        One user may have ``jobs_max_sync_per_user`` synchronous executions waiting: beyond
        that, 429 before any job or hold exists."""
        checked = await _in_thread(self.check, viewer, process_id, request)
        asynchronous = respond_async or "sync-execute" not in checked.process.job_control
        limits = self.limits
        with self.sync_waiting_place(
            viewer, None if asynchronous else limits.jobs_max_sync_per_user
        ):
            job = await _in_thread(self.enqueue, viewer, checked)
            if asynchronous:
                return Submission(job, asynchronous=True)
            done = await self.engine.wait_async(job.id, limits.sync_timeout_s)
            job = await _in_thread(self.store.get, job.id)
            if done:
                self.engine.forget(job.id)
            # past the timeout the job goes on, and is charged once when it ends: the caller
            # follows it rather than submitting again
            return Submission(job, asynchronous=False, done=done)

    @contextmanager
    def sync_waiting_place(self, viewer: Viewer, limit: int | None) -> Iterator[None]:
        """Count one of ``viewer``'s synchronous executions while it waits; 429 (before any
        job or hold exists) when they already have ``limit`` waiting. ``None``: not
        synchronous.

        The count lives in this server process, on purpose: what it protects is the process's
        own connections and waiters, and the check and the increment happen with no ``await``
        between them, so concurrent requests on the event loop cannot both pass."""
        if limit is None or viewer.user_id is None:
            yield
            return
        waiting = self.sync_waiting
        now = waiting.get(viewer.user_id, 0)
        if now >= limit:
            raise TooManyRequests(
                f"you have {now} synchronous executions waiting, the most one user may have "
                f"(jobs_max_sync_per_user = {limit}); wait for one to answer, or execute with "
                "'Prefer: respond-async' and follow the job",
                field="jobs_max_sync_per_user",
                limit=limit,
                retry_after=SYNC_RETRY_AFTER_S,
            )
        waiting[viewer.user_id] = now + 1
        try:
            yield
        finally:
            left = waiting.get(viewer.user_id, 1) - 1
            if left > 0:
                waiting[viewer.user_id] = left
            else:
                waiting.pop(viewer.user_id, None)

    # ------------------------------------------------------------------ jobs

    def get(self, viewer: Viewer, job_id: str) -> Job:
        """A job ``viewer`` may see (404 no-such-job otherwise)."""
        return self.store.get(job_id, viewer)

    def own_job(self, viewer: Viewer, job_id: str) -> Job:
        """A job ``viewer`` may change: 404 when they may not see it, 403 when it is not
        theirs."""
        job = self.store.get(job_id, viewer)
        if not viewer.may_change(job.owner):
            raise Forbidden(f"job '{job_id}' is not yours", field="jobId")
        return job

    def list_jobs(
        self,
        viewer: Viewer,
        *,
        status: list[JobStatus] | None = None,
        process_ids: list[str] | None = None,
        limit: int = 10,
        offset: int = 0,
        created: tuple[int | None, int | None] | None = None,
        prefix: str | None = None,
    ) -> tuple[list[Job], int]:
        """Jobs ``viewer`` may see, newest first, and how many match (``prefix``: whose id
        starts with it)."""
        return self.store.list_jobs(
            status=status,
            process_id=process_ids,
            limit=limit,
            offset=offset,
            created=created,
            viewer=viewer,
            prefix=prefix,
        )

    def results(self, viewer: Viewer, job_id: str) -> dict[str, Any]:
        """A successful job's outputs; a failed one's error (JobFailed), otherwise
        result-not-ready."""
        job = self.store.get(job_id, viewer)
        if job.status == JobStatus.SUCCESSFUL:
            return job.outputs or {}
        if job.status == JobStatus.FAILED:
            raise JobFailed(job.error or job.message, field="jobId", jobID=job.id)
        raise ResultNotReady(
            f"job '{job_id}' is {job.status}; results come when it is successful", field="jobId"
        )

    def logs(
        self, viewer: Viewer, job_id: str, *, level: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """A job's log lines (of ``level`` and above), for a caller who may see the job."""
        self.store.get(job_id, viewer)
        return self.store.logs(job_id, level=level, limit=limit, offset=offset)

    def share(self, job: Job, visibility: str) -> int:
        """Give a job (one :meth:`own_job` returned) and every item it published a new
        visibility, already checked; returns how many items changed."""
        self.store.set_visibility(job.id, visibility)
        return share_results(self.catalog, job, visibility)

    def pin(self, viewer: Viewer, job_id: str, pinned: bool) -> Job:
        """Pin (or unpin) one of ``viewer``'s jobs, so that no retention policy expires its
        results (404 when they may not see it, 403 when it is not theirs); 409 when pinning
        comes after the results are gone (dismissed, or already claimed by an expiry)."""
        job = self.own_job(viewer, job_id)
        if not pin_job(self.store, job_id, pinned):
            raise Conflict(
                f"job '{job_id}' is {job.status}"
                + (" and its results expired" if job.expired is not None else "")
                + "; there are no results left to pin",
                field="jobId",
            )
        return self.store.get(job_id)

    async def dismiss(self, viewer: Viewer, job_id: str) -> Job:
        """Dismiss one of ``viewer``'s jobs. A finished one becomes ``dismissed`` and its
        results go (OGC: files and catalogue items); an accepted one is dismissed at once, its
        hold refunded; a running one is flagged and stops at its next progress report, which
        this waits for a moment (two seconds) so that the answer usually says so."""
        await _in_thread(self.own_job, viewer, job_id)
        if await _in_thread(self.store.dismiss_finished, job_id):
            await _in_thread(remove_results, self.catalog, self.gateway.storage, job_id)
            return await _in_thread(self.store.get, job_id)
        job = await _in_thread(self.store.request_dismiss, job_id)
        for _ in range(40):  # a running job stops at its next progress report
            if job.status != JobStatus.RUNNING:
                break
            await asyncio.sleep(0.05)
            job = await _in_thread(self.store.get, job_id)
        return job


def _no_inputs(process: Process, request: dict[str, Any]) -> None:
    """A request without ``inputs`` is an execution with every default: refused (400) when the
    process has required inputs, naming them, and saying so when the request holds them at its
    top level (the commonest slip: the inputs not wrapped in ``inputs``)."""
    required = required_inputs(process)
    if not required:
        return
    stray = [k for k in request if k in input_names(process)]
    hint = (
        f'; {", ".join(stray)} must go inside "inputs": {{...}}'
        if stray
        else f"; it accepts: {', '.join(input_names(process))}"
    )
    raise InvalidInput(
        f"the body has no \"inputs\"; process '{process.id}' requires "
        + ", ".join(required)
        + hint,
        field="inputs",
        missing=required,
    )


__all__ = ["CheckedRequest", "JobLimits", "JobService", "Submission"]
