"""A plain user tries every way to make the server read what is not theirs — through item
writes, quicklooks, service inputs and CWL File/Directory inputs — on both backends; each is
refused before a job exists (or, for what only a download reveals, the job fails saying why),
while the same operations on the caller's own, shared and public data still work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import ADMIN_HEADERS, api_client, wait_for_job
from tests.support.http_files import FileServer
from tests.support.rasters import write_test_raster
from tests.support.stores import scratch_postgis_database

CAT = """
cwlVersion: v1.2
class: CommandLineTool
id: cat-file
baseCommand: cat
inputs:
  file: {type: File, inputBinding: {position: 1}}
outputs:
  out: {type: stdout}
stdout: out.txt
"""

LIST = """
cwlVersion: v1.2
class: CommandLineTool
id: list-dir
baseCommand: [ls, "-1"]
inputs:
  dir: {type: Directory, inputBinding: {position: 1}}
outputs:
  out: {type: stdout}
stdout: out.txt
"""


@dataclass
class World:
    c: TestClient
    h: dict[str, dict[str, str]]
    storage: Path
    home: Path
    data: Path
    allowed: FileServer
    other: FileServer
    #: the job ids of V's private quicklook job and of U's own
    v_job: str
    u_job: str

    def post(self, who: str, path: str, body: Any, **kw: Any) -> Any:
        return self.c.post(path, json=body, headers={**self.h[who], **kw.pop("headers", {})})


def _item(item_id: str, href: str, **asset: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": item_id,
        "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "assets": {"data": {"href": href, "type": "image/tiff", "roles": ["data"], **asset}},
    }


def run(w: World, who: str, process: str, inputs: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Execute asynchronously; (status of the request, the ended job or the problem)."""
    r = w.post(who, f"/processes/{process}/execution", {"inputs": inputs},
               headers={"Prefer": "respond-async"})  # fmt: skip
    if r.status_code != 201:
        return r.status_code, r.json()
    return 201, wait_for_job(w.c, r.json()["jobID"], w.h[who])


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp("confine"))
    data = tmp / "mirror"
    data.mkdir()
    write_test_raster(data / "public.tif")
    (data / "escape").symlink_to("/etc")
    settings: dict[str, Any] = {}
    with ExitStack() as stack:
        if request.param == "postgis":
            settings["database_url"] = stack.enter_context(scratch_postgis_database("gep_confine"))
        yield from _world(tmp, data, settings)


def _world(tmp: Path, data: Path, settings: dict[str, Any]) -> Iterator[World]:
    home = tmp / "home"
    with FileServer() as allowed, FileServer() as other:
        allowed.add("remote.tif", write_test_raster(tmp / "remote.tif"))
        other.add("remote.tif", tmp / "remote.tif")
        with api_client(
            home,
            admin=False,
            base_url="http://gep.test",
            data_roots=str(data),
            fetch_allow=f"127.0.0.1:{allowed.port}",
            **settings,
        ) as c:
            h: dict[str, dict[str, str]] = {"anonymous": {}, "admin": ADMIN_HEADERS}
            for name, role in (("U", "developer"), ("V", "user")):
                user = {"name": name, "role": role, "credits": 100, "token": True}
                r = c.post("/accounts/users", headers=ADMIN_HEADERS, json=user)
                assert r.status_code == 201, r.text
                h[name] = {"Authorization": f"Bearer {r.json()['token']}"}
            # public data an administrator catalogued from the declared data root
            pub = {"id": "mirror", "description": "a mirror", "gep:visibility": "public"}
            assert c.post("/stac/collections", json=pub, headers=ADMIN_HEADERS).is_success
            r = c.post("/stac/collections/mirror/items", headers=ADMIN_HEADERS,
                       json=_item("public", (data / "public.tif").as_uri()))  # fmt: skip
            assert r.status_code == 201, r.text
            for package in (CAT, LIST):  # U's own services
                cwl = {**h["U"], "content-type": "application/cwl+yaml"}
                r = c.post("/processes", content=package, headers=cwl)
                assert r.status_code == 201, r.text
            for who in ("U", "V"):
                coll = {"id": f"own-{who}", "description": f"{who}'s"}
                assert c.post("/stac/collections", json=coll, headers=h[who]).is_success
            w = World(c, h, home / "storage", home, data, allowed, other, "", "")
            status, job = run(w, "V", "quicklook", {"item": "mirror/public", "asset": "data"})
            assert status == 201 and job["status"] == "successful", job
            w.v_job = job["jobID"]
            status, job = run(w, "U", "quicklook", {"item": "mirror/public", "asset": "data"})
            assert status == 201 and job["status"] == "successful", job
            w.u_job = job["jobID"]
            yield w


