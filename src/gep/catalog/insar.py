"""Interferometric baselines for catalogue items and Sentinel-1 products.

The geometry lives in :mod:`gep.algorithms.sar.baseline`; this module finds its inputs: the
orbit state vectors an item carries (``gep:state_vectors``, or the whole swath geometry of a
GEP SLC product), a target at the scene centre, and for SAFE products every burst of the
reference that the secondary also covers.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import orjson
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gep.algorithms.sar.baseline import Baseline, baseline_at, baseline_results, baselines_at
from gep.algorithms.sar.geometry import geo2rdr, llh_to_ecef, radar_times, rdr2geo
from gep.algorithms.sar.orbit import seconds_since
from gep.catalog.overlap import overlap_fraction, overlap_fractions
from gep.core.access import Viewer
from gep.core.errors import InvalidInput
from gep.core.sar import StateVectors, SwathGeometry, state_vectors_from_json
from gep.core.timeutil import TimeRange
from gep.io.sentinel1 import bursts, list_swaths, open_swath


def item_orbit(item: Mapping[str, Any]) -> StateVectors:
    """The orbit an item carries; a clear error naming what is missing when it has none."""
    props = item.get("properties") or {}
    geometry = props.get("gep:swath_geometry")
    rows = props.get("gep:state_vectors")
    if rows is None and isinstance(geometry, Mapping):
        rows = geometry.get("state_vectors")
    if not isinstance(rows, list) or len(rows) < 2:
        found = "one state vector" if isinstance(rows, list) and rows else "none"
        raise InvalidInput(
            f"item '{item.get('id')}' has no orbit to compute baselines from: it needs "
            "'gep:state_vectors' (at least 2 of {time, position, velocity}) or "
            f"'gep:swath_geometry.state_vectors'; found {found}",
            field="reference",
        )
    try:
        return state_vectors_from_json(rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"item '{item.get('id')}': unreadable state vectors ({exc})") from exc


def item_baseline(reference: Mapping[str, Any], secondary: Mapping[str, Any]) -> Baseline:
    """Baselines of a pair of items at the centre of the reference's footprint."""
    ref_orbit, sec_orbit = item_orbit(reference), item_orbit(secondary)
    if reference.get("geometry") is None:
        raise InvalidInput(f"item '{reference.get('id')}' has no footprint", field="reference")
    centre = shape(reference["geometry"]).centroid
    target = llh_to_ecef(centre.y, centre.x, 0.0)
    try:
        return baseline_at(target, ref_orbit, sec_orbit)
    except ValueError as exc:
        raise InvalidInput(
            f"the orbits of '{reference.get('id')}' and '{secondary.get('id')}' do not both "
            f"see the reference's centre: {exc}",
            field="secondary",
        ) from exc


@dataclass(frozen=True)
class BurstBaseline:
    swath: str
    burst: int  # 1-based index of the burst in the reference
    bperp: float
    bpar: float
    btemp: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _swath(
    product: str | os.PathLike[str], swath: str, pol: str, orbit_files: Sequence[str]
) -> SwathGeometry:
    if orbit_files:
        try:
            return open_swath(product, swath, pol, orbit_files)
        except InvalidInput as exc:
            print(f"note: {exc.message}; using the annotation orbit", file=sys.stderr)
    return open_swath(product, swath, pol)


