"""The API contract, checked by schemathesis against a real ``gep serve``.

Every operation of the OpenAPI document is called with requests schemathesis generates from it
(its coverage phase: boundary and missing values, wrong types; then ``MAX_EXAMPLES`` random
cases), once with a plain user's token (some credits, one group, one named area, one
subscription) and once with the administrator's, on a server seeded with a public collection
and its item, a harvest source and a second user. Path parameters are the seeded objects' ids
in about half of the cases, so the answers are not all 404s.

Checks, and why these:

- ``not_a_server_error``: no 5xx for any input; bad input is the caller's fault (4xx).
- ``status_code_conformance``: every status the server answers is documented.
- ``content_type_conformance``: the media type is the documented one (problem+json for every
  error, geo+json, schema+json, PNG…).
- ``response_schema_conformance``: bodies match their schemas; every error body is held to
  the RFC 7807 Problem schema, so an error that is not problem+json fails here.
- ``response_headers_conformance``: documented headers are there (WWW-Authenticate on 401).
- ``negative_data_rejection``: a request the document calls invalid (wrong type, missing
  required member, unknown member where none is allowed) is refused with a 4xx, never served:
  bad input is rejected before work starts. In the coverage phase only: the random phase
  counts wire spellings a server rightly parses (``offset=+0`` for an integer, an empty
  value for an absent one) as invalid.

Left out: ``positive_data_acceptance`` (a valid request for an id that does not exist is
rightly a 404), the stateful checks (``use_after_free``, ``ensure_resource_availability``,
``ignored_auth``: they need links between operations, which the document does not declare),
and ``missing_required_header``/``unsupported_method`` (framework behaviour, not GEP's).

Not seeded (they keep generated ids, and so are exercised on unknown objects only): DELETE
operations, which would remove the fixtures the other operations read, and
``POST /processes/{id}/execution``, which with a real service would start a Dask cluster and
run jobs (execution is tested in tests/jobs and tests/processes).

``GEP_SCHEMATHESIS_EXAMPLES`` raises the number of random cases per operation for a longer
run; the default keeps this file well under a minute on two cores.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from gep.api.app import create_app
from gep.settings import Settings
from tests.support.app import ADMIN_HEADERS, ADMIN_TOKEN
from tests.support.serving import free_port, start_gep_serve, stop

COLLECTION = "contract"
ITEM = "contract-item"
GROUP = "contract-group"
SOURCE = "contract-source"
USER = "alice"  # the caller of the first pass
OTHER_USER = "bob"  # whom PATCH /accounts/users changes (never a caller)
MAX_EXAMPLES = int(os.environ.get("GEP_SCHEMATHESIS_EXAMPLES", "5"))

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
]


def _document() -> dict[str, Any]:
    """The OpenAPI document of the code under test; ``test_served_document`` checks that
    ``gep serve`` serves exactly this one (the schema has to exist before the server does:
    schemathesis makes one pytest test per operation when the module is collected)."""
    with tempfile.TemporaryDirectory() as home:
        app = create_app(Settings(home=Path(home), database_url="", storage_url=""))
        try:
            return app.openapi()
        finally:
            app.state.services.store.close()


DOCUMENT = _document()
# a package sent as plain application/cwl is YAML (the +yaml/+json types schemathesis knows)
schemathesis.serializer.alias("application/cwl", "application/yaml")
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=SchemathesisConfig.from_dict(
        {
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "database": "none",
                "deterministic": True,  # the same cases every run: a failure reproduces
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            # methods the document does not list answer 405 problem+json (errors.py): probing
            # every path with seven of them would double the run for that one line of code;
            # negative_data_rejection in the coverage phase only (see the module docstring)
            "phases": {
                "coverage": {"unexpected-methods": []},
                "fuzzing": {"checks": {"negative_data_rejection": {"enabled": False}}},
            },
            # titiler-core's POST statistics: its coverage phase alone is ~5 000 requests per
            # caller (a GeoJSON body's variants times every query parameter's boundaries), a
            # minute of the 20-minute budget; GET statistics takes the same parameters through
            # that phase, and the fuzzing phase still sends POST bodies
            "operations": [
                {
                    "include-path": "/stac/collections/{collection_id}/items/{item_id}/statistics",
                    "include-method": "POST",
                    "phases": {"coverage": {"enabled": False}},
                }
            ],
        }
    ),
)


def _item() -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": ITEM,
        "collection": COLLECTION,
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[12.0, 41.0], [13.0, 41.0], [13.0, 42.0], [12.0, 42.0], [12.0, 41.0]]],
        },
        "bbox": [12.0, 41.0, 13.0, 42.0],
        "properties": {"datetime": "2022-01-04T17:05:57Z", "platform": "sentinel-1a"},
        "assets": {},
        "links": [],
    }


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``gep serve`` seeded through its own API; yields its URL, tokens and fixture ids."""
    root = tmp_path_factory.mktemp("schemathesis")
    (root / "safe").mkdir()
    port = free_port()
    server = start_gep_serve(root / "home", port)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=30) as admin:
            _created(admin.post("/accounts/groups", json={"name": GROUP}))
            alice = _created(
                admin.post(
                    "/accounts/users",
                    json={"name": USER, "credits": 50, "groups": [GROUP], "token": True},
                )
            )
            _created(admin.post("/accounts/users", json={"name": OTHER_USER}))
            _created(
                admin.post(
                    "/stac/collections",
                    json={
                        "type": "Collection",
                        "stac_version": "1.1.0",
                        "id": COLLECTION,
                        "description": "seeded for the API contract test",
                        "license": "CC-BY-4.0",
                        "extent": {
                            "spatial": {"bbox": [[12.0, 41.0, 13.0, 42.0]]},
                            "temporal": {"interval": [["2022-01-01T00:00:00Z", None]]},
                        },
                        "links": [],
                    },
                )
            )
            _created(admin.post(f"/stac/collections/{COLLECTION}/items", json=_item()))
            _created(
                admin.post(
                    "/harvest/sources",
                    json={
                        "name": SOURCE,
                        "kind": "safe",
                        "url": str(root / "safe"),
                        "collection": "contract-harvest",
                    },
                )
            )
        area = _created(
            httpx.post(
                f"{base}/gazetteer/areas",
                headers={"Authorization": f"Bearer {alice['token']}"},
                json={"name": "Contract area", "bbox": [12.2, 41.2, 12.8, 41.8]},
                timeout=30,
            )
        )
        LATE_IDS["area"] = area["properties"]["id"]
        subscription = _created(
            httpx.post(
                f"{base}/subscriptions",
                headers={"Authorization": f"Bearer {alice['token']}"},
                json={
                    "title": "Contract subscription",
                    "process": "echo",
                    "inputs": {"message": "{{item}}"},
                    "trigger": {"type": "data", "collection": COLLECTION},
                },
                timeout=30,
            )
        )
        LATE_IDS["subscription"] = subscription["id"]
        yield {"base": base, "user": alice["token"], "admin": ADMIN_TOKEN}
    finally:
        stop(server)


