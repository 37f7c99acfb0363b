"""Interferometric stack and network timing (issue #5).

    .venv/bin/python bench/insar.py [--acquisitions 300] [--repeats 5]

A 300-acquisition Sentinel-1 stack, every 6 days, on the real orbit of the Rome annotation
(track 117): each acquisition's two state vectors (as catalogue records carry them) come from
that orbit displaced by a random perpendicular (σ 80 m) and parallel (σ 30 m) baseline. The
items are ingested into an embedded SQLite catalogue, then timed, best of ``repeats``:

* ``stack``: ``stack_search`` over an area (the catalogue query, one acquisition a day, every
  baseline relative to the middle acquisition at the area's centroid);
* ``network``: ``small_baseline_network`` on it (Btemp ≤ 48 days, |Bperp| ≤ 150 m);
* ``baselines only``: the 300 baseline computations alone.

Target: stack + network ≤ 1 s.

Then the pair search (``find_pairs``, what ``GET /insar/pairs`` calls) on a generated
1 000 000-item catalogue of Sentinel-1 SLCs with orbit state vectors (``--catalogue-items``;
built once under ``--workdir`` and reused), for 100 IW references drawn at random: p50, p95
and max of the wall time (target: p95 ≤ 50 ms) and of the CPU time (what a search costs the
process, less sensitive to other processes on the machine), the latter split between the
catalogue's own search (``store.search``: the SQL and the items' JSON) and the rest
(candidates checked, overlaps, orbits, baselines). ``--http`` also times
``GET /insar/pairs`` through ``gep serve``. The load average is printed at the start and the
end: other processes on a 2-core machine move every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from shapely.geometry import box, mapping

from gep.algorithms.sar.baseline import baselines_at
from gep.algorithms.sar.geometry import llh_to_ecef, radar_times, rdr2geo
from gep.algorithms.sar.orbit import interpolate_orbit_s, seconds_since
from gep.algorithms.simulate.scene import baseline_orbit
from gep.catalog.backends import open_store
from gep.catalog.insar import find_pairs, item_orbit, small_baseline_network, stack_search
from gep.core.sar import StateVectors, state_vectors_to_json
from gep.io.orbit_files import read_eof, splice
from gep.io.sentinel1 import open_swath

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import s1_items  # noqa: E402

SAFE = (
    ROOT
    / "tests/data/s1"
    / "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
)


def make_items(n: int, seed: int = 0) -> tuple[list[dict[str, Any]], Any]:
    geom = open_swath(SAFE, "IW1", "VV")
    rng = np.random.default_rng(seed)
    t = float(radar_times(geom, 6000))
    lat, lon, _, x = rdr2geo(
        np.array([t]), np.array([float(geom.slant_range(10000))]), geom.orbit, 0.0
    )
    area = box(
        float(lon[0]) - 0.05, float(lat[0]) - 0.05, float(lon[0]) + 0.05, float(lat[0]) + 0.05
    )
    footprint = mapping(area.buffer(0.3))
    i = int(np.searchsorted((geom.orbit.time - geom.orbit.time[0]) / np.timedelta64(1, "s"), t))
    items = []
    for k in range(n):
        sec = baseline_orbit(geom.orbit, x[0], t, rng.normal(0, 80), rng.normal(0, 30), 6.0 * k)
        sv = type(sec)(
            sec.time[i - 1 : i + 1], sec.position[i - 1 : i + 1], sec.velocity[i - 1 : i + 1]
        )
        when = np.datetime_as_string(sec.time[i - 1], unit="s") + "Z"
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.1.0",
                "id": f"S1A_SIM_{k:04d}",
                "collection": "bench-insar",
                "geometry": footprint,
                "bbox": list(area.buffer(0.3).bounds),
                "properties": {
                    "datetime": when,
                    "constellation": "sentinel-1",
                    "platform": "sentinel-1a",
                    "sat:relative_orbit": 117,
                    "sat:orbit_state": "ascending",
                    "sar:instrument_mode": "IW",
                    "sar:polarizations": ["VV"],
                    "gep:state_vectors": state_vectors_to_json(sv),
                },
                "links": [],
                "assets": {},
            }
        )
    return items, area


def best(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run(n: int = 300, repeats: int = 5) -> dict[str, Any]:
    items, area = make_items(n)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/bench.db")
        store.upgrade()
        store.write_items(items, mode="upsert", create_collections=True)
        t_stack, stack = best(lambda: stack_search(store, aoi=area), repeats)
        acqs = stack["acquisitions"]
        t_net, net = best(
            lambda: small_baseline_network(acqs, max_btemp=48, max_bperp=150, min_connections=2),
            repeats,
        )
        store.close()
    centre = llh_to_ecef(area.centroid.y, area.centroid.x, 0.0)
    ref = item_orbit(items[n // 2])
    orbits = [item_orbit(i) for i in items]
    t_base, _ = best(lambda: baselines_at(centre, ref, orbits), repeats)
    return {
        "acquisitions": len(acqs),
        "stack_s": t_stack,
        "network_s": t_net,
        "stack_plus_network_s": t_stack + t_net,
        "baselines_only_s": t_base,
        "pairs": len(net["pairs"]),
        "connected": net["connected"],
    }


# -- pair search on a large catalogue ------------------------------------------------------------

#: a real Sentinel-1A restituted orbit (two overlapping files of 2023-08-23, ~5 h)
ORBIT_FILES = sorted((ROOT / "tests/data/s1/orbits").glob("*.EOF"))
#: slant range of a frame's centre (the middle of an IW frame: IW2, ~37° incidence)
CENTRE_RANGE_M = 875_000.0
#: along-track step of the frames of a track, in seconds of orbit (~165 km on the ground,
#: a little less than a frame is long: consecutive frames overlap slightly, as ESA's slices do)
FRAME_STEP_S = 24.0
#: how much a frame's position varies from one acquisition to the next (s, uniform ±)
FRAME_JITTER_S = 1.0
#: the orbital tube: each acquisition's orbit is displaced by this much (σ, m)
TUBE_PERP_M, TUBE_PAR_M = 80.0, 30.0
#: bump when the generated items change, so that a cached catalogue is rebuilt
CATALOGUE_VERSION = 1
PAIRS_COLLECTION = s1_items.COLLECTION_ID


@dataclass(frozen=True)
class Revolution:
    """One revolution of a real orbit, from a quarter before its ascending node to three after."""

    orbit: StateVectors
    anx_s: float  # ascending node, seconds after the orbit's first vector
    node_lon: float  # its longitude, degrees


def real_revolution() -> Revolution:
    orbit = splice(read_eof(ORBIT_FILES[0]), read_eof(ORBIT_FILES[1]))
    tv = seconds_since(orbit.time, orbit.time[0])
    period = s1_items._PERIOD_S
    z = orbit.position[:, 2]
    ups = np.nonzero((z[:-1] < 0) & (z[1:] >= 0))[0]
    fits = [
        k for k in ups if tv[k] - period / 4 - 60 > tv[0] and tv[k] + 3 * period / 4 + 60 < tv[-1]
    ]
    t = np.array([float(tv[fits[0]])])
    for _ in range(6):  # Newton on z(t) = 0
        p, v = interpolate_orbit_s(orbit, t)
        t = t - p[:, 2] / v[:, 2]
    p, _ = interpolate_orbit_s(orbit, t)
    return Revolution(orbit, float(t[0]), float(np.degrees(np.arctan2(p[0, 1], p[0, 0]))))


def model_node_lon(rel: NDArray[np.int64]) -> NDArray[np.float64]:
    """Longitude of the ascending node of relative orbits in ``s1_items``' orbit model."""
    k = np.mod((rel - 1) * 12, s1_items._N_REL)  # slot of the track: 12 = 73^-1 (mod 175)
    return np.asarray(s1_items._L1 - k * (360.0 / s1_items._N_REL))


