"""``/harvest``: sources, runs in the background, the log and the ingestion events."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from gep.cli.main import app as cli
from tests.support.app import api_client
from tests.support.replay_server import ReplayServer

DATA = Path(__file__).parents[1] / "data" / "harvest" / "stac"


def _server() -> ReplayServer:
    import json

    page = json.loads((DATA / "earth_search_page2.json").read_text())
    page["links"] = [ln for ln in page["links"] if ln["rel"] != "next"]
    server = ReplayServer()
    server.add("POST", "/v1/search", page, "application/geo+json")
    return server


def test_sources_runs_and_events_over_http(tmp_path: Path) -> None:
    with (
        _server() as server,
        api_client(tmp_path, base_url="http://gep.test", harvest_poll_s=0) as client,
    ):
        bad = client.post(
            "/harvest/sources",
            json={"name": "es", "kind": "csw", "url": server.url, "collection": "s2"},
        )
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "unknown harvest source kind 'csw'" in bad.json()["detail"]
        missing = client.post("/harvest/sources", json={"name": "es", "kind": "stac"})
        assert missing.status_code == 400 and "url, collection" in missing.json()["detail"]

        body = {"name": "es", "kind": "stac", "url": f"{server.url}/v1", "collection": "s2"}
        created = client.post("/harvest/sources", json={**body, "interval_s": 3600})
        assert created.status_code == 201, created.text
        assert created.headers["location"] == "http://gep.test/harvest/sources/es"
        assert client.post("/harvest/sources", json=body).status_code == 409

        started = client.post("/harvest/sources/es/run")
        assert started.status_code == 202
        deadline = time.monotonic() + 60
        runs: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            runs = client.get("/harvest/sources/es/runs").json()["runs"]
            if runs and runs[0]["status"] != "running":
                break
            time.sleep(0.1)
        assert runs[0]["status"] == "succeeded", runs
        assert runs[0]["new"] == 10 and runs[0]["pages"] == 1

        events = client.get("/harvest/events", params={"collection": "s2"}).json()
        assert len(events["events"]) == 10 and events["next_after"] == 10
        assert all(e["origin"] == "harvest:es" for e in events["events"])
        later = client.get("/harvest/events", params={"after": events["next_after"]}).json()
        assert later["events"] == []
        # the harvested items are in the STAC API
        search = client.get("/stac/search", params={"collections": "s2", "limit": 100}).json()
        assert len(search["features"]) == 10

        listed = client.get("/harvest/sources").json()["sources"]
        assert [s["name"] for s in listed] == ["es"] and listed[0]["interval_s"] == 3600
        assert client.get("/harvest/sources/nope").status_code == 404
        assert client.delete("/harvest/sources/es").status_code == 204


def test_cli_add_run_list_status(tmp_path: Path) -> None:
    """``gep harvest`` through the API: the run happens in the server, the command waits for
    its record."""
    from gep.cli import common
    from gep.client import GepClient

    runner = CliRunner()
    with _server() as server, api_client(tmp_path, harvest_poll_s=0) as client:
        common.CLIENT_FACTORY[:] = [lambda: GepClient(http=client)]  # type: ignore[arg-type]
        try:
            added = runner.invoke(
                cli,
                ["harvest", "add", "es", "--kind", "stac", "--url", f"{server.url}/v1",
                 "--collection", "s2", "--param", "limit=50", "--every", "6h"],
            )  # fmt: skip
            assert added.exit_code == 0, added.output
            wrong = runner.invoke(cli, ["harvest", "add", "x", "--kind", "stac", "--url",
                                        "ftp://a", "--collection", "s2"])  # fmt: skip
            assert wrong.exit_code == 2 and "not an http(s) URL" in wrong.output
            args = ["harvest", "add", "y", "--kind", "stac", "--url", server.url]
            every = runner.invoke(cli, [*args, "--collection", "s2", "--every", "soon"])
            assert every.exit_code == 2 and "30m, 6h or 1d" in every.output
            ran = runner.invoke(cli, ["harvest", "run", "es", "--json"])
            assert ran.exit_code == 0, ran.output
            assert json.loads(ran.stdout)[0]["new"] == 10
            assert server.requests[-1].json["limit"] == 50
            listed = runner.invoke(cli, ["harvest", "list", "--json"])
            assert json.loads(listed.stdout)[0]["interval_s"] == 21600
            status = runner.invoke(cli, ["harvest", "status", "es"])
            assert "succeeded" in status.output
            events = runner.invoke(cli, ["harvest", "events", "--limit", "3"])
            assert events.output.count('"origin":"harvest:es"') == 3
        finally:
            common.CLIENT_FACTORY.clear()
