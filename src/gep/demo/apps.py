"""The demo's thematic apps (docs/apps.md): a volcano app over Etna and Colli Albani and an
earthquake app over the 2016 Amatrice sequence, built from what the rest of the seed made (its
collections, subscriptions and named areas), plus one deployed service, ``volcano-note`` (a
small CWL application package), so that the volcano app's export carries an OGC application
package as well as references to built-in services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gep.apps.spec import validate
from gep.apps.store import AppStore
from gep.catalog.areas import AreaStore
from gep.catalog.store import CatalogStore
from gep.core.access import PUBLIC
from gep.demo.production import ARCHIVE, EARTHQUAKES
from gep.demo.sar import DEM_COLLECTION
from gep.demo.sbas import RESULT_ID, RESULTS_COLLECTION
from gep.io.slc_product import COLLECTION as SLC_COLLECTION
from gep.jobs.deployed import DeployedStore

VOLCANO_APP = "demo-volcanoes"
EARTHQUAKE_APP = "demo-earthquakes"
NOTE_SERVICE = "volcano-note"
#: the deployed demo service: writes an observer's note about a volcano to a file
NOTE_PACKAGE = """cwlVersion: v1.2
class: CommandLineTool
id: volcano-note
label: Volcano note
doc: Writes an observer's note about a volcano to a text file (a deployed demo service).
baseCommand: echo
inputs:
  volcano:
    type: string
    doc: the volcano's name
    inputBinding: {position: 1}
  note:
    type: string
    default: no unrest observed
    doc: what was observed
    inputBinding: {position: 2}
outputs:
  result:
    type: stdout
stdout: note.txt
"""
#: named areas the apps add to the seed's own (public, like the rest of the demo)
AREAS = {
    "Etna": [14.85, 37.6, 15.2, 37.9],
    "Colli Albani": [12.55, 41.65, 12.85, 41.85],
    "Amatrice 2016": [13.0, 42.5, 13.45, 42.95],
}


def _box(b: list[float]) -> dict[str, Any]:
    w, s, e, n = b
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def seed_apps(store: CatalogStore, log: Callable[[str], None]) -> None:
    """Create the demo apps (idempotent: what exists already is kept)."""
    areas = AreaStore(store.engine)
    by_name = {a.name: a.id for a in areas.all() if a.owner is None}
    for name, bbox in AREAS.items():
        if name not in by_name:
            by_name[name] = areas.create(
                name, _box(bbox), description="a demo area of the thematic apps"
            ).id
    deployed = DeployedStore(store.engine)
    if deployed.access(NOTE_SERVICE) is None:
        deployed.save(
            NOTE_SERVICE,
            NOTE_PACKAGE,
            "application/cwl+yaml",
            replace=False,
            owner=None,
            visibility=PUBLIC,
        )
    apps = AppStore(store.engine)
    volcano: dict[str, Any] = {
        "id": VOLCANO_APP,
        "title": "Volcanoes: Etna and Colli Albani",
        "description": "Thermal hotspots, SBAS deformation time series and DInSAR over "
        "Italian volcanoes; the InSAR Browse layer of every new pair over the demo volcanoes.",
        "thumbnail": None,
        "bbox": [12.0, 37.3, 15.8, 42.2],
        "collections": [SLC_COLLECTION, DEM_COLLECTION, ARCHIVE, "gep-optical"],
        "searches": [
            {
                "title": "Sentinel-1 over Colli Albani",
                "collections": [ARCHIVE],
                "bbox": AREAS["Colli Albani"],
                "datetime": None,
                "filter": None,
            }
        ],
        "services": ["hotspots", "sbas", "dinsar", NOTE_SERVICE],
        "subscriptions": ["sub-demo-insar-browse"],
        "areas": [
            by_name[n]
            for n in ("Etna", "Colli Albani", "demo-volcano-a", "demo-volcano-b")
            if n in by_name
        ],
        "layers": [
            {
                "title": "SBAS mean velocity (demo stack)",
                "collection": RESULTS_COLLECTION,
                "item": RESULT_ID,
                "asset": "velocity",
                "filter": None,
                "render": {},
                "visible": True,
                "opacity": 0.8,
            },
            {
                "title": "DEM",
                "collection": DEM_COLLECTION,
                "item": None,
                "asset": None,
                "filter": None,
                "render": {},
                "visible": False,
                "opacity": 1.0,
            },
        ],
    }
    earthquake: dict[str, Any] = {
        "id": EARTHQUAKE_APP,
        "title": "Earthquake response",
        "description": "DInSAR and coherence change around strong shallow earthquakes: the "
        "USGS feed, the Sentinel-1 archive and the layer the earthquake subscription fills.",
        "thumbnail": None,
        "bbox": AREAS["Amatrice 2016"],
        "collections": [EARTHQUAKES, SLC_COLLECTION],
        "searches": [
            {
                "title": "M5.5+ earthquakes",
                "collections": [EARTHQUAKES],
                "bbox": None,
                "datetime": None,
                "filter": "mag >= 5.5",
            }
        ],
        "services": ["dinsar", "coin"],
        "subscriptions": ["sub-demo-earthquakes"],
        "areas": [by_name["Amatrice 2016"]],
        "layers": [],
    }
    made = 0
    for doc in (volcano, earthquake):
        if not apps.exists(str(doc["id"])):
            apps.create(validate(doc), owner=None, visibility=PUBLIC)
            made += 1
    log(f"thematic apps: {made} new ({VOLCANO_APP}, {EARTHQUAKE_APP}; `gep apps list`)")
