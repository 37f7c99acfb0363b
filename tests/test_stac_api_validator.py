"""stac-api-validator against a live ``gep serve``, on SQLite and on PostGIS.

Each backend gets a fresh catalogue (a temporary GEP_HOME; for PostGIS a database of its own,
dropped afterwards), seeded with the demo data, served by the real CLI on a free port, and
validated by ``tools/stac_validate.py`` run with the validator's own venv (``make validator``).
The wrapper, not the validator, decides pass/fail: stac-api-validator exits 0 even when it
crashes, and it fetches JSON schemas from the web, which the wrapper serves from pystac's bundled
copies instead. Nothing here skips: without the venv or without PostGIS the test fails and says
how to get them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gep.catalog.demo import SAMPLES
from tests.support.app import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR_PYTHON = ROOT / ".venv-validator" / "bin" / "python"
WRAPPER = ROOT / "tools" / "stac_validate.py"
GEP = Path(sys.executable).with_name("gep")

PG_URL = os.environ.get(
    "GEP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gep_test"
)

#: every class the issue asks for; the validator only logs "not yet supported" for the two
#: features#... ones, and the wrapper's summary says so
CLASSES = [
    "core",
    "collections",
    "features",
    "item-search",
    "filter",
    "item-search#sort",
    "item-search#fields",
    "features#sort",
    "features#fields",
    "transaction",
]
COLLECTION = "sentinel-1-slc"
TRANSACTION_COLLECTION = "stac-api-validator"


def _geometry_of_a_sample_item() -> str:
    """The bbox of the first sample item of COLLECTION, so intersects searches have results."""
    with (SAMPLES / f"{COLLECTION}.ndjson").open() as f:
        item: dict[str, Any] = json.loads(f.readline())
    bbox = item["bbox"]
    w, s, e, n = bbox if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4])
    return json.dumps(
        {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin_conninfo() -> tuple[str, str]:
    """(libpq URL of the server's 'postgres' database, database name prefix) from PG_URL."""
    base = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    return base.rsplit("/", 1)[0] + "/postgres", base.rsplit("/", 1)[0]


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite (GEP_HOME's default); a fresh PostGIS database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    import psycopg

    admin, server = _admin_conninfo()
    name = f"gep_validator_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL at {admin} is unreachable or refuses CREATE DATABASE ({exc}); "
            "run `make postgis` or set GEP_TEST_DATABASE_URL"
        )
    try:
        yield f"postgresql+psycopg://{server.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(home: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEP_")}
    env["GEP_HOME"] = str(home)
    env["GEP_ADMIN_TOKEN"] = ADMIN_TOKEN  # the transaction classes write: as the administrator
    if database_url:
        env["GEP_DATABASE_URL"] = database_url
    return env


@pytest.fixture
def served_catalogue(tmp_path: Path, database_url: str | None) -> Iterator[str]:
    """``gep demo seed`` then ``gep serve`` on a free port; yields the STAC root URL."""
    if not GEP.exists():
        pytest.fail(f"{GEP} not found: run the tests with GEP's venv (make install)")
    env = _env(tmp_path / "home", database_url)
    seed = subprocess.run(
        [str(GEP), "demo", "seed", "--no-sar"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert seed.returncode == 0, f"gep demo seed failed:\n{seed.stdout}\n{seed.stderr}"
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [str(GEP), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    root = f"http://127.0.0.1:{port}/stac"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"gep serve exited with {server.returncode}:\n"
                    + (tmp_path / "serve.log").read_text()
                )
            try:
                with urllib.request.urlopen(root, timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    "gep serve did not answer within 60 s:\n" + (tmp_path / "serve.log").read_text()
                )
            time.sleep(0.3)
        yield root
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
        log.close()


def validator_command(root_url: str, geometry: str) -> list[str]:
    """The command line the README shows (with the validator's python and this repo's paths)."""
    cmd = [str(VALIDATOR_PYTHON), str(WRAPPER), "--root-url", root_url]
    for cc in CLASSES:
        cmd += ["--conformance", cc]
    return [
        *cmd,
        "--collection",
        COLLECTION,
        "--geometry",
        geometry,
        "--transaction-collection",
        TRANSACTION_COLLECTION,
        "--validate-pagination",
        "--fields-nested-property",
        "properties.sar:instrument_mode",
        "-H",
        "Prefer: return=minimal",
        "-H",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--skip-unavailable-extension-schemas",
        "--log-level",
        "WARNING",
    ]


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)],
    indirect=True,
)
def test_stac_api_validator_passes(served_catalogue: str) -> None:
    if not VALIDATOR_PYTHON.exists():
        pytest.fail(
            f"{VALIDATOR_PYTHON} is missing: run `make validator` (stac-api-validator "
            "lives in its own venv, .venv-validator)"
        )
    run = subprocess.run(
        validator_command(served_catalogue, _geometry_of_a_sample_item()),
        capture_output=True,
        text=True,
        timeout=800,
        check=False,
        cwd=ROOT,
    )
    report = run.stdout + ("\n[stderr]\n" + run.stderr if run.stderr.strip() else "")
    assert run.returncode == 0, f"stac-api-validator failed (exit {run.returncode}):\n{report}"
    assert "RESULT:              PASS" in run.stdout, report
