"""The Geobrowser's routes on the API: the built app at ``/ui/``, its ``config.json``, the
offline ``/api.html``, and ``GET /jobs/{id}/inputs`` (what the app's "Re-submit" sends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gep import web
from tests.support.app import api_client, user_headers, wait_for_job


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    assert web.built(), "the Geobrowser is not built: `make ui` (make test runs it first)"
    home = Path(tmp_path_factory.mktemp("ui"))
    with api_client(home, base_url="http://gep.test") as c:
        yield c


def test_the_app_is_served_at_ui(client: TestClient) -> None:
    for method in ("GET", "HEAD"):
        r = client.request(method, "/ui", follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"  # a rebuilt app is seen at once
    assert '<script type="module" src="app.js">' in page.text
    bundle = client.get("/ui/app.js")
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    # MapLibre beside it (the import map names it), its worker next to it, the basemap
    assert client.get("/ui/vendor/maplibre-gl.mjs").status_code == 200
    assert client.get("/ui/vendor/maplibre-gl-worker.mjs").status_code == 200
    land = client.get("/ui/basemap/land.geojson").json()
    assert land["type"] in ("FeatureCollection", "Feature", "MultiPolygon")


def test_a_missing_file_is_a_problem_not_a_page(client: TestClient) -> None:
    r = client.get("/ui/nothing-here.js")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_an_unbuilt_app_says_how_to_build_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "built", lambda: False)
    r = client.get("/ui/")
    assert r.status_code == 503
    problem = r.json()
    assert problem["field"] == "ui" and "make ui" in problem["detail"]
    # /api.html falls back on Swagger UI's CDN then (blank offline, as it was)
    assert "cdn.jsdelivr.net" in client.get("/api.html").text


def test_api_html_works_offline(client: TestClient) -> None:
    html = client.get("/api.html").text
    assert "/ui/swagger/swagger-ui-bundle.js" in html and "cdn.jsdelivr.net" not in html
    assert client.get("/ui/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/ui/swagger/swagger-ui.css").status_code == 200


def test_config_says_what_the_operator_set(tmp_path: Path) -> None:
    with api_client(tmp_path / "plain") as c:
        assert c.get("/ui/config.json").json()["online_basemap"] is None
        assert c.get("/ui/config.json").json()["oidc"] is False
    osm = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    with api_client(
        tmp_path / "osm",
        ui_basemap_url=osm,
        oidc_issuer="https://id.example.org",
        oidc_client_id="gep",
    ) as c:
        config = c.get("/ui/config.json").json()
    assert config["online_basemap"] == {"url": osm, "attribution": "© OpenStreetMap contributors"}
    assert config["oidc"] is True


def test_job_inputs_are_its_owners_to_read(client: TestClient) -> None:
    ada, bob = user_headers(client, "ada"), user_headers(client, "bob")
    inputs = {"message": "Campi Flegrei"}
    r = client.post(
        "/processes/echo/execution",
        json={"inputs": inputs},
        headers={**ada, "Prefer": "respond-async"},
    )
    assert r.status_code == 201, r.text
    job = r.json()["jobID"]
    wait_for_job(client, job, headers=ada)
    got = client.get(f"/jobs/{job}/inputs", headers=ada)
    assert got.status_code == 200
    assert got.json() == {"jobID": job, "processID": "echo", "inputs": inputs}
    # another user, and anonymous, get the 404 of a job that does not exist
    for headers in (bob, {"Authorization": ""}):
        r = client.get(f"/jobs/{job}/inputs", headers=headers)
        assert r.status_code in (401, 404) and r.headers["content-type"] == (
            "application/problem+json"
        )
    assert client.get(f"/jobs/{job}/inputs", headers=bob).status_code == 404
