"""Synthetic Sentinel-1 SLC catalogue for benchmarking STAC back-ends.

Why synthetic rather than a dump of a real catalogue: the benchmark must run offline, at any size
(20 000 to 1 000 000 items), and be byte-for-byte reproducible so that GEP and its peers are fed
exactly the same items.  Why this much orbital realism: the selectivity of the benchmark queries
depends on it.  A relative-orbit filter on a random orbit number would almost always match nothing;
on a real constellation a 5°x5° box is crossed by only a handful of tracks, so "bbox + month +
relative orbit" returns a sizeable share of "bbox + month".  The model therefore follows the
geometry of the real mission closely enough for that to hold:

* one sun-synchronous reference orbit (inclination 98.18°, ascending node at 18:00 local time) with
  a 12-day repeat of 175 orbits, shared by Sentinel-1A, -1B and -1C (B and C phased 6 days from A);
* the item centre lies on the ground track of its relative orbit, so the longitude, the heading
  (about -12° ascending, 192° descending at the equator, turning near the poles), the UTC time of
  the pass, ``sat:absolute_orbit``, ``sat:relative_orbit`` and ``sat:anx_datetime`` all agree with
  each other (S1A: relative = (absolute - 73) mod 175 + 1, as in ESA's documentation);
* the centres are drawn mostly from land areas (weighted towards Europe, as in the real archive)
  and partly uniformly over the globe, between latitudes -78° and 78° (the footprints' corners);
* IW frames are about 250 km across-track by 170 km along-track; EW and SM frames are rarer and
  sized like theirs.

Footprints that cross the antimeridian are **split** into a two-part MultiPolygon, and their bbox
has ``minx > maxx``, as RFC 7946 (§3.1.9, §5.2) and the STAC spec recommend (pass
``antimeridian="avoid"`` to shift those frames so that they touch ±180° without crossing it
instead).  About 0.2 % of the items cross it (Antarctic coast, Pacific, Fiji, Chukotka).

Generation is vectorised with numpy per chunk of 8 192 items and the chunks are seeded by
``(seed, chunk_index)``: item *i* is the same whatever *n* is, so a 20 000-item run is a prefix of
a 1 000 000-item run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

COLLECTION_ID = "sentinel-1-slc"

STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
]

#: Continent-sized box of query (e): Europe.
EUROPE_BBOX = [-10.0, 35.0, 40.0, 70.0]

#: Continent boxes walked by query (d), in turn.
CONTINENT_BBOXES: dict[str, list[float]] = {
    "europe": EUROPE_BBOX,
    "north-america": [-130.0, 15.0, -60.0, 60.0],
    "asia": [60.0, 5.0, 150.0, 55.0],
    "africa": [-20.0, -35.0, 52.0, 37.0],
    "south-america": [-82.0, -56.0, -34.0, 13.0],
}

DATA_START = "2015-01-01T00:00:00Z"
DATA_END = "2026-12-31T23:59:59Z"

# --- orbit model -----------------------------------------------------------------------------
_INCL = math.radians(98.18)
_SIN_I, _COS_I = math.sin(_INCL), math.cos(_INCL)
_CYCLE_S = 12 * 86_400.0  # 12-day repeat cycle
_N_REL = 175  # orbits per cycle
_PERIOD_S = _CYCLE_S / _N_REL  # 5924.57 s
_DRIFT_DEG = 360.0 * _PERIOD_S / 86_400.0  # 24.6857°: westward shift of the track per orbit
_INV12 = 73  # 12 * 73 = 876 = 1 (mod 175): solves (r-1)*12 = k (mod 175)
_KM_PER_DEG = 111.195
_LAT_LIMIT = 78.0  # corners stay within ±78°
_EPOCH = np.datetime64("1970-01-01T00:00:00", "s")


def _epoch_s(iso: str) -> float:
    return float((np.datetime64(iso.rstrip("Z"), "s") - _EPOCH).astype(np.int64))


# Ascending-node time of S1A's absolute orbit 1, anchored so that orbit 25 331 passes over Europe
# (descending) around 2019-01-05T05:34Z, as in the real product used as the id example.
_T1_A = _epoch_s("2019-01-05T04:58:00Z") - 25_330 * _PERIOD_S
# Longitude of the ascending node of relative orbit 1 (node at 18:00 local solar time).
_NODE_T_REL1 = _T1_A + (73 - 1) * _PERIOD_S
_L1 = (15.0 * (18.0 - ((_NODE_T_REL1 % 86_400.0) / 3600.0))) % 360.0

# name, orbit-number offset (relative = (absolute - off) mod 175 + 1), launch, first and last
# acquisition used here.  S1B/S1C fly 6 days (half a cycle) behind S1A on the same tracks.
_PLATFORMS: list[tuple[str, int, str, str, str]] = [
    ("sentinel-1a", 73, "2014-04-03T21:02:00Z", DATA_START, DATA_END),
    ("sentinel-1b", 27, "2016-04-25T21:02:00Z", "2016-06-14T00:00:00Z", "2021-12-23T00:00:00Z"),
    ("sentinel-1c", 172, "2024-12-05T21:20:00Z", "2025-05-21T00:00:00Z", DATA_END),
]
_PLAT_NAMES = [p[0] for p in _PLATFORMS]
_PLAT_CODE = ["S1A", "S1B", "S1C"]
_PLAT_OFF = np.array([p[1] for p in _PLATFORMS], dtype=np.int64)
_PLAT_T0 = np.array([_epoch_s(p[3]) for p in _PLATFORMS])
_PLAT_T1 = np.array([_epoch_s(p[4]) for p in _PLATFORMS])


def _first_orbit_time(off: int, launch: str, phase_days: float) -> float:
    """Node time of absolute orbit 1 such that the platform shares S1A's tracks and numbering."""
    base = _T1_A + (73 - off) * _PERIOD_S + phase_days * 86_400.0
    m = round((_epoch_s(launch) - base) / _CYCLE_S)
    return base + m * _CYCLE_S


