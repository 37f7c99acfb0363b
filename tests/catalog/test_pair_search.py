"""Pair search gives exactly what a plain candidate-by-candidate loop gives.

``find_pairs`` assesses its candidates in bulk: overlaps clipped in numpy with GEOS only where a
figure is near a decision, no cyclic garbage collection while it holds them. The loop below is
the implementation it replaced (one GEOS intersection per candidate), kept as the oracle. Both
run on the real 176-frame ASF stack of track 13 (``tests/data/asf``) plus variants of its
frames made to hit every reason a candidate is skipped for and every geometry the fast path
hands to GEOS (multi-polygons, holes, notches, repeated points, a footprint without area, an
overlap of exactly one half), and must agree to the last character of the answer.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import shapely
from shapely.affinity import translate
from shapely.geometry import mapping, shape

from bench.pair_oracle import oracle_pairs
from gep.algorithms.sar.orbit import interpolate_orbit_s
from gep.catalog.backends import open_store
from gep.catalog.insar import (
    find_pairs,
    item_orbit,
)
from gep.catalog.overlap import _clipped_areas, _convex_ring, overlap_fractions, settled
from gep.catalog.store import CatalogStore
from gep.core.sar import StateVectors, state_vectors_to_json
from gep.io.crosswalk.asf import asf_stack_reference, asf_to_stac_item
from gep.io.crosswalk.asf_records import load_asf_records

STACK = (
    Path(__file__).parents[1]
    / "data/asf/S1A_IW_SLC__1SSV_20160528T141908_20160528T141938_011460_011746_335C_stack.yml"
)


def _variant(item: dict[str, Any], suffix: str, **props: Any) -> dict[str, Any]:
    """A copy of ``item`` catalogued as the newest acquisition (first in the search's order,
    so that its reason is among the skipped ones shown), with ``props`` changed."""
    out = copy.deepcopy(item)
    out["id"] = f"{item['id']}_{suffix}"
    for k in ("start_datetime", "end_datetime"):
        out["properties"].pop(k, None)
    out["properties"]["datetime"] = (
        f"2030-01-01T00:{len(suffix):02d}:{sum(map(ord, suffix)) % 60:02d}Z"
    )
    out["properties"].update(props)
    return out


def _with_geometry(item: dict[str, Any], suffix: str, geom: Any) -> dict[str, Any]:
    out = _variant(item, suffix)
    out["geometry"] = geom if isinstance(geom, dict) else orjson.loads(orjson.dumps(mapping(geom)))
    out.pop("bbox", None)
    return out


def _four_vectors(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The item's two vectors made four (Hermite-extrapolated 10 s each way): a full orbit."""
    two = item_orbit(item)
    t = np.array([-10.0, 0.0, 10.0, 20.0])
    p, v = interpolate_orbit_s(two, t)
    times = two.time[0] + (t * 1e9).astype("timedelta64[ns]")
    return state_vectors_to_json(StateVectors(times, p, v))


def _moved_along_track(item: dict[str, Any], degrees: float) -> list[dict[str, Any]]:
    """The item's vectors turned about its orbit's normal: the same orbit, ``degrees`` further
    along, whose zero-Doppler time for the item's footprint lies outside its vectors."""
    sv = item_orbit(item)
    n = np.cross(sv.position[0], sv.velocity[0])
    n /= np.linalg.norm(n)
    a = np.radians(degrees)
    k = np.array([[0, -n[2], n[1]], [n[2], 0, -n[0]], [-n[1], n[0], 0]])
    rot = np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k
    return state_vectors_to_json(StateVectors(sv.time, sv.position @ rot.T, sv.velocity @ rot.T))


