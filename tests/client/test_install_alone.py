"""The SDK installs and runs alone (issue #21): the ``gep-client`` distribution of
clients/python is built into a wheel, unpacked beside httpx and its own dependencies only, and a
fresh interpreter (``-S -E``: no site-packages, no environment) imports ``gep.client`` from it
and talks to the server. Nothing of the server's packages (gep.core included) may load."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.client.conftest import Served
from tests.support.app import ADMIN_TOKEN

ROOT = Path(__file__).parents[2]
#: httpx and what it imports (anyio's typing_extensions below Python 3.15)
HTTPX_CLOSURE = ("httpx", "httpcore", "h11", "anyio", "idna", "certifi", "sniffio",
                 "typing_extensions")  # fmt: skip


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the unpacked wheel and httpx's closure, and nothing else."""
    tmp = Path(tmp_path_factory.mktemp("alone"))
    # built from a copy, so that setuptools' build/ folder never holds stale modules
    tree = tmp / "tree"
    shutil.copytree(
        ROOT / "clients/python",
        tree / "clients/python",
        ignore=shutil.ignore_patterns("build", "*.egg-info"),
    )
    shutil.copytree(
        ROOT / "src/gep/client",
        tree / "src/gep/client",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"),
         str(tree / "clients/python")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("gep_client-*.whl")
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        whl.extractall(site)
    assert "gep/__init__.py" not in names  # a namespace: never the server's gep package
    assert {"gep/client/__init__.py", "gep/client/py.typed"} <= set(names)
    assert all(n.startswith(("gep/client/", "gep_client-")) for n in names), names
    for name in HTTPX_CLOSURE:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue  # not needed on this Python
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (site / source.name).symlink_to(source)
    return site


def test_the_wheel_imports_and_works_alone(alone: Path, served: Served) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(alone)!r})
        from gep.client import GepClient, NotFound, JobStatus
        gep = GepClient({served.base!r}, token={ADMIN_TOKEN!r})
        found = gep.search(collections="sentinel-1-slc", max_items=3)
        job = gep.submit("echo", message="alone").wait(timeout=60, progress=False)
        try:
            gep.get_job("missing")
        except NotFound as exc:
            missing = exc.status
        print(json.dumps({{
            "found": len(found), "status": job.status, "outputs": job.results(),
            "missing": missing, "final": [s.value for s in JobStatus if s.final],
            "gep": sorted(m for m in sys.modules if m == "gep" or m.startswith("gep.")),
            "others": sorted(m for m in ("numpy", "pydantic", "fastapi", "tqdm", "odc")
                             if m in sys.modules),
            "from": sys.modules["gep.client"].__file__,
        }}))
        """
    )
    run = subprocess.run(
        [sys.executable, "-S", "-E", "-c", script],
        capture_output=True, text=True, timeout=60, cwd=alone.parent,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["found"] == 3 and out["status"] == "successful" and out["missing"] == 404
    assert out["outputs"] == {"message": "alone"}
    assert out["final"] == ["successful", "failed", "dismissed"]
    assert out["from"].startswith(str(alone))
    assert all(m == "gep" or m.startswith("gep.client") for m in out["gep"]), out["gep"]
    assert out["others"] == []  # tqdm and odc-stac load only when a bar or a cube is asked for
