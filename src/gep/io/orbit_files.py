"""Read Sentinel-1 orbit files (ESA Earth Explorer ``.EOF``) and pick the right ones.

Why this module exists: the orbit in an SLC annotation is the one the ground segment had at
processing time (often predicted or near-real-time); the restituted (RESORB, ~10 cm, hours
later) and precise (POEORB, ~5 cm, ~3 weeks later) orbit files are better and the DInSAR
chain must use them when it has them. xarray-sentinel reads only the annotation orbit, so
the EOF files are parsed here with ElementTree.

Rules, in order:

* times are the ``<UTC>`` of each OSV (never TAI/UT1): the annotation and the SLC timing
  are UTC, and mixing scales shifts the orbit by 37 s;
* coverage is judged on the state vectors themselves, not on the header's validity window,
  with a margin (interpolation wants neighbours on both sides of every time);
* precise beats restituted; a single covering file beats a merge; among single covering
  files the one that centres the window best wins (its edges are the least accurate part);
* when no single file covers, overlapping files of one kind are chained and spliced at the
  middle of each overlap, so the result is monotonic, free of duplicates and never
  interleaves two orbit solutions vector by vector.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from xml.etree import ElementTree

import numpy as np

from gep.core.errors import InvalidInput
from gep.core.sar import StateVectors

#: kinds in order of preference (most accurate first)
ORBIT_KINDS = ("POEORB", "RESORB")
#: default margin (s) a selection must leave on each side of the asked window
DEFAULT_MARGIN_S = 30.0

_NAME_RE = re.compile(
    r"^(?P<mission>S1[A-D_])_OPER_AUX_(?P<kind>POEORB|RESORB|PREORB)_OPOD_"
    r"(?P<created>\d{8}T\d{6})_V(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class OrbitFile:
    """One parsed EOF file: its vectors and what the header says about them."""

    path: Path
    mission: str  # "S1A", ...
    kind: str  # "POEORB" | "RESORB" | "PREORB"
    created: np.datetime64
    vectors: StateVectors


def _utc(text: str | None, what: str, path: Path) -> np.datetime64:
    if not text:
        raise InvalidInput(f"orbit file {path.name}: {what} is missing", field="orbit_files")
    value = text.strip()
    if "=" in value:  # "UTC=2023-08-23T12:31:39.035127"
        value = value.split("=", 1)[1]
    try:
        return np.datetime64(value, "ns")
    except ValueError as exc:
        raise InvalidInput(
            f"orbit file {path.name}: {what} {text!r} is not a time", field="orbit_files"
        ) from exc


def _mission_from_header(text: str | None) -> str:
    """``Sentinel-1A`` → ``S1A``; the file name is the fallback."""
    if not text:
        return ""
    m = re.search(r"sentinel-?1\s*([a-d])", text, re.IGNORECASE)
    return f"S1{m.group(1).upper()}" if m else ""


def read_orbit_file(path: str | os.PathLike[str]) -> OrbitFile:
    """Parse one EOF file with its header (mission, kind, creation date) and vectors."""
    p = Path(path)
    try:
        root = ElementTree.parse(p).getroot()
    except (OSError, ElementTree.ParseError) as exc:
        raise InvalidInput(
            f"orbit file {p.name} cannot be read as an EOF XML file: {exc}",
            field="orbit_files",
        ) from exc
    header = root.find(".//Fixed_Header")
    name_match = _NAME_RE.match(p.name)
    file_type = (header.findtext("File_Type") if header is not None else None) or ""
    kind = file_type.replace("AUX_", "").strip().upper()
    if kind not in {"POEORB", "RESORB", "PREORB"}:
        kind = name_match.group("kind").upper() if name_match else ""
    if not kind:
        raise InvalidInput(
            f"orbit file {p.name} is not a Sentinel-1 POEORB/RESORB file", field="orbit_files"
        )
    mission = _mission_from_header(header.findtext("Mission") if header is not None else None)
    if not mission and name_match:
        mission = name_match.group("mission").upper()
    creation = header.findtext("Source/Creation_Date") if header is not None else None
    created = (
        _utc(creation, "Creation_Date", p)
        if creation
        else (
            np.datetime64(_compact(name_match.group("created")), "ns")
            if name_match
            else np.datetime64("NaT", "ns")
        )
    )
    ref_frame = root.findtext(".//Variable_Header/Ref_Frame")
    if ref_frame is not None and ref_frame.strip() != "EARTH_FIXED":
        raise InvalidInput(
            f"orbit file {p.name}: reference frame {ref_frame!r}, expected EARTH_FIXED",
            field="orbit_files",
        )

    osvs = root.findall(".//List_of_OSVs/OSV")
    if not osvs:
        raise InvalidInput(f"orbit file {p.name} holds no state vectors", field="orbit_files")
    times = np.empty(len(osvs), dtype="datetime64[ns]")
    pv = np.empty((len(osvs), 6), dtype=np.float64)
    for i, osv in enumerate(osvs):
        times[i] = _utc(osv.findtext("UTC"), f"OSV {i} UTC", p)
        for j, tag in enumerate(("X", "Y", "Z", "VX", "VY", "VZ")):
            text = osv.findtext(tag)
            if text is None:
                raise InvalidInput(f"orbit file {p.name}: OSV {i} lacks {tag}", field="orbit_files")
            pv[i, j] = float(text)
    order = np.argsort(times, kind="stable")
    times, pv = times[order], pv[order]
    keep = np.concatenate(([True], np.diff(times) > np.timedelta64(0, "ns")))
    try:
        vectors = StateVectors(
            time=times[keep],
            position=np.ascontiguousarray(pv[keep, :3]),
            velocity=np.ascontiguousarray(pv[keep, 3:]),
            source=kind,
        )
    except ValueError as exc:
        raise InvalidInput(f"orbit file {p.name}: {exc}", field="orbit_files") from exc
    return OrbitFile(path=p, mission=mission, kind=kind, created=created, vectors=vectors)


def _compact(stamp: str) -> str:
    """``20230823T162050`` → ``2023-08-23T16:20:50``."""
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}"


def read_eof(path: str | os.PathLike[str]) -> StateVectors:
    """State vectors of one EOF file (UTC, ECEF), ``source`` ``"POEORB"`` or ``"RESORB"``."""
    return read_orbit_file(path).vectors


def _as_ns(t: np.datetime64 | str) -> np.datetime64:
    return cast(np.datetime64, np.asarray(t, dtype="datetime64[ns]")[()])


def _margin_left(sv: StateVectors, start: np.datetime64, stop: np.datetime64) -> float:
    """Smallest spare time (s) on either side of the window; negative when uncovered."""
    before = (start - sv.time[0]) / np.timedelta64(1, "s")
    after = (sv.time[-1] - stop) / np.timedelta64(1, "s")
    return float(min(before, after))


def splice(first: StateVectors, second: StateVectors) -> StateVectors:
    """Join two overlapping (or touching) vector sets at the middle of their overlap.

    Each solution is kept whole on its side of the cut so that a Lagrange window never mixes
    vectors from two orbit determinations except across the one cut, where they agree to
    centimetres.
    """
    if second.time[0] < first.time[0]:
        first, second = second, first
    if second.time[0] > first.time[-1] + np.timedelta64(30, "s"):
        raise ValueError("orbit files leave a gap between them")
    overlap_start, overlap_stop = second.time[0], min(first.time[-1], second.time[-1])
    cut = overlap_start + (overlap_stop - overlap_start) // 2
    a = first.time <= cut
    b = second.time > cut
    time = np.concatenate((first.time[a], second.time[b]))
    position = np.concatenate((first.position[a], second.position[b]))
    velocity = np.concatenate((first.velocity[a], second.velocity[b]))
    # a vector of the second set a hair after the cut may duplicate one of the first set
    keep = np.concatenate(([True], np.diff(time) > np.timedelta64(500, "ms")))
    source = first.source if first.source == second.source else f"{first.source}+{second.source}"
    return StateVectors(time[keep], position[keep], velocity[keep], source=source)


def _chain(
    files: Sequence[OrbitFile], start: np.datetime64, stop: np.datetime64
) -> list[OrbitFile] | None:
    """Fewest overlapping files whose union covers [start, stop] (greedy interval cover)."""
    chosen: list[OrbitFile] = []
    reach = start
    remaining = sorted(files, key=lambda f: f.vectors.time[0])
    gap = np.timedelta64(30, "s")
    while reach < stop:
        candidates = [
            f
            for f in remaining
            if f.vectors.time[0] <= (reach if not chosen else reach + gap)
            and f.vectors.time[-1] > reach
        ]
        if not candidates:
            return None
        best = max(candidates, key=lambda f: f.vectors.time[-1])
        chosen.append(best)
        remaining.remove(best)
        reach = best.vectors.time[-1]
    return chosen


def select_orbit(
    files: Iterable[str | os.PathLike[str]],
    start: np.datetime64 | str,
    stop: np.datetime64 | str,
    mission: str | None = None,
    *,
    margin_s: float = DEFAULT_MARGIN_S,
) -> StateVectors:
    """The best state vectors in ``files`` for [start, stop] (UTC), with ``margin_s`` spare.

    Precise over restituted; one file when one covers, else a splice of overlapping files of
    the same kind. Files of another mission are ignored; ``mission=None`` is only allowed
    when all files are of one mission, because a wrong satellite's orbit looks perfectly
    valid and ruins the geometry silently. Raises :class:`InvalidInput` naming the files'
    windows when nothing covers.
    """
    t0, t1 = _as_ns(start), _as_ns(stop)
    if t1 < t0:
        raise InvalidInput("orbit selection: stop is before start", field="orbit_files")
    parsed = [read_orbit_file(f) for f in files]
    if not parsed:
        raise InvalidInput("orbit selection: no orbit files given", field="orbit_files")
    missions = {f.mission for f in parsed}
    if mission is None:
        if len(missions) > 1:
            raise InvalidInput(
                f"orbit files of several missions ({', '.join(sorted(missions))}); "
                "say which mission the orbit is for",
                field="orbit_files",
            )
    else:
        wanted = mission.upper()
        parsed = [f for f in parsed if f.mission == wanted]
        if not parsed:
            raise InvalidInput(
                f"no orbit file for mission {wanted} (files are for {', '.join(sorted(missions))})",
                field="orbit_files",
            )
    margin = np.timedelta64(int(margin_s * 1e9), "ns")
    lo, hi = t0 - margin, t1 + margin
    for kind in ORBIT_KINDS:
        of_kind = [f for f in parsed if f.kind == kind]
        single = [f for f in of_kind if f.vectors.covers(t0, t1, margin_s)]
        if single:
            best = max(single, key=lambda f: (_margin_left(f.vectors, t0, t1), f.created))
            return best.vectors
        chain = _chain(of_kind, lo, hi)
        if chain:
            merged = chain[0].vectors
            for f in chain[1:]:
                merged = splice(merged, f.vectors)
            if merged.covers(t0, t1, margin_s):
                return merged
    windows = "; ".join(
        f"{f.path.name}: {f.vectors.time[0]}..{f.vectors.time[-1]}"
        for f in sorted(parsed, key=lambda f: f.vectors.time[0])
    )
    raise InvalidInput(
        f"no orbit file covers {t0}..{t1} UTC with {margin_s:g} s to spare (given: {windows})",
        field="orbit_files",
    )
