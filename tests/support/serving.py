"""Running a real `gep serve` process for the tests that need one (restarts, real clients)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.app import ADMIN_TOKEN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gep_serve(home: Path, port: int, **settings: str) -> subprocess.Popen[bytes]:
    """`gep serve` on its embedded defaults in ``home`` (plus ``GEP_*`` overrides), in its own
    process group so that a test can SIGKILL it with its cluster; returns once it answers."""
    env = {
        **os.environ,
        "GEP_HOME": str(home),
        "GEP_DATABASE_URL": "",
        "GEP_DASK_SCHEDULER": "",
        "GEP_ADMIN_TOKEN": ADMIN_TOKEN,
        **{f"GEP_{k.upper()}": v for k, v in settings.items()},
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gep"),
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(proc)
    raise AssertionError("gep serve did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
