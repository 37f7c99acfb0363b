"""The notebooks of docs/notebooks, executed with nbclient against a live ``gep serve`` (the
seeded demo server tests/ui uses too), and what they compute checked against the truth.

Each notebook ends with a cell that prints its numbers as one JSON line; the tests read that
line from the executed notebook. The earthquake notebook's displacement is checked against
the Okada source the demo simulated (its parameters are in the SLC item, ``gep:simulation``),
computed here with the project's Okada implementation and projected on each point's line of
sight from the reference's orbit, as the simulator did. The executed notebooks and their
figures are kept in tests/notebooks/output/ (git-ignored).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from numpy.typing import NDArray

from gep.algorithms.models import project_los
from gep.algorithms.sar.geometry import geo2rdr, incidence_and_heading, llh_to_ecef, radar_times
from gep.algorithms.simulate.scene import OkadaSource, source_displacement
from gep.client import GepClient
from gep.core.sar import swath_geometry_from_json
from tests.support.app import ADMIN_HEADERS
from tests.support.demo_server import Server

NOTEBOOKS = Path(__file__).parents[2] / "docs" / "notebooks"
OUTPUT = Path(__file__).parent / "output"
CELL_TIMEOUT_S = 300
ROME_REF = "gep-slc/SIM_S1A_IW1_VV_20220104_rome-okada-thrust"
ROME_SEC = "gep-slc/SIM_S1A_IW1_VV_20220116_rome-okada-thrust"
#: the demo's troposphere is 5 mm rms; a difference of two points of it is ~7 mm rms. The
#: extremes (averaged over 5 × 5 pixels) and the profile must be within twice that of the truth
EXTREME_TOLERANCE_MM = 15.0
#: the profile's rms misfit once the reference point's offset is removed: the bound
#: tests/algorithms/test_dinsar.py puts on the whole map with the troposphere in it
PROFILE_RMS_MM = 8.0
#: the extremes' positions: 10 pixels of the geocoded grid (~600 m) from the truth's
EXTREME_PIXELS = 10


@dataclass(frozen=True)
class Executed:
    notebook: nbformat.NotebookNode
    #: the JSON line the notebook's last cell printed
    summary: dict[str, Any]
    seconds: float


@pytest.fixture(scope="module")
def reader(demo_server: Server) -> dict[str, str]:
    """An ordinary user's token for the notebooks (not alice's: her job list is the
    Geobrowser tests', and the notebooks' jobs are private to their owner)."""
    r = httpx.post(
        f"{demo_server.url}/accounts/users",
        json={"name": "nora", "role": "user", "credits": 100, "token": True},
        headers=ADMIN_HEADERS,
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return {"GEP_URL": demo_server.url, "GEP_TOKEN": r.json()["token"]}


def execute(name: str, env: dict[str, str]) -> Executed:
    """Run docs/notebooks/NAME.ipynb in a fresh kernel (this venv's python: the kernel
    inherits this process's environment, GEP_URL and GEP_TOKEN set for it) in OUTPUT."""
    OUTPUT.mkdir(exist_ok=True)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    started = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**env, "GEP_NOTEBOOK_OUTPUT": str(OUTPUT)}.items():
            mp.setenv(key, value)
        client = NotebookClient(
            nb,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(OUTPUT)}},
        )
        client.execute()
    seconds = time.monotonic() - started
    nbformat.write(nb, OUTPUT / f"{name}.ipynb")
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    text = "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream")
    return Executed(nb, json.loads(text.strip().splitlines()[-1]), seconds)


def images(nb: nbformat.NotebookNode) -> int:
    """How many figures the executed notebook shows."""
    return sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, f"{path}: no chart"


# -------------------------------------------------------------------------- the earthquake


@pytest.fixture(scope="module")
def earthquake(reader: dict[str, str]) -> Executed:
    return execute("earthquake", reader)


def okada_los(reference: dict[str, Any], lon: NDArray[Any], lat: NDArray[Any]) -> NDArray[Any]:
    """The LOS displacement (mm, towards the satellite) the demo simulated at ground points:
    the Okada source the SLC item records, seen from the reference orbit at each point's
    zero-Doppler time (gep.algorithms.simulate.scene.simulate_pair, per pixel). The points are
    put on the ellipsoid: the DEM's ~100 m of relief turns the line of sight by < 0.01°."""
    props = reference["properties"]
    recorded = dict(props["gep:simulation"]["source"])
    assert recorded.pop("type") == "OkadaSource"
    source = OkadaSource(**recorded)
    geom = swath_geometry_from_json(props["gep:swath_geometry"])
    lat, lon = np.asarray(lat, "float64"), np.asarray(lon, "float64")
    ue, un, uz = source_displacement(source, lat, lon)
    xyz = llh_to_ecef(lat, lon, np.zeros_like(lat))
    t, _ = geo2rdr(xyz, geom.orbit, float(radar_times(geom, geom.lines / 2)))
    incidence, heading = incidence_and_heading(xyz, geom.orbit, t)
    return np.asarray(project_los(ue, un, uz, incidence, heading)) * 1000.0


def test_earthquake_notebook_runs_the_pair_to_a_profile(
    earthquake: Executed, reader: dict[str, str]
) -> None:
    s = earthquake.summary
    assert s["python"] == sys.executable  # the kernel is this venv's python
    assert s["items"] == sorted(i.split("/")[1] for i in (ROME_REF, ROME_SEC))
    assert s["pair"] == {"reference": ROME_REF, "secondary": ROME_SEC}
    assert abs(s["bperp_m"] + 100.0) < 1.0 and s["btemp_days"] == 12.0
    job = GepClient(reader["GEP_URL"], token=reader["GEP_TOKEN"]).get_job(s["job"])
    assert job.succeeded and job.process == "dinsar"
    assert images(earthquake.notebook) == 1
    assert_png(Path(s["figure"]))
    assert Path(s["figure"]).parent == OUTPUT
    assert len(s["profile"]["km"]) > 100  # the line crosses the map


