"""OGC API - Processes - Part 2: deploy, describe, execute, replace and undeploy CWL
application packages (a CommandLineTool and a two-step Workflow), run by cwltool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.app import api_client, fetch_result
from tests.support.ogc_schemas import errors

TOOL = """
cwlVersion: v1.2
class: CommandLineTool
id: shout
label: Shout
doc: Writes its message to a file.
baseCommand: echo
inputs:
  message:
    type: string
    doc: what to write
    inputBinding: {position: 1}
  times:
    type: int?
outputs:
  result:
    type: stdout
stdout: shout.txt
"""

WORKFLOW = """
cwlVersion: v1.2
$graph:
  - class: Workflow
    id: count-chars
    label: Count characters
    inputs:
      text: string
    outputs:
      counted:
        type: File
        outputSource: count/out
    steps:
      write:
        run: "#write"
        in: {message: text}
        out: [out]
      count:
        run: "#count"
        in: {file: write/out}
        out: [out]
  - class: CommandLineTool
    id: write
    baseCommand: printf
    inputs:
      message: {type: string, inputBinding: {position: 1}}
    outputs:
      out: {type: stdout}
    stdout: text.txt
  - class: CommandLineTool
    id: count
    baseCommand: [wc, -c]
    stdin: $(inputs.file.path)
    inputs:
      file: File
    outputs:
      out: {type: stdout}
    stdout: count.txt
    requirements:
      InlineJavascriptRequirement: {}
"""

CWL = {"content-type": "application/cwl+yaml"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api_client(Path(tmp_path_factory.mktemp("cwl")), base_url="http://gep.test") as c:
        yield c


def _read(c: TestClient, href: str) -> str:
    return fetch_result(c, href).decode()


def test_command_line_tool_lifecycle(client: TestClient) -> None:
    r = client.post("/processes", content=TOOL, headers=CWL)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "http://gep.test/processes/shout"
    desc = client.get("/processes/shout").json()
    assert desc["inputs"]["message"]["schema"]["type"] == "string"
    assert desc["inputs"]["message"]["minOccurs"] == 1
    assert desc["inputs"]["times"]["minOccurs"] == 0
    assert errors("process.yaml", desc) == []  # a deployed package's description is valid 1.0
    r = client.post("/processes/shout/execution", json={"inputs": {"message": "Amatrice"}})
    assert r.status_code == 200, r.text
    assert errors("results.yaml", r.json()) == []
    assert _read(client, r.json()["result"]) == "Amatrice\n"
    job_id = r.headers["location"].rsplit("/", 1)[1]
    item = client.get(f"/stac/collections/shout/items/{job_id}").json()
    assert "result" in item["assets"]
    assert "shout" in client.get("/processes/shout/package").text
    bad = client.post("/processes/shout/execution", json={"inputs": {"message": 3}})
    assert bad.status_code == 400 and bad.json()["field"] == "inputs.message"
    assert client.post("/processes", content=TOOL, headers=CWL).status_code == 409
    replaced = TOOL.replace("label: Shout", "label: Louder")
    assert client.put("/processes/shout", content=replaced, headers=CWL).status_code == 204
    assert client.get("/processes/shout").json()["title"] == "Louder"
    assert client.delete("/processes/shout").status_code == 204
    gone = client.get("/processes/shout")
    assert gone.status_code == 404 and gone.json()["type"].endswith("no-such-process")


def test_two_step_workflow(client: TestClient) -> None:
    r = client.post("/processes", content=WORKFLOW, headers=CWL)
    assert r.status_code == 201, r.text
    r = client.post("/processes/count-chars/execution", json={"inputs": {"text": "Kumamoto 2016"}})
    assert r.status_code == 200, r.text
    assert _read(client, r.json()["counted"]).strip() == "13"
    client.delete("/processes/count-chars")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("cwlVersion: v1.2\nclass: CommandLineTool\ninputs: [\n", "not valid YAML"),
        (WORKFLOW.replace("in: {message: text}", "in: {message: nosuchinput}"), "nosuchinput"),
        (
            TOOL.replace(
                "type: string\n    doc: what", "type: {type: record, fields: []}\n    doc: what"
            ),
            "cannot be mapped",
        ),
    ],
)
def test_bad_packages_are_refused_with_the_reason(client: TestClient, body: str, says: str) -> None:
    r = client.post("/processes", content=body, headers=CWL)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert says in r.json()["detail"]


@pytest.mark.parametrize("media", ["application/cwl+json", "application/cwl+yaml"])
def test_bytes_that_are_not_utf8_are_400(client: TestClient, media: str) -> None:
    r = client.post("/processes", content=b"\xff\x12jb\xc3", headers={"content-type": media})
    assert r.status_code == 400 and "not valid" in r.json()["detail"], r.text
    packaged = {"executionUnit": {"value": "class: [\n"}}  # YAML inside an ogcapppkg
    r = client.post(
        "/processes", json=packaged, headers={"content-type": "application/ogcapppkg+json"}
    )
    assert r.status_code == 400 and r.json()["field"] == "executionUnit.value", r.text


def test_other_media_types_are_415(client: TestClient) -> None:
    r = client.post("/processes", content=TOOL, headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "application/cwl+yaml" in r.json()["detail"]


STAC_TOOL = r"""
cwlVersion: v1.2
class: CommandLineTool
id: stac-maker
label: Writes a STAC catalogue
baseCommand: [bash, -c]
arguments:
  - >-
    mkdir -p out/scene &&
    echo hello > out/scene/data.txt &&
    printf '%s' '{"type": "Catalog", "id": "c", "stac_version": "1.1.0", "description": "d",
    "links": [{"rel": "item", "href": "./scene/scene.json"}]}' > out/catalog.json &&
    printf '%s' '{"type": "Feature", "stac_version": "1.1.0", "id": "scene",
    "geometry": {"type": "Point", "coordinates": [15.0, 37.75]},
    "properties": {"datetime": "2024-01-01T00:00:00Z"},
    "assets": {"data": {"href": "./data.txt", "type": "text/plain"}},
    "links": []}' > out/scene/scene.json
inputs: {}
outputs:
  catalogue:
    type: Directory
    outputBinding: {glob: out}
"""


def test_a_stac_catalogue_output_is_published_item_by_item(client: TestClient) -> None:
    assert client.post("/processes", content=STAC_TOOL, headers=CWL).status_code == 201
    r = client.post("/processes/stac-maker/execution", json={"inputs": {}})
    assert r.status_code == 200, r.text
    job_id = r.headers["location"].rsplit("/", 1)[1]
    # published into the package's own result collection (its process id)
    assert r.json()["catalogue"] == [f"stac-maker/{job_id}-scene"]
    item = client.get(f"/stac/collections/stac-maker/items/{job_id}-scene").json()
    assert item["properties"]["gep:source_id"] == "scene"
    assert item["properties"]["gep:job"] == job_id
    assert _read(client, item["assets"]["data"]["href"]) == "hello\n"  # the asset is the job's file
    client.delete("/processes/stac-maker")