def safe_pair_baselines(
    reference: str | os.PathLike[str],
    secondary: str | os.PathLike[str],
    *,
    orbit_files: Sequence[str] = (),
) -> list[BurstBaseline]:
    """Per swath, every burst of the reference the secondary also covers, at mid-range.

    Works from the annotation alone (measurement files may be absent). The target of each
    burst is its mid-burst, mid-range point on the ellipsoid; a burst counts as covered when
    its target's zero-Doppler time on the secondary orbit falls inside one of the
    secondary's bursts.
    """
    ref_swaths = dict(list_swaths(reference))
    sec_swaths = dict(list_swaths(secondary))
    shared = sorted(set(ref_swaths) & set(sec_swaths))
    if not shared:
        raise InvalidInput(
            f"the two products share no swath (reference: {sorted(ref_swaths)}, "
            f"secondary: {sorted(sec_swaths)})",
            field="secondary",
        )
    out: list[BurstBaseline] = []
    for swath in shared:
        pols_ref = {p for s, p in list_swaths(reference) if s == swath}
        pols_sec = {p for s, p in list_swaths(secondary) if s == swath}
        common = sorted(pols_ref & pols_sec, key=lambda p: (p != "VV", p))
        pol = common[0] if common else sorted(pols_ref)[0]
        ref_geom = _swath(reference, swath, pol, orbit_files)
        sec_geom = _swath(secondary, swath, sorted(pols_sec)[0] if not common else pol, orbit_files)
        if ref_geom.relative_orbit != sec_geom.relative_orbit:
            raise InvalidInput(
                f"the products are from relative orbits {ref_geom.relative_orbit} and "
                f"{sec_geom.relative_orbit}: baselines need one track",
                field="secondary",
            )
        sec_bursts = bursts(secondary, swath, sec_geom.polarisation)
        t_sec0 = sec_geom.orbit.time[0]
        spans = [
            (
                float(seconds_since(np.array([b.azimuth_time]), t_sec0)[0]),
                float(seconds_since(np.array([b.azimuth_time_last]), t_sec0)[0]),
            )
            for b in sec_bursts
        ]
        mid_range = ref_geom.slant_range(ref_geom.samples / 2)
        for k, burst in enumerate(bursts(reference, swath, ref_geom.polarisation)):
            t_mid = float(
                seconds_since(np.array([burst.azimuth_time]), ref_geom.orbit.time[0])[0]
                + (burst.lines - 1) / 2 * ref_geom.azimuth_time_interval
            )
            _, _, _, target = rdr2geo(
                np.array([t_mid]), np.array([float(mid_range)]), ref_geom.orbit, 0.0
            )
            guess = float(radar_times(sec_geom, sec_geom.lines / 2))
            try:
                t2, _ = geo2rdr(target, sec_geom.orbit, np.array([guess]))
            except ValueError:
                continue
            if not any(lo <= t2[0] <= hi for lo, hi in spans):
                continue
            b = baseline_at(target[0], ref_geom.orbit, sec_geom.orbit)
            out.append(BurstBaseline(swath, k + 1, b.bperp, b.bpar, b.btemp))
    return out


# -- pair search ------------------------------------------------------------------------------

#: candidates examined at most per pair search (pages of the catalogue search)
MAX_CANDIDATES = 20_000
SORT_KEYS = ("btemp", "bperp", "datetime", "overlap")
#: skipped candidates listed with their reason (all are counted)
SKIPPED_SHOWN = 20


def _family(props: Mapping[str, Any]) -> str:
    """``sentinel-1`` for ``sentinel-1a``/``-1b``/``-1c``: one constellation, one orbit tube."""
    constellation = props.get("constellation")
    if constellation:
        return str(constellation).lower()
    return str(props.get("platform", "")).lower().rstrip("abcd")


def _compatible(ref: Mapping[str, Any], cand: Mapping[str, Any]) -> str | None:
    """Why a candidate cannot pair with the reference, or None when it can."""
    for key in ("sat:orbit_state", "sar:instrument_mode"):
        if ref.get(key) != cand.get(key):
            return f"{key} differs"
    if _family(ref) != _family(cand):
        return "platform family differs"
    pols_ref, pols_cand = (
        set(ref.get("sar:polarizations") or []),
        set(cand.get("sar:polarizations") or []),
    )
    if pols_ref and pols_cand and not pols_ref & pols_cand:
        return "no common polarisation"
    burst_ref, burst_cand = ref.get("gep:burst") or {}, cand.get("gep:burst") or {}
    if burst_ref.get("id") and burst_ref.get("id") != burst_cand.get("id"):
        return "different burst"
    swath_ref = ref.get("gep:swath")
    if swath_ref and swath_ref != cand.get("gep:swath"):
        return "different swath"
    return None


