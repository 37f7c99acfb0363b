"""Deployed application packages, kept in the database so every worker and every server
process sees the same set (and a restart keeps them)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml
from sqlalchemy import Engine, text

from gep.catalog.access import Access
from gep.core.access import PRIVATE, Viewer
from gep.core.errors import Conflict, NotFound
from gep.db.visible import visible_where
from gep.jobs.store import now_us
from gep.processes.cwl import CwlProcess

#: a validation's states: its job is running, or its verdict
VALIDATION_RUNNING, VALIDATION_PASSED, VALIDATION_FAILED = "running", "passed", "failed"


def package_sha(package: str) -> str:
    """What a validation validated: a replaced package must pass again before it is shared."""
    return hashlib.sha256(package.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ValidationRecord:
    """One run of a package's samples and its verdict (``process_validations``)."""

    id: str
    process_id: str
    package_sha: str
    owner: str | None
    job_id: str
    status: str
    created: int
    finished: int | None = None
    reasons: list[str] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)


_VALIDATION_COLS = (
    "id, process_id, package_sha, owner, job_id, status, created, finished, reasons, log"
)


def _validation(row: Any) -> ValidationRecord:
    return ValidationRecord(
        id=row[0],
        process_id=row[1],
        package_sha=row[2],
        owner=row[3],
        job_id=row[4],
        status=row[5],
        created=int(row[6]),
        finished=None if row[7] is None else int(row[7]),
        reasons=orjson.loads(row[8] or "[]"),
        log=orjson.loads(row[9] or "[]"),
    )


class DeployedStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(
        self,
        process_id: str,
        package: str,
        media_type: str,
        *,
        replace: bool,
        owner: str | None = None,
        visibility: str = PRIVATE,
    ) -> None:
        """Store a package; a replacement keeps the first deployment's owner and visibility."""
        with self.engine.begin() as conn:
            if replace:
                found = conn.execute(
                    text("SELECT owner, visibility FROM deployed_processes WHERE id = :id"),
                    {"id": process_id},
                ).first()
                if found is not None:
                    owner, visibility = found[0], found[1]
            exists = conn.execute(
                text("SELECT 1 FROM deployed_processes WHERE id = :id"), {"id": process_id}
            ).first()
            if exists and not replace:
                raise Conflict(
                    f"process '{process_id}' is already deployed; PUT replaces it", field="id"
                )
            if not exists and replace:
                raise NotFound(f"process '{process_id}' is not deployed", field="processId")
            t = now_us()
            conn.execute(text("DELETE FROM deployed_processes WHERE id = :id"), {"id": process_id})
            conn.execute(
                text(
                    "INSERT INTO deployed_processes (id, package, media_type, "
                    "created, updated, owner, visibility) VALUES (:id, :p, :m, :t, :t, :o, :v)"
                ),
                {
                    "id": process_id,
                    "p": package,
                    "m": media_type,
                    "t": t,
                    "o": owner,
                    "v": visibility,
                },
            )

    def delete(self, process_id: str) -> None:
        """Undeploy, with the package's validations (the id may be deployed again, by anyone)."""
        with self.engine.begin() as conn:
            res = conn.execute(
                text("DELETE FROM deployed_processes WHERE id = :id"), {"id": process_id}
            )
            conn.execute(
                text("DELETE FROM process_validations WHERE process_id = :id"), {"id": process_id}
            )
        if not res.rowcount:
            raise NotFound(f"process '{process_id}' is not a deployed package", field="processId")

    def package(self, process_id: str) -> tuple[str, str]:
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT package, media_type FROM deployed_processes WHERE id = :id"),
                {"id": process_id},
            ).first()
        if row is None:
            raise NotFound(f"process '{process_id}' is not a deployed package", field="processId")
        return str(row[0]), str(row[1])

    def load(self, process_id: str, runtime: str = "none") -> CwlProcess:
        text_, _ = self.package(process_id)
        proc = CwlProcess(process_id, text_, yaml.safe_load(text_))
        proc.runtime = runtime
        return proc

    def access(self, process_id: str) -> Access | None:
        """Owner and visibility of a deployed package (None: not deployed, a built-in)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT owner, visibility FROM deployed_processes WHERE id = :id"),
                {"id": process_id},
            ).first()
        return None if row is None else Access(row[0], row[1])

    def hidden_from(self, viewer: Viewer) -> set[str]:
        """Deployed packages ``viewer`` may not see (the built-ins are everyone's)."""
        params: dict[str, Any] = {}
        clause = visible_where(viewer, params)
        if clause is None:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT id FROM deployed_processes WHERE NOT {clause}"), params
            ).all()
        return {r[0] for r in rows}

    def set_visibility(self, process_id: str, visibility: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE deployed_processes SET visibility = :v, updated = :t WHERE id = :id"),
                {"v": visibility, "t": now_us(), "id": process_id},
            )

    def all(self, runtime: str = "none") -> list[CwlProcess]:
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM deployed_processes"))]
        return [self.load(i, runtime) for i in ids]

    # -------------------------------------------------------------- validations

    def start_validation(self, process_id: str, sha: str, owner: str | None, job_id: str) -> str:
        """Record a validation whose job was just queued; its id."""
        vid = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO process_validations (id, process_id, package_sha, owner, job_id, "
                    "status, created) VALUES (:id, :p, :s, :o, :j, :st, :t)"
                ),
                {
                    "id": vid,
                    "p": process_id,
                    "s": sha,
                    "o": owner,
                    "j": job_id,
                    "st": VALIDATION_RUNNING,
                    "t": now_us(),
                },
            )
        return vid

    def finish_validation(
        self, vid: str, status: str, reasons: list[str], log: list[dict[str, Any]]
    ) -> bool:
        """Record a verdict once: False when another reader recorded it first."""
        with self.engine.begin() as conn:
            res = conn.execute(
                text(
                    "UPDATE process_validations SET status = :s, reasons = :r, log = :l, "
                    "finished = :t WHERE id = :id AND status = :running"
                ),
                {
                    "s": status,
                    "r": orjson.dumps(reasons).decode(),
                    "l": orjson.dumps(log).decode(),
                    "t": now_us(),
                    "id": vid,
                    "running": VALIDATION_RUNNING,
                },
            )
        return bool(res.rowcount)

    def validations(self, process_id: str, limit: int = 1) -> list[ValidationRecord]:
        """A package's validations, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_VALIDATION_COLS} FROM process_validations WHERE process_id = :p "
                    f"ORDER BY created DESC, id LIMIT {int(limit)}"
                ),
                {"p": process_id},
            ).all()
        return [_validation(r) for r in rows]

    def validation(self, vid: str) -> ValidationRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {_VALIDATION_COLS} FROM process_validations WHERE id = :id"),
                {"id": vid},
            ).first()
        if row is None:
            raise NotFound(f"no validation '{vid}'", field="validationId")
        return _validation(row)

    def running_validations(self, process_id: str) -> list[ValidationRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_VALIDATION_COLS} FROM process_validations WHERE process_id = :p "
                    "AND status = :s ORDER BY created"
                ),
                {"p": process_id, "s": VALIDATION_RUNNING},
            ).all()
        return [_validation(r) for r in rows]

    def has_passed(self, process_id: str, sha: str) -> bool:
        """Whether the package as it is now (``sha``) passed a validation."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT 1 FROM process_validations WHERE process_id = :p AND "
                    "package_sha = :s AND status = :ok"
                ),
                {"p": process_id, "s": sha, "ok": VALIDATION_PASSED},
            ).first()
        return row is not None
