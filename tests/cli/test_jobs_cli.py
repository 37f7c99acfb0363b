"""``gep jobs …`` and the SDK, against a live app (in process, with a real LocalCluster)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gep.api.app import create_app
from gep.cli import job_cmds
from gep.cli.main import app as cli
from gep.client import GepClient, GepClientError
from gep.settings import Settings

runner = CliRunner()


@pytest.fixture(scope="module")
def gep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GepClient]:
    app = create_app(Settings(home=Path(tmp_path_factory.mktemp("cli-jobs"))))
    with TestClient(app) as http:
        sdk = GepClient(http=http)
        job_cmds.CLIENT_FACTORY[:] = [lambda: sdk]
        yield sdk
        job_cmds.CLIENT_FACTORY.clear()


def test_submit_watch_prints_the_results(gep: GepClient) -> None:
    r = runner.invoke(
        cli, ["jobs", "submit", "wait", "--input", "seconds=0.3", "--input", "steps=3", "--watch"]
    )
    assert r.exit_code == 0, r.output
    job_id = r.output.splitlines()[0].strip()
    assert gep.job(job_id)["status"] == "successful"
    assert '"waited"' in r.output
    listed = runner.invoke(cli, ["jobs", "list", "--process", "wait"])
    assert listed.exit_code == 0 and job_id[:8] in listed.output
    status = runner.invoke(cli, ["jobs", "status", job_id])
    assert json.loads(status.output)["status"] == "successful"
    logs = runner.invoke(cli, ["jobs", "logs", job_id])
    assert "waited" in logs.output
    results = runner.invoke(cli, ["jobs", "results", job_id])
    assert json.loads(results.output)["waited"] >= 0.29


def test_cancel_and_errors(gep: GepClient) -> None:
    job = gep.execute("wait", {"seconds": 30, "steps": 300}, wait=False)
    r = runner.invoke(cli, ["jobs", "cancel", job["jobID"]])
    assert r.exit_code == 0 and r.output.strip() in ("dismissed", "running")
    final = gep.watch(job["jobID"], timeout=5, interval=0.1)
    assert final["status"] == "dismissed"
    bad = runner.invoke(cli, ["jobs", "submit", "wait", "--input", "seconds=-1"])
    assert bad.exit_code == 2 and "inputs.seconds" in bad.output
    missing = runner.invoke(cli, ["jobs", "status", "no-such"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    with pytest.raises(GepClientError) as err:
        gep.results("no-such")
    assert err.value.status == 404 and err.value.problem["type"].endswith("no-such-job")
