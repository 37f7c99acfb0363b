"""Sentinel-1 IW SLC SAFE reading (gep.io.sentinel1) on real ESA annotations.

Expected numbers are read off the annotation XMLs in ``tests/data/s1`` (see its README), or
follow from the physics of the acquisition (orbit height, incidence, calibration LUT
relations), so a reader that confuses fields, units, bursts or orbits fails here.
"""

from __future__ import annotations

import itertools
import math
import re
import zipfile
from functools import cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from shapely.geometry import Polygon
from shapely.wkt import loads as load_wkt

from gep.algorithms.sar.orbit import interpolate_orbit
from gep.core.errors import InvalidInput
from gep.core.sar import SPEED_OF_LIGHT, SwathGeometry
from gep.io import sentinel1 as s1
from gep.io.orbit_files import read_eof

DATA = Path(__file__).resolve().parents[1] / "data" / "s1"
S1B = DATA / "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE"
ROME = DATA / "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
ZIP = DATA / "S1A_IW_SLC__1SDV_20221016T015043_20221016T015111_045461_056FC0_6681.zip"
EOFS = sorted((DATA / "orbits").glob("*.EOF"))

# (product, swath, pol) → values read by eye off the annotation / manifest XML
CASES: dict[str, tuple[Path, str, str, dict[str, Any]]] = {
    "s1b-descending": (
        S1B,
        "IW1",
        "VV",
        {
            "mission": "S1B",
            "pass_direction": "descending",
            "relative_orbit": 168,
            "lines": 13509,
            "samples": 21632,
            "lines_per_burst": 1501,
            "slant_range_time": 5.343035814454385e-03,
            "azimuth_pixel_spacing": 13.94053,
            "first_line_time": "2021-04-01T05:26:24.209990",
            "platform_heading": -165.6512198343102,
        },
    ),
    "rome-ascending": (
        ROME,
        "IW1",
        "VV",
        {
            "mission": "S1A",
            "pass_direction": "ascending",
            "relative_orbit": 117,
            "lines": 13509,
            "samples": 22694,
            "lines_per_burst": 1501,
            "slant_range_time": 5.336535882737799e-03,
            "azimuth_pixel_spacing": 13.95,
            "first_line_time": "2022-01-04T17:05:58.268589",
            "platform_heading": -1.367718277152630e01,
        },
    ),
    "zip-ascending": (
        ZIP,
        "IW2",
        "VV",
        {
            "mission": "S1A",
            "pass_direction": "ascending",
            "relative_orbit": 64,
            "lines": 13572,
            "samples": 25470,
            "lines_per_burst": 1508,
            "slant_range_time": 5.647294809510131e-03,
            "azimuth_pixel_spacing": 13.94281,
            "first_line_time": "2022-10-16T01:50:44.577282",
            "platform_heading": -1.297917384679802e01,
        },
    ),
}


@cache
def _swath(name: str) -> SwathGeometry:
    product, swath, pol, _ = CASES[name]
    return s1.open_swath(product, swath, pol)


def _last_line(g: SwathGeometry) -> np.datetime64:
    return cast(np.datetime64, g.extra["last_line_time"])


@cache
def _bursts(name: str) -> tuple[s1.Burst, ...]:
    product, swath, pol, _ = CASES[name]
    return tuple(s1.bursts(product, swath, pol))


def test_list_swaths_reports_only_the_annotations_present() -> None:
    # the S1B manifest names all 6 swath/pols; only 3 annotations were shipped
    assert s1.list_swaths(S1B) == [("IW1", "VH"), ("IW1", "VV"), ("IW2", "VH")]
    assert s1.list_swaths(ROME) == [("IW1", "VV")]
    assert s1.list_swaths(ZIP) == [("IW2", "VV")]  # read in place from the zip
    assert s1.list_swaths(S1B / "manifest.safe") == s1.list_swaths(S1B)


