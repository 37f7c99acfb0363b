"""Fixtures shared by the test suite: a catalogue store on each backend, simulated SAR pairs.

Plain helpers (the API client factory, job polling, stores, servers, item builders) live in the
``tests.support`` package and are imported from there, never from this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from gep.algorithms.sar.geometry import Dem
from gep.algorithms.simulate.scene import (
    MogiSource,
    OkadaSource,
    SimulatedPair,
    simulate_pair,
    window_around,
)
from gep.catalog.store import CatalogStore
from gep.gateway.storage import StorageConfig
from gep.io.dem import read_dem
from gep.io.sentinel1 import open_swath
from tests.support.demo_server import Server, serve_demo
from tests.support.s3 import CREDENTIALS, S3Server, seaweed_server
from tests.support.stores import BACKENDS, make_store


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


# -- the demo platform served for real (the Geobrowser's tests and the notebooks share it) ------


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real ``gep serve`` on the seeded demo (tests.support.demo_server), once per pytest
    process: tests/ui and tests/notebooks run in the same one (``make pytest-ui``)."""
    yield from serve_demo(tmp_path_factory.mktemp("demo-server"))


# -- storage: a local folder and a real S3 server (SeaweedFS, started once per session) -------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """SeaweedFS serving S3 on loopback; botocore finds the test credentials in the
    environment, as a deployment's workers find theirs."""
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    with seaweed_server() as server:
        yield server


STORAGE_KINDS = ("local", "s3")


@pytest.fixture(params=STORAGE_KINDS)
def storage_config(request: pytest.FixtureRequest, tmp_path: Path) -> StorageConfig:
    """GEP's storage on a local folder, then on a fresh bucket of the real S3 server."""
    if request.param == "local":
        return StorageConfig((tmp_path / "storage").as_uri())
    server: S3Server = request.getfixturevalue("s3_server")
    return StorageConfig(f"s3://{server.new_place()}/gep", server.endpoint_url)
