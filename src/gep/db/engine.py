"""Opening the database: one SQLAlchemy engine per store, whatever package uses it.

SQLite needs hooks to behave like a server database under concurrent writers (see
:func:`sqlite_engine`); PostgreSQL needs a bounded pool and no parallel workers. Both live here so
that every store gets the same transaction semantics, and the catalogue adds only what is its own
(its SQL functions).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

#: what every SQLite connection runs first: WAL lets readers run beside the writer, the busy
#: timeout makes concurrent writers queue rather than fail, the caches fit a 1 M-item catalogue
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "busy_timeout=30000",
    "case_sensitive_like=ON",
    "cache_size=-131072",
    "mmap_size=1073741824",
    "temp_store=MEMORY",
)


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
    cur = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _on_begin(conn: Connection) -> None:
    """pysqlite runs in autocommit (``_on_connect``), so SQLAlchemy's transactions are begun
    here: IMMEDIATE for the ones that will write (``engine.begin()`` and bulk writes take the
    write lock first, so two writers queue on the busy timeout instead of one failing when its
    read snapshot goes stale), DEFERRED for reads, which WAL never blocks."""
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def _begin_immediate(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def sqlite_engine(url: str) -> Engine:
    """An engine whose multi-statement transactions are atomic (a job and its credit hold) and
    whose writers queue on the busy timeout."""
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    # every ``with engine.begin()`` in GEP is a write transaction: make it take the lock first
    engine.begin = functools.partial(_begin_immediate, engine)  # type: ignore[method-assign]
    return engine


def postgres_engine(url: str) -> Engine:
    """A pooled engine for PostgreSQL (``postgresql+psycopg://``)."""
    # no parallel workers: starting them costs ~12 ms, more than a page query takes
    return create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={"options": "-c max_parallel_workers_per_gather=0"},
    )
