"""Deployed application packages, kept in the database so every worker and every server
process sees the same set (and a restart keeps them)."""

from __future__ import annotations

import yaml
from sqlalchemy import Engine, text

from gep.core.errors import Conflict, NotFound
from gep.jobs.store import now_us
from gep.processes.cwl import CwlProcess


class DeployedStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, process_id: str, package: str, media_type: str, *, replace: bool) -> None:
        with self.engine.begin() as conn:
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
                    "created, updated) VALUES (:id, :p, :m, :t, :t)"
                ),
                {"id": process_id, "p": package, "m": media_type, "t": t},
            )

    def delete(self, process_id: str) -> None:
        with self.engine.begin() as conn:
            res = conn.execute(
                text("DELETE FROM deployed_processes WHERE id = :id"), {"id": process_id}
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

    def all(self, runtime: str = "none") -> list[CwlProcess]:
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text("SELECT id FROM deployed_processes"))]
        return [self.load(i, runtime) for i in ids]
