"""Fixtures shared by the test suite: a catalogue store on each backend, and an API client.

The PostGIS backend is tested against a real PostgreSQL + PostGIS (``make test`` installs and
creates it); when it is unreachable the PostGIS tests fail with the reason, they never skip.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import rasterio
from rasterio.transform import from_origin
from sqlalchemy import text

from gep.algorithms.sar.geometry import Dem
from gep.algorithms.simulate.scene import (
    MogiSource,
    OkadaSource,
    SimulatedPair,
    simulate_pair,
    window_around,
)
from gep.catalog.backends import open_store
from gep.catalog.store import CatalogStore
from gep.io.dem import read_dem
from gep.io.sentinel1 import open_swath

PG_URL = os.environ.get(
    "GEP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gep_test"
)
BACKENDS = ["sqlite", "postgis"]

#: an administrator's API token, made valid by ``Settings(admin_token=ADMIN_TOKEN)`` (the
#: operator's bootstrap token); tests that are not about accounts act as this administrator
ADMIN_TOKEN = "gep_testadmin_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def run_job(client: Any, process: str, inputs: dict[str, Any], timeout_s: float = 180.0) -> str:
    """Execute ``process`` asynchronously through the API, wait for the job to end and check
    that it succeeded; returns the job's id (its results at ``/jobs/{id}/results``)."""
    r = client.post(
        f"/processes/{process}/execution",
        json={"inputs": inputs},
        headers={"Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job = str(r.json()["jobID"])
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.get(f"/jobs/{job}").json()
        if status["status"] in ("successful", "failed", "dismissed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status["status"] == "successful", (status, client.get(f"/jobs/{job}/logs").json())
    return job


def wait_for_job(
    client: Any, job_id: str, headers: dict[str, str] | None = None, timeout_s: float = 90.0
) -> dict[str, Any]:
    """The job's status document once it has ended (successful, failed or dismissed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=headers or {}).json()
        if job["status"] in ("successful", "failed", "dismissed"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s")


def write_test_raster(path: Path) -> Path:
    """A small float32 GeoTIFF (a ramp, 64 × 48 pixels of 30 m in UTM 33N)."""
    data = np.tile(np.linspace(0, 1000, 64, dtype="float32"), (48, 1))
    with rasterio.open(
        path, "w", driver="GTiff", width=64, height=48, count=1, dtype="float32",
        crs="EPSG:32633", transform=from_origin(500_000, 4_180_000, 30, 30),
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    return path


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


# -- simulated SAR pairs shared by the SAR tests (each simulated once per session) ----------
# They live here, not in tests/algorithms/conftest.py: a second module named ``conftest``
# would shadow this one for the tests that import helpers from it.


SAR_DATA = Path(__file__).parent / "data"
ROME = SAR_DATA / "s1/S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"


@dataclass
class Scene:
    """A simulated pair and the DEM it was simulated on."""

    pair: SimulatedPair
    dem: Dem

    def __getattr__(self, name: str) -> object:
        return getattr(self.pair, name)


@pytest.fixture(scope="session")
def rome_dem() -> Dem:
    r = read_dem(SAR_DATA / "dem/Rome-30m-DEM.tif")
    return Dem(r.heights, r.lat0, r.lon0, r.dlat, r.dlon)


@pytest.fixture(scope="session")
def rome_geometry():  # type: ignore[no-untyped-def]
    return open_swath(ROME, "IW1", "VV")


def _simulate(geometry, dem, lat, lon, shape, source, seed):  # type: ignore[no-untyped-def]
    h = float(dem.height_at(np.array([lat]), np.array([lon]))[0])
    l0, s0 = window_around(geometry, lat, lon, h, *shape)
    return Scene(
        simulate_pair(geometry, dem, window=(l0, s0, *shape), source=source, seed=seed), dem
    )


@pytest.fixture(scope="session")
def mogi_pair(rome_geometry, rome_dem) -> Scene:  # type: ignore[no-untyped-def]
    """Mogi source 3 km deep, 5 cm of uplift, under the real Rome DEM; 512 × 1024 pixels."""
    return _simulate(
        rome_geometry, rome_dem, 42.0, 12.5, (512, 1024), MogiSource(42.0, 12.5, 3000.0, 1.885e6), 1
    )


@pytest.fixture(scope="session")
def okada_pair(rome_geometry, rome_dem) -> Scene:  # type: ignore[no-untyped-def]
    """An Mw 5.8 thrust (8 × 6 km, 0.5 m slip, centroid 5 km deep) under Rome; 512 × 1280."""
    source = OkadaSource(42.0, 12.5, 5000.0, 140.0, 40.0, 8000.0, 6000.0, 90.0, 0.5)
    return _simulate(rome_geometry, rome_dem, 42.0, 12.5, (512, 1280), source, 2)
