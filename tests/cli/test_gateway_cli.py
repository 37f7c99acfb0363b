"""``gep mirrors`` and ``gep cache`` through the server's API (an in-process app here; the
remote battery in test_cli_remote_admin.py runs them against another ``gep serve``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gep.cli import common
from gep.cli.main import app as cli
from gep.client import GepClient
from tests.support.app import ADMIN_HEADERS, api_client
from tests.support.replay_server import ReplayServer

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_client() -> Iterator[None]:
    yield
    common.CLIENT_FACTORY.clear()


def test_mirrors_and_cache_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "s1").mkdir(parents=True)
    env = {"GEP_HOME": str(tmp_path / "home"), "GEP_DATA_ROOTS": str(data), "COLUMNS": "200"}
    with (
        ReplayServer() as files,
        api_client(tmp_path / "home", data_roots=str(data), fetch_allow="127.0.0.1") as c,
    ):
        common.CLIENT_FACTORY[:] = [lambda: GepClient(http=c)]  # type: ignore[arg-type]
        r = runner.invoke(
            cli,
            [
                "mirrors",
                "add",
                "archive",
                "--kind",
                "local",
                "--url",
                str(data / "s1"),
                "--collection",
                "pub",
                "--priority",
                "3",
            ],
            env=env,
        )
        assert r.exit_code == 0, r.output
        r = runner.invoke(
            cli,
            [
                "mirrors",
                "add",
                "cdse",
                "--kind",
                "http",
                "--url",
                "https://zipper.test/odata",
                "--collection",
                "*",
                "--credential",
                "token_env=GEP_MIRROR_CDSE",
            ],
            env=env,
        )
        assert r.exit_code == 0, r.output
        # the server sees what the command stored
        names = [m["name"] for m in c.get("/gateway/mirrors").json()["mirrors"]]
        assert names == ["archive", "cdse"]
        listed = runner.invoke(cli, ["mirrors", "list"], env=env)
        assert "token_env=GEP_MIRROR_CDSE" in listed.output and "archive" in listed.output
        bad = runner.invoke(
            cli,
            [
                "mirrors",
                "add",
                "x",
                "--kind",
                "http",
                "--url",
                "https://a.test",
                "--collection",
                "c",
                "--credential",
                "password=hunter2",
            ],
            env=env,
        )
        assert bad.exit_code == 2 and "by reference" in bad.output
        outside = runner.invoke(
            cli,
            ["mirrors", "add", "y", "--kind", "local", "--url", "/etc", "--collection", "c"],
            env=env,
        )
        assert outside.exit_code == 2 and "GEP_DATA_ROOTS" in outside.output
        assert runner.invoke(cli, ["mirrors", "remove", "cdse"], env=env).exit_code == 0
        assert runner.invoke(cli, ["mirrors", "remove", "cdse"], env=env).exit_code == 2
        # prefetch, then the counters
        pub = {"id": "pub", "description": "public", "gep:visibility": "public"}
        assert c.post("/stac/collections", json=pub).is_success
        files.add("GET", "/a.tif", b"product bytes", "image/tiff")
        item = {
            "type": "Feature",
            "id": "a",
            "geometry": {"type": "Point", "coordinates": [1, 2]},
            "properties": {"datetime": "2024-01-01T00:00:00Z"},
            "assets": {"data": {"href": f"{files.url}/a.tif", "roles": ["data"]}},
        }
        assert c.post("/stac/collections/pub/items", json=item).status_code == 201
        r = runner.invoke(cli, ["cache", "prefetch", "pub/a", "nope/none"], env=env)
        assert r.exit_code == 2 and "does not exist" in r.output
        r = runner.invoke(cli, ["cache", "prefetch", "pub/a"], env=env)
        assert r.exit_code == 0 and "1 assets queued" in r.output, r.output
        prefetcher = c.app.state.services.jobs.prefetch.prefetcher  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while not prefetcher.idle():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stats = runner.invoke(cli, ["cache", "stats"], env=env)
        assert stats.exit_code == 0, stats.output
        source = "href:" + files.url.removeprefix("http://")
        assert source in stats.output and "1 entries" in stats.output, stats.output
        assert c.get("/gateway/stats", headers=ADMIN_HEADERS).json()["totals"]["misses"] == 1
