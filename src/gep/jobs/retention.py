"""Retention: expiring what collections' retention policies no longer keep, files and items
together.

A collection says how long its items are kept with ``"gep:retention": {"days": N}``
(:mod:`gep.catalog.retention`; absent: forever). The sweep (:meth:`Retention.sweep`; run by
``gep serve`` every ``GEP_RETENTION_POLL_S``, by ``gep retention run`` and by
``POST /retention/run``) applies the policies:

* **Job results** (a service's result collection, ``gep.jobs.publish``) expire by job, since a
  job's items share its storage folder (``jobs/<id>/``): a successful job whose results were
  published more than N days ago (its ``finished`` time, which is also its result item's
  ``created``) and that its owner did not pin (``jobs.pinned``, :func:`pin_job`). The policy is
  that of the service's collection (``dinsar``…); the former shared ``results`` collection's
  policy, when it has one, applies to the jobs of every service whose collection has none.
  The job is first *claimed* (``jobs.expired`` set by
  one conditional UPDATE, which a pin cannot pass and which two servers cannot both win), then its
  items are deleted, then its files, then it becomes ``dismissed`` with the reason in its message
  and its log. Items before files: a sweep that dies midway never leaves an item naming a file
  that is gone; and since the claim is durable, the next sweep finishes what a dead one began.
* **Other collections** (a user's own, e.g. their uploads) expire item by item: an item whose
  ``created`` (STAC common metadata: when it was catalogued; its ``datetime`` when it has none)
  is more than N days old and whose properties do not say ``"gep:pinned": true`` is deleted,
  then the upload folders its assets name (as deleting it through the API does). A crash
  between the two leaves an unnamed folder, never an item without its file.

A second sweep finds nothing more to do; each expiry is logged (``gep.retention`` at INFO, and
in the job's log for job results). Pass ``now`` to see the world from another day (tests, and
``--dry-run`` questions about the future).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import text

from gep.catalog.retention import RetentionPolicy, retention_of
from gep.catalog.search import build_search
from gep.catalog.store import CatalogStore
from gep.core.enums import JobStatus, LogLevel
from gep.core.errors import GepError, NotFound
from gep.core.periodic import Periodic
from gep.core.timeutil import format_rfc3339, from_micros, parse_instant, to_micros
from gep.gateway.resolver import job_folder
from gep.gateway.storage import Storage
from gep.gateway.uploads import remove_folders, upload_folders
from gep.jobs.publish import (
    RESULTS_COLLECTION,
    RESULTS_MARK,
    remove_results,
    result_item_ids,
)
from gep.jobs.store import JobStore

log = logging.getLogger("gep.retention")

#: the item property that keeps an item of a collection with a policy forever
PINNED_PROPERTY = "gep:pinned"
#: jobs read per query, items per catalogue page
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Expiry:
    """One expiry: a job's results (``job`` set) or one item, and what went with it."""

    collection: str
    items: tuple[str, ...]
    files: int
    #: when it was published (job results: the job's end; items: ``created``/``datetime``)
    published_us: int
    days: int | None
    job: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "collection": self.collection,
            "items": list(self.items),
            "files": self.files,
            "published": format_rfc3339(from_micros(self.published_us)),
            "retention_days": self.days,
        }
        if self.job is not None:
            out["jobID"] = self.job
        return out


@dataclass(slots=True)
class SweepReport:
    """What a sweep expired (or, dry, would expire) and what it kept because it is pinned."""

    now_us: int
    dry_run: bool
    policies: dict[str, RetentionPolicy] = field(default_factory=dict)
    expired: list[Expiry] = field(default_factory=list)
    kept_pinned: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": format_rfc3339(from_micros(self.now_us)),
            "dry_run": self.dry_run,
            "policies": {c: p.as_dict() for c, p in sorted(self.policies.items())},
            "expired": [e.as_dict() for e in self.expired],
            "kept_pinned": self.kept_pinned,
        }


# ---------------------------------------------------------------------- pins


