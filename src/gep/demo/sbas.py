"""The Mexico City SBAS sample that ``gep demo seed`` publishes.

A real GAMMA stack from PyRate's test data (Sentinel-1 track T005A, VV, 8 range looks): 30
geocoded unwrapped interferograms and their coherence between 13 acquisitions of January–July
2018 over Mexico City, whose basin subsides by tens of centimetres a year as its aquifer is
pumped. ``data/mexico-city/manifest.json`` adds GAMMA's perpendicular baselines
(``tools/build_mexico_sample.py``). The interferograms are catalogued as a sample collection,
and the ``sbas`` products computed from them are published in the service's collection
(``sbas``) — the same items a user gets by running the service on that collection: the
summary item (velocity map, time-series CSV, ...) and one item per acquisition with its
displacement (the time dimension a map, a time-series chart or odc-stac reads), described as
the worker describes results (``proj:*``, ``raster:bands``, the declared ``renders``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gep.io.hrefs import local_path
from gep.io.ifg_stack import read_interferogram
from gep.io.writers import bounds_footprint
from gep.jobs.asset_meta import describe_items, describe_results
from gep.processes.sbas import Sbas
from gep.processes.sbas.inputs import SbasInputs
from gep.processes.sbas.products import date_items, produce, publish_products
from gep.processes.sbas.stack import check_stack, geogrid, interferogram_of

DATA = Path(__file__).parent / "data" / "mexico-city"
COLLECTION = "sample-ifgs-mexico-city"
RESULT_ID = "sbas-mexico-city-2018"
#: the sbas service's result collection (``gep.jobs.publish``: one per service)
RESULTS_COLLECTION = "sbas"
#: a coherent pixel near the old city centre on the firm ground west of the lake bed (Tacubaya)
REFERENCE = [-99.1889, 19.4075]


def manifest() -> list[dict[str, Any]]:
    return list(json.loads((DATA / "manifest.json").read_text()))


def collection() -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "id": COLLECTION,
        "title": "Mexico City: Sentinel-1 interferogram stack (GAMMA, 2018)",
        "description": "30 geocoded unwrapped interferograms with coherence, 13 acquisitions "
        "of Sentinel-1 track T005A (VV) between 2018-01-06 and 2018-07-17 over Mexico City, "
        "processed with GAMMA and prepared for PyRate (GeoscienceAustralia/PyRate test data, "
        "Apache-2.0). Input of the sbas service. Contains modified Copernicus Sentinel data 2018.",
        "license": "Apache-2.0",
        "keywords": ["InSAR", "interferogram", "SBAS", "Mexico City", "subsidence"],
        "extent": {
            "spatial": {"bbox": [[-99.1911, 19.3680, -99.0522, 19.4513]]},
            "temporal": {"interval": [["2018-01-06T00:00:00Z", "2018-07-17T23:59:59Z"]]},
        },
        "links": [],
    }


def interferogram_items(folder: Path) -> list[dict[str, Any]]:
    """Copy the rasters under ``folder`` (once) and describe each interferogram as an item."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for entry in manifest():
        paths = {}
        for key in ("unwrapped", "coherence"):
            target = folder / entry[key]
            if not target.exists():
                shutil.copyfile(DATA / entry[key], target)
            paths[key] = target
        ifg = read_interferogram(paths["unwrapped"], entry["id"])
        w, s, e, n = geogrid(ifg.grid).bounds
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.1.0",
                "id": entry["id"],
                "collection": COLLECTION,
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
                },
                "bbox": [w, s, e, n],
                "properties": {
                    "datetime": None,
                    "start_datetime": f"{entry['first_date']}T00:40:21Z",
                    "end_datetime": f"{entry['second_date']}T00:40:21Z",
                    "title": f"Mexico City interferogram {entry['first_date']} / "
                    f"{entry['second_date']}",
                    "platform": "sentinel-1",
                    "sar:instrument_mode": "IW",
                    "sar:polarizations": ["VV"],
                    "sat:relative_orbit": 5,
                    "gep:perpendicular_baseline": entry["perpendicular_baseline"],
                    "gep:slant_range": entry["slant_range"],
                    "gep:incidence": entry["incidence"],
                    "processing:software": {"GAMMA": "unknown"},
                },
                "links": [],
                "assets": {
                    "unw": {
                        "href": paths["unwrapped"].resolve().as_uri(),
                        "type": "image/tiff; application=geotiff",
                        "roles": ["data"],
                        "title": "Unwrapped phase (rad)",
                    },
                    "cc": {
                        "href": paths["coherence"].resolve().as_uri(),
                        "type": "image/tiff; application=geotiff",
                        "roles": ["data", "quality"],
                        "title": "Coherence",
                    },
                },
            }
        )
    return items


