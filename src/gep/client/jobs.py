"""Jobs as objects: a :class:`Job` knows its client, so a notebook writes ``job.wait()``,
``job.download("out")`` or ``job.resubmit(looks_azimuth=8)``; a :class:`Batch` follows many at
once with one progress bar, and resubmits those that failed.

A ``Job`` holds the last status document the server answered (``info``); its properties read
that snapshot, and :meth:`Job.refresh` (or :meth:`Job.wait`) asks again. Nothing here polls in
the background.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from gep.client.errors import GepTimeout
from gep.client.progress import Bar

if TYPE_CHECKING:
    from gep.client.sdk import GepClient
    from gep.client.search import ItemCollection


class JobStatus(StrEnum):
    """A job's status (OGC API - Processes, ``statusCode``): the same values as the server's
    ``gep.core.enums.JobStatus`` (a test keeps them equal), here so that the SDK needs nothing
    of the server's packages."""

    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    DISMISSED = "dismissed"

    @property
    def final(self) -> bool:
        """Whether the job has ended (nothing moves it on from here)."""
        return self in FINAL_STATUSES


#: the statuses a job ends in
FINAL_STATUSES: tuple[JobStatus, ...] = (
    JobStatus.SUCCESSFUL,
    JobStatus.FAILED,
    JobStatus.DISMISSED,
)


