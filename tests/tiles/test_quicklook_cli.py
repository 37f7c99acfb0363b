"""``gep catalog quicklooks`` and ``gep catalog ingest --quicklooks`` on real rasters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gep.cli.main import app
from tests.support.quicklook_items import decode, item, landsat8_item, sentinel2_item, tif_asset

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("GEP_HOME", str(h))
    for var in ("GEP_DATABASE_URL", "GEP_STORAGE_URL"):
        monkeypatch.delenv(var, raising=False)
    return h


def _counts(output: str) -> tuple[int, int, int, int]:
    m = re.search(
        r"quicklooks: (\d+) made, (\d+) already cached, (\d+) items skipped .*?(\d+) failed",
        output,
        re.S,
    )
    assert m, output
    return int(m[1]), int(m[2]), int(m[3]), int(m[4])


def _write(path: Path, coll: str, items: list[dict[str, object]]) -> Path:
    path.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": [{**i, "collection": coll} for i in items]}
        )
    )
    return path


def test_ingest_with_quicklooks_then_pregenerate(home: Path, tmp_path: Path) -> None:
    remote = item("remote", {"B4": {"href": "https://example.com/B4.TIF", "type": "image/tiff"}})
    gone = item("gone", {"data": tif_asset(tmp_path / "missing.tif")})
    optical = _write(tmp_path / "optical.json", "optical", [landsat8_item(), remote, gone])

    r = runner.invoke(app, ["catalog", "ingest", str(optical), "--quicklooks"])
    assert r.exit_code == 0, r.output
    assert "ingested 3 items" in r.output
    assert _counts(r.output) == (1, 0, 1, 1)
    assert "optical/gone" in r.output and "does not exist" in r.output
    (png,) = (home / "storage" / "quicklooks" / "optical").glob("LC08_016037_20170813-*.png")
    assert decode(png.read_bytes()).shape == (259, 255, 4)

    # a second collection ingested without --quicklooks: nothing rendered yet
    other = _write(tmp_path / "s2.json", "s2", [sentinel2_item()])
    r = runner.invoke(app, ["catalog", "ingest", str(other)])
    assert r.exit_code == 0 and "quicklooks:" not in r.output
    assert not (home / "storage" / "quicklooks" / "s2").exists()

    r = runner.invoke(app, ["catalog", "quicklooks", "--collection", "s2"])
    assert r.exit_code == 0, r.output
    assert _counts(r.output) == (1, 0, 0, 0)
    r = runner.invoke(app, ["catalog", "quicklooks"])  # everything: cached ones are not redone
    assert _counts(r.output) == (0, 2, 1, 1)
    stamp = png.stat().st_ino
    r = runner.invoke(app, ["catalog", "quicklooks", "-c", "optical", "--force"])
    assert _counts(r.output) == (1, 0, 1, 1) and png.stat().st_ino != stamp

    r = runner.invoke(app, ["catalog", "quicklooks", "--collection", "nope"])
    assert r.exit_code == 2 and "nope" in r.output