def find_pairs(
    store: Any,
    reference: Mapping[str, Any],
    *,
    max_bperp: float | None = None,
    max_btemp: float | None = None,
    min_overlap: float = 0.5,
    sortby: str = "btemp",
    limit: int = 100,
    viewer: Viewer | None = None,
    datetime: TimeRange | None = None,
) -> dict[str, Any]:
    """Secondaries compatible with ``reference`` and their baselines, best first.

    Only items ``viewer`` may see are candidates (None: every item, for trusted callers);
    ``datetime`` bounds their acquisition time (a subscription's pairing rule asks only for the
    earlier acquisitions within its horizon).

    Compatible: same collection, relative orbit, pass, platform family, beam mode, swath or
    burst, a common polarisation, and a footprint overlap of at least ``min_overlap`` of the
    reference's. The catalogue query narrows by track and footprint; the rest is checked here,
    on every candidate, so that each one left out is counted with its reason.

    Most candidates of a dense catalogue are the neighbouring frames of the track, which the
    query finds because they touch the footprint: all overlaps are computed at once
    (:func:`~gep.catalog.overlap.overlap_fractions`, GEOS's figures without a GEOS call per
    candidate), the reference's geometry is solved once, and every candidate's baselines in
    one vectorised call (:func:`~gep.algorithms.sar.baseline.baseline_results`).
    """
    from gep.catalog.search import SearchRequest

    descending = sortby.startswith("-")
    key = sortby.lstrip("-+")
    if key not in SORT_KEYS:
        raise InvalidInput(
            f"sortby must be one of {', '.join(SORT_KEYS)} (- for descending)", field="sortby"
        )
    if not 0 <= min_overlap <= 1:
        raise InvalidInput("min_overlap is a fraction between 0 and 1", field="min_overlap")
    props = reference.get("properties") or {}
    orbit = props.get("sat:relative_orbit")
    if orbit is None or reference.get("geometry") is None:
        missing = [
            k
            for k, v in (("sat:relative_orbit", orbit), ("geometry", reference.get("geometry")))
            if v is None
        ]
        raise InvalidInput(
            f"item '{reference.get('id')}' cannot be paired: it has no {' and no '.join(missing)}",
            field="reference",
        )
    ref_orbit = item_orbit(reference)  # refuse a reference without orbit data before searching
    footprint = shape(reference["geometry"])
    req = SearchRequest(
        collections=[str(reference.get("collection"))],
        intersects=footprint,
        filter={"op": "=", "args": [{"property": "sat:relative_orbit"}, orbit]},
        limit=1000,
        viewer=viewer,
        datetime=datetime,
    )
    with _cyclic_gc_paused():  # the candidates are freed before it ends
        pairs, skipped, n_skipped = _assess(
            store, req, reference, footprint, ref_orbit, min_overlap, max_bperp, max_btemp
        )
    value = {
        "btemp": lambda p: abs(p["btemp"]),
        "bperp": lambda p: abs(p["bperp"]),
        "datetime": lambda p: p["datetime"] or "",
        "overlap": lambda p: p["overlap"],
    }[key]
    pairs.sort(key=value, reverse=descending)
    return {
        "reference": f"{reference.get('collection')}/{reference.get('id')}",
        "numberMatched": len(pairs),
        "pairs": pairs[:limit],
        "numberSkipped": n_skipped,
        "skipped": skipped,
    }


