"""The systematic-production demo: two subscriptions that the demo's ingestion of new products
fires (``gep demo seed`` defines them, ``gep demo ingest`` brings the new products).

* **InSAR-Browse-like**: "all 6- and 12-day pairs" over two named volcano areas of a generated
  Sentinel-1 archive (``sentinel-1-demo-archive``: metadata with real-geometry orbits, no
  pixels, so its service is ``echo``, which writes the pair it was given: the rule, the
  pairing and the exactly-once submission are what it shows);
* **earthquake response**: an event trigger on the ``usgs`` feed's ``earthquakes`` collection
  (M >= 5.5, at most 70 km deep) that runs ``dinsar`` on the pre/post-event pair of the
  Amatrice Sentinel-1 SAFE products of ``gep demo seed`` when the 24 August 2016 event (its
  USGS record) is ingested.

Both belong to the platform (no owner) and are public, so every user sees them and their
layers. Seeding twice changes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from shapely.geometry import mapping, shape
from shapely.ops import unary_union

from gep.catalog.areas import AreaStore
from gep.catalog.store import CatalogStore
from gep.core.access import PUBLIC
from gep.core.enums import TriggerKind
from gep.core.errors import Conflict
from gep.demo.s1_archive import archive
from gep.harvest.base import SourceConfig
from gep.harvest.store import HarvestStore
from gep.harvest.usgs import event_item
from gep.production.service import layer_collection
from gep.production.store import SubscriptionStore

ARCHIVE = "sentinel-1-demo-archive"
EARTHQUAKES = "earthquakes"
FEED = "usgs"
#: dates of the archive catalogued by the seed; the rest come with ``gep demo ingest``
SEEDED_DATES = 7
#: the USGS record of the 24 August 2016 Amatrice earthquake (Mw 6.2)
AMATRICE = {
    "type": "Feature",
    "id": "us10006g7d",
    "geometry": {"type": "Point", "coordinates": [13.2335, 42.7226, 4.4]},
    "properties": {
        "mag": 6.2,
        "magType": "mww",
        "place": "10 km SE of Norcia, Italy",
        "time": 1472002292000,
        "updated": 1594162218040,
        "type": "earthquake",
        "status": "reviewed",
        "tsunami": 0,
        "url": "https://earthquake.usgs.gov/earthquakes/eventpage/us10006g7d",
        "title": "M 6.2 - 10 km SE of Norcia, Italy",
    },
}

SUBSCRIPTIONS: list[dict[str, Any]] = [
    {
        "id": "sub-demo-insar-browse",
        "title": "InSAR Browse: all 6- and 12-day pairs over the demo volcanoes",
        "process": "echo",
        "inputs": {"message": "{{reference}} {{secondary}}"},
        "trigger": {
            "type": "data",
            "collection": ARCHIVE,
            "pairing": {"btemp_days": [6, 12], "max_bperp": 300},
        },
        "max_jobs_per_trigger": 4,
    },
    {
        "id": "sub-demo-earthquakes",
        "title": "Earthquake response: DInSAR around M5.5+ shallow events",
        "process": "dinsar",
        "inputs": {"reference": "{{reference}}", "secondary": "{{secondary}}", "aoi": "{{area}}"},
        "trigger": {
            "type": "event",
            "feed": FEED,
            "feed_collection": EARTHQUAKES,
            "collection": "sentinel-1-slc",
            "min_magnitude": 5.5,
            "max_depth_km": 70,
            "days_before": 30,
            "days_after": 30,
            "event_area_km": 8,
        },
        "max_jobs_per_trigger": 2,
    },
]


def _archive() -> tuple[list[dict[str, Any]], list[Any]]:
    return archive(2, 60, 6.0, collection=ARCHIVE, seed=11)


def seed_production(store: CatalogStore, log: Callable[[str], None]) -> None:
    items, areas = _archive()
    old = [it for it in items if int(it["id"][-8:]) <= _cutoff(items)]
    store.create_collection(
        {
            "type": "Collection",
            "stac_version": "1.1.0",
            "id": ARCHIVE,
            "description": "A generated Sentinel-1 IW SLC archive (metadata and orbits only) "
            "over two demo volcano areas, for the systematic-production demo",
            "license": "other",
            "extent": {
                "spatial": {"bbox": [[-180, -90, 180, 90]]},
                "temporal": {"interval": [[None, None]]},
            },
            "summaries": {"sar:product_type": ["SLC"]},
            "links": [],
        },
        upsert=True,
    )
    store.write_items(old, mode="upsert")  # the archive before the subscriptions: no events
    names = AreaStore(store.engine)
    known = {a.name for a in names.all()}
    geoms = []
    for n, area in enumerate(areas):
        name = f"demo-volcano-{'ab'[n]}"
        geoms.append(shape(area.geometry))
        if name not in known:
            names.create(
                name,
                orjson.loads(orjson.dumps(area.geometry)),  # shapely's tuples as JSON lists
                description="a demo volcano of the generated archive",
            )
    store.create_collection(
        {
            "type": "Collection",
            "stac_version": "1.1.0",
            "id": EARTHQUAKES,
            "description": "Earthquakes from the USGS ComCat feed (harvest source usgs)",
            "license": "other",
            "extent": {
                "spatial": {"bbox": [[-180, -90, 180, 90]]},
                "temporal": {"interval": [[None, None]]},
            },
            "links": [],
        },
        upsert=True,
    )
    harvests = HarvestStore(store.engine)
    with contextlib.suppress(Conflict):  # seeded before
        harvests.add(
            SourceConfig(
                FEED,
                "usgs",
                "https://earthquake.usgs.gov/fdsnws/event/1/query",
                EARTHQUAKES,
                {"minmagnitude": 4.5, "lookback_s": 3600},
            )
        )
    subs = SubscriptionStore(store.engine)
    have = {s.id for s in subs.all()}
    for spec in SUBSCRIPTIONS:
        if spec["id"] in have:
            continue
        trigger = dict(spec["trigger"])
        if trigger["type"] == "data":
            trigger["resolved_area"] = mapping(unary_union(geoms))
            trigger["area"] = "demo-volcano-a, demo-volcano-b"
        layer = "layer-" + spec["id"][4:]
        store.create_collection(
            layer_collection(layer, spec["id"], spec["title"], spec["process"], trigger),
            upsert=True,
            visibility=PUBLIC,
        )
        subs.create(
            sub_id=spec["id"],
            title=spec["title"],
            owner=None,
            visibility=PUBLIC,
            process_id=spec["process"],
            inputs=spec["inputs"],
            kind=TriggerKind(trigger["type"]),
            trigger=trigger,
            layer=layer,
            max_jobs_per_trigger=spec["max_jobs_per_trigger"],
        )
    log(
        f"systematic production: {len(SUBSCRIPTIONS)} subscriptions, {len(old)} archive items; "
        "`gep demo ingest` brings new products and the Amatrice event"
    )


def _cutoff(items: list[dict[str, Any]]) -> int:
    days = sorted({int(it["id"][-8:]) for it in items})
    return days[SEEDED_DATES - 1]


def ingest_new(store: CatalogStore) -> dict[str, int]:
    """The demo's "new products": the archive's later dates (as a harvest delivers them) and
    the Amatrice earthquake's USGS record; each write is logged, so ``gep serve``'s dispatcher
    fires the subscriptions on them."""
    items, _ = _archive()
    new = [it for it in items if int(it["id"][-8:]) > _cutoff(items)]
    report = store.write_items(new, mode="upsert", origin="harvest:demo-archive")
    event = event_item(AMATRICE, EARTHQUAKES)
    quake = store.write_items([event], mode="upsert", origin=f"harvest:{FEED}")
    return {"acquisitions": len(report.new), "events": len(quake.new)}
