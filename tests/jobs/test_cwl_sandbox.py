"""Deployed packages run confined: with no container engine here, in a bubblewrap sandbox that
shows the tool no /etc/passwd, no GEP_HOME and no network — unless the package declares
NetworkAccess — and reasons for failure come back readable. Unconfined runs happen only when
an administrator says so, and the service's description says it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import gep.processes.cwl as cwl
from tests.support.app import ADMIN_HEADERS, api_client, wait_for_job
from tests.support.http_files import FileServer

PROBE = """
cwlVersion: v1.2
class: CommandLineTool
id: {id}
{requirements}
baseCommand: [bash, -c]
arguments:
  - {{valueFrom: $(inputs.script), position: 0}}
inputs:
  script: string
  file: {{type: "File?", inputBinding: {{position: 1}}}}
outputs:
  out: {{type: stdout}}
stdout: out.txt
"""
NETWORK = "requirements:\n  NetworkAccess: {networkAccess: true}"
YAML = {"content-type": "application/cwl+yaml"}


def _run(c: TestClient, process: str, inputs: dict[str, Any], h: dict[str, str]) -> dict[str, Any]:
    r = c.post(
        f"/processes/{process}/execution",
        json={"inputs": inputs},
        headers={**h, "Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    return wait_for_job(c, r.json()["jobID"], h)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str], Path, FileServer]]:
    tmp = Path(tmp_path_factory.mktemp("sandbox"))
    home = tmp / "home"
    data = tmp / "data"
    data.mkdir()
    (data / "note.txt").write_text("twelve bytes")
    with FileServer() as server:
        (tmp / "ok.txt").write_text("served over loopback")
        server.add("ok.txt", tmp / "ok.txt")
        with api_client(home, admin=False, data_roots=str(data), base_url="http://gep.test") as c:
            dev = {"name": "dev", "role": "developer", "credits": 50, "token": True}
            r = c.post("/accounts/users", headers=ADMIN_HEADERS, json=dev)
            h = {"Authorization": f"Bearer {r.json()['token']}"}
            c.post("/stac/collections", headers=ADMIN_HEADERS,
                   json={"id": "docs", "description": "d", "gep:visibility": "public"})  # fmt: skip
            item = {
                "type": "Feature", "id": "note", "geometry": None,
                "properties": {"datetime": "2024-01-01T00:00:00Z"},
                "assets": {"text": {"href": (data / "note.txt").as_uri(), "roles": ["data"]}},
            }  # fmt: skip
            assert c.post(
                "/stac/collections/docs/items", json=item, headers=ADMIN_HEADERS
            ).is_success
            for pid, req in (("probe", ""), ("probe-net", NETWORK)):
                package = PROBE.format(id=pid, requirements=req)
                assert (
                    c.post("/processes", content=package, headers={**h, **YAML}).status_code == 201
                )
            yield c, h, home, server


def test_the_runtime_is_a_sandbox_and_says_so(
    world: tuple[TestClient, dict[str, str], Path, FileServer],
) -> None:
    c, h, _, _ = world
    runtime = c.get("/processes/probe", headers=h).json()["gep:runtime"]
    assert runtime["runtime"] == "bwrap" and runtime["confined"] is True
    assert "no network" in runtime["note"]
    assert "with network" in c.get("/processes/probe-net", headers=h).json()["gep:runtime"]["note"]


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("cat /etc/passwd", "/etc/passwd: No such file or directory"),
        ("ls {home}/gep.db", "No such file or directory"),
        ("exec 3<>/dev/tcp/127.0.0.1/{port}", "/dev/tcp/127.0.0.1/{port}"),
    ],
    ids=["etc-passwd", "gep-home", "network"],
)
def test_a_package_reaching_out_fails_with_a_readable_reason(
    world: tuple[TestClient, dict[str, str], Path, FileServer], script: str, says: str
) -> None:
    c, h, home, server = world
    assert (home / "gep.db").exists()  # there on the host, invisible inside
    fill = {"home": home, "port": server.port}
    job = _run(c, "probe", {"script": script.format(**fill)}, h)
    assert job["status"] == "failed", job
    assert says.format(**fill) in job["message"], job["message"]
    assert "\x1b" not in job["message"]  # no terminal colour codes
    assert "application package failed" in job["message"]


def test_with_network_access_and_a_catalogue_input_it_works(
    world: tuple[TestClient, dict[str, str], Path, FileServer],
) -> None:
    c, h, _, server = world
    script = (
        f'wc -c < "$0" && exec 3<>/dev/tcp/127.0.0.1/{server.port} && '
        "printf 'GET /ok.txt HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"
    )
    inputs = {"script": script, "file": "docs/note"}
    job = _run(c, "probe-net", inputs, h)
    assert job["status"] == "successful", job
    out = c.get(f"/jobs/{job['jobID']}/results", headers=h).json()["out"]
    assert out["type"] == "text/plain"  # a file output: a link {"href", "type"}
    got = c.get(out["href"], headers=h)  # the result over HTTP, as its owner
    assert got.status_code == 200, got.text
    text = got.text
    assert text.startswith("12\n") and "served over loopback" in text
    # the same script without NetworkAccess reads the file and is cut from the network
    job = _run(c, "probe", inputs, h)
    assert job["status"] == "failed" and "/dev/tcp/127.0.0.1" in job["message"], job


def test_unconfined_only_when_the_administrator_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = PROBE.format(id="p", requirements="")
    with api_client(tmp_path / "a", cwl_runtime="none") as c:
        assert c.post("/processes", content=package, headers=YAML).status_code == 201
        runtime = c.get("/processes/p").json()["gep:runtime"]
        assert runtime["confined"] is False and "UNCONFINED" in runtime["note"]
    # auto, with neither a container engine nor bubblewrap: packages are refused, not run
    monkeypatch.setattr(cwl, "bwrap_works", lambda: False)
    monkeypatch.setattr(cwl.shutil, "which", lambda _: None)
    with api_client(tmp_path / "b") as c:
        assert c.post("/processes", content=package, headers=YAML).status_code == 201
        assert c.get("/processes/p").json()["gep:runtime"]["runtime"] == "unavailable"
        r = c.post("/processes/p/execution", json={"inputs": {"script": "true"}})
        assert r.status_code == 503 and "bubblewrap" in r.json()["detail"], r.text
        assert c.get("/jobs").json()["numberMatched"] == 0