def _assess(
    store: Any,
    req: Any,
    reference: Mapping[str, Any],
    footprint: BaseGeometry,
    ref_orbit: StateVectors,
    min_overlap: float,
    max_bperp: float | None,
    max_btemp: float | None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]], int]:
    """The pairs (unsorted), the first skipped candidates with their reasons, and how many
    were skipped."""
    centre = footprint.centroid
    target = llh_to_ecef(centre.y, centre.x, 0.0)
    props = reference.get("properties") or {}
    found, reasons = _candidates(store, req, props, reference.get("id"))
    # NaN: certainly too little; the exact figure is computed only for a reason shown
    overlaps = np.zeros(len(found))
    ok = [k for k, r in enumerate(reasons) if r is None]
    overlaps[ok] = overlap_fractions(footprint, [found[k][2]["geometry"] for k in ok], min_overlap)
    low = {k for k in ok if not overlaps[k] >= min_overlap}  # too little overlap
    # the orbits of those that pass every other check are solved together
    orbits: list[StateVectors] = []
    solved: list[int] = []  # index in ``found`` of each orbit
    for k in ok:
        if k in low:
            continue
        try:
            orbits.append(item_orbit(found[k][2]))
            solved.append(k)
        except InvalidInput as exc:
            reasons[k] = exc.message
    try:
        results = baseline_results(target, ref_orbit, orbits)
    except ValueError as exc:  # the reference's own orbit does not see its centre
        results = [exc] * len(orbits)
    baselines: dict[int, Baseline | ValueError] = dict(zip(solved, results, strict=True))
    pairs: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    n_skipped = 0
    for k, (collection, item_id, cand) in enumerate(found):
        reason = reasons[k]
        b = baselines.get(k)
        if isinstance(b, ValueError):
            reason = (
                f"the orbits of '{reference.get('id')}' and '{cand.get('id')}' do not both "
                f"see the reference's centre: {b}"
            )
        if k in low or reason is not None or not isinstance(b, Baseline):
            n_skipped += 1
            if len(skipped) < SKIPPED_SHOWN:
                if k in low:
                    overlap = float(overlaps[k])
                    if overlap != overlap:
                        overlap = overlap_fraction(footprint, cand["geometry"])
                    reason = f"footprint overlap {overlap:.2f} < {min_overlap}"
                skipped.append({"id": item_id, "reason": str(reason)})
            continue
        if max_bperp is not None and abs(b.bperp) > max_bperp:
            continue
        if max_btemp is not None and abs(b.btemp) > max_btemp:
            continue
        pairs.append(
            {
                "id": item_id,
                "collection": collection,
                "datetime": (cand.get("properties") or {}).get("datetime"),
                "bperp": round(b.bperp, 3),
                "bpar": round(b.bpar, 3),
                "btemp": round(b.btemp, 4),
                "overlap": round(float(overlaps[k]), 4),
                "dinsar_inputs": _dinsar_inputs(reference, cand, b.btemp),
            }
        )
    return pairs, skipped, n_skipped


