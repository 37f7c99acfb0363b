"""Validating a deployed service before offering it (scenario 2: engineer, validate, share).

A package declares samples and expectations (the CWL hint ``gep:Validation``); validating it
runs the samples as a real job and records a verdict with each broken expectation named and
the job's log; sharing it beyond its developer needs a passed validation. A dry run makes a
submission's checks and runs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import Affine

from gep.gateway.storage import Storage
from gep.jobs.validation import _OutputChecker
from gep.processes.validation import Expectation
from tests.support.app import ADMIN_HEADERS, api_client, wait_for_job
from tests.support.problems import assert_problem

PACKAGE = """
cwlVersion: v1.2
class: CommandLineTool
id: {id}
label: Stamp
doc: Writes the notes it is given, then a message.
$namespaces: {{gep: "https://gep.dev/cwl#"}}
hints:
  gep:Validation:
    samples: {{message: Amatrice, notes: samples/notes}}
    expect:
      result: {{media_type: text/plain, min_size: 10, contains: {contains}}}
baseCommand: [bash, -c, 'cat "$0"; echo "$1"']
inputs:
  notes: {{type: File, inputBinding: {{position: 1}}}}
  message: {{type: string, inputBinding: {{position: 2}}}}
outputs:
  result: {{type: stdout}}
stdout: stamp.txt
"""
GOOD = PACKAGE.format(id="stamp", contains="Amatrice")
#: the same tool, expecting what it does not write
BAD = PACKAGE.format(id="stamp-bad", contains="Kumamoto")
#: a package that declares nothing to validate it with
BARE = """
cwlVersion: v1.2
class: CommandLineTool
id: bare
baseCommand: echo
inputs:
  message: {type: string, inputBinding: {position: 1}}
outputs:
  result: {type: stdout}
