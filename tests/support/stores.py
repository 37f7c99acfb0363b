"""Databases for the tests: the catalogue store on each backend, and scratch PostGIS databases.

The PostGIS backend is tested against a real PostgreSQL + PostGIS (``make test`` installs and
creates it); when it is unreachable the PostGIS tests fail with the reason, they never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from gep.catalog.backends import open_store
from gep.catalog.store import CatalogStore

PG_URL = os.environ.get(
    "GEP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gep_test"
)
BACKENDS = ["sqlite", "postgis"]


@contextmanager
def scratch_postgis_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database (with PostGIS) of its own, dropped afterwards: for servers whose
    tables the shared test database's truncations must not touch. Yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(f"{admin}/{name}", autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


_pg_store: CatalogStore | None = None


def _postgis_store() -> CatalogStore:
    """One migrated PostGIS store per session; tables are emptied between tests."""
    global _pg_store
    if _pg_store is None:
        store = open_store(PG_URL)
        try:
            with store.engine.begin() as conn:
                # every table a previous run's schema made (all revisions), PostGIS's aside
                conn.execute(
                    text(
                        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables "
                        "WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys' LOOP "
                        "EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(r.tablename) || "
                        "' CASCADE'; END LOOP; END $$"
                    )
                )
        except Exception as exc:  # pragma: no cover - environment problem, reported as failure
            pytest.fail(
                f"PostGIS test database {PG_URL} is unreachable ({exc}); "
                "run `make postgis` or set GEP_TEST_DATABASE_URL"
            )
        store.upgrade()
        _pg_store = store
    with _pg_store.engine.begin() as conn:
        # every table of the schema but PostGIS's and the migration bookkeeping
        conn.execute(
            text(
                "DO $$ DECLARE t text; BEGIN SELECT string_agg(quote_ident(tablename), ', ') "
                "INTO t FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN "
                "('spatial_ref_sys', 'alembic_version', 'store_meta'); "
                "EXECUTE 'TRUNCATE ' || t || ' RESTART IDENTITY CASCADE'; END $$"
            )
        )
        conn.execute(text("UPDATE store_meta SET value = 0"))
    return _pg_store


def make_store(backend: str, tmp_path: Path) -> CatalogStore:
    """A migrated catalogue store: a fresh SQLite file in ``tmp_path``, or the session's PostGIS
    store emptied."""
    if backend == "sqlite":
        store = open_store(f"sqlite:///{tmp_path / 'gep.db'}")
        store.upgrade()
        return store
    return _postgis_store()