def _candidates(
    store: Any, req: Any, props: Mapping[str, Any], reference_id: Any
) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str | None]]:
    """Every candidate of the search but the reference, in catalogue order, and why each one
    cannot pair on its properties alone (None: it can, so far)."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    reasons: list[str | None] = []
    seen = 0
    while seen < MAX_CANDIDATES:
        page = store.search(req)
        for collection, item_id, raw in page.items:
            seen += 1
            if item_id == reference_id:
                continue
            cand = orjson.loads(raw)
            found.append((collection, item_id, cand))
            reasons.append(_compatible(props, cand.get("properties") or {}))
        if not page.next_token:
            break
        req.token = page.next_token
    return found, reasons


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a pair search holds its candidates.

    Parsed items are trees of dicts and lists without cycles: reference counting frees them.
    A search of 700 candidates makes some 30 000 of these containers, live until it ends;
    collections in the middle only walk them and promote them, and every few searches the
    promoted ones set off a collection of the oldest generation, which walks every object of
    the process (100-250 ms on the 2-core machine, against a 50 ms budget). Collection resumes
    when the search ends, by which time its candidates are gone. Another thread may collect a
    little later than it would have; nothing is lost.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _dinsar_inputs(
    reference: Mapping[str, Any], cand: Mapping[str, Any], btemp: float
) -> dict[str, str]:
    """The pair as ``dinsar`` inputs: the earlier acquisition is the reference."""
    a = f"{reference.get('collection')}/{reference.get('id')}"
    b = f"{cand.get('collection')}/{cand.get('id')}"
    return {"reference": a, "secondary": b} if btemp >= 0 else {"reference": b, "secondary": a}


# -- stacks and small-baseline networks ----------------------------------------------------------


def track_key(props: Mapping[str, Any]) -> tuple[Any, ...]:
    burst = (props.get("gep:burst") or {}).get("id")
    return (
        _family(props),
        props.get("sat:relative_orbit"),
        props.get("sat:orbit_state"),
        props.get("sar:instrument_mode"),
        burst or props.get("gep:swath"),
    )


def stack_search(
    store: Any,
    *,
    aoi: Any,
    datetime: Any = None,
    collections: Sequence[str] | None = None,
    relative_orbit: int | None = None,
    reference: str | None = None,
    min_coverage: float = 0.5,
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """A stack over ``aoi``: one acquisition a day on the best-covering track, with baselines.

    Only items ``viewer`` may see are stacked (None: every item, for trusted callers).

    The track (platform family, relative orbit, pass, beam mode, and swath or burst) is
    ``relative_orbit``'s, or the one with the most dates covering ``min_coverage`` of the area.
    Baselines are relative to ``reference`` (an item id of the stack; by default the
    acquisition nearest the stack's middle date, which keeps temporal baselines short) at the
    area's centroid.
    """
    from gep.catalog.search import SearchRequest

    if aoi.is_empty or aoi.area <= 0:
        raise InvalidInput("the area of a stack must be a polygon with an area", field="aoi")
    if not 0 < min_coverage <= 1:
        raise InvalidInput("min_coverage is a fraction in (0, 1]", field="min_coverage")
    req = SearchRequest(
        collections=list(collections) if collections else None,
        intersects=aoi,
        datetime=datetime,
        limit=1000,
        viewer=viewer,
    )
    if relative_orbit is not None:
        req.filter = {"op": "=", "args": [{"property": "sat:relative_orbit"}, relative_orbit]}
    tracks: dict[tuple[Any, ...], dict[str, tuple[float, dict[str, Any]]]] = {}
    seen = 0
    while seen < MAX_CANDIDATES:
        page = store.search(req)
        for _, _, raw in page.items:
            seen += 1
            item = json.loads(raw)
            props = item.get("properties") or {}
            if props.get("sat:relative_orbit") is None or item.get("geometry") is None:
                continue
            cover = aoi.intersection(shape(item["geometry"])).area / aoi.area
            if cover < min_coverage:
                continue
            day = str(props.get("datetime", ""))[:10]
            by_day = tracks.setdefault(track_key(props), {})
            if day not in by_day or cover > by_day[day][0]:
                by_day[day] = (cover, item)
        if not page.next_token:
            break
        req.token = page.next_token
    if not tracks:
        w, s, e, n = aoi.bounds
        raise InvalidInput(
            f"no track covers {min_coverage:.0%} of the area [{w:.3f}, {s:.3f}, {e:.3f}, {n:.3f}]"
            + (" in that time" if datetime is not None else "")
            + (f" on relative orbit {relative_orbit}" if relative_orbit is not None else ""),
            field="aoi",
        )
    key, by_day = max(
        tracks.items(), key=lambda kv: (len(kv[1]), sum(c for c, _ in kv[1].values()))
    )
    items = [item for _, (_, item) in sorted(by_day.items())]
    orbits: dict[str, StateVectors] = {}
    skipped: list[dict[str, str]] = []
    for item in items:  # each orbit parsed once, for the check and the baselines
        try:
            orbits[item["id"]] = item_orbit(item)
        except InvalidInput:
            skipped.append({"id": item["id"], "reason": "no orbit state vectors"})
    with_orbit = [i for i in items if i["id"] in orbits]
    if not with_orbit:
        raise InvalidInput("no acquisition of the stack carries orbit data", field="aoi")
    if reference is None:
        ref_item = with_orbit[len(with_orbit) // 2]
    else:
        found = [i for i in with_orbit if i["id"] == reference]
        if not found:
            raise InvalidInput(
                f"reference '{reference}' is not an acquisition of the stack", field="reference"
            )
        ref_item = found[0]
    centre = aoi.centroid
    target = llh_to_ecef(centre.y, centre.x, 0.0)
    baselines = baselines_at(
        target, orbits[ref_item["id"]], [orbits[i["id"]] for i in with_orbit], skip_errors=True
    )
    acquisitions = []
    for item, b in zip(with_orbit, baselines, strict=True):
        if b is None:
            skipped.append({"id": item["id"], "reason": "its orbit does not see the area's centre"})
            continue
        acquisitions.append(
            {
                "id": item["id"],
                "collection": item.get("collection"),
                "datetime": item["properties"].get("datetime"),
                "bperp": round(b.bperp, 3),
                "bpar": round(b.bpar, 3),
                "btemp": round(b.btemp, 4),
            }
        )
    return {
        "track": {
            "platform_family": key[0],
            "relative_orbit": key[1],
            "orbit_state": key[2],
            "instrument_mode": key[3],
            "swath_or_burst": key[4],
        },
        "reference": ref_item["id"],
        "acquisitions": acquisitions,
        "skipped": skipped,
    }


def small_baseline_network(
    acquisitions: Sequence[Mapping[str, Any]],
    *,
    max_btemp: float,
    max_bperp: float,
    min_connections: int = 2,
) -> dict[str, Any]:
    """Every pair within ``max_btemp`` days and ``max_bperp`` m, and whether they connect.

    An SBAS inversion needs one connected network: acquisitions in separate components have
    no common reference, and an isolated one cannot be inverted at all. Both are reported, as
    are the acquisitions with fewer than ``min_connections`` pairs.
    """
    if max_btemp <= 0 or max_bperp <= 0 or min_connections < 1:
        raise InvalidInput(
            "max_btemp and max_bperp must be > 0 and min_connections >= 1", field="network"
        )
    acqs = sorted(acquisitions, key=lambda a: float(a["btemp"]))
    n = len(acqs)
    if n < 2:
        raise InvalidInput("a network needs at least two acquisitions", field="network")
    t = np.array([float(a["btemp"]) for a in acqs])
    b = np.array([float(a["bperp"]) for a in acqs])
    dt = np.abs(t[:, None] - t[None, :])
    db = np.abs(b[:, None] - b[None, :])
    ok = np.triu((dt <= max_btemp) & (db <= max_bperp), 1)
    ii, jj = np.nonzero(ok)
    if ii.size == 0:
        raise InvalidInput(
            f"the network is empty: no two acquisitions lie within {max_btemp} days and "
            f"{max_bperp} m of each other; raise the limits",
            field="network",
        )
    parent = list(range(n))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
        parent[find(i)] = find(j)
    degree = np.bincount(np.r_[ii, jj], minlength=n)
    groups: dict[int, list[str]] = {}
    for k in range(n):
        groups.setdefault(find(k), []).append(str(acqs[k]["id"]))
    components = sorted(groups.values(), key=len, reverse=True)
    pairs = [
        {
            "reference": _ref(acqs[i]),
            "secondary": _ref(acqs[j]),
            "btemp": round(float(t[j] - t[i]), 4),
            "bperp": round(float(b[j] - b[i]), 3),
        }
        for i, j in zip(ii.tolist(), jj.tolist(), strict=True)
    ]
    return {
        "acquisitions": n,
        "pairs": pairs,
        "connected": len(components) == 1,
        "components": components,
        "isolated": [str(acqs[k]["id"]) for k in range(n) if degree[k] == 0],
        "under_connected": [
            str(acqs[k]["id"]) for k in range(n) if 0 < degree[k] < min_connections
        ],
    }


def _ref(acq: Mapping[str, Any]) -> str:
    collection = acq.get("collection")
    return f"{collection}/{acq['id']}" if collection else str(acq["id"])