stdout: out.txt
"""
CWL = {"content-type": "application/cwl+yaml"}


@dataclass
class World:
    client: TestClient
    dev: dict[str, str]
    other: dict[str, str]
    poor: dict[str, str]

    def deploy(self, package: str, query: str = "") -> Any:
        return self.client.post(f"/processes{query}", content=package, headers={**self.dev, **CWL})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = Path(tmp_path_factory.mktemp("validation"))
    data = tmp / "data"
    data.mkdir()
    (data / "notes.txt").write_text("field notes from the Apennines\n")
    with api_client(
        tmp / "home", admin=False, base_url="http://gep.test", data_roots=str(data)
    ) as c:
        heads: dict[str, dict[str, str]] = {}
        for name, role, grant in (("dev", "developer", 50), ("other", "user", 50),
                                  ("poor", "user", 1)):  # fmt: skip
            r = c.post(
                "/accounts/users",
                json={"name": name, "role": role, "credits": grant, "token": True},
                headers=ADMIN_HEADERS,
            )
            assert r.status_code == 201, r.text
            heads[name] = {"Authorization": f"Bearer {r.json()['token']}"}
        coll = {"id": "samples", "description": "sample inputs", "gep:visibility": "public"}
        assert c.post("/stac/collections", json=coll, headers=ADMIN_HEADERS).is_success
        item = {
            "type": "Feature",
            "id": "notes",
            "geometry": {"type": "Point", "coordinates": [13.3, 42.6]},
            "properties": {"datetime": "2016-08-24T01:36:00Z"},
            "assets": {"data": {"href": (data / "notes.txt").as_uri(), "type": "text/plain"}},
        }
        r = c.post("/stac/collections/samples/items", json=item, headers=ADMIN_HEADERS)
        assert r.status_code == 201, r.text
        w = World(c, heads["dev"], heads["other"], heads["poor"])
        for package in (GOOD, BAD, BARE):
            r = w.deploy(package)
            assert r.status_code == 201, r.text
        yield w


def _verdict(c: TestClient, process_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        r = c.get(f"/processes/{process_id}/validation", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] != "running":
            return dict(r.json())
        time.sleep(0.2)
    raise AssertionError(f"the validation of {process_id} did not end: {r.json()}")


def test_a_service_is_shared_only_after_a_validation_passed(world: World) -> None:
    c, dev, other = world.client, world.dev, world.other
    # before any validation: sharing is refused with why and what to do; private stays allowed
    r = c.patch("/processes/stamp", json={"visibility": "public"}, headers=dev)
    assert_problem(r, 409, "visibility", "has not passed validation", "never been validated",
                   "POST /processes/stamp/validation")  # fmt: skip
    assert c.patch("/processes/stamp", json={"visibility": "private"}, headers=dev).is_success
    desc = c.get("/processes/stamp", headers=dev).json()
    assert desc["gep:validation"] == {"declared": True, "status": "none"}
    # someone else may not validate it (they do not even see it)
    assert c.post("/processes/stamp/validation", headers=other).status_code == 404

    # both run as real jobs of the developer's, at once
    started = {}
    for pid in ("stamp", "stamp-bad"):
        r = c.post(f"/processes/{pid}/validation", headers=dev)
        assert r.status_code == 201, r.text
        assert r.headers["location"] == f"http://gep.test/processes/{pid}/validation"
        assert r.json()["status"] == "running" and r.json()["current"] is True
        started[pid] = r.json()
    again = c.post("/processes/stamp/validation", headers=dev)
    if again.status_code != 201:  # unless the first one already ended
        assert_problem(again, 409, "processId", "is running")
    good = _verdict(c, "stamp", dev)
    assert good["status"] == "passed" and good["reasons"] == [], good
    assert good["jobID"] == started["stamp"]["jobID"] or again.status_code == 201
    job = c.get(f"/jobs/{good['jobID']}", headers=dev).json()
    assert job["status"] == "successful" and job["processID"] == "stamp"
    out = c.get(f"/jobs/{good['jobID']}/results", headers=dev).json()
    text = c.get(out["result"]["href"], headers=dev).text
    assert text == "field notes from the Apennines\nAmatrice\n"

    bad = _verdict(c, "stamp-bad", dev)
    assert bad["status"] == "failed", bad
    assert bad["reasons"] == ["outputs.result: does not contain 'Kumamoto'"]
    assert bad["log"] and all({"level", "message"} <= set(line) for line in bad["log"])
    described = c.get("/processes/stamp-bad", headers=dev).json()["gep:validation"]
    assert described["status"] == "failed" and described["reasons"] == bad["reasons"]
    assert "log" not in described and described["jobID"] == bad["jobID"]
    # the failed one stays private, with its reason
    r = c.patch("/processes/stamp-bad", json={"visibility": "public"}, headers=dev)
    assert_problem(r, 409, "visibility", "its last validation failed",
                   "does not contain 'Kumamoto'")  # fmt: skip

    # the passed one is shared, and another user sees it and runs it
    r = c.patch("/processes/stamp", json={"visibility": "public"}, headers=dev)
    assert r.status_code == 200, r.text
    assert "stamp" in [p["id"] for p in c.get("/processes", headers=other).json()["processes"]]
    assert "stamp-bad" not in [
        p["id"] for p in c.get("/processes", headers=other).json()["processes"]
    ]
    desc = c.get("/processes/stamp", headers=other).json()
    assert desc["gep:validation"]["status"] == "passed" and desc["gep:visibility"] == "public"
    seen = c.get("/processes/stamp/validation", headers=other).json()
    assert seen["status"] == "passed" and "log" not in seen  # the log is the developer's
    r = c.post(
        "/processes/stamp/execution",
        json={"inputs": {"message": "Norcia", "notes": "samples/notes"}},
        headers={**other, "Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    assert wait_for_job(c, r.json()["jobID"], other)["status"] == "successful"
    # validating is the developer's: another user who sees it may not
    assert_problem(c.post("/processes/stamp/validation", headers=other), 403, "processId")
    history = c.get("/processes/stamp/validations", headers=dev).json()["validations"]
    assert history[0]["status"] == "passed"

    # a replaced package must pass again before it is shared again
    assert c.patch("/processes/stamp", json={"visibility": "private"}, headers=dev).is_success
    replaced = GOOD.replace("label: Stamp", "label: Stamp 2")
    r = c.put("/processes/stamp", content=replaced, headers={**dev, **CWL})
    assert r.status_code == 204, r.text
    assert c.get("/processes/stamp", headers=dev).json()["gep:validation"]["current"] is False
    r = c.patch("/processes/stamp", json={"visibility": "public"}, headers=dev)
    assert_problem(r, 409, "visibility", "its package was replaced")


def test_deploying_shared_is_refused_and_bare_packages_cannot_validate(world: World) -> None:
    c = world.client
    r = world.deploy(BARE.replace("id: bare", "id: bare-public"), "?visibility=public")
    assert_problem(r, 409, "visibility", "private until it has passed validation")
    assert c.get("/processes/bare-public", headers=world.dev).status_code == 404
    r = c.post("/processes/bare/validation", headers=world.dev)
    assert_problem(r, 409, "gep:Validation", "declares no samples")
    assert c.get("/processes/bare", headers=world.dev).json()["gep:validation"] == {
        "declared": False,
        "status": "none",
    }
    assert c.get("/processes/bare/validation", headers=world.dev).status_code == 404
    # built-ins are not validated by users
    assert c.post("/processes/echo/validation", headers=world.dev).status_code == 403


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (("contains: Amatrice", "contains: Amatrice, size: 3"),
         "gep:Validation.expect.result.size", "not an expectation"),
        (("expect:\n      result:", "expect:\n      nothing:"),
         "gep:Validation.expect.nothing", "no output 'nothing'"),
        (("message: Amatrice,", "message: 7,"), "gep:Validation.samples.message", "string"),
        (("message: Amatrice,", "mesage: Amatrice,"),
         "gep:Validation.samples.mesage", "no input 'mesage'"),
        (("min_size: 10", "min_size: 10, range: [5, 1]"),
         "gep:Validation.expect.result.range", "min ≤ max"),
        (("samples:", "inputs:"), "gep:Validation.inputs", "under samples"),
    ],
)  # fmt: skip
def test_bad_declarations_are_refused_at_deploy(
    world: World, change: tuple[str, str], field: str, says: str
) -> None:
    package = GOOD.replace("id: stamp", "id: stamp-x").replace(*change)
    assert package != GOOD.replace("id: stamp", "id: stamp-x")
    assert_problem(world.deploy(package), 400, field, says)


def _jobs(c: TestClient, headers: dict[str, str]) -> int:
    return int(c.get("/jobs", headers=headers).json()["numberMatched"])


def _balance(c: TestClient, headers: dict[str, str]) -> Any:
    return c.get("/accounts/me", headers=headers).json()["credits"]


def test_a_dry_run_checks_everything_and_runs_nothing(world: World) -> None:
    c, dev = world.client, world.dev
    before, credits = _jobs(c, dev), _balance(c, dev)
    good = {"inputs": {"message": "hi", "notes": "samples/notes"}}
    r = c.post("/processes/stamp-bad/execution?dry_run=true", json=good, headers=dev)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True and body["valid"] is True and body["processID"] == "stamp-bad"
    assert body["quote"]["credits"] == 0 and body["inputs"] == good["inputs"]
    # what a submission would be refused with, it is refused with; and nothing was created
    for inputs in (
        {"message": 3, "notes": "samples/notes"},
        {"message": "hi", "notes": "samples/none"},
        {"message": "hi"},
    ):
        dry = c.post("/processes/stamp-bad/execution?dry_run=true", json={"inputs": inputs},
                     headers=dev)  # fmt: skip
        real = c.post("/processes/stamp-bad/execution", json={"inputs": inputs}, headers=dev)
        assert dry.status_code == real.status_code == 400, (dry.text, real.text)
        assert dry.json()["field"] == real.json()["field"]
        assert dry.json()["detail"] == real.json()["detail"]
    # an input whose href the job could not read: the same refusal, naming the asset
    coll = {"id": "dev-own", "description": "dev's"}
    assert c.post("/stac/collections", json=coll, headers=dev).is_success
    item = {
        "type": "Feature",
        "id": "far",
        "geometry": {"type": "Point", "coordinates": [13.3, 42.6]},
        "properties": {"datetime": "2016-08-24T01:36:00Z"},
        "assets": {"data": {"href": "http://127.0.0.1:9/notes.txt", "type": "text/plain"}},
    }
    r = c.post("/stac/collections/dev-own/items", json=item, headers=dev)
    assert r.status_code == 201, r.text
    far = {"inputs": {"message": "hi", "notes": "dev-own/far"}}
    dry = c.post("/processes/stamp-bad/execution?dry_run=true", json=far, headers=dev)
    real = c.post("/processes/stamp-bad/execution", json=far, headers=dev)
    assert dry.status_code == real.status_code == 400, (dry.text, real.text)
    assert dry.json()["field"] == real.json()["field"] == "inputs.notes.assets.data"
    assert _jobs(c, dev) == before and _balance(c, dev) == credits


def test_a_dry_run_says_when_credits_would_not_hold_the_price(world: World) -> None:
    c = world.client
    r = c.put("/processes/bare/price", json={"per_job": 5}, headers=ADMIN_HEADERS)
    assert r.status_code == 200, r.text
    try:
        body = {"inputs": {"message": "hi"}}
        dry = c.post("/processes/bare/execution?dry_run=true", json=body, headers=world.dev)
        assert dry.status_code == 200 and dry.json()["quote"]["credits"] == 5, dry.text
        # poor may not see bare (private): as for a submission, no such process
        assert c.post("/processes/bare/execution?dry_run=true", json=body,
                      headers=world.poor).status_code == 404  # fmt: skip
        dry = c.post("/processes/echo/execution?dry_run=true", json=body,
                     headers=world.poor)  # fmt: skip
        assert dry.status_code == 200, dry.text
        c.put("/processes/echo/price", json={"per_job": 5}, headers=ADMIN_HEADERS)
        dry = c.post("/processes/echo/execution?dry_run=true", json=body,
                     headers=world.poor)  # fmt: skip
        real = c.post("/processes/echo/execution", json=body, headers=world.poor)
        assert dry.status_code == real.status_code == 402, (dry.text, real.text)
        assert dry.json()["detail"] == real.json()["detail"]
        assert _jobs(c, world.poor) == 0
    finally:
        for pid in ("bare", "echo"):
            c.put(f"/processes/{pid}/price", json={"per_job": 0}, headers=ADMIN_HEADERS)


# ---------------------------------------------------------------------- expectations alone


def test_expectations_on_values_files_and_rasters(tmp_path: Path) -> None:
    storage = Storage.from_url(tmp_path.as_uri())
    raster = tmp_path / "mask.tif"
    with rasterio.open(
        raster, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
        crs="EPSG:4326", transform=Affine(0.1, 0.0, 13.0, 0.0, -0.1, 43.0), nodata=-9999.0,
    ) as dst:  # fmt: skip
        data = np.linspace(0.0, 0.75, 16, dtype="float32").reshape(1, 4, 4)
        data[0, 0, 0] = -9999.0  # nodata: not a value
        dst.write(data)
    href = raster.as_uri()
    check = _OutputChecker(storage, {href: "image/tiff; application=geotiff"})
    tif = Expectation("mask", media_type="image/tiff", min_size=100, range=(0.0, 1.0))
    assert check.check(tif, href) == []
    assert check.check(Expectation("mask", range=(0.0, 0.5)), href) == [
        "outputs.mask: values span [0.05, 0.75], outside the expected range [0, 0.5]"
    ]
    assert check.check(Expectation("mask", media_type="image/png"), [href]) == [
        "outputs.mask[0]: media type is image/tiff; application=geotiff, expected image/png"
    ]
    assert check.check(Expectation("n", range=(1, 10)), 12) == [
        "outputs.n: 12 is outside the expected range [1, 10]"
    ]
    assert check.check(Expectation("n", range=(1, 10)), 3.5) == []
    assert check.check(Expectation("n"), None) == [
        "outputs.n: expected, and the job did not make it"
    ]
    assert check.check(Expectation("n", present=False), None) == []
    assert check.check(Expectation("s", contains="ok"), "all ok") == []
    assert check.check(Expectation("s", range=(0, 1)), "x") == [
        "outputs.s: 'x' is not a number; range applies to numbers"
    ]
    text = tmp_path / "t.txt"
    text.write_text("abc")
    assert check.check(Expectation("t", range=(0, 1), max_size=2), text.as_uri()) == [
        "outputs.t: 3 bytes, more than max_size 2",
        "outputs.t: not a raster; range applies to numbers and rasters",
    ]


def test_the_sdk_and_the_cli(world: World) -> None:
    from typer.testing import CliRunner

    from gep.cli import common
    from gep.cli.main import app as cli
    from gep.client import GepClient
    from gep.client.errors import GepClientError

    http = TestClient(world.client.app, base_url="http://gep.test", headers=world.dev)
    gep = GepClient(http=http)
    checked = gep.dry_run("stamp-bad", {"message": "hi", "notes": "samples/notes"})
    assert checked["valid"] is True and "credits" in checked["quote"]
    with pytest.raises(GepClientError) as refused:
        gep.share_process("stamp-bad", "public")
    assert refused.value.status == 409 and "has not passed validation" in refused.value.detail
    common.CLIENT_FACTORY[:] = [lambda: gep]
    try:
        out = CliRunner().invoke(cli, ["processes", "validate", "stamp-bad", "--wait"])
    finally:
        common.CLIENT_FACTORY.clear()
    assert out.exit_code == 1, out.output
    assert "validation failed" in out.output
    assert "outputs.result: does not contain 'Kumamoto'" in out.output
    assert gep.validation("stamp-bad")["status"] == "failed"