def demo_inputs(items: list[dict[str, Any]]) -> SbasInputs:
    return SbasInputs.model_validate(
        {
            "interferograms": [f"{COLLECTION}/{i['id']}" for i in items],
            "reference_point": REFERENCE,
            "points": [
                {"id": "Nezahualcoyotl", "lon": -99.0600, "lat": 19.4050},
                {"id": "Zocalo", "lon": -99.1332, "lat": 19.4326},
                {"id": "Iztacalco", "lon": -99.1000, "lat": 19.3950},
            ],
        }
    )


def build_results(
    folder: Path, items: list[dict[str, Any]], log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Run ``sbas`` on the sample (once; the items are reused afterwards) and return the
    published items: the summary first, then one per acquisition."""
    cached = folder / "items.json"
    if cached.exists():
        return list(json.loads(cached.read_text()))
    inputs = demo_inputs(items)
    ifgs = []
    for k, item in enumerate(items):
        paths = {key: _own_file(a["href"]) for key, a in item["assets"].items()}
        ifgs.append(interferogram_of(item, k, inputs, paths))
    stack, options = check_stack(ifgs, inputs)
    out = folder / "outputs"
    products = produce(
        stack, inputs, options, out, folder / "scratch", lambda p, m: None, lambda m: None
    )
    shutil.rmtree(folder / "scratch", ignore_errors=True)
    assets: dict[str, dict[str, Any]] = {}

    def add(key: str, path: Path, media: str, roles: list[str], title: str = "") -> str:
        href = path.resolve().as_uri()
        assets[key] = {"href": href, "type": media, "roles": roles, "title": title}
        return href

    publish_products(add, products)
    lo, hi = products.velocity_range
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": ["https://stac-extensions.github.io/processing/v1.2.0/schema.json"],
        "id": RESULT_ID,
        "collection": RESULTS_COLLECTION,
        "geometry": bounds_footprint(geogrid(stack.grid).bounds),
        "properties": {
            "datetime": None,
            "start_datetime": f"{stack.network.dates[0]}T00:00:00Z",
            "end_datetime": f"{stack.network.dates[-1]}T23:59:59Z",
            "title": "Mexico City: SBAS mean LOS velocity 2018 (demo)",
            "processing:lineage": f"GEP sbas on {len(items)} interferograms of {COLLECTION}",
            "processing:software": {Sbas.id: Sbas.version},
            "gep:process": Sbas.id,
            "gep:inputs": inputs.interferograms,
            "gep:reference": products.reference,
            "gep:velocity_range_mm_yr": [round(lo, 2), round(hi, 2)],
        },
        "assets": assets,
        "links": [],
    }
    footprint = item["geometry"]
    dates = date_items(products, footprint, lambda path: path.resolve().as_uri())
    for dated in dates:
        dated["id"] = f"{RESULT_ID}-{dated['id']}"
        dated["collection"] = RESULTS_COLLECTION
        dated["properties"].update(
            {"processing:software": {Sbas.id: Sbas.version}, "gep:process": Sbas.id}
        )
    # what the worker adds to a job's results: proj:*, raster:bands, file:size, renders
    described = describe_results(assets, {k: _own_file(a["href"]) for k, a in assets.items()},
                                 Sbas.render_for)  # fmt: skip
    item["properties"].update(described.properties)
    item["stac_extensions"] += described.extensions
    describe_items(dates, local_path, Sbas.render_for)
    results = [item, *dates]
    cached.write_text(json.dumps(results, indent=1))
    log(
        f"sbas on the Mexico City stack: {stack.network.n_ifgs} interferograms, velocity "
        f"{lo:.0f} to {hi:.0f} mm/yr"
    )
    return results


def _own_file(href: str) -> Path:
    """The file of an href this demo wrote itself (a file URL)."""
    path = local_path(href)
    if path is None:
        raise ValueError(f"{href} is not a local file")
    return path
