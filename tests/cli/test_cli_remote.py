"""Every user command through GEP_URL, against a ``gep serve`` on another port with another
home and database (``remote_gep``): nothing the CLI does may depend on a database of its own.

One server for the module; the data it needs is put there over the API (a deployed CWL
package, uploads, a few Sentinel-1 frames as STAC items), as a remote user would."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import RemoteGep

DATA = Path(__file__).resolve().parents[1] / "data"
KML = DATA / "uploads" / "Fairbanks_SLC.kml"
STACK = (
    DATA / "asf" / ("S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C_stack.yml")
)
PACKAGE = (
    "cwlVersion: v1.2\nclass: CommandLineTool\nid: remote-hello\nbaseCommand: echo\n"
    "inputs:\n  who: {type: string, inputBinding: {position: 1}}\n"
    "outputs:\n  said: {type: stdout}\nstdout: said.txt\n"
)


def _ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.stdout)


@pytest.fixture(scope="module")
def sar(remote_gep: RemoteGep) -> dict[str, Any]:
    """The frames of one Sentinel-1 track (ASF's records), posted as STAC items over the API."""
    from gep.io.crosswalk.asf import asf_stack_reference, asf_to_stac_item
    from gep.io.crosswalk.asf_records import load_asf_records

    records = load_asf_records(STACK)
    ref_id = asf_stack_reference(records)
    items = [asf_to_stac_item(r, stack_reference=ref_id) for r in records]
    collection = items[0]["collection"]
    extent = {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}}
    auth = {"Authorization": f"Bearer {remote_gep.admin_token}"}
    with httpx.Client(base_url=remote_gep.url, headers=auth, timeout=60) as http:
        r = http.post(
            "/stac/collections",
            json={"type": "Collection", "id": collection, "description": "S1 frames",
                  "license": "proprietary", "stac_version": "1.0.0", "links": [],
                  "extent": extent},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        r = http.post(
            f"/stac/collections/{collection}/items",
            json={"type": "FeatureCollection", "features": items},
        )
        assert r.status_code in (200, 201), r.text
    from shapely.geometry import shape

    centre = shape(next(i for i in items if i["id"] == ref_id)["geometry"]).centroid
    box = f"{centre.x - 0.1},{centre.y - 0.1},{centre.x + 0.1},{centre.y + 0.1}"
    return {"collection": collection, "reference": ref_id, "bbox": box}


def test_processes_list_shows_a_package_deployed_over_the_api(
    remote_gep: RemoteGep, tmp_path: Path
) -> None:
    package = tmp_path / "hello.cwl"
    package.write_text(PACKAGE)
    assert _ok(remote_gep.invoke("processes", "deploy", str(package))).strip() == "remote-hello"
    listed = _ok(remote_gep.invoke("processes", "list"))
    assert "remote-hello" in listed and "echo" in listed
    as_json = json.loads(_ok(remote_gep.invoke("processes", "list", "--json")))
    assert "remote-hello" in [p["id"] for p in as_json["processes"]]
    described = json.loads(_ok(remote_gep.invoke("processes", "describe", "remote-hello",
                                                  "--json")))  # fmt: skip
    assert "who" in described["inputs"]
    # (sharing it with others waits for a passed validation: see docs/services.md)
    shared = remote_gep.invoke("share", "process", "remote-hello", "private")
    assert "private" in _ok(shared)
    # the CLI's own home has no database at all: this came from the server
    assert not any(remote_gep.cli_home.glob("*.db")) and not any(
        remote_gep.cli_home.glob("**/*.sqlite*")
    )


def test_jobs_by_prefix_and_whole_ids_at_80_columns(remote_gep: RemoteGep) -> None:
    done = _ok(remote_gep.invoke("jobs", "submit", "wait", "-i", "seconds=0.1")).strip()
    slow = _ok(remote_gep.invoke("jobs", "submit", "wait", "-i", "seconds=30", "-i", "steps=300"))
    slow = slow.strip()
    # seventeen more jobs: two of them at least share a first hex digit (an ambiguous prefix)
    auth = {"Authorization": f"Bearer {remote_gep.admin_token}", "Prefer": "respond-async"}
    more = [
        httpx.post(f"{remote_gep.url}/processes/echo/execution", headers=auth,
                   json={"inputs": {"message": "x"}}).json()["jobID"]
        for _ in range(17)
    ]  # fmt: skip
    ids = [done, slow, *more]
    # watch, status, results, logs by a prefix
    assert _ok(remote_gep.invoke("jobs", "watch", done[:8])).strip().endswith("successful")
    status = json.loads(_ok(remote_gep.invoke("jobs", "status", done[:10], "--json")))
    assert status["jobID"] == done and status["status"] == "successful"
    assert done in _ok(remote_gep.invoke("jobs", "status", done[:8]))
    assert json.loads(_ok(remote_gep.invoke("jobs", "results", done[:8], "--json")))["waited"]
    assert "waited" in _ok(remote_gep.invoke("jobs", "logs", done[:8]))
    # the list at 80 columns: every id whole on one line, no line wider than 80
    listed = _ok(remote_gep.invoke("jobs", "list", "--limit", "50"))
    lines = listed.splitlines()
    assert all(any(job_id in line for line in lines) for job_id in ids), listed
    assert max(len(line) for line in lines) <= 80, listed
    listed_json = json.loads(_ok(remote_gep.invoke("jobs", "list", "--json", "--limit", "50")))
    assert {j["jobID"] for j in listed_json["jobs"]} >= set(ids)
    # cancel by prefix
    assert _ok(remote_gep.invoke("jobs", "cancel", slow[:8])).strip() in ("dismissed", "running")
    # an ambiguous prefix is an error naming the candidates; an unknown one is not found
    shared_digit = next(d for d in "0123456789abcdef" if sum(i[0] == d for i in ids) > 1)
    amb = remote_gep.invoke("jobs", "status", shared_digit)
    assert amb.exit_code == 2 and "ambiguous" in amb.output, amb.output
    flat = "".join(amb.output.split())
    assert all(i in flat for i in ids if i[0] == shared_digit), amb.output
    missing = remote_gep.invoke("jobs", "status", "zzzz")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    # LIKE's wildcards are taken literally
    wildcard = remote_gep.invoke("jobs", "status", "%")
    assert wildcard.exit_code == 2 and "does not exist" in wildcard.output
    # share by prefix
    shared = json.loads(_ok(remote_gep.invoke("share", "job", done[:8], "public", "--json")))
    assert shared["visibility"] == "public"
    # a dry run checks and quotes, and submits nothing
    before = json.loads(_ok(remote_gep.invoke("jobs", "list", "--json")))["numberMatched"]
    checked = remote_gep.invoke("jobs", "submit", "wait", "-i", "seconds=0.1", "--dry-run",
                                "--json")  # fmt: skip
    assert json.loads(_ok(checked))["valid"] is True
    table = remote_gep.invoke("jobs", "submit", "wait", "-i", "seconds=0.1", "--dry-run")
    assert "would cost" in _ok(table) and "nothing was submitted" in table.output
    refused = remote_gep.invoke("jobs", "submit", "wait", "-i", "seconds=-1", "--dry-run")
    assert refused.exit_code == 2 and "inputs.seconds" in refused.output
    after = json.loads(_ok(remote_gep.invoke("jobs", "list", "--json")))["numberMatched"]
    assert after == before


def test_upload_search_download_with_resume_and_share(
    remote_gep: RemoteGep, tmp_path: Path
) -> None:
    lines = _ok(remote_gep.invoke("upload", str(KML))).splitlines()
    ref = next(ln for ln in lines if "\t" in ln).split("\t")[0]
    collection, item = ref.split("/", 1)
    found = _ok(remote_gep.invoke("search", collection))
    assert item in found.splitlines()[3] or any(item in ln for ln in found.splitlines())
    doc = json.loads(_ok(remote_gep.invoke("search", collection, "--json", "--max-items", "5")))
    assert doc["type"] == "FeatureCollection" and item in [f["id"] for f in doc["features"]]
    # the item's files; then a partial copy is resumed: only the missing bytes come (the
    # 100 bytes already there, marked, stay as they were)
    doc = json.loads(_ok(remote_gep.invoke("search", collection, "--json", "--max-items", "5")))
    keys = list(next(f for f in doc["features"] if f["id"] == item)["assets"])
    first = json.loads(
        _ok(remote_gep.invoke("download", ref, "--dir", str(tmp_path / "a"), "--json"))
    )["files"]
    assert len(first) == len(keys) and all(f["bytes"] > 0 for f in first)
    path = Path(first[0]["path"])
    assert path.parent == tmp_path / "a" / item
    whole = path.read_bytes()
    partial = tmp_path / "b" / item / path.name
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"X" * 100)
    again = json.loads(
        _ok(remote_gep.invoke("download", ref, "--dir", str(tmp_path / "b"), "--json"))
    )["files"]
    assert {f["path"] for f in again} >= {str(partial)}
    assert partial.read_bytes() == b"X" * 100 + whole[100:]
    # its asset by URL (signed: no token needed) and as a file; the map's permalink
    key = next(k for k in keys if path.name.startswith(k))
    signed = _ok(remote_gep.invoke("assets", "url", collection, item, key)).strip()
    assert httpx.get(signed).content == whole
    got = tmp_path / "got.bin"
    _ok(remote_gep.invoke("assets", "get", collection, item, key, "-o", str(got)))
    assert got.read_bytes() == whole
    link = _ok(remote_gep.invoke("map", "permalink", collection, item)).strip()
    assert link.startswith(remote_gep.url) and item in link
    # share the item: anonymous callers then find it
    assert "public" in _ok(remote_gep.invoke("share", "item", ref, "public"))
    anon = json.loads(_ok(remote_gep.invoke("search", collection, "--json", token=None)))
    assert item in [f["id"] for f in anon["features"]]