def test_earthquake_profile_matches_the_simulated_thrust(
    earthquake: Executed, reader: dict[str, str]
) -> None:
    s = earthquake.summary
    gep = GepClient(reader["GEP_URL"], token=reader["GEP_TOKEN"])
    reference = gep.item(*ROME_REF.split("/"))
    los = gep.get_job(s["job"]).to_xarray(bands=["los_displacement"])
    grid = los.los_displacement.isel(time=0)
    lon2, lat2 = np.meshgrid(grid.longitude.values, grid.latitude.values)
    valid = np.isfinite(grid.values)
    truth = np.where(valid, okada_los(reference, lon2, lat2), np.nan)

    # the extremes: where the truth's are, over the area the result covers
    step = float(abs(grid.longitude[1] - grid.longitude[0]))
    pixels = {}
    for name, find in (("peak", np.nanargmax), ("trough", np.nanargmin)):
        i, j = np.unravel_index(int(find(truth)), truth.shape)
        measured = s[name]
        off = np.hypot(measured["lon"] - lon2[i, j], measured["lat"] - lat2[i, j]) / step
        assert off <= EXTREME_PIXELS, f"the {name} is {off:.1f} pixels from the truth's"
        pixels[name] = off

    # the profile: the truth's shape once the reference point's offset (the displacement
    # dinsar sets to zero there) is removed
    p = s["profile"]
    measured_mm = np.asarray(p["los_mm"])
    expected_mm = okada_los(reference, np.asarray(p["lon"]), np.asarray(p["lat"]))
    offset = float(np.median(measured_mm - expected_mm))
    misfit = float(np.sqrt(np.mean((measured_mm - offset - expected_mm) ** 2)))
    assert misfit <= PROFILE_RMS_MM, f"profile misfit {misfit:.1f} mm"

    # the extremes' values: the motion towards the satellite over the hanging wall (a thrust
    # lifts it) and the far field, within the tolerance of the truth
    at = {
        name: float(okada_los(reference, np.array([s[name]["lon"]]), np.array([s[name]["lat"]]))[0])
        for name in ("peak", "trough")
    }
    assert at["peak"] > 90.0 and at["trough"] < 20.0, at  # the peak is on the uplift lobe
    for name in ("peak", "trough"):
        found = s[name]["los_mm"] - offset
        assert abs(found - at[name]) <= EXTREME_TOLERANCE_MM, (name, found, at[name])
    relief = float(np.nanmax(truth) - np.nanmin(truth))
    assert abs(s["relief_mm"] - relief) <= EXTREME_TOLERANCE_MM, (s["relief_mm"], relief)
    print(
        f"earthquake: peak {s['peak']['los_mm'] - offset:.1f} mm (truth {at['peak']:.1f}), "
        f"trough {s['trough']['los_mm'] - offset:.1f} mm (truth {at['trough']:.1f}), relief "
        f"{s['relief_mm']:.1f} mm (truth {relief:.1f}), profile misfit {misfit:.1f} mm, "
        f"offset {offset:.1f} mm; extremes {pixels['peak']:.1f} and {pixels['trough']:.1f} "
        f"pixels from the truth's; {earthquake.seconds:.1f} s"
    )


# -------------------------------------------------------------------------- SBAS at a point


BASIN = (-99.10, 19.43)  # Iztacalco, on the old lake bed: about -19 cm/yr along the LOS


@pytest.fixture(scope="module")
def sbas(reader: dict[str, str]) -> Executed:
    return execute("sbas_timeseries", reader)


def test_sbas_notebook_gives_the_api_series_and_its_trend(
    sbas: Executed, reader: dict[str, str]
) -> None:
    s = sbas.summary
    assert s["python"] == sys.executable
    assert (s["lon"], s["lat"]) == BASIN
    answer = httpx.get(
        f"{reader['GEP_URL']}/stac/collections/sbas/items/sbas-mexico-city-2018/timeseries",
        params={"lon": BASIN[0], "lat": BASIN[1], "assets": "displacement"},
        headers={"Authorization": f"Bearer {reader['GEP_TOKEN']}"},
        timeout=60,
    ).json()
    values = answer["values"]
    assert len(values) == 13 and len(s["values"]) == 13
    assert s["datetimes"] == [v["datetime"] for v in values]
    assert s["values"] == [v["value"] for v in values]  # the API's, exactly
    days = np.array([np.datetime64(v["datetime"][:10]).astype(int) for v in values], float)
    slope = float(np.polyfit(days, [v["value"] for v in values], 1)[0] * 365.25)
    assert s["trend_mm_per_yr"] == pytest.approx(slope, abs=0.01)
    assert s["trend_mm_per_yr"] < -100, "the basin is not subsiding"
    # the velocity map is the same fit, made by the service
    assert s["velocity_map_mm_per_yr"] == pytest.approx(s["trend_mm_per_yr"], abs=0.5)
    assert images(sbas.notebook) == 1
    assert_png(Path(s["figure"]))
    print(f"sbas: trend {s['trend_mm_per_yr']:.1f} mm/yr; {sbas.seconds:.1f} s")


@pytest.fixture(scope="module", autouse=True)
def _no_stale_figures() -> Iterator[None]:
    """Figures of an earlier run must not pass for this one's."""
    for png in OUTPUT.glob("*.png"):
        png.unlink()
    yield
