"""Deployed application packages, kept in the database so every worker and every server
process sees the same set (and a restart keeps them)."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import Engine, text

from gep.catalog.access import Access
from gep.core.access import PRIVATE, Viewer
from gep.core.errors import Conflict, NotFound
from gep.db.visible import visible_where
from gep.jobs.store import now_us
from gep.processes.cwl import CwlProcess


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
