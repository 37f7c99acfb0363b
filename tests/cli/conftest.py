"""A GEP server of its own for the CLI battery: another port, another home and database than
the CLI's (whose GEP_HOME points at an empty folder), so a command that still opened the
database itself would find nothing there, and one that talks to the server works."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.support.app import ADMIN_TOKEN
from tests.support.serving import free_port, start_gep_serve, stop

GEP = str(Path(sys.executable).parent / "gep")


@dataclass
class RemoteGep:
    url: str
    server_home: Path
    cli_home: Path
    admin_token: str = ADMIN_TOKEN

    def env(self, token: str | None = ADMIN_TOKEN, **extra: str) -> dict[str, str]:
        """What a user's shell would hold: GEP_URL, GEP_TOKEN, and homes of their own."""
        env = {
            "GEP_URL": self.url,
            "GEP_HOME": str(self.cli_home),
            "GEP_DATABASE_URL": "",
            "XDG_CONFIG_HOME": str(self.cli_home / "config"),
            "COLUMNS": "80",
            **extra,
        }
        env["GEP_TOKEN"] = token or ""
        return env

    def invoke(self, *args: str, token: str | None = ADMIN_TOKEN, **extra: str) -> Result:
        """The CLI in this process (quick), through GEP_URL like a user's shell."""
        from gep.cli.main import app

        return CliRunner().invoke(app, list(args), env=self.env(token, **extra))

    def run(
        self, *args: str, token: str | None = ADMIN_TOKEN, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """The installed `gep` executable itself (its entry point and error handling)."""
        env = {**os.environ, **self.env(token, **extra)}
        env.pop("GEP_BASE_URL", None)
        return subprocess.run(
            [GEP, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )


@pytest.fixture(scope="session")
def remote_gep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteGep]:
    server_home = tmp_path_factory.mktemp("remote-server")
    cli_home = tmp_path_factory.mktemp("remote-cli")
    port = free_port()
    proc = start_gep_serve(server_home, port)
    try:
        yield RemoteGep(f"http://127.0.0.1:{port}", server_home, cli_home)
    finally:
        stop(proc)
