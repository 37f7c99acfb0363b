"""The process registry, descriptions and input validation (OGC API - Processes discovery)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gep.cli.main import app as cli
from gep.core.errors import InvalidInput
from gep.processes.echo import EchoInputs
from gep.processes.registry import NoSuchProcess, ProcessRegistry
from tests.support.app import api_client


def test_echo_is_registered_through_its_entry_point() -> None:
    reg = ProcessRegistry()
    assert "echo" in reg.ids()
    with pytest.raises(NoSuchProcess, match=r"available: .*echo"):
        reg.get("nope")


def test_inputs_are_validated_with_the_path_at_fault() -> None:
    reg = ProcessRegistry()
    ok = reg.validate_inputs("echo", {"message": "Etna"})
    assert isinstance(ok, EchoInputs) and ok.message == "Etna"
    with pytest.raises(InvalidInput) as err:  # a typo: the undeclared name, and what is taken
        reg.validate_inputs("echo", {"mesage": "typo"})
    assert err.value.field == "inputs.mesage" and "message" in err.value.message
    with pytest.raises(InvalidInput) as err:
        reg.validate_inputs("echo", {"message": {"nested": 1}})
    assert "inputs.message" in err.value.message


def test_http_list_and_describe(tmp_path: Path) -> None:
    with api_client(tmp_path, base_url="http://gep.test") as c:
        listed = c.get("/processes").json()
        assert [p["id"] for p in listed["processes"]] == [
            "coin",
            "dinsar",
            "echo",
            "hotspots",
            "offset-tracking",
            "quicklook",
            "sbas",
            "wait",
        ]
        assert "inputs" not in listed["processes"][0]  # summaries only in the list
        desc = c.get("/processes/echo").json()
        assert desc["inputs"]["message"]["schema"]["type"] == "string"
        assert desc["inputs"]["message"]["minOccurs"] == 1
        assert desc["outputs"]["message"]["schema"]["type"] == "string"
        assert "async-execute" in desc["jobControlOptions"]
        r = c.get("/processes/nope")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/no-such-process")


def test_cli_list_and_describe(tmp_path: Path) -> None:
    """The CLI asks the server (here in process, through the SDK)."""
    from gep.cli import common
    from gep.client import GepClient

    runner = CliRunner()
    with api_client(tmp_path, base_url="http://gep.test") as c:
        common.CLIENT_FACTORY[:] = [lambda: GepClient(http=c)]
        try:
            listed = runner.invoke(cli, ["processes", "list"])
            assert listed.exit_code == 0 and "echo" in listed.output
            described = runner.invoke(cli, ["processes", "describe", "echo", "--json"])
            assert described.exit_code == 0 and '"message"' in described.output
            missing = runner.invoke(cli, ["processes", "describe", "nope"])
            assert missing.exit_code == 2 and "nope" in missing.output
        finally:
            common.CLIENT_FACTORY.clear()
