"""The pair search as it was before ``find_pairs`` assessed its candidates in bulk: one GEOS
intersection and one orbit parse per candidate, the collector on.

``bench/insar.py --previous`` times it beside ``find_pairs`` and compares their answers;
``tests/catalog/test_pair_search.py`` imports it as its oracle and checks the two agree to the
last character. It lives here because the benchmarks import nothing from ``tests``.
"""

from __future__ import annotations

from typing import Any

import orjson
from shapely.geometry import shape

from gep.algorithms.sar.baseline import Baseline, baseline_results
from gep.algorithms.sar.geometry import llh_to_ecef
from gep.catalog.insar import MAX_CANDIDATES, _compatible, _dinsar_inputs, item_orbit
from gep.catalog.search import SearchRequest
from gep.catalog.store import CatalogStore
from gep.core.errors import InvalidInput
from gep.core.sar import StateVectors


def oracle_pairs(
    store: CatalogStore,
    reference: dict[str, Any],
    *,
    max_bperp: float | None = None,
    max_btemp: float | None = None,
    min_overlap: float = 0.5,
    sortby: str = "btemp",
    limit: int = 100,
) -> dict[str, Any]:
    """The pair search as it was before its candidates were assessed in bulk."""
    descending, key = sortby.startswith("-"), sortby.lstrip("-+")
    props = reference.get("properties") or {}
    ref_orbit = item_orbit(reference)
    footprint = shape(reference["geometry"])
    area = footprint.area
    centre = footprint.centroid
    target = llh_to_ecef(centre.y, centre.x, 0.0)
    req = SearchRequest(
        collections=[str(reference.get("collection"))],
        intersects=footprint,
        filter={
            "op": "=",
            "args": [{"property": "sat:relative_orbit"}, props["sat:relative_orbit"]],
        },
        limit=1000,
    )
    found: list[tuple[str, str, dict[str, Any], float, str | None]] = []
    orbits: list[StateVectors] = []
    solved: list[int] = []
    seen = 0
    while seen < MAX_CANDIDATES:
        page = store.search(req)
        for collection, item_id, raw in page.items:
            seen += 1
            if item_id == reference.get("id"):
                continue
            cand = orjson.loads(raw)
            reason = _compatible(props, cand.get("properties") or {})
            overlap = 0.0
            if reason is None:
                overlap = (
                    footprint.intersection(shape(cand["geometry"])).area / area if area else 0.0
                )
                if overlap < min_overlap:
                    reason = f"footprint overlap {overlap:.2f} < {min_overlap}"
            if reason is None:
                try:
                    orbits.append(item_orbit(cand))
                    solved.append(len(found))
                except InvalidInput as exc:
                    reason = exc.message
            found.append((collection, item_id, cand, overlap, reason))
        if not page.next_token:
            break
        req.token = page.next_token
    try:
        results: list[Baseline | ValueError] = baseline_results(target, ref_orbit, orbits)
    except ValueError as exc:
        results = [exc] * len(orbits)
    baselines = dict(zip(solved, results, strict=True))
    pairs: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for k, (collection, item_id, cand, overlap, reason) in enumerate(found):
        b = baselines.get(k)
        if isinstance(b, ValueError):
            reason = (
                f"the orbits of '{reference.get('id')}' and '{cand.get('id')}' do not both "
                f"see the reference's centre: {b}"
            )
        if reason is not None or not isinstance(b, Baseline):
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
                "overlap": round(overlap, 4),
                "dinsar_inputs": _dinsar_inputs(reference, cand, b.btemp),
            }
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
        "numberSkipped": len(skipped),
        "skipped": skipped[:20],
    }
