"""The job store: job records and their logs, in the catalogue's database (SQLite or PostGIS).

Every state change is one conditional UPDATE (``… WHERE id = :id AND status IN (…)``): it either
happens whole or not at all, whichever process (server, worker) tries it, so a job cannot be run
twice or finish after it was dismissed.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from gep.accounts.credits import CreditStore, Quote
from gep.core.access import PRIVATE, Viewer
from gep.core.enums import FINAL_STATUSES, JobStatus, LogLevel
from gep.core.errors import GepError, NotFound, TooManyRequests
from gep.db.values import values_in
from gep.db.visible import select_visible, visible_where

#: the first key of the PostgreSQL advisory locks that serialise one owner's submissions
#: (the second is the owner's hash); the catalogue's migration lock uses a one-key lock
_SUBMIT_LOCK = 7343014
#: what a refusal for too many active jobs suggests waiting before trying again (seconds)
QUEUED_RETRY_AFTER_S = 30


class NoSuchJob(NotFound):
    """OGC API - Processes exception type ``no-such-job`` (404)."""

    kind = "no-such-job"


class ResultNotReady(NotFound):
    """OGC API - Processes exception type ``result-not-ready`` (404)."""

    kind = "result-not-ready"


class JobFailed(GepError):
    """The job ended ``failed``: its results are the error, with the reason (HTTP 500)."""

    kind = "job-failed"


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class Job:
    id: str
    process_id: str
    status: JobStatus
    progress: int
    message: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: str | None
    created: int
    started: int | None
    finished: int | None
    updated: int
    attempts: int
    max_attempts: int
    timeout_s: float | None
    dismiss_requested: bool
    #: the Dask worker running (or that last ran) the job
    worker_address: str | None = None
    #: the user who submitted it (None: before accounts, or the platform's own)
    owner: str | None = None
    visibility: str = PRIVATE
    #: credits (cents) set aside for it until it ends
    hold: int = 0
    #: what its price was computed from (``Quote.as_dict()`` of the submission)
    charge: dict[str, Any] | None = None
    #: its owner keeps its results whatever the retention policy (``gep.jobs.retention``)
    pinned: bool = False
    #: when the retention sweep claimed its results for expiry (None: kept)
    expired: int | None = None
    #: the subscription that submitted it (``gep.production``), its trigger's key, and the
    #: collection (the subscription's layer) its results are published into
    origin: JobOrigin | None = None


@dataclass(frozen=True, slots=True)
class JobOrigin:
    """Where a systematic job came from. ``trigger_key`` is unique among all jobs (a unique
    index): the same trigger submitted twice, by a replay or a second server, is refused by
    the database rather than by a check in memory."""

    subscription: str
    trigger_key: str
    #: the collection the results go to (None: the service's own result collection)
    layer: str | None = None


@dataclass(frozen=True, slots=True)
class NewJob:
    """One job of a batch (:meth:`JobStore.create_many`)."""

    process_id: str
    inputs: dict[str, Any]
    origin: JobOrigin
    owner: str | None = None
    visibility: str = PRIVATE
    quote: Quote | None = None
    max_attempts: int = 2
    timeout_s: float | None = None


_COLUMNS = (
    "id, process_id, status, progress, message, inputs, outputs, error, created, "
    "started, finished, updated, attempts, max_attempts, timeout_s, dismiss_requested, worker, "
    "owner, visibility, hold, charge, pinned, expired, subscription, trigger_key, layer"
)


def _job(row: Any) -> Job:
    return Job(
        id=row[0],
        process_id=row[1],
        status=JobStatus(row[2]),
        progress=int(row[3]),
        message=row[4],
        inputs=orjson.loads(row[5]),
        outputs=None if row[6] is None else orjson.loads(row[6]),
        error=row[7],
        created=int(row[8]),
        started=row[9],
        finished=row[10],
        updated=int(row[11]),
        attempts=int(row[12]),
        max_attempts=int(row[13]),
        timeout_s=row[14],
        dismiss_requested=bool(row[15]),
        worker_address=row[16],
        owner=row[17],
        visibility=row[18],
        hold=int(row[19] or 0),
        charge=None if row[20] is None else orjson.loads(row[20]),
        pinned=bool(row[21]),
        expired=row[22],
        origin=None if row[23] is None else JobOrigin(row[23], row[24], row[25]),
    )


class JobStore:
    def __init__(self, engine: Engine, credits: CreditStore | None = None) -> None:
        self.engine = engine
        #: holds and settles the credits of jobs that have a price
        self.credits = credits or CreditStore(engine)

    def create(
        self,
        process_id: str,
        inputs: dict[str, Any],
        *,
        max_attempts: int = 2,
        timeout_s: float | None = None,
        owner: str | None = None,
        visibility: str = PRIVATE,
        quote: Quote | None = None,
        max_active: int | None = None,
    ) -> Job:
        """A new ``accepted`` job. With a ``quote`` of a non-zero price, the owner's credits
        are held in the same transaction: when they are not there, PaymentRequired is raised
        and no job exists. With ``max_active``, an owner who already has that many jobs
        accepted or running gets TooManyRequests, also before anything exists.

        The count and the insert must be one step for concurrent submissions: SQLite's
        ``BEGIN IMMEDIATE`` already serialises writers; PostgreSQL (READ COMMITTED) would let
        two transactions count the same jobs, so there one owner's submissions queue on a
        transaction-scoped advisory lock (other owners' do not wait)."""
        t = now_us()
        job_id = str(uuid.uuid4())
        hold = quote.total if quote is not None and owner is not None else 0
        with self.engine.begin() as conn:
            if max_active is not None and owner is not None:
                self._check_active(conn, owner, max_active)
            conn.execute(
                text(
                    "INSERT INTO jobs (id, process_id, status, inputs, created, updated, "
                    "max_attempts, timeout_s, owner, visibility, hold, charge) VALUES "
                    "(:id, :p, :s, :i, :t, :t, :m, :to, :o, :v, :h, :c)"
                ),
                {
                    "id": job_id,
                    "p": process_id,
                    "s": JobStatus.ACCEPTED,
                    "i": orjson.dumps(inputs).decode(),
                    "t": t,
                    "m": max_attempts,
                    "to": timeout_s,
                    "o": owner,
                    "v": visibility,
                    "h": hold,
                    "c": None if quote is None else orjson.dumps(quote.as_dict()).decode(),
                },
            )
            if hold and owner is not None:
                self.credits.hold_in(conn, owner, job_id, process_id, hold)
        return self.get(job_id)

    def create_many(self, jobs: list[NewJob]) -> list[Job | None]:
        """Systematic jobs in one transaction: the ``accepted`` job of each, or None where its
        trigger key has a job already (``INSERT … ON CONFLICT (trigger_key) DO NOTHING``: the
        unique index decides, whichever server inserts first). Credits are held in the same
        transaction; when an owner's are not there, PaymentRequired is raised and none of the
        batch exists (the caller retries one by one to submit what the credits allow)."""
        t = now_us()
        rows: list[dict[str, Any]] = []
        for new in jobs:
            hold = new.quote.total if new.quote is not None and new.owner is not None else 0
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "p": new.process_id,
                    "s": JobStatus.ACCEPTED,
                    "i": orjson.dumps(new.inputs).decode(),
                    "t": t,
                    "m": new.max_attempts,
                    "to": new.timeout_s,
                    "o": new.owner,
                    "v": new.visibility,
                    "h": hold,
                    "c": None if new.quote is None else orjson.dumps(new.quote.as_dict()).decode(),
                    "sub": new.origin.subscription,
                    "key": new.origin.trigger_key,
                    "layer": new.origin.layer,
                }
            )
        inserted: set[str] = set()
        with self.engine.begin() as conn:
            if rows:
                conn.execute(
                    text(
                        "INSERT INTO jobs (id, process_id, status, inputs, created, updated, "
                        "max_attempts, timeout_s, owner, visibility, hold, charge, subscription, "
                        "trigger_key, layer) VALUES (:id, :p, :s, :i, :t, :t, :m, :to, :o, :v, "
                        ":h, :c, :sub, :key, :layer) ON CONFLICT (trigger_key) DO NOTHING"
                    ),
                    rows,
                )
                inserted = values_in(conn, "jobs", "id", [str(r["id"]) for r in rows])
            for row, new in zip(rows, jobs, strict=True):
                if row["id"] in inserted and row["h"] and new.owner is not None:
                    self.credits.hold_in(
                        conn, new.owner, str(row["id"]), new.process_id, int(row["h"])
                    )
        ids = [r["id"] if r["id"] in inserted else None for r in rows]
        created = {j.id: j for j in self.get_many([i for i in ids if i is not None])}
        return [None if i is None else created[i] for i in ids]

    def get_many(self, job_ids: list[str]) -> list[Job]:
        out: list[Job] = []
        with self.engine.connect() as conn:
            for start in range(0, len(job_ids), 500):
                chunk = job_ids[start : start + 500]
                binds = {f"j{n}": v for n, v in enumerate(chunk)}
                marks = ", ".join(f":{k}" for k in binds)
                rows = conn.execute(
                    text(f"SELECT {_COLUMNS} FROM jobs WHERE id IN ({marks})"), binds
                ).all()
                out.extend(_job(r) for r in rows)
        return out

    def _check_active(self, conn: Connection, owner: str, max_active: int) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:k, hashtext(:o))"),
                {"k": _SUBMIT_LOCK, "o": owner},
            )
        active = self.count_active(owner, conn)
        if active >= max_active:
            raise TooManyRequests(
                f"you have {active} jobs accepted or running, the most one user may have "
                f"(jobs_max_queued_per_user = {max_active}); wait for some to finish or "
                "dismiss some, then submit again",
                field="jobs_max_queued_per_user",
                limit=max_active,
                active=active,
                retry_after=QUEUED_RETRY_AFTER_S,
            )

    def count_active(self, owner: str, conn: Connection | None = None) -> int:
        """How many of ``owner``'s jobs are accepted or running."""
        sql = text("SELECT count(*) FROM jobs WHERE owner = :o AND status IN (:a, :r)")
        params = {"o": owner, "a": JobStatus.ACCEPTED, "r": JobStatus.RUNNING}
        if conn is not None:
            return int(conn.execute(sql, params).scalar() or 0)
        with self.engine.connect() as c:
            return int(c.execute(sql, params).scalar() or 0)

    def get(self, job_id: str, viewer: Viewer | None = None) -> Job:
        """A job; NoSuchJob when it does not exist or ``viewer`` may not see it."""
        with self.engine.connect() as conn:
            row = select_visible(conn, "jobs", _COLUMNS, {"id": job_id}, viewer)
        if row is None:
            raise NoSuchJob(f"job '{job_id}' does not exist", field="jobId")
        return _job(row)

    def set_visibility(self, job_id: str, visibility: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE jobs SET visibility = :v, updated = :t WHERE id = :id"),
                {"v": visibility, "t": now_us(), "id": job_id},
            )

    def list_jobs(
        self,
        *,
        status: list[JobStatus] | None = None,
        process_id: list[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        created: tuple[int | None, int | None] | None = None,
        viewer: Viewer | None = None,
        prefix: str | None = None,
    ) -> tuple[list[Job], int]:
        """Jobs newest first, and how many match, among those ``viewer`` may see; ``prefix``
        keeps those whose id starts with it (how the CLI accepts a short job id)."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if clause := visible_where(viewer, params):
            where.append(clause)
        if prefix:
            # LIKE's wildcards in what the caller typed match themselves, not anything
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("id LIKE :id_prefix ESCAPE '\\'")
            params["id_prefix"] = escaped + "%"
        if status:
            where.append("status IN (" + ", ".join(f":s{i}" for i in range(len(status))) + ")")
            params.update({f"s{i}": s for i, s in enumerate(status)})
        if process_id:
            where.append(
                "process_id IN (" + ", ".join(f":p{i}" for i in range(len(process_id))) + ")"
            )
            params.update({f"p{i}": p for i, p in enumerate(process_id)})
        if created is not None:
            if created[0] is not None:
                where.append("created >= :c0")
                params["c0"] = created[0]
            if created[1] is not None:
                where.append("created <= :c1")
                params["c1"] = created[1]
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self.engine.connect() as conn:
            total = int(
                conn.execute(text(f"SELECT count(*) FROM jobs{clause}"), params).scalar() or 0
            )
            rows = conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM jobs{clause} ORDER BY created DESC, id "
                    f"LIMIT {int(limit)} OFFSET {int(offset)}"
                ),
                params,
            ).all()
        return [_job(r) for r in rows], total

    def transition(
        self,
        job_id: str,
        from_states: tuple[JobStatus, ...],
        to_state: JobStatus,
        *,
        charge_cents: int = 0,
        **fields: Any,
    ) -> bool:
        """Move a job to ``to_state`` if it is in one of ``from_states``; True when it did.

        A final state settles the job's credits in the same transaction: ``charge_cents`` are
        charged (capped at the hold) and the rest of the hold released; since the transition
        happens once, so does the settlement."""
        t = now_us()
        sets = ["status = :to", "updated = :t"]
        params: dict[str, Any] = {"id": job_id, "to": to_state, "t": t}
        if to_state == JobStatus.RUNNING:
            sets += ["started = :t", "attempts = attempts + 1"]
        if to_state in FINAL_STATUSES:
            sets.append("finished = :t")
        for k, v in fields.items():
            sets.append(f"{k} = :f_{k}")
            params[f"f_{k}"] = orjson.dumps(v).decode() if k == "outputs" else v
        states = ", ".join(f":from{i}" for i in range(len(from_states)))
        params.update({f"from{i}": s for i, s in enumerate(from_states)})
        with self.engine.begin() as conn:
            res = conn.execute(
                text(f"UPDATE jobs SET {', '.join(sets)} WHERE id = :id AND status IN ({states})"),
                params,
            )
            if res.rowcount and to_state in FINAL_STATUSES:
                self._settle(conn, job_id, charge_cents, to_state)
        return bool(res.rowcount)

    def _settle(self, conn: Connection, job_id: str, charge: int, to_state: JobStatus) -> None:
        row = conn.execute(
            text("SELECT owner, hold, process_id FROM jobs WHERE id = :id"), {"id": job_id}
        ).one()
        if not row[1] or row[0] is None:
            return
        conn.execute(text("UPDATE jobs SET hold = 0 WHERE id = :id"), {"id": job_id})
        self.credits.settle_in(
            conn, row[0], job_id, row[2], int(row[1]), charge, note=f"job {to_state}"
        )

    def heartbeat(self, job_id: str, worker: str) -> bool:
        """The running worker's lease renewal; False when the job is no longer its own."""
        with self.engine.begin() as conn:
            res = conn.execute(
                text(
                    "UPDATE jobs SET updated = :t WHERE id = :id AND status = :running "
                    "AND worker = :w"
                ),
                {"t": now_us(), "id": job_id, "running": JobStatus.RUNNING, "w": worker},
            )
        return bool(res.rowcount)

    def stale_running(self, lease_s: float) -> list[Job]:
        """Running jobs whose worker stopped renewing its lease (it died, or lost the DB)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT {_COLUMNS} FROM jobs WHERE status = :running AND updated < :t"),
                {"running": JobStatus.RUNNING, "t": now_us() - int(lease_s * 1e6)},
            ).all()
        return [_job(r) for r in rows]

    def overdue(self) -> list[Job]:
        """Running jobs past their own timeout."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM jobs WHERE status = :running AND timeout_s IS NOT "
                    "NULL AND started + timeout_s * 1000000 < :t"
                ),
                {"running": JobStatus.RUNNING, "t": now_us()},
            ).all()
        return [_job(r) for r in rows]

    def set_progress(self, job_id: str, percent: int, message: str) -> bool:
        """Record progress of a running job; False when it is no longer running (dismissed)."""
        with self.engine.begin() as conn:
            res = conn.execute(
                text(
                    "UPDATE jobs SET progress = :p, message = :m, updated = :t "
                    "WHERE id = :id AND status = :running AND dismiss_requested = 0"
                ),
                {
                    "p": max(0, min(100, int(percent))),
                    "m": message,
                    "t": now_us(),
                    "id": job_id,
                    "running": JobStatus.RUNNING,
                },
            )
        return bool(res.rowcount)

    def release_stale(self, job: Job, lease_s: float) -> JobStatus | None:
        """A running job whose lease expired goes back to ``accepted`` for another attempt, or
        to ``failed`` once its attempts are spent; returns the new status (None if it moved on)."""
        cutoff = now_us() - int(lease_s * 1e6)
        retry = job.attempts < job.max_attempts
        new = JobStatus.ACCEPTED if retry else JobStatus.FAILED
        message = (
            f"worker lost during attempt {job.attempts}; retrying"
            if retry
            else f"worker lost during attempt {job.attempts} of {job.max_attempts}; giving up"
        )
        sets = "status = :new, message = :m, updated = :t"
        if not retry:
            sets += ", finished = :t, error = :m"
        with self.engine.begin() as conn:
            res = conn.execute(
                text(
                    f"UPDATE jobs SET {sets} WHERE id = :id AND status = :running AND "
                    "updated < :cutoff"
                ),
                {
                    "new": new,
                    "m": message,
                    "t": now_us(),
                    "id": job.id,
                    "running": JobStatus.RUNNING,
                    "cutoff": cutoff,
                },
            )
            if res.rowcount and new == JobStatus.FAILED:
                self._settle(conn, job.id, 0, JobStatus.FAILED)
        return new if res.rowcount else None

    def dismiss_finished(self, job_id: str) -> bool:
        """A finished job (successful or failed) becomes ``dismissed``; its results go."""
        return self.transition(
            job_id,
            (JobStatus.SUCCESSFUL, JobStatus.FAILED),
            JobStatus.DISMISSED,
            message="dismissed; results removed",
        )

    def request_dismiss(self, job_id: str) -> Job:
        """Dismiss: an accepted job is dismissed at once; a running one is flagged for its
        worker, which stops at its next progress report."""
        self.get(job_id)
        if not self.transition(
            job_id, (JobStatus.ACCEPTED,), JobStatus.DISMISSED, message="dismissed"
        ):
            with self.engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE jobs SET dismiss_requested = 1, updated = :t "
                        "WHERE id = :id AND status = :running"
                    ),
                    {"t": now_us(), "id": job_id, "running": JobStatus.RUNNING},
                )
        return self.get(job_id)

    def log(self, job_id: str, level: str, message: str) -> None:
        with self.engine.begin() as conn:
            seq = conn.execute(
                text("SELECT coalesce(max(seq), 0) + 1 FROM job_logs WHERE job_id = :id"),
                {"id": job_id},
            ).scalar()
            conn.execute(
                text(
                    "INSERT INTO job_logs (job_id, seq, time, level, message) "
                    "VALUES (:id, :seq, :t, :l, :m)"
                ),
                {"id": job_id, "seq": seq, "t": now_us(), "l": level, "m": message},
            )

    def logs(
        self, job_id: str, *, level: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        self.get(job_id)
        least = (level or LogLevel.DEBUG).upper()
        floor = LogLevel(least).rank if least in LogLevel.__members__ else LogLevel.DEBUG.rank
        wanted = [lv for lv in LogLevel if lv.rank >= floor]
        marks = ", ".join(f":l{i}" for i in range(len(wanted)))
        params: dict[str, Any] = {"id": job_id, **{f"l{i}": lv for i, lv in enumerate(wanted)}}
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT seq, time, level, message FROM job_logs WHERE job_id = :id AND level "
                    f"IN ({marks}) ORDER BY seq LIMIT {int(limit)} OFFSET {int(offset)}"
                ),
                params,
            ).all()
        return [{"seq": r[0], "time": r[1], "level": r[2], "message": r[3]} for r in rows]


def job_visible(store: JobStore, job_id: str, viewer: Viewer) -> bool:
    """Whether ``viewer`` may see job ``job_id`` (and so read its storage folder): the
    gateway's question, answered by whoever owns the job store (the API, the worker)."""
    try:
        store.get(job_id, viewer)
    except NotFound:
        return False
    return True
