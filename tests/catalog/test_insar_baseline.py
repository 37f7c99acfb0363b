"""Interferometric baselines against independent references.

- Exactness: a secondary orbit displaced by a known vector gives back its perpendicular and
  parallel components (to a millimetre), also from two-vector records.
- GAMMA: the 30 pairs of PyRate's Mexico City stack (``tests/data/gamma``: GAMMA ``slc.par``
  orbits and ``base_perp`` tables), at the scene centre: within 3 m (observed ≤ 0.7 m).
  GAMMA's perpendicular baseline has the opposite sign to ISCE2's.
- ASF: the 176-scene stack of ``tests/data/asf``. ASF's values come from its approximate
  method (two state vectors 10 s apart, *linearly* interpolated at a shared time since the
  ascending node, rounded to metres): re-implementing that method here reproduces all 176
  of them exactly, and linear interpolation of a real orbit misses it by up to ~9 m across
  track (the curvature of the Earth-fixed orbit). GEP interpolates with the velocities
  (Hermite) and solves zero-Doppler times, so it differs from ASF by up to that error: the
  issue's 3 m target against ASF is not met for most pairs, and this test pins down why.
- ``gep insar baseline`` on SAFE annotations: a product against itself, and against a copy
  whose orbit is displaced by a known baseline and 12 days.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gep.algorithms.sar.baseline import baseline_at
from gep.algorithms.sar.geometry import radar_times, rdr2geo
from gep.algorithms.sar.orbit import interpolate_orbit_s
from gep.algorithms.simulate.scene import baseline_orbit
from gep.catalog.insar import item_baseline, item_orbit
from gep.cli.main import app
from gep.core.errors import InvalidInput
from gep.core.sar import StateVectors
from gep.io.crosswalk.asf import asf_stack_reference, asf_to_stac_item
from gep.io.crosswalk.asf_records import load_asf_records
from gep.io.gamma import read_bperp, read_slc_par
from gep.io.sentinel1 import open_swath

DATA = Path(__file__).parents[1] / "data"
ROME = DATA / "s1/S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
ASF_STACK = (
    DATA / "asf/S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C_stack.yml"
)


@pytest.fixture(scope="module")
def rome():  # type: ignore[no-untyped-def]
    return open_swath(ROME, "IW1", "VV")


def _target(geom, line: float, sample: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    t = np.array([float(radar_times(geom, line))])
    _, _, _, x = rdr2geo(t, np.array([float(geom.slant_range(sample))]), geom.orbit, 0.0)
    return x[0]


def test_a_known_displacement_comes_back(rome) -> None:  # type: ignore[no-untyped-def]
    x = _target(rome, 6000, 10000)
    t = float(radar_times(rome, 6000))
    for bperp, bpar in ((100.0, 20.0), (-150.0, -5.0), (0.0, 30.0)):
        sec = baseline_orbit(rome.orbit, x, t, bperp, bpar, 12.0)
        b = baseline_at(x, rome.orbit, sec)
        # ISCE2's sign: positive when the secondary lies towards the ground side of the LOS
        assert b.bperp == pytest.approx(-bperp, abs=1e-3)
        assert b.bpar == pytest.approx(bpar, abs=1e-3)
        assert b.btemp == pytest.approx(12.0, abs=1e-6)
        # from two vectors only (as catalogue records carry them), to a few millimetres
        i = int(np.searchsorted((rome.orbit.time - rome.orbit.time[0]) / np.timedelta64(1, "s"), t))
        two_ref = StateVectors(
            rome.orbit.time[i - 1 : i + 1],
            rome.orbit.position[i - 1 : i + 1],
            rome.orbit.velocity[i - 1 : i + 1],
        )
        two_sec = StateVectors(
            sec.time[i : i + 2], sec.position[i : i + 2], sec.velocity[i : i + 2]
        )
        b2 = baseline_at(x, two_ref, two_sec)
        assert b2.bperp == pytest.approx(-bperp, abs=0.01)
        assert b2.bpar == pytest.approx(bpar, abs=0.01)


def test_gamma_baselines_of_the_pyrate_stack() -> None:
    tables = sorted((DATA / "gamma").glob("*_bperp.par"))
    assert len(tables) == 30
    worst = 0.0
    for table in tables:
        a, b = table.name.split("_")[0].split("-")
        ref = read_slc_par(DATA / f"gamma/r{a}_VV_slc.par")
        sec = read_slc_par(DATA / f"gamma/r{b}_VV_slc.par")
        t = (ref.center_time - ref.orbit.time[0]) / np.timedelta64(1, "ns") * 1e-9
        _, _, _, x = rdr2geo(np.array([t]), np.array([ref.center_range]), ref.orbit, 0.0)
        ours = baseline_at(x[0], ref.orbit, sec.orbit)
        gamma_bperp, gamma_bpar = read_bperp(table).at_centre()
        assert ours.bpar == pytest.approx(gamma_bpar, abs=0.2), table.name
        worst = max(worst, abs(ours.bperp + gamma_bperp))  # GAMMA's sign is ISCE2's opposite
        assert abs(ours.bperp + gamma_bperp) <= 3.0, (table.name, ours.bperp, gamma_bperp)
        expected_days = (sec.date - ref.date) / np.timedelta64(1, "D")
        assert ours.btemp == pytest.approx(expected_days, abs=0.01)
    assert worst < 1.0


def _asf_emulation(records: list[dict], reference_id: str) -> dict[str, int]:  # type: ignore[type-arg]
    """ASF's published method, re-implemented: shared time since the ascending node, linear
    interpolation of the two state vectors with a radius fix, projection on V × (M − G)."""

    def ts(s: str) -> float:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

    def rel(r: dict) -> tuple[float, float]:  # type: ignore[type-arg]
        b = r["baseline"]
        anx, p = ts(b["ascendingNodeTime"]), b["stateVectors"]["positions"]
        return ts(p["prePositionTime"]) - anx, ts(p["postPositionTime"]) - anx

    def at(r: dict, t: float, kind: str) -> np.ndarray:  # type: ignore[type-arg]
        sv = r["baseline"]["stateVectors"]["positions" if kind == "Position" else "velocities"]
        pre, post = rel(r)
        a, b = np.array(sv[f"pre{kind}"]), np.array(sv[f"post{kind}"])
        f = (t - pre) / (post - pre)
        v = a * (1 - f) + b * f
        if kind == "Position" and f not in (0.0, 1.0):  # ASF's "radius fix"
            length = np.linalg.norm(a) + (np.linalg.norm(b) - np.linalg.norm(a)) * f
            v = v * length / np.linalg.norm(v)
        return v

    ref = next(r for r in records if r["properties"]["sceneName"] == reference_id)
    flat = (1 - 1 / 298.257224) ** 2
    la, lo = (
        np.radians(float(ref["properties"]["centerLat"])),
        np.radians(float(ref["properties"]["centerLon"])),
    )
    c = 1 / np.sqrt(np.cos(la) ** 2 + flat * np.sin(la) ** 2)
    g = np.array(
        [
            6378137 * c * np.cos(la) * np.cos(lo),
            6378137 * c * np.cos(la) * np.sin(lo),
            6378137 * flat * c * np.sin(la),
        ]
    )
    out = {}
    for r in records:
        (rp, rq), (sp, sq) = rel(ref), rel(r)
        start, end = max(rp, sp), max(rq, sq)
        t = start if start == rp else end if end == rq else start
        m, v, s = at(ref, t, "Position"), at(ref, t, "Velocity"), at(r, t, "Position")
        up = np.cross(v, (m - g) / np.linalg.norm(m - g))
        out[r["properties"]["sceneName"]] = round(float(np.dot(up / np.linalg.norm(up), s - g)))
    return out


def test_asf_stack_baselines() -> None:
    records = load_asf_records(ASF_STACK)
    reference_id = asf_stack_reference(records)
    assert reference_id is not None
    # 1. ASF's numbers are its approximate method's: the emulation reproduces all of them
    emulated = _asf_emulation(records, reference_id)
    published = {
        r["properties"]["sceneName"]: r["properties"]["perpendicularBaseline"] for r in records
    }
    assert len(published) == 176
    assert all(emulated[k] == v for k, v in published.items())
    # 2. that method's linear interpolation is off across track by metres on a real orbit
    orbit = open_swath(ROME, "IW1", "VV").orbit
    a, b = orbit.position[6], orbit.position[7]
    mid = (a + b) / 2
    mid *= (np.linalg.norm(a) + np.linalg.norm(b)) / 2 / np.linalg.norm(mid)
    truth, vel = interpolate_orbit_s(orbit, np.array([65.0]))
    err = mid - truth[0]
    err -= np.dot(err, vel[0]) / np.dot(vel[0], vel[0]) * vel[0]
    assert np.linalg.norm(err) > 5.0
    # 3. GEP from the same two vectors (Hermite, zero-Doppler): same values to that error
    items = {
        i["id"]: i for i in (asf_to_stac_item(r, stack_reference=reference_id) for r in records)
    }
    ref_item = items[reference_id]
    diffs = [item_baseline(ref_item, item).bperp + published[name] for name, item in items.items()]
    diffs_arr = np.abs(np.array(diffs))
    print(
        "GEP vs ASF |diff| m: median",
        np.median(diffs_arr),
        "max",
        diffs_arr.max(),
        "share <= 3 m",
        np.mean(diffs_arr <= 3),
    )
    assert np.median(diffs_arr) < 8.0
    assert diffs_arr.max() < 40.0


def test_items_without_orbits_are_refused() -> None:
    item = {"id": "x", "properties": {"datetime": "2020-01-01T00:00:00Z"}, "geometry": None}
    with pytest.raises(InvalidInput, match="gep:state_vectors"):
        item_orbit(item)


def _shifted_copy(src: Path, dst: Path, shift: np.ndarray, days: int) -> None:
    """A copy of a SAFE whose times move ``days`` later and whose orbit moves by ``shift``."""
    shutil.copytree(src, dst)
    stamp = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?")

    def later(m: re.Match[str]) -> str:
        t = datetime.fromisoformat(m.group(1)) + timedelta(days=days)
        return t.strftime("%Y-%m-%dT%H:%M:%S") + (m.group(2) or "")

    for path in [dst / "manifest.safe", *dst.glob("annotation/*.xml")]:
        text = stamp.sub(later, path.read_text())

        def moved(m: re.Match[str]) -> str:
            xyz = [float(v) for v in m.groups()]
            x, y, z = (np.array(xyz) + shift).tolist()
            return f"<position><x>{x!r}</x><y>{y!r}</y><z>{z!r}</z></position>"

        text = re.sub(
            r"<position>\s*<x>([^<]+)</x>\s*<y>([^<]+)</y>\s*<z>([^<]+)</z>\s*</position>",
            moved,
            text,
        )
        path.write_text(text)


def test_cli_baseline_of_a_pair(tmp_path: Path, rome) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    same = runner.invoke(app, ["insar", "baseline", str(ROME), str(ROME), "--json"])
    assert same.exit_code == 0, same.output
    rows = json.loads(same.output)
    assert [r["burst"] for r in rows] == list(range(1, 10))
    assert all(abs(r["bperp"]) < 1e-6 and abs(r["bpar"]) < 1e-6 and r["btemp"] == 0 for r in rows)
    # a secondary 12 days later on an orbit displaced by 100 m perpendicular, 20 m parallel
    # (at the fifth burst's mid-range point)
    t5 = float(radar_times(rome, 4 * 1342 + 750))
    x5 = _target(rome, 4 * 1342 + 750, rome.samples / 2)
    moved = baseline_orbit(rome.orbit, x5, t5, 100.0, 20.0, 0.0)
    shift = moved.position[0] - rome.orbit.position[0]
    sec = tmp_path / "S1A_IW_SLC__1SDV_20220116T170557_20220116T170624_041489_04EF2B_AAAA.SAFE"
    _shifted_copy(ROME, sec, shift, 12)
    out = runner.invoke(app, ["insar", "baseline", str(ROME), str(sec), "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert len(rows) == 9 and {r["swath"] for r in rows} == {"IW1"}
    fifth = rows[4]
    assert fifth["bperp"] == pytest.approx(-100.0, abs=0.5)
    assert fifth["bpar"] == pytest.approx(20.0, abs=0.5)
    assert all(r["btemp"] == pytest.approx(12.0, abs=1e-4) for r in rows)
    # an unrelated product is refused with the reason
    other = DATA / "s1/S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.zip"
    bad = runner.invoke(app, ["insar", "baseline", str(ROME), str(other), "--json"])
    assert bad.exit_code == 2 and (
        "share no swath" in bad.output or "relative orbits" in bad.output
    )
