"""Sentinel-1 orbit files (gep.io.orbit_files) on two real, overlapping RESORB files.

File 1 holds 12:31:39.035127 → 15:49:09.035127 UTC and file 2 14:10:23.657814 → 17:27:53.657814
UTC on 2023-08-23, 1186 vectors each at 10 s; their time grids are offset by 0.62 s, so a
merge must splice, never interleave.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gep.algorithms.sar.orbit import interpolate_orbit
from gep.core.errors import InvalidInput
from gep.core.sar import StateVectors
from gep.io.orbit_files import read_eof, read_orbit_file, select_orbit

ORBITS = Path(__file__).resolve().parents[1] / "data" / "s1" / "orbits"
EOF1 = ORBITS / "S1A_OPER_AUX_RESORB_OPOD_20230823T162050_V20230823T123139_20230823T154909.EOF"
EOF2 = ORBITS / "S1A_OPER_AUX_RESORB_OPOD_20230823T174849_V20230823T141024_20230823T172754.EOF"
EOFS = [EOF1, EOF2]
TEN_S = np.timedelta64(10, "s")


def t(s: str) -> np.datetime64:
    return np.datetime64(f"2023-08-23T{s}", "ns")


def test_read_eof() -> None:
    sv = read_eof(EOF1)
    assert sv.source == "RESORB"
    assert len(sv.time) == 1186
    assert sv.time.dtype == np.dtype("datetime64[ns]")
    assert np.all(np.diff(sv.time) == TEN_S)
    # the <UTC> times, not <TAI> (12:32:16.035127, 37 s later)
    assert sv.time[0] == t("12:31:39.035127") and sv.time[-1] == t("15:49:09.035127")
    # first OSV, read off the file
    np.testing.assert_array_equal(sv.position[0], [923782.276306, 7016372.549440, -39701.370546])
    np.testing.assert_array_equal(sv.velocity[0], [1574.321485, -174.076744, 7430.084806])
    radius = np.linalg.norm(sv.position, axis=1)
    assert np.all((radius > 7.0e6) & (radius < 7.1e6))
    of = read_orbit_file(EOF2)
    assert (of.mission, of.kind, len(of.vectors.time)) == ("S1A", "RESORB", 1186)
    assert of.created == t("17:48:49")
    assert of.vectors.time[0] == t("14:10:23.657814")


@pytest.mark.parametrize("start", [30, 400, 700, 1140])
def test_leave_one_out_interpolation_is_below_a_millimetre(start: int) -> None:
    """Drop every other vector (20 s spacing) and predict the dropped ones."""
    sv = read_eof(EOF1)
    window = slice(start, start + 41)
    time, pos, vel = sv.time[window], sv.position[window], sv.velocity[window]
    kept = StateVectors(time[::2], pos[::2], vel[::2], source=sv.source)
    p, v = interpolate_orbit(kept, time[1::2])
    assert np.linalg.norm(p - pos[1::2], axis=1).max() < 1e-3
    assert np.linalg.norm(v - vel[1::2], axis=1).max() < 1e-4


def test_the_two_solutions_agree_in_their_overlap() -> None:
    a, b = read_eof(EOF1), read_eof(EOF2)
    inside = (a.time > b.time[4]) & (a.time < b.time[-5])
    assert inside.sum() > 500
    p, _ = interpolate_orbit(b, a.time[inside])
    diff = np.linalg.norm(p - a.position[inside], axis=1)
    assert diff.max() < 0.05  # restituted orbits: a few centimetres apart


def test_one_covering_file_is_returned_whole() -> None:
    got = select_orbit(EOFS, t("13:00:00"), t("13:01:00"))  # only file 1 covers
    np.testing.assert_array_equal(got.time, read_eof(EOF1).time)
    got = select_orbit(EOFS, t("17:00:00"), t("17:01:00"), mission="S1A")  # only file 2
    np.testing.assert_array_equal(got.time, read_eof(EOF2).time)
    # both cover 14:30: file 1 leaves 78 min after, file 2 only 20 min before → file 1
    got = select_orbit(EOFS, t("14:30:00"), t("14:31:00"))
    assert got.time[0] == t("12:31:39.035127")
    # strings work as times too
    assert select_orbit(EOFS, "2023-08-23T13:00:00", "2023-08-23T13:01:00").source == "RESORB"


def test_a_window_needing_both_files_gets_a_spliced_monotonic_set() -> None:
    start, stop = t("13:00:00"), t("16:00:00")
    merged = select_orbit(EOFS, start, stop)
    a, b = read_eof(EOF1), read_eof(EOF2)
    assert merged.source == "RESORB"
    assert merged.covers(start, stop)
    assert merged.time[0] == a.time[0] and merged.time[-1] == b.time[-1]
    steps = np.diff(merged.time) / np.timedelta64(1, "s")
    assert np.all(steps > 0)  # monotonic, hence no duplicates
    assert len(np.unique(merged.time)) == len(merged.time)
    # 10 s everywhere but at the single cut, where the two grids meet
    odd = np.flatnonzero(np.abs(steps - 10.0) > 1e-6)
    assert len(odd) == 1 and 0 < steps[odd[0]] < 20
    assert len(merged.time) == 1778
    # each vector is one of its file's, unchanged: no averaging, no interleaving
    cut = merged.time[odd[0]]
    from_a = merged.time <= cut
    ia = np.searchsorted(a.time, merged.time[from_a])
    np.testing.assert_array_equal(merged.position[from_a], a.position[ia])
    ib = np.searchsorted(b.time, merged.time[~from_a])
    np.testing.assert_array_equal(merged.position[~from_a], b.position[ib])
    # and the spliced orbit interpolates smoothly across the cut
    around = cut + np.arange(-60, 61, 5) * np.timedelta64(1, "s")
    p, _ = interpolate_orbit(merged, around)
    pa, _ = interpolate_orbit(a, around)
    assert np.linalg.norm(p - pa, axis=1).max() < 0.05


def test_precise_wins_over_restituted(tmp_path: Path) -> None:
    text = EOF2.read_text()
    assert text.count("AUX_RESORB") == 2  # file name and file type in the header
    fake = tmp_path / EOF2.name.replace("RESORB", "POEORB")
    fake.write_text(text.replace("AUX_RESORB", "AUX_POEORB"))
    # at 14:30 the RESORB file 1 centres the window better, yet the precise file wins
    got = select_orbit([*EOFS, fake], t("14:30:00"), t("14:31:00"))
    assert got.source == "POEORB"
    assert got.time[0] == t("14:10:23.657814")
    # where the precise file does not reach, restituted files are used
    assert select_orbit([*EOFS, fake], t("13:00:00"), t("13:01:00")).source == "RESORB"


def test_nothing_covers() -> None:
    # the S1A zip product's date, 2022-10-16
    with pytest.raises(InvalidInput, match="no orbit file covers 2022-10-16") as e:
        select_orbit(EOFS, "2022-10-16T01:50:44", "2022-10-16T01:51:10", mission="S1A")
    assert EOF1.name in e.value.message and "12:31:39" in e.value.message
    assert e.value.field == "orbit_files"
    # the margin counts: 20 s before file 2's last vector is too close by default
    end = t("17:27:33.657814")
    with pytest.raises(InvalidInput, match="30 s to spare"):
        select_orbit(EOFS, end - np.timedelta64(60, "s"), end)
    assert select_orbit(EOFS, end - np.timedelta64(60, "s"), end, margin_s=10).covers(
        end - np.timedelta64(60, "s"), end, margin_s=10
    )


def test_bad_selection_inputs(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no orbit file for mission S1B"):
        select_orbit(EOFS, t("13:00:00"), t("13:01:00"), mission="S1B")
    with pytest.raises(InvalidInput, match="no orbit files given"):
        select_orbit([], t("13:00:00"), t("13:01:00"))
    with pytest.raises(InvalidInput, match="stop is before start"):
        select_orbit(EOFS, t("13:01:00"), t("13:00:00"))
    junk = tmp_path / "junk.EOF"
    junk.write_text("not xml")
    with pytest.raises(InvalidInput, match="cannot be read"):
        read_eof(junk)
    other = tmp_path / EOF1.name.replace("S1A_", "S1B_")
    other.write_text(EOF1.read_text().replace("Sentinel-1A", "Sentinel-1B"))
    assert read_orbit_file(other).mission == "S1B"
    with pytest.raises(InvalidInput, match="several missions"):
        select_orbit([EOF1, other], t("13:00:00"), t("13:01:00"))
    assert select_orbit([EOF1, other], t("13:00:00"), t("13:01:00"), mission="S1B").covers(
        t("13:00:00"), t("13:01:00")
    )