@pytest.mark.parametrize("name", list(CASES))
def test_swath_geometry_matches_the_annotation(name: str) -> None:
    _, swath, pol, want = CASES[name]
    g = _swath(name)
    assert (g.mission, g.swath, g.polarisation) == (want["mission"], swath, pol)
    assert g.pass_direction == want["pass_direction"]
    assert g.relative_orbit == want["relative_orbit"]
    assert (g.lines, g.samples) == (want["lines"], want["samples"])
    assert g.lines_per_burst == want["lines_per_burst"]
    # radarFrequency 5.405000454334350e+09 Hz in every annotation
    assert g.wavelength == pytest.approx(0.0554658, abs=1e-7)
    assert g.wavelength == pytest.approx(SPEED_OF_LIGHT / 5.405000454334350e09, rel=1e-12)
    assert g.range_pixel_spacing == pytest.approx(2.329562)
    assert g.azimuth_pixel_spacing == pytest.approx(want["azimuth_pixel_spacing"])
    assert g.azimuth_time_interval == pytest.approx(2.055556299999998e-03, rel=1e-12)
    assert g.range_sampling_rate == pytest.approx(64345238.12571428)
    assert g.slant_range_time == pytest.approx(want["slant_range_time"], rel=1e-12)
    assert g.first_line_time == np.datetime64(want["first_line_time"], "ns")
    # the range pixel spacing is c / (2 * range sampling rate)
    assert g.range_pixel_spacing == pytest.approx(SPEED_OF_LIGHT / 2 / g.range_sampling_rate)
    # IW slant ranges are 800-960 km
    assert 790e3 < g.near_range < 960e3
    # heading normalised into [0, 360): ascending ~347°, descending ~194°
    assert 0.0 <= g.heading < 360.0
    assert g.heading == pytest.approx(want["platform_heading"] % 360.0)
    if g.pass_direction == "ascending":
        assert 340 < g.heading < 350
    else:
        assert 190 < g.heading < 200


@pytest.mark.parametrize("name", list(CASES))
def test_incidence_and_burst_timing(name: str) -> None:
    g = _swath(name)
    # incidence from the geolocation grid agrees with the annotation's own mid-swath value
    assert g.incidence_angle_mid == pytest.approx(
        g.extra["incidence_angle_mid_annotation"], abs=0.1
    )
    lo, hi = {"IW1": (30.0, 37.0), "IW2": (36.0, 42.0)}[g.swath]
    assert lo < g.incidence_angle_mid < hi
    # 9 bursts, one every ~2.76 s (the TOPS cycle), burst 0 starting the image
    times = np.array(g.burst_start_times, dtype="datetime64[ns]")
    assert len(times) == 9 == g.extra["number_of_bursts"]
    assert times[0] == g.first_line_time
    cycle = np.diff(times) / np.timedelta64(1, "s")
    assert np.all((cycle > 2.7) & (cycle < 2.8))
    # bursts overlap in time: a burst lasts longer than the cycle
    assert g.lines_per_burst * g.azimuth_time_interval > cycle.max()


@pytest.mark.parametrize("name", list(CASES))
def test_annotation_orbit_is_physical_and_agrees_with_pass_and_heading(name: str) -> None:
    g = _swath(name)
    sv = g.orbit
    assert sv.source == "annotation"
    assert np.all(np.diff(sv.time) == np.timedelta64(10, "s"))
    assert sv.covers(g.first_line_time, _last_line(g), margin_s=10)
    radius = np.linalg.norm(sv.position, axis=1)
    speed = np.linalg.norm(sv.velocity, axis=1)
    assert np.all((radius > 7.0e6) & (radius < 7.1e6))  # ~700 km altitude
    assert np.all((speed > 7.5e3) & (speed < 7.7e3))
    mid = g.first_line_time + (_last_line(g) - g.first_line_time) // 2
    pos, vel = interpolate_orbit(sv, np.array([mid]))
    x, y, z = pos[0]
    lon, lat = math.atan2(y, x), math.atan2(z, math.hypot(x, y))
    east = np.array([-math.sin(lon), math.cos(lon), 0.0])
    north = np.array(
        [-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)]
    )
    # manifest pass ↔ orbit: ascending means moving north
    assert (vel[0][2] > 0) == (g.pass_direction == "ascending")
    # annotation platformHeading ↔ direction of the earth-fixed velocity over the nadir
    heading = math.degrees(math.atan2(vel[0] @ east, vel[0] @ north)) % 360
    assert heading == pytest.approx(g.heading, abs=0.2)


