"""``bench/gateway.py`` still runs end to end in its quickest mode (a tiny COG, half-second
figures): nginx, ``gep serve`` on a folder and on SeaweedFS, s3fs and the cache-hit staging
all start, answer the right bytes (the benchmark checks every body it times against the
file) and report. No figure is judged here: on a shared machine they mean nothing at this
size."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_gateway_benchmark_runs_quick(tmp_path: Path) -> None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        subprocess.run(["make", "-s", "nginx"], cwd=ROOT, check=True)  # as `make bench-gateway`
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "bench/gateway.py", "--quick", "--data", str(tmp_path / "data"),
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = orjson.loads(out.read_bytes())
    rows = {r["figure"].split(":")[0]: r for r in figures["summary"]}
    assert {"local", "s3"} <= set(rows), figures["summary"]
    for row in figures["summary"]:
        assert row["GEP"] > 0 and math.isfinite(row["GEP"]), row
        assert row["met"] in (True, False, None), row
    staging = figures["staging"]
    assert staging["size"] == (tmp_path / "data" / "gateway-8mb.tif").stat().st_size
    assert len(staging["hits_s"]) == 3 and all(t > 0 for t in staging["hits_s"])
    # every section printed its figures beside its peer's
    for peer in ("nginx", "s3fs"):
        assert any(k.endswith(f"/ {peer}") for k in figures["rounds"]), figures["rounds"].keys()
    assert "cache-hit staging" in done.stdout
