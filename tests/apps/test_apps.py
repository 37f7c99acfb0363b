"""Thematic apps over the API in process: CRUD and who sees what, documents refused with the
field at fault, "My data uploads", and imports refused whole with every problem listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import ADMIN_HEADERS, app_settings, client_for, user_headers

COLLECTION = {
    "type": "Collection",
    "stac_version": "1.1.0",
    "id": "apps-test-velocity",
    "title": "Velocity maps",
    "description": "a collection the apps name",
    "license": "other",
    "extent": {
        "spatial": {"bbox": [[12.0, 41.0, 13.0, 42.0]]},
        "temporal": {"interval": [[None, None]]},
    },
    "links": [],
}
NOTE = """cwlVersion: v1.2
class: CommandLineTool
id: apps-note
label: Note
baseCommand: echo
inputs:
  text:
    type: string
    inputBinding: {position: 1}
outputs:
  result:
    type: stdout
stdout: note.txt
"""


class World:
    def __init__(self, c: TestClient, users: dict[str, dict[str, str]], area: str) -> None:
        self.c = c
        self.users = users
        self.area = area


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home: Path = tmp_path_factory.mktemp("apps")
    with client_for(app_settings(home, base_url="http://gep.test"), admin=False) as c:
        assert (
            c.post("/stac/collections", json=COLLECTION, headers=ADMIN_HEADERS).status_code == 201
        )
        users = {n: user_headers(c, n) for n in ("alice", "bob")}
        r = c.post(
            "/accounts/users",
            headers=ADMIN_HEADERS,
            json={"name": "dora", "role": "developer", "token": True},
        )
        assert r.status_code == 201, r.text
        users["dora"] = {"Authorization": f"Bearer {r.json()['token']}"}
        r = c.post(
            "/gazetteer/areas",
            headers=users["alice"],
            json={"name": "Colli Albani", "bbox": [12.55, 41.65, 12.85, 41.85]},
        )
        assert r.status_code == 201, r.text
        yield World(c, users, r.json()["properties"]["id"])


def _doc(w: World, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Volcano watch",
        "description": "deformation over Colli Albani",
        "collections": [COLLECTION["id"]],
        "services": ["sbas", "echo"],
        "areas": [w.area],
        "layers": [
            {
                "collection": COLLECTION["id"],
                "title": "Velocity",
                "render": {"rescale": [-20, 20], "colormap_name": "rdbu"},
            }
        ],
        **extra,
    }


def _ids(w: World, who: str | None) -> list[str]:
    headers = w.users[who] if who else {}
    r = w.c.get("/apps", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["numberMatched"] == len(r.json()["apps"])
    return [a["id"] for a in r.json()["apps"]]


def test_create_open_edit_share_delete(w: World) -> None:
    alice, bob = w.users["alice"], w.users["bob"]
    r = w.c.post("/apps", json=_doc(w), headers=alice)
    assert r.status_code == 201, r.text
    app = r.json()
    assert r.headers["location"] == f"http://gep.test/apps/{app['id']}"
    # what the map needs to open it: the view, tile-ready layers, ordered services, areas
    assert app["bbox"] == pytest.approx([12.55, 41.65, 12.85, 41.85])
    assert [s["id"] for s in app["services"]] == ["sbas", "echo"]
    layer = app["layers"][0]
    assert layer["tiles"] == (
        "http://gep.test/stac/collections/apps-test-velocity/tiles/WebMercatorQuad/{z}/{x}/{y}"
        "?rescale=-20%2C20&colormap_name=rdbu"
    )
    assert app["areas"]["type"] == "FeatureCollection"
    assert app["areas"]["features"][0]["properties"]["name"] == "Colli Albani"
    assert app["visibility"] == "private" and app["missing"] == []
    # private: bob and anonymous do not see it, not even in the listing
    assert app["id"] in _ids(w, "alice")
    assert app["id"] not in _ids(w, "bob") and app["id"] not in _ids(w, None)
    assert w.c.get(f"/apps/{app['id']}", headers=bob).status_code == 404
    assert w.c.get(f"/apps/{app['id']}/export", headers=bob).status_code == 404
    # bob may not change it; alice may
    assert w.c.patch(f"/apps/{app['id']}", json={"title": "x"}, headers=bob).status_code == 404
    r = w.c.patch(
        f"/apps/{app['id']}",
        json={"title": "Colli Albani watch", "services": ["echo"]},
        headers=alice,
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Colli Albani watch"
    assert [s["id"] for s in r.json()["services"]] == ["echo"]
    # shared publicly: bob and anonymous see it, but the area stays alice's (private)
    r = w.c.patch(f"/apps/{app['id']}/visibility", json={"visibility": "public"}, headers=alice)
    assert r.status_code == 200 and r.json()["visibility"] == "public", r.text
    assert app["id"] in _ids(w, "bob") and app["id"] in _ids(w, None)
    seen = w.c.get(f"/apps/{app['id']}", headers=bob).json()
    assert seen["areas"]["features"] == []
    assert {"field": "areas", "detail": f"area '{w.area}' does not exist here"} in seen["missing"]
    assert (
        w.c.patch(
            f"/apps/{app['id']}/visibility", json={"visibility": "private"}, headers=bob
        ).status_code
        == 403
    )
    assert w.c.delete(f"/apps/{app['id']}", headers=bob).status_code == 403
    assert w.c.delete(f"/apps/{app['id']}", headers=alice).status_code == 204
    assert app["id"] not in _ids(w, "alice")
    assert w.c.get(f"/apps/{app['id']}", headers=alice).status_code == 404


def test_a_bad_document_names_every_bad_field(w: World) -> None:
    bad = _doc(
        w,
        title="",
        bbox=[0, 10, 1, 5],
        services=["sbas", 7],
        colour="red",
        layers=[{"collection": COLLECTION["id"], "opacity": 3}],
    )
    r = w.c.post("/apps", json=bad, headers=w.users["alice"])
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = {p["field"] for p in r.json()["problems"]}
    assert {"title", "bbox", "services[1]", "colour", "layers[0].opacity"} <= fields
    # references that do not exist (or are hidden) are named too
    r = w.c.post(
        "/apps", json=_doc(w, collections=["nowhere"], services=["nothing"]), headers=w.users["bob"]
    )
    assert r.status_code == 400
    details = [p["detail"] for p in r.json()["problems"]]
    assert "collection 'nowhere' does not exist here" in details
    assert "service 'nothing' does not exist here" in details
    assert f"area '{w.area}' does not exist here" in details  # alice's, private
    assert w.c.post("/apps", json=[1], headers=w.users["bob"]).status_code == 400
    assert w.c.post("/apps", json=_doc(w)).status_code == 401


def test_my_data_uploads_is_an_app_over_my_uploads(w: World) -> None:
    bob = w.users["bob"]
    mine = w.c.get("/apps/my-uploads", headers=bob).json()
    assert mine["virtual"] is True and mine["layers"] == []
    geojson = (
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        b'"geometry":{"type":"Point","coordinates":[12.7,41.7]}}]}'
    )
    r = w.c.post(
        "/uploads", files={"file": ("vents.geojson", geojson, "application/geo+json")}, headers=bob
    )
    assert r.status_code == 201, r.text
    apps = w.c.get("/apps", headers=bob).json()["apps"]
    assert apps[0]["id"] == "my-uploads"
    layer = apps[0]["layers"][0]["collection"]
    assert layer.startswith("uploads-") and layer == r.json()["collection"]
    # another user's "my uploads" is their own; anonymous has none
    assert w.c.get("/apps/my-uploads", headers=w.users["alice"]).json()["layers"] == []
    assert "my-uploads" not in _ids(w, None)
    assert w.c.delete("/apps/my-uploads", headers=bob).status_code == 403


def _portable(w: World) -> dict[str, Any]:
    r = w.c.post("/apps", json=_doc(w, services=["echo"]), headers=w.users["alice"])
    assert r.status_code == 201, r.text
    r = w.c.get(f"/apps/{r.json()['id']}/export", headers=w.users["alice"])
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_export_then_import_and_refusals(w: World) -> None:
    doc = _portable(w)
    assert doc["type"] == "gep:thematic-app" and doc["schemaVersion"] == 1
    assert [c["id"] for c in doc["collections"]] == [COLLECTION["id"]]
    assert doc["areas"]["features"][0]["properties"]["name"] == "Colli Albani"
    dora = w.users["dora"]
    areas_before = len(w.c.get("/gazetteer/areas", headers=dora).json()["features"])
    before = _ids(w, "dora")
    # every problem at once, and nothing written
    broken = {
        **doc,
        "schemaVersion": 7,
        "app": {
            **doc["app"],
            "collections": [COLLECTION["id"], "gone-collection"],
            "services": ["echo", "apps-note", "undeployable"],
        },
        "applicationPackages": [
            {"id": "apps-note", "mediaType": "application/cwl+yaml", "package": NOTE},
            {"id": "undeployable", "mediaType": "application/cwl+yaml", "package": "class: ["},
        ],
    }
    r = w.c.post("/apps/import", json=broken, headers=dora)
    assert r.status_code == 400, r.text
    listed = r.json()["problems"]
    fields = [p["field"] for p in listed]
    assert "schemaVersion" in fields and "applicationPackages[1]" in fields
    assert {
        "field": "collections",
        "detail": "collection 'gone-collection' does not exist here",
    } in listed
    assert _ids(w, "dora") == before
    assert w.c.get("/processes/apps-note", headers=dora).status_code == 404  # not deployed
    assert len(w.c.get("/gazetteer/areas", headers=dora).json()["features"]) == areas_before
    # a user who may not deploy is told so, with the rest
    r = w.c.post("/apps/import", json={**broken, "schemaVersion": 1}, headers=w.users["bob"])
    assert r.status_code == 400
    assert any("developer role" in p["detail"] for p in r.json()["problems"])
    assert w.c.post("/apps/import", json={"type": "x"}, headers=dora).status_code == 400
    # the whole document imports: the package is deployed (private to dora), the area made
    fine = {
        **broken,
        "schemaVersion": 1,
        "app": {
            **broken["app"],
            "collections": [COLLECTION["id"]],
            "services": ["echo", "apps-note"],
        },
        "applicationPackages": broken["applicationPackages"][:1],
    }
    r = w.c.post("/apps/import", json=fine, headers=dora)
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["owner"] != doc["app"].get("owner") and app["visibility"] == "private"
    assert [s["id"] for s in app["services"]] == ["echo", "apps-note"]
    assert app["services"][1]["deployed"] is True
    assert [f["properties"]["name"] for f in app["areas"]["features"]] == ["Colli Albani"]
    assert w.c.get("/processes/apps-note", headers=dora).status_code == 200
    assert w.c.get("/processes/apps-note", headers=w.users["bob"]).status_code == 404
    assert app["id"] in _ids(w, "dora")


def test_the_cli_through_the_sdk(w: World, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from gep.cli import common
    from gep.cli.main import app as cli
    from gep.client import GepClient

    def as_user(name: str) -> None:
        http = TestClient(w.c.app, base_url="http://gep.test", headers=w.users[name])
        common.CLIENT_FACTORY[:] = [lambda: GepClient(http=http)]  # type: ignore[arg-type]

    runner = CliRunner()
    doc = tmp_path / "app.json"
    doc.write_text(json.dumps(_doc(w, title="From the CLI")))
    try:
        as_user("alice")
        made = runner.invoke(cli, ["apps", "create", str(doc)])
        assert made.exit_code == 0, made.output
        app_id = made.output.strip()
        listed = runner.invoke(cli, ["apps", "list", "--json"])
        assert app_id in [a["id"] for a in json.loads(listed.output)]
        shown = runner.invoke(cli, ["apps", "show", app_id])
        assert "From the CLI" in shown.output and "Colli Albani" in shown.output
        shared = runner.invoke(cli, ["apps", "share", app_id, "public"])
        assert shared.output.strip() == f"{app_id} public"
        out = tmp_path / "export.json"
        assert runner.invoke(cli, ["apps", "export", app_id, "-o", str(out)]).exit_code == 0
        assert json.loads(out.read_text())["app"]["title"] == "From the CLI"
        as_user("bob")  # bob may not see alice's private area: refused, every problem printed
        refused = runner.invoke(cli, ["apps", "create", str(doc)])
        assert refused.exit_code == 1
        assert f"areas: area '{w.area}' does not exist here" in refused.output
        as_user("dora")
        imported = runner.invoke(cli, ["apps", "import", str(out), "--json"])
        assert imported.exit_code == 0, imported.output
        assert json.loads(imported.output)["owner"] != json.loads(listed.output)[0]["owner"]
        as_user("alice")
        assert runner.invoke(cli, ["apps", "delete", app_id]).output.strip() == f"deleted {app_id}"
    finally:
        common.CLIENT_FACTORY.clear()