_PLAT_ORB1 = np.array(
    [
        _T1_A,
        _first_orbit_time(27, _PLATFORMS[1][2], 6.0),
        _first_orbit_time(172, _PLATFORMS[2][2], 6.0),
    ]
)
_PLAT_P = (_PLAT_T1 - _PLAT_T0) / float(np.sum(_PLAT_T1 - _PLAT_T0))

# lon_min, lat_min, lon_max, lat_max, weight.  Europe dominates, as it does in the real archive.
_REGIONS = np.array(
    [
        (-10, 36, 30, 60, 20.0),  # western and central Europe
        (5, 58, 30, 70, 3.0),  # Scandinavia
        (30, 45, 60, 62, 5.0),  # eastern Europe
        (26, 25, 62, 42, 5.0),  # Turkey, Middle East, Iran
        (-17, 10, 35, 33, 5.0),  # north Africa
        (10, -34, 40, 10, 5.0),  # central and southern Africa
        (-17, 4, 10, 15, 2.0),  # west Africa
        (68, 8, 90, 35, 6.0),  # India, Himalaya
        (95, 20, 122, 45, 6.0),  # China
        (95, -10, 141, 20, 5.0),  # south-east Asia, Indonesia
        (126, 31, 146, 45, 3.0),  # Japan, Korea
        (50, 35, 90, 55, 4.0),  # central Asia
        (60, 50, 140, 72, 4.0),  # Siberia
        (114, -38, 153, -12, 4.0),  # Australia
        (166, -47, 178.5, -34, 1.0),  # New Zealand
        (-125, 25, -67, 49, 7.0),  # United States
        (-165, 49, -55, 72, 4.0),  # Canada, Alaska
        (-117, 8, -77, 32, 3.0),  # Mexico, Central America
        (-81, -55, -60, 12, 4.0),  # Andes
        (-74, -34, -35, 5, 4.0),  # Brazil
        (-60, 60, -20, 78, 1.5),  # Greenland
        (-25, 63, -13, 67, 1.0),  # Iceland
        (-180, -78, 180, -65, 2.0),  # Antarctic coast
        (-180, -78, 180, 78, 11.0),  # anywhere: oceans, sea ice
    ],
    dtype=np.float64,
)
_N_LAND = len(_REGIONS) - 2  # the regions user queries are drawn from (no Antarctica, no ocean)
_REGION_P = _REGIONS[:, 4] / _REGIONS[:, 4].sum()