def test_bursts_timing_windows_and_ids() -> None:
    for name in CASES:
        g, bursts = _swath(name), _bursts(name)
        assert [b.index for b in bursts] == list(range(9))
        lpb = g.lines_per_burst
        for b in bursts:
            assert b.first_line == b.index * lpb and b.lines == lpb and b.samples == g.samples
            assert b.azimuth_time == g.burst_start_times[b.index]
            span = (b.azimuth_time_last - b.azimuth_time) / np.timedelta64(1, "s")
            assert span == pytest.approx((lpb - 1) * g.azimuth_time_interval, abs=1e-6)
            assert b.sensing_stop - b.sensing_start == b.azimuth_time_last - b.azimuth_time
            assert b.first_line < b.first_valid_line < b.last_valid_line < b.first_line + lpb
            assert 0 < b.first_valid_sample < b.last_valid_sample < g.samples
            # the invalid edges are a few tens of lines, not half the burst
            assert b.last_valid_line - b.first_valid_line > 0.95 * lpb
    # S1B burst 0: firstValidSample is -1 for lines 0..18, then 529; lastValidSample 20935
    b0 = _bursts("s1b-descending")[0]
    assert (b0.first_valid_line, b0.last_valid_line) == (19, 1482)
    assert (b0.first_valid_sample, b0.last_valid_sample) == (529, 20935)
    assert b0.azimuth_anx_time == pytest.approx(2188.5721669983)
    assert b0.sensing_start == np.datetime64("2021-04-01T05:26:25.347913", "ns")
    # IPF 3.31 (S1B, 2021) has no burst ids; IPF >= 3.40 does
    assert all(b.burst_id == "" and b.relative_burst_id is None for b in _bursts("s1b-descending"))
    rome = _bursts("rome-ascending")
    assert [b.burst_id for b in rome] == [f"117_{249402 + i}_IW1" for i in range(9)]
    assert rome[0].absolute_burst_id == 88737586
    z = _bursts("zip-ascending")
    assert z[0].burst_id == "64_135518_IW2" and z[0].absolute_burst_id == 97644999
    assert [b.relative_burst_id for b in z] == list(range(135518, 135527))


@pytest.mark.parametrize("name", list(CASES))
def test_burst_footprints_lie_in_the_product_and_follow_the_track(name: str) -> None:
    product, swath, pol, _ = CASES[name]
    g, bursts = _swath(name), _bursts(name)
    footprint = s1.product_footprint(product)
    assert footprint is not None and footprint.is_valid
    swath_fp = load_wkt(s1.geolocation_grid(product, swath, pol).attrs["geospatial_bounds"])
    for b in bursts:
        fp = b.footprint
        assert isinstance(fp, Polygon) and fp.is_valid and fp.exterior.is_ccw
        # the manifest footprint ignores terrain height (the Alps shift S1B's grid by ~1 km),
        # so allow a sliver outside it but nothing more
        assert fp.intersection(footprint).area / fp.area > 0.98
        assert fp.within(footprint.buffer(0.03))
        assert fp.within(swath_fp.buffer(1e-6))
        # a burst is ~20 km along track and ~80-90 km across: 0.12-0.3 square degrees here
        assert 0.12 < fp.area < 0.3
    centres = np.array([b.footprint.centroid.y for b in bursts])
    steps = np.diff(centres)
    # bursts march north when ascending, south when descending
    assert np.all(steps > 0) if g.pass_direction == "ascending" else np.all(steps < 0)
    # consecutive valid windows touch or overlap a little, they do not repeat each other
    for a, b in itertools.pairwise(bursts):
        shared = a.footprint.intersection(b.footprint).area / a.footprint.area
        assert 0.0 <= shared < 0.2


