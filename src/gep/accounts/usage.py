"""Usage accounting: what each job consumed, measured on the worker that ran it.

One row per job (table ``job_usage``), written by the worker when the job ends, whatever the
end: CPU-seconds and wall time of the job, bytes it read (staged inputs) and wrote (outputs),
and the provider (the cluster, ``GEP_PROVIDER``) it ran on. Reports aggregate them per user,
service and provider over a time window.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from gep.core.enums import JobStatus

#: columns of a report row, in the CSV's order
REPORT_COLUMNS = (
    "user",
    "process",
    "provider",
    "jobs",
    "successful",
    "failed",
    "cpu_s",
    "wall_s",
    "bytes_read",
    "bytes_written",
)


@dataclass(frozen=True)
class JobUsage:
    job_id: str
    user_id: str | None
    process_id: str
    provider: str
    status: JobStatus
    cpu_s: float
    wall_s: float
    bytes_read: int
    bytes_written: int
    started: int | None
    finished: int


class UsageStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, u: JobUsage) -> None:
        """Store a job's usage (a re-run of the job after a lost worker replaces it)."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM job_usage WHERE job_id = :j"), {"j": u.job_id})
            conn.execute(
                text(
                    "INSERT INTO job_usage (job_id, user_id, process_id, provider, status, "
                    "cpu_s, wall_s, bytes_read, bytes_written, started, finished) VALUES "
                    "(:j, :u, :p, :pr, :s, :c, :w, :br, :bw, :st, :f)"
                ),
                {
                    "j": u.job_id,
                    "u": u.user_id,
                    "p": u.process_id,
                    "pr": u.provider,
                    "s": u.status,
                    "c": u.cpu_s,
                    "w": u.wall_s,
                    "br": u.bytes_read,
                    "bw": u.bytes_written,
                    "st": u.started,
                    "f": u.finished,
                },
            )

    def job(self, job_id: str) -> JobUsage | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT job_id, user_id, process_id, provider, status, cpu_s, wall_s, "
                    "bytes_read, bytes_written, started, finished FROM job_usage "
                    "WHERE job_id = :j"
                ),
                {"j": job_id},
            ).first()
        if row is None:
            return None
        return JobUsage(
            job_id=row[0],
            user_id=row[1],
            process_id=row[2],
            provider=row[3],
            status=JobStatus(row[4]),
            cpu_s=row[5],
            wall_s=row[6],
            bytes_read=row[7],
            bytes_written=row[8],
            started=row[9],
            finished=row[10],
        )

    def report(
        self, *, user_id: str | None, start_us: int | None = None, end_us: int | None = None
    ) -> list[dict[str, Any]]:
        """Totals per (user, service, provider) of jobs that ended in [start, end]; one user's
        or, with ``user_id`` None, everyone's."""
        clause, params = window_where("j.user_id", "j.finished", user_id, start_us, end_us)
        params.update({"ok": JobStatus.SUCCESSFUL, "ko": JobStatus.FAILED})
        sql = (
            "SELECT coalesce(u.name, '(none)'), j.process_id, j.provider, count(*), "
            "sum(CASE WHEN j.status = :ok THEN 1 ELSE 0 END), "
            "sum(CASE WHEN j.status = :ko THEN 1 ELSE 0 END), "
            "sum(j.cpu_s), sum(j.wall_s), sum(j.bytes_read), sum(j.bytes_written) "
            f"FROM job_usage j LEFT JOIN users u ON u.id = j.user_id{clause} "
            "GROUP BY coalesce(u.name, '(none)'), j.process_id, j.provider "
            "ORDER BY 1, 2, 3"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), params).all()
        return [
            {
                "user": r[0],
                "process": r[1],
                "provider": r[2],
                "jobs": int(r[3]),
                "successful": int(r[4] or 0),
                "failed": int(r[5] or 0),
                "cpu_s": round(float(r[6] or 0), 3),
                "wall_s": round(float(r[7] or 0), 3),
                "bytes_read": int(r[8] or 0),
                "bytes_written": int(r[9] or 0),
            }
            for r in rows
        ]


def window_where(
    user_col: str, time_col: str, user_id: str | None, start_us: int | None, end_us: int | None
) -> tuple[str, dict[str, Any]]:
    """The ``WHERE`` of a usage report (one user's or everyone's rows in [start, end]) and its
    parameters; shared by the job and the data reports so their windows mean the same."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if user_id is not None:
        where.append(f"{user_col} = :u")
        params["u"] = user_id
    if start_us is not None:
        where.append(f"{time_col} >= :s")
        params["s"] = start_us
    if end_us is not None:
        where.append(f"{time_col} <= :e")
        params["e"] = end_us
    return (" WHERE " + " AND ".join(where)) if where else "", params


def report_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()
