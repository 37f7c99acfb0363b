"""The demo platform as a user meets it: a real ``gep serve`` holding ``gep demo seed --sar-pair
rome-okada-thrust`` (the Mexico City SBAS result, the optical demo, the demo subscriptions and
the simulated Rome pair), with alice, a developer who signs in with a password.

Seeding costs ~25 s of CPU, so one server serves every test of a pytest process that asks for
it: the Geobrowser's tests (tests/ui) and the notebooks' (tests/notebooks), through the
session fixture ``demo_server`` of tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.app import ADMIN_HEADERS
from tests.support.serving import free_port, start_gep_serve, stop

GEP = Path(sys.executable).parent / "gep"
#: alice's password for the web login
PASSWORD = "rome-2016-amatrice"


@dataclass(frozen=True)
class Server:
    url: str
    home: Path
    #: alice: a developer (may deploy services), with a password for the web login
    token: str


def gep_cli(home: Path, *args: str) -> str:
    """``gep ARGS`` on the server's home (its embedded SQLite), as an operator runs it."""
    env = {**os.environ, "GEP_HOME": str(home), "GEP_DATABASE_URL": "", "GEP_DASK_SCHEDULER": ""}
    done = subprocess.run([str(GEP), *args], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"gep {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def serve_demo(home: Path) -> Iterator[Server]:
    """Seed ``home``, serve it and create alice (through the API, as the administrator) until
    the generator is closed."""
    gep_cli(home, "db", "upgrade")
    gep_cli(home, "demo", "seed", "--sar-pair", "rome-okada-thrust")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_gep_serve(home, port, base_url=url)
    try:
        alice = {"name": "alice", "role": "developer", "password": PASSWORD, "credits": 1000}
        r = httpx.post(
            f"{url}/accounts/users",
            json={**alice, "token": True},
            headers=ADMIN_HEADERS,
            timeout=60,
        )
        assert r.status_code == 201, r.text
        yield Server(url, home, r.json()["token"])
    finally:
        stop(proc)