def test_insar_and_gazetteer(remote_gep: RemoteGep, sar: dict[str, Any], tmp_path: Path) -> None:
    ref = f"{sar['collection']}/{sar['reference']}"
    pairs = json.loads(_ok(remote_gep.invoke("insar", "pairs", ref, "--max-btemp", "400",
                                              "--json")))  # fmt: skip
    assert pairs["pairs"], pairs
    table = _ok(remote_gep.invoke("insar", "pairs", ref, "--max-btemp", "400"))
    assert pairs["pairs"][0]["id"] in table
    when = ["--datetime", "2016-01-01T00:00:00Z/2017-12-31T23:59:59Z"]
    stack = json.loads(_ok(remote_gep.invoke("insar", "stack", "--bbox", sar["bbox"], *when,
                                              "--json")))  # fmt: skip
    assert len(stack["acquisitions"]) > 5
    net = json.loads(_ok(remote_gep.invoke("insar", "network", "--bbox", sar["bbox"], *when,
                                            "--max-btemp", "48", "--max-bperp", "100",
                                            "--json")))  # fmt: skip
    assert net["acquisitions"] == len(stack["acquisitions"]) and net["pairs"]
    # the same frames by search: an area and a time, pages followed up to --max-items
    found = remote_gep.invoke("search", sar["collection"], "--bbox", sar["bbox"], *when,
                              "--limit", "2", "--max-items", "5", "--json")  # fmt: skip
    doc = json.loads(_ok(found))
    assert len(doc["features"]) == 5 and doc["numberMatched"] > 5
    table = _ok(remote_gep.invoke("search", sar["collection"], "--bbox", sar["bbox"], *when,
                                  "--max-items", "3"))  # fmt: skip
    # 67-character ids leave the other columns no room at 80: each item is a record, its id
    # whole on a line of its own
    lines = [ln.strip() for ln in table.splitlines()]
    assert all(f["id"] in lines for f in doc["features"][:3]), table
    assert max(len(ln) for ln in table.splitlines()) <= 80, table
    # gazetteer: a named area of one's own, found by name, then removed
    added = _ok(
        remote_gep.invoke("gazetteer", "add-area", "Remote rim", "--bbox", "14,40.7,14.3,40.9")
    )
    area_id = added.strip().splitlines()[-1]
    listed = json.loads(_ok(remote_gep.invoke("gazetteer", "areas", "--json")))
    assert area_id in [f["properties"]["id"] for f in listed["features"]]
    found = json.loads(_ok(remote_gep.invoke("gazetteer", "search", "remote rim", "--json")))
    assert found["features"][0]["properties"]["name"] == "Remote rim"
    assert "Etna" in _ok(remote_gep.invoke("gazetteer", "search", "Etna", "--kind", "volcano"))
    _ok(remote_gep.invoke("gazetteer", "remove-area", area_id))
    gone = remote_gep.invoke("gazetteer", "remove-area", area_id)
    assert gone.exit_code == 2 and area_id in gone.output