def _variants(items: list[dict[str, Any]], ref: dict[str, Any]) -> list[dict[str, Any]]:
    fp = shape(ref["geometry"])
    (x0, y0), (x1, y1) = list(fp.exterior.coords)[:2]
    near = [i for i in items if i["id"] != ref["id"]][:12]
    a, b, c = near[0], near[1], near[2]
    notch = shapely.Polygon(
        [*list(fp.exterior.coords)[:2], fp.centroid.coords[0], *list(fp.exterior.coords)[2:-1]]
    )
    out = [
        # a reason for each property check
        _variant(a, "asc", **{"sat:orbit_state": "ascending"}),
        _variant(a, "ew", **{"sar:instrument_mode": "EW"}),
        _variant(a, "rs2", platform="radarsat-2", constellation=None),
        _variant(a, "hh", **{"sar:polarizations": ["HH"]}),
        _variant(b, "burst", **{"gep:burst": {"id": "013_027500_IW2"}, "gep:swath": "IW2"}),
        _variant(b, "swath", **{"gep:burst": {"id": "013_027500_IW2"}, "gep:swath": "IW3"}),
        _variant(b, "noorbit", **{"gep:state_vectors": None}),
        _variant(b, "oneorbit", **{"gep:state_vectors": b["properties"]["gep:state_vectors"][:1]}),
        _variant(c, "fullorbit", **{"gep:state_vectors": _four_vectors(c)}),
        _variant(c, "elsewhere", **{"gep:state_vectors": _moved_along_track(c, 3.0)}),
        # geometries the fast path leaves to GEOS, and figures at a decision
        _with_geometry(
            a,
            "multi",
            shapely.MultiPolygon(
                [
                    fp.intersection(g)
                    for g in (
                        shapely.box(*fp.bounds).intersection(
                            shapely.box(-180, -90, fp.centroid.x - 0.05, 90)
                        ),
                        shapely.box(*fp.bounds).intersection(
                            shapely.box(fp.centroid.x + 0.05, -90, 180, 90)
                        ),
                    )
                ]
            ),
        ),
        _with_geometry(
            b,
            "hole",
            shapely.Polygon(fp.exterior.coords, [fp.centroid.buffer(0.1).exterior.coords]),
        ),
        _with_geometry(c, "notch", notch),
        _with_geometry(a, "same", fp),
        _with_geometry(b, "cw", shapely.Polygon(list(fp.exterior.coords)[::-1])),
        _with_geometry(c, "half", translate(fp, (x1 - x0) / 2, (y1 - y0) / 2)),
        _with_geometry(a, "edge", translate(fp, x1 - x0, y1 - y0)),
        _with_geometry(
            b,
            "repeated",
            {
                "type": "Polygon",
                "coordinates": [
                    [list(fp.exterior.coords[0])] + [list(p) for p in fp.exterior.coords]
                ],
            },
        ),
        _with_geometry(
            c,
            "z",
            {"type": "Polygon", "coordinates": [[[x, y, 100.0] for x, y in fp.exterior.coords]]},
        ),
    ]
    # references of their own: one with a burst, one with a notched footprint, one without area
    out.append(
        _variant(ref, "burstref", **{"gep:burst": {"id": "013_027500_IW2"}, "gep:swath": "IW2"})
    )
    out.append(_with_geometry(ref, "notchref", notch))
    out.append(_with_geometry(ref, "point", fp.centroid))
    for item in near[3:]:  # its neighbours on the burst, some overlapping a lot
        out.append(
            _variant(item, "b", **{"gep:burst": {"id": "013_027500_IW2"}, "gep:swath": "IW2"})
        )
    return out


@pytest.fixture(scope="module")
def catalogue(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[CatalogStore, dict[str, dict[str, Any]]]]:
    records = load_asf_records(STACK)
    ref_id = asf_stack_reference(records)
    assert ref_id is not None
    items = [asf_to_stac_item(r, stack_reference=ref_id) for r in records]
    ref = next(i for i in items if i["id"] == ref_id)
    items += _variants(items, ref)
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('pairs')}/pairs.db")
    store.upgrade()
    report = store.write_items(items, mode="upsert", create_collections=True)
    assert report.written == len(items), report.failed
    yield store, {i["id"]: i for i in items}
    store.close()


SETTINGS: list[dict[str, Any]] = [
    {},
    {"min_overlap": 0.0, "sortby": "overlap", "limit": 1000},
    {"min_overlap": 0.3, "sortby": "-overlap", "limit": 500},
    {"min_overlap": 0.5, "sortby": "-bperp", "max_bperp": 60, "max_btemp": 120},
    {"min_overlap": 0.9, "sortby": "datetime"},
    {"min_overlap": 1.0},
]


