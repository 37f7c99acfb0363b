"""``gep subscriptions …`` and the SDK's subscription methods, against a live app in process
(the dispatcher is not polling: ``subscriptions_poll_s=0``, so nothing triggers on its own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gep.cli import common
from gep.cli.main import app as cli
from gep.client import GepClient, GepClientError
from tests.support.app import api_client

runner = CliRunner()

SPEC: dict[str, Any] = {
    "title": "weekly echo",
    "process": "echo",
    "inputs": {"message": "run {{start}} to {{end}}"},
    "trigger": {
        "type": "time",
        "cron": "0 6 * * 1",
        "timezone": "Europe/Rome",
        "window": "P7D",
        "catch_up": "once",
    },
}


@pytest.fixture(scope="module")
def gep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GepClient]:
    home = Path(tmp_path_factory.mktemp("cli-subs"))
    with api_client(home, cwl_runtime="none", subscriptions_poll_s=0, harvest_poll_s=0) as http:
        sdk = GepClient(http=http)
        common.CLIENT_FACTORY[:] = [lambda: sdk]
        yield sdk
        common.CLIENT_FACTORY.clear()


def _create(tmp_path: Path, spec: dict[str, Any] = SPEC) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    r = runner.invoke(cli, ["subscriptions", "create", str(path)])
    assert r.exit_code == 0, r.output
    return r.output.splitlines()[0].strip()


def test_create_list_show_pause_resume_delete(gep: GepClient, tmp_path: Path) -> None:
    sub_id = _create(tmp_path)
    assert sub_id.startswith("sub-")
    created = gep.subscription(sub_id)
    assert created["state"] == "active" and created["process"] == "echo"
    assert created["trigger"]["cron"] == "0 6 * * 1"

    listed = runner.invoke(cli, ["subscriptions", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert sub_id in [s["id"] for s in json.loads(listed.output)]
    table = runner.invoke(cli, ["subscriptions", "list"])
    assert table.exit_code == 0 and sub_id in table.output and "weekly" in table.output, (
        table.output
    )

    shown = runner.invoke(cli, ["subscriptions", "show", sub_id])
    assert shown.exit_code == 0, shown.output
    for label in ("matched", "submitted", "running", "succeeded", "failed", "next run"):
        assert label in shown.output
    next_run = created["status"]["next_run"]
    assert next_run and next_run in shown.output  # a Monday 06:00 Rome, in UTC
    as_json = json.loads(runner.invoke(cli, ["subscriptions", "show", sub_id, "--json"]).output)
    assert as_json["status"]["submitted"] == 0 and as_json["status"]["last_trigger"] is None

    paused = runner.invoke(cli, ["subscriptions", "pause", sub_id])
    assert paused.exit_code == 0 and paused.output.strip() == "paused", paused.output
    assert gep.subscription(sub_id)["state"] == "paused"
    resumed = runner.invoke(cli, ["subscriptions", "resume", sub_id, "--no-catch-up"])
    assert resumed.exit_code == 0 and resumed.output.strip() == "active", resumed.output
    assert gep.subscription(sub_id)["state"] == "active"

    layer = runner.invoke(cli, ["subscriptions", "layer", sub_id])
    assert layer.exit_code == 0 and created["layer"] in layer.output
    jobs = runner.invoke(cli, ["subscriptions", "jobs", sub_id, "--json"])
    assert jobs.exit_code == 0 and json.loads(jobs.output) == []
    assert "<feed" in gep.subscription_feed(sub_id)

    deleted = runner.invoke(cli, ["subscriptions", "delete", sub_id])
    assert deleted.exit_code == 0, deleted.output
    assert sub_id not in [s["id"] for s in gep.subscriptions()]
    assert gep.http.get(f"/collections/{created['layer']}").status_code == 200  # layer kept
    gone = runner.invoke(cli, ["subscriptions", "show", sub_id])
    assert gone.exit_code == 2 and sub_id in gone.output


def test_remove_layer_edit_and_stdin(gep: GepClient, tmp_path: Path) -> None:
    hooked = {**SPEC, "webhook": {"url": "https://example.org/hook"}}
    r = runner.invoke(cli, ["subscriptions", "create", "-"], input=json.dumps(hooked))
    assert r.exit_code == 0, r.output
    sub_id = r.output.splitlines()[0].strip()
    assert "shown this once" in r.output and "whsec_" in r.output  # the secret, once
    shown = runner.invoke(cli, ["subscriptions", "show", sub_id, "--json"])
    assert "whsec_" not in shown.output and "example.org/hook" in shown.output
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"title": "renamed", "max_jobs_per_trigger": 3}))
    edited = runner.invoke(cli, ["subscriptions", "edit", sub_id, str(patch)])
    assert edited.exit_code == 0, edited.output
    after = gep.subscription(sub_id)
    assert after["title"] == "renamed" and after["max_jobs_per_trigger"] == 3
    # a time trigger has no archive to backfill: refused, naming the field
    refused = runner.invoke(cli, ["subscriptions", "backfill", sub_id, "--dry-run"])
    assert refused.exit_code == 2 and "backfill" in refused.output
    removed = runner.invoke(cli, ["subscriptions", "delete", sub_id, "--remove-layer"])
    assert removed.exit_code == 0, removed.output
    assert gep.http.get(f"/collections/{after['layer']}").status_code == 404


def test_bad_cron_is_refused_naming_the_field(gep: GepClient, tmp_path: Path) -> None:
    before = len(gep.subscriptions())
    bad = {**SPEC, "trigger": {**SPEC["trigger"], "cron": "61 * * * *"}}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    r = runner.invoke(cli, ["subscriptions", "create", str(path)])
    assert r.exit_code != 0 and "trigger.cron" in r.output, r.output
    assert len(gep.subscriptions()) == before
    with pytest.raises(GepClientError) as err:
        gep.create_subscription(bad)
    assert err.value.status == 400 and "trigger.cron" in str(err.value)
    not_json = tmp_path / "not.json"
    not_json.write_text("{")
    r = runner.invoke(cli, ["subscriptions", "create", str(not_json)])
    assert r.exit_code == 2 and "not JSON" in r.output
