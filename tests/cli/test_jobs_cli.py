"""``gep jobs …`` and the SDK, against a live app (in process, with a real LocalCluster)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gep.cli import common
from gep.cli.main import app as cli
from gep.client import GepClient, GepClientError
from tests.support.app import api_client

runner = CliRunner()


@pytest.fixture(scope="module")
def gep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GepClient]:
    with api_client(Path(tmp_path_factory.mktemp("cli-jobs")), cwl_runtime="none") as http:
        sdk = GepClient(http=http)
        common.CLIENT_FACTORY[:] = [lambda: sdk]
        yield sdk
        common.CLIENT_FACTORY.clear()


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
    status = runner.invoke(cli, ["jobs", "status", job_id, "--json"])
    assert json.loads(status.output)["status"] == "successful"
    logs = runner.invoke(cli, ["jobs", "logs", job_id])
    assert "waited" in logs.output
    results = runner.invoke(cli, ["jobs", "results", job_id, "--json"])
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


def test_deploy_and_undeploy_from_the_cli(gep: GepClient, tmp_path: Path) -> None:
    package = tmp_path / "hello.cwl"
    package.write_text(
        "cwlVersion: v1.2\nclass: CommandLineTool\nid: hello\nbaseCommand: echo\n"
        "inputs:\n  who: {type: string, inputBinding: {position: 1}}\n"
        "outputs:\n  said: {type: stdout}\nstdout: said.txt\n"
    )
    r = runner.invoke(cli, ["processes", "deploy", str(package)])
    assert r.exit_code == 0 and r.output.strip() == "hello", r.output
    assert "hello" in [p["id"] for p in gep.processes()]
    again = runner.invoke(cli, ["processes", "deploy", str(package)])
    assert again.exit_code == 2 and "already exists" in again.output
    assert runner.invoke(cli, ["processes", "deploy", str(package), "--replace"]).exit_code == 0
    assert runner.invoke(cli, ["processes", "undeploy", "hello"]).exit_code == 0
    assert "hello" not in [p["id"] for p in gep.processes()]


def test_jobs_filter_by_creation_time(gep: GepClient) -> None:
    gep.execute("echo", {"message": "dated"})
    assert gep.jobs(limit=100)
    future = gep.http.get("/jobs", params={"datetime": "2999-01-01T00:00:00Z/.."}).json()
    assert future["numberMatched"] == 0
    past = gep.http.get("/jobs", params={"datetime": "2000-01-01T00:00:00Z/.."}).json()
    assert past["numberMatched"] >= 1


def test_pin_and_unpin_a_job(gep: GepClient) -> None:
    job = gep.execute("wait", {"seconds": 0.1}, wait=False)
    gep.watch(job["jobID"], timeout=30, interval=0.1)
    pinned = runner.invoke(cli, ["jobs", "pin", job["jobID"], "--json"])
    assert pinned.exit_code == 0, pinned.output
    assert json.loads(pinned.output)["gep:pinned"] is True
    assert gep.job(job["jobID"])["gep:pinned"] is True
    unpinned = runner.invoke(cli, ["jobs", "pin", job["jobID"][:13], "--unpin", "--json"])
    assert unpinned.exit_code == 0 and json.loads(unpinned.output)["gep:pinned"] is False
    missing = runner.invoke(cli, ["jobs", "pin", "no-such"])
    assert missing.exit_code == 2 and "no-such" in missing.output


def test_jobs_by_id_prefix_in_the_api(gep: GepClient) -> None:
    """``GET /jobs?prefix=``: the visible jobs whose id starts so (what the CLI resolves short
    ids with); LIKE's wildcards match themselves; a prefix must be 1 to 64 characters."""
    job = gep.execute("echo", {"message": "prefix"}, wait=False)
    job_id = str(job["jobID"])
    found = gep.http.get("/jobs", params={"prefix": job_id[:6], "limit": 100}).json()
    assert job_id in [j["jobID"] for j in found["jobs"]]
    assert all(j["jobID"].startswith(job_id[:6]) for j in found["jobs"])
    assert found["numberMatched"] == len(found["jobs"])
    for wildcard in ("%", "_", job_id[:4] + "%"):
        none = gep.http.get("/jobs", params={"prefix": wildcard}).json()
        assert none["numberMatched"] == 0, wildcard
    too_long = gep.http.get("/jobs", params={"prefix": "a" * 65})
    assert too_long.status_code == 400 and too_long.json()["field"] == "prefix"
    # the CLI takes the start of an id wherever it takes a job
    r = runner.invoke(cli, ["jobs", "status", job_id[:8], "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["jobID"] == job_id