def _job_file(w: World, job: str) -> Path:
    return w.storage / "jobs" / job / "outputs" / "quicklook.tif"


def _bad_hrefs(w: World) -> dict[str, str]:
    return {
        "etc-passwd": "file:///etc/passwd",
        "database": str(w.home / "gep.db"),
        "dotdot": f"{w.storage}/jobs/{w.u_job}/../../../gep.db",
        "symlink": str(w.data / "escape" / "passwd"),
        "root": "file:///",
        "other-private-job": _job_file(w, w.v_job).as_uri(),
        "quicklook-cache": f"{w.storage}/quicklooks/x.png",
    }


def test_a_user_cannot_catalogue_server_files(world: World) -> None:
    w = world
    for name, href in _bad_hrefs(w).items():
        r = w.post("U", "/stac/collections/own-U/items", _item(f"bad-{name}", href))
        assert r.status_code == 400, (name, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == "item.assets.data.href", r.json()
        # nothing written
        assert (
            w.c.get(f"/stac/collections/own-U/items/bad-{name}", headers=w.h["U"]).status_code
            == 404
        )
    for method, path, body in (  # every way of writing an item checks the same
        ("POST", "/stac/collections/own-U/items",
         {"type": "FeatureCollection", "features": [_item("f", "file:///etc/passwd")]}),
        ("POST", "/stac/collections/own-U/bulk_items",
         {"items": {"b": _item("b", "file:///etc/passwd")}}),
    ):  # fmt: skip
        r = w.c.request(method, path, json=body, headers=w.h["U"])
        assert r.status_code == 400 and "assets.data.href" in r.json()["field"], r.text
    ok = w.post("U", "/stac/collections/own-U/items", _item("ok", "https://example.org/a.tif"))
    assert ok.status_code == 201, ok.text
    r = w.c.patch("/stac/collections/own-U/items/ok", headers=w.h["U"],
                  json={"assets": {"data": {"href": "file:///etc/passwd"}}})  # fmt: skip
    assert r.status_code == 400 and r.json()["field"] == "item.assets.data.href", r.text
    # the results of one's own job may be catalogued again
    mine = w.post(
        "U", "/stac/collections/own-U/items", _item("mine", _job_file(w, w.u_job).as_uri())
    )
    assert mine.status_code == 201, mine.text


def test_reads_of_server_files_are_refused_before_any_job(world: World) -> None:
    """An administrator's item (public) that names files a user may not read: quicklooks and
    services refuse them for that user, before a job exists, saying nothing of the files."""
    w = world
    for name, href in _bad_hrefs(w).items():
        r = w.c.post("/stac/collections/mirror/items", json=_item(f"bad-{name}", href),
                     headers=ADMIN_HEADERS)  # fmt: skip
        assert r.status_code == 201, r.text
    jobs_before = w.c.get("/jobs", headers=w.h["U"]).json()["numberMatched"]
    details = set()
    for name, href in _bad_hrefs(w).items():
        ql = w.c.get(f"/stac/collections/mirror/items/bad-{name}/quicklook", headers=w.h["U"])
        assert ql.status_code == 404, (name, ql.status_code)
        status, problem = run(w, "U", "quicklook", {"item": f"mirror/bad-{name}", "asset": "data"})
        assert status == 400, (name, problem)
        assert problem["field"] == "inputs.item.assets.data", problem
        details.add(problem["detail"].replace(href[:200], "HREF"))
        status, problem = run(w, "U", "cat-file", {"file": f"mirror/bad-{name}"})
        assert status == 400 and problem["field"] == "inputs.file.assets.data", (name, problem)
    assert len(details) == 1, details  # one text whatever the path: nothing about its existence
    assert w.c.get("/jobs", headers=w.h["U"]).json()["numberMatched"] == jobs_before


def test_cwl_inputs_are_catalogue_items_never_paths(world: World) -> None:
    w = world
    for inputs, field in (
        ({"file": "/etc/passwd"}, "inputs.file"),
        ({"file": "file:///etc/passwd"}, "inputs.file"),
        ({"file": {"href": "file:///etc/passwd"}}, "inputs.file"),
        ({"file": {"class": "File", "location": "file:///etc/passwd"}}, "inputs.file"),
        ({"file": {"href": "mirror/public", "asset": "nope"}}, "inputs.file"),
    ):
        status, problem = run(w, "U", "cat-file", inputs)
        assert status == 400, (inputs, problem)
        assert problem["field"].startswith(field), problem
    for inputs in ({"dir": "/"}, {"dir": "file:///"}, {"dir": {"href": "/"}}):
        status, problem = run(w, "U", "list-dir", inputs)
        assert status == 400, (inputs, problem)
    # an item the caller may see, by its href, with the asset named: read in the sandbox
    status, job = run(w, "U", "cat-file",
                      {"file": {"href": "http://gep.test/stac/collections/mirror/items/public",
                                "asset": "data"}})  # fmt: skip
    assert status == 201 and job["status"] == "successful", job
    out = w.c.get(f"/jobs/{job['jobID']}/results", headers=w.h["U"]).json()["out"]["href"]
    got = w.c.get(out, headers=w.h["U"])  # the result over HTTP, as its owner
    assert got.status_code == 200 and got.content == (w.data / "public.tif").read_bytes()


def test_another_users_results_follow_their_job(world: World) -> None:
    w = world
    r = w.c.post("/stac/collections/mirror/items", headers=ADMIN_HEADERS,
                 json=_item("v-result", _job_file(w, w.v_job).as_uri()))  # fmt: skip
    assert r.status_code == 201
    status, problem = run(w, "U", "quicklook", {"item": "mirror/v-result", "asset": "data"})
    assert status == 400, problem
    ql = w.c.get("/stac/collections/mirror/items/v-result/quicklook", headers=w.h["U"])
    assert ql.status_code == 404
    # V's own call works, and once V shares the job, so does U's
    assert (
        w.c.get("/stac/collections/mirror/items/v-result/quicklook", headers=w.h["V"]).status_code
        == 200
    )
    assert w.c.patch(f"/jobs/{w.v_job}", json={"visibility": "public"}, headers=w.h["V"]).is_success
    status, job = run(w, "U", "quicklook", {"item": "mirror/v-result", "asset": "data"})
    assert status == 201 and job["status"] == "successful", job
    assert (
        w.c.get("/stac/collections/mirror/items/v-result/quicklook", headers=w.h["U"]).status_code
        == 200
    )
    w.c.patch(f"/jobs/{w.v_job}", json={"visibility": "private"}, headers=w.h["V"])


def test_remote_hrefs_reach_only_allowed_hosts_within_bounds(world: World) -> None:
    w = world
    cases = {
        "loopback": f"{w.other.url}/remote.tif",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "redirect": f"{w.allowed.url}/redirect?to={w.other.url}/remote.tif",
        "huge": f"{w.allowed.url}/huge.tif",
        "good": f"{w.allowed.url}/remote.tif",
    }
    for name, href in cases.items():  # a user may catalogue remote hrefs: reading is checked
        r = w.post("U", "/stac/collections/own-U/items", _item(f"r-{name}", href))
        assert r.status_code == 201, r.text
    for name in ("loopback", "metadata"):  # refused before a job exists
        status, problem = run(w, "U", "quicklook", {"item": f"own-U/r-{name}", "asset": "data"})
        assert status == 400 and "GEP_FETCH_ALLOW" in problem["detail"], problem
    hits = len(w.other.hits)
    status, job = run(w, "U", "quicklook", {"item": "own-U/r-redirect", "asset": "data"})
    assert job["status"] == "failed" and "loopback" in job["message"], job
    status, job = run(w, "U", "quicklook", {"item": "own-U/r-huge", "asset": "data"})
    assert job["status"] == "failed" and "GEP_FETCH_MAX_BYTES" in job["message"], job
    assert len(w.other.hits) == hits  # the loopback host was never contacted
    status, job = run(w, "U", "quicklook", {"item": "own-U/r-good", "asset": "data"})
    assert status == 201 and job["status"] == "successful", job