def test_geolocation_grid() -> None:
    grid = s1.geolocation_grid(S1B, "IW1", "VV")
    assert dict(grid.sizes) == {"azimuth_time": 10, "slant_range_time": 21}
    assert grid["line"].values[0] == 0 and grid["line"].values[-1] == 13508
    assert grid["pixel"].values[-1] == 21631
    for var in ("latitude", "longitude", "height", "incidenceAngle", "elevationAngle"):
        assert not np.isnan(grid[var].values).any()
    assert grid["latitude"].values.min() > 45.5 and grid["latitude"].values.max() < 47.3
    # incidence grows with range, and exceeds the look (elevation) angle on a curved Earth
    inc = grid["incidenceAngle"].values
    assert np.all(np.diff(inc, axis=1) > 0)
    assert np.all(inc > grid["elevationAngle"].values)
    # the copy is the caller's: changing it does not leak into the next read
    grid["latitude"][:] = 0.0
    assert s1.geolocation_grid(S1B, "IW1", "VV")["latitude"].values.min() > 45.5


def test_calibration_luts_and_calibrate() -> None:
    cal = s1.calibration(S1B, "IW1", "VV")
    for var in ("sigmaNought", "betaNought", "gamma", "dn"):
        assert cal[var].shape == (30, 542)
    assert cal["line"].values[0] == -1042 and cal["line"].values[-1] == 14661
    assert cal["pixel"].values[0] == 0 and cal["pixel"].values[-1] == 21631
    assert cal.attrs["absoluteCalibrationConstant"] == pytest.approx(1.393)
    # betaNought is 2.369867e+02 everywhere in this file
    assert np.all(cal["betaNought"].values == np.float32(236.9867))

    # a block on LUT nodes: rows 2-3 (lines 91, 577), columns 1-3 (pixels 40, 80, 120)
    lines, pixels = cal["line"].values[2:4], cal["pixel"].values[1:4]
    assert list(lines) == [91, 577] and list(pixels) == [40, 80, 120]
    block = np.ones((577 - 91 + 1, 120 - 40 + 1), dtype=np.complex64)
    rows, cols = np.array([0, 577 - 91]), np.array([0, 40, 80])
    kinds: tuple[tuple[s1.CalibrationKind, str], ...] = (
        ("sigma0", "sigmaNought"),
        ("beta0", "betaNought"),
        ("gamma0", "gamma"),
    )
    for kind, var in kinds:
        out = s1.calibrate(block, cal, kind, first_line=91, first_sample=40)
        assert out.dtype == np.float32 and out.shape == block.shape
        lut = cal[var].values[2:4, 1:4].astype(np.float64)
        np.testing.assert_allclose(out[np.ix_(rows, cols)], 1.0 / lut**2, rtol=1e-5)
    # |3+4j|² = 25
    dn = np.full((2, 2), 3 + 4j, dtype=np.complex64)
    beta = s1.calibrate(dn, cal, "beta0", first_line=1000, first_sample=5000)
    np.testing.assert_allclose(beta, 25.0 / 236.9867**2, rtol=1e-6)

    # ESA's LUTs encode the geometry: sigma0 = beta0 sin(θ), gamma0 = sigma0 / cos(θ)
    grid = s1.geolocation_grid(S1B, "IW1", "VV")
    theta = math.radians(float(grid["incidenceAngle"].values[0, 0]))  # line 0, pixel 0
    one = np.ones((1, 1), dtype=np.complex64)
    sigma = s1.calibrate(one, cal, "sigma0")[0, 0]
    beta = s1.calibrate(one, cal, "beta0")[0, 0]
    gamma = s1.calibrate(one, cal, "gamma0")[0, 0]
    assert sigma / beta == pytest.approx(math.sin(theta), rel=0.01)
    assert gamma / sigma == pytest.approx(1 / math.cos(theta), rel=0.01)

    with pytest.raises(InvalidInput, match="kind"):
        s1.calibrate(one, cal, "sigma9")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="outside the calibration LUT"):
        s1.calibrate(one, cal, "sigma0", first_sample=30000)
    with pytest.raises(InvalidInput, match="2-D"):
        s1.calibrate(np.ones(3, dtype=np.complex64), cal)


def test_noise_range_lut() -> None:
    noise = s1.noise_range(S1B, "IW1", "VV")
    lut = noise["noiseRangeLut"].values
    assert lut.ndim == 2 and lut.shape[1] == noise.sizes["pixel"]
    assert np.all(lut > 0)


