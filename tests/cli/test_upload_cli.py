"""``gep upload`` against a live ``gep serve``: small files in one request, a larger one in
resumable chunks, each a private item; a refused file named, the others still uploaded."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from gep.cli.main import app as cli
from tests.support.app import ADMIN_TOKEN
from tests.support.serving import free_port, start_gep_serve, stop

DATA = Path(__file__).resolve().parents[1] / "data"
SAFE_ZIP = DATA / "s1" / "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.zip"
KML = DATA / "uploads" / "Fairbanks_SLC.kml"


def test_gep_upload_against_a_live_server(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gep_serve(tmp_path / "home", port, base_url=base)
    try:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        r = httpx.post(f"{base}/accounts/users", json={"name": "carol", "token": True},
                       headers=admin)  # fmt: skip
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        fake = tmp_path / "notes.tif"
        fake.write_text("meeting notes\n")
        env = {"GEP_BASE_URL": base, "GEP_TOKEN": token}
        # the SAFE zip (211 kB) goes in chunks of 64 kB; the KML in one request
        result = CliRunner().invoke(
            cli,
            ["upload", str(KML), str(fake), str(SAFE_ZIP), "--chunk-size", str(64 << 10)],
            env=env,
        )
        assert result.exit_code == 2, result.output  # one file was refused
        assert "notes.tif" in result.output and "not what its name claims" in result.output
        lines = [ln for ln in result.stdout.splitlines() if "\t" in ln]
        assert len(lines) == 2, result.output
        auth = {"Authorization": f"Bearer {token}"}
        for line, expected in zip(
            lines, ("Fairbanks_SLC", "S1A_IW_SLC__1SDV_20221016"), strict=True
        ):
            ref, url = line.split("\t")
            assert ref.split("/", 1)[1].startswith(expected)
            item = httpx.get(url, headers=auth)
            assert item.status_code == 200
            assert httpx.get(url).status_code == 404  # private
        product = httpx.get(url, headers=auth).json()["assets"]["product"]["href"]
        assert httpx.get(product, headers=auth).content == SAFE_ZIP.read_bytes()
    finally:
        stop(server)