class Job:
    """A job on the server, as last seen (:attr:`info`, the status document)."""

    def __init__(self, client: GepClient, info: Mapping[str, Any]) -> None:
        self.client = client
        self.info: dict[str, Any] = dict(info)

    # ------------------------------------------------------------------ the snapshot
    @property
    def id(self) -> str:
        return str(self.info["jobID"])

    @property
    def process(self) -> str:
        return str(self.info.get("processID", ""))

    @property
    def status(self) -> JobStatus:
        return JobStatus(self.info["status"])

    @property
    def progress(self) -> int:
        """0…100 (what the service last reported)."""
        return int(self.info.get("progress") or 0)

    @property
    def message(self) -> str:
        """The service's last progress message; a failed job's reason."""
        return str(self.info.get("message") or "")

    @property
    def created(self) -> str | None:
        """When it was submitted (RFC 3339)."""
        return self.info.get("created")

    @property
    def finished(self) -> str | None:
        return self.info.get("finished")

    @property
    def visibility(self) -> str | None:
        return self.info.get("gep:visibility")

    @property
    def succeeded(self) -> bool:
        return self.status is JobStatus.SUCCESSFUL

    @property
    def failed(self) -> bool:
        return self.status is JobStatus.FAILED

    @property
    def dismissed(self) -> bool:
        return self.status is JobStatus.DISMISSED

    @property
    def running(self) -> bool:
        """Accepted or running: not ended yet."""
        return not self.status.final

    @property
    def done(self) -> bool:
        """Ended: successful, failed or dismissed."""
        return self.status.final

    def __repr__(self) -> str:
        note = f" {self.progress}%" if self.running else ""
        why = f" ({self.message})" if self.failed and self.message else ""
        return f"<Job {self.id} {self.process} {self.status}{note}{why}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # ------------------------------------------------------------------ asking the server
    def refresh(self) -> Job:
        """Ask the server for the job's status now; returns the job itself."""
        self.info = self.client.job(self.id)
        return self

    def wait(
        self,
        timeout: float | None = None,
        *,
        progress: bool = True,
        interval: float = 0.5,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll until the job ends (a tqdm bar of its percentage with ``progress``); returns
        the job itself, whatever its end: check :attr:`succeeded`. Past ``timeout`` seconds
        :class:`~gep.client.errors.GepTimeout` (the job goes on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with Bar(100, f"{self.process} {self.id[:8]}", enabled=progress, unit="%") as bar:
            while True:
                self.refresh()
                bar.to(self.progress if self.running else 100)
                bar.note(
                    str(self.status) if not self.message else f"{self.status}: {self.message[:40]}"
                )
                if on_progress is not None:
                    on_progress(self)
                if self.done:
                    return self
                if deadline is not None and time.monotonic() > deadline:
                    raise GepTimeout(
                        0,
                        {
                            "title": "Timed out",
                            "detail": f"job {self.id} still {self.status} after {timeout} s",
                        },
                    )
                time.sleep(interval)

    watch = wait

    def results(self) -> dict[str, Any]:
        """The outputs (files as links to their GEP URLs); a failed job raises its problem."""
        return self.client.results(self.id)

    def items(self) -> ItemCollection:
        """The STAC items the job published (its results as the catalogue holds them)."""
        return self.client.job_items(self.id)

    def logs(self, *, level: str | None = None) -> list[dict[str, Any]]:
        return self.client.logs(self.id, level=level)

    def inputs(self) -> dict[str, Any]:
        """The inputs it was submitted with."""
        return self.client.inputs(self.id)

    def resubmit(self, **changes: Any) -> Job:
        """The same process again, with the same inputs but ``changes``; the new job."""
        return self.client.resubmit(self, **changes)

    def download(
        self,
        directory: str | Path = ".",
        *,
        assets: Sequence[str] | None = None,
        progress: bool = True,
    ) -> list[Path]:
        """Its result files, into ``directory``/<item id>/ (resuming partial ones)."""
        return self.client.download(self, directory, assets=assets, progress=progress)

    def share(self, visibility: str) -> dict[str, Any]:
        """Share (``public``, ``group:<name>``) or unshare (``private``) the job and its
        results."""
        answer = self.client.share(self, visibility)
        self.info["gep:visibility"] = answer.get("visibility", visibility)
        return answer

    def dismiss(self) -> Job:
        """Cancel it (or remove its results, when it has ended)."""
        self.info = self.client.dismiss(self.id)
        return self

    def to_xarray(self, **odc_kwargs: Any) -> Any:
        """Its result rasters as an ``xarray.Dataset`` (odc-stac)."""
        return self.client.to_xarray(self, **odc_kwargs)


class Batch(Sequence[Job]):
    """Many jobs followed together: one progress bar, the successes and the failures apart,
    and the failures resubmitted in one call."""

    def __init__(self, jobs: Iterable[Job], client: GepClient | None = None) -> None:
        self.jobs: list[Job] = list(jobs)
        self.client = client if client is not None else (self.jobs[0].client if self.jobs else None)

    @overload
    def __getitem__(self, index: int) -> Job: ...
    @overload
    def __getitem__(self, index: slice) -> Batch: ...
    def __getitem__(self, index: int | slice) -> Job | Batch:
        if isinstance(index, slice):
            return Batch(self.jobs[index], self.client)
        return self.jobs[index]

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs)

    def __repr__(self) -> str:
        return f"<Batch of {len(self)}: {self.summary()}>"

    def counts(self) -> Counter[str]:
        """How many jobs are in each status (as last seen)."""
        return Counter(str(j.status) for j in self.jobs)

    def summary(self) -> str:
        c = self.counts()
        order = [s for s in JobStatus if c.get(str(s))]
        return ", ".join(f"{c[str(s)]} {s}" for s in order) or "empty"

    @property
    def succeeded(self) -> list[Job]:
        return [j for j in self.jobs if j.succeeded]

    @property
    def failed(self) -> list[Job]:
        return [j for j in self.jobs if j.failed]

    @property
    def running(self) -> list[Job]:
        """Accepted or running."""
        return [j for j in self.jobs if j.running]

    @property
    def done(self) -> bool:
        return all(j.done for j in self.jobs)

    def refresh(self) -> Batch:
        """Ask the server for every unfinished job's status; returns the batch itself."""
        for job in self.jobs:
            if not job.done:
                job.refresh()
        return self

    def watch(
        self, timeout: float | None = None, *, progress: bool = True, interval: float = 1.0
    ) -> Batch:
        """Poll until every job has ended, with a tqdm bar of the jobs ended (and the
        successes and failures beside it); returns the batch itself. Past ``timeout``
        seconds :class:`~gep.client.errors.GepTimeout` (the jobs go on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with Bar(len(self.jobs), f"batch of {len(self.jobs)}", enabled=progress, unit="job") as bar:
            while True:
                self.refresh()
                bar.to(sum(j.done for j in self.jobs))
                bar.note(self.summary())
                if self.done:
                    bar.close(self.summary())
                    return self
                if deadline is not None and time.monotonic() > deadline:
                    raise GepTimeout(
                        0,
                        {
                            "title": "Timed out",
                            "detail": f"the batch is not done after {timeout} s: {self.summary()}",
                        },
                    )
                time.sleep(interval)

    wait = watch

    def retry_failed(self, **changes: Any) -> Batch:
        """Resubmit each failed job with the same inputs (and ``changes``, when given). The
        batch changes in place: each failed job is replaced by its resubmission, so that
        :meth:`watch` follows the whole set again. Returns a Batch of the resubmissions
        alone (empty when nothing had failed)."""
        fresh: list[Job] = []
        for k, job in enumerate(self.jobs):
            if job.failed:
                new = job.resubmit(**changes)
                self.jobs[k] = new
                fresh.append(new)
        return Batch(fresh, self.client)

    def results(self) -> dict[str, dict[str, Any]]:
        """The results of each successful job, by job id."""
        return {j.id: j.results() for j in self.succeeded}

    def download(
        self,
        directory: str | Path = ".",
        *,
        assets: Sequence[str] | None = None,
        progress: bool = True,
    ) -> list[Path]:
        """The result files of every successful job (see :meth:`Job.download`)."""
        return [
            p
            for j in self.succeeded
            for p in j.download(directory, assets=assets, progress=progress)
        ]