def test_missing_calibration_names_what_is_there() -> None:
    # the manifest names IW1/VH calibration but the file was not shipped
    with pytest.raises(InvalidInput, match=r"no calibration file for IW1/VH.*IW1/VV"):
        s1.calibration(S1B, "IW1", "VH")
    with pytest.raises(InvalidInput, match=r"no calibration file.*none"):
        s1.calibration(ROME, "IW1", "VV")


def test_bad_products_raise_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        s1.open_swath(tmp_path / "nope.SAFE")
    with pytest.raises(InvalidInput, match=r"no manifest\.safe"):
        s1.list_swaths(tmp_path)
    with pytest.raises(InvalidInput, match="not a SAFE product"):
        s1.open_swath(EOFS[0])
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "no manifest here")
    with pytest.raises(InvalidInput, match="not a SAFE zip"):
        s1.list_swaths(empty)
    not_s1 = tmp_path / "X.SAFE"
    not_s1.mkdir()
    (not_s1 / "manifest.safe").write_text("<xfdu/>")
    with pytest.raises(InvalidInput, match="not a supported Sentinel-1 manifest"):
        s1.list_swaths(not_s1)


def test_missing_swath_or_polarisation_names_the_available_ones() -> None:
    with pytest.raises(InvalidInput, match=r"IW3/VV; available: IW1/VH, IW1/VV, IW2/VH") as e:
        s1.open_swath(S1B, "IW3", "VV")
    assert e.value.field == "swath"
    with pytest.raises(InvalidInput, match=r"IW2/VV; available: IW1/VH, IW1/VV, IW2/VH") as e:
        s1.bursts(S1B, "IW2", "VV")
    assert "IW2/VH" in e.value.message and e.value.field == "polarisation"
    with pytest.raises(InvalidInput, match="available: IW2/VV"):
        s1.geolocation_grid(ZIP, "IW1", "HH")
    # lower case is accepted
    assert s1.open_swath(ZIP, "iw2", "vv").swath == "IW2"


def test_orbit_files_that_do_not_cover_the_swath_are_an_error() -> None:
    # the zip is from 2022-10-16, the RESORB files from 2023-08-23
    with pytest.raises(InvalidInput, match=r"no orbit file covers 2022-10-16T01:50:44") as e:
        s1.open_swath(ZIP, "IW2", "VV", orbit_files=EOFS)
    assert "S1A_IW_SLC__1SDV_20221016T015043" in e.value.message
    assert EOFS[0].name in e.value.message and e.value.field == "orbit_files"
    # an S1B product never takes an S1A orbit
    with pytest.raises(InvalidInput, match="no orbit file for mission S1B"):
        s1.open_swath(S1B, "IW1", "VV", orbit_files=EOFS)


def _shift_eof(src: Path, dst_dir: Path, delta: np.timedelta64) -> Path:
    """A copy of a real EOF with every UTC time moved by ``delta`` (positions unchanged)."""
    text = src.read_text()

    def move(m: re.Match[str]) -> str:
        t = np.datetime64(m.group(2), "us") + delta
        return f"{m.group(1)}{np.datetime_as_string(t, unit='us')}"

    text = re.sub(r"(<UTC>UTC=)([0-9T:.\-]+)", move, text)
    dst = dst_dir / src.name
    dst.write_text(text)
    return dst


def test_orbit_files_win_over_the_annotation_when_they_cover(tmp_path: Path) -> None:
    """Plumbing check: an EOF whose (shifted) times cover the swath replaces its orbit."""
    g = _swath("zip-ascending")
    sv = read_eof(EOFS[0])
    mid_eof = sv.time[len(sv.time) // 2]
    shifted = _shift_eof(EOFS[0], tmp_path, g.first_line_time - mid_eof)
    got = s1.open_swath(ZIP, "IW2", "VV", orbit_files=[shifted])
    assert got.orbit.source == "RESORB"
    assert len(got.orbit.time) == 1186
    assert got.orbit.covers(got.first_line_time, _last_line(got))
    np.testing.assert_array_equal(got.orbit.position, sv.position)
    # everything but the orbit is the annotation's
    assert (got.lines, got.samples, got.heading) == (g.lines, g.samples, g.heading)