def test_login_whoami_logout(remote_gep: RemoteGep, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {remote_gep.admin_token}"}
    rita = {"name": "rita", "password": "a long passphrase 42"}
    r = httpx.post(f"{remote_gep.url}/accounts/users", json=rita, headers=auth)
    assert r.status_code == 201, r.text
    config = tmp_path / "config"
    env = {"XDG_CONFIG_HOME": str(config)}
    login = remote_gep.invoke("login", "--username", "rita", "--password", "a long passphrase 42",
                              token=None, **env)  # fmt: skip
    assert login.exit_code == 0, login.output
    saved = config / "gep" / "config.json"
    assert saved.stat().st_mode & 0o777 == 0o600
    stored = json.loads(saved.read_text())
    assert stored["url"] == remote_gep.url and stored["token"].startswith("gep_")
    # no GEP_URL, no GEP_TOKEN: the saved login is used
    me = json.loads(_ok(remote_gep.invoke("whoami", "--json", token=None, GEP_URL="", **env)))
    assert me["name"] == "rita"
    assert _ok(remote_gep.invoke("logout", token=None, GEP_URL="", **env)) is not None
    assert "token" not in json.loads(saved.read_text())
    revoked = httpx.get(f"{remote_gep.url}/accounts/me",
                        headers={"Authorization": f"Bearer {stored['token']}"})  # fmt: skip
    assert revoked.status_code == 401
    anonymous = remote_gep.invoke("whoami", token=None, GEP_URL="", **env)
    assert anonymous.exit_code == 2 and "[HTTP 401]" in anonymous.output


def test_a_closed_port_is_one_line_and_debug_shows_the_traceback(remote_gep: RemoteGep) -> None:
    from tests.support.serving import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    r = remote_gep.run("jobs", "list", GEP_URL=closed)
    assert r.returncode == 2, r
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert "cannot reach" in r.stderr and "GEP_URL" in r.stderr and closed in r.stderr
    assert "Traceback" not in r.stderr
    debug = remote_gep.run("--debug", "jobs", "list", GEP_URL=closed)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    assert re.search(r"Connect", debug.stderr)


def test_a_jobs_results_downloaded_by_prefix(remote_gep: RemoteGep, tmp_path: Path) -> None:
    """A quicklook of an uploaded GeoTIFF: its published files come down by the job's prefix."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    tif = tmp_path / "small.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=32,
        height=32,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(14.0, 41.0, 0.01, 0.01),
    ) as dst:
        dst.write(np.arange(32 * 32, dtype="float32").reshape(1, 32, 32))  # fmt: skip
    uploaded = json.loads(_ok(remote_gep.invoke("upload", str(tif), "--json")))["features"][0]
    ref = f"{uploaded['collection']}/{uploaded['id']}"
    key = next(iter(uploaded["assets"]))
    out = _ok(remote_gep.invoke("jobs", "submit", "quicklook", "-i", f"item={ref}",
                                "-i", f"asset={key}", "-i", "max_size=16", "--watch"))  # fmt: skip
    job_id = out.splitlines()[0].strip()
    files = json.loads(
        _ok(remote_gep.invoke("download", job_id[:8], "--dir", str(tmp_path / "r"), "--json"))
    )["files"]
    names = sorted(Path(f["path"]).suffix for f in files)
    assert ".png" in names and ".tif" in names, files
    png = next(Path(f["path"]) for f in files if f["path"].endswith(".png"))
    assert png.read_bytes()[:4] == b"\x89PNG"
    # again: everything is there already, nothing changes
    again = json.loads(
        _ok(remote_gep.invoke("download", job_id[:8], "--dir", str(tmp_path / "r"), "--json"))
    )["files"]
    assert again == files
