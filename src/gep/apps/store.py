"""Thematic apps in the database (table ``thematic_apps``, migration 0015).

Owner and visibility are columns, so that listings filter with the same SQL as every other
owned thing (:mod:`gep.db.visible`); the rest of the app is one JSON document.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from gep.core.access import PRIVATE, Viewer
from gep.core.errors import Conflict, NotFound
from gep.db.visible import select_all_visible, select_visible

_COLS = "id, title, owner, visibility, document, created, updated"


@dataclass
class App:
    id: str
    title: str
    owner: str | None
    visibility: str
    document: dict[str, Any]
    created: int
    updated: int


def _row(r: Any) -> App:
    return App(r[0], r[1], r[2], r[3], orjson.loads(r[4]), int(r[5]), int(r[6]))


def now_us() -> int:
    return time.time_ns() // 1000


def new_id() -> str:
    return "app-" + uuid.uuid4().hex[:12]


class AppStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(
        self,
        conn: Connection,
        doc: dict[str, Any],
        owner: str | None,
        visibility: str = PRIVATE,
    ) -> str:
        """Insert on ``conn`` (the caller's transaction: an import writes the app with its
        services and areas, or nothing)."""
        app_id = doc.get("id") or new_id()
        if conn.execute(text("SELECT 1 FROM thematic_apps WHERE id = :id"), {"id": app_id}).first():
            raise Conflict(f"an app with id '{app_id}' exists already; choose another", field="id")
        body = {k: v for k, v in doc.items() if k != "id"}
        t = now_us()
        conn.execute(
            text(f"INSERT INTO thematic_apps ({_COLS}) VALUES (:id, :title, :o, :v, :d, :t, :t)"),
            {
                "id": app_id,
                "title": doc["title"],
                "o": owner,
                "v": visibility,
                "d": orjson.dumps(body).decode(),
                "t": t,
            },
        )
        return str(app_id)

    def create(self, doc: dict[str, Any], owner: str | None, visibility: str = PRIVATE) -> App:
        with self.engine.begin() as conn:
            app_id = self.insert(conn, doc, owner, visibility)
        return self.get(app_id)

    def get(self, app_id: str, viewer: Viewer | None = None) -> App:
        """An app ``viewer`` may see (all for None); NotFound alike for hidden and missing."""
        with self.engine.connect() as conn:
            row = select_visible(conn, "thematic_apps", _COLS, {"id": app_id}, viewer)
        if row is None:
            raise NotFound(f"app '{app_id}' does not exist (GET /apps lists yours)", field="appId")
        return _row(row)

    def exists(self, app_id: str) -> bool:
        with self.engine.connect() as conn:
            return bool(
                conn.execute(
                    text("SELECT 1 FROM thematic_apps WHERE id = :id"), {"id": app_id}
                ).first()
            )

    def all(self, viewer: Viewer | None = None) -> list[App]:
        with self.engine.connect() as conn:
            rows = select_all_visible(conn, "thematic_apps", _COLS, viewer, "created")
        return [_row(r) for r in rows]

    def replace(self, app_id: str, doc: dict[str, Any]) -> App:
        body = {k: v for k, v in doc.items() if k != "id"}
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE thematic_apps SET title = :title, document = :d, updated = :t "
                    "WHERE id = :id"
                ),
                {
                    "id": app_id,
                    "title": doc["title"],
                    "d": orjson.dumps(body).decode(),
                    "t": now_us(),
                },
            )
        return self.get(app_id)

    def set_visibility(self, app_id: str, visibility: str) -> App:
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE thematic_apps SET visibility = :v, updated = :t WHERE id = :id"),
                {"id": app_id, "v": visibility, "t": now_us()},
            )
        return self.get(app_id)

    def delete(self, app_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM thematic_apps WHERE id = :id"), {"id": app_id})
