"""The OpenSearch, OData and ASF sources through ``gep harvest`` and ``/harvest``, and the
scheduler inside ``gep serve`` running a due source on its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from gep.cli.main import app as cli
from tests.support.app import api_client
from tests.support.harvest_kit import asf_cmr, creodias, mundi, wait_for_run


def test_cli_adds_and_runs_each_kind(tmp_path: Path) -> None:
    from gep.cli import common
    from gep.client import GepClient

    runner = CliRunner()
    cmr, atom, odata = asf_cmr(), mundi(), creodias()
    with cmr.server() as server, api_client(tmp_path, harvest_poll_s=0) as client:
        common.CLIENT_FACTORY[:] = [lambda: GepClient(http=client)]  # type: ignore[arg-type]
        try:
            added = runner.invoke(
                cli,
                ["harvest", "add", "cmr", "--kind", "asf", "--url", server.url + cmr.path,
                 "--collection", "s1", "--param", "api=cmr", "--param", "page_size=5",
                 "--params", json.dumps({"short_name": cmr.params["short_name"]})],
            )  # fmt: skip
            assert added.exit_code == 0, added.output
            ran = runner.invoke(cli, ["harvest", "run", "cmr", "--json"])
            assert ran.exit_code == 0, ran.output
            run = json.loads(ran.stdout)[0]
            assert (run["status"], run["pages"], run["new"]) == ("succeeded", 3, len(cmr.ids))
            for name, archive in (("atom", atom), ("creo", odata)):
                args = ["harvest", "add", name, "--kind", archive.kind, "--url",
                        "https://a.example/s"]  # fmt: skip
                params = ["--params", json.dumps(archive.params)]
                added = runner.invoke(cli, [*args, "--collection", "c", *params, "--every", "1d"])
                assert added.exit_code == 0, added.output
            listed = json.loads(runner.invoke(cli, ["harvest", "list", "--json"]).stdout)
            assert {s["name"]: s["kind"] for s in listed} == {"cmr": "asf", "atom": "opensearch",
                                                              "creo": "odata"}  # fmt: skip
            wrong = runner.invoke(
                cli,
                ["harvest", "add", "x", "--kind", "asf", "--url", "https://a.example/s",
                 "--collection", "c", "--param", "output=csv"],
            )  # fmt: skip
            assert wrong.exit_code == 2
            assert "params.output must be one of geojson, jsonlite" in wrong.output
        finally:
            common.CLIENT_FACTORY.clear()


#: configuring harvests is an administrator's action: the server makes this token an admin's
ADMIN_TOKEN = "gep_harvestadmin_0123456789abcdef"


def test_api_source_runs_on_schedule_inside_serve(tmp_path: Path) -> None:
    archive = creodias()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with (
        archive.server() as server,
        api_client(
            tmp_path,
            headers=headers,
            base_url="http://gep.test",
            harvest_poll_s=0.2,
            admin_token=ADMIN_TOKEN,
        ) as client,
    ):
        bad = client.post(
            "/harvest/sources",
            json={"name": "x", "kind": "asf", "url": server.url, "collection": "s1",
                  "params": {"api": "soap"}},
        )  # fmt: skip
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "params.api must be one of search, cmr" in bad.json()["detail"]

        body = {
            "name": "creodias",
            "kind": "odata",
            "url": server.url + archive.path,
            "collection": "s1-grd",
            "params": archive.params,
            "interval_s": 3600,
        }
        assert client.post("/harvest/sources", json=body).status_code == 201
        # no POST .../run: the scheduler thread of the server finds the source due
        runs = wait_for_run(client, "creodias")
        assert runs and runs[0]["status"] == "succeeded", runs
        assert runs[0]["new"] == len(archive.ids) and runs[0]["pages"] == archive.pages
        events = client.get("/harvest/events", params={"collection": "s1-grd"}).json()
        assert {e["item"] for e in events["events"]} == archive.ids
        assert all(e["origin"] == "harvest:creodias" for e in events["events"])
        # claimed for the next hour: one run, however often the scheduler looks
        time.sleep(0.5)
        assert len(client.get("/harvest/sources/creodias/runs").json()["runs"]) == 1