def test_bulk_assessment_matches_the_candidate_loop(
    catalogue: tuple[CatalogStore, dict[str, dict[str, Any]]],
) -> None:
    store, items = catalogue
    ref_id = asf_stack_reference(load_asf_records(STACK))
    assert ref_id is not None
    refs = [ref_id, f"{ref_id}_burstref", f"{ref_id}_notchref", f"{ref_id}_point"]
    refs += [i for i in list(items)[:176:25] if i != ref_id]
    for rid in refs:
        for kwargs in SETTINGS:
            ours = find_pairs(store, items[rid], **kwargs)
            assert ours == oracle_pairs(store, items[rid], **kwargs), (rid, kwargs)
    # the variants reach every reason a candidate is skipped for, and both overlap paths
    shown = [
        s["reason"]
        for rid, min_overlap in ((ref_id, 0.5), (f"{ref_id}_burstref", 0.0))
        for s in find_pairs(store, items[rid], min_overlap=min_overlap)["skipped"]
    ]
    for expected in (
        "sat:orbit_state differs",
        "sar:instrument_mode differs",
        "platform family differs",
        "no common polarisation",
        "different burst",
        "different swath",
        "'gep:state_vectors'",
        "found one state vector",
        "do not both see the reference's centre",
        "footprint overlap 0.00 < 0.5",
    ):
        assert any(expected in r for r in shown), (expected, shown)
    pairs = find_pairs(store, items[ref_id], min_overlap=0.0, limit=1000)["pairs"]
    overlap = {p["id"].rsplit("_", 1)[1]: p["overlap"] for p in pairs}
    assert overlap["same"] == 1.0 and overlap["edge"] == 0.0 and 0.4 < overlap["half"] < 0.6
    assert 0.9 < overlap["hole"] < 1.0 and 0.9 < overlap["multi"] < 1.0
    # min_overlap exactly one candidate's overlap: a decision only GEOS can make, in both
    ref = items[ref_id]
    half = next(i for i in items.values() if i["id"].endswith("_half"))
    exact = shape(ref["geometry"]).intersection(shape(half["geometry"])).area
    at = exact / shape(ref["geometry"]).area
    for min_overlap in (at, float(np.nextafter(at, 1.0))):
        ours = find_pairs(store, ref, min_overlap=min_overlap)
        assert ours == oracle_pairs(store, ref, min_overlap=min_overlap)
        assert (half["id"] in {p["id"] for p in ours["pairs"]}) == (min_overlap == at)


def _quad(rng: np.random.Generator, cx: float, cy: float, size: float, angle: float) -> Any:
    pts = np.array([[-1, -0.4], [1, -0.4], [1, 0.4], [-1, 0.4]]) * size
    pts += rng.normal(0, 0.05 * size, pts.shape)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return shapely.convex_hull(shapely.MultiPoint(pts @ rot.T + [cx, cy]))


def test_clipped_overlaps_agree_with_geos() -> None:
    """The numpy clipping against GEOS's intersection on random convex footprints: within
    1e-12 of the footprint's area, far inside the 1e-9 guard that sends a figure to GEOS."""
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(20):
        cx, cy = rng.uniform(-170, 170), rng.uniform(-75, 75)
        angle = rng.uniform(0, np.pi)
        ref = _quad(rng, cx, cy, 1.5, angle)
        cands = [
            _quad(rng, cx + rng.normal(0, 1.5), cy + rng.normal(0, 1.5), rng.uniform(1, 2), angle)
            for _ in range(60)
        ]
        cands += [ref, translate(ref, 3.0, 0.0)]  # identical, and disjoint
        clip = _convex_ring(ref)
        assert clip is not None
        rings = np.array(
            [np.asarray(c.exterior.coords)[:-1] for c in cands if len(c.exterior.coords) == 5]
        )
        exact = np.array([ref.intersection(shapely.Polygon(r)).area for r in rings]) / ref.area
        clipped = _clipped_areas(clip, rings) / ref.area
        worst = max(worst, float(np.abs(clipped - exact).max()))
        geojson = [mapping(c) for c in cands]
        fractions = overlap_fractions(ref, orjson.loads(orjson.dumps(geojson)), 0.5)
        truth = np.array([ref.intersection(c).area / ref.area for c in cands])
        certain_low = np.isnan(fractions)
        assert (truth[certain_low] < 0.5).all()
        assert (np.round(fractions[~certain_low], 4) == np.round(truth[~certain_low], 4)).all()
    assert worst < 1e-12


def test_figures_near_a_decision_are_left_to_geos() -> None:
    tiny = 1e-12  # far more than clipping and GEOS ever differ, far less than the guard
    est = np.array([0.5 - tiny, 0.5 + tiny, 0.12345 - tiny, 0.12345 + tiny, 0.7, 0.2, 0.61235])
    below, above = settled(est, 0.5)
    assert below.tolist() == [False, False, True, True, False, True, False]
    assert above.tolist() == [False, False, False, False, True, False, False]