# mode: id code, STAC mode, across-track km, along-track km, slice duration s
_MODES = [("IW", "IW", 250.0, 170.0, 27.0), ("EW", "EW", 410.0, 400.0, 60.0)]
_SM_BEAMS = ["S1", "S2", "S3", "S4", "S5", "S6"]
_SM_SIZE = (80.0, 170.0, 25.0)
# polarisation code in the id -> sar:polarizations
_POLS = {"DV": ["VV", "VH"], "DH": ["HH", "HV"], "SV": ["VV"], "SH": ["HH"]}
_POL_CODES = ["DV", "DH", "SV", "SH"]
_POL_P = {  # per mode index 0 IW, 1 EW, 2 SM
    0: [0.88, 0.05, 0.05, 0.02],
    1: [0.10, 0.80, 0.00, 0.10],
    2: [0.60, 0.20, 0.10, 0.10],
}

_CHUNK = 8192


def _track_offset(u_deg: np.ndarray) -> np.ndarray:
    """Longitude of the ground track relative to its ascending node at argument of latitude u."""
    u = np.radians(u_deg)
    lam = np.degrees(np.arctan2(_COS_I * np.sin(u), np.cos(u)))
    return lam - _DRIFT_DEG * (u_deg / 360.0)


def _arg_of_latitude(lat: np.ndarray, ascending: np.ndarray) -> np.ndarray:
    a = np.degrees(np.arcsin(np.clip(np.sin(np.radians(lat)) / _SIN_I, -1.0, 1.0)))
    return np.where(ascending, a, 180.0 - a)


