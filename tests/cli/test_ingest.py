"""``gep catalog ingest`` and ``gep demo seed`` on real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gep.catalog.backends import open_store
from gep.catalog.search import build_search
from gep.cli.main import app

runner = CliRunner()


def _item(i: str, coll: str | None = "s1", when: str = "2021-05-01T00:00:00Z") -> dict[str, Any]:
    d: dict[str, Any] = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": i,
        "geometry": {"type": "Point", "coordinates": [14.99, 37.75]},
        "properties": {"datetime": when},
        "assets": {},
        "links": [],
    }
    if coll:
        d["collection"] = coll
    return d


def _count(home: Path) -> int:
    store = open_store(f"sqlite:///{home / 'gep.db'}")
    try:
        page = store.search(build_search({"count": True, "limit": 1}, from_get=False))
        return page.number_matched or 0
    finally:
        store.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("GEP_HOME", str(h))
    monkeypatch.delenv("GEP_DATABASE_URL", raising=False)
    return h


def test_ingest_formats_reports_failures_and_is_idempotent(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "collection.json").write_text(
        json.dumps({"type": "Collection", "id": "s1", "description": "d", "links": []})
    )
    (tmp_path / "fc.json").write_text(
        json.dumps({"type": "FeatureCollection", "features": [_item("a"), _item("b")]})
    )
    (tmp_path / "lines.ndjson").write_text(
        "\n".join(
            [
                json.dumps(_item("c")),
                "{oops",
                json.dumps({**_item("nodate"), "properties": {}}),
                json.dumps(_item("d")),
            ]
        )
        + "\n"
    )
    # a static catalogue: catalog -> collection -> items
    cat = tmp_path / "static"
    (cat / "s2" / "x").mkdir(parents=True)
    (cat / "catalog.json").write_text(
        json.dumps(
            {
                "type": "Catalog",
                "id": "root",
                "description": "r",
                "stac_version": "1.1.0",
                "links": [{"rel": "child", "href": "./s2/collection.json"}],
            }
        )
    )
    (cat / "s2" / "collection.json").write_text(
        json.dumps(
            {
                "type": "Collection",
                "id": "s2",
                "description": "d",
                "links": [{"rel": "item", "href": "./x/x.json"}],
            }
        )
    )
    (cat / "s2" / "x" / "x.json").write_text(json.dumps(_item("x", coll=None)))
    args = [
        "catalog",
        "ingest",
        str(data / "collection.json"),
        str(tmp_path / "fc.json"),
        str(tmp_path / "lines.ndjson"),
        str(cat),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ingested 5 items, 2 failed" in out
    assert "nodate" in out and "not JSON" in out
    assert _count(home) == 5
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and _count(home) == 5
    store = open_store(f"sqlite:///{home / 'gep.db'}")
    assert json.loads(store.get_item("s2", "x"))["collection"] == "s2"
    store.close()


def test_demo_seed_is_idempotent(home: Path) -> None:
    first = runner.invoke(app, ["demo", "seed", "--no-sar"])
    assert first.exit_code == 0, first.output
    n = _count(home)
    assert n > 300
    second = runner.invoke(app, ["demo", "seed", "--no-sar"])
    assert second.exit_code == 0 and _count(home) == n
    store = open_store(f"sqlite:///{home / 'gep.db'}")
    colls = {c["id"]: c for c in store.list_collections()[0]}
    # the demo SBAS result sits in the sbas service's result collection, as a job's would
    result = json.loads(store.get_item("sbas", "sbas-mexico-city-2018"))
    # and its displacements as one item per acquisition (the time axis of maps and charts)
    dated = json.loads(store.get_item("sbas", "sbas-mexico-city-2018-20180106"))
    store.close()
    assert {"sentinel-1-slc", "sentinel-2-l2a"} <= set(colls)
    assert colls["sbas"]["gep:results"] is True and "velocity" in colls["sbas"]["item_assets"]
    assert result["properties"]["gep:process"] == "sbas"
    # described as the worker describes a job's results: drawn as the service declares
    assert result["properties"]["renders"]["velocity"]["colormap_name"] == "rdbu_r"
    assert result["assets"]["velocity"]["proj:code"] == "EPSG:4326"
    assert dated["properties"]["datetime"] == "2018-01-06T00:00:00Z"
    disp = dated["assets"]["displacement"]
    assert disp["proj:epsg"] == 4326 and disp["raster:bands"][0]["unit"] == "mm"
    assert "displacement" in dated["properties"]["renders"]