def pin_job(store: JobStore, job_id: str, pinned: bool) -> bool:
    """Pin (or unpin) a job's results; False when pinning comes too late: the job was dismissed
    or its results are already claimed by an expiry. Unpinning always succeeds. ``updated`` is
    left alone: it is a running job's lease."""
    if pinned:
        sql = (
            "UPDATE jobs SET pinned = 1 WHERE id = :id AND expired IS NULL AND status <> :dismissed"
        )
    else:
        sql = "UPDATE jobs SET pinned = 0 WHERE id = :id"
    with store.engine.begin() as conn:
        res = conn.execute(text(sql), {"id": job_id, "dismissed": JobStatus.DISMISSED})
    return bool(res.rowcount)


# ---------------------------------------------------------------------- the sweep


class Retention:
    """Applies the collections' retention policies to the catalogue and the storage."""

    def __init__(self, catalog: CatalogStore, jobs: JobStore, storage: Storage) -> None:
        self.catalog = catalog
        self.jobs = jobs
        self.storage = storage

    def policies(self) -> dict[str, RetentionPolicy]:
        """Every collection's policy; a stored one that no longer parses is skipped (and
        logged), never guessed."""
        found: dict[str, RetentionPolicy] = {}
        collections, _ = self.catalog.list_collections(limit=1 << 30)
        for coll in collections:
            try:
                policy = retention_of(coll)
            except GepError as exc:
                log.warning("collection %s: retention policy ignored: %s", coll.get("id"), exc)
                continue
            if policy is not None:
                found[str(coll["id"])] = policy
        return found

    def sweep(
        self,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        stop: threading.Event | None = None,
    ) -> SweepReport:
        """Expire what the policies no longer keep (``dry_run``: only say what); ``stop`` ends
        a long sweep early (server shutdown), leaving the rest to the next one."""
        now_us = to_micros(now or datetime.now(UTC))
        report = SweepReport(now_us, dry_run, self.policies())
        services = self._result_policies(report.policies)
        default = report.policies.get(RESULTS_COLLECTION)
        if not dry_run:
            # results a sweep claimed but did not finish removing (it died): finished first,
            # whatever the policy says now, since their removal had begun
            for job_id, process_id, finished in self._claimed_unfinished():
                cid, policy = services.get(process_id, (RESULTS_COLLECTION, default))
                report.expired.append(self._expire_job(job_id, finished, policy, now_us, cid))
        for process_id, (cid, policy) in sorted(services.items()):
            if not _stopped(stop):
                self._sweep_results(report, policy, stop, cid, only=process_id)
        if default is not None and not _stopped(stop):
            self._sweep_results(report, default, stop, RESULTS_COLLECTION, others=sorted(services))
        results = {cid for cid, _ in services.values()} | {RESULTS_COLLECTION}
        for cid, other in sorted(report.policies.items()):
            if cid not in results and not _stopped(stop):
                self._sweep_items(report, cid, other, stop)
        return report

    def _result_policies(
        self, policies: dict[str, RetentionPolicy]
    ) -> dict[str, tuple[str, RetentionPolicy]]:
        """process id → (its result collection, that collection's policy), for the result
        collections that have one."""
        found: dict[str, tuple[str, RetentionPolicy]] = {}
        for cid, policy in policies.items():
            if cid == RESULTS_COLLECTION:
                continue
            with contextlib.suppress(NotFound):
                coll = self.catalog.get_collection(cid)
                if coll.get(RESULTS_MARK) and isinstance(coll.get("gep:process"), str):
                    found[coll["gep:process"]] = (cid, policy)
        return found

    # ------------------------------------------------------------------ job results
    def _sweep_results(
        self,
        report: SweepReport,
        policy: RetentionPolicy,
        stop: threading.Event | None,
        collection: str,
        *,
        only: str | None = None,
        others: list[str] | None = None,
    ) -> None:
        """Expire the jobs of process ``only``, or (``others``) of every process but those,
        under ``collection``'s policy."""
        cutoff = report.now_us - policy.max_age_us
        which, params = _process_clause(only, others)
        for job_id, finished in self._old_results(cutoff, which, params):
            if _stopped(stop):
                return
            if report.dry_run:
                files = sum(1 for _ in self.storage.walk(job_folder(job_id)))
                items = tuple(result_item_ids(self.catalog, job_id))
                report.expired.append(
                    Expiry(collection, items, files, finished, policy.days, job_id)
                )
            elif self._claim(job_id, cutoff, report.now_us):
                report.expired.append(
                    self._expire_job(job_id, finished, policy, report.now_us, collection)
                )
        with self.jobs.engine.connect() as conn:
            report.kept_pinned += int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM jobs WHERE status = :ok AND pinned = 1 "
                        f"AND finished < :cutoff{which}"
                    ),
                    {"ok": JobStatus.SUCCESSFUL, "cutoff": cutoff, **params},
                ).scalar()
                or 0
            )

    def _old_results(
        self, cutoff: int, which: str = "", which_params: dict[str, Any] | None = None
    ) -> Iterator[tuple[str, int]]:
        """Successful, unpinned, unclaimed jobs that finished before ``cutoff``, oldest first,
        read in batches by keyset (what is claimed meanwhile drops out by itself)."""
        after: tuple[int, str] = (-1, "")
        while True:
            with self.jobs.engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT id, finished FROM jobs WHERE status = :ok AND pinned = 0 "
                        "AND expired IS NULL AND finished < :cutoff AND (finished > :f OR "
                        f"(finished = :f AND id > :id)){which} ORDER BY finished, id "
                        f"LIMIT {_BATCH}"
                    ),
                    {
                        "ok": JobStatus.SUCCESSFUL,
                        "cutoff": cutoff,
                        "f": after[0],
                        "id": after[1],
                        **(which_params or {}),
                    },
                ).all()
            for row in rows:
                yield str(row[0]), int(row[1])
            if len(rows) < _BATCH:
                return
            after = (int(rows[-1][1]), str(rows[-1][0]))

    def _claimed_unfinished(self) -> list[tuple[str, str, int]]:
        with self.jobs.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, process_id, finished FROM jobs WHERE expired IS NOT NULL "
                    "AND status = :ok ORDER BY expired, id"
                ),
                {"ok": JobStatus.SUCCESSFUL},
            ).all()
        return [(str(r[0]), str(r[1]), int(r[2] or 0)) for r in rows]

    def _claim(self, job_id: str, cutoff: int, now_us: int) -> bool:
        """Take a job's results for expiry, if nobody pinned, dismissed or claimed them since
        they were read: from here on their removal is finished even across a crash."""
        with self.jobs.engine.begin() as conn:
            res = conn.execute(
                text(
                    "UPDATE jobs SET expired = :now WHERE id = :id AND status = :ok "
                    "AND pinned = 0 AND expired IS NULL AND finished < :cutoff"
                ),
                {"now": now_us, "id": job_id, "ok": JobStatus.SUCCESSFUL, "cutoff": cutoff},
            )
        return bool(res.rowcount)

    def _expire_job(
        self,
        job_id: str,
        finished: int,
        policy: RetentionPolicy | None,
        now_us: int,
        collection: str = RESULTS_COLLECTION,
    ) -> Expiry:
        """Remove a claimed job's items, then its files, then dismiss it, saying why."""
        removed = remove_results(self.catalog, self.storage, job_id)
        why = (
            f"older than {policy.days} days, the retention of collection '{collection}'"
            if policy is not None
            else f"the retention of collection '{collection}'"
        )
        message = f"results expired: {why}"
        with self.jobs.engine.begin() as conn:
            # ``finished`` stays when the job finished; the hold was settled then
            conn.execute(
                text(
                    "UPDATE jobs SET status = :dismissed, message = :m, updated = :t "
                    "WHERE id = :id AND status = :ok"
                ),
                {
                    "dismissed": JobStatus.DISMISSED,
                    "m": message,
                    "t": now_us,
                    "id": job_id,
                    "ok": JobStatus.SUCCESSFUL,
                },
            )
        detail = (
            f"{message} (published {format_rfc3339(from_micros(finished))}); "
            f"{len(removed.items)} items and {removed.files} files removed"
        )
        self.jobs.log(job_id, LogLevel.INFO, detail)
        log.info("job %s: %s", job_id, detail)
        return Expiry(
            collection,
            removed.items,
            removed.files,
            finished,
            None if policy is None else policy.days,
            job_id,
        )

    # ------------------------------------------------------------------ other collections
    def _sweep_items(
        self,
        report: SweepReport,
        collection: str,
        policy: RetentionPolicy,
        stop: threading.Event | None,
    ) -> None:
        cutoff = report.now_us - policy.max_age_us
        old: list[tuple[str, dict[str, Any], int]] = []
        for item in self._items(collection):  # read whole first: deleting moves no page
            published = published_us(item)
            if published is None or published >= cutoff:
                continue
            if (item.get("properties") or {}).get(PINNED_PROPERTY) is True:
                report.kept_pinned += 1
                continue
            old.append((str(item["id"]), item, published))
        for item_id, item, published in old:
            if _stopped(stop):
                return
            expiry = self._expire_item(collection, item_id, item, published, policy, report)
            if expiry is not None:
                report.expired.append(expiry)

    def _items(self, collection: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"collections": [collection], "limit": _BATCH}
            if token:
                params["token"] = token
            page = self.catalog.search(build_search(params, from_get=False))
            for _, _, raw in page.items:
                yield orjson.loads(raw)
            token = page.next_token
            if not token:
                return

    def _expire_item(
        self,
        collection: str,
        item_id: str,
        item: dict[str, Any],
        published: int,
        policy: RetentionPolicy,
        report: SweepReport,
    ) -> Expiry | None:
        try:
            owner = self.catalog.item_access(collection, item_id).owner
        except NotFound:  # deleted meanwhile
            return None
        folders = upload_folders(self.storage, item, owner)
        if report.dry_run:
            files = sum(1 for f in folders for _ in self.storage.walk(f))
            return Expiry(collection, (item_id,), files, published, policy.days)
        try:
            self.catalog.delete_item(collection, item_id)
        except NotFound:
            return None
        files = remove_folders(self.storage, folders)
        log.info(
            "item %s/%s expired: published %s, older than %d days, the retention of its "
            "collection; %d files removed",
            collection,
            item_id,
            format_rfc3339(from_micros(published)),
            policy.days,
            files,
        )
        return Expiry(collection, (item_id,), files, published, policy.days)


