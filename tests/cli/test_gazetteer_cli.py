"""``gep gazetteer``: search by name, and named areas from a GeoJSON file or a bbox, on the
server (here the API in process, through the SDK)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gep.cli import common
from gep.cli.main import app
from gep.client import GepClient
from tests.support.app import api_client

runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with api_client(Path(tmp_path_factory.mktemp("cli-gazetteer"))) as http:
        common.CLIENT_FACTORY[:] = [lambda: GepClient(http=http)]
        yield
        common.CLIENT_FACTORY.clear()


@pytest.fixture
def home(server: None, tmp_path: Path) -> Path:
    return tmp_path


def test_named_area_from_a_feature_file(home: Path) -> None:
    ring = [[14.0, 40.7], [14.3, 40.7], [14.3, 40.9], [14.0, 40.9], [14.0, 40.7]]
    feature = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path = home / "rim.geojson"
    path.write_text(json.dumps(feature))
    r = runner.invoke(app, ["gazetteer", "add-area", "Caldera rim", "--geometry", str(path)])
    assert r.exit_code == 0, r.output
    area_id = r.stdout.strip().splitlines()[-1]
    listed = json.loads(runner.invoke(app, ["gazetteer", "areas", "--json"]).stdout)
    assert [f["properties"]["id"] for f in listed["features"]] == [area_id]
    assert listed["features"][0]["geometry"]["coordinates"] == [ring]
    found = json.loads(runner.invoke(app, ["gazetteer", "search", "caldera rim", "--json"]).stdout)
    assert found["features"][0]["properties"]["id"] == area_id
    assert found["features"][0]["bbox"] == [14.0, 40.7, 14.3, 40.9]
    # a second area of the same name is refused, a bad file too, with a readable line
    dup = runner.invoke(app, ["gazetteer", "add-area", "caldera RIM", "--bbox", "1,1,2,2"])
    assert dup.exit_code == 2 and "already have an area" in dup.output
    (home / "bad.json").write_text("{not json")
    bad = runner.invoke(app, ["gazetteer", "add-area", "x", "--geometry", str(home / "bad.json")])
    assert bad.exit_code == 2 and "not a readable GeoJSON file" in " ".join(bad.output.split())
    assert runner.invoke(app, ["gazetteer", "remove-area", area_id]).exit_code == 0
    gone = runner.invoke(app, ["gazetteer", "remove-area", area_id])
    assert gone.exit_code == 2 and area_id in gone.output


def test_search_names_volcanoes(home: Path) -> None:
    r = runner.invoke(app, ["gazetteer", "search", "Etna", "--kind", "volcano", "--json"])
    assert r.exit_code == 0, r.output
    best = json.loads(r.stdout)["features"][0]
    assert best["properties"]["name"] == "Etna"
    unknown = runner.invoke(app, ["gazetteer", "search", "Zzyzx Qqqq"])
    assert unknown.exit_code == 2 and "close names" in unknown.output