def _snap_to_track(
    lat: np.ndarray, lon: np.ndarray, ascending: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative orbit whose track passes nearest (lat, lon), the track's longitude there, and u.

    Node longitudes of successive relative orbits step by 24.69° westward, i.e. by 12 slots of
    360°/175, so the orbit of slot k is k * 12^-1 (mod 175).
    """
    u = _arg_of_latitude(lat, ascending)
    dl = _track_offset(u)
    x = np.mod(_L1 - (lon - dl), 360.0)
    k = np.mod(np.rint(x * _N_REL / 360.0).astype(np.int64), _N_REL)
    rel0 = np.mod(k * _INV12, _N_REL)  # relative orbit - 1
    lon_t = np.mod(_L1 - k * (360.0 / _N_REL) + dl + 180.0, 360.0) - 180.0
    return rel0, lon_t, u


def relative_orbit_at(lat: float, lon: float, ascending: bool) -> int:
    """The relative orbit (1-175) whose ascending or descending track passes nearest a point.

    Used by :func:`query_set` so that query (b) asks for a track that does cross its bbox, as a
    user looking for "my track over my area" would.
    """
    rel0, _, _ = _snap_to_track(np.array([lat]), np.array([lon]), np.array([ascending]))
    return int(rel0[0]) + 1


def _heading(lat: np.ndarray, u_deg: np.ndarray) -> np.ndarray:
    """Heading (degrees clockwise from north) of the ground track, from the analytic derivatives."""
    u = np.radians(u_deg)
    dlam = _COS_I / (np.cos(u) ** 2 + (_COS_I * np.sin(u)) ** 2) - _DRIFT_DEG / 360.0
    dphi = _SIN_I * np.cos(u) / np.cos(np.radians(lat))
    return np.degrees(np.arctan2(dlam * np.cos(np.radians(lat)), dphi))


def _draw_centres(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    reg = rng.choice(len(_REGIONS), size=m, p=_REGION_P)
    box = _REGIONS[reg]
    s0 = np.sin(np.radians(np.maximum(box[:, 1], -_LAT_LIMIT + 1.5)))
    s1 = np.sin(np.radians(np.minimum(box[:, 3], _LAT_LIMIT - 1.5)))
    lat = np.degrees(np.arcsin(s0 + (s1 - s0) * rng.random(m)))  # uniform in area
    lon = box[:, 0] + (box[:, 2] - box[:, 0]) * rng.random(m)
    return lat, lon, reg


def _chunk_arrays(seed: int, chunk: int) -> dict[str, np.ndarray]:
    """All numbers of one chunk of ``_CHUNK`` items, drawn from its own generator."""
    rng = np.random.default_rng([seed, chunk])
    m = _CHUNK
    lat, lon0, reg = _draw_centres(rng, m)
    ascending = rng.random(m) < 0.5
    rel0, lon, u = _snap_to_track(lat, lon0, ascending)
    heading = _heading(lat, u)

    # acquisition mode: EW over oceans and polar areas, a little SM
    polar = (np.abs(lat) > 60.0) | (reg >= len(_REGIONS) - 2)
    rmode = rng.random(m)
    mode = np.where(rmode < np.where(polar, 0.35, 0.03), 1, 0)
    mode = np.where(rmode > 0.98, 2, mode)
    rpol = rng.random(m)
    pol = np.zeros(m, dtype=np.int64)
    for mi, probs in _POL_P.items():
        cuts = np.cumsum(probs)[:-1]
        pol = np.where(mode == mi, np.searchsorted(cuts, rpol, side="right"), pol)
    beam = rng.integers(0, len(_SM_BEAMS), m)

    across = np.choose(mode, [_MODES[0][2], _MODES[1][2], _SM_SIZE[0]]) * rng.uniform(0.98, 1.02, m)
    along = np.choose(mode, [_MODES[0][3], _MODES[1][3], _SM_SIZE[1]]) * rng.uniform(0.95, 1.05, m)
    duration = np.choose(mode, [_MODES[0][4], _MODES[1][4], _SM_SIZE[2]]) * (
        along / np.choose(mode, [_MODES[0][3], _MODES[1][3], _SM_SIZE[1]])
    )

    # time: a uniform instant in the platform's life, snapped to a pass of this track at this u
    plat = rng.choice(len(_PLATFORMS), size=m, p=_PLAT_P)
    t_rand = _PLAT_T0[plat] + (_PLAT_T1[plat] - _PLAT_T0[plat]) * rng.random(m)
    base = _PLAT_ORB1[plat] + (_PLAT_OFF[plat] + rel0 - 1) * _PERIOD_S + u / 360.0 * _PERIOD_S
    c = np.rint((t_rand - base) / _CYCLE_S)
    c_lo = np.ceil((_PLAT_T0[plat] + duration - base) / _CYCLE_S)
    c_hi = np.floor((_PLAT_T1[plat] - duration - base) / _CYCLE_S)
    c = np.clip(c, c_lo, c_hi)
    t_mid = base + c * _CYCLE_S
    absolute = _PLAT_OFF[plat] + rel0 + _N_REL * c.astype(np.int64)
    t_anx = t_mid - u / 360.0 * _PERIOD_S
    t_start = t_mid - duration / 2.0
    t_end = t_mid + duration / 2.0

    # footprint corners: (along, across) = (-a,-b), (-a,+b), (+a,+b), (+a,-b): counter-clockwise
    h = np.radians(heading)
    a = along / 2.0
    b = across / 2.0
    sa = np.array([-1.0, -1.0, 1.0, 1.0])[None, :] * a[:, None]
    sb = np.array([-1.0, 1.0, 1.0, -1.0])[None, :] * b[:, None]
    north = sa * np.cos(h)[:, None] - sb * np.sin(h)[:, None]
    east = sa * np.sin(h)[:, None] + sb * np.cos(h)[:, None]
    clat = lat[:, None] + north / _KM_PER_DEG
    # keep the corners within ±78°: nudge the few big polar frames along the meridian
    over = np.maximum(clat.max(axis=1) - _LAT_LIMIT, 0.0) + np.minimum(
        clat.min(axis=1) + _LAT_LIMIT, 0.0
    )
    lat = lat - over
    clat = clat - over[:, None]
    clon = lon[:, None] + east / (_KM_PER_DEG * np.cos(np.radians(clat)))

    return {
        "lat": lat,
        "lon": lon,
        "ascending": ascending,
        "rel": rel0 + 1,
        "abs": absolute,
        "plat": plat,
        "mode": mode,
        "pol": pol,
        "beam": beam,
        "t_start": t_start,
        "t_mid": t_mid,
        "t_end": t_end,
        "t_anx": t_anx,
        "clat": clat,
        "clon": clon,
        "u": u,
    }


def _iso(t: np.ndarray, unit: str, suffix: str = "") -> list[str]:
    stamps = np.floor(t * (1000.0 if unit == "ms" else 1.0)).astype(np.int64)
    strings = np.datetime_as_string(stamps.astype(f"datetime64[{unit}]"), unit=unit)
    if suffix:
        strings = np.strings.add(strings, suffix)
    return strings.tolist()


def _clip_ring(ring: list[list[float]], keep_west: bool) -> list[list[float]]:
    """Sutherland-Hodgman clip of an open ring against the meridian 180° (unwrapped lons)."""

    def inside(p: list[float]) -> bool:
        return p[0] <= 180.0 if keep_west else p[0] >= 180.0

    out: list[list[float]] = []
    for i, cur in enumerate(ring):
        prev = ring[i - 1]
        if inside(cur):
            if not inside(prev):
                out.append(_cross(prev, cur))
            out.append(cur)
        elif inside(prev):
            out.append(_cross(prev, cur))
    return out


def _cross(p: list[float], q: list[float]) -> list[float]:
    f = (180.0 - p[0]) / (q[0] - p[0])
    return [180.0, p[1] + f * (q[1] - p[1])]


def _split_antimeridian(lons: list[float], lats: list[float]) -> tuple[dict[str, Any], list[float]]:
    """MultiPolygon and RFC 7946 bbox (minx > maxx) of a quadrilateral that crosses ±180°."""
    ref = lons[0]
    ul = [x if abs(x - ref) < 180.0 else x - math.copysign(360.0, x - ref) for x in lons]
    if min(ul) < -180.0:
        ul = [x + 360.0 for x in ul]
    ring = [[x, y] for x, y in zip(ul, lats, strict=True)]
    west = _clip_ring(ring, keep_west=True)
    east = [[x - 360.0, y] for x, y in _clip_ring(ring, keep_west=False)]
    parts = []
    for part in (west, east):
        pts = [[round(x, 5), round(y, 5)] for x, y in part]
        pts.append(pts[0])
        parts.append([pts])
    geom = {"type": "MultiPolygon", "coordinates": parts}
    bbox = [
        round(min(p[0] for p in west), 5),
        round(min(lats), 5),
        round(max(p[0] for p in east), 5),
        round(max(lats), 5),
    ]
    return geom, bbox


def collection_dict() -> dict[str, Any]:
    """The STAC 1.1 Collection the generated items belong to."""
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "stac_extensions": list(STAC_EXTENSIONS),
        "id": COLLECTION_ID,
        "title": "Sentinel-1 Level-1 SLC (synthetic benchmark catalogue)",
        "description": (
            "Synthetic Sentinel-1 IW/EW/SM Level-1 Single Look Complex frames generated by "
            "bench/s1_items.py for benchmarking: realistic ids, orbits, timing and footprints, "
            "no real data behind the assets."
        ),
        "keywords": ["sentinel-1", "sar", "slc", "c-band", "benchmark"],
        "license": "other",
        "providers": [
            {"name": "ESA", "roles": ["producer", "licensor"], "url": "https://www.esa.int"},
            {"name": "GEP benchmark", "roles": ["host", "processor"]},
        ],
        "extent": {
            "spatial": {"bbox": [[-180.0, -_LAT_LIMIT, 180.0, _LAT_LIMIT]]},
            "temporal": {"interval": [[DATA_START, DATA_END]]},
        },
        "summaries": {
            "constellation": ["sentinel-1"],
            "platform": list(_PLAT_NAMES),
            "instruments": ["c-sar"],
            "sat:orbit_state": ["ascending", "descending"],
            "sat:relative_orbit": {"minimum": 1, "maximum": _N_REL},
            "sar:instrument_mode": ["IW", "EW", "SM"],
            "sar:frequency_band": ["C"],
            "sar:center_frequency": [5.405],
            "sar:polarizations": ["VV", "VH", "HH", "HV"],
            "sar:product_type": ["SLC"],
            "processing:level": ["L1"],
        },
        "item_assets": {
            "data": {"type": "application/zip", "roles": ["data"], "title": "SAFE archive"},
            "thumbnail": {"type": "image/png", "roles": ["thumbnail"], "title": "Quick-look"},
        },
        "links": [
            {
                "rel": "license",
                "href": "https://sentinels.copernicus.eu/documents/247904/690755/"
                "Sentinel_Data_Legal_Notice",
                "title": "Legal notice on the use of Copernicus Sentinel data",
            }
        ],
    }


def generate_items(
    n: int, seed: int = 0, antimeridian: Literal["split", "avoid"] = "split"
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` deterministic, unique STAC 1.1 Sentinel-1 SLC items (see the module docstring).

    ``antimeridian="split"`` (default) writes the ~0.5 % of frames that cross ±180° as
    MultiPolygons with a wrapping bbox; ``"avoid"`` shifts them east or west until they touch
    ±180° without crossing it, for back-ends that cannot cope with the split form.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    seen: dict[int, int] = {}  # (platform, start second) -> items so far, for unique ids
    done = 0
    chunk = 0
    while done < n:
        arr = _chunk_arrays(seed, chunk)
        m = min(_CHUNK, n - done)
        yield from _build_items(arr, m, seen, antimeridian)
        done += m
        chunk += 1


def _build_items(
    arr: dict[str, np.ndarray],
    m: int,
    seen: dict[int, int],
    antimeridian: Literal["split", "avoid"],
) -> Iterator[dict[str, Any]]:
    """Turn the first ``m`` rows of one chunk's arrays into item dicts (the only Python loop)."""
    clon = arr["clon"][:m]
    clat = arr["clat"][:m]
    crosses = (clon.max(axis=1) > 180.0) | (clon.min(axis=1) < -180.0)
    if antimeridian == "avoid" and crosses.any():
        shift = np.where(clon.max(axis=1) > 180.0, 180.0 - clon.max(axis=1), 0.0)
        shift = np.where(clon.min(axis=1) < -180.0, -180.0 - clon.min(axis=1), shift)
        clon = clon + shift[:, None]
        crosses = np.zeros(m, dtype=bool)
    ring = np.round(np.stack([clon, clat], axis=2), 5)
    ring = np.concatenate([ring, ring[:, :1, :]], axis=1)
    rings = ring.tolist()
    bboxes = np.round(
        np.stack([clon.min(axis=1), clat.min(axis=1), clon.max(axis=1), clat.max(axis=1)], axis=1),
        5,
    ).tolist()
    crosses_l = crosses.tolist()

    t_start_s = _iso(arr["t_start"][:m], "s")
    t_end_s = _iso(arr["t_end"][:m], "s")
    start_ms = _iso(arr["t_start"][:m], "ms", "Z")
    mid_ms = _iso(arr["t_mid"][:m], "ms", "Z")
    end_ms = _iso(arr["t_end"][:m], "ms", "Z")
    anx_ms = _iso(arr["t_anx"][:m], "ms", "Z")
    plat = arr["plat"][:m]
    start_int = np.floor(arr["t_start"][:m]).astype(np.int64)
    keys = (plat.astype(np.int64) << 40) | start_int
    # product unique identifier: a hash of the key, bumped on the rare clash
    crc = ((keys.astype(np.uint64) * np.uint64(2654435761)) >> np.uint64(11)) & np.uint64(0xFFFF)
    absolute = arr["abs"][:m]
    datatake = (absolute * 7.2525).astype(np.int64) + (arr["u"][:m] // 45).astype(np.int64)

    cols = zip(
        keys.tolist(),
        crc.tolist(),
        plat.tolist(),
        arr["mode"][:m].tolist(),
        arr["pol"][:m].tolist(),
        arr["beam"][:m].tolist(),
        arr["ascending"][:m].tolist(),
        arr["rel"][:m].tolist(),
        absolute.tolist(),
        datatake.tolist(),
        t_start_s,
        t_end_s,
        start_ms,
        mid_ms,
        end_ms,
        anx_ms,
        rings,
        bboxes,
        crosses_l,
        strict=True,
    )
    for i, (
        key,
        crc_i,
        p,
        mode,
        pol,
        beam,
        asc,
        rel,
        absn,
        dt,
        ts,
        te,
        sms,
        mms,
        ems,
        anx,
        ring_i,
        bbox_i,
        cross,
    ) in enumerate(cols):
        k = seen.get(key, 0)
        seen[key] = k + 1
        mode_code = _SM_BEAMS[beam] if mode == 2 else _MODES[mode][0]
        pol_code = _POL_CODES[pol]
        pid = (
            f"{_PLAT_CODE[p]}_{mode_code}_SLC__1S{pol_code}_{ts.replace('-', '').replace(':', '')}_"
            f"{te.replace('-', '').replace(':', '')}_"
            f"{absn:06d}_{dt & 0xFFFFFF:06X}_{(crc_i + k) & 0xFFFF:04X}"
        )
        if cross:
            geometry, bbox = _split_antimeridian(clon[i].tolist(), clat[i].tolist())
        else:
            geometry = {"type": "Polygon", "coordinates": [ring_i]}
            bbox = bbox_i
        day = sms[:10].replace("-", "/")
        base = f"https://data.gep.example/sentinel-1/SLC/{day}/{pid}"
        yield {
            "type": "Feature",
            "stac_version": "1.1.0",
            "stac_extensions": list(STAC_EXTENSIONS),
            "id": pid,
            "collection": COLLECTION_ID,
            "geometry": geometry,
            "bbox": bbox,
            "properties": {
                "datetime": mms,
                "start_datetime": sms,
                "end_datetime": ems,
                "platform": _PLAT_NAMES[p],
                "constellation": "sentinel-1",
                "instruments": ["c-sar"],
                "sat:orbit_state": "ascending" if asc else "descending",
                "sat:relative_orbit": rel,
                "sat:absolute_orbit": absn,
                "sat:anx_datetime": anx,
                "sar:instrument_mode": "SM" if mode == 2 else _MODES[mode][1],
                "sar:frequency_band": "C",
                "sar:center_frequency": 5.405,
                "sar:polarizations": list(_POLS[pol_code]),
                "sar:product_type": "SLC",
                "processing:level": "L1",
            },
            "assets": {
                "data": {
                    "href": base + ".SAFE.zip",
                    "type": "application/zip",
                    "title": "SAFE archive",
                    "roles": ["data"],
                },
                "thumbnail": {
                    "href": base + "/quick-look.png",
                    "type": "image/png",
                    "title": "Quick-look",
                    "roles": ["thumbnail"],
                },
            },
            "links": [],
        }


def write_ndjson(path: str | Path, items: Iterable[dict[str, Any]]) -> int:
    """Write items one JSON document per line (the format ``pypgstac load`` reads); return count.

    Uses orjson when it is importable because ``json`` would make writing 1 000 000 items take
    longer than generating them.
    """
    try:
        import orjson

        def dumps(obj: Any) -> bytes:
            return orjson.dumps(obj)
    except ImportError:  # pragma: no cover - orjson is a GEP dependency
        import json

        def dumps(obj: Any) -> bytes:
            return json.dumps(obj, separators=(",", ":")).encode()

    count = 0
    with open(path, "wb") as fh:
        for item in items:
            fh.write(dumps(item))
            fh.write(b"\n")
            count += 1
    return count


# --- benchmark queries ------------------------------------------------------------------------


def _month_interval(year: int, month: int) -> str:
    nxt = np.datetime64(f"{year + (month == 12):04d}-{month % 12 + 1:02d}-01T00:00:00", "s")
    last = str(nxt - np.timedelta64(1, "s"))
    return f"{year:04d}-{month:02d}-01T00:00:00Z/{last}Z"


def query_set(seed: int = 0, k: int = 50) -> dict[str, Any]:
    """Deterministic parameters of the benchmark queries, identical for every back-end.

    Returns a dict with:

    * ``collections``: ``["sentinel-1-slc"]`` (every query names it, as real clients do);
    * ``a``: ``k`` dicts ``{"bbox", "datetime"}``: a ~5°x5° box centred on a land area drawn with
      the same weights as the items, and one calendar month between 2015-01 and 2026-12;
    * ``b``: the same ``k`` queries plus ``"relative_orbit"``: an orbit whose (ascending or
      descending) track crosses the box centre, so the filter is selective but not empty;
    * ``c``: ``k`` dicts ``{"intersects"}``: irregular 7-vertex polygons ~3° across on land;
    * ``d``: dicts ``{"bbox", "name"}`` of continents to walk 1 000 items through, in turn;
    * ``e``: ``{"bbox": Europe}``, whose ``numberMatched`` is read;
    * ``walk_items`` (1 000) and ``page_size`` (100) for (d).
    """
    rng = np.random.default_rng([seed, 0x5EED])
    land_p = _REGIONS[:_N_LAND, 4] / _REGIONS[:_N_LAND, 4].sum()

    def centres(count: int) -> tuple[np.ndarray, np.ndarray]:
        reg = rng.choice(_N_LAND, size=count, p=land_p)
        box = _REGIONS[reg]
        lat = box[:, 1] + (box[:, 3] - box[:, 1]) * rng.random(count)
        lon = box[:, 0] + (box[:, 2] - box[:, 0]) * rng.random(count)
        return np.clip(lat, -72.5, 72.5), np.clip(lon, -177.5, 177.5)

    lat, lon = centres(k)
    half = rng.uniform(2.3, 2.7, size=(k, 2))
    years = rng.integers(2015, 2027, size=k)
    months = rng.integers(1, 13, size=k)
    asc = rng.random(k) < 0.5
    a: list[dict[str, Any]] = []
    b: list[dict[str, Any]] = []
    for i in range(k):
        bbox = [
            round(float(lon[i] - half[i, 0]), 4),
            round(float(lat[i] - half[i, 1]), 4),
            round(float(lon[i] + half[i, 0]), 4),
            round(float(lat[i] + half[i, 1]), 4),
        ]
        q = {"bbox": bbox, "datetime": _month_interval(int(years[i]), int(months[i]))}
        a.append(q)
        rel = relative_orbit_at(float(lat[i]), float(lon[i]), bool(asc[i]))
        b.append({**q, "relative_orbit": rel})

    clat, clon = centres(k)
    c: list[dict[str, Any]] = []
    for i in range(k):
        # one vertex per 1/7 turn: no angular gap over pi, so the polygon is always simple
        # (sorted uniform angles once gave a self-intersecting polygon, rightly refused by GEP)
        ang = (np.arange(7) + rng.uniform(0.15, 0.85, 7)) * (2.0 * np.pi / 7)
        rad = rng.uniform(1.0, 1.7, 7)
        pts = [
            [round(float(clon[i] + r * np.cos(t)), 4), round(float(clat[i] + r * np.sin(t)), 4)]
            for r, t in zip(rad, ang, strict=True)
        ]
        pts.append(pts[0])
        c.append({"intersects": {"type": "Polygon", "coordinates": [pts]}})

    return {
        "seed": seed,
        "collections": [COLLECTION_ID],
        "a": a,
        "b": b,
        "c": c,
        "d": [{"name": name, "bbox": list(bb)} for name, bb in CONTINENT_BBOXES.items()],
        "e": {"name": "europe", "bbox": list(EUROPE_BBOX)},
        "walk_items": 1000,
        "page_size": 100,
    }


if __name__ == "__main__":  # quick look: python bench/s1_items.py 3
    import json
    import sys

    for it in generate_items(int(sys.argv[1]) if len(sys.argv) > 1 else 2):
        print(json.dumps(it, indent=1))