def published_us(item: dict[str, Any]) -> int | None:
    """When an item was catalogued: its ``created`` (STAC common metadata), else its
    ``datetime`` (or ``start_datetime``); None when it states neither readably."""
    props = item.get("properties") or {}
    for key in ("created", "datetime", "start_datetime"):
        value = props.get(key)
        if isinstance(value, str):
            with contextlib.suppress(GepError, ValueError):
                return to_micros(parse_instant(value, key))
    return None


def _process_clause(only: str | None, others: list[str] | None) -> tuple[str, dict[str, Any]]:
    """The SQL that narrows a job query to one process, or to all but some."""
    if only is not None:
        return " AND process_id = :only", {"only": only}
    if others:
        names = {f"p{n}": p for n, p in enumerate(others)}
        return " AND process_id NOT IN (" + ", ".join(f":{k}" for k in names) + ")", names
    return "", {}


def _stopped(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


# ---------------------------------------------------------------------- in gep serve


class RetentionScheduler:
    """The sweep inside ``gep serve``: a daemon thread, every ``poll_s`` seconds.

    The first sweep waits a little (at most a minute) so that the server answers before it
    works; then one sweep per period. Several servers on one database may sweep at once: the
    job claims and the item deletions let each expiry happen once."""

    def __init__(self, retention: Retention, poll_s: float) -> None:
        self.retention = retention
        self.poll_s = poll_s
        self._periodic = Periodic(
            "gep-retention", self._sweep, poll_s, log, first_s=min(poll_s, 60.0)
        )

    def start(self) -> None:
        self._periodic.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._periodic.stop(timeout)

    def _sweep(self, stop: threading.Event) -> None:
        report = self.retention.sweep(stop=stop)
        if report.expired:
            log.info("retention sweep: %d expiries", len(report.expired))


__all__ = [
    "PINNED_PROPERTY",
    "Expiry",
    "Retention",
    "RetentionScheduler",
    "SweepReport",
    "pin_job",
    "published_us",
]
