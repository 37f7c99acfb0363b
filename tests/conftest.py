"""Fixtures shared by the test suite: a catalogue store on each backend, and an API client.

The PostGIS backend is tested against a real PostgreSQL + PostGIS (``make test`` installs and
creates it); when it is unreachable the PostGIS tests fail with the reason, they never skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gep.catalog.backends import open_store
from gep.catalog.store import CatalogStore

PG_URL = os.environ.get(
    "GEP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gep_test"
)
BACKENDS = ["sqlite", "postgis"]

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
        conn.execute(
            text(
                "TRUNCATE item_content, items, queryables, collections, jobs, job_logs "
                "RESTART IDENTITY CASCADE"
            )
        )
        conn.execute(text("UPDATE store_meta SET value = 0"))
    return _pg_store


def make_store(backend: str, tmp_path: Path) -> CatalogStore:
    if backend == "sqlite":
        store = open_store(f"sqlite:///{tmp_path / 'gep.db'}")
        store.upgrade()
        return store
    return _postgis_store()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[CatalogStore]:
    s = make_store(backend, tmp_path)
    yield s
    if backend == "sqlite":
        s.close()