def _rotate_z(xyz: NDArray[np.float64], angle_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    a = np.radians(angle_deg)
    c, s = np.cos(a), np.sin(a)
    out = np.empty_like(xyz)
    out[:, 0] = c * xyz[:, 0] - s * xyz[:, 1]
    out[:, 1] = s * xyz[:, 0] + c * xyz[:, 1]
    out[:, 2] = xyz[:, 2]
    return out


def _iso_us(epoch_s: NDArray[np.float64]) -> list[str]:
    us = np.rint(epoch_s * 1e6).astype(np.int64).astype("datetime64[us]")
    return [s + "Z" for s in np.datetime_as_string(us, unit="us").tolist()]


def _pairs_chunk(
    arr: dict[str, Any],
    m: int,
    rev: Revolution,
    rng: np.random.Generator,
    taken: set[tuple[int, int, int]],
) -> list[list[dict[str, Any]]]:
    """Move the first ``m`` frames of a ``s1_items`` chunk onto frame slots where the real
    orbit looks (in place), and return each one's two state vectors."""
    period = s1_items._PERIOD_S
    km = s1_items._KM_PER_DEG
    tau = arr["t_mid"][:m] - arr["t_anx"][:m]  # seconds after the ascending node
    lo, hi = int(np.ceil(-period / 4 / FRAME_STEP_S)), int(np.floor(0.75 * period / FRAME_STEP_S))
    slots = np.clip(np.rint(tau / FRAME_STEP_S).astype(np.int64), lo, hi)
    plat, absolute = arr["plat"][:m].tolist(), arr["abs"][:m].tolist()
    for i, slot in enumerate(slots.tolist()):
        # one pass acquires a frame once: a second draw of it becomes the next free frame
        for step in (0, 1, -1, 2, -2, 3, -3, 4, -4):
            key = (plat[i], absolute[i], slot + step)
            if lo <= slot + step <= hi and key not in taken:
                break
        taken.add(key)
        slots[i] = key[2]
    tau_new = slots * FRAME_STEP_S + rng.uniform(-FRAME_JITTER_S, FRAME_JITTER_S, m)
    shift = tau_new - tau
    for k in ("t_mid", "t_start", "t_end"):
        arr[k][:m] += shift
    # the frame centre: where the real orbit, turned about the polar axis onto the track of
    # the frame's relative orbit, looks at mid-range
    turn = model_node_lon(arr["rel"][:m]) - rev.node_lon
    t_orbit = rev.anx_s + tau_new
    lat, lon, _, target = rdr2geo(t_orbit, np.full(m, CENTRE_RANGE_M), rev.orbit, 0.0)
    lon = np.mod(lon + turn + 180.0, 360.0) - 180.0
    # the footprint keeps its shape (along/across-track offsets of its corners)
    clat, clon = arr["clat"][:m], arr["clon"][:m]
    north = (clat - arr["lat"][:m, None]) * km
    east = (clon - arr["lon"][:m, None]) * km * np.cos(np.radians(clat))
    clat = lat[:, None] + north / km
    over = np.maximum(clat.max(axis=1) - s1_items._LAT_LIMIT, 0.0) + np.minimum(
        clat.min(axis=1) + s1_items._LAT_LIMIT, 0.0
    )
    clat = clat - over[:, None]
    arr["lat"][:m], arr["lon"][:m] = lat - over, lon
    arr["clat"][:m] = clat
    arr["clon"][:m] = lon[:, None] + east / (km * np.cos(np.radians(clat)))
    # two state vectors 10 s apart around the frame centre, the orbit displaced by a random
    # baseline (perpendicular and parallel to the line of sight) as the stack bench does
    before = rng.uniform(0.0, 10.0, m)
    p0, v0 = interpolate_orbit_s(rev.orbit, t_orbit)
    look = target - p0
    look /= np.linalg.norm(look, axis=1)[:, None]
    perp = np.cross(look, v0)
    perp /= np.linalg.norm(perp, axis=1)[:, None]
    perp *= np.sign(np.einsum("ij,ij->i", perp, p0))[:, None]  # away from the Earth
    disp = (
        rng.normal(0.0, TUBE_PERP_M, m)[:, None] * perp
        + rng.normal(0.0, TUBE_PAR_M, m)[:, None] * look
    )
    vectors = []
    for offset in (-before, 10.0 - before):
        p, v = interpolate_orbit_s(rev.orbit, t_orbit + offset)
        pos = np.round(_rotate_z(p + disp, turn), 3).tolist()
        vel = np.round(_rotate_z(v, turn), 6).tolist()
        vectors.append((_iso_us(arr["t_mid"][:m] + offset), pos, vel))
    (ta, pa, va), (tb, pb, vb) = vectors
    return [
        [
            {"time": ta[i], "position": pa[i], "velocity": va[i]},
            {"time": tb[i], "position": pb[i], "velocity": vb[i]},
        ]
        for i in range(m)
    ]


def pairs_catalogue_items(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` Sentinel-1 SLC items of ``s1_items``, on frame slots, with orbit state vectors.

    ``s1_items`` draws each item's track, platform, 12-day cycle (S1B and S1C 6 days after
    S1A), mode and polarisations; here its along-track position is snapped to a frame slot of
    its pass and its footprint moved to where a real orbit looks (see the module docstring).
    """
    rev = real_revolution()
    seen: dict[int, int] = {}
    taken: set[tuple[int, int, int]] = set()
    done = chunk = 0
    while done < n:
        arr = s1_items._chunk_arrays(seed, chunk)
        m = min(s1_items._CHUNK, n - done)
        rng = np.random.default_rng([seed, chunk, 0x15A8])
        vectors = _pairs_chunk(arr, m, rev, rng, taken)
        for item, sv in zip(s1_items._build_items(arr, m, seen, "avoid"), vectors, strict=True):
            item["properties"]["gep:state_vectors"] = sv
            yield item
        done += m
        chunk += 1


def _count(url: str) -> int:
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM items").scalar() or 0)
    finally:
        store.close()


def build_pairs_catalogue(workdir: Path, n: int, seed: int = 0) -> tuple[str, float | None]:
    """The SQLite catalogue of ``n`` items under ``workdir``: reused when a previous run built
    the same one, else built; returns its URL and the build time (None when reused)."""
    db = workdir / f"insar-pairs-{n}-seed{seed}.db"
    stamp = db.with_suffix(".json")
    meta = {"n": n, "seed": seed, "version": CATALOGUE_VERSION}
    url = f"sqlite:///{db}"
    if db.exists() and stamp.exists() and json.loads(stamp.read_text()) == meta:
        store = open_store(url)
        store.upgrade()
        store.close()
        if _count(url) == n:
            return url, None
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    stamp.unlink(missing_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    store = open_store(url)
    store.upgrade()
    collection = s1_items.collection_dict()
    collection["title"] = "Sentinel-1 SLC with orbit state vectors (synthetic, bench/insar.py)"
    store.create_collection(collection)
    report = store.write_items(pairs_catalogue_items(n, seed), atomic=False)
    store.analyze()
    store.close()
    if report.written != n or report.failed:
        raise RuntimeError(f"wrote {report.written}/{n} items; failures: {report.failed[:3]}")
    stamp.write_text(json.dumps(meta))
    return url, time.perf_counter() - t0


def pick_references(url: str, k: int, seed: int = 0) -> list[tuple[str, str]]:
    """``k`` IW items drawn at random (uniformly over the catalogue, so dense areas more)."""
    store = open_store(url)
    rng = np.random.default_rng([seed, 0x9A1E])
    out: list[tuple[str, str]] = []
    with store.engine.connect() as conn:
        n = int(conn.exec_driver_sql("SELECT max(pk) FROM items").scalar() or 0)
        while len(out) < k:
            row = conn.exec_driver_sql(
                "SELECT collection, id FROM items WHERE pk = ? AND "
                "json_extract(properties, '$.\"sar:instrument_mode\"') = 'IW'",
                (int(rng.integers(1, n + 1)),),
            ).first()
            if row is not None and (row[0], row[1]) not in out:
                out.append((str(row[0]), str(row[1])))
    store.close()
    return out


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p95_ms": float(np.percentile(a, 95)),
        "max_ms": float(a.max()),
    }


class _TimedStore:
    """The store, with the wall and CPU time spent in its ``search`` added up (``search`` is
    all of the store that ``find_pairs`` uses)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.wall = self.cpu = 0.0

    def search(self, req: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return self.store.search(req)
        finally:
            self.wall += time.perf_counter() - t0
            self.cpu += time.process_time() - c0


def _previous_loop() -> Any:
    """The per-candidate loop ``find_pairs`` replaced (one GEOS intersection, one orbit
    parse per candidate, the collector on): ``bench/pair_oracle.py``, a copy of the oracle of
    ``tests/catalog/test_pair_search.py``."""
    from pair_oracle import oracle_pairs

    return oracle_pairs


def time_pair_search(
    url: str, refs: list[tuple[str, str]], previous: bool = False
) -> dict[str, Any]:
    """``find_pairs`` (what ``GET /insar/pairs`` calls) for each reference, API defaults; with
    ``previous``, the loop it replaced too, on each reference in turn (which of the two goes
    first alternates), and both answers compared. The garbage the loop leaves is collected
    after it, untimed: it would otherwise fall on whichever search comes next, and the loop is
    spared the full collections its garbage sets off in a process that runs only it."""
    store = open_store(url)
    timed = _TimedStore(store)
    items = [orjson.loads(store.get_item(c, i)) for c, i in refs]
    find_pairs(store, items[0])  # warm-up: imports, caches, the first pages read from disk
    old = _previous_loop() if previous else None
    ms, cpu_ms, search_ms, rest_ms, old_ms, old_cpu_ms = [], [], [], [], [], []
    candidates, matched, returned = [], [], []

    def time_old(ref: dict[str, Any]) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        answer = old(store, ref)
        old_ms.append((time.perf_counter() - t0) * 1000)
        old_cpu_ms.append((time.process_time() - c0) * 1000)
        gc.collect()
        return answer

    for k, ref in enumerate(items):
        if old is not None and k % 2:
            before = time_old(ref)
        timed.wall = timed.cpu = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        out = find_pairs(timed, ref)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ms.append(wall * 1000)
        cpu_ms.append(cpu * 1000)
        search_ms.append(timed.cpu * 1000)
        rest_ms.append((cpu - timed.cpu) * 1000)
        candidates.append(out["numberMatched"] + out["numberSkipped"])
        matched.append(out["numberMatched"])
        returned.append(len(out["pairs"]))
        if old is not None and not k % 2:
            before = time_old(ref)
        if old is not None and before != out:
            raise AssertionError(f"find_pairs and the previous loop differ on {ref['id']}")
    store.close()
    result = {
        **_percentiles(ms),
        "cpu": _percentiles(cpu_ms),
        "catalogue_search": _percentiles(search_ms),
        "rest": _percentiles(rest_ms),
        "references": len(items),
        "candidates_mean": float(np.mean(candidates)),
        "candidates_max": int(np.max(candidates)),
        "compatible_mean": float(np.mean(matched)),
        "compatible_median": float(np.median(matched)),
        "compatible_max": int(np.max(matched)),
        "returned_mean": float(np.mean(returned)),
    }
    if old is not None:
        result["previous"] = {**_percentiles(old_ms), "cpu": _percentiles(old_cpu_ms)}
    return result


def time_pair_search_http(url: str, refs: list[tuple[str, str]], workdir: Path) -> dict[str, Any]:
    """``GET /insar/pairs`` through ``gep serve`` (one worker, keep-alive client)."""
    import httpx
    from gep_server import running_gep

    env = {"GEP_DATABASE_URL": url, "GEP_HOME": str(workdir / "gep-home")}
    ms = []
    with running_gep(env) as base, httpx.Client(base_url=base, timeout=60) as client:
        client.get("/insar/pairs", params={"reference": "/".join(refs[0])}).raise_for_status()
        for ref in refs:
            t0 = time.perf_counter()
            client.get("/insar/pairs", params={"reference": "/".join(ref)}).raise_for_status()
            ms.append((time.perf_counter() - t0) * 1000)
    return _percentiles(ms)


def run_pairs(
    n: int,
    workdir: Path,
    references: int = 100,
    seed: int = 0,
    http: bool = False,
    previous: bool = False,
) -> dict[str, Any]:
    url, build_s = build_pairs_catalogue(workdir, n, seed)
    refs = pick_references(url, references, seed)
    out: dict[str, Any] = {
        "items": n,
        "build_s": build_s,
        **time_pair_search(url, refs, previous),
    }
    if http:
        out["http"] = time_pair_search_http(url, refs, workdir)
    return out


def _load() -> str:
    try:
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover - not on Unix
        return "load average unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--acquisitions", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--catalogue-items",
        type=int,
        default=1_000_000,
        help="items of the pair-search catalogue (0: skip the pair search)",
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the pair-search catalogue is built, and reused by later runs "
        "(default: a temporary directory, removed at the end)",
    )
    ap.add_argument("--references", type=int, default=100, help="pair searches timed")
    ap.add_argument("--http", action="store_true", help="also time GET /insar/pairs over HTTP")
    ap.add_argument(
        "--previous",
        action="store_true",
        help="also time the per-candidate loop find_pairs replaced, interleaved, same answers",
    )
    ap.add_argument("--skip-stack", action="store_true", help="only the pair search")
    args = ap.parse_args()
    if not args.skip_stack:
        r = run(args.acquisitions, args.repeats)
        n, pairs, connected = r["acquisitions"], r["pairs"], r["connected"]
        print(f"{n} acquisitions, {pairs} network pairs (connected: {connected})")
        total = r["stack_plus_network_s"] * 1000
        print(f"  stack (query + baselines)   {r['stack_s'] * 1000:8.1f} ms")
        print(f"  network                     {r['network_s'] * 1000:8.1f} ms")
        print(f"  stack + network             {total:8.1f} ms (target <= 1000 ms)")
        print(f"  baselines alone             {r['baselines_only_s'] * 1000:8.1f} ms")
    if args.catalogue_items <= 0:
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        print(f"pair search, {args.catalogue_items} items ({_load()})", flush=True)
        p = run_pairs(
            args.catalogue_items,
            workdir,
            args.references,
            http=args.http,
            previous=args.previous,
        )
    build = "reused" if p["build_s"] is None else f"built in {p['build_s']:.0f} s"
    print(f"  catalogue                   {build}")
    print(
        f"  find_pairs, {p['references']} IW references: p50 {p['p50_ms']:.1f} ms, "
        f"p95 {p['p95_ms']:.1f} ms, max {p['max_ms']:.1f} ms (target p95 <= 50 ms)"
    )
    for label, part in (
        ("CPU time", p["cpu"]),
        ("CPU in store.search", p["catalogue_search"]),
        ("CPU in the rest", p["rest"]),
    ):
        print(
            f"    {label + ':':21s} p50 {part['p50_ms']:.1f} ms, p95 {part['p95_ms']:.1f} ms, "
            f"max {part['max_ms']:.1f} ms"
        )
    print(
        f"  per search: {p['candidates_mean']:.0f} candidates (max {p['candidates_max']}), "
        f"{p['compatible_mean']:.0f} compatible (median {p['compatible_median']:.0f}, "
        f"max {p['compatible_max']}), {p['returned_mean']:.0f} returned"
    )
    if "previous" in p:
        q = p["previous"]
        print(
            f"  the previous per-candidate loop, interleaved (same answers): p50 "
            f"{q['p50_ms']:.1f} ms, p95 {q['p95_ms']:.1f} ms, max {q['max_ms']:.1f} ms; CPU "
            f"p50 {q['cpu']['p50_ms']:.1f} ms, p95 {q['cpu']['p95_ms']:.1f} ms"
        )
    if "http" in p:
        h = p["http"]
        print(
            f"  GET /insar/pairs over HTTP: p50 {h['p50_ms']:.1f} ms, p95 {h['p95_ms']:.1f} ms, "
            f"max {h['max_ms']:.1f} ms"
        )
    print(f"  ({_load()} at the end)")


if __name__ == "__main__":
    main()