def _seeded(path: str, method: str, area: str) -> dict[str, str]:
    """The fixture ids this operation's path parameters may take (none for the operations
    the module docstring names)."""
    if method == "DELETE" or path.endswith("/execution"):
        return {}
    ids = {
        "collection_id": COLLECTION,
        "item_id": ITEM,
        "process_id": "echo",
        "area_id": area,
        "user": OTHER_USER,
        "subscription_id": LATE_IDS.get("subscription", ""),
    }
    if path.startswith("/harvest/"):
        ids["name"] = SOURCE
    elif path.startswith("/accounts/groups/"):
        ids["name"] = GROUP
    elif path.startswith("/accounts/users/"):
        ids["name"] = OTHER_USER
    return ids


@pytest.fixture(scope="module", params=["user", "admin"])
def caller(request: pytest.FixtureRequest, served: dict[str, Any]) -> str:
    """The token of this pass."""
    return str(served[request.param])


#: ids only known once the server is seeded (the strategies are built at collection)
LATE_IDS: dict[str, str] = {}


@schema.hook
def before_generate_path_parameters(context: Any, strategy: Any) -> Any:
    """About half the path parameters replaced by the seeded objects' ids."""
    operation = context.operation
    if operation is None:
        return strategy
    names = {p.name for p in operation.path_parameters}
    method = operation.method.upper()
    if not names & set(_seeded(operation.path, method, "")):
        return strategy

    def seed(generated: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(generated, dict):  # a negative case (typed path parameters): as is
            return generated
        ids = _seeded(operation.path, method, LATE_IDS["area"])
        return {**generated, **{k: v for k, v in ids.items() if k in names}}

    return st.one_of(strategy, strategy.map(seed))


def test_served_document(served: dict[str, Any]) -> None:
    """The document fuzzed below is the one ``gep serve`` serves, and it is valid OpenAPI."""
    response = httpx.get(f"{served['base']}/api", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert response.json() == DOCUMENT
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    assert "422" not in response.text  # request validation answers 400 problem+json


@schema.parametrize()
def test_api_contract(case: Case, served: dict[str, Any], caller: str) -> None:
    case.call_and_validate(base_url=served["base"], headers={"Authorization": f"Bearer {caller}"})
