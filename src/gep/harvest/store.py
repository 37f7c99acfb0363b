"""Harvest sources and the harvest log, in the catalogue's database.

Keeping them beside the items (not in a file) is what makes a harvest resumable: the page
cursor and the checkpoint live in the same database the items are committed to, and a run's
record is updated after every page, so ``gep harvest status`` shows progress and a crashed run
is visible as one whose heartbeat stopped.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine, text

from gep.core.access import PUBLIC, Viewer
from gep.core.errors import Conflict, InvalidInput, NotFound
from gep.db.visible import select_all_visible, select_visible
from gep.harvest.base import SourceConfig

#: run statuses
RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "running", "succeeded", "failed", "interrupted"


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class SourceRecord:
    config: SourceConfig
    interval_s: int | None
    enabled: bool
    #: newest item datetime (RFC 3339) of the last finished run: the next run starts there
    checkpoint: str | None
    #: the page a cut-off run had not finished: the next run resumes there
    cursor: dict[str, Any] | None
    created: int
    updated: int
    next_run: int | None
    owner: str | None = None
    visibility: str = PUBLIC

    def as_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "name": c.name,
            "kind": c.kind,
            "url": c.url,
            "collection": c.collection,
            "params": c.params,
            "interval_s": self.interval_s,
            "enabled": self.enabled,
            "checkpoint": self.checkpoint,
            "resuming": self.cursor is not None,
            "visibility": self.visibility,
        }


@dataclass
class HarvestRun:
    id: int
    source: str
    started: int
    finished: int | None
    status: str
    pages: int = 0
    seen: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    requests: int = 0
    retries: int = 0
    since: str | None = None
    errors: list[str] = field(default_factory=list)
    heartbeat: int | None = None

    def as_dict(self) -> dict[str, Any]:
        from gep.core.timeutil import format_rfc3339, from_micros

        def ts(us: int | None) -> str | None:
            return None if us is None else format_rfc3339(from_micros(us))

        return {
            "id": self.id,
            "source": self.source,
            "status": self.status,
            "started": ts(self.started),
            "finished": ts(self.finished),
            "since": self.since,
            "pages": self.pages,
            "seen": self.seen,
            "new": self.new,
            "updated": self.updated,
            "skipped": self.skipped,
            "requests": self.requests,
            "retries": self.retries,
            "errors": self.errors,
        }


_SOURCE_COLS = (
    "name, kind, url, collection, params, interval_s, enabled, checkpoint, cursor, "
    "created, updated, next_run, owner, visibility"
)
_RUN_COLS = (
    "id, source, started, finished, status, pages, seen, new, updated, skipped, requests, "
    "retries, since, errors, heartbeat"
)

#: a running run whose last page is older than this is taken to be dead
STALE_RUN_S = 600

#: at most this many error lines are kept per run (the counts stay exact)
MAX_LOGGED_ERRORS = 200


class HarvestStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -------------------------------------------------------------- sources
    def add(
        self,
        config: SourceConfig,
        *,
        interval_s: int | None = None,
        replace: bool = False,
        owner: str | None = None,
        visibility: str = PUBLIC,
    ) -> SourceRecord:
        """Store a source (public by default: harvesting keeps the shared catalogue current;
        a replacement keeps the owner and visibility it had)."""
        if interval_s is not None and interval_s <= 0:
            raise InvalidInput("interval_s must be a positive number of seconds", field="interval")
        t = now_us()
        params = {
            "n": config.name,
            "k": config.kind,
            "u": config.url,
            "c": config.collection,
            "p": orjson.dumps(config.params).decode(),
            "i": interval_s,
            "t": t,
            "nr": t if interval_s else None,
            "o": owner,
            "v": visibility,
        }
        with self.engine.begin() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM harvest_sources WHERE name = :n"), {"n": config.name}
            ).first()
            if exists and not replace:
                raise Conflict(
                    f"a harvest source named '{config.name}' exists already "
                    "(remove it first, or add with --replace)",
                    field="name",
                )
            if exists:
                # the checkpoint survives a change of settings: it is about the archive
                conn.execute(
                    text(
                        "UPDATE harvest_sources SET kind = :k, url = :u, collection = :c, "
                        "params = :p, interval_s = :i, updated = :t, next_run = :nr, "
                        "cursor = NULL WHERE name = :n"
                    ),
                    params,
                )
            else:
                conn.execute(
                    text(
                        f"INSERT INTO harvest_sources ({_SOURCE_COLS}) VALUES "
                        "(:n, :k, :u, :c, :p, :i, 1, NULL, NULL, :t, :t, :nr, :o, :v)"
                    ),
                    params,
                )
        return self.get(config.name)

    def get(self, name: str, viewer: Viewer | None = None) -> SourceRecord:
        """A source; NotFound when it does not exist or ``viewer`` may not see it."""
        with self.engine.connect() as conn:
            row = select_visible(conn, "harvest_sources", _SOURCE_COLS, {"name": name}, viewer)
        if row is None:
            raise NotFound(
                f"no harvest source named '{name}' (gep harvest list shows them)", field="source"
            )
        return _source(row)

    def sources(self, viewer: Viewer | None = None) -> list[SourceRecord]:
        """The sources ``viewer`` may see (all when None)."""
        with self.engine.connect() as conn:
            rows = select_all_visible(conn, "harvest_sources", _SOURCE_COLS, viewer, "name")
        return [_source(r) for r in rows]

    def set_visibility(self, name: str, visibility: str) -> None:
        self.get(name)
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE harvest_sources SET visibility = :v, updated = :t WHERE name = :n"),
                {"v": visibility, "t": now_us(), "n": name},
            )

    def remove(self, name: str) -> None:
        self.get(name)
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM harvest_sources WHERE name = :n"), {"n": name})

    def save_progress(
        self, name: str, *, cursor: dict[str, Any] | None, checkpoint: str | None = None
    ) -> None:
        sql = "UPDATE harvest_sources SET cursor = :cur, updated = :t"
        params: dict[str, Any] = {
            "n": name,
            "cur": None if cursor is None else orjson.dumps(cursor).decode(),
            "t": now_us(),
        }
        if checkpoint is not None:
            sql += ", checkpoint = :cp"
            params["cp"] = checkpoint
        with self.engine.begin() as conn:
            conn.execute(text(sql + " WHERE name = :n"), params)

    def due(self, at: int | None = None) -> list[SourceRecord]:
        """Enabled scheduled sources whose next run time has come."""
        at = now_us() if at is None else at
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_SOURCE_COLS} FROM harvest_sources WHERE enabled = 1 AND "
                    "interval_s IS NOT NULL AND next_run <= :t ORDER BY next_run"
                ),
                {"t": at},
            ).all()
        return [_source(r) for r in rows]

    def claim(self, record: SourceRecord) -> bool:
        """Move a due source's next run one interval on, if nobody else did first.

        The conditional UPDATE is the lock: of several servers sharing a database, exactly one
        sees its UPDATE change a row and runs the harvest.
        """
        if record.interval_s is None:
            return False
        with self.engine.begin() as conn:
            changed = conn.execute(
                text(
                    "UPDATE harvest_sources SET next_run = :t WHERE name = :n AND next_run = :old"
                ),
                {
                    "t": now_us() + record.interval_s * 1_000_000,
                    "n": record.config.name,
                    "old": record.next_run,
                },
            ).rowcount
        return bool(changed)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.get(name)
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE harvest_sources SET enabled = :e WHERE name = :n"),
                {"e": int(enabled), "n": name},
            )

    # -------------------------------------------------------------- runs
    def start_run(self, source: str, since: str | None) -> HarvestRun:
        t = now_us()
        with self.engine.begin() as conn:
            live = conn.execute(
                text(
                    "SELECT id, owner FROM harvest_runs WHERE source = :src AND status = :r "
                    "AND heartbeat > :fresh"
                ),
                {"src": source, "r": RUNNING, "fresh": t - STALE_RUN_S * 1_000_000},
            ).first()
            if live is not None and _owner_alive(live[1]):
                raise Conflict(
                    f"source '{source}' is being harvested already (run {live[0]}); a run "
                    f"whose process died is taken over {STALE_RUN_S} s after its last page",
                    field="source",
                )
            # a run still marked running whose process is gone is closed as interrupted first
            conn.execute(
                text(
                    "UPDATE harvest_runs SET status = :s, finished = heartbeat "
                    "WHERE source = :src AND status = :r"
                ),
                {"s": INTERRUPTED, "src": source, "r": RUNNING},
            )
            conn.execute(
                text(
                    "INSERT INTO harvest_runs (source, started, status, since, errors, "
                    "heartbeat, owner) VALUES (:src, :t, :r, :since, '[]', :t, :o)"
                ),
                {"src": source, "t": t, "r": RUNNING, "since": since, "o": _OWNER},
            )
            run_id = conn.execute(
                text("SELECT max(id) FROM harvest_runs WHERE source = :src"), {"src": source}
            ).scalar()
        return HarvestRun(int(run_id or 0), source, t, None, RUNNING, since=since, heartbeat=t)

    def update_run(self, run: HarvestRun) -> None:
        run.heartbeat = now_us()
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE harvest_runs SET finished = :finished, status = :status, "
                    "pages = :pages, seen = :seen, new = :new, updated = :updated, "
                    "skipped = :skipped, requests = :requests, retries = :retries, "
                    "errors = :errors, heartbeat = :heartbeat WHERE id = :id"
                ),
                {
                    "finished": run.finished,
                    "status": run.status,
                    "pages": run.pages,
                    "seen": run.seen,
                    "new": run.new,
                    "updated": run.updated,
                    "skipped": run.skipped,
                    "requests": run.requests,
                    "retries": run.retries,
                    "errors": orjson.dumps(run.errors[:MAX_LOGGED_ERRORS]).decode(),
                    "heartbeat": run.heartbeat,
                    "id": run.id,
                },
            )

    def runs(self, source: str | None = None, limit: int = 20) -> list[HarvestRun]:
        sql = f"SELECT {_RUN_COLS} FROM harvest_runs"
        params: dict[str, Any] = {"n": limit}
        if source:
            sql += " WHERE source = :src"
            params["src"] = source
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY id DESC LIMIT :n"), params).all()
        return [
            HarvestRun(
                int(r[0]),
                r[1],
                int(r[2]),
                None if r[3] is None else int(r[3]),
                r[4],
                int(r[5]),
                int(r[6]),
                int(r[7]),
                int(r[8]),
                int(r[9]),
                int(r[10]),
                int(r[11]),
                r[12],
                orjson.loads(r[13]),
                None if r[14] is None else int(r[14]),
            )
            for r in rows
        ]


#: who runs a harvest: a run owned by a dead process of this host is taken over at once
_OWNER = f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's run: trust its heartbeat
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _source(r: Any) -> SourceRecord:
    return SourceRecord(
        config=SourceConfig(
            name=r[0], kind=r[1], url=r[2], collection=r[3], params=orjson.loads(r[4])
        ),
        interval_s=None if r[5] is None else int(r[5]),
        enabled=bool(r[6]),
        checkpoint=r[7],
        cursor=None if r[8] is None else orjson.loads(r[8]),
        created=int(r[9]),
        updated=int(r[10]),
        next_run=None if r[11] is None else int(r[11]),
        owner=r[12],
        visibility=r[13],
    )
